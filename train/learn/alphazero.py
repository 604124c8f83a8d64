"""Stage 2: the self-play loop (AlphaZero's, on one machine, in lock-step batches).

One iteration: the current network, inside the batched search, plays a batch of games
against itself; their positions go into a bounded replay buffer labelled with the search's
visit distribution and the final outcome; the network then takes SGD steps on samples from
the buffer with stage 1's loss; every ``eval_every`` iterations the shared evaluation runs;
every iteration ends with a checkpoint that resumes the run exactly, replay buffer included.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from envs import Game
from models.checkpoint import save_checkpoint
from models.net import PolicyValueNet
from train.arena.positions import random_positions
from train.learn.imitation import PositionTensors
from train.learn.optim import anneal, make_optimizer, train_step
from train.learn.tb import RunLogger
from train.search.evaluators import NetworkEvaluator
from train.search.search import MCTSConfig
from train.search.targets import PolicyTarget
from train.selfplay.games import SelfPlayRecords, SelfPlayStats, play_selfplay_games
from train.selfplay.process_pool import SelfPlayWorkers
from train.selfplay.replay_buffer import ReplayBuffer


@dataclass(frozen=True)
class SelfPlayConfig:
    """Settings of the AlphaZero loop (the script documents each as a flag)."""

    iterations: int = 20
    games_per_iteration: int = 64
    simulations: int = 64
    temperature_moves: int | None = None  # None: the search module's default per game
    random_opening: int = 0  # each game starts after 0..N uniformly random plies
    buffer_size: int = 60_000
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
    workers: int = 1  # processes playing the self-play games (CPU; see selfplay_workers)

    @classmethod
    def for_game(cls, game: str, **overrides: Any) -> SelfPlayConfig:
        """The defaults of ``game`` (:data:`GAME_DEFAULTS`) with ``overrides`` on top."""
        return cls(**{**GAME_DEFAULTS[game], **overrides})


#: Defaults per game (``SelfPlayConfig.for_game``; the script's flags override each), measured
#: on the 2-core machine (README, "Stage 2"). Tic-tac-toe: the network alone must play all
#: 4,520 positions perfectly, including those only a bad opponent reaches, so games start
#: after 0-8 random plies and every move is sampled; 1,024 games an iteration because a
#: fork seen a handful of times is not learnt. Connect Four: 10 sampled moves, as in
#: AlphaZero's scaled-down opening, batches of 128 games, 25 iterations (about 16 minutes
#: on 2 cores); each distinct position trained on once and the value target half outcome,
#: half search value, which each raised the network-alone score against stage 1 in paired
#: runs (README, "Stage 2 on Connect Four").
GAME_DEFAULTS: dict[str, dict[str, int | float | str]] = {
    "tictactoe": {
        "iterations": 20,
        "games_per_iteration": 1024,
        "temperature_moves": 9,
        "random_opening": 8,
        "sample_reuse": 8.0,
        "merge_duplicates": True,
        "value_target_q": 0.0,
        "policy_target": "visits",
    },
    "connect4": {
        "iterations": 25,
        "games_per_iteration": 128,
        "temperature_moves": 10,
        "random_opening": 0,
        "sample_reuse": 8.0,
        "merge_duplicates": True,
        "value_target_q": 0.5,
        "policy_target": "visits",
    },
}


@dataclass
class LoopProgress:
    """Where a run stands; saved in every checkpoint so ``--resume`` continues exactly."""

    iteration: int = 0
    positions_seen: int = 0  # training samples consumed, continuing from stage 1
    selfplay_positions: int = 0
    elapsed: float = 0.0


def selfplay_metrics(stats: SelfPlayStats) -> dict[str, float]:
    """The ``selfplay/*`` and throughput tags of one iteration's games."""
    return {
        "selfplay/game_length": float(stats.game_lengths.mean()),
        "selfplay/first_player_win_rate": stats.first_player_win_rate,
        "selfplay/draw_rate": stats.draw_rate,
        "selfplay/policy_entropy/search": stats.search_entropy,
        "selfplay/policy_entropy/network": stats.prior_entropy,
        "charts/sims_per_s": stats.simulations / max(stats.wall_time_s, 1e-9),
        "charts/selfplay_positions_per_s": stats.positions_per_s,
    }


def value_targets(records: SelfPlayRecords, config: SelfPlayConfig) -> np.ndarray:
    """float32[P]: what the value head learns for each position: the game's outcome ``z``,
    mixed with weight ``config.value_target_q`` with the search's root value ``q``.

    ``z`` is unbiased but noisy: one sampled move late in a game flips it for every earlier
    position. ``q`` is the search's value of the position itself, smoother but only as right
    as the network behind the search; the mix trades the one's noise for the other's bias.
    """
    w = config.value_target_q
    return ((1.0 - w) * records.outcomes + w * records.root_values).astype(np.float32)


def train_on_buffer(
    game: Game,
    model: PolicyValueNet,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    buffer: ReplayBuffer,
    steps: int,
    config: SelfPlayConfig,
    rng: np.random.Generator,
    device: torch.device,
) -> dict[str, float]:
    """``steps`` SGD steps on uniform samples of the buffer, each seen through a random symmetry.

    Returns the mean losses under stage 1's tags.
    """
    totals = np.zeros(3)
    merged = buffer.merged() if config.merge_duplicates else None
    for _ in range(steps):
        if merged is None:
            state, policy, value = buffer.sample(config.batch_size, rng)
        else:
            pick = rng.integers(0, len(merged[2]), config.batch_size)
            state, policy, value = merged[0][pick], merged[1][pick], merged[2][pick]
        moves = policy.argmax(axis=-1)
        data = PositionTensors.build(game, state, policy, moves, value, config.augment)
        sym = torch.from_numpy(rng.integers(0, data.obs.shape[0], config.batch_size))
        index = torch.arange(config.batch_size)
        obs, legal, target, _, target_value = data.batch(index, sym, device)
        parts = train_step(
            model,
            optimizer,
            scheduler,
            obs,
            legal,
            target,
            target_value,
            config.value_weight,
            config.grad_clip,
        )
        totals += [float(parts.total), float(parts.policy), float(parts.value)]
    mean = totals / max(1, steps)
    return {"losses/total": mean[0], "losses/policy": mean[1], "losses/value": mean[2]}


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
    buffer = ReplayBuffer(config.buffer_size, game.num_actions)
    progress = LoopProgress(positions_seen=start_positions)
    if resume is not None:
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        buffer.load_state_dict(resume["buffer"])
        rng.bit_generator.state = resume["numpy_rng"]
        progress = LoopProgress(**resume["progress"])
    search_config = MCTSConfig(simulations=config.simulations)
    evaluator = NetworkEvaluator(model, game, device=device)
    outputs = RunOutputs(
        logger, checkpoint_dir, seed, args, evaluate, eval_every, config.iterations, snapshot_every
    )
    workers = SelfPlayWorkers(config.workers) if config.workers > 1 else None
    try:
        metrics: dict[str, float] = {}
        bar = tqdm(
            range(progress.iteration, config.iterations),
            desc="self-play",
            initial=progress.iteration,
            total=config.iterations,
        )
        for iteration in bar:
            model.eval()
            records = _play_games(game, model, evaluator, workers, search_config, config, rng)
            buffer.add(records.states, records.policies, value_targets(records, config))
            progress.selfplay_positions += len(records)
            steps = math.ceil(len(records) * config.sample_reuse / config.batch_size)
            if config.lr_decay:
                anneal(scheduler, config.lr, iteration / max(1, config.iterations - 1))
            started = time.perf_counter()
            # The workers sit idle while the network trains, so training may use their cores.
            with torch_threads(config.workers if workers is not None else None):
                metrics = train_on_buffer(
                    game, model, optimizer, scheduler, buffer, steps, config, rng, device
                )
            train_seconds = time.perf_counter() - started
            progress.positions_seen += steps * config.batch_size
            metrics.update(selfplay_metrics(records.stats))
            metrics["charts/learning_rate"] = scheduler.get_last_lr()[0]
            metrics["charts/positions_per_s"] = steps * config.batch_size / max(train_seconds, 1e-9)
            metrics["selfplay/buffer_size"] = float(len(buffer))
            state = loop_state(optimizer, scheduler, rng, buffer=buffer.state_dict())
            end_iteration(model, metrics, progress, outputs, state)
            bar.set_postfix(
                loss=f"{metrics['losses/total']:.3f}",
                length=f"{metrics['selfplay/game_length']:.1f}",
            )
            if "eval/vs_expert/score" in metrics:
                tqdm.write(_summary(progress, metrics))
        return metrics
    finally:
        if workers is not None:
            workers.close()


def _play_games(
    game: Game,
    model: PolicyValueNet,
    evaluator: NetworkEvaluator,
    workers: SelfPlayWorkers | None,
    search_config: MCTSConfig,
    config: SelfPlayConfig,
    rng: np.random.Generator,
) -> SelfPlayRecords:
    """One iteration's self-play games, in this process or shared out over ``workers``."""
    starts = None
    if config.random_opening > 0:
        starts = random_positions(game, config.games_per_iteration, config.random_opening, rng)
    options = {
        "temperature_moves": config.temperature_moves,
        "start_states": starts,
        "policy_target": config.policy_target,
    }
    n = config.games_per_iteration
    if workers is not None:
        return workers.play(model, search_config, n, rng, **options)
    return play_selfplay_games(game, evaluator, search_config, n, rng, **options)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads (None: leave them), then restore."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class RunOutputs:
    """Where a stage-2 run reports and how often it evaluates: fixed for the whole run."""

    logger: RunLogger
    checkpoint_dir: Path
    seed: int
    args: dict[str, Any]
    evaluate: Callable[[PolicyValueNet], dict[str, float]] | None
    eval_every: int
    iterations: int
    snapshot_every: int = 0


def end_iteration(
    model: PolicyValueNet,
    metrics: dict[str, float],
    progress: LoopProgress,
    outputs: RunOutputs,
    training_state: dict[str, Any],
) -> None:
    """What ends every stage-2 iteration, whatever the algorithm: evaluate (every
    ``eval_every`` iterations and after the last), log, count the iteration done, write
    ``latest.pt`` with the loop's own state and, every ``snapshot_every`` iterations, keep
    the network alone as ``iteration_NNNN.pt``."""
    done = progress.iteration + 1
    due = done % outputs.eval_every == 0 or done == outputs.iterations
    if outputs.evaluate is not None and due:
        metrics.update(outputs.evaluate(model))
    outputs.logger.scalars(metrics, progress.positions_seen)
    progress.iteration = done
    progress.elapsed = outputs.logger.elapsed
    description = {
        "stage": "selfplay",
        "step": progress.positions_seen,
        "args": outputs.args,
        "metrics": {**metrics, "iteration": progress.iteration, "elapsed_s": progress.elapsed},
        "seed": outputs.seed,
    }
    if outputs.snapshot_every > 0 and done % outputs.snapshot_every == 0:
        save_checkpoint(outputs.checkpoint_dir / f"iteration_{done:04d}.pt", model, **description)
    save_checkpoint(
        outputs.checkpoint_dir / "latest.pt",
        model,
        **description,
        training_state={**training_state, "progress": asdict(progress)},
    )


def loop_state(
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    rng: np.random.Generator,
    **extra: Any,
) -> dict[str, Any]:
    """The state a stage-2 loop needs to resume exactly, besides the network and progress."""
    return {
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "numpy_rng": rng.bit_generator.state,
        **extra,
    }


def _summary(progress: LoopProgress, metrics: dict[str, float]) -> str:
    parts = [f"iteration {progress.iteration}", f"positions {progress.positions_seen:,}"]
    for tag in sorted(metrics):
        if tag.startswith("eval/") and tag.endswith(("/score", "optimal_move_rate")):
            parts.append(f"{tag.removeprefix('eval/')} {metrics[tag]:.3f}")
    parts.append(f"{progress.elapsed:.0f}s")
    return " | ".join(parts)
