"""Stage 2: the AlphaZero loop (on one machine, in lock-step batches).

One iteration, in three places: the current network, inside the batched search, plays a
batch of games against itself (:mod:`train.selfplay.games`, played where the run's
:class:`train.selfplay.backend.SelfPlayBackend` plays them); their positions go into a
bounded replay buffer labelled with the search's policy and the final outcome (optionally
only the newest positions of a window that grows with the run,
:func:`train.selfplay.replay_buffer.replay_window`); the network
then takes SGD steps on samples from the buffer with stage 1's loss
(:func:`train.learn.updates.train_on_buffer`). The end of the iteration
(evaluation every ``eval_every`` iterations, logging, a checkpoint that resumes the run
exactly, replay buffer included) is the stage driver's (:mod:`train.learn.driver`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from envs import Game, get_profile
from models.net import PolicyValueNet
from train.arena.positions import random_positions
from train.learn.driver import (
    IterationProgress,
    RunOutputs,
    end_round,
    restore,
    round_bar,
    summary,
    torch_threads,
    training_state,
)
from train.learn.optim import anneal, make_optimizer
from train.learn.tb import RunLogger
from train.learn.updates import train_on_buffer, value_targets
from train.search.evaluators import EvaluatorOptions
from train.search.search import MCTSConfig
from train.search.targets import PolicyTarget
from train.selfplay.backend import SelfPlayBackend, make_backend
from train.selfplay.games import SelfPlayRecords, SelfPlayStats
from train.selfplay.playout_cap import PlayoutCap
from train.selfplay.replay_buffer import ReplayBuffer, replay_window


@dataclass(frozen=True)
class SelfPlayConfig:
    """Settings of the AlphaZero loop (the script documents each as a flag)."""

    iterations: int = 20
    games_per_iteration: int = 64
    simulations: int = 64
    search: MCTSConfig = MCTSConfig()  # the other search settings (its simulations: above)
    temperature_moves: int | None = None  # None: the search module's default per game
    random_opening: int = 0  # each game starts after 0..N uniformly random plies
    # Playout cap randomisation (train/selfplay/playout_cap.py): the share of moves searched
    # with ``simulations`` and kept as policy targets; the others get ``cheap_simulations``.
    full_search_fraction: float = 1.0  # 1: every move in full (no cap)
    cheap_simulations: int = 16
    buffer_size: int = 60_000
    replay_window_start: int = 0  # >0: a replay window growing from this many positions
    sample_reuse: float = 4.0  # SGD samples drawn per new position
    batch_size: int = 256
    lr: float = 1e-3
    lr_decay: bool = True  # cosine decay to 10% of ``lr`` over the iterations
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    value_weight: float = 1.0
    value_target_q: float = 0.0  # value target = (1 - w) * outcome + w * search root value
    policy_target: PolicyTarget = "visits"  # or "completed-q" (train/search/targets.py)
    augment: bool = True
    merge_duplicates: bool = False  # train on each distinct position once (ReplayBuffer.merged)
    workers: int = 1  # processes playing the self-play games (CPU; see train/selfplay/backend.py)
    backend: str | None = None  # local, processes or ray (None: processes when workers > 1)
    ray_address: str | None = None  # the Ray cluster to join (None: a local Ray runtime)
    # >0: the run ends after the iteration that spends this many seconds of stage 2 (its
    # earlier, interrupted processes included), ``iterations`` then only a cap; the learning
    # rate decays over the budget instead of the iterations. For comparing recipes at the
    # same wall-clock cost; such a run's length depends on the machine's speed.
    time_budget_s: float = 0.0
    runtime: str = "torch"  # what runs the network in self-play: torch or onnxruntime
    eval_cache: int = 0  # positions each self-play evaluator remembers (0: none)

    @classmethod
    def for_game(cls, game: str, **overrides: Any) -> SelfPlayConfig:
        """The defaults of ``game`` (its profile's ``selfplay_defaults``, measured on the
        2-core machine: README, "Stage 2") with ``overrides`` on top."""
        return cls(**{**get_profile(game).selfplay_defaults, **overrides})

    @property
    def playout_cap(self) -> PlayoutCap:
        return PlayoutCap(self.full_search_fraction, self.cheap_simulations)


def selfplay_metrics(stats: SelfPlayStats) -> dict[str, float]:
    """The ``selfplay/*`` and throughput tags of one iteration's games."""
    return {
        "selfplay/game_length": float(stats.game_lengths.mean()),
        "selfplay/first_player_win_rate": stats.first_player_win_rate,
        "selfplay/draw_rate": stats.draw_rate,
        "selfplay/policy_entropy/search": stats.search_entropy,
        "selfplay/policy_entropy/network": stats.prior_entropy,
        "selfplay/full_search_fraction": stats.full_search_fraction,
        "charts/sims_per_s": stats.simulations / max(stats.wall_time_s, 1e-9),
        "charts/selfplay_positions_per_s": stats.positions_per_s,
    }


def run_selfplay(
    game: Game,
    model: PolicyValueNet,
    config: SelfPlayConfig,
    *,
    device: torch.device,
    logger: RunLogger,
    checkpoint_dir: Path,
    seed: int,
    args: dict[str, Any],
    start_positions: int = 0,
    evaluate: Callable[[PolicyValueNet], dict[str, float]] | None = None,
    eval_every: int = 1,
    snapshot_every: int = 0,
    resume: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Run the AlphaZero loop for ``config.iterations`` iterations; returns the last metrics.

    ``start_positions`` is the positions-seen count the run continues from (stage 1's, when
    starting from its checkpoint), so both stages draw one continuous curve. Every
    ``snapshot_every`` iterations (0: never) the network is also kept as
    ``iteration_NNNN.pt``, without training state, for later evaluation or play.
    """
    rng = np.random.default_rng(seed)
    optimizer, scheduler = make_optimizer(model, config.lr, config.weight_decay)
    buffer = ReplayBuffer(config.buffer_size, game)
    progress = IterationProgress(positions_seen=start_positions)
    if resume is not None:
        buffer.load_state_dict(resume["buffer"])
        progress = restore(resume, optimizer, scheduler, rng, IterationProgress)
    search_config = replace(config.search, simulations=config.simulations)
    outputs = RunOutputs(
        logger, checkpoint_dir, seed, args, evaluate, eval_every, config.iterations, snapshot_every
    )
    options = EvaluatorOptions(runtime=config.runtime, cache_size=config.eval_cache)
    backend = make_backend(
        game, config.workers, device, config.backend, config.ray_address, evaluator=options
    )
    try:
        metrics: dict[str, float] = {}
        if resume is not None and _budget_spent(config, logger):
            return metrics  # a resumed run whose budget was already spent: it stays ended
        bar = round_bar(progress, outputs, desc="self-play")
        for iteration in bar:
            # The budget is read once a round, after training, so the round it runs out in
            # is the one evaluated and announced as the last (the time its checkpoint takes
            # to write must not end the run between rounds, unevaluated).
            model.eval()
            records = _play_games(game, model, backend, search_config, config, rng)
            values = value_targets(records, config)
            buffer.add(records.states, records.policies, values, records.has_policy)
            progress.selfplay_positions += len(records)
            if config.replay_window_start > 0:  # else the buffer's capacity is the window
                played, start = progress.selfplay_positions, config.replay_window_start
                buffer.keep_newest(replay_window(played, start, config.buffer_size))
            steps = math.ceil(len(records) * config.sample_reuse / config.batch_size)
            if config.lr_decay:
                anneal(scheduler, config.lr, _run_fraction(iteration, config, logger))
            started = time.perf_counter()
            with torch_threads(backend.training_threads):
                metrics = train_on_buffer(
                    game, model, optimizer, scheduler, buffer, steps, config, rng, device
                )
            train_seconds = time.perf_counter() - started
            progress.positions_seen += steps * config.batch_size
            metrics.update(selfplay_metrics(records.stats))
            metrics["charts/learning_rate"] = scheduler.get_last_lr()[0]
            metrics["charts/positions_per_s"] = steps * config.batch_size / max(train_seconds, 1e-9)
            metrics["selfplay/buffer_size"] = float(len(buffer))
            state = training_state(optimizer, scheduler, rng, buffer=buffer.state_dict())
            last = _budget_spent(config, logger)
            evaluated = end_round(model, metrics, progress, outputs, state, last=last)
            bar.set_postfix(
                loss=f"{metrics['losses/total']:.3f}",
                length=f"{metrics['selfplay/game_length']:.1f}",
            )
            if evaluated:
                tqdm.write(summary(progress, metrics, {}))
            if last:
                tqdm.write(f"time budget of {config.time_budget_s:.0f}s spent: run ended")
                break
        return metrics
    finally:
        backend.close()


def _budget_spent(config: SelfPlayConfig, logger: RunLogger) -> bool:
    return config.time_budget_s > 0 and logger.stage_elapsed >= config.time_budget_s


def _run_fraction(iteration: int, config: SelfPlayConfig, logger: RunLogger) -> float:
    """How far through its run the loop is, in [0, 1], for the learning-rate schedule: by
    iterations, or by the time budget when there is one."""
    if config.time_budget_s > 0:
        return min(1.0, logger.stage_elapsed / config.time_budget_s)
    return iteration / max(1, config.iterations - 1)


def _play_games(
    game: Game,
    model: PolicyValueNet,
    backend: SelfPlayBackend,
    search_config: MCTSConfig,
    config: SelfPlayConfig,
    rng: np.random.Generator,
) -> SelfPlayRecords:
    """One iteration's self-play games: from random openings if the config asks for them."""
    starts = None
    if config.random_opening > 0:
        starts = random_positions(game, config.games_per_iteration, config.random_opening, rng)
    return backend.play(
        model,
        search_config,
        config.games_per_iteration,
        rng,
        temperature_moves=config.temperature_moves,
        start_states=starts,
        policy_target=config.policy_target,
        playout_cap=config.playout_cap,
    )
