"""Evaluators: uniform, random rollouts and the network, all behind the same callable."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torch import nn

from envs import CONNECT4, GAMES, TICTACTOE, Game, State
from models.net import PolicyValueNet, default_config
from tests.fixtures import random_positions
from train.search.evaluators import NetworkEvaluator, RolloutEvaluator, UniformEvaluator


@pytest.mark.parametrize("game", GAMES.values(), ids=GAMES.keys())
def test_uniform_evaluator(game: Game) -> None:
    states = random_positions(game, 6, seed=2)
    legal = game.legal_mask(states)
    priors, values = UniformEvaluator(game)(states, legal)
    assert priors.dtype == values.dtype == np.float32
    np.testing.assert_allclose(priors.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(priors[legal], np.repeat(1 / legal.sum(axis=1), legal.sum(axis=1)))
    assert not priors[~legal].any() and not values.any()


def _one_move_left(n: int, seed: int) -> State:
    """Tic-tac-toe positions with eight stones and no line yet: one forced move remains."""
    rng = np.random.default_rng(seed)
    found = []
    while len(found) < n:
        state = TICTACTOE.initial_state()
        for _ in range(8):
            state = TICTACTOE.step(state, rng.choice(np.flatnonzero(TICTACTOE.legal_mask(state))))
            if TICTACTOE.is_terminal(state):
                break
        if not TICTACTOE.is_terminal(state):
            found.append(state)
    return State.stack(found)


def test_rollouts_of_forced_endings_are_exact() -> None:
    states = _one_move_left(12, seed=0)
    legal = TICTACTOE.legal_mask(states)
    _, values = RolloutEvaluator(TICTACTOE, np.random.default_rng(0), rollouts=3)(states, legal)
    # The last move ends the game; its result for the mover is minus the result for the
    # player to move afterwards (the loser if the move made a line).
    after = TICTACTOE.step(states, legal.argmax(axis=1))
    expected = -TICTACTOE.terminal_value(after)
    np.testing.assert_array_equal(values, expected)
    assert set(expected.tolist()) == {0.0, 1.0}, "the sample should hold wins and draws"


def test_rollouts_of_finished_positions_give_the_outcome() -> None:
    states = State.stack([TICTACTOE.parse("14253"), TICTACTOE.parse("123564897")])
    legal = TICTACTOE.legal_mask(states)
    _, values = RolloutEvaluator(TICTACTOE, np.random.default_rng(0))(states, legal)
    np.testing.assert_array_equal(values, TICTACTOE.terminal_value(states))


@functools.cache
def _random_play_value(own: int, opp: int, ply: int) -> float:
    """The exact expected result of uniformly random play, for the player to move."""
    state = State(np.uint64(own), np.uint64(opp), np.int32(ply))
    if TICTACTOE.is_terminal(state):
        return float(TICTACTOE.terminal_value(state))
    children = [TICTACTOE.step(state, a) for a in np.flatnonzero(TICTACTOE.legal_mask(state))]
    return -np.mean([_random_play_value(int(c.own), int(c.opp), int(c.ply)) for c in children])


def test_rollout_values_match_the_exact_random_play_expectation() -> None:
    positions = [TICTACTOE.parse(p) for p in ("51", "123", "5")]
    states = State.stack(positions)
    legal = TICTACTOE.legal_mask(states)
    _, values = RolloutEvaluator(TICTACTOE, np.random.default_rng(0), rollouts=3000)(states, legal)
    exact = [_random_play_value(int(s.own), int(s.opp), int(s.ply)) for s in positions]
    # 3000 playouts: standard error below 1 / sqrt(3000) ~ 0.018.
    np.testing.assert_allclose(values, exact, atol=0.07)


def test_rollouts_in_connect_four_are_in_range_and_reproducible() -> None:
    states = random_positions(CONNECT4, 5, seed=4)
    legal = CONNECT4.legal_mask(states)
    runs = [
        RolloutEvaluator(CONNECT4, np.random.default_rng(9), rollouts=4)(states, legal)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert np.all(np.abs(runs[0][1]) <= 1)
    np.testing.assert_allclose(runs[0][0].sum(axis=1), 1.0, rtol=1e-6)


class _LinearStandIn(nn.Module):
    """A tiny policy-value model with the network's call signature; remembers its input."""

    def __init__(self, game: Game) -> None:
        super().__init__()
        self.num_actions = game.num_actions
        self.layer = nn.Linear(int(np.prod(game.obs_shape)), game.num_actions + 1)
        self.seen_obs: torch.Tensor | None = None

    def forward(self, obs: torch.Tensor, legal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.seen_obs = obs.clone()
        out = self.layer(obs.flatten(1))
        logits = out[:, :-1].masked_fill(~legal, -1e9)
        return logits, torch.tanh(out[:, -1])


def test_network_evaluator_with_a_stand_in_model() -> None:
    torch.manual_seed(0)
    model = _LinearStandIn(CONNECT4)
    model.train()  # the evaluator must not leave it in another mode
    states = random_positions(CONNECT4, 9, seed=6)
    legal = CONNECT4.legal_mask(states)
    priors, values = NetworkEvaluator(model, CONNECT4)(states, legal)
    assert model.training
    obs = CONNECT4.observation(states)
    np.testing.assert_array_equal(model.seen_obs.numpy(), obs)

    # The same numbers computed by hand: a softmax over the legal moves only.
    with torch.no_grad():
        out = model.layer(torch.from_numpy(obs).flatten(1)).numpy().astype(np.float64)
    logits = np.where(legal, out[:, :-1], -np.inf)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    assert priors.dtype == values.dtype == np.float32
    np.testing.assert_allclose(priors, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(values, np.tanh(out[:, -1]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("game", GAMES.values(), ids=GAMES.keys())
def test_network_evaluator_with_the_default_network(game: Game) -> None:
    torch.manual_seed(0)
    model = PolicyValueNet(default_config(game.name))
    states = random_positions(game, 4, seed=8)
    legal = game.legal_mask(states)
    priors, values = NetworkEvaluator(model, game)(states, legal)
    assert priors.shape == (4, game.num_actions) and values.shape == (4,)
    np.testing.assert_allclose(priors.sum(axis=1), 1.0, rtol=1e-5)
    assert not priors[~legal].any()
    assert np.all(np.abs(values) <= 1)
