"""A bounded replay buffer of self-play positions (a ring: the oldest are overwritten)."""

from __future__ import annotations

import numpy as np
import torch

from envs import State


class ReplayBuffer:
    """Positions with their search policy and final outcome, up to ``capacity`` of them.

    Args:
        capacity: the most positions kept; AlphaZero keeps the last ~1M of its games, we keep
            the last few iterations' worth so the data tracks the improving network.
        num_actions: the game's action count.
    """

    def __init__(self, capacity: int, num_actions: int) -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.own = np.zeros(capacity, np.uint64)
        self.opp = np.zeros(capacity, np.uint64)
        self.ply = np.zeros(capacity, np.int32)
        self.policy = np.zeros((capacity, num_actions), np.float32)
        self.value = np.zeros(capacity, np.float32)
        self.size = 0
        self.cursor = 0  # where the next position goes

    def __len__(self) -> int:
        return self.size

    def add(self, states: State, policies: np.ndarray, values: np.ndarray) -> None:
        """Append ``P`` positions: ``states[P]``, ``policies[P, A]``, ``values[P]``."""
        n = len(values)
        if n > self.capacity:  # only the newest fit
            states, policies, values = (
                states[-self.capacity :],
                policies[-self.capacity :],
                values[-self.capacity :],
            )
            n = self.capacity
        slots = (self.cursor + np.arange(n)) % self.capacity
        self.own[slots], self.opp[slots], self.ply[slots] = states.own, states.opp, states.ply
        self.policy[slots], self.value[slots] = policies, values
        self.cursor = int((self.cursor + n) % self.capacity)
        self.size = min(self.capacity, self.size + n)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[State, np.ndarray, np.ndarray]:
        """``n`` positions drawn uniformly with replacement: (State[n], policy[n, A], value[n])."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index = rng.integers(0, self.size, n)
        state = State(self.own[index], self.opp[index], self.ply[index])
        return state, self.policy[index], self.value[index]

    def merged(self) -> tuple[State, np.ndarray, np.ndarray]:
        """Each distinct position held, once: (State[G], mean policy[G, A], mean outcome[G]).

        Sampling from this instead of the raw buffer weighs every position the same however
        often self-play reached it (AlphaZero.jl merges its memory the same way): the empty
        board and the usual openings stop drowning out the rare positions that a network
        must also play well, such as the forks a bad opponent allows.
        """
        if self.size == 0:
            raise ValueError("cannot merge an empty replay buffer")
        n = self.size
        keys = np.stack([self.own[:n], self.opp[:n]], axis=1)
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        order = np.argsort(inverse.ravel(), kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(inverse.ravel()[order]) != 0])
        counts = np.diff(np.r_[starts, n])[:, None]
        policy = np.add.reduceat(self.policy[:n][order], starts, axis=0) / counts
        value = np.add.reduceat(self.value[:n][order], starts) / counts[:, 0]
        state = State(self.own[first], self.opp[first], self.ply[first])
        return state, policy.astype(np.float32), value.astype(np.float32)

    def state_dict(self) -> dict[str, object]:
        """The filled part as tensors (loadable with ``torch.load(weights_only=True)``)."""
        keep = slice(0, self.size)
        return {
            # uint64 has no torch counterpart everywhere; the bit pattern survives as int64.
            "own": torch.from_numpy(self.own[keep].view(np.int64).copy()),
            "opp": torch.from_numpy(self.opp[keep].view(np.int64).copy()),
            "ply": torch.from_numpy(self.ply[keep].copy()),
            "policy": torch.from_numpy(self.policy[keep].copy()),
            "value": torch.from_numpy(self.value[keep].copy()),
            "cursor": self.cursor,
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        n = len(state["value"])
        if n > self.capacity:
            raise ValueError(
                f"saved buffer holds {n} positions, more than capacity {self.capacity}"
            )
        self.own[:n] = state["own"].numpy().view(np.uint64)
        self.opp[:n] = state["opp"].numpy().view(np.uint64)
        self.ply[:n] = state["ply"].numpy()
        self.policy[:n] = state["policy"].numpy()
        self.value[:n] = state["value"].numpy()
        self.size, self.cursor = n, int(state["cursor"]) % self.capacity
