"""Stage 1: supervised imitation of the scripted expert.

The network reads each expert position and learns two things at once: the expert's move
distribution (policy head) and the game's final outcome from the mover's view (value head),
with the loss stage 2 uses too (:mod:`train.learn.losses`). Positions are augmented by the board's
symmetries, the optimiser is AdamW with a warm-up then cosine learning-rate schedule, and
gradients are clipped.

Every epoch ends with validation (move accuracy against the expert, value error), the shared
evaluation (duels, solver grading) every ``eval_every`` epochs, and a checkpoint that can
resume the run exactly.
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

from envs import Game, State
from models.checkpoint import save_checkpoint
from models.net import PolicyValueNet
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


@dataclass
class PositionTensors:
    """Training positions as tensors, with every symmetric copy precomputed.

    Attributes:
        obs: float32[S, N, planes, rows, cols], one copy per symmetry (S = 1 without
            augmentation), so augmenting a batch is a gather, not a transform.
        legal: bool[S, N, A].
        policy: float32[S, N, A] target move distributions.
        move: int64[S, N] the expert's move (for accuracy).
        value: float32[N] the outcome from the mover's view.
    """

    obs: torch.Tensor
    legal: torch.Tensor
    policy: torch.Tensor
    move: torch.Tensor
    value: torch.Tensor

    @property
    def size(self) -> int:
        return int(self.value.shape[0])

    @classmethod
    def build(
        cls,
        game: Game,
        state: State,
        policy: np.ndarray,
        move: np.ndarray,
        outcome: np.ndarray,
        augment: bool,
    ) -> PositionTensors:
        """From positions ``state[N]``, target policies ``[N, A]``, moves and outcomes ``[N]``."""
        obs, legal = game.observation(state), game.legal_mask(state)
        symmetries = game.symmetries if augment else game.symmetries[:1]
        onehot = np.eye(game.num_actions, dtype=np.float32)[move]
        copies = [
            (
                game.transform_obs(obs, sym),
                game.transform_policy(legal, sym),
                game.transform_policy(policy.astype(np.float32), sym),
                game.transform_policy(onehot, sym).argmax(axis=-1),
            )
            for sym in symmetries
        ]
        return cls(
            obs=torch.from_numpy(np.stack([c[0] for c in copies])),
            legal=torch.from_numpy(np.stack([c[1] for c in copies])),
            policy=torch.from_numpy(np.stack([c[2] for c in copies])),
            move=torch.from_numpy(np.stack([c[3] for c in copies]).astype(np.int64)),
            value=torch.from_numpy(outcome.astype(np.float32)),
        )

    def batch(self, index: torch.Tensor, sym: torch.Tensor, device: torch.device) -> tuple:
        """(obs, legal, policy, move, value) of positions ``index`` seen through ``sym``."""
        return tuple(
            t.to(device)
            for t in (
                self.obs[sym, index],
                self.legal[sym, index],
                self.policy[sym, index],
                self.move[sym, index],
                self.value[index],
            )
        )


@torch.inference_mode()
def validate(
    model: PolicyValueNet, data: PositionTensors, device: torch.device, batch_size: int = 1024
) -> dict[str, float]:
    """Move accuracy against the expert, value error and losses on held-out positions."""
    model.eval()
    totals = {"policy": 0.0, "value": 0.0, "correct": 0.0, "abs": 0.0}
    for start in range(0, data.size, batch_size):
        index = torch.arange(start, min(start + batch_size, data.size))
        identity = torch.zeros(len(index), dtype=torch.long)
        obs, legal, policy, move, value = data.batch(index, identity, device)
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


@dataclass
class Progress:
    """Where a run stands; saved in every checkpoint so ``--resume`` continues exactly."""

    epoch: int = 0
    positions_seen: int = 0
    best_val_loss: float = float("inf")
    elapsed: float = 0.0


def train_imitation(
    game: Game,
    model: PolicyValueNet,
    train_data: PositionTensors,
    val_data: PositionTensors,
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

    Writes ``latest.pt`` after every epoch and ``best.pt`` when the validation loss improves.
    Returns the last epoch's metrics.
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
    progress = Progress()
    if resume is not None:
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        generator.set_state(resume["torch_generator"])
        progress = Progress(**resume["progress"])
    num_syms = train_data.obs.shape[0]
    metrics: dict[str, float] = {}
    for epoch in range(progress.epoch, config.epochs):
        model.train()
        order = torch.randperm(train_data.size, generator=generator)
        syms = torch.randint(num_syms, (train_data.size,), generator=generator)
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs}", leave=False)
        for step in bar:
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            obs, legal, policy, _, value = train_data.batch(index, syms[index], device)
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
            if step % 20 == 0 or step == steps_per_epoch - 1:
                rate = len(index) / max(1e-9, logger.elapsed - started)
                logger.scalars(
                    {
                        **parts.as_metrics(),
                        "charts/learning_rate": scheduler.get_last_lr()[0],
                        "charts/positions_per_s": rate,
                    },
                    progress.positions_seen,
                )
                bar.set_postfix(loss=f"{float(parts.total):.3f}")
        metrics = validate(model, val_data, device)
        if evaluate is not None and ((epoch + 1) % eval_every == 0 or epoch + 1 == config.epochs):
            metrics.update(evaluate(model))
        logger.scalars(metrics, progress.positions_seen)
        progress.epoch = epoch + 1
        progress.elapsed = logger.elapsed
        val_loss = metrics["val/policy_loss"] + metrics["val/value_loss"]
        improved = val_loss < progress.best_val_loss
        progress.best_val_loss = min(val_loss, progress.best_val_loss)
        state = {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_generator": generator.get_state(),
            "progress": vars(progress).copy(),
        }
        for name in ("latest.pt", "best.pt") if improved else ("latest.pt",):
            save_checkpoint(
                checkpoint_dir / name,
                model,
                stage="imitation",
                step=progress.positions_seen,
                args=args,
                metrics={**metrics, "epoch": progress.epoch, "elapsed_s": progress.elapsed},
                seed=seed,
                training_state=state,
            )
        print(_summary(progress, metrics))
    return metrics


def _summary(progress: Progress, metrics: dict[str, float]) -> str:
    parts = [
        f"epoch {progress.epoch}",
        f"positions {progress.positions_seen:,}",
        f"val acc {metrics['val/move_accuracy']:.3f}",
        f"val value err {metrics['val/value_abs_error']:.3f}",
    ]
    for tag in ("eval/vs_random/score", "eval/vs_expert/score", "eval/solver/optimal_move_rate"):
        if tag in metrics:
            parts.append(f"{tag.split('/')[1]} {metrics[tag]:.3f}")
    parts.append(f"{progress.elapsed:.0f}s")
    return " | ".join(parts)
