"""The Connect Four expert: depth-limited alpha-beta with a positional heuristic.

The search itself is :mod:`envs.experts.connect4_kernel`, compiled with numba. The expert's
strength is the depth; its variety is a softmax temperature over the root scores. It always
takes an immediate win and makes a forced block.
"""

from __future__ import annotations

import numpy as np

from envs.connect4 import CONNECT4
from envs.core import State
from envs.experts import connect4_kernel as kernel
from envs.experts.common import check_temperature, refuse_finished, softmax, uniform_best
from envs.players import sample_masked

#: Depth and temperature of ``make_expert(CONNECT4)``. Depth 5 sees every tactic five plies
#: deep (six at the horizon, where a win on the spot still counts) and moves at over 10,000
#: positions/s per core, yet it leaves room above it: depth 7 scores about 0.74 against it.
#: Run ``python -m scripts.benchmark_expert`` for its speed and the whole depth ladder.
DEFAULT_DEPTH = 5
DEFAULT_TEMPERATURE = 0.0

_EXACT = 2**31  # a margin that makes every root score exact


class ConnectFourExpert:
    """Depth-limited alpha-beta search with a positional heuristic.

    Args:
        depth: plies searched (>= 1); each extra ply makes it markedly stronger and slower.
        temperature: the policy is a softmax over the root move scores divided by
            ``temperature``, scores in units of one threat (an empty cell that would complete
            a four, see :mod:`envs.experts.connect4_kernel`); 0 plays a best move, uniformly
            among equals.

    Whatever the temperature, it takes an immediate win when it has one, and blocks the
    opponent's immediate win when exactly one block exists.
    """

    def __init__(self, depth: int = DEFAULT_DEPTH, temperature: float = DEFAULT_TEMPERATURE):
        if isinstance(depth, bool) or not float(depth).is_integer() or depth < 1:
            raise ValueError(f"depth must be a whole number >= 1, got {depth!r}")
        self.game = CONNECT4
        self.depth = int(depth)
        self.temperature = check_temperature(temperature)
        self.name = f"expert-d{self.depth}" + (f"-t{temperature:g}" if temperature > 0 else "")
        # The policy only needs exact scores for moves that can get a weight above e**-20
        # of the best's; the search proves the others bad and moves on, which is faster.
        self._margin = int(np.ceil(20 * self.temperature * kernel.THREAT_WEIGHT))

    def scores(self, state: State) -> np.ndarray:
        """float32[B, 7]: each move's exact search score in threat units; -inf if illegal."""
        own, opp = _flat_bitboards(state)
        raw = kernel.root_scores(own, opp, self.depth, _EXACT)
        scores = np.where(raw == kernel.ILLEGAL, -np.inf, raw / kernel.THREAT_WEIGHT)
        return scores.astype(np.float32).reshape(*state.shape, CONNECT4.num_actions)

    def policy(self, state: State) -> np.ndarray:
        """float32[B, 7]: the move distribution over a batch of unfinished positions."""
        own, opp = _flat_bitboards(state)
        legal = CONNECT4.legal_mask(state).reshape(-1, CONNECT4.num_actions)
        refuse_finished(legal)
        raw = kernel.root_scores(own, opp, self.depth, self._margin).astype(np.float64)
        scores = raw / kernel.THREAT_WEIGHT
        if self.temperature > 0:
            policy = softmax(scores, legal, self.temperature)
        else:
            policy = uniform_best(scores, legal)
        forced = _forced_moves(own, opp, legal)
        has_forced = forced.any(axis=-1)
        policy[has_forced] = forced[has_forced] / forced[has_forced].sum(axis=-1, keepdims=True)
        return policy.reshape(*state.shape, CONNECT4.num_actions)

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        """int64[B]: one move per position, sampled from :meth:`policy`."""
        return sample_masked(self.policy(state), rng)


def _flat_bitboards(state: State) -> tuple[np.ndarray, np.ndarray]:
    """uint64[B] own and opp, contiguous, as the compiled kernel takes them."""
    own = np.ascontiguousarray(state.own, dtype=np.uint64).reshape(-1)
    opp = np.ascontiguousarray(state.opp, dtype=np.uint64).reshape(-1)
    return own, opp


def _forced_moves(own: np.ndarray, opp: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """bool[B, 7]: the moves a sound player must make, if any.

    All immediately winning moves where there are some; else the one square that stops the
    opponent winning next move, where there is exactly one (with two or more the game is
    lost anyway, and the search's choice stands).
    """
    actions = np.arange(CONNECT4.num_actions)
    # A stone in column a lands on the same cell whoever plays it.
    wins = CONNECT4._has_line(CONNECT4._apply(own[:, None], opp[:, None], actions)) & legal
    threats = CONNECT4._has_line(CONNECT4._apply(opp[:, None], own[:, None], actions)) & legal
    single_block = (threats.sum(axis=-1) == 1) & ~wins.any(axis=-1)
    return wins | (threats & single_block[:, None])


# --- shared helpers ------------------------------------------------------------------------
