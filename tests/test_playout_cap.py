"""Playout cap randomisation: which moves get the full search, what they are labelled with,
how the loss treats the others, and that without a cap self-play is what it always was."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs import CONNECT4, TICTACTOE, Game
from models.net import NetConfig, PolicyValueNet
from train.learn.alphazero import SelfPlayConfig
from train.learn.losses import policy_value_loss
from train.learn.optim import make_optimizer
from train.learn.updates import train_on_buffer
from train.search.evaluators import NetworkEvaluator, UniformEvaluator
from train.search.search import MCTSConfig, search, select_action
from train.search.targets import search_policy
from train.selfplay.games import merge_records, play_selfplay_games
from train.selfplay.playout_cap import PlayoutCap, draw_full_searches
from train.selfplay.process_pool import ProcessPoolBackend
from train.selfplay.replay_buffer import ReplayBuffer

CAP = PlayoutCap(full_fraction=0.25, cheap_simulations=3)


def _small_net(game: str) -> PolicyValueNet:
    torch.manual_seed(0)  # a random network: priors and values that are not uniform
    return PolicyValueNet(NetConfig(game, blocks=1, channels=8, value_hidden=8)).eval()


def test_the_share_of_full_searches_is_the_fraction_asked_for() -> None:
    game = TICTACTOE
    records = play_selfplay_games(
        game, UniformEvaluator(game), MCTSConfig(6), 300, np.random.default_rng(0),
        playout_cap=CAP,
    )  # fmt: skip
    n = len(records)
    assert n > 1500
    # Within 4 standard deviations of a binomial share (a few hundredths here).
    assert abs(records.has_policy.mean() - 0.25) < 4 * np.sqrt(0.25 * 0.75 / n)
    full = int(records.has_policy.sum())
    assert records.stats.full_searches == full
    assert records.stats.full_search_fraction == pytest.approx(full / n)
    assert records.stats.simulations == full * 6 + (n - full) * 3
    # The draws themselves: one uniform number per move, below the fraction.
    draws = draw_full_searches(PlayoutCap(0.7, 2), 100_000, np.random.default_rng(1))
    assert draws.mean() == pytest.approx(0.7, abs=0.01)


@pytest.mark.parametrize("rule", ["puct", "gumbel"])
def test_cheap_moves_are_no_policy_targets_and_are_searched_cheaply_without_noise(
    rule: str,
) -> None:
    game = CONNECT4
    evaluate = NetworkEvaluator(_small_net("connect4"), game)
    config = MCTSConfig(simulations=12, search=rule)
    records = play_selfplay_games(
        game, evaluate, config, 8, np.random.default_rng(2), playout_cap=CAP
    )
    cheap = ~records.has_policy
    assert cheap.any() and records.has_policy.any()
    np.testing.assert_array_equal(records.policies[cheap], 0.0)
    np.testing.assert_allclose(records.policies[~cheap].sum(axis=1), 1.0, rtol=1e-5)
    if rule == "puct":  # a full search's visits are counts of 12 simulations
        visits = records.policies[~cheap] * 12
        np.testing.assert_allclose(visits, np.round(visits), atol=1e-4)
    # Without noise the search is deterministic (Gumbel's too): searching the cheap positions
    # again with the cheap budget and no noise gives back the values recorded for them.
    cheap_config = MCTSConfig(simulations=CAP.cheap_simulations, search=rule)
    again = search(game, records.states[cheap], evaluate, cheap_config, np.random.default_rng(0))
    np.testing.assert_allclose(records.root_values[cheap], again.root_value, atol=1e-5)


def test_every_position_is_labelled_with_the_outcome_for_its_player_to_move() -> None:
    game = TICTACTOE
    records = play_selfplay_games(
        game, UniformEvaluator(game), MCTSConfig(4), 40, np.random.default_rng(3),
        playout_cap=CAP,
    )  # fmt: skip
    assert (~records.has_policy).sum() > 100
    # The oracle: replay each game from its move string, position by position.
    for g, notation in enumerate(records.moves):
        actions = game.parse_actions(notation)
        state, positions = game.initial_state(), []
        for action in actions:
            positions.append(state)
            state = game.play(state, action)
        assert game.is_terminal(state)
        rows = np.flatnonzero(records.game_index == g)
        assert len(rows) == len(actions)
        winner = (len(actions) - 1) % 2 if game.is_won(state) else None  # 0: the first player
        for row, ply in zip(rows, range(len(actions)), strict=True):
            assert records.states.own[row] == positions[ply].own
            assert records.states.opp[row] == positions[ply].opp
            expected = 0.0 if winner is None else (1.0 if ply % 2 == winner else -1.0)
            assert records.outcomes[row] == expected


def _todays_selfplay(
    game: Game, evaluate, config: MCTSConfig, n_games: int, rng: np.random.Generator
) -> tuple[list[list[int]], np.ndarray, np.ndarray]:
    """The oracle: AlphaZero's self-play loop as it was before playout caps, written out
    (one noisy search of every unfinished game per move, moves from the visits)."""
    states = game.initial_state(n_games).copy()
    playing, moves = np.arange(n_games), [[] for _ in range(n_games)]
    policies, values = [], []
    while len(playing):
        current = states[playing]
        result = search(game, current, evaluate, config, rng, add_noise=True)
        policies.append(search_policy(result, "completed-q"))
        values.append(result.root_value)
        temperature = 1.0 if len(moves[playing[0]]) < game.num_cells // 4 else 0.0
        actions = select_action(result.visits, temperature, rng)
        for g, a in zip(playing, actions, strict=True):
            moves[g].append(int(a))
        after = game.step(current, actions)
        states.set_rows(playing, after)
        playing = playing[~game.is_terminal(after)]
    return moves, np.concatenate(policies), np.concatenate(values)


@pytest.mark.parametrize("cap", [None, PlayoutCap(1.0, 3)], ids=["default", "fraction-1"])
def test_without_a_cap_selfplay_is_bit_for_bit_todays(cap: PlayoutCap | None) -> None:
    game = CONNECT4
    evaluate = NetworkEvaluator(_small_net("connect4"), game)
    config = MCTSConfig(simulations=8)
    rng, oracle_rng = np.random.default_rng(4), np.random.default_rng(4)
    options = {} if cap is None else {"playout_cap": cap}
    records = play_selfplay_games(
        game, evaluate, config, 5, rng, policy_target="completed-q", **options
    )
    moves, policies, values = _todays_selfplay(game, evaluate, config, 5, oracle_rng)
    assert records.moves == [game.notation(m) for m in moves]
    assert records.has_policy.all()
    np.testing.assert_array_equal(records.policies, policies)
    np.testing.assert_array_equal(records.root_values, values)
    # The same draws, no more: the run's generator is where the oracle's is.
    assert rng.bit_generator.state == oracle_rng.bit_generator.state


def test_the_process_pool_plays_capped_games_as_one_process_would() -> None:
    game = TICTACTOE
    model = _small_net("tictactoe")
    config = MCTSConfig(simulations=6)
    with ProcessPoolBackend(2) as workers:
        pooled = workers.play(model, config, 5, np.random.default_rng(9), playout_cap=CAP)
    seeds = np.random.default_rng(9).integers(0, 2**63 - 1, 2)
    evaluate = NetworkEvaluator(model, game)
    alone = [
        play_selfplay_games(game, evaluate, config, n, np.random.default_rng(int(s)),
                            playout_cap=CAP)
        for n, s in zip((3, 2), seeds, strict=True)
    ]  # fmt: skip
    expected = merge_records(alone, wall_time_s=1.0)
    assert pooled.moves == expected.moves
    np.testing.assert_array_equal(pooled.has_policy, expected.has_policy)
    np.testing.assert_array_equal(pooled.policies, expected.policies)
    assert not pooled.has_policy.all()


# --- the loss -----------------------------------------------------------------------------


def test_the_policy_loss_is_the_mean_over_the_rows_with_a_target() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 9, generator=gen)
    value = torch.tanh(torch.randn(6, generator=gen))
    target = torch.softmax(torch.randn(6, 9, generator=gen), dim=-1)
    target_value = torch.tensor([1.0, -1.0, 0.0, 1.0, 0.0, -1.0])
    mask = torch.tensor([True, False, True, True, False, False])
    garbage = target.clone()
    garbage[~mask] = torch.tensor([float("nan")] * 4 + [1e9] * 5)
    masked = policy_value_loss(logits, value, garbage, target_value, 0.5, policy_mask=mask)
    # The oracle: the policy term of the kept rows alone, the value term of all rows.
    kept = policy_value_loss(logits[mask], value[mask], target[mask], target_value[mask])
    every = policy_value_loss(logits, value, target, target_value)
    torch.testing.assert_close(masked.policy, kept.policy)
    torch.testing.assert_close(masked.value, every.value)
    torch.testing.assert_close(masked.total, kept.policy + 0.5 * every.value)
    # All rows kept: the plain mean, as without a mask.
    torch.testing.assert_close(
        policy_value_loss(logits, value, target, target_value, policy_mask=mask | True).policy,
        every.policy,
    )
    none = policy_value_loss(logits, value, garbage, target_value, policy_mask=mask & False)
    assert float(none.policy) == 0.0


def test_training_never_learns_from_the_policies_of_cheap_positions() -> None:
    game = TICTACTOE
    records = play_selfplay_games(
        game, UniformEvaluator(game), MCTSConfig(4), 12, np.random.default_rng(5),
        playout_cap=CAP,
    )  # fmt: skip
    cheap = ~records.has_policy
    garbage = records.policies.copy()
    garbage[cheap] = np.random.default_rng(6).normal(size=(cheap.sum(), 9)) * 1e6
    garbage[np.flatnonzero(cheap)[0]] = np.nan
    config = SelfPlayConfig(batch_size=32, augment=True)
    trained = []
    for policies in (records.policies, garbage):
        buffer = ReplayBuffer(1000, game)
        buffer.add(records.states, policies, records.outcomes, records.has_policy)
        model = _small_net("tictactoe")  # the same first weights both times
        optimizer, scheduler = make_optimizer(model, 1e-3, 1e-4)
        metrics = train_on_buffer(
            game, model, optimizer, scheduler, buffer, 3, config, np.random.default_rng(7),
            torch.device("cpu"),
        )  # fmt: skip
        assert np.isfinite(metrics["losses/policy"])
        trained.append(model.state_dict())
    for name, tensor in trained[0].items():
        assert torch.equal(tensor, trained[1][name]), name


def test_merged_positions_average_only_the_policies_that_are_targets() -> None:
    game = TICTACTOE
    state = game.initial_state(3)  # one position, three times
    policies = np.eye(9, dtype=np.float32)[[0, 4, 8]]
    buffer = ReplayBuffer(10, game)
    buffer.add(state, policies, np.array([1.0, 0.0, -1.0], np.float32),
               np.array([True, False, True]))  # fmt: skip
    buffer.add(game.step(game.initial_state(1), np.array([4])), policies[:1],
               np.zeros(1, np.float32), np.array([False]))  # fmt: skip
    states, policy, value, has_policy = buffer.merged()
    assert len(value) == 2
    empty = int(np.flatnonzero(states.ply == 0)[0])
    np.testing.assert_allclose(policy[empty], (policies[0] + policies[2]) / 2)
    assert value[empty] == pytest.approx(0.0) and has_policy[empty]
    assert not has_policy[1 - empty]


def test_a_cap_refuses_impossible_settings() -> None:
    with pytest.raises(ValueError, match="full_fraction"):
        PlayoutCap(0.0, 4)
    with pytest.raises(ValueError, match="cheap_simulations"):
        PlayoutCap(0.5, 0)
