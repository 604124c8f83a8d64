"""Random positions: the one generator of random play from the empty board, in two uses.

- :func:`random_openings`: every game gets exactly ``plies`` uniformly random moves, and the
  moves are kept. Duels start colour-swapped twin games from one such opening, so the
  opening's luck is shared; a game that ends inside its opening stays finished.
- :func:`random_positions`: a sample of *unfinished* positions at assorted depths (each game
  its own uniformly drawn number of random moves), for self-play starts, benchmarks and
  tests. A move that would end the game is not played, so every position is unfinished;
  ``finished=True`` lets games end instead, for code that must also meet finished ones.

Both draw only from the ``rng`` given, so a seed fixes the positions.
"""

from __future__ import annotations

import numpy as np

from envs.core import Game, State
from envs.players import RandomPlayer, sample_masked
from train.arena.runner import play_lockstep


def random_openings(
    game: Game, n: int, plies: int, rng: np.random.Generator
) -> tuple[State, np.ndarray]:
    """``n`` positions reached by ``plies`` uniformly random legal moves from the empty board.

    Returns ``(states[n], actions int64[n, plies])``; a game that ends inside its opening
    (not possible in the first 4 plies of tic-tac-toe or 6 of Connect Four) stops there and
    its remaining actions are -1.
    """
    played = play_lockstep(game, [RandomPlayer(game)], game.initial_state(n), rng, max_plies=plies)
    return played.final, played.moves(plies)


def random_positions(
    game: Game, n: int, max_plies: int, rng: np.random.Generator, finished: bool = False
) -> State:
    """State[n]: positions after a uniformly drawn 0..``max_plies`` random legal moves each.

    Self-play from the empty board keeps to the lines the network likes; starting some games
    off those lines puts positions in the replay buffer that a good player never reaches but
    an opponent can steer into. A random move that would end the game is not played (the
    position stays one ply shorter), so every position is unfinished; with ``finished=True``
    such a move is played and that game stops there.

    The draws: first the ``n`` ply counts, then at every one of ``max_plies`` steps one
    :func:`envs.players.sample_masked` move for every game, moving or not (so a position
    depends only on the seed, its index and ``max_plies``).
    """
    plies = rng.integers(0, max_plies + 1, n)
    state = game.initial_state(n)
    for ply in range(max_plies):
        legal = game.legal_mask(state)
        # A finished game (only with ``finished``) has no legal move: it draws one anyway,
        # from all actions, and keeps its position.
        live = legal.any(axis=-1)
        moves = sample_masked(np.where(live[:, None], legal, True).astype(np.float64), rng)
        after = game.step(state, moves)
        keep = (plies > ply) & live
        if not finished:
            keep &= ~game.is_terminal(after)
        state = State.where(keep, after, state)
    return state
