"""A Go Text Protocol (GTP v2) engine: a Go checkpoint plays in Sabaki, GoGui or a relay.

:class:`GtpEngine` turns one command line into one response (``handle(line) -> str``); it
knows the protocol and the board, and asks a :class:`~envs.players.Player` for its moves.
:func:`checkpoint_engine` builds one around a checkpoint's network, alone or inside MCTS.
``scripts/gtp.py`` reads stdin and writes stdout around it.

Commands: ``protocol_version name version known_command list_commands boardsize
clear_board komi play genmove undo showboard final_score quit``. A response is ``=[id]
text`` or ``?[id] message``, then a blank line; as the spec asks, a line loses its control
characters and its ``#`` comment first, and a line left empty gets no response.

Where GTP and the project's rules meet:

- **Colour out of turn.** GTP lets either colour move at any time (``play black D4`` twice,
  as GUIs do to set up stones); the project's positions are "player to move" based. So when
  the colour named is not the one to move, a pass for the other colour is played first.
  ``undo`` takes back the whole command, the inserted pass with it.
- **No end of game.** GTP has none, so a stone played after two passes resumes the game
  (the passes in a row are forgotten), and the move limit is :data:`GTP_MAX_MOVES`, not the
  game's (a GUI may go on as long as it likes). ``genmove`` passes once two passes in a row
  have ended the game, and whenever the player picks the pass; it never resigns.
- **Komi.** ``komi`` sets the komi of ``final_score`` and of the search's finished games;
  the network itself was trained at the game's default komi (:data:`envs.go.DEFAULT_KOMI`)
  and knows no other.
- **Scoring** is the project's area count (every stone on the board alive), so dead stones
  must be captured before the passes for ``final_score`` to be the real result.

Spec: https://www.lysator.liu.se/~gunnar/gtp/gtp2-spec-draft2/gtp2-spec.html
"""

from __future__ import annotations

import importlib.metadata
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from envs.core import State
from envs.go import GoGame, parse_vertex, vertex
from envs.players import Player
from envs.registry import get_game

ENGINE_NAME = "apprentice"
#: The move limit of a GTP game, passes included: far past any real 7x7 or 9x9 game, so that
#: the engine never refuses a move a GUI or a relay sends (see the module docstring).
GTP_MAX_MOVES = 10_000
#: A player for the engine's rules (its board size, current komi and move limit).
PlayerFactory = Callable[[GoGame], Player]

_COLOURS = {"b": 0, "black": 0, "w": 1, "white": 1}
_PASSES = 1  # the aux field of envs.go's positions that counts the passes in a row
_ID = re.compile(r"^([0-9]+)(?:\s+|$)")
# Every control character but tab and newline (tab becomes a space below).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class GtpFailure(Exception):
    """A command that fails: its message is the text after ``?``."""


class GtpEngine:
    """A GTP v2 engine on a ``game.size`` board.

    Args:
        game: the Go game whose board size and default komi the engine plays.
        make_player: builds the player of ``genmove`` for the engine's rules; called again
            after a ``komi`` command (whose komi the rules then carry).
        seed: seeds the generator passed to the player's ``act`` (a search's tie-breaks).
        version: what ``version`` answers.

    Attributes:
        game: the rules now: the board size, the current komi, :data:`GTP_MAX_MOVES`.
        state: the position now (:class:`~envs.core.State`, batch shape ``()``).
        finished: True once ``quit`` came.

    ``handle`` never raises: a failing command answers ``? message``, and any exception
    inside one answers ``? internal error: ...``.
    """

    def __init__(
        self,
        game: GoGame,
        make_player: PlayerFactory,
        *,
        seed: int = 0,
        version: str = "",
    ) -> None:
        self.size = game.size
        self.version = version or _package_version()
        self.finished = False
        self._make_player = make_player
        self._player: Player | None = None
        self._rng = np.random.default_rng(seed)
        self._history: list[State] = []  # the position before each move command, for undo
        self._commands: dict[str, Callable[[list[str]], str]] = {
            "protocol_version": lambda args: "2",
            "name": lambda args: ENGINE_NAME,
            "version": lambda args: self.version,
            "known_command": self._known_command,
            "list_commands": lambda args: "\n".join(self._commands),
            "boardsize": self._boardsize,
            "clear_board": self._clear_board,
            "komi": self._komi,
            "play": self._play,
            "genmove": self._genmove,
            "undo": self._undo,
            "showboard": self._showboard,
            "final_score": self._final_score,
            "quit": self._quit,
        }
        self._set_rules(game.komi)
        self.clear()
        self.game.legal_mask(self.state)  # load the compiled rules now, not at the first move

    # --- the engine's state --------------------------------------------------------------

    @property
    def komi(self) -> float:
        """The komi ``final_score`` counts (White's points)."""
        return self.game.komi

    def clear(self) -> None:
        """An empty board, Black to move, nothing to undo."""
        self.state = self.game.initial_state()
        self._history = []

    def handle(self, line: str) -> str:
        """The full response to one line of input, blank line included; ``""`` for a line
        that holds no command (empty, blank or a comment)."""
        text = _CONTROL.sub("", line.split("#", 1)[0]).replace("\t", " ").strip()
        if not text:
            return ""
        match = _ID.match(text)
        command_id = match[1] if match else ""
        words = text[match.end() :].split() if match else text.split()
        try:
            if not words:
                raise GtpFailure("syntax error: an id but no command")
            handler = self._commands.get(words[0])
            if handler is None:
                raise GtpFailure("unknown command")
            return _response("=", command_id, handler(words[1:]))
        except GtpFailure as failure:
            return _response("?", command_id, str(failure))
        except Exception as err:  # never crash: the controller gets the error, we go on
            return _response("?", command_id, f"internal error: {type(err).__name__}: {err}")

    # --- the commands --------------------------------------------------------------------

    def _known_command(self, args: list[str]) -> str:
        (name,) = _arguments(args, 1, "known_command COMMAND")
        return "true" if name in self._commands else "false"

    def _boardsize(self, args: list[str]) -> str:
        (text,) = _arguments(args, 1, "boardsize SIZE")
        if not text.isdecimal():
            raise GtpFailure("syntax error: boardsize takes a whole number")
        if int(text) != self.size:
            raise GtpFailure("unacceptable size")
        self.clear()
        return ""

    def _clear_board(self, args: list[str]) -> str:
        _arguments(args, 0, "clear_board")
        self.clear()
        return ""

    def _komi(self, args: list[str]) -> str:
        (text,) = _arguments(args, 1, "komi NUMBER")
        try:
            komi = float(text)
        except ValueError:
            komi = math.nan
        if not math.isfinite(komi):
            raise GtpFailure("syntax error: komi takes a number, e.g. komi 7.5")
        self._set_rules(komi)
        return ""

    def _play(self, args: list[str]) -> str:
        colour_text, move_text = _arguments(args, 2, "play COLOR VERTEX, e.g. play black D4")
        colour = _colour(colour_text)
        try:
            action = parse_vertex(move_text, self.size)
        except ValueError as err:
            raise GtpFailure(f"syntax error: {err}") from None
        state = self._to_move(colour)
        if action != self.game.pass_action:
            state = _resumed(state)
            if not self.game.legal_mask(state)[action]:
                raise GtpFailure("illegal move")
        self._push(self.game.step(state, action))
        return ""

    def _genmove(self, args: list[str]) -> str:
        (colour_text,) = _arguments(args, 1, "genmove COLOR")
        state = self._to_move(_colour(colour_text))
        action = self.game.pass_action
        if not self.game.is_terminal(state):
            if self._player is None:
                self._player = self._make_player(self.game)
            action = int(np.asarray(self._player.act(State.stack([state]), self._rng))[0])
            if not self.game.legal_mask(state)[action]:
                raise RuntimeError(f"the player chose the illegal move {action}")
        self._push(self.game.step(state, action))
        return vertex(action, self.size)

    def _undo(self, args: list[str]) -> str:
        _arguments(args, 0, "undo")
        if not self._history:
            raise GtpFailure("cannot undo")
        self.state = self._history.pop()
        return ""

    def _showboard(self, args: list[str]) -> str:
        _arguments(args, 0, "showboard")
        mover = "Black" if int(self.game.to_play(self.state)) == 0 else "White"
        status = f"{mover} to move, move {int(self.state.ply) + 1}, komi {self.komi:g}"
        return "\n" + self.game.render(self.state) + "\n" + status

    def _final_score(self, args: list[str]) -> str:
        _arguments(args, 0, "final_score")
        return score_text(self.black_margin())

    def _quit(self, args: list[str]) -> str:
        self.finished = True
        return ""

    # --- helpers -------------------------------------------------------------------------

    def black_margin(self) -> float:
        """Black's area-score margin in the current position, komi included."""
        margin = float(self.game.score(self.state))
        return margin if int(self.game.to_play(self.state)) == 0 else -margin

    def _set_rules(self, komi: float) -> None:
        self.game = GoGame(self.size, komi=komi, max_moves=GTP_MAX_MOVES)
        self._player = None  # built at the next genmove, for these rules

    def _to_move(self, colour: int) -> State:
        """The position with ``colour`` to move: a pass for the other colour first if needed."""
        if int(self.game.to_play(self.state)) == colour:
            return self.state
        return self.game.step(self.state, self.game.pass_action)

    def _push(self, state: State) -> None:
        self._history.append(self.state)
        self.state = state


def checkpoint_engine(
    path: str | Path, *, sims: int = 0, device: str = "cpu", seed: int = 0
) -> GtpEngine:
    """A GTP engine whose ``genmove`` is a Go checkpoint's network: alone (``sims=0``, its
    most likely move) or inside PUCT MCTS of ``sims`` simulations (its most visited move).

    Raises ``ValueError`` for a file that is no checkpoint, or a checkpoint of another game.
    """
    from models.checkpoint import load_checkpoint
    from train.arena.network_players import PolicyPlayer, SearchPlayer
    from train.search.evaluators import NetworkEvaluator
    from train.search.search import MCTSConfig

    if sims < 0:
        raise ValueError(f"sims must be >= 0, got {sims}")
    checkpoint = load_checkpoint(path, device=device)
    game = get_game(checkpoint.game)
    if not isinstance(game, GoGame):
        raise ValueError(f"{path}: holds a {checkpoint.game} network, but GTP engines play Go")
    name = Path(path).stem

    def make_player(rules: GoGame) -> Player:
        evaluate = NetworkEvaluator(checkpoint.model, rules, device=device)
        if sims == 0:
            return PolicyPlayer(rules, evaluate, name=name)
        return SearchPlayer(rules, evaluate, MCTSConfig(simulations=sims), name=f"{name}+mcts")

    thinking = "network alone" if sims == 0 else f"MCTS {sims} simulations"
    version = f"{_package_version()} ({name}, {thinking})"
    return GtpEngine(game, make_player, seed=seed, version=version)


def score_text(black_margin: float) -> str:
    """A GTP score: ``B+3.5`` (Black ahead), ``W+2.0``, or ``0`` for a draw."""
    if black_margin == 0:
        return "0"
    return f"{'B' if black_margin > 0 else 'W'}+{abs(black_margin):.1f}"


def _response(status: str, command_id: str, text: str) -> str:
    # A response ends at its first empty line, so the text may hold none.
    lines = [line.rstrip() for line in text.split("\n")]
    body = "\n".join(line for i, line in enumerate(lines) if line or i == 0)
    return f"{status}{command_id} {body}\n\n"


def _arguments(args: list[str], count: int, usage: str) -> list[str]:
    if len(args) != count:
        raise GtpFailure(f"syntax error (usage: {usage})")
    return args


def _colour(text: str) -> int:
    """0 for Black, 1 for White: ``b``, ``black``, ``w``, ``white``, in any case."""
    colour = _COLOURS.get(text.lower())
    if colour is None:
        raise GtpFailure(f"syntax error: {text!r} is not a colour (black, white, b or w)")
    return colour


def _resumed(state: State) -> State:
    """The position with its passes in a row forgotten: a stone played after two passes
    goes on with the game (GTP has no end of game; the board and the player to move stay)."""
    if state.aux[..., _PASSES] < 2:
        return state
    aux = state.aux.copy()
    aux[..., _PASSES] = 0
    return State(state.own, state.opp, state.ply, aux)


def _package_version() -> str:
    try:
        return importlib.metadata.version("apprentice")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "unknown"
