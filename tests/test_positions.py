"""Random positions: the one generator gives what the copies it replaced gave."""

from __future__ import annotations

import numpy as np
import pytest

from envs import CONNECT4, TICTACTOE, Game
from train.arena.positions import random_positions
from train.selfplay.games import random_starts


@pytest.mark.parametrize("game", [TICTACTOE, CONNECT4], ids=lambda g: g.name)
@pytest.mark.parametrize("max_plies", [0, 1, 4, 8, 30])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_positions_equal_self_plays_random_starts(game: Game, max_plies: int, seed):
    rng_new, rng_old = np.random.default_rng(seed), np.random.default_rng(seed)
    new = random_positions(game, 300, max_plies, rng_new)
    old = random_starts(game, 300, max_plies, rng_old)
    assert rng_new.bit_generator.state == rng_old.bit_generator.state  # the same draws
    for field in ("own", "opp", "ply"):
        np.testing.assert_array_equal(getattr(new, field), getattr(old, field))
        assert getattr(new, field).dtype == getattr(old, field).dtype
