"""The one player interface: given a batch of positions, return one action per position.

Scripted experts, the random player, search and network players (in ``train/``) and the
human at the terminal all implement :class:`Player`, so duels, data generation, play and the
analysis engine use them interchangeably.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from envs.core import Game, State


@runtime_checkable
class Player(Protocol):
    """Anything that picks moves.

    Attributes:
        name: a short label for tables and logs, e.g. ``"expert-d4"``.
        game: the game it plays.
    """

    name: str
    game: Game

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        """int64[B]: one legal action for each of a batch ``[B]`` of unfinished positions."""
        ...


def sample_masked(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """int64[B]: one index per row of ``weights`` ``[B, A]`` (non-negative, rows not all 0)."""
    cdf = np.cumsum(weights, axis=-1)
    u = rng.random(cdf.shape[:-1]) * cdf[..., -1]
    # The first index whose cumulative weight exceeds u; zero weights are never chosen.
    return (cdf <= u[..., None]).sum(axis=-1).astype(np.int64)


class RandomPlayer:
    """Plays a uniformly random legal move."""

    def __init__(self, game: Game) -> None:
        self.game = game
        self.name = "random"

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        legal = self.game.legal_mask(state).astype(np.float64)
        if not legal.any(axis=-1).all():
            raise ValueError("RandomPlayer.act got a finished position")
        return sample_masked(legal, rng)
