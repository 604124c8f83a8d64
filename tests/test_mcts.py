"""Batched search: identical to its oracle, the one-leaf reference search of
``train/search/reference.py``; known answers, action choice, self-play."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from envs import CONNECT4, GAMES, TICTACTOE, Game, State
from tests.fixtures import hashed_evaluator, random_positions
from train.search.evaluators import RolloutEvaluator, UniformEvaluator, uniform_priors
from train.search.reference import reference_search
from train.search.search import MCTSConfig, search, select_action
from train.selfplay.games import play_selfplay_games

# --- the oracle: batched == reference -------------------------------------------------


@pytest.mark.parametrize("game", GAMES.values(), ids=GAMES.keys())
@pytest.mark.parametrize("fpu_value", [0.0, None, -1.0])
def test_batched_search_matches_reference(game: Game, fpu_value: float | None) -> None:
    config = MCTSConfig(simulations=60, fpu_value=fpu_value)
    states = random_positions(game, 10, seed=7)
    result = search(game, states, hashed_evaluator, config, np.random.default_rng(0))
    for i in range(len(states)):
        visits, q, root_value = reference_search(game, states[i], hashed_evaluator, config)
        np.testing.assert_array_equal(result.visits[i], visits)
        np.testing.assert_allclose(result.q[i], q, atol=1e-6)
        assert result.root_value[i] == pytest.approx(root_value, abs=1e-6)


@pytest.mark.parametrize("game", GAMES.values(), ids=GAMES.keys())
def test_batched_search_matches_reference_with_uniform_evaluator(game: Game) -> None:
    # Uniform priors make many exact ties: this checks the tie-breaking as well.
    config = MCTSConfig(simulations=40)
    states = random_positions(game, 6, seed=3)
    evaluator = UniformEvaluator(game)
    result = search(game, states, evaluator, config, np.random.default_rng(0))
    for i in range(len(states)):
        visits, _, _ = reference_search(game, states[i], evaluator, config)
        np.testing.assert_array_equal(result.visits[i], visits)


def test_search_result_shapes_and_totals() -> None:
    states = random_positions(CONNECT4, 5, seed=1)
    config = MCTSConfig(simulations=30)
    result = search(CONNECT4, states, hashed_evaluator, config, np.random.default_rng(0))
    assert result.visits.shape == result.q.shape == result.priors.shape == (5, 7)
    assert result.visits.dtype == np.int32 and result.q.dtype == np.float32
    assert result.root_value.shape == (5,)
    np.testing.assert_array_equal(result.visits.sum(axis=1), 30)
    assert not result.visits[~CONNECT4.legal_mask(states)].any()
    np.testing.assert_array_equal(result.legal, CONNECT4.legal_mask(states))
    np.testing.assert_array_equal(
        result.priors, hashed_evaluator(states, CONNECT4.legal_mask(states))[0]
    )


def test_search_refuses_finished_positions() -> None:
    states = State.stack([TICTACTOE.parse("14253"), TICTACTOE.parse("1")])
    with pytest.raises(ValueError, match="unfinished"):
        search(
            TICTACTOE, states, UniformEvaluator(TICTACTOE), MCTSConfig(), np.random.default_rng(0)
        )


# --- known answers ---------------------------------------------------------------------


def test_takes_immediate_wins_in_a_batch() -> None:
    # X is to move in each and completes four in a row with any of the listed columns.
    cases = {"445566": [2, 6], "121212": [0], "717171": [6]}
    states = State.stack([CONNECT4.parse(p) for p in cases])
    config = MCTSConfig(simulations=200)
    result = search(CONNECT4, states, UniformEvaluator(CONNECT4), config, np.random.default_rng(0))
    for i, wins in enumerate(cases.values()):
        assert result.visits[i].argmax() in wins
        visited_wins = [a for a in wins if result.visits[i, a]]
        assert visited_wins
        # A won game is worth exactly +1 to the winner, and so is the move that wins it.
        np.testing.assert_array_equal(result.q[i, visited_wins], 1.0)
        assert result.root_value[i] > 0.5


def test_blocks_an_immediate_loss() -> None:
    # X holds columns 4, 5, 6 on the bottom row and O holds column 7: O must block column 3.
    state = State.stack([CONNECT4.parse("47546")])
    rng = np.random.default_rng(0)
    config = MCTSConfig(simulations=200)
    for evaluator in (UniformEvaluator(CONNECT4), RolloutEvaluator(CONNECT4, rng, rollouts=2)):
        result = search(CONNECT4, state, evaluator, config, rng)
        assert result.visits[0].argmax() == 2
        assert result.q[0, 2] > result.q[0, np.arange(7) != 2].max()


def test_lost_position_is_valued_near_minus_one() -> None:
    # X holds columns 3, 4, 5 on the bottom row with both ends open; O, to move, cannot stop
    # both threats.
    state = State.stack([CONNECT4.parse("33445")])
    rng = np.random.default_rng(0)
    config = MCTSConfig(simulations=400)
    result = search(CONNECT4, state, RolloutEvaluator(CONNECT4, rng), config, rng)
    assert result.root_value[0] < -0.7
    assert (result.q[0] < 0).all()


@functools.cache
def _negamax(own: int, opp: int, ply: int) -> float:
    """The exact tic-tac-toe value for the player to move (an oracle independent of search)."""
    state = State(np.uint64(own), np.uint64(opp), np.int32(ply))
    if TICTACTOE.is_terminal(state):
        return float(TICTACTOE.terminal_value(state))
    return max(-_exact_value(TICTACTOE.step(state, a)) for a in _legal(state))


def _exact_value(state: State) -> float:
    return _negamax(int(state.own), int(state.opp), int(state.ply))


def _legal(state: State) -> list[int]:
    return np.flatnonzero(TICTACTOE.legal_mask(state)).tolist()


def _exact_best_moves(state: State) -> list[int]:
    value = _exact_value(state)
    return [a for a in _legal(state) if -_exact_value(TICTACTOE.step(state, a)) == value]


def test_won_tictactoe_position_is_valued_near_plus_one() -> None:
    # X 1 5 9, O 3 (1-based cells); X to move wins by force, with one move only (a fork).
    state = TICTACTOE.parse("1593")
    assert _exact_value(state) == 1 and _exact_best_moves(state) == [6]
    rng = np.random.default_rng(0)
    config = MCTSConfig(simulations=800)
    for evaluator in (UniformEvaluator(TICTACTOE), RolloutEvaluator(TICTACTOE, rng)):
        result = search(TICTACTOE, State.stack([state]), evaluator, config, rng)
        assert result.visits[0].argmax() == 6
        assert result.root_value[0] > 0.8


def test_drawn_tictactoe_position_is_valued_near_zero() -> None:
    # X 5 9, O 1; O to move draws only with 3 or 7 (0-based 2, 6); the other moves lose.
    state = TICTACTOE.parse("519")
    assert _exact_value(state) == 0 and _exact_best_moves(state) == [2, 6]
    rng = np.random.default_rng(0)
    config = MCTSConfig(simulations=800)
    for evaluator in (UniformEvaluator(TICTACTOE), RolloutEvaluator(TICTACTOE, rng)):
        result = search(TICTACTOE, State.stack([state]), evaluator, config, rng)
        assert result.visits[0].argmax() in (2, 6)
        assert abs(result.root_value[0]) < 0.15


# --- choosing the move -----------------------------------------------------------------


def test_select_action_greedy_breaks_ties_at_random() -> None:
    visits = np.array([[3, 7, 7, 0], [9, 1, 0, 0]] * 200)
    chosen = select_action(visits, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(chosen[1::2], 0)
    assert set(chosen[0::2].tolist()) == {1, 2}


def test_select_action_temperature_one_follows_visits() -> None:
    visits = np.tile([0, 10, 30, 60], (20000, 1))
    chosen = select_action(visits, 1.0, np.random.default_rng(0))
    freq = np.bincount(chosen, minlength=4) / len(chosen)
    np.testing.assert_allclose(freq, [0, 0.1, 0.3, 0.6], atol=0.015)
    # A low temperature sharpens towards the most visited action.
    sharp = select_action(visits, 0.25, np.random.default_rng(0))
    assert (sharp == 3).mean() > 0.9


def test_root_noise_changes_the_search_but_not_the_rules() -> None:
    states = random_positions(CONNECT4, 8, seed=5)
    config = MCTSConfig(simulations=50)
    plain = search(CONNECT4, states, hashed_evaluator, config, np.random.default_rng(0))
    noisy = [
        search(CONNECT4, states, hashed_evaluator, config, np.random.default_rng(s), add_noise=True)
        for s in (1, 2)
    ]
    legal = CONNECT4.legal_mask(states)
    for result in noisy:
        np.testing.assert_array_equal(result.visits.sum(axis=1), 50)
        assert not result.visits[~legal].any()
        np.testing.assert_array_equal(result.priors, plain.priors)  # reported without noise
    assert (noisy[0].visits != noisy[1].visits).any()
    assert (noisy[0].visits != plain.visits).any()


# --- self-play -------------------------------------------------------------------------


def test_selfplay_records_are_consistent_with_the_games() -> None:
    game = TICTACTOE
    config = MCTSConfig(simulations=16)
    records = play_selfplay_games(game, UniformEvaluator(game), config, 6, np.random.default_rng(0))
    stats = records.stats
    assert len(records.moves) == 6
    np.testing.assert_array_equal(stats.game_lengths, [len(m) for m in records.moves])
    assert len(records) == stats.game_lengths.sum()
    assert stats.simulations == len(records) * 16
    np.testing.assert_allclose(records.policies.sum(axis=1), 1.0, rtol=1e-6)
    assert not records.policies[~game.legal_mask(records.states)].any()

    first_wins = draws = 0
    for g, notation in enumerate(records.moves):
        # Replay the game: each recorded position, and the outcome from its mover's view.
        rows = np.flatnonzero(records.game_index == g)
        actions = game.parse_actions(notation)
        state = game.initial_state()
        for row, action in zip(rows, actions, strict=True):
            assert records.states.own[row] == state.own and records.states.opp[row] == state.opp
            assert records.policies[row, action] > 0  # the move played was searched
            state = game.play(state, action)
        assert game.is_terminal(state)
        final = float(game.terminal_value(state))  # for the player to move at the end
        for row in rows:
            sign = 1 if (state.ply - records.states.ply[row]) % 2 == 0 else -1
            assert records.outcomes[row] == sign * final
        first_wins += final == -1 and state.ply % 2 == 1
        draws += final == 0
    assert stats.first_player_win_rate == first_wins / 6
    assert stats.draw_rate == draws / 6
    # Uniform priors have maximal entropy; a search policy can only be as flat or sharper.
    assert stats.prior_entropy >= stats.search_entropy


def test_selfplay_without_temperature_is_reproducible_and_greedy() -> None:
    game = CONNECT4
    config = MCTSConfig(simulations=8)
    runs = [
        play_selfplay_games(
            game,
            hashed_evaluator,
            config,
            4,
            np.random.default_rng(11),
            temperature_moves=0,
            add_noise=False,
        )
        for _ in range(2)
    ]
    assert runs[0].moves == runs[1].moves
    # With no noise and no temperature, play is deterministic up to ties in the visit
    # counts, so every move played had the maximal visit count.
    best = runs[0].policies.max(axis=1)
    actions = np.concatenate([game.parse_actions(m) for m in runs[0].moves])
    order = np.lexsort((runs[0].states.ply, runs[0].game_index))
    np.testing.assert_array_equal(runs[0].policies[order, actions], best[order])


def test_uniform_priors_helper() -> None:
    legal = np.array([[True, False, True], [False, False, False]])
    np.testing.assert_allclose(uniform_priors(legal), [[0.5, 0, 0.5], [0, 0, 0]])
