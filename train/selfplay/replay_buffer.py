"""A bounded replay buffer of self-play positions (a ring: the oldest are overwritten)."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from envs import Game, State


class ReplayBuffer:
    """Positions with their search policy and final outcome, up to ``capacity`` of them.

    Args:
        capacity: the most positions kept; AlphaZero keeps the last ~1M of its games, we keep
            the last few iterations' worth so the data tracks the improving network.
        game: the rules (the buffer holds its positions and ``num_actions``-wide policies).

    Attributes:
        states: State[capacity] the positions (rows past ``size`` are empty boards).
        policy: float32[capacity, A]; value: float32[capacity].
    """

    def __init__(self, capacity: int, game: Game) -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.states = game.initial_state(capacity).copy()
        self.policy = np.zeros((capacity, game.num_actions), np.float32)
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
        self.states.set_rows(slots, states)
        self.policy[slots], self.value[slots] = policies, values
        self.cursor = int((self.cursor + n) % self.capacity)
        self.size = min(self.capacity, self.size + n)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[State, np.ndarray, np.ndarray]:
        """``n`` positions drawn uniformly with replacement: (State[n], policy[n, A], value[n])."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index = rng.integers(0, self.size, n)
        return self.states[index], self.policy[index], self.value[index]

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
        _, first, inverse = np.unique(
            _row_keys(self.states[:n]), axis=0, return_index=True, return_inverse=True
        )
        order = np.argsort(inverse.ravel(), kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(inverse.ravel()[order]) != 0])
        counts = np.diff(np.r_[starts, n])[:, None]
        policy = np.add.reduceat(self.policy[:n][order], starts, axis=0) / counts
        value = np.add.reduceat(self.value[:n][order], starts) / counts[:, 0]
        return self.states[first], policy.astype(np.float32), value.astype(np.float32)

    def state_dict(self) -> dict[str, object]:
        """The filled part as tensors (loadable with ``torch.load(weights_only=True)``): one
        entry per field of the positions (``own``, ``opp``, ``ply``), then ``policy``,
        ``value`` and ``cursor``."""
        held = self.states[: self.size]
        return {
            **{name: _to_tensor(array) for name, array in _fields(held).items()},
            "policy": torch.from_numpy(self.policy[: self.size].copy()),
            "value": torch.from_numpy(self.value[: self.size].copy()),
            "cursor": self.cursor,
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        n = len(state["value"])
        if n > self.capacity:
            raise ValueError(
                f"saved buffer holds {n} positions, more than capacity {self.capacity}"
            )
        stored = {
            name: state[name].numpy().view(like.dtype)
            for name, like in _fields(self.states).items()
        }
        self.states.set_rows(slice(0, n), State(**stored))
        self.policy[:n] = state["policy"].numpy()
        self.value[:n] = state["value"].numpy()
        self.size, self.cursor = n, int(state["cursor"]) % self.capacity


# The buffer saves and compares positions whole, field by field, without naming the fields:
# a game whose State holds more (or other) arrays needs no change here.


def _fields(states: State) -> dict[str, np.ndarray]:
    return {f.name: getattr(states, f.name) for f in dataclasses.fields(states)}


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    # uint64 has no torch counterpart everywhere; the bit pattern survives as int64 (and
    # load_state_dict views it back as the buffer's own dtype).
    if array.dtype == np.uint64:
        array = array.view(np.int64)
    return torch.from_numpy(array.copy())


def _row_keys(states: State) -> np.ndarray:
    """uint64[N, F]: each position as one row of its fields' bits (equal rows, equal positions);
    rows sort as the fields do, in field order."""
    return np.stack([a.astype(np.uint64) for a in _fields(states).values()], axis=1)
