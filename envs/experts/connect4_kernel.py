"""The Connect Four expert's search: depth-limited alpha-beta negamax on bitboards, in numba.

The bitboard layout is the one of :mod:`envs.connect4` (bit ``col * 7 + height``, bit
``col * 7 + 6`` an always-empty sentinel). Scores are integers from the view of the player to
move (the project's one sign convention):

- a win is worth ``WIN - stones`` (``stones`` on the board once the winning stone is down),
  so a sooner win scores higher and a later loss scores less badly;
- a full board is a draw, 0;
- a position at the search horizon gets the positional heuristic :func:`_heuristic`, unless
  the player to move can win at once (then it is scored as that win: a one-ply look-ahead
  that costs one line test per column and stops the horizon from hiding a threat).

The heuristic counts, for each side, its *threats* (empty cells that would complete a four,
worth more on the rows where they tend to pay off: odd rows from the bottom for the first
player, even rows for the second), its open twos (windows of four holding two of its stones
and no enemy stone) and its stones in the centre column, and subtracts the opponent's.

:func:`root_scores` searches a whole batch in one call, so the expert's ``act`` on ``B``
positions is one trip into compiled code. Each root move is searched separately, with a
window that makes its score exact when it is near the best (the expert's softmax over root
scores needs those), while clearly worse moves are only proven worse, which is cheaper.

Everything here is compiled once per machine (``cache=True``); the module keeps to a handful
of functions with one signature each so that the compile stays short.
"""

from __future__ import annotations

import numpy as np
from numba import njit

ROWS, COLS = 6, 7
_H1 = ROWS + 1  # bits per column, sentinel included

WIN = 100_000  # beyond any heuristic score
ILLEGAL = -(2**30)  # the score of a full column
INF = 2**30 + 1
MAX_STONES = ROWS * COLS

#: Heuristic weights. The expert reads scores in units of THREAT_WEIGHT.
THREAT_WEIGHT = 5  # per empty cell that would complete a four
PARITY_WEIGHT = 3  # extra per threat on a row of its owner's parity
TWO_WEIGHT = 2  # per window of four with two of our stones and two empty cells
CENTRE_WEIGHT = 3  # per stone in the centre column, which lies in the most windows

_U0 = np.uint64(0)
_BOTTOM = np.array([1 << (c * _H1) for c in range(COLS)], dtype=np.uint64)
_TOP = np.array([1 << (c * _H1 + ROWS - 1) for c in range(COLS)], dtype=np.uint64)
_COLUMN = np.array([((1 << ROWS) - 1) << (c * _H1) for c in range(COLS)], dtype=np.uint64)
_BOARD = np.uint64(sum(((1 << ROWS) - 1) << (c * _H1) for c in range(COLS)))
_CENTRE = _COLUMN[COLS // 2]
_ODD = np.uint64(sum(0b010101 << (c * _H1) for c in range(COLS)))  # heights 0, 2, 4
_EVEN = np.uint64(sum(0b101010 << (c * _H1) for c in range(COLS)))  # heights 1, 3, 5
#: Centre columns first: good moves early make alpha-beta cut more.
_ORDER = np.array([3, 2, 4, 1, 5, 0, 6], dtype=np.int64)

# A window of four is named by its lowest bit ``s`` and a direction ``d`` (bits: vertical 1,
# horizontal 7, diagonals 6 and 8); its cells are s, s+d, s+2d, s+3d. ``_STARTS[i]`` has a
# bit at every ``s`` whose window lies wholly on the board along ``_SHIFTS[i]``.
_SHIFTS = np.array([1, _H1, _H1 - 1, _H1 + 1], dtype=np.uint64)


def _window_starts(d_col: int, d_height: int) -> int:
    bits = 0
    for col in range(COLS):
        for height in range(ROWS):
            ends = [(col + k * d_col, height + k * d_height) for k in range(4)]
            if all(0 <= c < COLS and 0 <= h < ROWS for c, h in ends):
                bits |= 1 << (col * _H1 + height)
    return bits


_STARTS = np.array(
    [_window_starts(0, 1), _window_starts(1, 0), _window_starts(1, -1), _window_starts(1, 1)],
    dtype=np.uint64,
)


@njit(cache=True)
def _popcount(x: np.uint64) -> np.int64:
    # The classic SWAR bit count (numba has no portable popcount intrinsic).
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True)
def _has_line(bits: np.uint64) -> bool:
    for i in range(4):
        d = _SHIFTS[i]
        pairs = bits & (bits >> d)
        if pairs & (pairs >> (d + d)):
            return True
    return False


@njit(cache=True)
def _windows(mine: np.uint64, theirs: np.uint64) -> tuple[np.uint64, np.int64]:
    """The empty cells that would complete a four of ``mine``, and the open twos."""
    free = ~theirs & _BOARD
    threats = _U0
    twos_count = 0
    for i in range(4):
        d = _SHIFTS[i]
        open_ = free & (free >> d) & (free >> (d + d)) & (free >> (d + d + d)) & _STARTS[i]
        a, b, c, e = mine, mine >> d, mine >> (d + d), mine >> (d + d + d)
        # Add four one-bit numbers bit-sliced, for all windows at once: (high, low) pairs.
        low1, high1 = a ^ b, a & b
        low2, high2 = c ^ e, c & e
        carry = low1 & low2
        ones = low1 ^ low2  # bit 0 of the count
        twos = high1 ^ high2 ^ carry  # bit 1 of the count
        fours = (high1 & high2) | ((high1 ^ high2) & carry)  # bit 2 of the count
        three = open_ & ones & twos & ~fours
        two = open_ & ~ones & twos & ~fours
        threats |= (three & ~a) | ((three & ~b) << d) | ((three & ~c) << (d + d))
        threats |= (three & ~e) << (d + d + d)
        twos_count += _popcount(two)
    return threats, twos_count


@njit(cache=True)
def _heuristic(own: np.uint64, opp: np.uint64, stones: np.int64) -> np.int64:
    """Positional score of a quiet position for the player to move (own)."""
    own_threats, own_twos = _windows(own, opp)
    opp_threats, opp_twos = _windows(opp, own)
    # Threats on the rows that favour their owner (odd rows for the first player).
    own_rows, opp_rows = (_ODD, _EVEN) if stones % 2 == 0 else (_EVEN, _ODD)
    score = THREAT_WEIGHT * (_popcount(own_threats) - _popcount(opp_threats))
    score += PARITY_WEIGHT * (_popcount(own_threats & own_rows) - _popcount(opp_threats & opp_rows))
    score += TWO_WEIGHT * (own_twos - opp_twos)
    score += CENTRE_WEIGHT * (_popcount(own & _CENTRE) - _popcount(opp & _CENTRE))
    return score


# An explicit signature: numba's cache has crashed on reloading a recursive function
# compiled for several argument types (numba issue #6713), so this one gets exactly one.
@njit("int64(uint64, uint64, int64, int64, int64, int64)", cache=True)
def _negamax(
    own: np.uint64,
    opp: np.uint64,
    stones: np.int64,
    depth: np.int64,
    alpha: np.int64,
    beta: np.int64,
) -> np.int64:
    """Score of the position for the player to move, searching ``depth`` more plies.

    Fail-soft alpha-beta: exact when the result lies strictly inside (alpha, beta).
    """
    occupied = own | opp
    for c in range(COLS):  # a win on the spot ends the search, at any depth
        if (occupied & _TOP[c]) == _U0:
            landed = (occupied + _BOTTOM[c]) & _COLUMN[c]
            if _has_line(own | landed):
                return WIN - (stones + 1)
    if stones + 1 >= MAX_STONES:  # the last stone cannot win (checked above): a draw
        return 0
    if depth <= 0:
        return _heuristic(own, opp, stones)
    best = -INF
    for i in range(COLS):
        c = _ORDER[i]
        if (occupied & _TOP[c]) != _U0:
            continue
        landed = (occupied + _BOTTOM[c]) & _COLUMN[c]
        score = -_negamax(opp, own | landed, stones + 1, depth - 1, -beta, -alpha)
        if score > best:
            best = score
            if score > alpha:
                alpha = score
                if alpha >= beta:
                    break
    return best


@njit(cache=True)
def root_scores(own: np.ndarray, opp: np.ndarray, depth: np.int64, margin: np.int64) -> np.ndarray:
    """int64[B, 7]: the depth-``depth`` score of every move of a batch of positions.

    Args:
        own: uint64[B] stones of the player to move.
        opp: uint64[B] stones of the player who just moved.
        depth: plies searched, the root move included (>= 1). Depth 1 scores each move by
            the heuristic after it, having looked whether the opponent can then win at once.
        margin: how far below the best score a move's score must still be exact. A move
            scoring lower may get any score that is at least its true one and below
            ``best - margin`` (the search stops as soon as it knows the move is that bad).
            0 is enough to find all the best moves; a large margin makes every score exact.

    Returns:
        Scores from the view of the player to move; ``ILLEGAL`` for a full column.
    """
    n = own.shape[0]
    out = np.full((n, COLS), ILLEGAL, dtype=np.int64)
    for b in range(n):
        occupied = own[b] | opp[b]
        stones = _popcount(occupied)
        best = -INF
        for i in range(COLS):
            c = _ORDER[i]
            if (occupied & _TOP[c]) != _U0:
                continue
            landed = (occupied + _BOTTOM[c]) & _COLUMN[c]
            mine = own[b] | landed
            if _has_line(mine):
                score = WIN - (stones + 1)
            elif stones + 1 >= MAX_STONES:
                score = 0
            else:
                # Exact above alpha; a move at or below alpha only needs to be shown so.
                alpha = max(best - margin - 1, -INF)
                score = -_negamax(opp[b], mine, stones + 1, depth - 1, -INF, -alpha)
            out[b, c] = score
            best = max(best, score)
    return out
