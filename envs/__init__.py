"""Game rules, scripted players and gymnasium environments.

``import envs`` registers ``apprentice/TicTacToe-v0`` and ``apprentice/ConnectFour-v0``.
"""

from envs.connect4 import CONNECT4, ConnectFour
from envs.core import Game, State, Symmetry
from envs.gym_env import register_envs
from envs.registry import GAMES, get_game
from envs.tictactoe import TICTACTOE, TicTacToe

register_envs()

__all__ = [
    "CONNECT4",
    "GAMES",
    "TICTACTOE",
    "ConnectFour",
    "Game",
    "State",
    "Symmetry",
    "TicTacToe",
    "get_game",
    "register_envs",
]
