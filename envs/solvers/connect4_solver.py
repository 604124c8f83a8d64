"""A perfect Connect Four solver: scores of positions and of their moves.

Scores (the classic convention of the well-known solvers, from the view of the player to
move): a position the mover wins scores ``22 - s`` where ``s`` is how many stones the mover
will have on the board after the winning move, so a quicker win scores higher; a loss scores
``-(22 - s)`` with ``s`` the winner's stones; a draw scores 0. Scores lie in [-18, 18] (a
line needs at least four stones). The empty board scores +1: the first player wins with
their 21st, last, stone. :func:`outcome` folds a score to -1 / 0 / +1.

The search itself (null-window probes, a transposition table, pruning and move ordering) is
:mod:`envs.solvers.connect4_solver_kernel`, compiled with numba; this module is its Python
face: one position in, scores out.
"""

from __future__ import annotations

import numpy as np

from envs.core import State
from envs.solvers import connect4_solver_kernel as kernel

#: The score of an illegal action in :func:`action_values` (below every real score).
ILLEGAL = -1000
#: The largest possible score: winning with one's 4th stone. Scores lie in [-MAX_SCORE, MAX_SCORE].
MAX_SCORE = 18
#: log2 of the number of entries of the default transposition table (8 bytes each: 64 MiB).
DEFAULT_TABLE_LOG2 = 23

_U = np.uint64


def _line_stones(stones: int) -> bool:
    """Whether a bitboard holds a line of four (plain Python, for finished positions)."""
    for d in (1, 7, 6, 8):
        pair = stones & (stones >> d)
        if pair & (pair >> (2 * d)):
            return True
    return False


class Solver:
    """A Connect Four solver that keeps its transposition table between calls.

    Args:
        table_log2: log2 of the table's entries (8 bytes each); 23 gives 64 MiB, plenty for
            any position after the opening. Smaller tables work, more slowly.

    Attributes:
        nodes: positions searched since construction or :meth:`reset`.
    """

    def __init__(self, table_log2: int = DEFAULT_TABLE_LOG2) -> None:
        if not 10 <= table_log2 <= 32:
            raise ValueError(f"table_log2 must be in 10..32, got {table_log2}")
        self.table = np.zeros(1 << table_log2, dtype=np.uint64)
        self._hash_shift = np.uint64(64 - table_log2)
        self._order_moves = np.zeros((kernel.CELLS + 1, kernel.WIDTH), dtype=np.uint64)
        self._order_scores = np.zeros((kernel.CELLS + 1, kernel.WIDTH), dtype=np.int64)
        self._nodes = np.zeros(1, dtype=np.int64)

    @property
    def nodes(self) -> int:
        return int(self._nodes[0])

    def reset(self) -> None:
        """Forget every stored position and zero the node count."""
        self.table.fill(0)
        self._nodes[0] = 0

    def solve(self, state: State, weak: bool = False) -> int:
        """The score of one position (shape ``()``) for the player to move (see module doc).

        A finished position scores as its result: a loss by the line just completed, or 0 for
        a full board. ``weak=True`` returns only the outcome (-1, 0, +1), which is quicker to
        find in the opening (the empty board's moves: about 2/3 of the time).
        """
        own, opp, ply = _one_position(state)
        if _line_stones(opp):
            score = -(22 - (ply + 1) // 2)  # the opponent has (ply + 1) // 2 stones
        elif ply >= kernel.CELLS:
            score = 0
        else:
            score = self._search(own, own | opp, ply, weak)
        return outcome(score) if weak else int(score)

    def action_values(self, state: State, weak: bool = False) -> np.ndarray:
        """int32[7]: the score of each action for the player to move; ``ILLEGAL`` if illegal.

        The score of a legal action is minus the score of the position it leads to, so
        ``solve(state) == action_values(state).max()`` for any unfinished position.
        ``weak=True`` gives only each action's outcome (-1, 0, +1).
        """
        own, opp, ply = _one_position(state)
        values = np.full(kernel.WIDTH, ILLEGAL, dtype=np.int32)
        mask = own | opp
        if _line_stones(opp) or ply >= kernel.CELLS:
            return values
        wins = int(kernel.line_completions(_U(own), _U(mask)))
        playable = int(kernel.playable_cells(_U(mask)))
        for col in range(kernel.WIDTH):
            move = playable & int(kernel.COLUMN[col])
            if not move:
                continue
            if move & wins:
                values[col] = (kernel.CELLS + 1 - ply) // 2
            elif ply + 1 >= kernel.CELLS:
                values[col] = 0
            else:
                values[col] = -self._search(opp, mask | move, ply + 1, weak)
        return np.sign(values, where=values != ILLEGAL, out=values) if weak else values

    def _search(self, own: int, mask: int, ply: int, weak: bool) -> int:
        return kernel.solve_score(
            _U(own),
            _U(mask),
            ply,
            weak,
            self.table,
            self._hash_shift,
            self._order_moves,
            self._order_scores,
            self._nodes,
        )


def _one_position(state: State) -> tuple[int, int, int]:
    if np.shape(state.own) != ():
        raise ValueError(f"the solver takes one position (shape ()), got shape {state.shape}")
    return int(state.own), int(state.opp), int(state.ply)


_default_solver: Solver | None = None


def default_solver() -> Solver:
    """The solver shared by :func:`solve` and :func:`action_values` (made on first use)."""
    global _default_solver
    if _default_solver is None:
        _default_solver = Solver()
    return _default_solver


def solve(state: State, weak: bool = False) -> int:
    """The score of one position for the player to move (see :meth:`Solver.solve`)."""
    return default_solver().solve(state, weak)


def action_values(state: State, weak: bool = False) -> np.ndarray:
    """int32[7]: each action's score for the player to move (see :meth:`Solver.action_values`)."""
    return default_solver().action_values(state, weak)


def outcome(score: int | np.ndarray) -> int | np.ndarray:
    """The game-theoretic result of a score: +1 win, 0 draw, -1 loss (elementwise)."""
    result = np.sign(score)
    return int(result) if np.ndim(result) == 0 else result.astype(np.int8)
