"""Game rules, scripted players and gymnasium environments.

``import envs`` registers ``apprentice/TicTacToe-v0`` and ``apprentice/ConnectFour-v0``.
"""

from envs.connect4 import CONNECT4, ConnectFour
from envs.core import Game, State, Symmetry, concat_states, select_states, stack_states
from envs.gym_env import register_envs
from envs.tictactoe import TICTACTOE, TicTacToe

GAMES: dict[str, Game] = {TICTACTOE.name: TICTACTOE, CONNECT4.name: CONNECT4}


def get_game(name: str) -> Game:
    """The game called ``name`` ("tictactoe" or "connect4"); raises ``ValueError`` otherwise."""
    try:
        return GAMES[name]
    except KeyError:
        raise ValueError(f"unknown game {name!r}; choose one of {sorted(GAMES)}") from None


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
