"""Make the shipped Connect Four benchmark set: positions labelled with every move's exact score.

How the set is made (everything follows from ``--seed``, so a rerun writes the same file):

1. Each source of play plays games from the empty board to the end, in batches: ``random``
   (uniform legal moves) and ``expert-d{D}-t{T}`` (the scripted expert of
   :mod:`envs.experts` searching ``D`` plies, sampling its moves at temperature ``T``).
   Source ``i`` draws from ``np.random.default_rng([seed, i])``.
2. Each game gives at most one position per stage: a ply drawn uniformly among the game's
   unfinished positions in the stage's range (opening ``--opening-min-ply``..14, middle
   15..28, end 29..41), so games that end early favour a stage's first plies. The stages'
   quotas are split evenly over the sources; positions already taken (same move string) are
   skipped, and games are played until the quotas fill.
3. The solver labels every move of every position
   (:meth:`envs.solvers.connect4_solver.Solver.action_values`).

The opening starts at ply 8 by default: earlier positions of expert games take the solver
from many seconds to minutes each. The shipped file (1,200 positions, 400 per stage) took
about 9 minutes on a busy 2-core machine, nearly all of it on the opening (1.3 s each);
the script prints the time per stage. Example (the shipped file)::

    python -m scripts.make_benchmark_set
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from envs import CONNECT4
from envs.players import Player
from envs.solvers.connect4_benchmark import (
    DEFAULT_PATH,
    MIDDLE_LAST_PLY,
    OPENING_LAST_PLY,
    STAGES,
    BenchmarkSet,
    save_benchmark_set,
)
from envs.solvers.connect4_solver import Solver
from scripts.cli import arg, parse
from train.arena import specs
from train.arena.runner import play_lockstep


@dataclass
class Args:
    """Generate positions from varied games and label each move with the solver's score."""

    out: str = arg(str(DEFAULT_PATH), "where to write the set (.npz, written atomically)")
    per_stage: tuple[int, ...] = arg((400, 400, 400), "positions for opening, middle and end")
    sources: tuple[str, ...] = arg(
        ("random", "expert-d2-t1", "expert-d4-t0.5"),
        "kinds of play: 'random' or 'expert-d{depth}-t{temperature}'",
    )
    opening_min_ply: int = arg(8, "fewest stones of an opening position (earlier: slower)")
    games_per_batch: int = arg(256, "games each source plays at once")
    seed: int = arg(0, "seed of all the games")
    table_log2: int = arg(23, "log2 of the solver's transposition table entries")


def make_player(source: str) -> Player:
    """The player named by a source string (``random`` or ``expert-d4-t0.5``, the players'
    own names, as the set records them), built from its player spec."""
    if source == "random":
        return specs.make_player("random", CONNECT4)
    match = re.fullmatch(r"expert-d(\d+)-t([0-9.]+)", source)
    if match is None:
        raise ValueError(f"unknown source {source!r}: use 'random' or e.g. 'expert-d4-t0.5'")
    return specs.make_player(f"expert:depth={match[1]},temperature={match[2]}", CONNECT4)


def play_games(player: Player, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Play ``n`` games to the end; returns actions int64[n, 42] (-1 after the end), lengths."""
    played = play_lockstep(CONNECT4, [player], CONNECT4.initial_state(n), rng)
    return played.moves(), played.final.ply.astype(np.int64)


def stage_plies(stage: str, opening_min_ply: int) -> tuple[int, int]:
    """The first and last ply of a stage's positions in the set."""
    return {
        "opening": (opening_min_ply, OPENING_LAST_PLY),
        "middle": (OPENING_LAST_PLY + 1, MIDDLE_LAST_PLY),
        "end": (MIDDLE_LAST_PLY + 1, CONNECT4.num_cells - 1),
    }[stage]


def collect_positions(args: Args) -> list[tuple[str, str, str]]:
    """(notation, stage, source) of every position, stage by stage, sources interleaved."""
    chosen: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for index, source in enumerate(args.sources):
        player, rng = make_player(source), np.random.default_rng([args.seed, index])
        # Each source's share of each stage's quota; the first sources take the remainder.
        wanted = {
            stage: count // len(args.sources) + (index < count % len(args.sources))
            for stage, count in zip(STAGES, args.per_stage, strict=True)
        }
        while any(wanted.values()):
            actions, lengths = play_games(player, args.games_per_batch, rng)
            for game, length in zip(actions, lengths, strict=True):
                for stage in STAGES:
                    first, last = stage_plies(stage, args.opening_min_ply)
                    last = min(last, length - 1)  # the final position is over
                    if wanted[stage] == 0 or last < first:
                        continue
                    ply = int(rng.integers(first, last + 1))
                    notation = CONNECT4.notation(game[:ply])
                    if notation not in seen:
                        seen.add(notation)
                        chosen.append((notation, stage, source))
                        wanted[stage] -= 1
    return sorted(chosen, key=lambda item: (STAGES.index(item[1]), len(item[0]), item[0]))


def label(positions: list[tuple[str, str, str]], table_log2: int) -> tuple[BenchmarkSet, dict]:
    """The labelled set, and the seconds spent solving each stage."""
    solver = Solver(table_log2)
    states, values, seconds = [], [], dict.fromkeys(STAGES, 0.0)
    for notation, stage, _ in tqdm(positions, desc="solving", unit="pos"):
        state = CONNECT4.parse(notation)
        start = time.perf_counter()
        values.append(solver.action_values(state))
        seconds[stage] += time.perf_counter() - start
        states.append(state)
    data = BenchmarkSet(
        own=np.array([s.own for s in states], dtype=np.uint64),
        opp=np.array([s.opp for s in states], dtype=np.uint64),
        ply=np.array([s.ply for s in states], dtype=np.int32),
        action_values=np.array(values, dtype=np.int16),
        notation=np.array([p[0] for p in positions]),
        stage=np.array([p[1] for p in positions]),
        source=np.array([p[2] for p in positions]),
    )
    return data, seconds


def main(args: Args) -> BenchmarkSet:
    if len(args.per_stage) != len(STAGES):
        raise ValueError(f"--per-stage takes {len(STAGES)} counts, one per stage {STAGES}")
    if not 0 <= args.opening_min_ply <= OPENING_LAST_PLY:
        raise ValueError(f"--opening-min-ply must be in 0..{OPENING_LAST_PLY}")
    start = time.perf_counter()
    positions = collect_positions(args)
    print(f"played games: {time.perf_counter() - start:.1f} s")
    data, seconds = label(positions, args.table_log2)
    save_benchmark_set(data, args.out)
    print(f"wrote {len(data)} positions to {args.out}")
    for stage in STAGES:
        n = int((data.stage == stage).sum())
        if n:
            values = data.values[data.stage == stage]
            print(
                f"  {stage:8s} {n:4d} positions, plies {data.ply[data.stage == stage].min()}"
                f"..{data.ply[data.stage == stage].max()}, wins/draws/losses "
                f"{(values > 0).sum()}/{(values == 0).sum()}/{(values < 0).sum()}, "
                f"solved in {seconds[stage]:.1f} s ({1000 * seconds[stage] / n:.0f} ms each)"
            )
    return data


if __name__ == "__main__":
    main(parse(Args))
