"""The winning line of a finished game, found through the game's own rules."""

from __future__ import annotations

import numpy as np

from envs.core import Game, LineGame, State


def winning_cells(game: Game, state: State) -> list[list[int]]:
    """The cells ``[[row, col], ...]`` (row 0 at the top, as in ``game.board``) of every
    winning line of a won position (State of shape ``()``); ``[]`` if nobody has won.

    The line length is not written here: it is the shortest straight run of the winner's
    stones that the game's rule (``game.is_won``) counts as a win, so the same code finds
    four in a row in Connect Four and three in tic-tac-toe. Two lines (or five in a row)
    give all their cells. Games not won by a line (Go) have none.
    """
    if not isinstance(game, LineGame) or not game.is_won(state):
        return []
    winner = game.cells(state.opp)  # bool[rows, cols]: the player who just moved made it
    bits = game.cell_bits.reshape(game.rows, game.cols)
    for length in range(2, max(game.rows, game.cols) + 1):
        found: set[tuple[int, int]] = set()
        for run in _straight_runs(game.rows, game.cols, length):
            if all(winner[r, c] for r, c in run):
                alone = np.bitwise_or.reduce([bits[r, c] for r, c in run])  # just this run
                if game.is_won(State(np.uint64(0), np.uint64(alone), np.int32(length))):
                    found.update(run)
        if found:
            return [list(cell) for cell in sorted(found)]
    return []


def _straight_runs(rows: int, cols: int, length: int) -> list[tuple[tuple[int, int], ...]]:
    """Every run of ``length`` cells along a row, a column or a diagonal of the board."""
    runs = []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        for r in range(rows):
            for c in range(cols):
                run = tuple((r + i * dr, c + i * dc) for i in range(length))
                if all(0 <= rr < rows and 0 <= cc < cols for rr, cc in run):
                    runs.append(run)
    return runs
