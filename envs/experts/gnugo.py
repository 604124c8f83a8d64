"""GNU Go as a program (:class:`GnuGo`) and as a project player (:class:`GnuGoPlayer`).

Actions are the project's: ``cell = row * size + col`` with row 0 at the top, and
``size * size`` for pass. GTP names a point by a column letter (A to T, skipping I) and a row
number counted from the bottom, so on 7x7 action 0 is ``A7`` and action 48 is ``G1``::

      A B C D E F G
    7 0 1 2 3 4 5 6 7
    6 7 . . . . . . 6
    ...
    1 . . . . . . 48 1

The engine plays by area scoring (``--chinese-rules``), capturing every dead stone before it
passes (``--capture-all-dead``, as the project's scoring counts every stone on the board),
simple ko and no suicide, GNU Go's
defaults otherwise. Stones can only reach its board through legal ``play`` moves, so
:meth:`GnuGo.set_position` orders them so that none captures (see :func:`_placement_order`).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from envs.experts.gtp import GtpClient, find_gnugo
from envs.go import GoGame, neighbour_table, parse_vertex, vertex

_COLOR_OF = {1: "black", -1: "white"}
MAX_LEVEL = 10


class GnuGo:
    """One GNU Go process, playing on a ``size`` board.

    Args:
        size: board side, 1 to 19.
        komi: points given to white; area scoring, so 7.5 is fair-ish on 7x7 and 9x9.
        level: GNU Go's strength, 0 (fastest, weakest) to 10 (its default).
        seed: GNU Go's random seed, which breaks ties between equal moves; it reseeds with
            it before each move, so a position and a seed give one move.
    """

    def __init__(self, size: int, komi: float, level: int = 0, seed: int = 0) -> None:
        if not 1 <= size <= 19:
            raise ValueError(f"GNU Go plays boards of 1 to 19, got {size}")
        if isinstance(level, bool) or level not in range(MAX_LEVEL + 1):
            raise ValueError(f"level must be a whole number from 0 to {MAX_LEVEL}, got {level!r}")
        self.size, self.komi, self.level = size, float(komi), level
        self.black_to_move = True
        # --chinese-rules: area scoring, the project's. --capture-all-dead: the project
        # scores every stone left on the board as alive (no judge removes dead ones), so
        # GNU Go must take the dead stones off before it passes, or it would pass won
        # games away.
        argv = [find_gnugo(), "--mode", "gtp", "--chinese-rules", "--capture-all-dead"]
        argv += ["--boardsize", str(size), "--komi", str(self.komi)]
        argv += ["--level", str(level), "--seed", str(int(seed))]
        self.client = GtpClient(argv)

    def clear(self) -> None:
        """Empty the board."""
        self.client.send("clear_board")
        self.black_to_move = True

    def play(self, color: str, action: int) -> None:
        """Play one move; ``GtpError`` if it is illegal."""
        self.client.send(f"play {_check_color(color)} {vertex(action, self.size)}")

    def play_moves(self, moves: list[tuple[str, int]]) -> None:
        """Play ``(color, action)`` moves in order, in one round trip."""
        self.client.send_many([f"play {_check_color(c)} {vertex(a, self.size)}" for c, a in moves])

    def genmove(self, color: str) -> int:
        """GNU Go's move for ``color``, which it also plays on its board.

        A resignation comes back as pass: the project's games have no resign action, and
        passing in a lost position ends the game as surely.
        """
        answer = self.client.send(f"genmove {_check_color(color)}")
        return (
            self.size * self.size if answer.lower() == "resign" else parse_vertex(answer, self.size)
        )

    def is_legal(self, color: str, action: int) -> bool:
        """Whether ``color`` may play ``action`` now (ko and suicide included)."""
        answer = self.client.send(f"is_legal {_check_color(color)} {vertex(action, self.size)}")
        return answer == "1"

    def set_seed(self, seed: int) -> None:
        """Reseed GNU Go's tie-breaking for the following moves."""
        self.client.send(f"set_random_seed {int(seed)}")

    def final_score(self) -> float:
        """Black's margin by GNU Go's area count with komi: ``B+3.5`` is 3.5, ``W+2`` -2."""
        return parse_score(self.client.send("final_score"))

    def showboard(self) -> str:
        """GNU Go's drawing of its board."""
        return self.client.send("showboard")

    def set_position(self, board: np.ndarray, black_to_move: bool, ko: int = -1) -> None:
        """Make GNU Go's board ``board`` (int8[size * size]: +1 black, -1 white, 0 empty).

        Args:
            board: the stones, any shape with ``size * size`` cells in cell order.
            black_to_move: remembered in :attr:`black_to_move`; GTP has no side to move,
                callers pass the colour to :meth:`genmove`.
            ko: the point the player to move may not retake now, or -1. GNU Go learns a ko
                only from a capture, so the capture is replayed: everything but the
                capturing stone, then the stone it took, then the capturing stone.

        Raises ``ValueError`` for a group without liberties or a ``ko`` that no capture
        explains. One round trip, whatever the number of stones.
        """
        board = np.asarray(board, dtype=np.int8).reshape(-1)
        if board.shape != (self.size * self.size,):
            raise ValueError(
                f"board has {board.size} cells, a {self.size}x{self.size} has {self.size**2}"
            )
        mover = 1 if black_to_move else -1
        moves = _placement_order(board, self.size)  # also checks every group has a liberty
        if ko >= 0:
            capturer = _ko_capturer(board, self.size, ko, mover)
            without = board.copy()
            without[capturer] = 0
            moves = _placement_order(without, self.size)
            moves += [(mover, ko), (-mover, capturer)]
        plays = [f"play {_COLOR_OF[c]} {vertex(a, self.size)}" for c, a in moves]
        self.client.send_many(["clear_board", *plays])
        self.black_to_move = bool(black_to_move)

    def close(self) -> None:
        """End the GNU Go process."""
        self.client.close()

    def __enter__(self) -> GnuGo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class GnuGoPlayer:
    """GNU Go as a :class:`~envs.players.Player` of a Go game.

    Args:
        game: a Go game (:class:`~envs.go.GoGame`); its komi is the engine's.
        level: GNU Go's strength, 0 to 10.

    Each position is set up on the engine and answered by ``genmove``, reseeded from the
    ``rng`` of :meth:`act`, so a run with the same generator plays the same moves. The
    process starts at the first move and is left behind by pickling (a worker starts its
    own).
    """

    def __init__(self, game: GoGame, level: int = 0) -> None:
        if isinstance(level, bool) or level not in range(MAX_LEVEL + 1):
            raise ValueError(f"level must be a whole number from 0 to {MAX_LEVEL}, got {level!r}")
        self.game = game
        self.level = level
        self.name = f"gnugo-l{level}"
        self.temperature = 0.0  # what datasets record of an expert: GNU Go plays its best
        self._engine: GnuGo | None = None

    def act(self, state: Any, rng: np.random.Generator) -> np.ndarray:
        """int64[B]: GNU Go's move in each of a batch ``[B]`` of positions."""
        size = self.game.size
        boards = np.asarray(self.game.board(state)).reshape(-1, size * size)
        to_play = np.asarray(self.game.to_play(state))
        kos = np.asarray(self.game.ko_cell(state)).reshape(-1)
        seeds = rng.integers(2**31, size=len(boards))
        engine = self._started()
        moves = np.empty(len(boards), dtype=np.int64)
        for i, black in enumerate(to_play.reshape(-1) == 0):
            engine.set_position(boards[i], black_to_move=bool(black), ko=int(kos[i]))
            engine.set_seed(int(seeds[i]))
            moves[i] = engine.genmove("black" if black else "white")
        return moves.reshape(to_play.shape)

    def policy(self, state: Any, rng: np.random.Generator | None = None) -> np.ndarray:
        """float32[B, A]: one-hot on the move :meth:`act` plays (``rng`` default: seed 0)."""
        moves = self.act(state, np.random.default_rng(0) if rng is None else rng)
        return np.eye(self.game.num_actions, dtype=np.float32)[moves]

    def close(self) -> None:
        """End the engine; the next move starts a new one."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_engine": None}

    def _started(self) -> GnuGo:
        if self._engine is None:
            self._engine = GnuGo(self.game.size, self.game.komi, level=self.level)
        return self._engine


def parse_score(text: str) -> float:
    """Black's margin from a GTP score: ``"B+3.5"`` is 3.5, ``"W+2"`` is -2.0, ``"0"`` 0."""
    name = text.strip().upper()
    if name == "0":
        return 0.0
    sign = {"B+": 1.0, "W+": -1.0}.get(name[:2])
    try:
        return sign * float(name[2:])
    except (TypeError, ValueError):
        raise ValueError(f"{text!r} is not a GTP score") from None


def _check_color(color: str) -> str:
    if color not in ("black", "white"):
        raise ValueError(f"color must be 'black' or 'white', got {color!r}")
    return color


def _neighbours(cell: int, size: int) -> list[int]:
    return [int(n) for n in neighbour_table(size)[cell] if n >= 0]


def _group(board: np.ndarray, start: int, size: int) -> list[int]:
    """The cells of the group at ``start``, breadth-first from it."""
    order, seen, queue = [], {start}, deque([start])
    while queue:
        cell = queue.popleft()
        order.append(cell)
        for n in _neighbours(cell, size):
            if n not in seen and board[n] == board[start]:
                seen.add(n)
                queue.append(n)
    return order


def _liberties(board: np.ndarray, group: list[int], size: int) -> set[int]:
    return {n for cell in group for n in _neighbours(cell, size) if board[n] == 0}


def _placement_order(board: np.ndarray, size: int) -> list[tuple[int, int]]:
    """``(colour, cell)`` moves that build ``board`` from empty without any capture.

    Each group is laid breadth-first from a stone next to an empty point. Every prefix of
    the group is then connected and keeps that point as a liberty, which no later move
    fills, so no stone is ever captured or suicidal, whatever order the groups come in.
    """
    moves: list[tuple[int, int]] = []
    placed = np.zeros(board.size, dtype=bool)
    for start in np.flatnonzero(board):
        if placed[start]:
            continue
        group = _group(board, int(start), size)
        root = next((c for c in group if _liberties(board, [c], size)), None)
        if root is None:
            raise ValueError(f"the group at cell {start} has no liberty")
        order = _group(board, root, size)
        placed[order] = True
        moves += [(int(board[root]), cell) for cell in order]
    return moves


def _ko_capturer(board: np.ndarray, size: int, ko: int, mover: int) -> int:
    """The opponent stone that just took a single stone of ``mover`` at ``ko``.

    It is a lone stone next to ``ko`` whose only liberty is ``ko``; every other neighbour
    of ``ko`` is the opponent's too (a lone stone was taken), and none of those groups
    lives by ``ko`` alone (else retaking would capture more than one stone: no ko).
    """
    if not 0 <= ko < size * size or board[ko] != 0:
        raise ValueError(f"ko point {ko} is not an empty point of the board")
    around = _neighbours(ko, size)
    if any(board[n] != -mover for n in around):
        raise ValueError(f"ko point {ko} is not surrounded by the opponent's stones")
    lone = [n for n in around if _liberties(board, _group(board, n, size), size) == {ko}]
    if len(lone) != 1 or len(_group(board, lone[0], size)) != 1:
        raise ValueError(f"no single capturing stone explains a ko at {ko}")
    return lone[0]
