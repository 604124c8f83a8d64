"""Game rules, scripted players and gymnasium environments.

``import envs`` registers ``apprentice/TicTacToe-v0`` and ``apprentice/ConnectFour-v0``.
"""

from envs.connect4 import CONNECT4, ConnectFour
from envs.core import Game, State, Symmetry, concat_states, select_states, stack_states
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
    "concat_states",
    "get_game",
    "register_envs",
    "select_states",
    "stack_states",
]
