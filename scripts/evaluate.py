"""Evaluate players against each other: a round robin, an Elo ladder, and solver grades.

python -m scripts.evaluate runs/<run>/best.pt                          # + random and expert
python -m scripts.evaluate runs/a/best.pt runs/b/latest.pt:sims=64 mcts:200 --games 50
python -m scripts.evaluate random expert:depth=3 expert --game connect4 --out eval/

A player is a checkpoint (``PATH.pt``: the network alone; ``PATH.pt:sims=N``: inside MCTS;
``PATH.pt:temperature=T``: sampling) or a fixed player (``random``, ``expert``,
``expert:depth=6``, ``mcts:SIMS`` for pure MCTS with random rollouts). Every pair plays
``--games`` games, half with each colour, from shared random openings; Elo ratings are
fitted to all the duels with ``random`` at 0, and each checkpoint's moves (and value head)
are graded against perfect play.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Literal, NoReturn

import numpy as np

from envs import GAME_NAMES, get_game, get_profile
from models.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from scripts.cli import arg, parse, positional, resolve_device, set_threads, writable_dir
from train.arena.duels import DuelResult
from train.arena.elo import fit_elo
from train.arena.specs import checkpoint_path, make_player
from train.arena.tournament import duel_dict, grade_network, round_robin, solver_sample
from train.report.markdown import markdown_table

BASELINES = ("random", "expert")


@dataclass
class Args:
    """Duels among players, their Elo ladder, and the solver's grades of each checkpoint."""

    players: list[str] = positional(
        "checkpoints (PATH.pt, PATH.pt:sims=N) and fixed players (random, expert, "
        "expert:depth=D, mcts:SIMS)",
        nargs="+",
    )
    game: str | None = arg(
        None,
        "the game; None: the checkpoints' game",
        choices=GAME_NAMES,
    )
    games: int = arg(100, "games per pair of players, half with each colour")
    opening_moves: int = arg(
        2,
        "random plies opening each game, the same for both colours (so that deterministic "
        "players don't replay one game)",
    )
    baselines: bool = arg(True, "add random and expert to the players when not named")
    solver: bool = arg(True, "grade each checkpoint against perfect play")
    positions: int | None = arg(None, "grade on this many solver positions; None: all")
    seed: int = arg(0, "seed of the openings and of every random choice")
    out: str | None = arg(None, "also write evaluation.json and evaluation.md to this folder")
    threads: int = arg(1, "torch CPU threads")
    device: Literal["auto", "cpu", "cuda"] = arg("cpu", "where the networks run")


def main(argv: list[str] | None = None) -> None:
    args = parse(Args, argv)
    specs = list(dict.fromkeys(spec.strip() for spec in args.players))
    if args.baselines:
        specs += [b for b in BASELINES if b not in specs]
    if len(specs) < 2:
        _fail("name at least two different players (or keep --baselines)")
    if args.games < 1 or args.opening_moves < 0 or (args.positions or 1) < 1:
        _fail("--games and --positions must be >= 1, --opening-moves >= 0")
    checkpoints = _load_checkpoints(specs)
    game = get_game(_game(args.game, checkpoints))
    device = resolve_device(args.device)
    out = writable_dir(args.out) if args.out else None  # refuse now, not after the games
    players = {}
    for spec in specs:
        try:
            players[spec] = make_player(spec, game, seed=args.seed, device=device)
        except (ValueError, TypeError) as err:  # bad options, or a checkpoint of another game
            _fail(f"player {spec!r}: {err}")
    set_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    opening = args.opening_moves
    print(
        f"{game.name}: {len(specs)} players, {args.games} games per pair from "
        f"{opening}-ply random openings, seed {args.seed}\n"
    )
    duels = round_robin(game, players, args.games, rng, opening, on_result=_print_duel)
    elo = fit_elo(duels, anchor="random" if "random" in players else specs[0])
    grades, graded = {}, 0
    # A game without a solver (Go) is measured by its duels alone.
    if args.solver and checkpoints and get_profile(game.name).grader is not None:
        sample = solver_sample(game, args.positions, rng)
        graded = len(sample[0])
        for spec, checkpoint in checkpoints.items():
            model = checkpoint.model.to(device)
            grade = grade_network(game, players[spec], model, sample, rng, device)
            grades[spec] = grade.metrics()
    result = {
        "game": game.name,
        "games_per_pair": args.games,
        "opening_moves": opening,
        "seed": args.seed,
        "players": specs,
        "duels": [duel_dict(d) for d in duels],
        "elo": {
            "anchor": elo.anchor,
            "ratings": {
                p: {"elo": elo.ratings[p], "stderr": elo.stderr[p], "games": elo.games[p]}
                for p in elo.players
            },
        },
        "solver_positions": graded,
        "solver": grades,
    }
    print(f"\nElo ({elo.anchor} = 0)\n{elo.table()}")
    if grades:
        print(f"\nsolver grades ({graded} positions)\n{_grades_text(grades)}")
    if out is not None:
        (out / "evaluation.json").write_text(json.dumps(result, indent=2))
        (out / "evaluation.md").write_text(_markdown(result, duels))
        print(f"\nwrote {out / 'evaluation.json'} and {out / 'evaluation.md'}")


def _load_checkpoints(specs: list[str]) -> dict[str, Checkpoint]:
    """The checkpoint of each checkpoint player, by spec (loaded before any game is played)."""
    checkpoints = {}
    for spec in specs:
        path = checkpoint_path(spec)
        if path:
            try:
                checkpoints[spec] = load_checkpoint(path)
            except CheckpointError as err:
                _fail(str(err))
    return checkpoints


def _game(requested: str | None, checkpoints: dict[str, Checkpoint]) -> str:
    """The game to play: ``--game``, which must agree with the checkpoints, or theirs."""
    games = {c.game for c in checkpoints.values()}
    if len(games) > 1:
        _fail(f"the checkpoints are of different games: {sorted(games)}")
    if requested is not None:
        if games and games != {requested}:
            _fail(f"--game {requested}, but the checkpoints are {games.pop()} networks")
        return requested
    if not games:
        _fail(f"no checkpoint among the players: give --game {'|'.join(GAME_NAMES)}")
    return games.pop()


def _print_duel(d: DuelResult) -> None:
    low, high = d.score_interval
    print(f"  {d.a} vs {d.b}: {d.total}, score {d.score:.3f} [{low:.3f}, {high:.3f}]", flush=True)


_GRADE_HEADER = ["optimal moves", "errors", "errors open/mid/end", "value head sign accuracy"]


def _grade_row(metrics: dict[str, float]) -> list[str]:
    """The columns of :data:`_GRADE_HEADER` for one player's ``eval/solver/*`` metrics."""

    def get(name: str) -> str:
        value = metrics.get(f"eval/solver/{name}")
        return "-" if value is None else f"{value:.3f}"

    stages = " / ".join(get(f"error_rate_{s}") for s in ("opening", "middle", "end"))
    return [get("optimal_move_rate"), get("error_rate"), stages, get("value_sign_accuracy")]


def _grades_text(grades: dict[str, dict[str, float]]) -> str:
    width = max(len(p) for p in grades)
    lines = [f"{'player':<{width}}  " + "  ".join(_GRADE_HEADER)]
    for spec, metrics in grades.items():
        cells = [f"{c:>{len(h)}}" for c, h in zip(_grade_row(metrics), _GRADE_HEADER, strict=True)]
        lines.append(f"{spec:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


def _markdown(result: dict, duels: list[DuelResult]) -> str:
    ratings = result["elo"]["ratings"]
    parts = [
        f"# Evaluation: {result['game']}",
        f"{result['games_per_pair']} games per pair, half with each colour, "
        f"{result['opening_moves']} random opening plies, seed {result['seed']}. Scores count "
        "a win 1 and a draw 1/2; intervals are 95% (Wilson).",
        "## Duels",
        markdown_table(
            ["a", "b", "record of a", "score of a", "95% interval"],
            [
                [d.a, d.b, str(d.total), d.score, "[{:.3f}, {:.3f}]".format(*d.score_interval)]
                for d in duels
            ],
        ),  # fmt: skip
        f"## Elo ({result['elo']['anchor']} = 0)",
        markdown_table(
            ["player", "Elo", "±95%", "games"],
            [
                [p, f"{r['elo']:.0f}", f"{1.96 * r['stderr']:.0f}", r["games"]]
                for p, r in sorted(ratings.items(), key=lambda item: -item[1]["elo"])
            ],
        ),  # fmt: skip
    ]
    if result["solver"]:
        parts += [
            f"## Solver grades ({result['solver_positions']} positions)",
            markdown_table(
                ["player", *_GRADE_HEADER],
                [[spec, *_grade_row(m)] for spec, m in result["solver"].items()],
            ),  # fmt: skip
        ]
    return "\n\n".join(parts) + "\n"


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


if __name__ == "__main__":
    main()
