"""Reading training runs back and reporting on them: curves, duels, strength against search.

``scripts/compare.py`` calls :func:`build_report`, which writes a folder holding

- ``figures/<tag>.png``: every metric both stages share (``losses/*``, ``val/*``, ``eval/*``,
  ``selfplay/*``) against training positions seen (the global step, which stage 2 carries on
  from stage 1) and against wall time (``charts/elapsed_s``, logged at the same steps), the
  end of stage 1 marked;
- ``figures/duel_matrix.png``: a round robin of the runs' final networks and the teacher
  (the scripted expert), with Elo ratings (``train.arena.tournament``, ``train.arena.elo``);
- ``figures/thinking_time.png``: each network inside MCTS with a growing search budget,
  graded against perfect play and dueled against the teacher;
- ``report.md``, which answers with numbers and 95% intervals whether stage 2 beat stage 1
  and whether each network beat the teacher, and ``report.json``, the same numbers as data.

The runs are read back by :mod:`train.report.runs` and measured by :mod:`train.arena.tournament`;
matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from envs import get_game
from envs.experts import make_expert
from train.arena.duels import DuelResult
from train.arena.elo import EloFit, fit_elo
from train.arena.tournament import (
    ThinkingPoint,
    duel_dict,
    find_duel,
    network_player,
    round_robin,
    score_matrix,
    solver_sample,
    thinking_curve,
)
from train.report.runs import SHARED_PREFIXES, Run, shared_tags, stage_boundaries

#: The teacher's label in duels and ratings.
TEACHER = "expert"
#: Curves shown in report.md itself (the others are linked).
HEADLINE_TAGS = ("eval/vs_expert/score", "eval/solver/optimal_move_rate", "losses/total")


# --- figures --------------------------------------------------------------------------------


def _pyplot():
    """matplotlib's pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_metric(runs: Sequence[Run], tag: str, path: str | Path) -> Path:
    """One tag of every run against positions seen (left) and wall time (right)."""
    plt = _pyplot()
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
    return _save(plt, fig, path)


def plot_duel_matrix(names: Sequence[str], scores: np.ndarray, path: str | Path) -> Path:
    """A heat map of ``scores[i, j]``, the score of row player ``i`` against column ``j``."""
    plt = _pyplot()
    size = 1.2 + 1.1 * len(names)
    fig, ax = plt.subplots(figsize=(size + 1.5, size), layout="constrained")
    cmap = plt.get_cmap("RdBu").copy()
    cmap.set_bad("0.92")  # the diagonal (NaN): nobody plays itself
    image = ax.imshow(scores, cmap=cmap, vmin=0, vmax=1)
    for i, j in np.ndindex(scores.shape):
        if np.isfinite(scores[i, j]):
            ink = "white" if abs(scores[i, j] - 0.5) > 0.3 else "black"  # legible on dark cells
            ax.text(j, i, f"{scores[i, j]:.2f}", ha="center", va="center", color=ink)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_title("score of the row player against the column player")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _save(plt, fig, path)


def plot_thinking_time(curves: dict[str, list[ThinkingPoint]], path: str | Path) -> Path:
    """Optimal-move rate, and score against the teacher, as simulations per move grow.

    The score rather than the win rate, because against a perfect tic-tac-toe teacher the
    best one can do is draw: the win rate would be a flat zero.
    """
    plt = _pyplot()
    fig, (grade_ax, duel_ax) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    for k, (label, points) in enumerate(curves.items()):
        x = np.arange(len(points)) + 0.06 * (k - (len(curves) - 1) / 2)  # keep bars apart
        for ax, rate, interval in (
            (grade_ax, [p.optimal_move_rate for p in points], [p.optimal_interval for p in points]),
            (
                duel_ax,
                [p.vs_teacher.score for p in points],
                [p.vs_teacher.score_interval for p in points],
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
    return _save(plt, fig, path)


def _save(plt, fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def figure_name(tag: str) -> str:
    """``"eval/vs_expert/score"`` -> ``"eval__vs_expert__score.png"``."""
    return tag.replace("/", "__") + ".png"


# --- the report -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportConfig:
    """What :func:`build_report` measures.

    Attributes:
        games: games per duel of the round robin, half with each colour.
        sims: search budgets of the thinking-time curve (simulations per move; 0 = network
            alone); empty for no curve.
        positions: solver-graded positions per budget (None: all of the game's).
        thinking_games: games against the teacher per budget.
        opening_moves: random plies opening each duel game (shared by both colours).
        device: where the networks run.
    """

    games: int = 100
    sims: tuple[int, ...] = (0, 16, 64, 256)
    positions: int | None = 200
    thinking_games: int = 20
    opening_moves: int = 2
    device: str = "cpu"


def build_report(
    runs: Sequence[Run],
    out: str | Path,
    config: ReportConfig,
    rng: np.random.Generator,
    log: Callable[[str], None] = print,
) -> dict:
    """Measure ``runs`` (labelled: ``train.report.runs.label_runs``) and write the report
    to ``out``.

    Returns the report's numbers (what ``report.json`` holds).
    """
    games = {r.game for r in runs}
    if len(games) != 1:
        raise ValueError(f"runs of different games can't be compared: {sorted(games)}")
    game = get_game(games.pop())
    out = Path(out)
    figures = out / "figures"
    tags = shared_tags(runs)
    log(f"{len(tags)} training curves -> {figures}")
    for tag in tags:
        plot_metric(runs, tag, figures / figure_name(tag))

    # The networks alone and the teacher, round robin; needs at least one checkpoint.
    played = [r for r in runs if r.model is not None]
    for run in played:
        run.model.to(config.device)
    players = {r.label: network_player(game, r.model, 0, config.device) for r in played}
    players[TEACHER] = make_expert(game)
    duels, elo = [], None
    if played:
        log(f"round robin of {len(players)} players, {config.games} games per pair")
        duels = round_robin(game, players, config.games, rng, config.opening_moves)
        elo = fit_elo(duels, anchor=TEACHER)
        names = list(players)
        plot_duel_matrix(names, score_matrix(names, duels), figures / "duel_matrix.png")

    curves: dict[str, list[ThinkingPoint]] = {}
    graded = solver_sample(game, config.positions, rng)
    for run in played if config.sims else []:
        log(f"thinking time of {run.label}: {list(config.sims)} simulations per move")
        curves[run.label] = thinking_curve(
            game,
            run.model,
            config.sims,
            players[TEACHER],
            graded,
            config.thinking_games,
            rng,
            config.opening_moves,
            config.device,
        )
    if curves:
        plot_thinking_time(curves, figures / "thinking_time.png")

    questions = [(q, d) for q, d in _questions(runs, duels) if d is not None]
    summary = {
        "game": game.name,
        "config": {**asdict(config), "positions_graded": len(graded[0])},
        "runs": [_run_dict(r) for r in runs],
        "verdicts": [{"question": q, "answer": verdict(d), **duel_dict(d)} for q, d in questions],
        "duels": [duel_dict(d) for d in duels],
        "elo": None if elo is None else _elo_dict(elo),
        "thinking_time": {k: [p.as_dict() for p in v] for k, v in curves.items()},
        "figures": {tag: f"figures/{figure_name(tag)}" for tag in tags},
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    (out / "report.md").write_text(_markdown(summary, duels, elo, curves) + _experiments(out))
    return summary


def _experiments(out: Path) -> str:
    """Links to the experiments already written into the report folder (their summaries)."""
    found = sorted(out.glob("experiments/*/summary.md"))
    links = [f"- [{p.parent.name}]({p.relative_to(out).as_posix()})" for p in found]
    return "\n## Experiments (scripts/experiment.py)\n\n" + "\n".join(links) + "\n" if links else ""


def _questions(
    runs: Sequence[Run], duels: Sequence[DuelResult]
) -> list[tuple[str, DuelResult | None]]:
    """The report's questions, each with the duel that answers it (from the asker's view)."""
    played = [r for r in runs if r.model is not None]
    stage1 = [r.label for r in played if r.role == "stage1"]
    pairs = []
    for run in (r for r in played if r.role == "stage2"):
        # Its own stage-1 run, found by folder name; failing that, the only stage-1 run.
        own = [r.label for r in played if r.role == "stage1" and r.path.name == run.parent]
        pairs += [(run.label, parent) for parent in own or (stage1 if len(stage1) == 1 else [])]
    pairs += [(run.label, TEACHER) for run in played]
    pairs += [
        (a.label, b.label)
        for a in played
        if a.role == "stage2"
        for b in played
        if b.role == "scratch"
    ]
    return [
        (f"Did {a} beat {'the teacher' if b == TEACHER else b}?", find_duel(duels, a, b))
        for a, b in pairs
    ]


def verdict(result: DuelResult) -> str:
    """Whether ``a`` beat ``b``: yes if the 95% interval of its score lies above 1/2."""
    low, high = result.score_interval
    numbers = (
        f"score {result.score:.3f} [{low:.3f}, {high:.3f}] over {result.n} games ({result.total})"
    )
    if low > 0.5:
        return f"**yes**: {result.a} beat {result.b}, {numbers}"
    if high < 0.5:
        return f"**no**: {result.a} lost to {result.b}, {numbers}"
    return f"**no clear difference** between {result.a} and {result.b}: {numbers}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table; floats get three decimals."""

    def cell(x: object) -> str:
        return f"{x:.3f}" if isinstance(x, float) and math.isfinite(x) else str(x)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def _elo_dict(elo: EloFit) -> dict:
    ratings = {p: {"elo": elo.ratings[p], "stderr": elo.stderr[p]} for p in elo.players}
    return {"anchor": elo.anchor, "ratings": ratings}


def _run_dict(run: Run) -> dict:
    elapsed = run.elapsed_at(np.array([run.last_step]))[0]
    return {
        "label": run.label,
        "role": run.role,
        "path": str(run.path),
        "checkpoint": str(run.checkpoint) if run.checkpoint else None,
        "positions": run.last_step,
        "elapsed_s": None if np.isnan(elapsed) else float(elapsed),
        "final": {t: s.last for t, s in run.scalars.items() if t.startswith(SHARED_PREFIXES)},
    }


def _markdown(
    summary: dict,
    duels: Sequence[DuelResult],
    elo: EloFit | None,
    curves: dict[str, list[ThinkingPoint]],
) -> str:
    """report.md: the verdicts first, then the evidence."""
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
            f"0 = the network alone), graded on {c['positions_graded']} solver-labelled "
            f"positions and dueled against the teacher ({c['thinking_games']} games per budget).",
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
    alone = {label: p for label, points in curves.items() for p in points if p.sims == 0}
    if not alone:
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
    rows = [
        [
            label,
            p.sims,
            f"{p.optimal_move_rate:.3f} {_interval(p.optimal_interval)}",
            str(p.vs_teacher.total),
            f"{p.vs_teacher.score:.3f} {_interval(p.vs_teacher.score_interval)}",
            f"{p.vs_teacher.win_rate:.3f} {_interval(p.vs_teacher.win_interval)}",
        ]
        for label, points in curves.items()
        for p in points
    ]
    return markdown_table(header, rows)


def _interval(bounds: tuple[float, float]) -> str:
    return f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"
