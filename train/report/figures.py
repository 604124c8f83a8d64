"""The report's figures, and the plotting helpers the experiments' figures share.

matplotlib is imported only when a figure is drawn (:func:`pyplot`), on the Agg backend, so
that reports are written without a display and importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from train.arena.thinking import ThinkingPoint
from train.report.runs import INTERVAL_SUFFIXES, Run, stage_boundaries


def pyplot():
    """matplotlib's pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_metric(runs: Sequence[Run], tag: str, path: str | Path) -> Path:
    """One tag of every run against positions seen (left) and wall time (right), with its
    95% interval as a band where the run logged one (duel scores)."""
    plt = pyplot()
    fig, (by_data, by_time) = plt.subplots(
        1, 2, figsize=(11, 3.8), sharey=True, layout="constrained"
    )
    longest = max((r.elapsed_at(np.array([r.last_step]))[0] for r in runs), default=0.0)
    scale, unit = (60.0, "min") if longest > 600 else (1.0, "s")
    for k, run in enumerate(runs):  # colour by position, so a run keeps its colour throughout
        series = run.scalars.get(tag)
        if series is None:
            continue
        style = {"color": f"C{k}", "label": run.label, "lw": 1.3}
        if len(series.steps) <= 30:  # sparse evaluations: show the points themselves
            style.update(marker="o", ms=3.5)
        by_data.plot(series.steps, series.values, **style)
        by_time.plot(run.elapsed_at(series.steps) / scale, series.values, **style)
        band = interval_band(run, tag)
        if band is not None:  # each point is an estimate from a few games: its 95% interval
            low, high = band
            shade = {"color": f"C{k}", "alpha": 0.15, "lw": 0}
            named = "95% interval" if k == 0 else None  # one legend entry says what bands are
            by_data.fill_between(series.steps, low, high, label=named, **shade)
            by_time.fill_between(run.elapsed_at(series.steps) / scale, low, high, **shade)
    for i, (step, seconds) in enumerate(stage_boundaries(runs)):
        mark = {"color": "0.4", "ls": "--", "lw": 1, "label": "end of stage 1" if i == 0 else None}
        by_data.axvline(step, **mark)
        by_time.axvline(seconds / scale, **mark)
    by_data.set_xlabel("training positions seen")
    by_time.set_xlabel(f"wall time ({unit})")
    by_data.set_ylabel(tag)
    by_data.legend(fontsize=8)
    for ax in (by_data, by_time):
        ax.grid(alpha=0.3)
    fig.suptitle(tag)
    return save_figure(plt, fig, path)


def interval_band(run: Run, tag: str) -> tuple[np.ndarray, np.ndarray] | None:
    """float64[N] lower and upper bounds of ``tag``'s 95% interval at each of its N steps, if
    the run logged them (``tag + "_low"``, ``tag + "_high"``) at the same steps; else None."""
    series = run.scalars.get(tag)
    bounds = [run.scalars.get(tag + suffix) for suffix in INTERVAL_SUFFIXES]
    if series is None or any(b is None for b in bounds):
        return None
    if not all(np.array_equal(b.steps, series.steps) for b in bounds):
        return None
    return bounds[0].values, bounds[1].values


def plot_duel_matrix(names: Sequence[str], scores: np.ndarray, path: str | Path) -> Path:
    """A heat map of ``scores[i, j]``, the score of row player ``i`` against column ``j``."""
    plt = pyplot()
    size = 1.2 + 1.1 * len(names)
    fig, ax = plt.subplots(figsize=(size + 1.5, size), layout="constrained")
    cmap = plt.get_cmap("RdBu").with_extremes(bad="0.92")  # the diagonal (NaN): nobody plays itself
    image = ax.imshow(scores, cmap=cmap, vmin=0, vmax=1)
    for i, j in np.ndindex(scores.shape):
        if np.isfinite(scores[i, j]):
            ink = "white" if abs(scores[i, j] - 0.5) > 0.3 else "black"  # legible on dark cells
            ax.text(j, i, f"{scores[i, j]:.2f}", ha="center", va="center", color=ink)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_title("score of the row player against the column player")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return save_figure(plt, fig, path)


def plot_thinking_time(curves: dict[str, list[ThinkingPoint]], path: str | Path) -> Path:
    """Optimal-move rate, and score against the teacher, as simulations per move grow.

    The score rather than the win rate, because against a perfect tic-tac-toe teacher the
    best one can do is draw: the win rate would be a flat zero.
    """
    plt = pyplot()
    fig, (grade_ax, duel_ax) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    for k, (label, points) in enumerate(curves.items()):
        x = np.arange(len(points)) + 0.06 * (k - (len(curves) - 1) / 2)  # keep bars apart
        measured = [p.strength for p in points]
        for ax, rate, interval in (
            (
                grade_ax,
                [m.optimal_move_rate for m in measured],
                [m.optimal_interval for m in measured],
            ),
            (
                duel_ax,
                [m.vs_teacher.score for m in measured],
                [m.vs_teacher.score_interval for m in measured],
            ),
        ):
            low, high = np.array(rate) - np.array(interval).T  # distances below and above
            ax.errorbar(
                x, rate, yerr=[low, -high], color=f"C{k}", marker="o", capsize=3, label=label
            )
    sims = [p.sims for p in next(iter(curves.values()))]
    for ax, title in (
        (grade_ax, "solver: optimal-move rate"),
        (duel_ax, "score against the teacher (win 1, draw 1/2)"),
    ):
        ax.set_xticks(range(len(sims)), [str(s) for s in sims])
        ax.set_xlabel("MCTS simulations per move (0: the network alone)")
        ax.set_title(title)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    grade_ax.legend(fontsize=8)
    fig.suptitle("strength against thinking time (95% intervals)")
    return save_figure(plt, fig, path)


def save_figure(plt, fig, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (its folder made if need be) and close it; returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def figure_name(tag: str) -> str:
    """``"eval/vs_expert/score"`` -> ``"eval__vs_expert__score.png"``."""
    return tag.replace("/", "__") + ".png"
