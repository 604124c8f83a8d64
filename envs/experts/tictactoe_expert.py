"""The tic-tac-toe expert: perfect play from a solved table.

Every position reachable from the empty board (5,478 of them) is solved once by memoised
negamax and kept in a table indexed by the two bitboards, so a batch of positions is looked
up in one numpy gather. Values follow the project's sign convention: from the view of the
player to move.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from envs.core import Game, State
from envs.experts.common import check_temperature, refuse_finished, softmax, uniform_best
from envs.players import sample_masked
from envs.profile import ILLEGAL
from envs.tictactoe import TICTACTOE

#: ``tictactoe_action_values`` of an illegal action: a grader's (the table is one).
ILLEGAL_VALUE = ILLEGAL

# --- tic-tac-toe: a solved table --------------------------------------------------------------


def tictactoe_action_values(state: State) -> np.ndarray:
    """int8[..., 9]: the game-theoretic value of every action for the player to move.

    +1 the action wins with best play on both sides, 0 draws, -1 loses; illegal actions
    (and every action of a finished position) are :data:`ILLEGAL_VALUE`.
    """
    return _solved_tictactoe().values[_tictactoe_index(state)]


class TicTacToeExpert:
    """Perfect play: a best move, chosen uniformly among equals.

    Among winning moves it prefers the quickest win, and among losing moves the slowest loss,
    as a person would. With ``temperature > 0`` it instead samples from a softmax over the
    exact values (+1, 0, -1) divided by the temperature, and so can make mistakes.
    """

    def __init__(self, game: Game = TICTACTOE, temperature: float = 0.0) -> None:
        if game.name != TICTACTOE.name:
            raise ValueError(f"TicTacToeExpert plays tic-tac-toe, not {game.name}")
        self.game = game
        self.temperature = check_temperature(temperature)
        self.name = "expert-perfect" + (f"-t{temperature:g}" if temperature > 0 else "")

    def policy(self, state: State) -> np.ndarray:
        """float32[B, 9]: the move distribution over a batch of unfinished positions."""
        solved = _solved_tictactoe()
        index = _tictactoe_index(state)
        legal = solved.values[index] != ILLEGAL_VALUE
        refuse_finished(legal)
        if self.temperature > 0:
            return softmax(solved.values[index].astype(np.float64), legal, self.temperature)
        return uniform_best(solved.scores[index].astype(np.float64), legal)

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        """int64[B]: one move per position, sampled from :meth:`policy`."""
        return sample_masked(self.policy(state), rng)


def _tictactoe_index(state: State) -> np.ndarray:
    """int64[...]: the row of each position in the solved tables (``own | opp << 9``)."""
    own = np.asarray(state.own, dtype=np.uint64)
    opp = np.asarray(state.opp, dtype=np.uint64)
    index = (own | (opp << np.uint64(9))).astype(np.int64)
    if np.any((own | opp) >> np.uint64(9)) or not _solved_tictactoe().reachable[index].all():
        raise ValueError("not a tic-tac-toe position reachable from the empty board")
    return index


@dataclass(frozen=True)
class _SolvedTicTacToe:
    """The solved game, one row per ``own | opp << 9`` (2**18 rows, 5,478 reachable).

    Attributes:
        values: int8[R, 9] as returned by :func:`tictactoe_action_values`.
        scores: int8[R, 9] a finer ranking: a win on the n-th stone of the game scores
            ``10 - n`` (the sooner the better), a loss its negative, a draw 0, an illegal
            action ``_NO_SCORE``.
        reachable: bool[R] the rows of positions reachable from the empty board.
    """

    values: np.ndarray
    scores: np.ndarray
    reachable: np.ndarray


_NO_SCORE = -100


@functools.cache
def _solved_tictactoe() -> _SolvedTicTacToe:
    # has_line[bits]: whether the 9-bit pattern ``bits`` holds a line.
    has_line = TICTACTOE._has_line(np.arange(512, dtype=np.uint64))
    scores = np.full((1 << 18, 9), _NO_SCORE, dtype=np.int8)
    reachable = np.zeros(1 << 18, dtype=bool)
    best: dict[int, int] = {}

    def solve(own: int, opp: int) -> int:
        """The best score for the player to move (negamax), filling the tables on the way."""
        index = own | opp << 9
        if not reachable[index]:
            reachable[index] = True
            stones = (own | opp).bit_count()
            if has_line[opp]:
                best[index] = -(10 - stones)  # the previous mover won with stone ``stones``
            elif stones == 9:
                best[index] = 0
            else:
                for cell in range(9):
                    if not (own | opp) >> cell & 1:
                        scores[index, cell] = -solve(opp, own | 1 << cell)
                best[index] = int(scores[index].max())
        return best[index]

    solve(0, 0)
    values = np.where(scores == _NO_SCORE, ILLEGAL_VALUE, np.sign(scores)).astype(np.int8)
    return _SolvedTicTacToe(values, scores, reachable)
