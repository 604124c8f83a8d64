"""The comparison report: the runs' curves, duels of their networks, strength against search.

``scripts/compare.py`` calls :func:`build_report`, which writes a folder holding

- ``figures/<tag>.png``: every metric both stages share (``losses/*``, ``val/*``, ``eval/*``,
  ``selfplay/*``) against training positions seen (the global step, which stage 2 carries on
  from stage 1) and against wall time (``charts/elapsed_s``, logged at the same steps), the
  end of stage 1 marked;
- ``figures/duel_matrix.png``: a round robin of the runs' final networks and the teacher
  (the scripted expert), with Elo ratings (``train.arena.tournament``, ``train.arena.elo``);
- ``figures/thinking_time.png``: each network inside MCTS with a growing search budget,
  graded against perfect play and dueled against the teacher (``train.arena.thinking``);
- ``report.md``, which answers with numbers and 95% intervals whether stage 2 beat stage 1
  and whether each network beat the teacher, and ``report.json``, the same numbers as data.

The runs are read back by :mod:`train.report.runs`, drawn by :mod:`train.report.figures` and
written up by :mod:`train.report.markdown`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from envs import get_game
from envs.experts import make_expert
from train.arena.duels import DuelResult
from train.arena.elo import EloFit, fit_elo
from train.arena.thinking import ThinkingPoint, thinking_curve
from train.arena.tournament import (
    duel_dict,
    find_duel,
    network_player,
    round_robin,
    score_matrix,
    solver_sample,
)
from train.report.figures import figure_name, plot_duel_matrix, plot_metric, plot_thinking_time
from train.report.markdown import report_markdown
from train.report.runs import SHARED_PREFIXES, Run, shared_tags

#: The teacher's label in duels and ratings.
TEACHER = "expert"


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
        # Every budget draws from the report's one generator, in turn.
        curves[run.label] = thinking_curve(
            game,
            run.model,
            config.sims,
            players[TEACHER],
            graded,
            config.thinking_games,
            lambda: (rng, rng),
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
    (out / "report.md").write_text(report_markdown(summary, duels, elo, curves) + _experiments(out))
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
