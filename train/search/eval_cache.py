"""A memo of evaluations: each position a deterministic evaluator has scored, scored once.

Self-play asks the network about the same positions again and again: the search of a move
rebuilds the part of the previous move's tree below the move played (there is no subtree
reuse, ``train/search/search.py``), transpositions reach one position by several move
orders, and the games of a lock-step batch share their openings. In Connect Four self-play
(64 games, 64 simulations, the untrained default network) 38% of the network's positions
had been scored before in the same batch of games (``scripts/benchmark_selfplay.py
--eval-cache N`` prints the hit rate); most come back within a move or two, so a small
cache does nearly as well (35% with room for 10,000 positions, 38% with 100,000). An
:class:`EvaluationCache` keeps each scored position's priors and value and sends the
evaluator only the positions it has not seen, each once per call.

Only for a deterministic evaluator (the network with fixed weights, not random rollouts):
the owner clears the cache whenever the evaluator changes (``NetworkEvaluator`` does when
the weights do). A cached answer is the one the evaluator gave for the position in an
earlier batch; a network's output can differ from batch to batch in the last float32 bits
(oneDNN picks its kernels by batch size), so a cached answer matches a fresh one to ~1e-7,
not bit for bit, and a search with the cache can differ from one without it where that
rounding tips a near tie. With an evaluator that scores each position alone the two are
identical (``tests/test_eval_cache.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from envs.core import State

#: ``evaluate(states[K], legal bool[K, A]) -> (priors float32[K, A], values float32[K])``.
_Evaluate = Callable[[State, np.ndarray], tuple[np.ndarray, np.ndarray]]


class EvaluationCache:
    """Priors and values of up to ``capacity`` positions, keyed by the whole State.

    When a call would overflow it, the cache starts afresh (the positions of the current
    games are the ones asked about again, so an older entry is rarely worth keeping).
    """

    def __init__(self, num_actions: int, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._priors = np.zeros((capacity, num_actions), dtype=np.float32)
        self._values = np.zeros(capacity, dtype=np.float32)
        self._rows: dict[bytes, int] = {}  # position key -> row of the arrays above
        # Positions answered without the evaluator (found, or repeated within a call), and
        # positions the evaluator scored.
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        """Forget every entry (the counters stay)."""
        self._rows.clear()

    def __call__(
        self, states: State, legal: np.ndarray, evaluate: _Evaluate
    ) -> tuple[np.ndarray, np.ndarray]:
        """``evaluate(states, legal)``, asking ``evaluate`` only about positions not cached.

        Args:
            states: State[K] unfinished positions; legal: bool[K, A] their legal moves.
            evaluate: the evaluator that fills the cache.

        Returns:
            priors float32[K, A] and values float32[K], new arrays.
        """
        if len(states) > self.capacity:
            return evaluate(states, legal)
        if len(self._rows) + len(states) > self.capacity:
            self.clear()
        keys = _keys(states)
        rows_of = self._rows
        rows = np.fromiter((rows_of.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        missing = np.flatnonzero(rows < 0)
        self.hits += len(keys)
        if len(missing):
            # Each new position once, even if the batch holds it twice.
            fresh: dict[bytes, int] = {}
            for i in missing.tolist():
                fresh.setdefault(keys[i], i)
            asked = np.fromiter(fresh.values(), dtype=np.int64, count=len(fresh))
            self.hits -= len(asked)
            self.misses += len(asked)
            priors, values = evaluate(states[asked], legal[asked])
            start = len(rows_of)
            new_rows = np.arange(start, start + len(asked))
            self._priors[new_rows] = priors
            self._values[new_rows] = values
            rows_of.update(zip(fresh, new_rows.tolist(), strict=True))
            rows[missing] = [rows_of[keys[i]] for i in missing.tolist()]
        return self._priors[rows], self._values[rows]


def _keys(states: State) -> list[bytes]:
    """One hashable key per position: the bytes of all its fields."""
    words = np.ascontiguousarray(states.flat_keys())
    return words.view(np.dtype((np.void, 8 * words.shape[-1]))).ravel().tolist()
