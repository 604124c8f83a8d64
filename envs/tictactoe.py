"""Tic-tac-toe rules on 9-bit bitboards.

Cells and bits are the same numbers, and the notation names a cell 1..9 row by row::

    1 2 3        bit 0 1 2
    4 5 6            3 4 5
    7 8 9            6 7 8

A game is the string of cells played, e.g. ``"519"``.
"""

from __future__ import annotations

import numpy as np

from envs.core import LineGame, square_symmetries

_CELL_BITS = np.left_shift(np.uint64(1), np.arange(9, dtype=np.uint64))
# The eight winning lines as bitmasks, computed once.
_LINES = np.array(
    [
        sum(1 << c for c in line)
        for line in [
            (0, 1, 2),
            (3, 4, 5),
            (6, 7, 8),
            (0, 3, 6),
            (1, 4, 7),
            (2, 5, 8),
            (0, 4, 8),
            (2, 4, 6),
        ]
    ],
    dtype=np.uint64,
)


class TicTacToe(LineGame):
    name = "tictactoe"
    rows = 3
    cols = 3
    num_actions = 9
    cell_bits = _CELL_BITS
    symmetries = square_symmetries(3)
    occupied_message = "cell {move} is taken"

    def _legal(self, own: np.ndarray, opp: np.ndarray) -> np.ndarray:
        return (np.asarray(own | opp)[..., None] & _CELL_BITS) == 0

    def _apply(self, own: np.ndarray, opp: np.ndarray, action: np.ndarray) -> np.ndarray:
        return own | _CELL_BITS[action]

    def _has_line(self, bits: np.ndarray) -> np.ndarray:
        return ((np.asarray(bits)[..., None] & _LINES) == _LINES).any(axis=-1)

    def parse_move(self, token: str) -> int:
        if len(token) != 1 or token not in "123456789":
            raise ValueError(f"{token!r} is not a cell 1..9")
        return int(token) - 1

    def format_move(self, action: int) -> str:
        return str(action + 1)

    def _empty_glyph(self, cell: int) -> str:
        return str(cell + 1)


TICTACTOE = TicTacToe()
