"""The games this project knows, by name: the one list every script's ``--game`` comes from."""

from __future__ import annotations

from envs.connect4 import CONNECT4
from envs.core import Game
from envs.tictactoe import TICTACTOE

GAMES: dict[str, Game] = {TICTACTOE.name: TICTACTOE, CONNECT4.name: CONNECT4}


def get_game(name: str) -> Game:
    """The game called ``name`` (one of :data:`GAMES`); raises ``ValueError`` otherwise."""
    try:
        return GAMES[name]
    except KeyError:
        raise ValueError(f"unknown game {name!r}; choose one of {sorted(GAMES)}") from None
