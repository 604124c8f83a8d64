"""Go on a small square board (7x7 by default, 9x9 and others on request).

A position (:class:`~envs.core.State`) is ``own``/``opp``, bool[..., cells], the stones of the
player to move and of the player who just moved; ``ply``, the moves played, passes included
(Black moves on even plies); and ``aux``, int16[..., 2]: the ko point (-1 for none) and the
passes in a row. Actions are the points, ``cell = row * size + col`` with row 0 at the top,
and one more, :attr:`GoGame.pass_action`.

The rules, and why these:

- **Simple ko**: a single stone just captured may not be retaken at once. Positional superko
  forbids repeating any earlier board, which needs the game's history, not just the position
  this pure state holds; simple ko is what GNU Go plays by default, and the move limit ends
  the rare longer cycles.
- **Suicide is illegal** (as in Chinese, Japanese and AGA rules).
- **The end**: two passes in a row, or :attr:`GoGame.max_moves` moves (twice the points:
  GNU Go's games on 7x7 last about 50), then **area scoring** (stones plus the empty
  regions that only one colour borders) with komi to White. Every stone on the board counts
  as alive: the players settle the dead stones by playing on, as under the Tromp-Taylor
  rules, which is how self-play scores its games without a judge.
- **Komi**: :data:`DEFAULT_KOMI`, per size. 7x7 Go is solved (Davies; Li and Wu): Black wins by
  9 points with perfect play, so a komi of 9 makes a perfect game a draw.

Notation is the Go Text Protocol's (GTP): a letter for the column from the left, skipping
``I``, and a number for the row counted from the bottom, e.g. ``D4``, or ``pass``. A game is
the moves separated by spaces: ``GO7.parse("D4 C3 pass")``.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

import numpy as np

from envs.core import Game, State, Symmetry, square_symmetries

#: Komi per board size (White's compensation, in points).
DEFAULT_KOMI = {5: 24.0, 7: 9.0, 9: 7.0}
COLUMNS = "ABCDEFGHJKLMNOPQRST"  # GTP's column letters: no I
_KO, _PASSES = 0, 1  # the aux fields
_OWN, _OPP = 1, 2  # the colours of the kernel's boards (envs.go_kernel)


def vertex(action: int, size: int) -> str:
    """The GTP vertex of an action on a ``size`` board (``pass`` for the pass)."""
    if action == size * size:
        return "pass"
    if not 0 <= action < size * size:
        raise ValueError(f"action {action} is outside 0..{size * size} on a {size}x{size} board")
    row, col = divmod(int(action), size)
    return f"{COLUMNS[col]}{size - row}"


def parse_vertex(text: str, size: int) -> int:
    """The action of a GTP vertex such as ``D4`` or ``pass`` (any case); ``ValueError`` else."""
    token = text.strip().upper()
    if token == "PASS":
        return size * size
    col = COLUMNS.find(token[:1]) if token else -1
    if col < 0 or col >= size or not token[1:].isdigit():
        raise ValueError(f"{text!r} is not a point of a {size}x{size} board (e.g. A1, pass)")
    number = int(token[1:])
    if not 1 <= number <= size:
        raise ValueError(f"{text!r} is not a point of a {size}x{size} board (rows 1..{size})")
    return (size - number) * size + col


@functools.cache
def _kernel() -> ModuleType:
    """The compiled board logic (:mod:`envs.go_kernel`), imported at the first move, so that
    loading the games (every script's ``--help``) doesn't load numba."""
    return importlib.import_module("envs.go_kernel")


@functools.cache
def neighbour_table(size: int) -> np.ndarray:
    """int64[cells, 4]: the points next to each point (up, down, left, right), -1 padded
    (shared, so read-only)."""
    table = np.full((size * size, 4), -1, dtype=np.int64)
    for row in range(size):
        for col in range(size):
            around = [(row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1)]
            for k, (r, c) in enumerate(around):
                if 0 <= r < size and 0 <= c < size:
                    table[row * size + col, k] = r * size + c
    table.flags.writeable = False
    return table


class GoGame(Game):
    """Go on a ``size`` x ``size`` board (see the module docstring for the rules).

    Args:
        size: the board's side, 2..19.
        komi: White's compensation; :data:`DEFAULT_KOMI` for the size when None.
        max_moves: the move limit, passes included; twice the points when None.
    """

    stone_chars = ("X", "O")  # Black, White
    occupied_message = "move {move} is illegal (occupied, suicide or ko)"
    #: Observation planes: own stones, opponent stones, the ko point, a plane of ones when
    #: Black is to move (komi makes the colours unequal), and a plane of ones when the last
    #: move was a pass (then passing ends the game, so the score decides).
    num_planes = 5
    separator = " "

    def __init__(self, size: int = 7, komi: float | None = None, max_moves: int | None = None):
        if not 2 <= size <= len(COLUMNS):
            raise ValueError(f"board size must be 2..{len(COLUMNS)}, got {size}")
        self.size = self.rows = self.cols = size
        self.komi = float(DEFAULT_KOMI.get(size, 7.0) if komi is None else komi)
        self._max_moves = 2 * size * size if max_moves is None else int(max_moves)
        if self._max_moves < 1:
            raise ValueError(f"max_moves must be >= 1, got {max_moves}")
        self.name = f"go{size}" if komi is None and max_moves is None else f"go{size}-custom"
        self.num_actions = size * size + 1
        self.pass_action = size * size
        self.symmetries = square_symmetries(size, extra_actions=1)  # the pass stays the pass
        self._neighbours = neighbour_table(size)

    @property
    def max_moves(self) -> int:
        """The move limit, passes included (see the module docstring)."""
        return self._max_moves

    # --- the rules -----------------------------------------------------------------------

    def initial_state(self, batch: int | tuple[int, ...] = ()) -> State:
        shape = (batch,) if isinstance(batch, int) else tuple(batch)
        empty = np.zeros((*shape, self.num_cells), dtype=bool)
        aux = np.zeros((*shape, 2), dtype=np.int16)
        aux[..., _KO] = -1
        return State(empty, empty.copy(), np.zeros(shape, dtype=np.int32), aux)

    def is_terminal(self, state: State) -> np.ndarray:
        return (state.aux[..., _PASSES] >= 2) | (state.ply >= self.max_moves)

    def legal_mask(self, state: State) -> np.ndarray:
        boards, batch = self._boards(state)
        ko = state.aux[..., _KO].reshape(-1).astype(np.int64)
        points = _kernel().legal_points(boards, ko, self._neighbours)
        points = points.reshape(*batch, self.num_cells)
        legal = np.concatenate([points, np.ones((*batch, 1), dtype=bool)], axis=-1)
        return legal & ~self.is_terminal(state)[..., None]

    def step(self, state: State, action: np.ndarray | int) -> State:
        action = np.broadcast_to(np.asarray(action, dtype=np.int64), state.shape)
        boards, batch = self._boards(state)
        passed = action.reshape(-1) == self.pass_action
        # A pass leaves the board as it is; the kernel plays the stones of the others.
        stones = np.nonzero(~passed)[0]
        ko = np.full(len(passed), -1, dtype=np.int64)
        if len(stones):
            moved = boards[stones]
            ko[stones] = _kernel().play_stones(moved, action.reshape(-1)[stones], self._neighbours)
            boards[stones] = moved
        boards = boards.reshape(*batch, self.num_cells)
        aux = np.empty((*batch, 2), dtype=np.int16)
        aux[..., _KO] = ko.reshape(batch)
        aux[..., _PASSES] = np.where(passed.reshape(batch), state.aux[..., _PASSES] + 1, 0)
        # The mover's stones become the opponent's of the next player to move.
        return State(boards == _OPP, boards == _OWN, state.ply + 1, aux)

    def score(self, state: State) -> np.ndarray:
        """float32[...]: the area score's margin for the player to move, komi included."""
        boards, batch = self._boards(state)
        margin = _kernel().area_scores(boards, self._neighbours).reshape(batch).astype(np.float32)
        white_to_move = self.to_play(state) == 1
        return margin + np.where(white_to_move, self.komi, -self.komi).astype(np.float32)

    def terminal_value(self, state: State) -> np.ndarray:
        # Score only the finished games: the search asks this of every leaf it reaches.
        over = self.is_terminal(state)
        value = np.zeros(state.shape, dtype=np.float32)
        if over.any():
            value[over] = np.sign(self.score(state[over]))
        return value

    def ko_cell(self, state: State) -> np.ndarray:
        """int[...]: the point the player to move may not take back at once, -1 for none."""
        return state.aux[..., _KO].astype(np.int64)

    def _boards(self, state: State) -> tuple[np.ndarray, tuple[int, ...]]:
        """int8[B, cells] boards in the kernel's colours (the batch flattened), and the batch."""
        batch = state.shape
        boards = state.own.astype(np.int8) * _OWN + state.opp.astype(np.int8) * _OPP
        return np.ascontiguousarray(boards.reshape(-1, self.num_cells)), batch

    # --- how a position looks ---------------------------------------------------------------

    def board(self, state: State) -> np.ndarray:
        sign = np.where(self.to_play(state) == 0, 1, -1).astype(np.int8)[..., None]
        stones = (state.own.astype(np.int8) - state.opp.astype(np.int8)) * sign
        return stones.reshape(*state.shape, self.size, self.size)

    def observation(self, state: State) -> np.ndarray:
        batch = state.shape
        ko = self.ko_cell(state)
        ko_plane = np.zeros((*batch, self.num_cells), dtype=bool)
        np.put_along_axis(ko_plane, np.maximum(ko, 0)[..., None], (ko >= 0)[..., None], axis=-1)
        black = np.broadcast_to((self.to_play(state) == 0)[..., None], ko_plane.shape)
        passed = np.broadcast_to((state.aux[..., _PASSES] > 0)[..., None], ko_plane.shape)
        planes = np.stack([state.own, state.opp, ko_plane, black, passed], axis=-2)
        return planes.reshape(*batch, self.num_planes, self.size, self.size).astype(np.float32)

    def transform_state(self, state: State, sym: Symmetry) -> State:
        def moved(stones: np.ndarray) -> np.ndarray:
            out = np.empty_like(stones)
            out[..., sym.cell_perm] = stones
            return out

        aux = state.aux.copy()
        ko = state.aux[..., _KO]
        aux[..., _KO] = np.where(ko >= 0, sym.cell_perm[np.maximum(ko, 0)], -1)
        return State(moved(state.own), moved(state.opp), state.ply, aux)

    # --- notation ------------------------------------------------------------------------

    def parse_move(self, token: str) -> int:
        return parse_vertex(token, self.size)

    def format_move(self, action: int) -> str:
        return vertex(action, self.size)

    def tokens(self, notation: str) -> list[str]:
        return notation.replace(",", " ").split()

    def render(self, state: State) -> str:
        """The board with GTP coordinates: columns lettered below, rows numbered at the left."""
        drawn = super().render(state).splitlines()
        width = len(str(self.size))
        rows = [f"{self.size - r:>{width}} {line}" for r, line in enumerate(drawn)]
        return "\n".join([*rows, " " * (width + 1) + " ".join(COLUMNS[: self.size])])

    def __repr__(self) -> str:
        return f"<Game {self.name} komi={self.komi:g}>"


GO7 = GoGame(7)
GO9 = GoGame(9)
