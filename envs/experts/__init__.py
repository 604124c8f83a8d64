"""Scripted experts: the teachers of stage 1 and the yardstick of stage 2.

- :class:`TicTacToeExpert` plays perfectly. Every position reachable from the empty board
  (5,478 of them) is solved once by memoised negamax and kept in a table indexed by the two
  bitboards, so a batch of positions is looked up in one numpy gather.
- :class:`ConnectFourExpert` searches a fixed number of plies with alpha-beta and scores the
  horizon with a positional heuristic (:mod:`envs.experts.connect4_kernel`, compiled with numba).
  Its strength is the depth; its variety is a softmax temperature over the root scores.

Both follow the :class:`~envs.players.Player` protocol and add ``policy(state) -> float32[B,
A]``, the distribution their ``act`` samples from, which stage 1 imitates. Values follow the
project's sign convention: from the view of the player to move. :func:`make_expert` builds
the expert a game's profile names (``GameProfile.expert``).
"""

from __future__ import annotations

from envs.core import Game
from envs.experts.connect4_expert import DEFAULT_DEPTH, DEFAULT_TEMPERATURE, ConnectFourExpert
from envs.experts.tictactoe_expert import (
    ILLEGAL_VALUE,
    TicTacToeExpert,
    tictactoe_action_values,
)
from envs.players import Player
from envs.registry import get_profile


def make_expert(
    game: Game | str, *, depth: int | None = None, temperature: float | None = None
) -> Player:
    """The scripted expert of ``game`` (its profile's), at its default strength unless told
    otherwise; raises ``ValueError`` for a game without one.

    Args:
        game: a registered game, or its name.
        depth: Connect Four search depth in plies (default :data:`DEFAULT_DEPTH`). The
            tic-tac-toe expert is perfect and refuses a depth.
        temperature: softmax temperature over the root move scores; 0 plays a best move,
            choosing at random among equals.
    """
    name = game if isinstance(game, str) else game.name
    factory = get_profile(name).expert
    if factory is None:
        raise ValueError(f"{name} has no scripted expert")
    return factory(depth, temperature)


__all__ = [
    "DEFAULT_DEPTH",
    "DEFAULT_TEMPERATURE",
    "ILLEGAL_VALUE",
    "ConnectFourExpert",
    "TicTacToeExpert",
    "make_expert",
    "tictactoe_action_values",
]
