"""The positions every stage trains on, as tensors, with the board's symmetries precomputed.

Stage 1 (the expert's positions), AlphaZero (samples of the replay buffer) and REINFORCE (the
learner's positions of one iteration) all reduce their data to the same four things per
position: the network's input, the legal moves, a target policy and a target value. What
each stage puts in the targets is its own business (the expert's move distribution, the
search's visits, ``advantage * onehot(move)``); the batch type, the augmentation and the
loss (:mod:`train.learn.losses`) are shared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from envs import Game, State


@dataclass(frozen=True)
class PositionBatch:
    """Training positions with every symmetric copy precomputed.

    Augmenting a batch is then a gather (:meth:`batch` with one symmetry per row), not a
    transform in the training loop.

    Attributes:
        obs: float32[S, N, planes, rows, cols], one copy per symmetry (S = 1 without
            augmentation).
        legal: bool[S, N, A].
        policy: float32[S, N, A] target move distributions (moved with the board).
        value: float32[N] target values, from the view of the player to move (a symmetry
            does not change them).
    """

    obs: torch.Tensor
    legal: torch.Tensor
    policy: torch.Tensor
    value: torch.Tensor

    @property
    def size(self) -> int:
        """N, the number of positions."""
        return int(self.value.shape[0])

    @property
    def num_symmetries(self) -> int:
        """S, the copies of each position (the game's symmetries, or 1)."""
        return int(self.obs.shape[0])

    @classmethod
    def build(
        cls, game: Game, state: State, policy: np.ndarray, value: np.ndarray, augment: bool
    ) -> PositionBatch:
        """From positions ``state[N]``, target policies ``[N, A]`` and target values ``[N]``;
        with ``augment`` one copy per symmetry of the game, else the positions as they are."""
        obs, legal = game.observation(state), game.legal_mask(state)
        symmetries = game.symmetries if augment else game.symmetries[:1]
        policy = policy.astype(np.float32)
        copies = [
            (
                game.transform_obs(obs, sym),
                game.transform_policy(legal, sym),
                game.transform_policy(policy, sym),
            )
            for sym in symmetries
        ]
        return cls(
            obs=torch.from_numpy(np.stack([c[0] for c in copies])),
            legal=torch.from_numpy(np.stack([c[1] for c in copies])),
            policy=torch.from_numpy(np.stack([c[2] for c in copies])),
            value=torch.from_numpy(value.astype(np.float32)),
        )

    def random_symmetries(self, n: int, rng: np.random.Generator | torch.Generator) -> torch.Tensor:
        """int64[n]: a symmetry drawn uniformly for each of ``n`` rows, from the run's
        generator (a numpy one in stage 2, a torch one in stage 1: each stage keeps the
        generator its checkpoints save)."""
        if isinstance(rng, torch.Generator):
            return torch.randint(self.num_symmetries, (n,), generator=rng)
        return torch.from_numpy(rng.integers(0, self.num_symmetries, n))

    def batch(
        self, index: torch.Tensor, sym: torch.Tensor, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(obs, legal, policy, value) of positions ``index`` [B], row ``i`` seen through
        symmetry ``sym[i]``, on ``device``."""
        return (
            self.obs[sym, index].to(device),
            self.legal[sym, index].to(device),
            self.policy[sym, index].to(device),
            self.value[index].to(device),
        )
