"""How fast and how strong is the Connect Four expert?

Prints three things:

1. the default expert's moves per second on one core (one process), over positions taken
   from real expert games, asked in batches as data generation asks and one at a time;
2. the wall time to generate ``--games`` expert-vs-expert games at the default strength
   with ``--workers`` processes (the dataset generator, results not saved);
3. the depth ladder: depth ``d + step`` against depth ``d`` for every ``d`` of ``--depths``,
   ``--ladder-games`` games each, colours alternating, from 2-ply random openings.

python -m scripts.benchmark_expert                                  # everything, minutes
python -m scripts.benchmark_expert --games 1000 --depths 1 3 --ladder-games 100
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from envs import CONNECT4, State
from envs.experts import make_expert
from scripts.cli import arg, parse
from train.arena.duels import duel
from train.learn.expert_games import GenerationConfig, generate_dataset, play_expert_games


@dataclass
class Args:
    """Benchmark the Connect Four expert: speed, dataset generation time, depth ladder."""

    games: int = arg(10_000, "expert games to generate for the timing of part 2 (0: skip)")
    workers: int = arg(2, "worker processes for part 2")
    depths: tuple[int, ...] = arg((1, 2, 3, 4, 5, 6), "ladder: the shallower depths d")
    step: int = arg(2, "ladder: how many plies deeper the challenger searches")
    ladder_games: int = arg(300, "ladder: games per pairing (0: skip the ladder)")
    positions: int = arg(5_000, "speed: expert positions to time in part 1")
    seed: int = arg(0, "random seed")


def main(args: Args) -> None:
    rng = np.random.default_rng(args.seed)
    expert = make_expert(CONNECT4)
    print(f"default Connect Four expert: {expert.name}")

    # 1. Speed on one core, over positions from real games (not random boards, whose
    # tactics are unlike play).
    records, _ = play_expert_games(CONNECT4, expert, 200, 2, rng)
    pool = State(records["own"], records["opp"], records["ply"].astype(np.int32))
    pick = rng.choice(len(pool), size=min(args.positions, len(pool)), replace=False)
    positions = pool[pick]
    expert.policy(positions[:1])  # compile (or load numba's cache) before timing
    batched = _moves_per_s(expert, [positions[i : i + 250] for i in range(0, len(positions), 250)])
    single = _moves_per_s(expert, [positions[i : i + 1] for i in range(min(len(positions), 1000))])
    print(
        f"1. speed, one core: {batched:,.0f} moves/s in batches of 250, "
        f"{single:,.0f} moves/s one position at a time ({len(positions):,} positions "
        f"from {len(pool):,} in 200 expert games)"
    )

    # 2. Dataset generation at the default strength.
    if args.games > 0:
        config = GenerationConfig(game="connect4", games=args.games, seed=args.seed)
        dataset, timings = generate_dataset(config, workers=args.workers, progress=False)
        print(
            f"2. {args.games:,} expert games ({len(dataset):,} positions) with "
            f"{args.workers} workers: {timings['seconds']:.1f} s "
            f"({timings['expert_moves_per_s']:,.0f} expert moves/s per worker)"
        )

    # 3. The depth ladder.
    if args.ladder_games > 0:
        print(f"3. depth ladder: depth d+{args.step} vs depth d, {args.ladder_games} games each")
        for depth in args.depths:
            deep = make_expert(CONNECT4, depth=depth + args.step)
            shallow = make_expert(CONNECT4, depth=depth)
            tic = time.perf_counter()
            result = duel(CONNECT4, deep, shallow, args.ladder_games, rng, opening_moves=2)
            low, high = result.score_interval
            print(
                f"   d{depth + args.step} vs d{depth}: +{result.wins} ={result.draws} "
                f"-{result.losses}, score {result.score:.3f} [{low:.3f}, {high:.3f}] "
                f"({time.perf_counter() - tic:.1f} s)",
                flush=True,
            )


def _moves_per_s(expert, batches: list[State]) -> float:
    tic = time.perf_counter()
    for batch in batches:
        expert.policy(batch)
    return len(State.concat(batches)) / (time.perf_counter() - tic)


if __name__ == "__main__":
    main(parse(Args))
