"""A perfect Connect Four solver: bitboard negamax with alpha-beta, compiled with numba.

Scores (the classic convention of the well-known solvers, from the view of the player to
move): a position the mover wins scores ``22 - s`` where ``s`` is how many stones the mover
will have on the board after the winning move, so a quicker win scores higher; a loss scores
``-(22 - s)`` with ``s`` the winner's stones; a draw scores 0. Scores lie in [-18, 18] (a
line needs at least four stones). The empty board scores +1: the first player wins with
their 21st, last, stone. :func:`outcome` folds a score to -1 / 0 / +1.

The search, in order of how much each idea saves:

* **Null-window search.** The root score is found by a binary search of probes
  ``negamax(alpha=m, beta=m + 1)`` ("is the score above m?"), each far cheaper than a
  full-window search; probes near 0 come first because most positions are close to it.
* **Transposition table.** A preallocated ``uint64`` array; each entry packs the position's
  unique 49-bit key (a position and its mirror image share one) with a bound, lower or
  upper, on its score. Slots come in pairs: one keeps the position nearest the root, whose
  search cost most, the other the latest. The table outlives a call, so the probes of one
  solve, and the children solved by :meth:`Solver.action_values`, share their work.
* **Pruning moves that lose at once.** The mover never plays under a cell where the
  opponent would complete a line, must block a single threat, and has lost against two.
  Since no child then lets the opponent win at once, the score is bounded before searching.
* **Move ordering.** Moves creating more threats (empty cells that would complete a line
  of the mover's) first, ties broken centre first.

Bitboards follow :mod:`envs.connect4`: bit ``col * 7 + height``, with an empty sentinel on
top of each column; ``own`` holds the mover's stones and ``mask = own | opp`` all stones.
``own + mask`` is a unique key of the position: in a column of height ``h`` it adds
``own``'s bits (less than ``2**h``) to ``2**h - 1``, and these ranges don't overlap for
different heights, so the sum gives back both the height and the mover's stones.
"""

from __future__ import annotations

import numba
import numpy as np

from envs.core import State

#: The score of an illegal action in :func:`action_values` (below every real score).
ILLEGAL = -1000
#: The largest possible score: winning with one's 4th stone. Scores lie in [-MAX_SCORE, MAX_SCORE].
MAX_SCORE = 18
#: log2 of the number of entries of the default transposition table (8 bytes each: 64 MiB).
DEFAULT_TABLE_LOG2 = 23

_WIDTH, _HEIGHT, _CELLS = 7, 6, 42
_U = np.uint64
_BOTTOM = _U(sum(1 << (7 * c) for c in range(_WIDTH)))
_BOARD = _U(_BOTTOM * _U((1 << _HEIGHT) - 1))
_COLUMN = np.array([((1 << _HEIGHT) - 1) << (7 * c) for c in range(_WIDTH)], dtype=np.uint64)
_CENTRE_FIRST = np.array([3, 2, 4, 1, 5, 0, 6], dtype=np.int64)
_HASH_MULTIPLIER = _U(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: spreads keys over the table
# Shift amounts as uint64: mixing uint64 and int64 would make numba compute in float64.
_S1, _S2, _S3, _S6, _S7, _S8 = _U(1), _U(2), _U(3), _U(6), _U(7), _U(8)
# A table entry packs, from the top: the 49-bit key, the ply (6 bits), a flag saying whether
# the value is a lower or an upper bound, and the value + 64 (7 bits, never 0, so an all-zero
# entry marks an empty slot).
_KEY_SHIFT = _U(14)
_PLY_SHIFT = _U(8)
_PLY_BITS = _U(0x3F)
_LOWER_FLAG = _U(0x80)
_VALUE_BITS = _U(0x7F)
_VALUE_OFFSET = 64


# --- bitboard primitives (numba) ------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _popcount(bits: np.uint64) -> int:
    count = 0
    while bits:
        bits &= bits - _S1
        count += 1
    return count


@numba.njit(cache=True)
def _line_completions(stones: np.uint64, mask: np.uint64) -> np.uint64:
    """The empty cells where one more stone would give ``stones`` a line of four."""
    # Vertical: three stacked stones, the cell above them.
    found = (stones << _S1) & (stones << _S2) & (stones << _S3)
    # Horizontal (7) and the two diagonals (6, 8): the gap may be at any of four places.
    for d in (_S7, _S6, _S8):
        d2 = d + d
        d3 = d2 + d
        pair = (stones << d) & (stones << d2)  # the two cells "before" a candidate
        found |= pair & (stones << d3)
        found |= pair & (stones >> d)
        pair = (stones >> d) & (stones >> d2)  # the two cells "after" it
        found |= pair & (stones << d)
        found |= pair & (stones >> d3)
    return found & (_BOARD ^ mask)


@numba.njit(cache=True, inline="always")
def _playable(mask: np.uint64) -> np.uint64:
    """The lowest empty cell of every column that is not full."""
    return (mask + _BOTTOM) & _BOARD


@numba.njit(cache=True)
def _can_win_now(own: np.uint64, mask: np.uint64) -> bool:
    return (_line_completions(own, mask) & _playable(mask)) != 0


@numba.njit(cache=True, inline="always")
def _mirrored(bits: np.uint64) -> np.uint64:
    """The bitboard reflected left to right (column c becomes column 6 - c)."""
    out = _U(0)
    for c in range(_WIDTH):
        out |= ((bits >> _U(7 * c)) & _U(0x7F)) << _U(7 * (_WIDTH - 1 - c))
    return out


@numba.njit(cache=True)
def _non_losing_moves(own: np.uint64, mask: np.uint64) -> np.uint64:
    """Moves (as landing cells) after which the opponent cannot win at once; 0 if none.

    Assumes the mover cannot win at once (the caller checks that first).
    """
    playable = _playable(mask)
    threats = _line_completions(own ^ mask, mask)
    forced = playable & threats
    if forced:
        if forced & (forced - _S1):
            return _U(0)  # two threats: one can be blocked, not both
        playable = forced
    # Never fill the cell just below an opponent's threat: it would be played next.
    return playable & ~(threats >> _S1)


# --- transposition table (numba) -----------------------------------------------------------
# Entries come in buckets of two: the first slot keeps the position nearest the root (the
# one whose search cost most), the second takes whatever the first refused. Replacing by
# distance to the root saved 20-25% of the nodes when the table was short of room.


@numba.njit(cache=True, inline="always")
def _probe(table, bucket, key):
    """The entry stored for ``key`` in its bucket, or 0."""
    for slot in (bucket, bucket + _S1):
        entry = table[slot]
        if entry != 0 and (entry >> _KEY_SHIFT) == key:
            return entry
    return _U(0)


@numba.njit(cache=True, inline="always")
def _store(table, bucket, key, ply, lower_flag, value):
    """Record a bound on the score of ``key`` (``lower_flag``: a lower bound, else upper)."""
    entry = (key << _KEY_SHIFT) | (_U(ply) << _PLY_SHIFT) | lower_flag | _U(value + _VALUE_OFFSET)
    first = table[bucket]
    if (first >> _KEY_SHIFT) == key or ((first >> _PLY_SHIFT) & _PLY_BITS) >= ply or first == 0:
        table[bucket] = entry
    else:
        table[bucket + _S1] = entry


# --- search (numba) -------------------------------------------------------------------------


@numba.njit(cache=True)
def _negamax(own, mask, ply, alpha, beta, table, hash_shift, order_moves, order_scores, nodes):
    """The score if it is within (alpha, beta); else a bound on the same side (fail-soft).

    Assumes the mover cannot win at once and the board is not full. ``order_moves`` and
    ``order_scores`` (``[43, 7]``) are scratch rows for move ordering, one per ply, so that the
    recursion allocates nothing.
    """
    nodes[0] += 1
    moves = _non_losing_moves(own, mask)
    if moves == 0:
        return -((_CELLS - ply) // 2)  # every move lets the opponent win next turn
    if ply >= _CELLS - 2:
        return 0  # neither side can win with the last two stones
    # The opponent cannot win on their next stone, nor the mover on this one: bounds.
    lowest = -((_CELLS - 2 - ply) // 2)
    if alpha < lowest:
        alpha = lowest
        if alpha >= beta:
            return alpha
    highest = (_CELLS - 1 - ply) // 2
    # A position and its mirror image have the same score: store them as one entry.
    key = min(own + mask, _mirrored(own + mask))
    bucket = ((key * _HASH_MULTIPLIER) >> hash_shift) & ~_S1
    entry = _probe(table, bucket, key)
    if entry != 0:
        value = np.int64(entry & _VALUE_BITS) - _VALUE_OFFSET
        if entry & _LOWER_FLAG:
            if alpha < value:
                alpha = value
                if alpha >= beta:
                    return alpha
        elif value < highest:
            highest = value
    if beta > highest:
        beta = highest
        if alpha >= beta:
            return beta

    # Order the moves: more threats created first, ties centre first (stable insertion).
    count = 0
    for i in range(_WIDTH):
        move = moves & _COLUMN[_CENTRE_FIRST[i]]
        if move:
            score = _popcount(_line_completions(own | move, mask | move))
            j = count
            while j > 0 and order_scores[ply, j - 1] < score:
                order_moves[ply, j] = order_moves[ply, j - 1]
                order_scores[ply, j] = order_scores[ply, j - 1]
                j -= 1
            order_moves[ply, j] = move
            order_scores[ply, j] = score
            count += 1

    for i in range(count):
        move = order_moves[ply, i]
        score = -_negamax(
            own ^ mask,
            mask | move,
            ply + 1,
            -beta,
            -alpha,
            table,
            hash_shift,
            order_moves,
            order_scores,
            nodes,
        )
        if score >= beta:
            _store(table, bucket, key, ply, _LOWER_FLAG, score)
            return score
        if score > alpha:
            alpha = score
    _store(table, bucket, key, ply, _U(0), alpha)
    return alpha


@numba.njit(cache=True)
def _solve(own, mask, ply, weak, table, hash_shift, order_moves, order_scores, nodes):
    """The score of a position that is not over (numba entry point).

    ``weak`` only decides win, draw or loss: the answer's sign is exact, its size is not.
    """
    if _can_win_now(own, mask):
        return (_CELLS + 1 - ply) // 2
    low = -((_CELLS - ply) // 2)
    high = (_CELLS + 1 - ply) // 2
    if weak:  # "is it above -1, above 0?" needs no more than two probes
        low, high = -1, 1
    while low < high:  # binary search on the score with null-window probes
        probe = low + (high - low) // 2
        # Probe near 0 first: most positions are close to a draw, and such probes are cheap.
        if probe <= 0 and int(low / 2) < probe:
            probe = int(low / 2)
        elif probe >= 0 and int(high / 2) > probe:
            probe = int(high / 2)
        score = _negamax(
            own, mask, ply, probe, probe + 1, table, hash_shift, order_moves, order_scores, nodes
        )
        if score <= probe:
            high = score
        else:
            low = score
    return low


# --- Python API -----------------------------------------------------------------------------


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
        self._order_moves = np.zeros((_CELLS + 1, _WIDTH), dtype=np.uint64)
        self._order_scores = np.zeros((_CELLS + 1, _WIDTH), dtype=np.int64)
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
        elif ply >= _CELLS:
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
        values = np.full(_WIDTH, ILLEGAL, dtype=np.int32)
        mask = own | opp
        if _line_stones(opp) or ply >= _CELLS:
            return values
        wins = int(_line_completions(_U(own), _U(mask)))
        playable = int(_playable(_U(mask)))
        for col in range(_WIDTH):
            move = playable & int(_COLUMN[col])
            if not move:
                continue
            if move & wins:
                values[col] = (_CELLS + 1 - ply) // 2
            elif ply + 1 >= _CELLS:
                values[col] = 0
            else:
                values[col] = -self._search(opp, mask | move, ply + 1, weak)
        return np.sign(values, where=values != ILLEGAL, out=values) if weak else values

    def _search(self, own: int, mask: int, ply: int, weak: bool) -> int:
        return _solve(
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
