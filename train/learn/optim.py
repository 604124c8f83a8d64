"""Optimisation shared by both stages: AdamW, the learning-rate schedule, one SGD step."""

from __future__ import annotations

import math

import torch

from models.net import PolicyValueNet
from train.learn.losses import LossParts, policy_value_loss


def lr_schedule(step: int, total: int, warmup_fraction: float) -> float:
    """Multiplier of the base learning rate: linear warm-up, then cosine decay to 10%.

    With ``total <= 0`` the rate stays constant after the warm-up (stage 2, whose length
    is open-ended).
    """
    warmup = max(1, int(max(total, 0) * warmup_fraction))
    if step < warmup:
        return (step + 1) / warmup
    if total <= 0:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(
    model: PolicyValueNet,
    lr: float,
    weight_decay: float,
    total_steps: int = 0,
    warmup_fraction: float = 0.05,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW and its schedule (see :func:`lr_schedule`)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_schedule(step, total_steps, warmup_fraction)
    )
    return optimizer, scheduler


def anneal(scheduler: torch.optim.lr_scheduler.LambdaLR, base_lr: float, done: float) -> None:
    """Set the rate of a run whose length is counted in iterations, not steps (stage 2):
    ``base_lr`` times the cosine multiplier of :func:`lr_schedule` at fraction ``done``.

    The scheduler keeps its base rates in its state dict, so a resumed run carries on.
    """
    factor = lr_schedule(round(done * 1_000_000), 1_000_000, warmup_fraction=0.0)
    scheduler.base_lrs = [base_lr * factor for _ in scheduler.base_lrs]
    for group, rate in zip(scheduler.optimizer.param_groups, scheduler.base_lrs, strict=True):
        group["lr"] = rate


def train_step(
    model: PolicyValueNet,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    obs: torch.Tensor,
    legal: torch.Tensor,
    target_policy: torch.Tensor,
    target_value: torch.Tensor,
    value_weight: float = 1.0,
    grad_clip: float = 1.0,
    policy_mask: torch.Tensor | None = None,
) -> LossParts:
    """One clipped AdamW step on a batch ``[B, ...]``; returns the loss before the step.
    ``policy_mask`` (bool[B], None: all) is the rows with a policy target
    (:func:`train.learn.losses.policy_value_loss`)."""
    model.train()
    logits, value = model(obs, legal)
    parts = policy_value_loss(logits, value, target_policy, target_value, value_weight, policy_mask)
    optimizer.zero_grad(set_to_none=True)
    parts.total.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    scheduler.step()
    return LossParts(parts.total.detach(), parts.policy.detach(), parts.value.detach())
