"""Self-play on several CPU cores: an iteration's games split over worker processes (the
process-pool :class:`train.selfplay.backend.SelfPlayBackend`).

One process runs one batched search at a time, and a small network's batched inference
keeps one core busy (two torch threads in one process gain little and, on a busy machine,
lose a lot). So on a CPU the way to use a second core is a second process: each worker
holds a copy of the network, receives the current weights at every iteration, plays its
share of the games with its own seeded generator, and sends the records back. Training stays
in the main process. With a fixed number of workers a run is as reproducible as with one:
the main generator draws each share's seed.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

import numpy as np
import torch

from envs import State, get_game
from models.net import NetConfig, PolicyValueNet
from train.search.evaluators import NetworkEvaluator
from train.search.search import MCTSConfig
from train.search.targets import PolicyTarget
from train.selfplay.games import SelfPlayRecords, merge_records, play_selfplay_games

_worker_model: PolicyValueNet | None = None  # each worker's copy of the network


class ProcessPoolBackend:
    """A pool of ``workers`` processes playing self-play games with the network's weights.

    Use as a context manager, or call :meth:`close` (the processes end with it). ``spawn``
    starts clean interpreters: forking a process whose torch has started threads can hang.
    While the pool waits for the next iteration its cores are free, so the learner may train
    with ``training_threads`` (one per worker).
    """

    def __init__(self, workers: int) -> None:
        if workers < 2:
            raise ValueError(f"a pool needs at least 2 workers, got {workers}")
        self.workers = workers
        self.training_threads: int | None = workers
        context = multiprocessing.get_context("spawn")
        self._pool = context.Pool(workers, initializer=torch.set_num_threads, initargs=(1,))

    def __enter__(self) -> ProcessPoolBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()

    def play(
        self,
        model: PolicyValueNet,
        config: MCTSConfig,
        n_games: int,
        rng: np.random.Generator,
        temperature_moves: int | None = None,
        start_states: State | None = None,
        policy_target: PolicyTarget = "visits",
    ) -> SelfPlayRecords:
        """Like :func:`train.selfplay.games.play_selfplay_games` with a network, the games
        shared out over the workers (``n_games`` split as evenly as possible)."""
        started = time.perf_counter()
        weights = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
        shares = [s for s in np.array_split(np.arange(n_games), self.workers) if len(s)]
        seeds = rng.integers(0, 2**63 - 1, len(shares))
        tasks = [
            (
                model.config,
                weights,
                config,
                len(share),
                int(seed),
                temperature_moves,
                None if start_states is None else start_states[share],
                policy_target,
            )
            for share, seed in zip(shares, seeds, strict=True)
        ]
        parts = self._pool.map(_play_share, tasks)
        return merge_records(parts, wall_time_s=time.perf_counter() - started)


def _play_share(task: tuple[Any, ...]) -> SelfPlayRecords:
    """In a worker: load the weights into the worker's network and play its games."""
    global _worker_model
    net_config: NetConfig
    net_config, weights, config, n_games, seed, temperature_moves, start_states, target = task
    if _worker_model is None or _worker_model.config != net_config:
        _worker_model = PolicyValueNet(net_config)
    _worker_model.load_state_dict(weights)
    _worker_model.eval()
    game = get_game(net_config.game)
    return play_selfplay_games(
        game,
        NetworkEvaluator(_worker_model, game),
        config,
        n_games,
        np.random.default_rng(seed),
        temperature_moves=temperature_moves,
        start_states=start_states,
        policy_target=target,
    )
