"""The games this project knows, by name, each with its profile: the one list every script's
``--game`` comes from.

Adding a game is a rules module (a :class:`~envs.core.Game`), a profile
(:class:`~envs.profile.GameProfile`) and one :func:`register_game` line below; a test or a
plugin may call :func:`register_game` itself.
"""

from __future__ import annotations

from collections.abc import KeysView

from envs.connect4 import CONNECT4
from envs.connect4_profile import CONNECT4_PROFILE
from envs.core import Game
from envs.go import GO7, GO9
from envs.go_profile import GO7_PROFILE, GO9_PROFILE
from envs.gym_env import register_env, unregister_env
from envs.profile import GameProfile
from envs.tictactoe import TICTACTOE
from envs.tictactoe_profile import TICTACTOE_PROFILE

GAMES: dict[str, Game] = {}
PROFILES: dict[str, GameProfile] = {}
#: The registered games' names, in registration order: a live, read-only view (a game
#: registered later appears in it), what every script's ``--game`` offers as choices.
GAME_NAMES: KeysView[str] = GAMES.keys()


def register_game(game: Game, profile: GameProfile) -> None:
    """Make ``game`` known by its name, with ``profile`` (and its gymnasium id, if any).

    Raises ``ValueError`` if a game of that name is registered already.
    """
    if game.name in GAMES:
        raise ValueError(f"a game called {game.name!r} is registered already")
    GAMES[game.name] = game
    PROFILES[game.name] = profile
    if profile.env_id is not None:
        register_env(profile.env_id, game.name)


def unregister_game(name: str) -> None:
    """Forget the game called ``name`` (for tests that register a game of their own)."""
    get_game(name)
    profile = PROFILES.pop(name)
    del GAMES[name]
    if profile.env_id is not None:
        unregister_env(profile.env_id)


def get_game(name: str) -> Game:
    """The game called ``name`` (one of :data:`GAME_NAMES`); raises ``ValueError`` otherwise."""
    try:
        return GAMES[name]
    except KeyError:
        raise ValueError(f"unknown game {name!r}; choose one of {sorted(GAMES)}") from None


def get_profile(name: str) -> GameProfile:
    """The profile of the game called ``name``; raises ``ValueError`` for an unknown game."""
    get_game(name)
    return PROFILES[name]


register_game(TICTACTOE, TICTACTOE_PROFILE)
register_game(CONNECT4, CONNECT4_PROFILE)
register_game(GO7, GO7_PROFILE)
register_game(GO9, GO9_PROFILE)
