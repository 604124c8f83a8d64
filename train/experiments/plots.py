"""The experiments' figures: strength with its 95% intervals against data, epochs, search
and compute. Each function reads an experiment's rows and writes one PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from train.report.figures import pyplot, save_figure

#: (row key, interval key, panel title) of the two strength measurements.
STRENGTH = (
    ("optimal_move_rate", "optimal_interval", "solver: optimal-move rate"),
    ("score", "score_interval", "score against the teacher (win 1, draw 1/2)"),
)


def _errorbar(ax, x: Sequence[float], rows: Sequence[dict], key: str, interval: str, **style):
    """``rows[i][key]`` at ``x[i]``, with bars from ``rows[i][interval]`` (``[low, high]``)."""
    y = np.array([r[key] for r in rows], dtype=float)
    bounds = np.array([r[interval] for r in rows], dtype=float).reshape(-1, 2)
    # Clipped: at a rate of 0 or 1 rounding can put the bound a hair on the wrong side.
    yerr = np.maximum(0.0, [y - bounds[:, 0], bounds[:, 1] - y])
    ax.errorbar(x, y, yerr=yerr, marker="o", ms=4, capsize=3, **style)


def plot_sweep(
    rows: Sequence[dict],
    x_key: str,
    xlabel: str,
    title: str,
    path: str | Path,
    log_base: int = 10,
) -> Path:
    """Strength and validation loss of each row against ``row[x_key]``, on a log x axis.

    Each point is labelled with its number of expert games and epochs.
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.9), layout="constrained")
    x = [r[x_key] for r in rows]
    for ax, (key, interval, name) in zip(axes, STRENGTH, strict=False):
        _errorbar(ax, x, rows, key, interval, color="C0")
        ax.set_title(name)
    axes[2].plot(x, [r["val_loss"] for r in rows], marker="o", ms=4, color="C1")
    axes[2].set_title("validation loss (policy + value)")
    for r in rows:
        axes[0].annotate(
            f"{r['expert_games']:,}g×{r['epochs']}",
            (r[x_key], r["optimal_move_rate"]),
            textcoords="offset points",
            xytext=(4, -11),
            fontsize=7,
            color="0.35",
        )
    for ax in axes:
        ax.set_xscale("log", base=log_base)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3, which="both")
    if log_base == 2:  # epochs: name the doublings themselves
        for ax in axes:
            ax.set_xticks(x, [str(v) for v in x])
    fig.suptitle(f"{title} (95% intervals)")
    return save_figure(plt, fig, path)


def plot_data_wall(by_size: Sequence[dict], by_epochs: Sequence[dict], folder: Path) -> None:
    """``data_wall_by_size.png`` and ``data_wall_by_epochs.png`` in ``folder``."""
    epochs, games = by_size[0]["epochs"], by_epochs[0]["expert_games"]
    plot_sweep(
        by_size,
        "unique_positions",
        "unique expert positions in the training set",
        f"stage 1 against data ({epochs} epoch{'s' * (epochs != 1)} each)",
        Path(folder) / "data_wall_by_size.png",
    )
    plot_sweep(
        by_epochs,
        "epochs",
        "epochs",
        f"stage 1 against epochs ({games:,} games)",
        Path(folder) / "data_wall_by_epochs.png",
        log_base=2,
    )


def plot_thinking(rows: Sequence[dict], path: str | Path) -> Path:
    """Each network's strength against simulations per move (0: the network alone), with
    the teacher's expert at each depth as a dotted reference line."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
    searched = [r for r in rows if r["sims"] is not None]
    experts = [r for r in rows if r["depth"] is not None]
    sims = sorted({r["sims"] for r in searched})
    labels = list(dict.fromkeys(r["player"] for r in searched))
    for k, label in enumerate(labels):
        mine = sorted((r for r in searched if r["player"] == label), key=lambda r: r["sims"])
        # Evenly spaced budgets (0 has no logarithm), nudged apart so the bars don't overlap.
        x = [sims.index(r["sims"]) + 0.06 * (k - (len(labels) - 1) / 2) for r in mine]
        for ax, (key, interval, _) in zip(axes, STRENGTH, strict=True):
            _errorbar(ax, x, mine, key, interval, color=f"C{k}", label=label)
    for j, r in enumerate(experts):
        shade = str(0.15 + 0.5 * j / max(1, len(experts) - 1))
        for ax, (key, _, _) in zip(axes, STRENGTH, strict=True):
            ax.axhline(r[key], color=shade, ls=":", lw=1.2)
            ax.annotate(
                f"expert depth {r['depth']}",
                (1.0, r[key]),
                xycoords=("axes fraction", "data"),
                xytext=(-4, 2),
                textcoords="offset points",
                ha="right",
                fontsize=7,
                color=shade,
            )
    for ax, (_, _, name) in zip(axes, STRENGTH, strict=True):
        ax.set_xticks(range(len(sims)), [str(s) for s in sims])
        ax.set_xlabel("MCTS simulations per move (0: the network alone)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    if labels:
        axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("strength against thinking time (95% intervals; dotted: the expert by depth)")
    return save_figure(plt, fig, path)


def plot_warm_vs_zero(rows: Sequence[dict], path: str | Path) -> Path:
    """Both runs' strength against wall time (left) and training positions (right); the
    warm run's curve starts where stage 1 ended."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5), layout="constrained")
    longest = max(r["wall_s"] for r in rows)
    scale, unit = (60.0, "min") if longest > 600 else (1.0, "s")
    runs = list(dict.fromkeys(r["run"] for r in rows))
    for k, run in enumerate(runs):
        mine = [r for r in rows if r["run"] == run]
        for row_axes, (key, interval, _) in zip(axes, STRENGTH, strict=True):
            for ax, x in (
                (row_axes[0], [r["wall_s"] / scale for r in mine]),
                (row_axes[1], [r["positions_trained"] for r in mine]),
            ):
                _errorbar(ax, x, mine, key, interval, color=f"C{k}", label=run)
                if run == "warm":
                    ax.axvline(x[0], color="0.4", ls="--", lw=1)
    final = [r for r in rows if r["run"] == "scratch"][-1]
    for row_axes, (key, _, name) in zip(axes, STRENGTH, strict=True):
        row_axes[0].set_ylabel(name)
        for ax in row_axes:
            ax.axhline(final[key], color="C1", ls=":", lw=1, label="scratch's final")
            ax.grid(alpha=0.3)
    axes[1][0].set_xlabel(f"wall time ({unit}; warm: stage 1 included)")
    axes[1][1].set_xlabel("training positions seen (warm: stage 1 included)")
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.suptitle(
        "stage 2 from the stage-1 network (warm) and from scratch (dashed: end of stage 1)"
    )
    return save_figure(plt, fig, path)
