"""report.md in words and tables, and the markdown table every written summary uses.

:func:`report_markdown` writes the report from the numbers ``train.report.report.build_report``
measured; :func:`markdown_table` also serves the experiments' summaries and evaluate.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from train.arena.duels import DuelResult
from train.arena.elo import EloFit
from train.arena.thinking import ThinkingPoint

#: Curves shown in report.md itself (the others are linked).
HEADLINE_TAGS = ("eval/vs_expert/score", "eval/solver/optimal_move_rate", "losses/total")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table; floats get three decimals."""

    def cell(x: object) -> str:
        return f"{x:.3f}" if isinstance(x, float) and math.isfinite(x) else str(x)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def report_markdown(
    summary: dict,
    duels: Sequence[DuelResult],
    elo: EloFit | None,
    curves: dict[str, list[ThinkingPoint]],
) -> str:
    """report.md from the report's numbers (``summary``, as report.json holds them): the verdicts
    first, then the evidence."""
    c = summary["config"]
    parts = [
        f"# apprentice report: {summary['game']}",
        "Scores count a win 1 and a draw 1/2; brackets are 95% intervals (Wilson). A network "
        "*beat* an opponent when the whole interval of its score lies above 1/2. Duels: "
        f"{c['games']} games per pair, half with each colour, from {c['opening_moves']} random "
        "opening plies (an opening may already decide a game, but each is played once with "
        "each colour, so it favours neither player); the networks play alone, without search.",
        "## Verdict",
        "\n".join(f"- {v['question']} {v['answer']}" for v in summary["verdicts"])
        or "(no checkpoints to duel)",
        *_solver_sentence(curves),
        "## Runs",
        _runs_table(summary["runs"]),
        "The last two columns are the runs' own last logged evaluations.",
    ]
    if elo is not None:
        parts += [
            "## Duels",
            "![duel matrix](figures/duel_matrix.png)",
            markdown_table(
                ["a", "b", "record of a", "score of a", "95% interval"],
                [[d.a, d.b, str(d.total), d.score, _interval(d.score_interval)] for d in duels],
            ),
            f"### Elo ({elo.anchor} = 0)",
            markdown_table(
                ["player", "Elo", "±95%", "games"],
                [
                    [p, f"{elo.ratings[p]:.0f}", f"{1.96 * elo.stderr[p]:.0f}", elo.games[p]]
                    for p in sorted(elo.players, key=lambda p: -elo.ratings[p])
                ],
            ),
        ]
    if curves:
        parts += [
            "## Strength against thinking time",
            f"Each network inside MCTS ({', '.join(map(str, c['sims']))} simulations per move; "
            "0 = the network alone), "
            + (
                f"graded on {c['positions_graded']} solver-labelled positions and "
                if c["positions_graded"]
                else ""
            )
            + f"dueled against the teacher ({c['thinking_games']} games per budget).",
            "![thinking time](figures/thinking_time.png)",
            _thinking_table(curves),
        ]
    figures = summary["figures"]
    parts += [
        "## Training curves",
        "Left: against training positions seen; right: against wall time. The dashed line "
        "marks the end of stage 1.",
        *(f"![{t}]({figures[t]})" for t in HEADLINE_TAGS if t in figures),
        "All curves:",
        "\n".join(f"- [{t}]({path})" for t, path in figures.items()),
    ]
    return "\n\n".join(parts) + "\n"


def _solver_sentence(curves: dict[str, list[ThinkingPoint]]) -> list[str]:
    """The networks' optimal-move rates without search, if they were measured."""
    alone = {label: p.strength for label, points in curves.items() for p in points if p.sims == 0}
    if not alone or not next(iter(alone.values())).positions:
        return []
    rates = ", ".join(
        f"{label} {p.optimal_move_rate:.3f} {_interval(p.optimal_interval)}"
        for label, p in alone.items()
    )
    n = next(iter(alone.values())).positions
    return [f"Best moves played on {n} solver-graded positions, network alone: {rates}."]


def _runs_table(runs: list[dict]) -> str:
    header = ["run", "folder", "checkpoint", "positions seen", "wall time (s)"]
    rows = [
        [
            r["label"],
            Path(r["path"]).name,
            Path(r["checkpoint"]).name if r["checkpoint"] else "-",
            f"{r['positions']:,}",
            "-" if r["elapsed_s"] is None else f"{r['elapsed_s']:.0f}",
            *(r["final"].get(tag, "-") for tag in HEADLINE_TAGS[:2]),
        ]
        for r in runs
    ]
    return markdown_table(header + list(HEADLINE_TAGS[:2]), rows)


def _thinking_table(curves: dict[str, list[ThinkingPoint]]) -> str:
    header = ["network", "sims", "optimal-move rate", "vs teacher", "score", "win rate"]
    rows = [_thinking_row(label, p) for label, points in curves.items() for p in points]
    return markdown_table(header, rows)


def _thinking_row(label: str, point: ThinkingPoint) -> list:
    s, duel = point.strength, point.strength.vs_teacher
    return [
        label,
        point.sims,
        f"{s.optimal_move_rate:.3f} {_interval(s.optimal_interval)}" if s.positions else "-",
        str(duel.total),
        f"{duel.score:.3f} {_interval(duel.score_interval)}",
        f"{duel.win_rate:.3f} {_interval(duel.win_interval)}",
    ]


def _interval(bounds: tuple[float, float]) -> str:
    return f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"
