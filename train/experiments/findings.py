"""What the experiments' curves say: pure rules over measured rows, and the sentences built on
them.

:func:`flattens_at` finds where a sweep stops paying, :func:`first_reach` and
:func:`compute_saved` how much compute a warm start saves; :func:`sweep_findings` and
:func:`teacher_verdict` state what a sweep found, computed from its rows (no claim is written in
advance).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from train.experiments.plots import STRENGTH

#: How findings and tables name the two strength measurements.
METRIC_NAMES = {"optimal_move_rate": "optimal-move rate", "score": "score against the teacher"}


#: The key of each measurement's 95% interval in a row.
INTERVALS = {
    "optimal_move_rate": "optimal_interval",
    "score": "score_interval",
    "win_rate": "win_interval",
}


def flattens_at(values: Sequence[float], uppers: Sequence[float]) -> int:
    """The index of the first point that no later point beats by more than its noise.

    Point ``i`` qualifies when every later value is at most ``uppers[i]``, the upper end of
    point ``i``'s 95% interval: past it, more (data, epochs) bought nothing measurable. The
    last index means the curve was still rising at the end.
    """
    for i, upper in enumerate(uppers):
        if all(v <= upper for v in values[i + 1 :]):
            return i
    raise ValueError("no points")


def first_reach(x: Sequence[float], y: Sequence[float], target: float) -> float | None:
    """The least ``x`` at which the curve through the points ``(x, y)``, joined by straight
    lines, reaches ``target``; None if no point does."""
    for i, value in enumerate(y):
        if value >= target:
            if i == 0:
                return float(x[0])
            x0, y0 = x[i - 1], y[i - 1]  # below target, so value > y0
            return float(x0 + (target - y0) / (value - y0) * (x[i] - x0))
    return None


def compute_saved(
    warm: tuple[Sequence[float], Sequence[float]],
    scratch: tuple[Sequence[float], Sequence[float]],
    target: float,
    scratch_band: tuple[Sequence[float], Sequence[float]] | None = None,
) -> dict:
    """How much compute a warm start saves to reach ``target``.

    ``warm`` and ``scratch`` are curves ``(compute[N], strength[N])``, compute ascending (the
    warm curve's counting its first stage). Returns the compute at which each first reaches
    ``target`` (``warm``, ``scratch``; None: never) and scratch's whole ``budget``; when
    both reach it, ``saved`` (scratch - warm, negative if the warm start costs more) and
    ``ratio`` (scratch / warm); when only the warm start does, scratch would have needed more
    than its budget, so ``saved_at_least`` is budget - warm (None unless that is positive).

    ``scratch_band``, the lower and upper ends of scratch's 95% intervals at its points, adds
    the spread of where scratch gets there: ``scratch_range`` (where the upper ends first
    reach ``target``, where the lower ends do; None: never) and, with a warm start that gets
    there, ``ratio_range``, the same over ``warm``.
    """
    at_warm, at_scratch = first_reach(*warm, target), first_reach(*scratch, target)
    budget = float(scratch[0][-1])
    out = {"target": target, "warm": at_warm, "scratch": at_scratch, "budget": budget}
    if at_warm is not None and at_scratch is not None:
        out["saved"] = at_scratch - at_warm
        out["ratio"] = at_scratch / at_warm if at_warm > 0 else None
    elif at_warm is not None:
        out["saved_at_least"] = budget - at_warm if budget > at_warm else None
    if scratch_band is not None:
        lows, highs = scratch_band
        spread = [first_reach(scratch[0], highs, target), first_reach(scratch[0], lows, target)]
        out["scratch_range"] = spread
        if at_warm:  # neither None nor 0
            out["ratio_range"] = [None if x is None else x / at_warm for x in spread]
    return out


def sweep_findings(rows: Sequence[dict], name: str, describe: Callable[[dict], str]) -> list:
    """For each strength measure: from where to where it went, and where it flattened."""
    if len(rows) < 2:
        return []
    out = []
    for key, interval, _ in STRENGTH:
        first, last = rows[0], rows[-1]
        i = flattens_at([r[key] for r in rows], [r[interval][1] for r in rows])
        text = (
            f"{name}: the {METRIC_NAMES[key]} goes from {with_interval(first, key)} at "
            f"{describe(first)} to {with_interval(last, key)} at {describe(last)}; "
        )
        if i == len(rows) - 1:
            text += "every point is beaten by a later one beyond its 95% interval: no wall yet."
        else:
            text += (
                f"returns flatten from {describe(rows[i])}: no later point exceeds that "
                f"point's upper 95% bound ({rows[i][interval][1]:.3f})."
            )
        out.append(text)
    return out


def teacher_verdict(rows: Sequence[dict], who: str, describe: Callable[[dict], str]) -> str:
    """How many of ``rows`` beat the teacher: the whole 95% interval of the score above 1/2."""
    best = max(rows, key=lambda r: r["score"])
    beat = [r for r in rows if r["score_interval"][0] > 0.5]
    verdict = f"{len(beat)} of {len(rows)}, the first at {describe(beat[0])}" if beat else "none"
    return (
        f"{who} that beat the teacher (whole score interval above 1/2): {verdict}; the best "
        f"score {with_interval(best, 'score')} at {describe(best)}."
    )


def with_interval(row: dict, key: str) -> str:
    """``"0.812 [0.789, 0.833]"``: a measurement with its 95% interval."""
    low, high = row[INTERVALS[key]]
    return f"{row[key]:.3f} [{low:.3f}, {high:.3f}]"
