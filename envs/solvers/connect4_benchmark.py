"""A shipped set of Connect Four positions labelled by the solver, for grading move choices.

Each position carries the exact score of every legal move (see
:mod:`envs.solvers.connect4_solver` for the scores; illegal moves hold ``ILLEGAL``), its
move string from the empty board, and its stage of the game.
``scripts/make_benchmark_set.py`` writes the file; this module reads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.core import State
from envs.profile import STAGES

#: The last ply of the opening and of the middle game; the end game is everything after.
OPENING_LAST_PLY = 14
MIDDLE_LAST_PLY = 28
#: Where the shipped set lies (the repository's ``data`` folder).
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "c4_benchmark.npz"


def stage_of(ply: np.ndarray | int) -> np.ndarray:
    """str[...]: the stage name of each ply count (``"opening"``, ``"middle"`` or ``"end"``)."""
    index = (np.asarray(ply) > OPENING_LAST_PLY).astype(int) + (np.asarray(ply) > MIDDLE_LAST_PLY)
    return np.asarray(STAGES)[index]


def stage_index(ply: np.ndarray) -> np.ndarray:
    """int8[N]: the index in :data:`STAGES` of positions with ``ply`` stones (int[N])."""
    return np.digitize(ply, [OPENING_LAST_PLY + 1, MIDDLE_LAST_PLY + 1]).astype(np.int8)


@dataclass(frozen=True)
class BenchmarkSet:
    """``N`` labelled positions.

    Attributes:
        own: uint64[N] stones of the player to move.
        opp: uint64[N] stones of the other player.
        ply: int32[N] stones on the board.
        action_values: int16[N, 7] solver score of each move for the player to move;
            ``ILLEGAL`` (-1000) where the column is full.
        notation: str[N] the moves from the empty board, e.g. ``"4453"``.
        stage: str[N] ``"opening"``, ``"middle"`` or ``"end"`` (see :func:`stage_of`).
        source: str[N] the kind of play that reached the position (e.g. ``"random"``).
    """

    own: np.ndarray
    opp: np.ndarray
    ply: np.ndarray
    action_values: np.ndarray
    notation: np.ndarray
    stage: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.ply)

    @property
    def states(self) -> State:
        """The positions as one batch ``State[N]``."""
        return State(self.own, self.opp, self.ply)

    @property
    def values(self) -> np.ndarray:
        """int16[N]: the score of each position (its best move's score)."""
        return self.action_values.max(axis=-1)

    def select(self, index: np.ndarray) -> BenchmarkSet:
        """The positions picked by an index array or boolean mask."""
        return BenchmarkSet(**{k: v[index] for k, v in vars(self).items()})


def load_benchmark_set(path: str | Path = DEFAULT_PATH) -> BenchmarkSet:
    """Read a set written by :func:`save_benchmark_set` (default: the shipped one)."""
    with np.load(path, allow_pickle=False) as data:
        return BenchmarkSet(**{name: data[name] for name in data.files})


def save_benchmark_set(data: BenchmarkSet, path: str | Path) -> None:
    """Write a set as a compressed ``.npz``, atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    with open(partial, "wb") as f:
        np.savez_compressed(f, **vars(data))
    os.replace(partial, path)
