"""A bounded replay buffer of self-play positions (a ring: the oldest are overwritten), and
the growing replay window that can bound it tighter early in a run (:func:`replay_window`)."""

from __future__ import annotations

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
        has_policy: bool[capacity] whether the row's policy is a training target (a position
            searched in full, :mod:`train.selfplay.playout_cap`); the others train the value
            only.
    """

    def __init__(self, capacity: int, game: Game) -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.states = game.initial_state(capacity).copy()
        self.policy = np.zeros((capacity, game.num_actions), np.float32)
        self.value = np.zeros(capacity, np.float32)
        self.has_policy = np.zeros(capacity, bool)
        self.size = 0
        self.cursor = 0  # where the next position goes

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        states: State,
        policies: np.ndarray,
        values: np.ndarray,
        has_policy: np.ndarray | None = None,
    ) -> None:
        """Append ``P`` positions: ``states[P]``, ``policies[P, A]``, ``values[P]``, and
        ``has_policy`` bool[P] (None: every policy is a target)."""
        n = len(values)
        if has_policy is None:
            has_policy = np.ones(n, bool)
        if n > self.capacity:  # only the newest fit
            states, policies, values, has_policy = (
                states[-self.capacity :],
                policies[-self.capacity :],
                values[-self.capacity :],
                has_policy[-self.capacity :],
            )
            n = self.capacity
        slots = (self.cursor + np.arange(n)) % self.capacity
        self.states.set_rows(slots, states)
        self.policy[slots], self.value[slots] = policies, values
        self.has_policy[slots] = has_policy
        self.cursor = int((self.cursor + n) % self.capacity)
        self.size = min(self.capacity, self.size + n)

    def keep_newest(self, n: int) -> None:
        """Drop all but the newest ``n`` positions (the replay window, :func:`replay_window`).

        The kept rows move to the front, oldest first, so the buffer reads as if it had held
        only them: rows ``0..size-1``, the next position going to row ``size``.
        """
        if n < 1:
            raise ValueError(f"a replay window holds at least 1 position, got {n}")
        if self.size <= n:
            return
        rows = (self.cursor - n + np.arange(n)) % self.capacity  # oldest kept first
        self.states.set_rows(slice(0, n), self.states[rows])
        self.policy[:n], self.value[:n] = self.policy[rows], self.value[rows]
        self.has_policy[:n] = self.has_policy[rows]
        self.size, self.cursor = n, n % self.capacity

    def sample(
        self, n: int, rng: np.random.Generator
    ) -> tuple[State, np.ndarray, np.ndarray, np.ndarray]:
        """``n`` positions drawn uniformly with replacement: (State[n], policy[n, A],
        value[n], has_policy bool[n])."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index = rng.integers(0, self.size, n)
        return self.states[index], self.policy[index], self.value[index], self.has_policy[index]

    def merged(self) -> tuple[State, np.ndarray, np.ndarray, np.ndarray]:
        """Each distinct position held, once: (State[G], mean policy[G, A], mean outcome[G],
        has_policy bool[G]). A position's policy is the mean over its rows that have a policy
        target, and it has one if any of its rows has; its outcome is the mean over all rows.

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
        counts = np.diff(np.r_[starts, n])
        targets = np.add.reduceat(self.has_policy[:n][order].astype(np.int64), starts)
        # Rows without a target are left out of the policy's mean (their policy is no label).
        policies = np.where(self.has_policy[:n, None], self.policy[:n], 0.0)[order]
        policy = np.add.reduceat(policies, starts, axis=0) / np.maximum(targets, 1)[:, None]
        value = np.add.reduceat(self.value[:n][order], starts) / counts
        return (
            self.states[first],
            policy.astype(np.float32),
            value.astype(np.float32),
            targets > 0,
        )

    def state_dict(self) -> dict[str, object]:
        """The filled part as tensors (loadable with ``torch.load(weights_only=True)``): one
        entry per field of the positions (``own``, ``opp``, ``ply``), then ``policy``,
        ``value``, ``has_policy`` and ``cursor``."""
        held = self.states[: self.size]
        return {
            **{name: _to_tensor(array) for name, array in _fields(held).items()},
            "policy": torch.from_numpy(self.policy[: self.size].copy()),
            "value": torch.from_numpy(self.value[: self.size].copy()),
            "has_policy": torch.from_numpy(self.has_policy[: self.size].copy()),
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
        # A buffer saved before playout caps existed: every position had a policy target.
        saved = state.get("has_policy")
        self.has_policy[:n] = True if saved is None else saved.numpy()
        self.size, self.cursor = n, int(state["cursor"]) % self.capacity


def replay_window(
    positions: int, start: int, capacity: int, alpha: float = 0.75, beta: float = 0.4
) -> int:
    """The replay window after ``positions`` self-play positions: how many of the newest the
    buffer keeps, growing from ``start`` to ``capacity`` (KataGo's rule, Wu 2019, appendix, with
    its exponent ``alpha`` and growth ``beta``; KataGo's ``start`` was 250,000)::

        window(N) = start * (1 + beta * ((N / start) ** alpha - 1) / alpha),  N >= start

    Until ``start`` positions have been played the window holds them all. Past that it grows
    by ``beta`` positions per position played at first, then ever more slowly (sublinearly,
    as ``N ** alpha``), so that the first iterations' positions, played by the weakest
    networks, leave the buffer while the run is young, and later the window holds many
    iterations. E.g. with ``start`` = 1,000: 1,000 at N = 1,000; 4,733 at 16,000; 14,866 at
    81,000 (then at most ``capacity``).
    """
    if start < 1 or capacity < 1:
        raise ValueError(f"replay window start and capacity must be >= 1, got {start}, {capacity}")
    n = max(positions, start) / start
    window = start * (1.0 + beta * (n**alpha - 1.0) / alpha)
    return int(min(capacity, window))


# The buffer saves and compares positions whole, field by field, without naming the fields:
# a game whose State holds more (or other) arrays needs no change here.


def _fields(states: State) -> dict[str, np.ndarray]:
    return states.fields()


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    # uint64 has no torch counterpart everywhere; the bit pattern survives as int64 (and
    # load_state_dict views it back as the buffer's own dtype).
    if array.dtype == np.uint64:
        array = array.view(np.int64)
    return torch.from_numpy(array.copy())


def _row_keys(states: State) -> np.ndarray:
    """uint64[N, F]: each position as one row of its fields' bits (equal rows, equal positions);
    rows sort as the fields do, in field order."""
    return states.flat_keys()
