"""Stage 2's training steps: what each algorithm's iteration learns from its games.

The loops (:mod:`train.learn.alphazero`, :mod:`train.learn.reinforce`) play the games and
call one of these; both reduce their data to a :class:`train.learn.batches.PositionBatch`,
seen through a random symmetry per row, and take :func:`train.learn.optim.train_step` steps
with the one loss (:mod:`train.learn.losses`).

- AlphaZero: targets are the search's policy and the outcome (mixed with the search's value,
  :func:`value_targets`); :func:`train_on_buffer` takes SGD steps on samples of the replay
  buffer, the policy term over the positions that have a policy target (all of them without
  a playout cap, :mod:`train.selfplay.playout_cap`).
- REINFORCE: targets turn the loss into the policy gradient with a baseline
  (:func:`reinforce_targets`); :func:`train_one_pass` takes one pass over the learner's
  positions of the iteration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from envs import Game, State
from models.net import PolicyValueNet, predict
from train.learn.batches import PositionBatch
from train.learn.optim import train_step
from train.selfplay.games import SelfPlayRecords
from train.selfplay.replay_buffer import ReplayBuffer

if TYPE_CHECKING:  # the configs' modules import this one
    from train.learn.alphazero import SelfPlayConfig
    from train.learn.reinforce import ReinforceConfig


# --- AlphaZero ----------------------------------------------------------------------------


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

    Positions without a policy target (the buffer's ``has_policy``) count in the value term
    only. Returns the mean losses under stage 1's tags.
    """
    totals = np.zeros(3)
    merged = buffer.merged() if config.merge_duplicates else None
    for _ in range(steps):
        if merged is None:
            state, policy, value, has_policy = buffer.sample(config.batch_size, rng)
        else:
            pick = rng.integers(0, len(merged[2]), config.batch_size)
            state, policy, value, has_policy = (part[pick] for part in merged)
        data = PositionBatch.build(game, state, policy, value, config.augment)
        sym = data.random_symmetries(config.batch_size, rng)
        index = torch.arange(config.batch_size)
        obs, legal, target, target_value = data.batch(index, sym, device)
        # No mask when every row has a target: the loss is then computed as it always was.
        mask = None if has_policy.all() else torch.from_numpy(has_policy).to(device)
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
            policy_mask=mask,
        )
        totals += [float(parts.total), float(parts.policy), float(parts.value)]
    mean = totals / max(1, steps)
    return {"losses/total": mean[0], "losses/policy": mean[1], "losses/value": mean[2]}


# --- REINFORCE ----------------------------------------------------------------------------


def reinforce_targets(
    values: np.ndarray, actions: np.ndarray, outcomes: np.ndarray, num_actions: int
) -> tuple[np.ndarray, np.ndarray]:
    """The REINFORCE-with-baseline targets for :func:`train.learn.losses.policy_value_loss`.

    Args:
        values: float32[P] the learner's value of each position before the update (baseline).
        actions: int64[P] the move played; outcomes: float32[P] the result for the mover.

    Returns:
        advantage: float32[P] ``outcome - value``.
        target_policy: float32[P, A] ``advantage * onehot(action)``, which turns the loss's
            cross-entropy ``-(target * log_softmax).sum(-1).mean()`` into
            ``-(advantage * log pi(action)).mean()``.
    """
    advantage = (outcomes - values).astype(np.float32)
    onehot = np.eye(num_actions, dtype=np.float32)[actions]
    return advantage, advantage[:, None] * onehot


def train_one_pass(
    game: Game,
    model: PolicyValueNet,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    states: State,
    actions: np.ndarray,
    outcomes: np.ndarray,
    config: ReinforceConfig,
    rng: np.random.Generator,
    device: torch.device,
) -> dict[str, float]:
    """One pass of SGD over the positions ``[P]`` in shuffled minibatches, each position seen
    through a random symmetry. Returns the mean losses and mean absolute advantage."""
    # The baseline comes from the network before any step of this pass, and is data (detached).
    _, values = predict(model, game.observation(states), game.legal_mask(states), device)
    advantage, target = reinforce_targets(values, actions, outcomes, game.num_actions)
    data = PositionBatch.build(game, states, target, outcomes, config.augment)
    size = data.size
    sym = data.random_symmetries(size, rng)
    # Near-equal batches rather than a short last one: no tiny batch for BatchNorm.
    batches = np.array_split(rng.permutation(size), max(1, round(size / config.batch_size)))
    totals = np.zeros(3)
    for rows in batches:
        index = torch.from_numpy(rows)
        obs, legal, target_policy, target_value = data.batch(index, sym[index], device)
        parts = train_step(
            model,
            optimizer,
            scheduler,
            obs,
            legal,
            target_policy,
            target_value,
            config.value_weight,
            config.grad_clip,
        )
        totals += len(rows) * np.array(
            [float(parts.total), float(parts.policy), float(parts.value)]
        )
    mean = totals / max(1, size)
    return {
        "losses/total": float(mean[0]),
        "losses/policy": float(mean[1]),
        "losses/value": float(mean[2]),
        "reinforce/advantage_abs": float(np.abs(advantage).mean()),
    }
