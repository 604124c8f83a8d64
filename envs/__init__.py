"""Game rules, their profiles, scripted players and gymnasium environments.

``import envs`` registers ``apprentice/TicTacToe-v0`` and ``apprentice/ConnectFour-v0``.
"""

from envs.connect4 import CONNECT4, ConnectFour
from envs.core import Game, LineGame, State, Symmetry
from envs.gym_env import register_envs
from envs.profile import GameProfile
from envs.registry import GAME_NAMES, GAMES, get_game, get_profile, register_game
from envs.tictactoe import TICTACTOE, TicTacToe

__all__ = [
    "CONNECT4",
    "GAMES",
    "GAME_NAMES",
    "TICTACTOE",
    "ConnectFour",
    "Game",
    "GameProfile",
    "LineGame",
    "State",
    "Symmetry",
    "TicTacToe",
    "get_game",
    "get_profile",
    "register_envs",
    "register_game",
]
