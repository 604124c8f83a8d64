"""The one loss both stages train with (AlphaZero's, without the L2 term: AdamW decays).

    loss = cross_entropy(target_policy, policy) + value_weight * (target_value - value)^2

Stage 1's targets are the expert's move distribution and the game's outcome; stage 2's are
the search's visit distribution and the self-play outcome. Same function, same tags. With a
playout cap (:mod:`train.selfplay.playout_cap`) some stage-2 positions have no policy
target: a ``policy_mask`` leaves them out of the policy term, which is then the mean over
the positions that have one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossParts:
    """The loss and its parts (scalar tensors), logged as ``losses/{total,policy,value}``."""

    total: torch.Tensor
    policy: torch.Tensor
    value: torch.Tensor

    def as_metrics(self) -> dict[str, float]:
        return {
            "losses/total": float(self.total),
            "losses/policy": float(self.policy),
            "losses/value": float(self.value),
        }


def policy_value_loss(
    logits: torch.Tensor,
    value: torch.Tensor,
    target_policy: torch.Tensor,
    target_value: torch.Tensor,
    value_weight: float = 1.0,
    policy_mask: torch.Tensor | None = None,
) -> LossParts:
    """Cross-entropy of the policy plus squared error of the value, averaged over a batch.

    Args:
        logits: float32[B, A], illegal moves already masked to a large negative number.
        value: float32[B] in [-1, 1], from the view of the player to move.
        target_policy: float32[B, A], rows summing to 1 over legal moves.
        target_value: float32[B], the game's outcome from the view of the player to move.
        value_weight: weight of the value term.
        policy_mask: bool[B] the rows whose ``target_policy`` is a target (None: all); the
            others, whatever their target holds, count in the value term only. A batch
            with no such row has a policy term of 0.
    """
    if policy_mask is None:
        policy_loss = -(target_policy * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()
    else:
        # The masked rows' targets are replaced before they touch the logits: they may hold
        # anything, NaN included, and a product with 0 would pass a NaN to the gradient.
        kept = torch.where(policy_mask[:, None], target_policy, torch.zeros_like(target_policy))
        cross_entropy = -(kept * F.log_softmax(logits, dim=-1)).sum(dim=-1)
        policy_loss = cross_entropy.sum() / policy_mask.sum().clamp(min=1)
    value_loss = F.mse_loss(value, target_value)
    return LossParts(policy_loss + value_weight * value_loss, policy_loss, value_loss)
