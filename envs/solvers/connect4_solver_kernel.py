"""The compiled search of the Connect Four solver (:mod:`envs.solvers.connect4_solver`):
bitboard negamax with alpha-beta and a transposition table, compiled with numba.

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

#: Columns and cells of the board; :data:`COLUMN` holds the bits of each column.
WIDTH, _HEIGHT, CELLS = 7, 6, 42
_U = np.uint64
_BOTTOM = _U(sum(1 << (7 * c) for c in range(WIDTH)))
_BOARD = _U(_BOTTOM * _U((1 << _HEIGHT) - 1))
COLUMN = np.array([((1 << _HEIGHT) - 1) << (7 * c) for c in range(WIDTH)], dtype=np.uint64)
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
def line_completions(stones: np.uint64, mask: np.uint64) -> np.uint64:
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
def playable_cells(mask: np.uint64) -> np.uint64:
    """The lowest empty cell of every column that is not full."""
    return (mask + _BOTTOM) & _BOARD


@numba.njit(cache=True)
def _can_win_now(own: np.uint64, mask: np.uint64) -> bool:
    return (line_completions(own, mask) & playable_cells(mask)) != 0


@numba.njit(cache=True, inline="always")
def _mirrored(bits: np.uint64) -> np.uint64:
    """The bitboard reflected left to right (column c becomes column 6 - c)."""
    out = _U(0)
    for c in range(WIDTH):
        out |= ((bits >> _U(7 * c)) & _U(0x7F)) << _U(7 * (WIDTH - 1 - c))
    return out


@numba.njit(cache=True)
def _non_losing_moves(own: np.uint64, mask: np.uint64) -> np.uint64:
    """Moves (as landing cells) after which the opponent cannot win at once; 0 if none.

    Assumes the mover cannot win at once (the caller checks that first).
    """
    playable = playable_cells(mask)
    threats = line_completions(own ^ mask, mask)
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
        return -((CELLS - ply) // 2)  # every move lets the opponent win next turn
    if ply >= CELLS - 2:
        return 0  # neither side can win with the last two stones
    # The opponent cannot win on their next stone, nor the mover on this one: bounds.
    lowest = -((CELLS - 2 - ply) // 2)
    if alpha < lowest:
        alpha = lowest
        if alpha >= beta:
            return alpha
    highest = (CELLS - 1 - ply) // 2
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
    for i in range(WIDTH):
        move = moves & COLUMN[_CENTRE_FIRST[i]]
        if move:
            score = _popcount(line_completions(own | move, mask | move))
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
def solve_score(own, mask, ply, weak, table, hash_shift, order_moves, order_scores, nodes):
    """The score of a position that is not over (numba entry point).

    ``weak`` only decides win, draw or loss: the answer's sign is exact, its size is not.
    """
    if _can_win_now(own, mask):
        return (CELLS + 1 - ply) // 2
    low = -((CELLS - ply) // 2)
    high = (CELLS + 1 - ply) // 2
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
