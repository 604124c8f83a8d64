"""What the experiments found, in words, tables and files.

Each ``write_*`` function draws its experiment's figures (:mod:`train.experiments.plots`),
states findings computed from the measured rows (no claim is written in advance), and writes
``summary.md`` and ``results.json`` into the experiment's folder. The findings read curves
with three small rules, each a pure function: :func:`flattens_at` (where a sweep stops
paying), :func:`first_reach` and :func:`compute_saved` (how much compute a warm start saves).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from itertools import product
from pathlib import Path

import numpy as np

from train.experiments.plots import STRENGTH, plot_data_wall, plot_thinking, plot_warm_vs_zero
from train.experiments.runners import DataWallConfig, Yardstick
from train.report.report import markdown_table

#: How findings and tables name the two strength measurements.
METRIC_NAMES = {"optimal_move_rate": "optimal-move rate", "score": "score against the teacher"}
#: The two measures of compute, by row key.
AXES = {"wall_s": "wall time", "positions_trained": "positions trained"}
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
) -> dict:
    """How much compute a warm start saves to reach ``target``.

    ``warm`` and ``scratch`` are curves ``(compute[N], strength[N])``, compute ascending (the
    warm curve's counting its first stage). Returns the compute at which each first reaches
    ``target`` (``warm``, ``scratch``; None: never) and scratch's whole ``budget``; when
    both reach it, ``saved`` (scratch - warm, negative if the warm start costs more) and
    ``ratio`` (scratch / warm); when only the warm start does, scratch would have needed more
    than its budget, so ``saved_at_least`` is budget - warm (None unless that is positive).
    """
    at_warm, at_scratch = first_reach(*warm, target), first_reach(*scratch, target)
    budget = float(scratch[0][-1])
    out = {"target": target, "warm": at_warm, "scratch": at_scratch, "budget": budget}
    if at_warm is not None and at_scratch is not None:
        out["saved"] = at_scratch - at_warm
        out["ratio"] = at_scratch / at_warm if at_warm > 0 else None
    elif at_warm is not None:
        out["saved_at_least"] = budget - at_warm if budget > at_warm else None
    return out


# --- data wall ------------------------------------------------------------------------------


def write_data_wall(
    folder: Path, rows: list[dict], config: DataWallConfig, yardstick: Yardstick, command: str
) -> Path:
    """Figures, findings and files of :func:`~train.experiments.runners.data_wall`."""
    by_size = sorted(
        (r for r in rows if r["epochs"] == config.epochs and r["expert_games"] in config.sizes),
        key=lambda r: r["expert_games"],
    )
    in_epoch_sweep = {(config.epoch_games, e) for e in config.epoch_counts}
    by_epochs = sorted(
        (r for r in rows if (r["expert_games"], r["epochs"]) in in_epoch_sweep),
        key=lambda r: r["epochs"],
    )
    plot_data_wall(by_size, by_epochs, folder)

    def games(r: dict) -> str:
        return f"{r['expert_games']:,} games ({r['unique_positions']:,} unique positions)"

    findings = [
        *_sweep_findings(by_size, "More data", games),
        *_sweep_findings(by_epochs, "More epochs", lambda r: _epochs(r["epochs"])),
        _overfitting(by_epochs, config.epoch_games),
        _teacher_verdict(
            rows,
            "Stage-1 networks",
            lambda r: f"{r['expert_games']:,} games, {_epochs(r['epochs'])}",
        ),
    ]
    tail = ["record", "val loss", "val move accuracy", "train s"]
    sections = [
        f"## More data ({_epochs(config.epochs)} each)",
        "![strength against data](data_wall_by_size.png)",
        markdown_table(
            ["expert games", "unique positions", "positions", *_STRENGTH_HEADER, *tail],
            [_counts(r, "expert_games", "unique_positions", "positions") for r in by_size],
        ),
        f"## More epochs ({config.epoch_games:,} games)",
        "Each epoch count is its own run: the learning rate decays (cosine) over a run's "
        "length, so these are the networks that many epochs of stage 1 give.",
        "![strength against epochs](data_wall_by_epochs.png)",
        markdown_table(
            ["epochs", "positions trained", *_STRENGTH_HEADER, *tail],
            [[r["epochs"], *_counts(r, "positions_trained")] for r in by_epochs],
        ),
    ]
    intro = (
        f"Stage 1 on nested prefixes of one set of expert games ({config.data.make_expert().name}"
        f", {config.data.random_opening} random opening plies), the same recipe each time, each "
        f"network then measured alone. Validation: {config.val_games:,} held-out games, the same "
        "for every run."
    )
    return _write(
        folder,
        f"Data wall: {yardstick.game.name}",
        intro,
        findings,
        sections,
        {"config": dataclasses.asdict(config), "rows": rows},
        yardstick,
        command,
    )


def _sweep_findings(rows: Sequence[dict], name: str, describe: Callable[[dict], str]) -> list:
    """For each strength measure: from where to where it went, and where it flattened."""
    if len(rows) < 2:
        return []
    out = []
    for key, interval, _ in STRENGTH:
        first, last = rows[0], rows[-1]
        i = flattens_at([r[key] for r in rows], [r[interval][1] for r in rows])
        text = (
            f"{name}: the {METRIC_NAMES[key]} goes from {_value(first, key)} at "
            f"{describe(first)} to {_value(last, key)} at {describe(last)}; "
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


def _overfitting(rows: Sequence[dict], games: int) -> str:
    losses = [r["val_loss"] for r in rows]
    best, last = rows[int(np.argmin(losses))], rows[-1]
    if best is last:
        text = f"Validation loss is lowest at the most epochs, {last['epochs']}"
        if len(rows) < 2:
            return f"{text} ({last['val_loss']:.3f})."
        before = rows[-2]
        return (
            f"{text}: no overfitting, but going from {before['epochs']} to {last['epochs']} "
            f"epochs lowered it from {before['val_loss']:.3f} to {last['val_loss']:.3f}."
        )
    return (
        f"Validation loss is lowest after {best['epochs']} epochs ({best['val_loss']:.3f}) and "
        f"{last['val_loss']:.3f} after {last['epochs']}: longer training overfits the "
        f"{games:,} games."
    )


def _teacher_verdict(rows: Sequence[dict], who: str, describe: Callable[[dict], str]) -> str:
    """How many of ``rows`` beat the teacher: the whole 95% interval of the score above 1/2."""
    best = max(rows, key=lambda r: r["score"])
    beat = [r for r in rows if r["score_interval"][0] > 0.5]
    verdict = f"{len(beat)} of {len(rows)}, the first at {describe(beat[0])}" if beat else "none"
    return (
        f"{who} that beat the teacher (whole score interval above 1/2): {verdict}; the best "
        f"score {_value(best, 'score')} at {describe(best)}."
    )


# --- thinking -------------------------------------------------------------------------------


def write_thinking(
    folder: Path, rows: list[dict], yardstick: Yardstick, command: str, sources: dict[str, str]
) -> Path:
    """Figures, findings and files of :func:`~train.experiments.runners.thinking`; ``sources`` maps
    each network's label to its checkpoint."""
    plot_thinking(rows, folder / "thinking.png")
    experts = [r for r in rows if r["depth"] is not None]
    findings = []
    for label in sources:
        mine = sorted((r for r in rows if r["player"] == label), key=lambda r: r["sims"])
        findings += _sweep_findings(mine, label, _sims)
        if experts:
            findings.append(_matches(label, mine, experts))
        findings.append(_teacher_verdict(mine, f"Budgets of {label}", _sims))
    table = markdown_table(
        ["player", "sims", "depth", *_STRENGTH_HEADER, "record", "seconds"],
        [
            [r["player"], _or_dash(r["sims"]), _or_dash(r["depth"]), *_cells(r)[:4], r["seconds"]]
            for r in rows
        ],
    )
    intro = "Networks: " + ", ".join(f"{k} (`{v}`)" for k, v in sources.items()) + "."
    if not experts:
        intro += " No expert depth sweep (tic-tac-toe's expert is perfect: it has no depth)."
    return _write(
        folder,
        f"Thinking time: {yardstick.game.name}",
        intro,
        findings,
        ["## Strength against simulations per move", "![thinking time](thinking.png)", table],
        {"networks": sources, "rows": rows},
        yardstick,
        command,
    )


def _matches(label: str, mine: Sequence[dict], experts: Sequence[dict]) -> str:
    """At which budget the network first plays best moves as often as each expert depth."""
    parts = []
    for e in experts:
        rate = e["optimal_move_rate"]
        at = next((r["sims"] for r in mine if r["optimal_move_rate"] >= rate), None)
        where = f"from {at} simulations" if at is not None else f"not by {_sims(mine[-1])}"
        parts.append(f"depth {e['depth']} ({rate:.3f}) {where}")
    return f"{label} matches the optimal-move rate of the expert at " + "; ".join(parts) + "."


# --- warm start against zero ----------------------------------------------------------------


def write_warm_vs_zero(
    folder: Path, rows: list[dict], yardstick: Yardstick, command: str, stage1: str
) -> Path:
    """Figures, findings and files of :func:`~train.experiments.runners.warm_vs_zero`."""
    plot_warm_vs_zero(rows, folder / "warm_vs_zero.png")
    warm = [r for r in rows if r["run"] == "warm"]
    scratch = [r for r in rows if r["run"] == "scratch"]
    targets = {"the from-scratch run's final": scratch[-1], "the stage-1 network's": warm[0]}
    analyses = []
    for key, (name, reference), axis in product(METRIC_NAMES, targets.items(), AXES):
        curves = [([r[axis] for r in run], [r[key] for r in run]) for run in (warm, scratch)]
        saved = compute_saved(*curves, reference[key])
        analyses.append({"metric": key, "target_of": name, "axis": axis, **saved})
    start, iterations = warm[0], warm[-1]["iteration"]
    findings = [
        f"Stage 1's cost, where the warm curve starts: {start['positions_trained']:,} training "
        f"positions and {_seconds(start['wall_s'])} of training (the checkpoint's own record, "
        "timed on the machine that trained it; generating its expert games not counted).",
        f"After {iterations} iteration{'s' * (iterations != 1)} of stage 2 each: warm "
        f"{_value(warm[-1], 'optimal_move_rate')} optimal moves, score "
        f"{_value(warm[-1], 'score')}; from scratch {_value(scratch[-1], 'optimal_move_rate')}, "
        f"score {_value(scratch[-1], 'score')}.",
        *(_saved_sentence(analyses, key, name) for key in METRIC_NAMES for name in targets),
    ]
    sections = [
        "## Strength against compute",
        "![warm start against zero](warm_vs_zero.png)",
        markdown_table(
            ["run", "iteration", "positions trained", "wall s", *_STRENGTH_HEADER, "record"],
            [
                [r["run"], r["iteration"], f"{r['positions_trained']:,}", f"{r['wall_s']:.0f}"]
                + _cells(r)[:4]
                for r in rows
            ],
        ),
        "## Compute to reach a strength",
        "Where each curve first reaches the target, linear between measured points (from the "
        "point estimates; their intervals are in the table above).",
        markdown_table(
            ["strength", "target", "compute", "warm start", "from scratch", "the warm start"],
            [
                [f"{a['target_of']} {METRIC_NAMES[a['metric']]}", f"{a['target']:.3f}"]
                + [AXES[a["axis"]], _amount(a["warm"], a["axis"])]
                + [_amount(a["scratch"], a["axis"]), _saving(a)]
                for a in analyses
            ],
        ),
    ]
    intro = (
        f"Stage 2 (AlphaZero) twice with the same settings and seed: from `{stage1}` (warm) and "
        "from a fresh network of the same size (scratch). Wall time excludes the evaluations."
    )
    return _write(
        folder,
        f"Warm start against zero: {yardstick.game.name}",
        intro,
        findings,
        sections,
        {"stage1": stage1, "rows": rows, "compute_saved": analyses},
        yardstick,
        command,
    )


def _saved_sentence(analyses: list[dict], key: str, target_of: str) -> str:
    by_axis = {a["axis"]: a for a in analyses if (a["metric"], a["target_of"]) == (key, target_of)}
    wall, data = by_axis["wall_s"], by_axis["positions_trained"]

    def needed(run: str) -> str:
        if wall[run] is None:
            return "never got there"
        return f"{_amount(wall[run], 'wall_s')} and {_amount(data[run], 'positions_trained')}"

    return (
        f"To reach {target_of} {METRIC_NAMES[key]} ({wall['target']:.3f}) the warm start needed "
        f"{needed('warm')}, the run from scratch {needed('scratch')}: in wall time the warm "
        f"start {_saving(wall)}; in positions trained it {_saving(data)}."
    )


# --- shared pieces ------------------------------------------------------------------------

_STRENGTH_HEADER = ["optimal-move rate", "score vs teacher", "win rate vs teacher"]


def _cells(r: dict) -> list:
    """The strength columns, the record, then (stage 1 only) validation and training time."""
    cells = [
        _value(r, "optimal_move_rate"),
        _value(r, "score"),
        _value(r, "win_rate"),
        r["record"],
    ]
    if "val_loss" in r:
        cells += [r["val_loss"], r["val_move_accuracy"], f"{r['train_s']:.0f}"]
    return cells


def _value(row: dict, key: str) -> str:
    """``"0.812 [0.789, 0.833]"``: a measurement with its 95% interval."""
    low, high = row[INTERVALS[key]]
    return f"{row[key]:.3f} [{low:.3f}, {high:.3f}]"


def _counts(row: dict, *keys: str) -> list:
    """The counts ``keys`` of ``row`` with thousands separators, then its :func:`_cells`."""
    return [f"{row[k]:,}" for k in keys] + _cells(row)


def _or_dash(x: object) -> object:
    return "-" if x is None else x


def _epochs(n: int) -> str:
    return f"{n} epoch" + "s" * (n != 1)


def _sims(row: dict) -> str:
    return f"{row['sims']} simulation" + "s" * (row["sims"] != 1)


def _seconds(s: float) -> str:
    return f"{s / 60:.1f} min" if s > 600 else f"{s:.0f} s"


def _amount(x: float | None, axis: str) -> str:
    if x is None:
        return "never"
    return _seconds(x) if axis == "wall_s" else f"{x:,.0f} positions"


def _saving(a: dict) -> str:
    """What the warm start saves on one axis, in words (see :func:`compute_saved`)."""
    axis = a["axis"]
    if a["warm"] is None:
        return "never gets there"
    if a["scratch"] is None:
        if a["saved_at_least"] is None:
            budget, warm = _amount(a["budget"], axis), _amount(a["warm"], axis)
            return f"can't be told: scratch stopped at {budget}, short of the warm start's {warm}"
        return f"saves at least {_amount(a['saved_at_least'], axis)}"
    if a["saved"] < 0:
        return f"costs {_amount(-a['saved'], axis)} more"
    ratio = f", {a['ratio']:.2f}x less" if a["ratio"] else ""
    return f"saves {_amount(a['saved'], axis)}{ratio}"


def _method(yardstick: Yardstick, command: str) -> str:
    return (
        f"Command: `{command}`. Every point is measured alike: the share of "
        f"{len(yardstick.graded[0]):,} solver-graded positions in which the network picks a "
        f"best move, and {yardstick.games} games against the teacher ({yardstick.teacher.name}), "
        f"half with each colour, from {yardstick.opening_moves} random opening plies shared by "
        "every player (seeded: the same command and seed give the same numbers, wall times "
        "aside). Brackets are 95% Wilson intervals; the score counts a win 1 and a draw 1/2."
    )


def _write(
    folder: Path,
    title: str,
    intro: str,
    findings: list[str],
    sections: list[str],
    results: dict,
    yardstick: Yardstick,
    command: str,
) -> Path:
    """``summary.md`` and ``results.json`` in ``folder``; returns the summary's path."""
    text = [f"# {title}", intro, _method(yardstick, command), "## Findings"]
    text.append("\n".join(f"- {f}" for f in findings))
    (folder / "summary.md").write_text("\n\n".join([*text, *sections]) + "\n")
    measure = {
        "teacher": yardstick.teacher.name,
        "positions_graded": len(yardstick.graded[0]),
        "duel_games": yardstick.games,
        "opening_moves": yardstick.opening_moves,
    }
    header = {"game": yardstick.game.name, "command": command, "seed": yardstick.seed}
    payload = {**header, "measurement": measure, **results, "findings": findings}
    (folder / "results.json").write_text(json.dumps(payload, indent=2))
    return folder / "summary.md"
