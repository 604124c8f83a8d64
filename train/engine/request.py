"""Analysis requests: what a request names, checked and parsed, and the position it reaches.

A request names a game, a position (a move string such as ``"4453"``, or ``"D4 C3"`` in Go, or
a list of moves, in the game's notation: 1-based numbers, or Go's GTP vertices), a number of
simulations and optionally a checkpoint.
:func:`make_request` checks each field as it comes from JSON and refuses a bad one with an
:class:`AnalysisError` whose message says why, in a sentence for the user; the analysis itself
is ``train.engine.analyser``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envs import get_game
from envs.core import Game, State

#: A request may ask for at most this many simulations (the tree's arrays grow with it).
MAX_SIMULATIONS = 20_000
#: Simulations when a request names none (MCTSConfig's default).
DEFAULT_SIMULATIONS = 100
#: Refused values whose text is longer than this are described, not quoted.
_QUOTE_LIMIT = 40


class AnalysisError(ValueError):
    """A request that can't be analysed; the message says why, in a sentence for the user."""


@dataclass(frozen=True)
class Request:
    """One position to analyse, checked and parsed.

    Attributes:
        game: the rules.
        actions: the 0-based actions from the empty board to the position.
        simulations: MCTS simulations (0: the evaluator alone).
        checkpoint: path of the network to use, or None for random-rollout MCTS.
    """

    game: Game
    actions: tuple[int, ...]
    simulations: int = DEFAULT_SIMULATIONS
    checkpoint: str | None = None

    @property
    def group(self) -> tuple[str, str | None, int]:
        """Requests with the same group are searched in one batch."""
        return self.game.name, self.checkpoint, self.simulations


def make_request(
    game: str | Game,
    position: str | list | tuple = "",
    simulations: Any = DEFAULT_SIMULATIONS,
    checkpoint: Any = None,
) -> Request:
    """Check and parse a request's fields (as they come from JSON); raises AnalysisError.

    ``position`` is a move string ("4453"; in Go, vertices separated by spaces: "D4 C3 pass")
    or a list of moves, each a notation token ("4", "D4") or a 1-based number (4).
    """
    if isinstance(game, str):
        try:
            game = get_game(game)
        except ValueError as err:
            raise AnalysisError(str(err)) from None
    elif not isinstance(game, Game):
        raise AnalysisError(f"'game' must be a string, got {_kind(game)}")
    if isinstance(simulations, bool) or not isinstance(simulations, int):
        raise AnalysisError(f"'simulations' must be a whole number, got {_kind(simulations)}")
    if not 0 <= simulations <= MAX_SIMULATIONS:
        raise AnalysisError(f"'simulations' must be in 0..{MAX_SIMULATIONS}, got {simulations}")
    if checkpoint is not None and (not isinstance(checkpoint, str) or not checkpoint):
        raise AnalysisError(f"'checkpoint' must be a path, got {_kind(checkpoint)}")
    return Request(game, _parse_position(game, position), simulations, checkpoint)


def position_after(game: Game, actions: tuple[int, ...] | list[int]) -> State:
    """The position (State with shape ``()``) that legal ``actions`` reach from the start."""
    state = game.initial_state()
    for action in actions:
        state = game.step(state, action)
    return state


def _parse_position(game: Game, position: Any) -> tuple[int, ...]:
    if isinstance(position, str):
        # The game splits its own move strings: one character a move in the line games
        # ("4453"), Go's vertices between spaces ("D4 C3").
        tokens = game.tokens(position)
    elif isinstance(position, (list, tuple)):
        tokens = [_token(move, i) for i, move in enumerate(position)]
    else:
        raise AnalysisError(
            f"'position' must be a move string or a list of moves, got {_kind(position)}"
        )
    state, actions = game.initial_state(), []
    for i, token in enumerate(tokens):
        try:
            action = game.parse_move(token)
            state = game.play(state, action)
        except ValueError as err:
            raise AnalysisError(f"move {i + 1} ({token!r}) of the position: {err}") from None
        actions.append(action)
    return tuple(actions)


def _token(move: Any, index: int) -> str:
    if isinstance(move, str):
        return move.strip()
    if isinstance(move, int) and not isinstance(move, bool):
        return str(move)
    raise AnalysisError(f"move {index + 1} of the position must be a string or a number")


def _kind(value: Any) -> str:
    """A refused value's type, and the value itself when it is short enough to quote whole: a
    long one gets its length instead of being cut off mid-word."""
    text = repr(value)
    if len(text) <= _QUOTE_LIMIT:
        return f"{type(value).__name__} {text}"
    return f"{type(value).__name__} ({len(text):,} characters long, not quoted)"
