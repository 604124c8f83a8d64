"""Game rules, their profiles, scripted players and gymnasium environments.

``import envs`` registers ``apprentice/TicTacToe-v0``, ``apprentice/ConnectFour-v0``,
``apprentice/Go7x7-v0`` and ``apprentice/Go9x9-v0``.
"""

from envs.connect4 import CONNECT4, ConnectFour
from envs.core import Game, LineGame, State, Symmetry
from envs.go import GO7, GO9, GoGame
from envs.gym_env import register_envs
from envs.profile import GameProfile
from envs.registry import GAME_NAMES, GAMES, get_game, get_profile, register_game
from envs.tictactoe import TICTACTOE, TicTacToe

__all__ = [
    "CONNECT4",
    "GAMES",
    "GAME_NAMES",
    "GO7",
    "GO9",
    "TICTACTOE",
    "ConnectFour",
    "Game",
    "GameProfile",
    "GoGame",
    "LineGame",
    "State",
    "Symmetry",
    "TicTacToe",
    "get_game",
    "get_profile",
    "register_envs",
    "register_game",
]
