"""Scripted experts: the teachers of stage 1 and the yardstick of stage 2.

- :class:`TicTacToeExpert` plays perfectly. Every position reachable from the empty board
  (5,478 of them) is solved once by memoised negamax and kept in a table indexed by the two
  bitboards, so a batch of positions is looked up in one numpy gather.
- :class:`ConnectFourExpert` searches a fixed number of plies with alpha-beta and scores the
  horizon with a positional heuristic (:mod:`envs.c4_expert_kernel`, compiled with numba).
  Its strength is the depth; its variety is a softmax temperature over the root scores.

Both follow the :class:`~envs.players.Player` protocol and add ``policy(state) -> float32[B,
A]``, the distribution their ``act`` samples from, which stage 1 imitates. Values follow the
project's sign convention: from the view of the player to move.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from envs import c4_expert_kernel as kernel
from envs import get_game
from envs.connect4 import CONNECT4
from envs.core import Game, State
from envs.players import Player, sample_masked
from envs.tictactoe import TICTACTOE

#: Depth and temperature of ``make_expert(CONNECT4)``. Depth 5 sees every tactic five plies
#: deep (six at the horizon, where a win on the spot still counts) and moves at over 10,000
#: positions/s per core, yet it leaves room above it: depth 7 scores about 0.74 against it.
#: Run ``python -m scripts.benchmark_expert`` for its speed and the whole depth ladder.
DEFAULT_DEPTH = 5
DEFAULT_TEMPERATURE = 0.0

_EXACT = 2**31  # a margin that makes every root score exact

#: ``tictactoe_action_values`` of an illegal action.
ILLEGAL_VALUE = -2


def make_expert(
    game: Game | str, *, depth: int | None = None, temperature: float | None = None
) -> Player:
    """The scripted expert of ``game``, at its default strength unless told otherwise.

    Args:
        game: a game, or its name.
        depth: Connect Four search depth in plies (default :data:`DEFAULT_DEPTH`). The
            tic-tac-toe expert is perfect and refuses a depth.
        temperature: softmax temperature over the root move scores; 0 plays a best move,
            choosing at random among equals.
    """
    if isinstance(game, str):
        game = get_game(game)
    if game.name == TICTACTOE.name:
        if depth is not None:
            raise ValueError("the tic-tac-toe expert is perfect: it takes no depth")
        return TicTacToeExpert(game, temperature=temperature or 0.0)
    if game.name == CONNECT4.name:
        return ConnectFourExpert(
            depth=DEFAULT_DEPTH if depth is None else depth,
            temperature=DEFAULT_TEMPERATURE if temperature is None else temperature,
        )
    raise ValueError(f"no scripted expert for game {game.name!r}")


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
        self.temperature = _check_temperature(temperature)
        self.name = "expert-perfect" + (f"-t{temperature:g}" if temperature > 0 else "")

    def policy(self, state: State) -> np.ndarray:
        """float32[B, 9]: the move distribution over a batch of unfinished positions."""
        solved = _solved_tictactoe()
        index = _tictactoe_index(state)
        legal = solved.values[index] != ILLEGAL_VALUE
        _refuse_finished(legal)
        if self.temperature > 0:
            return _softmax(solved.values[index].astype(np.float64), legal, self.temperature)
        return _uniform_best(solved.scores[index].astype(np.float64), legal)

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


# --- Connect Four: alpha-beta with a heuristic ---------------------------------------------


class ConnectFourExpert:
    """Depth-limited alpha-beta search with a positional heuristic.

    Args:
        depth: plies searched (>= 1); each extra ply makes it markedly stronger and slower.
        temperature: the policy is a softmax over the root move scores divided by
            ``temperature``, scores in units of one threat (an empty cell that would complete
            a four, see :mod:`envs.c4_expert_kernel`); 0 plays a best move, uniformly
            among equals.

    Whatever the temperature, it takes an immediate win when it has one, and blocks the
    opponent's immediate win when exactly one block exists.
    """

    def __init__(self, depth: int = DEFAULT_DEPTH, temperature: float = DEFAULT_TEMPERATURE):
        if isinstance(depth, bool) or not float(depth).is_integer() or depth < 1:
            raise ValueError(f"depth must be a whole number >= 1, got {depth!r}")
        self.game = CONNECT4
        self.depth = int(depth)
        self.temperature = _check_temperature(temperature)
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
        _refuse_finished(legal)
        raw = kernel.root_scores(own, opp, self.depth, self._margin).astype(np.float64)
        scores = raw / kernel.THREAT_WEIGHT
        if self.temperature > 0:
            policy = _softmax(scores, legal, self.temperature)
        else:
            policy = _uniform_best(scores, legal)
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


def _check_temperature(temperature: float) -> float:
    if not temperature >= 0 or not np.isfinite(temperature):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    return float(temperature)


def _refuse_finished(legal: np.ndarray) -> None:
    if not legal.any(axis=-1).all():
        raise ValueError("the expert was asked to move in a finished position")


def _uniform_best(scores: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """float32[B, A]: uniform over the legal actions of highest score."""
    masked = np.where(legal, scores, -np.inf)
    best = masked == masked.max(axis=-1, keepdims=True)
    return (best / best.sum(axis=-1, keepdims=True)).astype(np.float32)


def _softmax(scores: np.ndarray, legal: np.ndarray, temperature: float) -> np.ndarray:
    """float32[B, A]: softmax of ``scores / temperature`` over the legal actions."""
    masked = np.where(legal, scores / temperature, -np.inf)
    weights = np.exp(masked - masked.max(axis=-1, keepdims=True))
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)
