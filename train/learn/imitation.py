"""Stage 1: supervised imitation of the scripted expert.

The network reads each expert position and learns two things at once: the expert's move
distribution (policy head) and the game's final outcome from the mover's view (value head),
with the loss stage 2 uses too (:mod:`train.learn.losses`). Positions are augmented by the board's
symmetries, the optimiser is AdamW with a warm-up then cosine learning-rate schedule, and
gradients are clipped.

Every epoch ends with validation (move accuracy against the expert, value error), then the
stage driver's end of a round (:mod:`train.learn.driver`): the shared evaluation (duels,
solver grading) every ``eval_every`` epochs, and a checkpoint that can resume the run exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from envs import Game
from models.net import PolicyValueNet
from train.learn.batches import PositionBatch
from train.learn.driver import (
    EpochProgress,
    RunOutputs,
    end_round,
    restore,
    round_bar,
    summary,
    training_state,
)
from train.learn.expert_data import ExpertDataset
from train.learn.losses import policy_value_loss
from train.learn.optim import make_optimizer, train_step
from train.learn.tb import RunLogger


@dataclass(frozen=True)
class ImitationConfig:
    """Optimisation settings of stage 1 (the script documents each as a flag)."""

    epochs: int = 10
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05
    grad_clip: float = 1.0
    value_weight: float = 1.0
    augment: bool = True


@dataclass(frozen=True)
class ValidationSet:
    """Held-out expert positions, not augmented, with the move the expert played at each.

    Move accuracy is measured against the move played, not the target policy's most likely
    move: the expert's distribution may spread over equally good moves.

    Attributes:
        positions: the positions and their targets.
        moves: int64[N] the expert's move at each.
    """

    positions: PositionBatch
    moves: torch.Tensor

    @property
    def size(self) -> int:
        return self.positions.size

    @classmethod
    def from_dataset(cls, game: Game, dataset: ExpertDataset) -> ValidationSet:
        return cls(
            expert_positions(game, dataset, augment=False),
            torch.from_numpy(np.asarray(dataset.move).astype(np.int64)),
        )


def expert_positions(game: Game, dataset: ExpertDataset, augment: bool) -> PositionBatch:
    """Stage 1's training data: each position with the expert's move distribution and the
    game's outcome (from the mover's view) as targets, one copy per symmetry if ``augment``."""
    outcome = dataset.outcome.astype(np.float32)
    return PositionBatch.build(game, dataset.state, dataset.policy, outcome, augment)


@torch.inference_mode()
def validate(
    model: PolicyValueNet, data: ValidationSet, device: torch.device, batch_size: int = 1024
) -> dict[str, float]:
    """Move accuracy against the expert, value error and losses on held-out positions."""
    model.eval()
    totals = {"policy": 0.0, "value": 0.0, "correct": 0.0, "abs": 0.0}
    for start in range(0, data.size, batch_size):
        index = torch.arange(start, min(start + batch_size, data.size))
        identity = torch.zeros(len(index), dtype=torch.long)
        obs, legal, policy, value = data.positions.batch(index, identity, device)
        move = data.moves[index].to(device)
        logits, predicted = model(obs, legal)
        parts = policy_value_loss(logits, predicted, policy, value)
        n = len(index)
        totals["policy"] += float(parts.policy) * n
        totals["value"] += float(parts.value) * n
        totals["correct"] += float((logits.argmax(dim=-1) == move).sum())
        totals["abs"] += float((predicted - value).abs().sum())
    n = max(1, data.size)
    return {
        "val/policy_loss": totals["policy"] / n,
        "val/value_loss": totals["value"] / n,
        "val/move_accuracy": totals["correct"] / n,
        "val/value_abs_error": totals["abs"] / n,
    }


def train_imitation(
    game: Game,
    model: PolicyValueNet,
    train_data: PositionBatch,
    val_data: ValidationSet,
    config: ImitationConfig,
    *,
    device: torch.device,
    logger: RunLogger,
    checkpoint_dir: Path,
    seed: int,
    args: dict[str, Any],
    evaluate: Callable[[PolicyValueNet], dict[str, float]] | None = None,
    eval_every: int = 1,
    resume: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Run stage 1 for ``config.epochs`` epochs (continuing from ``resume`` if given).

    Writes ``latest.pt`` after every epoch and ``best.pt`` when the validation loss improves
    (:func:`train.learn.driver.end_round`). Returns the last epoch's metrics.
    """
    steps_per_epoch = math.ceil(train_data.size / config.batch_size)
    optimizer, scheduler = make_optimizer(
        model,
        config.lr,
        config.weight_decay,
        steps_per_epoch * config.epochs,
        config.warmup_fraction,
    )
    generator = torch.Generator().manual_seed(seed)
    progress = EpochProgress()
    if resume is not None:
        progress = restore(resume, optimizer, scheduler, generator, EpochProgress)
    outputs = RunOutputs(logger, checkpoint_dir, seed, args, evaluate, eval_every, config.epochs)
    metrics: dict[str, float] = {}
    for epoch in round_bar(progress, outputs, desc="imitation"):
        model.train()
        order = torch.randperm(train_data.size, generator=generator)
        syms = train_data.random_symmetries(train_data.size, generator)
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}", leave=False)
        for step in bar:
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            obs, legal, policy, value = train_data.batch(index, syms[index], device)
            started = logger.elapsed
            parts = train_step(
                model,
                optimizer,
                scheduler,
                obs,
                legal,
                policy,
                value,
                config.value_weight,
                config.grad_clip,
            )
            progress.positions_seen += len(index)
            last = step == steps_per_epoch - 1
            if step % 20 == 0 or last:
                rate = len(index) / max(1e-9, logger.elapsed - started)
                logger.scalars(
                    {
                        **parts.as_metrics(),
                        "charts/learning_rate": scheduler.get_last_lr()[0],
                        "charts/positions_per_s": rate,
                    },
                    progress.positions_seen,
                    elapsed=not last,  # the epoch's end logs it at this step
                )
                bar.set_postfix(loss=f"{float(parts.total):.3f}")
        metrics = validate(model, val_data, device)
        val_loss = metrics["val/policy_loss"] + metrics["val/value_loss"]
        improved = val_loss < progress.best_val_loss
        progress.best_val_loss = min(val_loss, progress.best_val_loss)
        state = training_state(optimizer, scheduler, generator)
        end_round(model, metrics, progress, outputs, state, keep_as_best=improved)
        head = {
            "val acc": metrics["val/move_accuracy"],
            "val value err": metrics["val/value_abs_error"],
        }
        tqdm.write(summary(progress, metrics, head))
    return metrics
