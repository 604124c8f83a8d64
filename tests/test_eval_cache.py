"""The evaluation cache: the evaluator's own answers, each position asked about once; a
search and self-play with it equal those without it (bit for bit with a deterministic,
batch-independent evaluator; to float32 rounding with the network)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs import CONNECT4, GAMES, TICTACTOE, Game, State
from models.net import PolicyValueNet, default_config
from tests.fixtures import hashed_evaluator, random_positions
from train.search.eval_cache import EvaluationCache
from train.search.evaluators import NetworkEvaluator
from train.search.search import MCTSConfig, search
from train.selfplay.games import play_selfplay_games


class _Asked:
    """``hashed_evaluator``, recording the positions it is asked about."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int, int]] = []

    def __call__(self, states: State, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fields = (states.own.tolist(), states.opp.tolist(), states.ply.tolist())
        self.asked += list(zip(*fields, strict=True))
        return hashed_evaluator(states, legal)


def _cached(capacity: int, inner=hashed_evaluator) -> tuple[EvaluationCache, object]:
    cache = EvaluationCache(CONNECT4.num_actions, capacity)
    return cache, lambda states, legal: cache(states, legal, inner)


def test_answers_are_the_evaluators_and_each_position_is_asked_once() -> None:
    states = random_positions(CONNECT4, 40, seed=2)
    # Twice the same batch, shuffled and with repeats inside it.
    order = np.random.default_rng(0).integers(0, 40, 100)
    batch = State.concat([states, states[order]])
    legal = CONNECT4.legal_mask(batch)
    asked = _Asked()
    cache = EvaluationCache(CONNECT4.num_actions, 1000)
    for _ in range(2):
        priors, values = cache(batch, legal, asked)
        expected_priors, expected_values = hashed_evaluator(batch, legal)
        np.testing.assert_array_equal(priors, expected_priors)
        np.testing.assert_array_equal(values, expected_values)
    assert sorted(asked.asked) == sorted(set(asked.asked)), "a position asked about twice"
    assert len(asked.asked) == len(cache) == 40
    assert cache.misses == 40 and cache.hits == 100 + 140  # 100 repeats in the first call


def test_a_full_cache_starts_afresh_and_stays_right() -> None:
    states = random_positions(CONNECT4, 30, seed=4)
    legal = CONNECT4.legal_mask(states)
    cache = EvaluationCache(CONNECT4.num_actions, 25)
    for start in (0, 10, 20, 0):
        part = slice(start, start + 10)
        priors, values = cache(states[part], legal[part], hashed_evaluator)
        np.testing.assert_array_equal(priors, hashed_evaluator(states[part], legal[part])[0])
        np.testing.assert_array_equal(values, hashed_evaluator(states[part], legal[part])[1])
        assert len(cache) <= 25
    # More positions than it holds: answered without the cache.
    priors, _ = cache(states, legal, hashed_evaluator)
    np.testing.assert_array_equal(priors, hashed_evaluator(states, legal)[0])


def test_positions_differing_only_in_ply_or_colour_are_apart() -> None:
    a = TICTACTOE.parse("15")
    swapped = State(a.opp, a.own, a.ply)  # the same stones, the other player's view
    later = State(a.own, a.opp, a.ply + 2)
    batch = State.stack([a, swapped, later])
    cache = EvaluationCache(TICTACTOE.num_actions, 10)
    cache(batch, TICTACTOE.legal_mask(batch), hashed_evaluator)
    assert len(cache) == 3


@pytest.mark.parametrize("game", GAMES.values(), ids=GAMES.keys())
def test_search_with_the_cache_is_bit_identical(game: Game) -> None:
    # hashed_evaluator scores each position alone, so its answers cannot depend on the batch.
    config = MCTSConfig(simulations=48)
    states = random_positions(game, 12, seed=9)
    cache = EvaluationCache(game.num_actions, 5000)
    cached = lambda s, legal: cache(s, legal, hashed_evaluator)  # noqa: E731
    for seed in (0, 1):
        plain = search(game, states, hashed_evaluator, config, np.random.default_rng(seed), True)
        fast = search(game, states, cached, config, np.random.default_rng(seed), True)
        for field in ("visits", "q", "root_value", "priors", "action"):
            np.testing.assert_array_equal(getattr(fast, field), getattr(plain, field))
    assert cache.hits > 0


def test_selfplay_with_the_cache_is_bit_identical() -> None:
    config = MCTSConfig(simulations=24)
    cache, cached = _cached(100_000)
    plain = play_selfplay_games(CONNECT4, hashed_evaluator, config, 6, np.random.default_rng(3))
    fast = play_selfplay_games(CONNECT4, cached, config, 6, np.random.default_rng(3))
    assert fast.moves == plain.moves
    np.testing.assert_array_equal(fast.policies, plain.policies)
    np.testing.assert_array_equal(fast.root_values, plain.root_values)
    # Later moves search again below the move played: many positions come back.
    assert cache.hits > cache.misses / 4


def test_network_evaluator_cache_follows_the_weights() -> None:
    torch.manual_seed(0)
    model = PolicyValueNet(default_config(CONNECT4.name)).eval()
    states = random_positions(CONNECT4, 32, seed=5)
    legal = CONNECT4.legal_mask(states)
    plain = NetworkEvaluator(model, CONNECT4)
    cached = NetworkEvaluator(model, CONNECT4, cache_size=1000)
    for call in range(2):  # the second call is answered from the cache
        priors, values = cached(states, legal)
        expected_priors, expected_values = plain(states, legal)
        np.testing.assert_allclose(priors, expected_priors, rtol=0, atol=1e-6)
        np.testing.assert_allclose(values, expected_values, rtol=0, atol=1e-6)
        if call == 0:
            scored, hits = cached.cache.misses, cached.cache.hits
    assert cached.cache.misses == scored and cached.cache.hits == hits + 32

    with torch.no_grad():  # new weights: the cached answers are stale
        for p in model.parameters():
            p.add_(0.1)
    priors, _ = cached(states, legal)
    np.testing.assert_allclose(priors, plain(states, legal)[0], rtol=0, atol=1e-6)
    assert np.abs(priors - expected_priors).max() > 1e-3
    assert cached.cache.misses == 2 * scored and len(cached.cache) == scored
