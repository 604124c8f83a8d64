"""How fast self-play runs: the network alone, the batched search, the one-leaf reference.

For the game's default network, from one run on one machine, this prints

1. the network's raw throughput (positions/s) at batch 1 and at ``--batch``, and the
   *batching bound*: batch-1 cost per position over batch-``--batch`` cost per position,
   the most any batching can gain over one-leaf search on this hardware;
2. the batched search (``train/search/search.py``): simulations/s over ``--batch`` games at once,
   and the positions/s the network scored meanwhile (a simulation that ends in a finished
   game costs no network call), as a share of the raw throughput;
3. the same for the one-leaf reference search (``train/search/reference.py``): one game, one
   network call per simulation;
4. self-play positions/s of each: one whole batch of ``--batch`` games with the batched
   search (``train.selfplay.games``), and games played one after another with the reference;

and the ratios. Both searches call the same evaluator (``NetworkEvaluator``), so the ratios
measure the search, not the network. Other processes on a shared machine only ever slow a
measurement down, so every measurement is repeated in ``--rounds`` interleaved rounds and the
best round is kept; the load average is printed with the numbers. Example::

    python -m scripts.benchmark_selfplay --batch 64 --simulations 64 --threads 1
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from envs import GAME_NAMES, Game, State, get_game
from models.net import PolicyValueNet, default_config
from scripts.benchmark_net import macs_per_position
from scripts.cli import arg, parse, resolve_device, set_threads
from train.arena.positions import random_positions
from train.search.evaluators import NetworkEvaluator
from train.search.puct import SearchKind
from train.search.reference import reference_search
from train.search.search import MCTSConfig, search, select_action
from train.selfplay.games import play_selfplay_games
from train.selfplay.playout_cap import PlayoutCap


@dataclass
class Args:
    """Measure the throughput of the network, the batched search and the reference search."""

    game: str = arg("connect4", "the game (its default network)", choices=GAME_NAMES)
    batch: int = arg(64, "games searched together: the network's batch size in the search")
    simulations: int = arg(64, "search simulations per move")
    search: SearchKind = arg(
        "puct", "the batched search's rules (the reference search is PUCT's either way)"
    )
    threads: int = arg(1, "torch CPU threads (1 is fastest on a busy 2-core machine)")
    device: Literal["auto", "cpu", "cuda"] = arg("auto", "where the network runs")
    seconds: float = arg(2.0, "time budget of each measurement in each round")
    rounds: int = arg(3, "interleaved rounds of every measurement; the best round is reported")
    compile: bool = arg(False, "run the network through torch.compile (compile time reported)")
    selfplay: bool = arg(True, "also time self-play (the batched side plays --batch whole games)")
    full_search_fraction: float = arg(
        1.0, "batched self-play: the share of moves searched with --simulations, the others "
        "with --cheap-simulations (playout cap randomisation; 1: every move in full)"
    )  # fmt: skip
    cheap_simulations: int = arg(16, "batched self-play: simulations of the cheap searches")
    seed: int = arg(0, "seed of the network's weights, the positions and the search noise")


class _Counting:
    """An evaluator wrapper that counts calls and positions scored, next to the simulations
    run with it (a simulation that ends in a finished game costs no network call)."""

    def __init__(self, evaluate: NetworkEvaluator) -> None:
        self.evaluate = evaluate
        self.calls = self.positions = self.simulations = 0

    def __call__(self, states: State, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        self.positions += len(states)
        return self.evaluate(states, legal)


def _timed(work: Callable[[], int], seconds: float, sync: Callable[[], None]) -> float:
    """Units of work per second: ``work()`` (returning units done) repeated for ``seconds``
    (at least once)."""
    done, start = 0, time.perf_counter()
    while True:
        done += work()
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def _reference_selfplay_move(
    game: Game,
    evaluate: NetworkEvaluator,
    config: MCTSConfig,
    rng: np.random.Generator,
    game_state: list[State],
) -> int:
    """Play one move of a reference self-play game kept in ``game_state[0]``; restart the game
    when it ends. Same move choice as ``play_selfplay_games``, without root noise (the
    reference search has none; it changes no cost). Returns 1 (one position played)."""
    state = game_state[0]
    visits, _, _ = reference_search(game, state, evaluate, config)
    temperature = 1.0 if int(state.ply) < game.num_cells // 4 else 0.0
    action = int(select_action(visits[None], temperature, rng)[0])
    after = game.step(state, action)
    game_state[0] = game.initial_state() if game.is_terminal(after) else after
    return 1


def main(args: Args) -> dict[str, float]:
    """Run the measurements, print them, and return them by name."""
    if min(args.batch, args.simulations, args.rounds) < 1 or args.seconds < 0:
        raise SystemExit("error: --batch, --simulations, --rounds must be >= 1, --seconds >= 0")
    set_threads(args.threads)
    device = resolve_device(args.device)
    sync = torch.cuda.synchronize if device == "cuda" else lambda: None
    game = get_game(args.game)
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    model = PolicyValueNet(default_config(args.game)).to(device).eval()
    config = MCTSConfig(simulations=args.simulations, search=args.search)
    try:
        cap = PlayoutCap(args.full_search_fraction, args.cheap_simulations)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    load_before = os.getloadavg()

    evaluate = NetworkEvaluator(model, game, device=device, compile=args.compile)
    started = time.perf_counter()
    fast = evaluate.fast_model()  # builds the folded copy (and compiles it, if asked)
    setup_s = time.perf_counter() - started

    # The same roots for every measurement: positions from random games.
    states = random_positions(game, args.batch, game.num_cells // 2 - 1, rng)
    legal = game.legal_mask(states)
    obs = torch.as_tensor(game.observation(states), device=device)
    legal_t = torch.as_tensor(legal, device=device)
    roots = [states[i] for i in range(len(states))]
    batched, reference = _Counting(evaluate), _Counting(evaluate)

    def forward(net: torch.nn.Module, size: int) -> Callable[[], int]:
        def work() -> int:
            with torch.inference_mode():
                net(obs[:size], legal_t[:size])
            return size

        return work

    def batched_search() -> int:
        search(game, states, batched, config, rng, add_noise=True)
        batched.simulations += args.batch * args.simulations
        return args.batch * args.simulations

    def reference_searches() -> int:
        reference_search(game, roots[rng.integers(len(roots))], reference, config)
        reference.simulations += args.simulations
        return args.simulations

    reference_game = [game.initial_state()]
    measurements: dict[str, Callable[[], int]] = {
        "eager_1": forward(model, 1),
        "eager_batch": forward(model, args.batch),
        "raw_1": forward(fast, 1),
        "raw_batch": forward(fast, args.batch),
        "evaluator_batch": lambda: len(evaluate(states, legal)[1]),
        "batched_sims": batched_search,
        "reference_sims": reference_searches,
    }
    if args.selfplay:
        measurements["reference_positions"] = lambda: _reference_selfplay_move(
            game, evaluate, config, rng, reference_game
        )
    for work in measurements.values():  # warm-up: allocator, lazy kernels, caches
        work()
    # Interleaved rounds: a burst of load elsewhere slows one round of each, not all of one.
    results = dict.fromkeys(measurements, 0.0)
    for _ in range(args.rounds):
        for name, work in measurements.items():
            results[name] = max(results[name], _timed(work, args.seconds, sync))
    if args.selfplay:
        records = play_selfplay_games(game, evaluate, config, args.batch, rng, playout_cap=cap)
        results["batched_positions"] = records.stats.positions_per_s
        results["selfplay_games_s"] = records.stats.wall_time_s
    for name, counted in (("batched", batched), ("reference", reference)):
        # Positions the network scored per second of search, and its mean batch size.
        share = counted.positions / counted.simulations
        results[f"{name}_net_positions"] = results[f"{name}_sims"] * share
        results[f"{name}_net_batch"] = counted.positions / counted.calls
    results["bound"] = results["raw_batch"] / results["raw_1"]
    results["setup_s"] = setup_s
    _report(args, model, device, results, load_before, os.getloadavg())
    return results


def _report(
    args: Args,
    model: PolicyValueNet,
    device: str,
    r: dict[str, float],
    load_before: tuple[float, ...],
    load_after: tuple[float, ...],
) -> None:
    b = args.batch
    cfg = model.config
    print(
        f"{args.game} net {cfg.blocks}x{cfg.channels} ({macs_per_position(model) / 1e6:.1f} "
        f"MMAC/pos), device={device}, threads={args.threads}, compile={args.compile} "
        f"(setup {r['setup_s']:.1f} s), batch={b}, simulations={args.simulations}, "
        f"search={args.search}, "
        f"best of {args.rounds} x {args.seconds:g} s"
    )
    print(f"load average (1/5/15 min): before {_load(load_before)}, after {_load(load_after)}")
    print(f"{'network, positions/s':<44}{'batch 1':>10}{f'batch {b}':>10}")
    rows = [
        ("model as trained (eager, with BatchNorm)", r["eager_1"], r["eager_batch"]),
        ("inference copy (raw: what the search calls)", r["raw_1"], r["raw_batch"]),
        ("evaluator call (+ numpy <-> torch)", None, r["evaluator_batch"]),
    ]
    for label, one, many in rows:
        print(f"  {label:<42}{'' if one is None else f'{one:,.0f}':>10}{many:>10,.0f}")
    print(f"batching bound (batch-1 cost / batch-{b} cost per position): {r['bound']:.2f}x")
    for name, raw, batch in (("batched", "raw_batch", b), ("reference", "raw_1", 1)):
        print(
            f"{name + ' search:':<18}{r[f'{name}_sims']:>9,.0f} simulations/s; the network "
            f"scored {r[f'{name}_net_positions']:,.0f} positions/s (mean batch "
            f"{r[f'{name}_net_batch']:.1f}) = {r[f'{name}_net_positions'] / r[raw]:.0%} of raw "
            f"batch-{batch} inference"
        )
    print(f"batched / reference simulations/s: {r['batched_sims'] / r['reference_sims']:.2f}x")
    if args.selfplay:
        print(
            f"self-play positions/s: batched {r['batched_positions']:,.1f} "
            f"({b} games in {r['selfplay_games_s']:.1f} s), "
            f"reference {r['reference_positions']:,.1f}, "
            f"ratio {r['batched_positions'] / r['reference_positions']:.2f}x"
        )


def _load(load: tuple[float, ...]) -> str:
    return "/".join(f"{x:.2f}" for x in load)


if __name__ == "__main__":
    main(parse(Args))
