"""Self-play on Ray actors: the games of an iteration shared out over a Ray cluster (the Ray
:class:`train.selfplay.backend.SelfPlayBackend`).

The same split as the process pool (:mod:`train.selfplay.process_pool`): ``workers`` players,
each holding a copy of the network, each playing one share of the games with a seed the run's
generator drew, in share order, before any game started; the learner stays in the driver.
What Ray adds is *where* the players live: on this machine (a local runtime with ``workers``
CPUs) or anywhere in a cluster (``address="auto"`` or ``"ray://host:port"``). The weights go
into Ray's object store once per iteration (``ray.put``) and every actor reads that one copy;
the games come back as :class:`train.selfplay.games.SelfPlayRecords`, arrays inside.

So with the same seed and the same number of workers the games are the process pool's, bit
for bit. A player that dies mid-iteration (its process killed, its machine gone) is replaced
by a fresh actor, which replays the dead one's share with the same seed and the same
weights: the iteration's games are then exactly those it would have had, none lost, none
counted twice.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from envs import State, get_game
from models.net import NetConfig, PolicyValueNet
from train.search.evaluators import DEFAULT_EVALUATOR, EvaluatorOptions
from train.search.search import MCTSConfig
from train.search.targets import PolicyTarget
from train.selfplay.games import (
    SelfPlayRecords,
    merge_records,
    play_selfplay_games,
    split_shares,
)
from train.selfplay.playout_cap import NO_CAP, PlayoutCap

try:
    import ray
    from ray.exceptions import RayActorError
except ImportError as err:  # ray is an optional extra
    raise ImportError('the Ray backend needs Ray: pip install -e ".[ray]"') from err

#: Replacements of one share's actor before an iteration gives up (a share that kills every
#: actor it lands on is a bug, not bad luck).
MAX_REPLAYS = 3


class _SelfPlayActor:
    """One self-play player: a copy of the network, one CPU thread (as a pool worker)."""

    def __init__(self, net_config: NetConfig) -> None:
        torch.set_num_threads(1)
        self.model = PolicyValueNet(net_config).eval()
        self.game = get_game(net_config.game)

    def pid(self) -> int:
        """The actor's process id (to watch it, or to kill it in a fault test)."""
        return os.getpid()

    def play(
        self,
        weights: dict[str, torch.Tensor],
        config: MCTSConfig,
        n_games: int,
        seed: int,
        temperature_moves: int | None,
        start_states: State | None,
        policy_target: PolicyTarget,
        playout_cap: PlayoutCap,
        options: EvaluatorOptions = DEFAULT_EVALUATOR,
    ) -> SelfPlayRecords:
        """This share's games with ``weights``, its generator seeded with ``seed``, the
        network run as ``options`` says."""
        self.model.load_state_dict(weights)
        self.model.eval()
        return play_selfplay_games(
            self.game,
            options.evaluator(self.model, self.game),
            config,
            n_games,
            np.random.default_rng(seed),
            temperature_moves=temperature_moves,
            start_states=start_states,
            policy_target=policy_target,
            playout_cap=playout_cap,
        )


_RemoteActor = ray.remote(num_cpus=1)(_SelfPlayActor)


class RayBackend:
    """``workers`` Ray actors playing self-play games with the network's weights.

    ``address`` None starts a local Ray runtime with ``workers`` CPUs (and stops it in
    :meth:`close`); ``"auto"`` or ``"ray://host:port"`` joins a running cluster. A driver that
    is already connected to Ray (``ray.init`` called before) is used as it is and left
    connected. The actors start at the first :meth:`play` (they need the network's config).
    """

    def __init__(
        self,
        workers: int,
        address: str | None = None,
        evaluator: EvaluatorOptions = DEFAULT_EVALUATOR,
    ) -> None:
        if workers < 1:
            raise ValueError(f"the Ray backend needs at least 1 worker, got {workers}")
        self.workers = workers
        self.address = address
        self.options = evaluator  # how each actor runs the network
        # On this machine the actors' cores are free between iterations, as a pool's are; on
        # a cluster they are other machines' cores.
        self.training_threads: int | None = workers if address is None else None
        self.replaced = 0  # actors replaced after dying, over the backend's life
        self._actors: list[Any] = []
        self._pids: list[int] = []
        self._net_config: NetConfig | None = None
        self._owns_runtime = not ray.is_initialized()
        if self._owns_runtime:
            started = time.perf_counter()
            # No usage report from a training run (Ray sends one by default).
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(
                address=address,
                num_cpus=workers if address is None else None,
                include_dashboard=False,
                logging_level=logging.WARNING,
                ignore_reinit_error=True,
            )
            self.startup_s = time.perf_counter() - started
        else:
            self.startup_s = 0.0

    def __enter__(self) -> RayBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pids(self) -> list[int]:
        """The process ids of the actors, in share order (empty before the first play)."""
        return list(self._pids)

    def close(self) -> None:
        for actor in self._actors:
            ray.kill(actor)
        self._actors, self._pids = [], []
        if self._owns_runtime and ray.is_initialized():
            ray.shutdown()

    def play(
        self,
        model: PolicyValueNet,
        config: MCTSConfig,
        n_games: int,
        rng: np.random.Generator,
        temperature_moves: int | None = None,
        start_states: State | None = None,
        policy_target: PolicyTarget = "visits",
        playout_cap: PlayoutCap = NO_CAP,
    ) -> SelfPlayRecords:
        """Like :func:`train.selfplay.games.play_selfplay_games` with a network, the games
        shared out over the actors (``n_games`` split as evenly as possible, as the process
        pool splits them, with the same seeds)."""
        started = time.perf_counter()
        self._ensure_actors(model.config)
        weights = ray.put({name: t.detach().cpu() for name, t in model.state_dict().items()})
        tasks = [
            (
                weights,
                config,
                len(share),
                seed,
                temperature_moves,
                None if start_states is None else start_states[share],
                policy_target,
                playout_cap,
                self.options,
            )
            for share, seed in split_shares(n_games, self.workers, rng)
        ]
        pending = {i: self._actors[i].play.remote(*task) for i, task in enumerate(tasks)}
        parts: dict[int, SelfPlayRecords] = {}
        replays = [0] * len(tasks)
        while pending:
            ready, _ = ray.wait(list(pending.values()), num_returns=1)
            share = next(i for i, ref in pending.items() if ref == ready[0])
            del pending[share]
            try:
                parts[share] = ray.get(ready[0])
            except RayActorError as err:
                replays[share] += 1
                if replays[share] > MAX_REPLAYS:
                    raise RuntimeError(
                        f"self-play share {share} lost its actor {MAX_REPLAYS + 1} times"
                    ) from err
                self._replace(share, tasks[share][2])
                pending[share] = self._actors[share].play.remote(*tasks[share])
        ordered = [parts[i] for i in range(len(tasks))]
        return merge_records(ordered, wall_time_s=time.perf_counter() - started)

    def _ensure_actors(self, net_config: NetConfig) -> None:
        """One actor per worker, built for ``net_config`` (rebuilt if the network changes)."""
        if self._net_config != net_config:
            for actor in self._actors:
                ray.kill(actor)
            self._actors = [_RemoteActor.remote(net_config) for _ in range(self.workers)]
            self._pids = ray.get([actor.pid.remote() for actor in self._actors])
            self._net_config = net_config

    def _replace(self, share: int, n_games: int) -> None:
        """A fresh actor in the place of share ``share``'s dead one; says so in the log."""
        self.replaced += 1
        dead = self._pids[share]
        self._actors[share] = _RemoteActor.remote(self._net_config)
        self._pids[share] = ray.get(self._actors[share].pid.remote())
        tqdm.write(
            f"self-play actor {share} (pid {dead}) died mid-iteration: replaced by pid "
            f"{self._pids[share]}, its share ({n_games} games) replayed with the same seed"
        )
