"""Connect Four rules on bitboards (7 columns, 6 rows, gravity, four in a row).

The bitboard gives each column 7 bits: 6 cells from the bottom up plus one always-empty
sentinel bit on top, so that shifting a line of stones never wraps into the next column::

     5 12 19 26 33 40 47      <- top row       (sentinels: 6 13 20 27 34 41 48)
     4 11 18 25 32 39 46
     3 10 17 24 31 38 45
     2  9 16 23 30 37 44
     1  8 15 22 29 36 43
     0  7 14 21 28 35 42      <- bottom row
     1  2  3  4  5  6  7      <- notation: the column, 1-indexed

A game is the string of columns played from the empty board, e.g. ``"4453"``, as in the
well-known Connect Four solvers.
"""

from __future__ import annotations

import numpy as np

from envs.core import LineGame, Symmetry, permutation_from_grid

ROWS, COLS = 6, 7
_H1 = ROWS + 1  # bits per column, sentinel included
_U1 = np.uint64(1)
_BOTTOM = np.array([1 << (c * _H1) for c in range(COLS)], dtype=np.uint64)
_TOP = np.array([1 << (c * _H1 + ROWS - 1) for c in range(COLS)], dtype=np.uint64)
_COLUMN = np.array([((1 << ROWS) - 1) << (c * _H1) for c in range(COLS)], dtype=np.uint64)
# cell = row * COLS + col with row 0 at the top, so its height above the floor is 5 - row.
_CELL_BITS = np.array(
    [1 << (c * _H1 + ROWS - 1 - r) for r in range(ROWS) for c in range(COLS)], dtype=np.uint64
)
# A line of four along direction d (in bits): vertical 1, horizontal 7, diagonals 6 and 8.
_DIRECTIONS = tuple(np.uint64(d) for d in (1, _H1, _H1 - 1, _H1 + 1))


def _mirror() -> tuple[Symmetry, ...]:
    grid = np.arange(ROWS * COLS).reshape(ROWS, COLS)
    identity = Symmetry("identity", np.arange(ROWS * COLS), np.arange(COLS))
    mirror = Symmetry(
        "mirror", permutation_from_grid(np.fliplr(grid)), np.arange(COLS)[::-1].copy()
    )
    return (identity, mirror)


class ConnectFour(LineGame):
    name = "connect4"
    rows = ROWS
    cols = COLS
    num_actions = COLS
    cell_bits = _CELL_BITS
    symmetries = _mirror()
    occupied_message = "column {move} is full"

    def _legal(self, own: np.ndarray, opp: np.ndarray) -> np.ndarray:
        return (np.asarray(own | opp)[..., None] & _TOP) == 0

    def _apply(self, own: np.ndarray, opp: np.ndarray, action: np.ndarray) -> np.ndarray:
        # Adding a column's bottom bit to the occupied cells carries up to the first empty
        # cell of that column: the stone lands on top of the pile.
        landed = ((own | opp) + _BOTTOM[action]) & _COLUMN[action]
        return own | landed

    def _has_line(self, bits: np.ndarray) -> np.ndarray:
        bits = np.asarray(bits, dtype=np.uint64)
        found = np.zeros(bits.shape, dtype=bool)
        for d in _DIRECTIONS:
            pairs = bits & (bits >> d)
            found |= (pairs & (pairs >> (d + d))) != 0
        return found

    def parse_move(self, token: str) -> int:
        if len(token) != 1 or token not in "1234567":
            raise ValueError(f"{token!r} is not a column 1..7")
        return int(token) - 1

    def format_move(self, action: int) -> str:
        return str(action + 1)

    def _render_footer(self) -> list[str]:
        return [" ".join(self.format_move(a) for a in range(self.cols))]


CONNECT4 = ConnectFour()
