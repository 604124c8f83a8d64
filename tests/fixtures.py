"""General test helpers: a deterministic stand-in network and random test positions.

:func:`hashed_evaluator` gives position-dependent, uneven priors and values without a
network (the search tests use it against their oracle, ``train/search/reference.py``);
:func:`random_positions` gives unfinished positions at assorted depths.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from envs.core import Game, State
from train.arena import positions


def _mix(x: np.ndarray) -> np.ndarray:
    """uint64: the splitmix64 finaliser, a cheap well-scrambling hash."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def hashed_evaluator(states: State, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic, position-dependent, uneven priors and values: a stand-in network."""
    key = _mix(_stones(states.own) * np.uint64(0x9E3779B97F4A7C15))
    key = _mix(key ^ _stones(states.opp))
    actions = np.arange(legal.shape[-1], dtype=np.uint64)
    per_action = _mix(key[:, None] + actions * np.uint64(0xD1B54A32D192ED03)) >> np.uint64(11)
    weights = np.where(legal, 0.05 + per_action / 2.0**53, 0.0)
    priors = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
    values = ((_mix(key ^ np.uint64(12345)) >> np.uint64(11)) / 2.0**53 * 2 - 1).astype(np.float32)
    return priors, values


def _stones(stones: np.ndarray) -> np.ndarray:
    """uint64[B]: one word per position: a bitboard as it is, a board of cells hashed."""
    if stones.dtype != np.bool_:
        return np.atleast_1d(stones).astype(np.uint64)
    words = np.packbits(stones.reshape(-1, stones.shape[-1]), axis=-1).astype(np.uint64)
    key = np.zeros(len(words), dtype=np.uint64)
    for column in words.T:
        key = _mix(key ^ column)
    return key


def tiny_checkpoints(
    folder: Path, games: tuple[str, ...], sharpen_value: bool = False
) -> dict[str, Path]:
    """A tiny untrained network per game, saved as ``folder/<game>.pt``: its policy (and with
    ``sharpen_value`` its value) sharpened, so that its moves (and values) differ."""
    import torch

    from models.checkpoint import save_checkpoint
    from models.net import NetConfig, PolicyValueNet

    torch.manual_seed(0)
    paths = {}
    for game in games:
        model = PolicyValueNet(NetConfig(game, blocks=1, channels=8, value_hidden=16))
        with torch.no_grad():
            model.policy_head[-1].weight.mul_(20)
            if sharpen_value:
                model.value_head[-1].weight.mul_(20)
        paths[game] = folder / f"{game}.pt"
        save_checkpoint(paths[game], model, stage="test", step=0, args={}, metrics={}, seed=0)
    return paths


def random_positions(game: Game, n: int, seed: int) -> State:
    """``n`` unfinished positions reached by random play, at assorted depths (0 to all but
    three plies): :func:`train.arena.positions.random_positions` from a seed."""
    return positions.random_positions(game, n, game.num_cells - 3, np.random.default_rng(seed))
