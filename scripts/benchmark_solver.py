"""Speed of the Connect Four solver by stage of the game.

Positions come from the shipped benchmark set (:mod:`envs.solvers.connect4_benchmark`), a
sample per stage (opening: <= 14 stones, middle: 15-28, end: > 28). Each is solved from an empty
transposition table (unless ``--warm``), and its score is checked against the set's label on
the way.
Prints per stage: mean and median milliseconds per position, positions per second, and
searched positions (nodes) per second. Example::

    python -m scripts.benchmark_solver --positions 50 --stages middle end
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from envs import CONNECT4
from envs.solvers.connect4_benchmark import DEFAULT_PATH, STAGES, load_benchmark_set
from envs.solvers.connect4_solver import DEFAULT_TABLE_LOG2, Solver
from scripts.cli import arg, parse


@dataclass
class Args:
    """Time the solver on benchmark-set positions, stage by stage."""

    positions: int = arg(30, "positions sampled per stage")
    stages: tuple[str, ...] = arg(STAGES, "stages to time (opening, middle, end)")
    action_values: bool = arg(False, "time action_values (every move) instead of solve")
    warm: bool = arg(False, "keep the table between positions instead of clearing it")
    table_log2: int = arg(DEFAULT_TABLE_LOG2, "log2 of the transposition table's entries")
    set_path: str = arg(str(DEFAULT_PATH), "the benchmark set to draw positions from")
    seed: int = arg(0, "seed of the sample of positions")


def time_stage(solver: Solver, states: list, labels: np.ndarray, args: Args) -> dict:
    """Seconds and nodes per position; raises if a score disagrees with its label."""
    seconds, nodes = [], []
    for state, label in zip(states, labels, strict=True):
        if not args.warm:
            solver.reset()
        before = solver.nodes
        start = time.perf_counter()
        if args.action_values:
            result = solver.action_values(state)
            expected = label
        else:
            result = solver.solve(state)
            expected = label.max()
        seconds.append(time.perf_counter() - start)
        nodes.append(solver.nodes - before)
        if not np.array_equal(result, expected):
            raise AssertionError(f"solver gives {result}, the set says {expected}")
    return {"seconds": np.array(seconds), "nodes": np.array(nodes)}


def main(args: Args) -> dict[str, dict]:
    unknown = set(args.stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stages {sorted(unknown)}; choose from {STAGES}")
    data = load_benchmark_set(args.set_path)
    rng = np.random.default_rng(args.seed)
    solver = Solver(args.table_log2)
    solver.solve(CONNECT4.parse("4444443"))  # compile (or load the numba cache) untimed
    what = "action_values" if args.action_values else "solve"
    print(f"{what}, {'warm' if args.warm else 'cold'} table of 2^{args.table_log2} entries")
    print(
        f"{'stage':8s} {'n':>4s} {'plies':>6s} {'mean ms':>9s} {'median ms':>9s} "
        f"{'max ms':>9s} {'pos/s':>8s} {'nodes/s':>10s}"
    )
    results = {}
    for stage in args.stages:
        index = np.flatnonzero(data.stage == stage)
        index = np.sort(rng.choice(index, size=min(args.positions, index.size), replace=False))
        states = [CONNECT4.parse(data.notation[i]) for i in index]
        timing = time_stage(solver, states, data.action_values[index], args)
        s, total = timing["seconds"], timing["seconds"].sum()
        plies = f"{data.ply[index].min()}-{data.ply[index].max()}"
        print(
            f"{stage:8s} {len(s):4d} {plies:>6s} {1000 * s.mean():9.2f} "
            f"{1000 * np.median(s):9.2f} {1000 * s.max():9.1f} {len(s) / total:8.1f} "
            f"{timing['nodes'].sum() / total:10.3g}"
        )
        results[stage] = timing
    return results


if __name__ == "__main__":
    main(parse(Args))
