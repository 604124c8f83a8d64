"""Each experiment's ``summary.md`` and ``results.json``: the parts every summary shares.

A summary is a title, an introduction, the method (how every point was measured, from the
:class:`~train.experiments.yardstick.Yardstick`), the findings and the experiment's own
sections; ``results.json`` holds the same numbers as data.
"""

from __future__ import annotations

import json
from pathlib import Path

from train.experiments.findings import with_interval
from train.experiments.yardstick import Yardstick

#: The table headers of the strength columns (:func:`strength_cells`).
STRENGTH_HEADER = ["optimal-move rate", "score vs teacher", "win rate vs teacher"]


def strength_cells(r: dict) -> list:
    """The strength columns, the record, then (stage 1 only) validation and training time."""
    cells = [
        with_interval(r, "optimal_move_rate"),
        with_interval(r, "score"),
        with_interval(r, "win_rate"),
        r["record"],
    ]
    if "val_loss" in r:
        cells += [r["val_loss"], r["val_move_accuracy"], f"{r['train_s']:.0f}"]
    return cells


def _method(yardstick: Yardstick, command: str) -> str:
    return (
        f"Command: `{command}`. Every point is measured alike: the share of "
        f"{len(yardstick.graded[0]):,} solver-graded positions in which the network picks a "
        f"best move, and {yardstick.games} games against the teacher ({yardstick.teacher.name}), "
        f"half with each colour, from {yardstick.opening_moves} random opening plies shared by "
        "every player (seeded: the same command and seed give the same numbers, wall times "
        "aside). Brackets are 95% Wilson intervals; the score counts a win 1 and a draw 1/2."
    )


def write_summary(
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
