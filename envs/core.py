"""What every game shares: the state, the sign convention, and the game interface.

A position is a few small arrays (:class:`State`): the stones of the player to move, the
stones of the player who just moved, the number of moves played, and, for a game whose
position holds more than its stones (Go's ko and passes), one small array more. Every field
carries any leading batch shape, so the same pure functions step one game (shape ``()``) or
ten thousand (shape ``(B,)``) in one numpy call. Nothing here mutates its input.

Sign convention (the only one in the project): **values and outcomes are from the point of
view of the player to move.** A terminal position where the previous mover completed a line
is worth -1 to the player now to move; a full board with no line is worth 0; a Go game
scored in favour of the player to move is worth +1.

Cells are numbered row by row from the top-left corner, ``cell = row * cols + col``, which is
how boards are drawn, rendered and fed to networks. The line games map cells to bits of their
own bitboard layout through ``cell_bits``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class State:
    """A batch of positions (any leading shape, ``()`` for one game).

    Attributes:
        own: the stones of the player to move: uint64[...] bitboards for the line games,
            or an array with trailing axes of a game's own layout (Go: bool[..., cells]).
        opp: the stones of the player who just moved, laid out as ``own``.
        ply: int32[...] moves played from the start (stones on the board in the line games).
        aux: int16[..., k] what else a game's position holds (Go: the ko cell and the passes
            in a row), or None for games whose stones say everything.

    The batch shape is ``ply``'s; ``state[i]`` or ``state[mask]`` indexes the batch, as it
    would a numpy array.
    """

    own: np.ndarray
    opp: np.ndarray
    ply: np.ndarray
    aux: np.ndarray | None = None

    # The only code that touches the fields one by one: everything else goes through these,
    # so a game with another layout changes nothing outside its rules.

    def fields(self) -> dict[str, np.ndarray]:
        """The arrays of this batch by name (``aux`` only where the game has one)."""
        named = {"own": self.own, "opp": self.opp, "ply": self.ply}
        if self.aux is not None:
            named["aux"] = self.aux
        return named

    def _map(self, fn) -> State:
        return State(**{name: fn(array) for name, array in self.fields().items()})

    def __getitem__(self, index) -> State:
        return self._map(lambda array: array[index])

    def __len__(self) -> int:
        return len(self.ply)

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.ply)

    @staticmethod
    def stack(states: list[State]) -> State:
        """Stack single positions (or batches) into one batch along a new leading axis."""
        names = states[0].fields()
        return State(**{n: np.stack([s.fields()[n] for s in states]) for n in names})

    @staticmethod
    def concat(states: list[State]) -> State:
        """Concatenate batches of positions along their leading axis."""
        names = states[0].fields()
        return State(**{n: np.concatenate([s.fields()[n] for s in states]) for n in names})

    @staticmethod
    def where(mask: np.ndarray, if_true: State, if_false: State) -> State:
        """Per game of a batch, ``if_true`` where ``mask`` (bool[...]) holds, else ``if_false``."""
        mask = np.asarray(mask)
        chosen = {}
        for name, a in if_true.fields().items():
            b = if_false.fields()[name]
            # A field with trailing axes (a board, aux) takes the game's choice whole.
            expanded = mask.reshape(mask.shape + (1,) * (np.ndim(a) - mask.ndim))
            chosen[name] = np.where(expanded, a, b)
        return State(**chosen)

    def set_rows(self, index, values: State) -> None:
        """Overwrite the positions at ``index`` (as numpy indexes) with ``values``, in place.

        The one mutating helper, for position buffers their owner fills row by row (games
        advancing in lock-step, a search tree, the replay buffer); the rules never call it.
        """
        given = values.fields()
        for name, array in self.fields().items():
            array[index] = given[name]

    def copy(self) -> State:
        """A batch with its own arrays (to fill with :meth:`set_rows`)."""
        return self._map(np.copy)

    def flat_keys(self) -> np.ndarray:
        """uint64[..., k]: each position as one row of words, equal exactly when the positions
        are (for hashing and de-duplicating positions of any game's layout)."""
        batch = self.shape
        words = []
        for array in self.fields().values():
            a = np.asarray(array).reshape(*batch, -1)
            if a.dtype == np.bool_:
                a = np.packbits(a, axis=-1)  # 8 cells a byte
            words.append(a.astype(np.uint64))
        return np.concatenate(words, axis=-1)


@dataclass(frozen=True)
class Symmetry:
    """A board symmetry: where each cell goes, and where each action goes.

    Attributes:
        name: e.g. ``"identity"`` or ``"mirror"``.
        cell_perm: int[cells]; the stone on cell ``i`` moves to cell ``cell_perm[i]``.
        action_perm: int[actions]; action ``a`` becomes action ``action_perm[a]``.
    """

    name: str
    cell_perm: np.ndarray
    action_perm: np.ndarray


class Game(ABC):
    """A two-player, zero-sum, perfect-information board game over :class:`State` batches.

    What every game supplies: its shape, its symmetries, notation, and the rules as pure
    batched functions (``initial_state``, ``legal_mask``, ``step``, ``is_terminal``,
    ``terminal_value``), plus how a position looks (``board``, ``observation``) and moves
    under a symmetry (``transform_state``). Everything built on those (checked play, who won,
    moving observations and policies by a symmetry, move strings, rendering) lives here once.
    :class:`LineGame` supplies the rules of the make-a-line games on bitboards; Go
    (:mod:`envs.go`) supplies its own.
    """

    name: str
    rows: int
    cols: int
    num_actions: int
    symmetries: tuple[Symmetry, ...]
    stone_chars: tuple[str, str] = ("X", "O")  # first player, second player
    #: Why a move on the board can't be played; ``{move}`` is its notation token.
    occupied_message: str = "move {move} is not legal here"
    #: Planes of :meth:`observation`.
    num_planes: int = 3

    # --- the rules each game supplies -------------------------------------------------

    @abstractmethod
    def initial_state(self, batch: int | tuple[int, ...] = ()) -> State:
        """The start position, repeated over a batch shape (``()`` for one game)."""

    @abstractmethod
    def legal_mask(self, state: State) -> np.ndarray:
        """bool[..., A]: legal actions; all False once the game is over."""

    @abstractmethod
    def step(self, state: State, action: np.ndarray | int) -> State:
        """The position after the player to move plays ``action`` (int[...], assumed legal).

        Pure and unchecked, for the hot loops of search and self-play; use :meth:`play` to
        validate a single move.
        """

    @abstractmethod
    def is_terminal(self, state: State) -> np.ndarray:
        """bool[...]: the game is over."""

    @abstractmethod
    def terminal_value(self, state: State) -> np.ndarray:
        """float32[...]: a finished game's result for the player to move (+1 won, -1 lost,
        0 draw); 0 where the game is not over."""

    @abstractmethod
    def board(self, state: State) -> np.ndarray:
        """int8[..., rows, cols]: +1 first player's stones, -1 second's, 0 empty."""

    @abstractmethod
    def observation(self, state: State) -> np.ndarray:
        """float32[..., planes, rows, cols]: the position from the view of the player to move."""

    @abstractmethod
    def transform_state(self, state: State, sym: Symmetry) -> State:
        """The position with its stones moved by a symmetry."""

    @abstractmethod
    def parse_move(self, token: str) -> int:
        """The action named by one notation token (raises ``ValueError``)."""

    @abstractmethod
    def format_move(self, action: int) -> str:
        """The notation token of one action."""

    # --- built on the rules ------------------------------------------------------------

    @property
    def num_cells(self) -> int:
        return self.rows * self.cols

    @property
    def max_moves(self) -> int:
        """The most moves a game can last (a full board, in the line games)."""
        return self.num_cells

    @property
    def obs_shape(self) -> tuple[int, int, int]:
        return (self.num_planes, self.rows, self.cols)

    def play(self, state: State, action: int) -> State:
        """Play one move in one game, raising ``ValueError`` if it is not legal."""
        if self.is_terminal(state):
            raise ValueError("the game is already over")
        if not 0 <= action < self.num_actions:
            raise ValueError(f"action {action} is outside 0..{self.num_actions - 1}")
        if not self.legal_mask(state)[action]:
            raise ValueError(self.occupied_message.format(move=self.format_move(action)))
        return self.step(state, action)

    def to_play(self, state: State) -> np.ndarray:
        """int[...]: 0 when the first player is to move, 1 for the second."""
        return state.ply % 2

    def winner(self, state: State) -> np.ndarray:
        """int[...]: who won a finished game: 0 the first player, 1 the second, -1 a draw
        (or a game not over)."""
        value = self.terminal_value(state)
        to_play = self.to_play(state)
        return np.where(value > 0, to_play, np.where(value < 0, 1 - to_play, -1))

    # --- symmetries ----------------------------------------------------------------------

    def transform_obs(self, obs: np.ndarray, sym: Symmetry) -> np.ndarray:
        """float32[..., planes, rows, cols] observations moved by a symmetry."""
        flat = obs.reshape(*obs.shape[:-2], self.num_cells)
        moved = np.empty_like(flat)
        moved[..., sym.cell_perm] = flat
        return moved.reshape(obs.shape)

    def transform_policy(self, policy: np.ndarray, sym: Symmetry) -> np.ndarray:
        """[..., A] per-action values (probabilities, masks) moved by a symmetry."""
        moved = np.empty_like(policy)
        moved[..., sym.action_perm] = policy
        return moved

    # --- notation and rendering ----------------------------------------------------------

    def parse(self, notation: str) -> State:
        """The position reached by a move string such as ``"4453"`` (see the game's notation)."""
        state = self.initial_state()
        for index, token in enumerate(self.tokens(notation)):
            try:
                action = self.parse_move(token)
                state = self.play(state, action)
            except ValueError as err:
                raise ValueError(f"{notation!r}, move {index + 1} ({token!r}): {err}") from None
        return state

    def parse_actions(self, notation: str) -> list[int]:
        """The actions of a move string, checked for legality in sequence."""
        self.parse(notation)
        return [self.parse_move(token) for token in self.tokens(notation)]

    def notation(self, actions: list[int] | np.ndarray) -> str:
        """The move string of a sequence of actions."""
        return self.separator.join(self.format_move(int(a)) for a in actions)

    #: What joins the tokens of a move string ("" where each token is one character).
    separator: str = ""

    def tokens(self, notation: str) -> list[str]:
        """The move tokens of a move string (one character each, spaces ignored; Go's are
        separated by spaces)."""
        return [ch for ch in notation.strip() if not ch.isspace()]

    def render(self, state: State) -> str:
        """An ASCII drawing of one position, with the numbers players type under the board."""
        board = self.board(state).ravel()
        glyph = [self._empty_glyph(cell) for cell in range(self.num_cells)]
        for cell, v in enumerate(board):
            if v:
                glyph[cell] = self.stone_chars[0 if v > 0 else 1]
        lines = [" ".join(glyph[r * self.cols : (r + 1) * self.cols]) for r in range(self.rows)]
        return "\n".join(lines + self._render_footer())

    def _empty_glyph(self, cell: int) -> str:
        return "."

    def _render_footer(self) -> list[str]:
        return []

    def __repr__(self) -> str:
        return f"<Game {self.name}>"


class LineGame(Game):
    """A game won by making a line, on bitboards: tic-tac-toe and Connect Four.

    Subclasses give the bit of each cell and four rules (``_legal``, ``_apply``,
    ``_has_line``, ``parse_move``); the rest of the rules are generic and live here. Each
    colour is one ``uint64`` bitboard, so a board has at most 64 cells (checked when a game is
    made), and stones are never removed, so ``ply`` counts the stones and a full board ends
    the game.
    """

    cell_bits: np.ndarray  # uint64[cells]: the bitboard bit of each cell
    #: Observation planes: own stones, opponent stones, and a plane of ones when the first
    #: player is to move (in Connect Four who moved first decides which threats pay off).
    num_planes: int = 3

    def __init__(self) -> None:
        if self.num_cells > 64:  # each colour's stones are one uint64 bitboard
            raise ValueError(f"{self.name}: {self.num_cells} cells, more than a State holds (64)")

    @abstractmethod
    def _legal(self, own: np.ndarray, opp: np.ndarray) -> np.ndarray:
        """bool[..., A]: actions playable on the board, ignoring whether the game is over."""

    @abstractmethod
    def _apply(self, own: np.ndarray, opp: np.ndarray, action: np.ndarray) -> np.ndarray:
        """uint64[...]: the mover's stones ``own`` after playing ``action`` (assumed legal)."""

    @abstractmethod
    def _has_line(self, bits: np.ndarray) -> np.ndarray:
        """bool[...]: whether the stones ``bits`` hold a winning line."""

    def initial_state(self, batch: int | tuple[int, ...] = ()) -> State:
        shape = (batch,) if isinstance(batch, int) else tuple(batch)
        zeros = np.zeros(shape, dtype=np.uint64)
        return State(zeros, zeros.copy(), np.zeros(shape, dtype=np.int32))

    def is_won(self, state: State) -> np.ndarray:
        """bool[...]: the player who just moved has completed a line."""
        return self._has_line(state.opp)

    def is_terminal(self, state: State) -> np.ndarray:
        """bool[...]: the game is over (a line, or a full board)."""
        return self.is_won(state) | (state.ply >= self.num_cells)

    def terminal_value(self, state: State) -> np.ndarray:
        """float32[...]: the result for the player to move: -1 lost, 0 draw (or not over)."""
        return np.where(self.is_won(state), -1.0, 0.0).astype(np.float32)

    def legal_mask(self, state: State) -> np.ndarray:
        legal = self._legal(state.own, state.opp)
        return legal & ~self.is_terminal(state)[..., None]

    def step(self, state: State, action: np.ndarray | int) -> State:
        action = np.asarray(action, dtype=np.int64)
        moved = self._apply(state.own, state.opp, action)
        return State(state.opp, moved, state.ply + 1)

    def cells(self, bits: np.ndarray) -> np.ndarray:
        """bool[..., rows, cols]: the cells set in a bitboard."""
        filled = (np.asarray(bits)[..., None] & self.cell_bits) != 0
        return filled.reshape(*np.shape(bits), self.rows, self.cols)

    def board(self, state: State) -> np.ndarray:
        first_to_move = (self.to_play(state) == 0)[..., None, None]
        own, opp = self.cells(state.own), self.cells(state.opp)
        sign = np.where(first_to_move, 1, -1).astype(np.int8)
        return (own.astype(np.int8) - opp.astype(np.int8)) * sign

    def observation(self, state: State) -> np.ndarray:
        own = self.cells(state.own)
        opp = self.cells(state.opp)
        first = np.broadcast_to((self.to_play(state) == 0)[..., None, None], own.shape)
        return np.stack([own, opp, first], axis=-3).astype(np.float32)

    def transform_state(self, state: State, sym: Symmetry) -> State:
        return State(
            self._permute_bits(state.own, sym), self._permute_bits(state.opp, sym), state.ply
        )

    def _permute_bits(self, bits: np.ndarray, sym: Symmetry) -> np.ndarray:
        filled = self.cells(bits).reshape(*np.shape(bits), self.num_cells)
        moved = np.zeros_like(filled)
        moved[..., sym.cell_perm] = filled
        return np.bitwise_or.reduce(np.where(moved, self.cell_bits, np.uint64(0)), axis=-1)


def square_symmetries(size: int, extra_actions: int = 0) -> tuple[Symmetry, ...]:
    """The 8 symmetries of a ``size`` x ``size`` board whose actions are its cells, plus
    ``extra_actions`` actions after them that no symmetry moves (Go's pass)."""
    grid = np.arange(size * size).reshape(size, size)
    fixed = np.arange(size * size, size * size + extra_actions)
    found = []
    for k in range(4):
        for flip in (False, True):
            moved = np.rot90(grid, k)
            perm = permutation_from_grid(np.fliplr(moved) if flip else moved)
            name = f"rot{90 * k}" + ("+flip" if flip else "")
            actions = np.concatenate([perm, fixed])
            found.append(Symmetry("identity" if name == "rot0" else name, perm, actions))
    return tuple(found)


def permutation_from_grid(grid: np.ndarray) -> np.ndarray:
    """int[cells]: the cell permutation of a transformed index grid.

    ``grid`` is ``np.arange(cells).reshape(rows, cols)`` after a flip or rotation: the stone
    that was on cell ``grid[r, c]`` now sits on cell ``r * cols + c``.
    """
    perm = np.empty(grid.size, dtype=np.int64)
    perm[grid.ravel()] = np.arange(grid.size)
    return perm
