"""The thinking experiment: strength against MCTS simulations per move, for networks, beside the
teacher's own depth sweep: how much does search add to a network?

The networks are measured by the one thinking-time curve, ``train.arena.thinking``, which the
report's curve uses too; here every point draws from the yardstick's generators.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from envs.experts import make_expert
from models.net import PolicyValueNet
from train.arena.thinking import thinking_curve
from train.experiments.findings import sweep_findings, teacher_verdict
from train.experiments.plots import plot_thinking
from train.experiments.summary import STRENGTH_HEADER, strength_cells, write_summary
from train.experiments.yardstick import Yardstick, strength_row
from train.report.markdown import markdown_table


def thinking(
    yardstick: Yardstick,
    networks: dict[str, PolicyValueNet],
    sims: Sequence[int],
    depths: Sequence[int],
    device: str = "cpu",
) -> list[dict]:
    """Each network at each search budget, then the teacher's expert at each depth.

    Rows hold ``player`` (a network's label, or ``"expert"``), ``sims`` (None for the
    expert), ``depth`` (None for networks), ``seconds`` (the measurement's wall time) and the
    yardstick's measurements.
    """
    game, rows = yardstick.game, []
    with tqdm(total=len(networks) * len(sims) + len(depths), desc="thinking", unit="point") as bar:
        for label, model in networks.items():
            curve = thinking_curve(
                game,
                model,
                sims,
                yardstick.teacher,
                yardstick.graded,
                yardstick.games,
                yardstick.generators,
                yardstick.opening_moves,
                device,
                on_point=lambda _: bar.update(),
            )
            rows += [
                {"player": label, "sims": p.sims, "depth": None, "seconds": p.seconds}
                | strength_row(p.strength)
                for p in curve
            ]
        for depth in depths:
            started = time.perf_counter()
            measured = yardstick.measure(make_expert(game, depth=depth))
            seconds = time.perf_counter() - started
            row = {"player": "expert", "sims": None, "depth": depth, "seconds": seconds}
            rows.append(row | measured)
            bar.update()
    return rows


def write_thinking(
    folder: Path, rows: list[dict], yardstick: Yardstick, command: str, sources: dict[str, str]
) -> Path:
    """Figures, findings and files of :func:`thinking`; ``sources`` maps each network's label
    to its checkpoint."""
    plot_thinking(rows, folder / "thinking.png")
    experts = [r for r in rows if r["depth"] is not None]
    findings = []
    for label in sources:
        mine = sorted((r for r in rows if r["player"] == label), key=lambda r: r["sims"])
        findings += sweep_findings(mine, label, _sims)
        if experts:
            findings.append(_matches(label, mine, experts))
        findings.append(teacher_verdict(mine, f"Budgets of {label}", _sims))
    table = markdown_table(
        ["player", "sims", "depth", *STRENGTH_HEADER, "record", "seconds"],
        [
            [
                r["player"],
                _or_dash(r["sims"]),
                _or_dash(r["depth"]),
                *strength_cells(r)[:4],
                r["seconds"],
            ]
            for r in rows
        ],
    )
    intro = "Networks: " + ", ".join(f"{k} (`{v}`)" for k, v in sources.items()) + "."
    if not experts:
        intro += " No expert depth sweep (tic-tac-toe's expert is perfect: it has no depth)."
    return write_summary(
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


def _or_dash(x: object) -> object:
    return "-" if x is None else x


def _sims(row: dict) -> str:
    return f"{row['sims']} simulation" + "s" * (row["sims"] != 1)
