"""Where stage 2's self-play games are played: one protocol, its backends chosen in one place.

The AlphaZero loop asks a :class:`SelfPlayBackend` for one thing per iteration: *play these
games (their number, their start positions, their move-temperature, policy-target and
playout-cap settings) with this network's weights and this search, drawing randomness from this
generator, and give me the records.* Where and how the games are played is the backend's
business:

- :class:`InProcessBackend`: in this process, one lock-step batch, the network on the run's
  device (a GPU run is this backend with ``device="cuda"``: one big batch per search step);
- :class:`train.selfplay.process_pool.ProcessPoolBackend`: shared out over CPU worker
  processes, one core each;
- :class:`train.selfplay.ray_backend.RayBackend`: shared out over Ray actors, on this
  machine or on a cluster's (another distributed backend would be one new module like it,
  plus its line in :func:`make_backend`).

The contract every backend keeps, so that a run is reproducible and resumable:

- ``rng`` (the run's generator) is the only randomness, and a backend draws from it in a
  fixed order that depends on nothing but its settings: the in-process backend plays with it
  directly; a backend that plays apart draws one seed per share of the games from it, in
  share order, before any game starts (so the run's later draws don't depend on timing);
- the records come back with the games in order (share after share, see
  :func:`train.selfplay.games.merge_records`), whatever order the shares finish in;
- a backend plays with the weights it is given at this call (the network trains between
  calls) and leaves the network as it found it.

So with the same backend and the same number of workers a run gives the same games, bit for
bit; a different backend or worker count plays different (equally valid) games.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from envs import Game, State
from models.net import PolicyValueNet
from train.search.evaluators import DEFAULT_EVALUATOR, EvaluatorOptions, NetworkEvaluator
from train.search.search import MCTSConfig
from train.search.targets import PolicyTarget
from train.selfplay.games import SelfPlayRecords, play_selfplay_games
from train.selfplay.playout_cap import NO_CAP, PlayoutCap
from train.selfplay.process_pool import ProcessPoolBackend


class SelfPlayBackend(Protocol):
    """Plays a batch of self-play games with the network's current weights."""

    #: torch CPU threads the learner may use while the backend is idle between calls (its
    #: worker processes' cores), or None to leave the thread count alone.
    training_threads: int | None

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
        """``n_games`` games of the search (``config``) with ``model`` against itself, from
        ``start_states`` (State[n_games]; None: the empty board), as
        :func:`train.selfplay.games.play_selfplay_games` plays them."""
        ...

    def close(self) -> None:
        """Release what the backend holds (processes, remote actors)."""
        ...


class InProcessBackend:
    """All games in this process, in one lock-step batch, the network on ``device``, run
    as ``evaluator`` says."""

    training_threads: int | None = None

    def __init__(
        self,
        game: Game,
        device: torch.device | str = "cpu",
        evaluator: EvaluatorOptions = DEFAULT_EVALUATOR,
    ) -> None:
        self.game = game
        self.device = torch.device(device)
        self.options = evaluator
        self._evaluator: NetworkEvaluator | None = None

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
        # One evaluator per network: it keeps a folded inference copy, rebuilt only when the
        # weights have changed since the last call.
        if self._evaluator is None or self._evaluator.model is not model:
            self._evaluator = self.options.evaluator(model, self.game, self.device)
        return play_selfplay_games(
            self.game,
            self._evaluator,
            config,
            n_games,
            rng,
            temperature_moves=temperature_moves,
            start_states=start_states,
            policy_target=policy_target,
            playout_cap=playout_cap,
        )

    def close(self) -> None:
        self._evaluator = None


#: The backends a run can ask for by name (``--backend``).
BACKENDS = ("local", "processes", "ray")


def make_backend(
    game: Game,
    workers: int,
    device: torch.device | str,
    backend: str | None = None,
    ray_address: str | None = None,
    evaluator: EvaluatorOptions = DEFAULT_EVALUATOR,
) -> SelfPlayBackend:
    """The backend for a run: ``"local"`` (this process, on ``device``), ``"processes"`` (a
    pool of ``workers`` CPU processes) or ``"ray"`` (``workers`` Ray actors, on this machine
    or, with ``ray_address``, a cluster's). ``None``: processes when ``workers > 1``, else
    this process. Every player runs the network as ``evaluator`` says."""
    if backend is None:
        backend = "processes" if workers > 1 else "local"
    if backend == "ray":
        # Imported here: Ray is an optional extra (pip install -e ".[ray]").
        from train.selfplay.ray_backend import RayBackend

        return RayBackend(workers, address=ray_address, evaluator=evaluator)
    if backend == "processes":
        return ProcessPoolBackend(workers, evaluator=evaluator)
    if backend == "local":
        return InProcessBackend(game, device, evaluator=evaluator)
    raise ValueError(f"unknown self-play backend {backend!r}; one of {', '.join(BACKENDS)}")
