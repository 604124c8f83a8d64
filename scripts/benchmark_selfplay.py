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
5. where the time of one self-play move of ``--batch`` games goes (search with root noise,
   move choice, the move itself), timed by phase (``train/search/timing.py``): the network
   (its forward pass with the numpy <-> torch conversions and the softmax), the tree's
   numpy work (``descend``, ``expand``, ``backup`` in ``train/search/tree.py``, PUCT
   included), the rules (``envs/``: moves, legal moves, wins, observations) and the rest
   (Python between them, the move choice); and the network's share of the search's time;

and the ratios. Both searches call the same evaluator (``NetworkEvaluator``), so the ratios
measure the search, not the network. Other processes on a shared machine only ever slow a
measurement down, so every measurement is repeated in ``--rounds`` interleaved rounds and the
best round is kept; the load average is printed with the numbers. Example::

    python -m scripts.benchmark_selfplay --batch 64 --simulations 64 --threads 1
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from envs import GAME_NAMES, Game, State, get_game
from models.net import PolicyValueNet, default_config
from models.onnx_net import OnnxNet
from scripts.benchmark_net import macs_per_position
from scripts.cli import arg, parse, resolve_device, set_threads
from train.arena.positions import random_positions
from train.search.eval_cache import EvaluationCache
from train.search.evaluators import NetworkEvaluator, Precision, Runtime
from train.search.puct import SearchKind
from train.search.reference import reference_search
from train.search.search import MCTSConfig, search, select_action
from train.search.timing import PhaseTimer, TimedGame
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
    eval_cache: int = arg(
        0, "positions the evaluator remembers (train/search/eval_cache.py); 0: no cache"
    )
    precision: Precision = arg("float32", "the network's precision in the search (torch runtime)")
    runtime: Runtime = arg("torch", "what runs the network in the search (onnxruntime: CPU only)")
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


#: The phases of a profiled move, as reported (``tree`` is descend + expand + backup).
PROFILE_PHASES = ("network", "tree", "rules", "other")


def profile_selfplay_moves(
    game: Game,
    evaluate: NetworkEvaluator,
    config: MCTSConfig,
    states: State,
    rng: np.random.Generator,
    seconds: float,
) -> dict[str, float]:
    """Time consecutive self-play moves of the games at ``states`` (State[B], unfinished) by
    phase, for ``seconds`` (at least one move): each move searches with root noise, draws
    the moves at temperature 1 and plays them, as ``play_selfplay_games`` does; a game that
    ends starts again from the empty board, so the batch stays full (and an evaluation
    cache sees the previous moves' positions, as in self-play).

    Returns:
        each phase's share of the moves' wall time, by name: ``network``, ``tree`` (with its
        parts ``descend``, ``expand``, ``backup``), ``rules``, ``other`` (the first four of
        which sum to 1); ``network_share_of_search``, the network's share of the time inside
        ``search``; ``move_s``, the mean seconds per move.
    """
    timer = PhaseTimer()
    timed_game = TimedGame(game, timer)
    # A shallow copy shares the evaluator's inference copy (compiled or not) and its cache,
    # so that only its rules (the observations) are timed apart.
    timed_evaluator = copy.copy(evaluate)
    timed_evaluator.game = timed_game
    if timed_evaluator.cache is not None:
        timed_evaluator.cache.clear()
    network = timer.wrap(timed_evaluator, "network")
    moves, total, in_search = 0, 0.0, 0.0
    while moves == 0 or total < seconds:
        start = time.perf_counter()
        result = search(timed_game, states, network, config, rng, add_noise=True, timer=timer)
        searched = time.perf_counter()
        actions = select_action(result.visits, 1.0, rng)
        after = timed_game.step(states, actions)
        states = State.where(timed_game.is_terminal(after), game.initial_state(len(after)), after)
        total += time.perf_counter() - start
        in_search += searched - start
        moves += 1
    shares = timer.fractions(total)
    parts = {name: shares.get(name, 0.0) for name in ("descend", "expand", "backup")}
    split = {
        "network": shares.get("network", 0.0),
        "tree": sum(parts.values()),
        "rules": shares.get("rules", 0.0),
        "other": shares["other"],
        **parts,
    }
    split["network_share_of_search"] = timer.totals.get("network", 0.0) / in_search
    split["move_s"] = total / moves
    return split


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

    evaluate = NetworkEvaluator(
        model,
        game,
        device=device,
        compile=args.compile,
        precision=args.precision,
        runtime=args.runtime,
    )
    started = time.perf_counter()
    fast = evaluate.fast_model()  # builds the folded copy (and compiles it, if asked)
    setup_s = time.perf_counter() - started
    # Self-play's evaluator: the same copy, with the cache if asked. The search and network
    # measurements repeat the same positions, which a cache would answer for free.
    selfplay_evaluate = copy.copy(evaluate)
    selfplay_evaluate.cache = (
        EvaluationCache(game.num_actions, args.eval_cache) if args.eval_cache else None
    )

    # The same roots for every measurement: positions from random games.
    states = random_positions(game, args.batch, game.num_cells // 2 - 1, rng)
    legal = game.legal_mask(states)
    obs = torch.as_tensor(game.observation(states), device=device)
    legal_t = torch.as_tensor(legal, device=device)
    roots = [states[i] for i in range(len(states))]
    batched, reference = _Counting(evaluate), _Counting(evaluate)

    obs_np = obs.cpu().numpy()

    def forward(net: torch.nn.Module | OnnxNet, size: int) -> Callable[[], int]:
        def work() -> int:
            if isinstance(net, OnnxNet):  # numpy in and out
                net(obs_np[:size], legal[:size])
            else:
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
        cpu_started = time.process_time()
        records = play_selfplay_games(
            game, selfplay_evaluate, config, args.batch, rng, playout_cap=cap
        )
        results["batched_positions_cpu"] = len(records) / (time.process_time() - cpu_started)
        results["batched_positions"] = records.stats.positions_per_s
        results["selfplay_games_s"] = records.stats.wall_time_s
        cache = selfplay_evaluate.cache
        if cache is not None:
            results["cache_hit_rate"] = cache.hits / max(cache.hits + cache.misses, 1)
    profile = profile_selfplay_moves(game, selfplay_evaluate, config, states, rng, args.seconds)
    results.update({f"profile_{name}": share for name, share in profile.items()})
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
        f"(setup {r['setup_s']:.1f} s), runtime={args.runtime}, precision={args.precision}, "
        f"eval cache={args.eval_cache}, batch={b}, simulations={args.simulations}, "
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
        hits = f", eval cache hits {r['cache_hit_rate']:.0%}" if "cache_hit_rate" in r else ""
        print(
            f"self-play positions/s: batched {r['batched_positions']:,.1f} "
            f"({b} games in {r['selfplay_games_s']:.1f} s; per CPU second of this process "
            f"{r['batched_positions_cpu']:,.1f}{hits}), "
            f"reference {r['reference_positions']:,.1f}, "
            f"ratio {r['batched_positions'] / r['reference_positions']:.2f}x"
        )
    print(
        f"a self-play move of {b} games ({r['profile_move_s'] * 1e3:,.0f} ms), by phase: "
        + ", ".join(f"{name} {r[f'profile_{name}']:.0%}" for name in PROFILE_PHASES)
        + f" (tree: descend {r['profile_descend']:.0%}, expand {r['profile_expand']:.0%}, "
        f"backup {r['profile_backup']:.0%}); the network is "
        f"{r['profile_network_share_of_search']:.0%} of the search's time"
    )


def _load(load: tuple[float, ...]) -> str:
    return "/".join(f"{x:.2f}" for x in load)


if __name__ == "__main__":
    main(parse(Args))
