"""Stage 2, the AlphaGo (2016) way: policy-gradient self-play against a pool of past selves.

Silver et al. (2016), "Mastering the game of Go with deep neural networks and tree search",
section "Reinforcement learning of policy networks": the network that imitated the expert
plays games, with no search, against an opponent drawn at random from a pool of its own
earlier versions (a pool rather than the latest version, so that it cannot overfit to one
opponent's habits); every ``pool_every`` iterations the current network joins the pool.
Each of the learner's moves is then reinforced by REINFORCE (Williams, 1992) with a baseline::

    advantage = z - v(s)          z: the game's outcome for the learner, v: its value head
    loss      = -(advantage * log pi(a | s)).mean()  +  value_weight * (z - v(s))^2

The baseline is the learner's own value before the update (as the paper's baseline was its
value network), which leaves the gradient unbiased and lowers its variance.

The loss is the one every stage trains with (:mod:`train.learn.losses`): with the target policy
``advantage * onehot(a)`` its cross-entropy term is exactly the REINFORCE term above. So
``losses/policy`` here is a surrogate whose sign and size say nothing on their own (it can be
negative); the curves to watch are ``reinforce/win_rate_vs_pool`` and the ``eval/*`` tags.

One iteration: ``games_per_iteration`` games against one opponent from the pool (the learner
moving first in half of them), one pass of SGD over the learner's positions
(:func:`train.learn.updates.train_one_pass`), then the stage driver's end of an iteration
(:mod:`train.learn.driver`): optional evaluation, and a checkpoint that resumes the run
exactly, opponent pool included.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from envs import Game
from models.net import PolicyValueNet
from train.learn.driver import (
    IterationProgress,
    RunOutputs,
    end_round,
    restore,
    round_bar,
    summary,
    training_state,
)
from train.learn.optim import make_optimizer
from train.learn.tb import RunLogger
from train.learn.updates import train_one_pass
from train.search.evaluators import NetworkEvaluator
from train.selfplay.pool_games import play_against_pool


@dataclass(frozen=True)
class ReinforceConfig:
    """Settings of the policy-gradient loop (the script documents each as a flag).

    The learning rate is five times below AlphaZero's 1e-3: a REINFORCE gradient rests on one
    sampled move and one game result per position, far noisier than a cross-entropy towards a
    search's visit distribution, and the data come from the policy itself, so a bad step
    changes the games that would have to correct it. Measured on tic-tac-toe (tiny net, 100
    iterations of 256 games, starting from a net that imitated the perfect player: optimal-move
    rate 0.983): 2e-4 ends at 0.941, 1e-3 at 0.865. From a random net 1e-3 learns faster (score
    against the random player 0.42 -> 0.70 against 0.63 for 2e-4) and 3e-3 stalls (0.69), but
    stage 2 normally starts from stage 1, whose knowledge is what a large step destroys.
    """

    iterations: int = 200
    games_per_iteration: int = 256
    temperature: float = 1.0  # 1: moves drawn from the policy, as the gradient assumes
    pool_every: int = 5  # add the current network to the opponent pool every k iterations
    pool_size: int = 10  # snapshots kept besides the initial network (oldest dropped)
    batch_size: int = 256
    lr: float = 2e-4
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    value_weight: float = 1.0
    augment: bool = True


def run_reinforce(
    game: Game,
    model: PolicyValueNet,
    config: ReinforceConfig,
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
    """Run the policy-gradient loop for ``config.iterations`` iterations; returns the last
    metrics. Same contract as :func:`train.learn.alphazero.run_selfplay` (checkpoints,
    resume, tags: both end their iterations with :func:`train.learn.driver.end_round`).

    The pool is stored as a list of CPU state dicts: ``pool[0]`` is the network the run
    started from, followed by at most ``pool_size`` later snapshots.
    """
    rng = np.random.default_rng(seed)
    optimizer, scheduler = make_optimizer(model, config.lr, config.weight_decay)
    progress = IterationProgress(positions_seen=start_positions)
    pool = [_snapshot(model)]
    if resume is not None:
        progress = restore(resume, optimizer, scheduler, rng, IterationProgress)
        pool = list(resume["pool"])
    learner = NetworkEvaluator(model, game, device=device)
    outputs = RunOutputs(
        logger, checkpoint_dir, seed, args, evaluate, eval_every, config.iterations, snapshot_every
    )
    metrics: dict[str, float] = {}
    bar = round_bar(progress, outputs, desc="reinforce")
    for iteration in bar:
        model.eval()
        opponent = PolicyValueNet(model.config)
        opponent.load_state_dict(pool[int(rng.integers(len(pool)))])
        opponent.to(device).eval()
        states, actions, outcomes, stats = play_against_pool(
            game,
            learner,
            NetworkEvaluator(opponent, game, device=device),
            config.games_per_iteration,
            rng,
            config.temperature,
        )
        progress.selfplay_positions += len(actions)
        started = time.perf_counter()
        metrics = train_one_pass(
            game, model, optimizer, scheduler, states, actions, outcomes, config, rng, device
        )
        train_seconds = time.perf_counter() - started
        progress.positions_seen += len(actions)
        metrics.update(stats.as_metrics())
        metrics["charts/learning_rate"] = scheduler.get_last_lr()[0]
        metrics["charts/positions_per_s"] = len(actions) / max(train_seconds, 1e-9)
        if (iteration + 1) % config.pool_every == 0:
            # pool[0], the starting network, stays; the oldest later snapshot makes room.
            pool.append(_snapshot(model))
            del pool[1 : max(1, len(pool) - config.pool_size)]
        metrics["reinforce/pool_size"] = float(len(pool))
        state = training_state(optimizer, scheduler, rng, pool=pool)
        evaluated = end_round(model, metrics, progress, outputs, state)
        bar.set_postfix(
            win=f"{metrics['reinforce/win_rate_vs_pool']:.2f}",
            length=f"{metrics['selfplay/game_length']:.1f}",
        )
        if evaluated:
            tqdm.write(
                summary(progress, metrics, {"vs pool": metrics["reinforce/win_rate_vs_pool"]})
            )
    return metrics


def _snapshot(model: PolicyValueNet) -> dict[str, torch.Tensor]:
    """A CPU copy of the network's weights (a plain dict, so checkpoints store it as data)."""
    return {name: t.detach().cpu().clone() for name, t in model.state_dict().items()}
