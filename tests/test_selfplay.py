"""Self-play plumbing: random starts, merged records, workers, the replay buffer, the rate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs import CONNECT4, TICTACTOE, Game, State
from models.net import NetConfig, PolicyValueNet
from train.arena.positions import random_positions
from train.learn.alphazero import SelfPlayConfig
from train.learn.driver import torch_threads
from train.learn.optim import anneal, make_optimizer
from train.learn.updates import value_targets
from train.search.evaluators import NetworkEvaluator, UniformEvaluator
from train.search.search import MCTSConfig, search
from train.selfplay.backend import InProcessBackend, make_backend
from train.selfplay.games import merge_records, play_selfplay_games
from train.selfplay.process_pool import ProcessPoolBackend
from train.selfplay.replay_buffer import ReplayBuffer


def test_merged_records_equal_the_parts_side_by_side() -> None:
    game = TICTACTOE
    config = MCTSConfig(simulations=8)
    parts = [
        play_selfplay_games(game, UniformEvaluator(game), config, n, np.random.default_rng(n))
        for n in (3, 5)
    ]
    merged = merge_records(parts, wall_time_s=2.0)
    assert merged.moves == parts[0].moves + parts[1].moves
    assert len(merged) == len(parts[0]) + len(parts[1])
    # Game 0 of the second part is game 3 of the merge.
    np.testing.assert_array_equal(merged.game_index[len(parts[0]) :], parts[1].game_index + 3)
    np.testing.assert_array_equal(merged.outcomes, np.concatenate([p.outcomes for p in parts]))
    np.testing.assert_array_equal(
        merged.root_values, np.concatenate([p.root_values for p in parts])
    )
    # Rates over the 8 games, recomputed from the games themselves.
    lengths = np.concatenate([p.stats.game_lengths for p in parts])
    np.testing.assert_array_equal(merged.stats.game_lengths, lengths)
    first_wins = sum(p.stats.first_player_win_rate * len(p.moves) for p in parts)
    assert merged.stats.first_player_win_rate == pytest.approx(first_wins / 8)
    assert merged.stats.simulations == lengths.sum() * 8
    assert merged.stats.positions_per_s == pytest.approx(lengths.sum() / 2.0)


def test_recorded_root_values_are_the_searchs_values_of_those_positions() -> None:
    # Without noise and with greedy moves the search is deterministic, so searching each
    # recorded position again must give back the value recorded for it.
    game, config = CONNECT4, MCTSConfig(simulations=16)
    torch.manual_seed(0)  # a random network: values that are not all zero
    model = PolicyValueNet(NetConfig("connect4", blocks=1, channels=8, value_hidden=8)).eval()
    evaluate = NetworkEvaluator(model, game)
    records = play_selfplay_games(
        game, evaluate, config, 6, np.random.default_rng(3), temperature_moves=0, add_noise=False
    )
    rng = np.random.default_rng(4)
    again = search(game, records.states, evaluate, config, rng, add_noise=False)
    np.testing.assert_allclose(records.root_values, again.root_value, atol=1e-5)
    assert records.root_values.dtype == np.float32
    assert np.abs(records.root_values).max() > 0.01


@pytest.mark.parametrize("weight", [0.0, 0.25, 1.0])
def test_value_targets_mix_outcome_and_root_value(weight: float) -> None:
    records = play_selfplay_games(
        TICTACTOE, UniformEvaluator(TICTACTOE), MCTSConfig(8), 4, np.random.default_rng(1)
    )
    config = SelfPlayConfig(value_target_q=weight)
    targets = value_targets(records, config)
    for row in range(len(records)):
        z, q = float(records.outcomes[row]), float(records.root_values[row])
        assert targets[row] == pytest.approx((1 - weight) * z + weight * q, abs=1e-6)


def test_workers_play_the_games_one_process_would_play_with_their_seeds() -> None:
    game = CONNECT4
    torch.manual_seed(0)
    model = PolicyValueNet(NetConfig("connect4", blocks=1, channels=8, value_hidden=8)).eval()
    config = MCTSConfig(simulations=6)
    starts = random_positions(game, 5, 4, np.random.default_rng(3))
    with ProcessPoolBackend(2) as workers:
        pooled = workers.play(
            model,
            config,
            5,
            np.random.default_rng(9),
            temperature_moves=2,
            start_states=starts,
            policy_target="completed-q",
        )
    # The oracle: the same shares (3 and 2 games) with the same seeds, in this process.
    seeds = np.random.default_rng(9).integers(0, 2**63 - 1, 2)
    evaluate = NetworkEvaluator(model, game)
    alone = [
        play_selfplay_games(
            game,
            evaluate,
            config,
            len(share),
            np.random.default_rng(int(seed)),
            temperature_moves=2,
            start_states=starts[share],
            policy_target="completed-q",
        )
        for share, seed in zip((np.arange(3), np.arange(3, 5)), seeds, strict=True)
    ]
    expected = merge_records(alone, wall_time_s=1.0)
    assert pooled.moves == expected.moves
    np.testing.assert_array_equal(pooled.states.own, expected.states.own)
    np.testing.assert_allclose(pooled.policies, expected.policies)
    np.testing.assert_array_equal(pooled.outcomes, expected.outcomes)


def test_a_pool_needs_two_workers() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        ProcessPoolBackend(1)


def test_anneal_follows_the_cosine_from_the_rate_to_a_tenth() -> None:
    model = PolicyValueNet(NetConfig("tictactoe", blocks=0, channels=4, value_hidden=4))
    optimizer, scheduler = make_optimizer(model, 1e-3, 0.0)
    for done, expected in [(0.0, 1e-3), (0.5, 0.55e-3), (1.0, 1e-4)]:
        anneal(scheduler, 1e-3, done)
        assert optimizer.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-5)
        # Training steps keep the annealed rate, and it survives a save and a reload.
        optimizer.step()
        scheduler.step()
        assert optimizer.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-5)
        _, restored = make_optimizer(model, 1e-3, 0.0)
        restored.load_state_dict(scheduler.state_dict())
        assert restored.base_lrs[0] == pytest.approx(expected, rel=1e-5)


# --- the replay buffer ------------------------------------------------------------------


def _positions(game: Game, n: int, seed: int) -> tuple[State, np.ndarray, np.ndarray]:
    """``n`` random unfinished positions, with random policies and outcomes."""
    rng = np.random.default_rng(seed)
    states = random_positions(game, n, 3, rng)  # few plies: many repeats
    policies = rng.random((n, game.num_actions)).astype(np.float32)
    values = rng.choice([-1.0, 0.0, 1.0], n).astype(np.float32)
    return states, policies, values


def test_replay_buffer_keeps_the_newest_positions() -> None:
    states, policies, values = _positions(TICTACTOE, 25, 0)
    buffer = ReplayBuffer(10, TICTACTOE)
    buffer.add(states[:4], policies[:4], values[:4])
    buffer.add(states[4:], policies[4:], values[4:])  # 21 more: only the last 10 stay
    assert len(buffer) == 10
    kept = set(
        zip(
            buffer.states.own.tolist(),
            buffer.states.opp.tolist(),
            buffer.value.tolist(),
            strict=True,
        )
    )
    assert kept == set(
        zip(states.own[15:].tolist(), states.opp[15:].tolist(), values[15:].tolist(), strict=True)
    )
    state, policy, value, has_policy = buffer.sample(64, np.random.default_rng(1))
    assert has_policy.all()  # added without a mask: every policy is a target
    assert state.shape == (64,) and policy.shape == (64, 9) and value.shape == (64,)

    restored = ReplayBuffer(10, TICTACTOE)
    restored.load_state_dict(buffer.state_dict())
    np.testing.assert_array_equal(restored.states.own, buffer.states.own)
    np.testing.assert_array_equal(restored.policy, buffer.policy)
    assert restored.cursor == buffer.cursor and len(restored) == 10


def test_merged_buffer_averages_each_distinct_position_once() -> None:
    states, policies, values = _positions(TICTACTOE, 300, 2)
    buffer = ReplayBuffer(1000, TICTACTOE)
    buffer.add(states, policies, values)
    merged_states, merged_policy, merged_value, merged_has_policy = buffer.merged()
    assert merged_has_policy.all()
    # The oracle: group the rows by position with a dict.
    groups: dict[tuple[int, int], list[int]] = {}
    for row, key in enumerate(zip(states.own.tolist(), states.opp.tolist(), strict=True)):
        groups.setdefault(key, []).append(row)
    assert len(merged_value) == len(groups) < 300
    for i, key in enumerate(
        zip(merged_states.own.tolist(), merged_states.opp.tolist(), strict=True)
    ):
        rows = groups.pop(key)
        assert merged_states.ply[i] == states.ply[rows[0]]
        np.testing.assert_allclose(merged_policy[i], policies[rows].mean(axis=0), rtol=1e-5)
        assert merged_value[i] == pytest.approx(values[rows].mean())
    assert not groups


def test_torch_threads_sets_the_count_for_the_block_and_restores_it() -> None:
    before = torch.get_num_threads()
    with torch_threads(before + 1):
        assert torch.get_num_threads() == before + 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(before + 1):
        raise RuntimeError("the count comes back even when the block fails")
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before


# --- the backends -----------------------------------------------------------------------


def test_in_process_backend_plays_the_games_play_selfplay_games_plays() -> None:
    game = TICTACTOE
    torch.manual_seed(0)
    model = PolicyValueNet(NetConfig("tictactoe", blocks=1, channels=8, value_hidden=8)).eval()
    config = MCTSConfig(simulations=6)
    starts = random_positions(game, 5, 3, np.random.default_rng(3))
    backend = make_backend(game, workers=1, device="cpu")
    assert isinstance(backend, InProcessBackend) and backend.training_threads is None
    options = {"temperature_moves": 2, "start_states": starts, "policy_target": "completed-q"}
    played = [backend.play(model, config, 5, np.random.default_rng(s), **options) for s in (8, 9)]
    backend.close()
    evaluate = NetworkEvaluator(model, game)
    for seed, records in zip((8, 9), played, strict=True):
        alone = play_selfplay_games(
            game, evaluate, config, 5, np.random.default_rng(seed), **options
        )
        assert records.moves == alone.moves
        np.testing.assert_array_equal(records.states.own, alone.states.own)
        np.testing.assert_array_equal(records.policies, alone.policies)
    # The start positions given are not advanced in place.
    np.testing.assert_array_equal(
        starts.ply, random_positions(game, 5, 3, np.random.default_rng(3)).ply
    )


def test_make_backend_shares_games_over_processes_when_asked() -> None:
    backend = make_backend(TICTACTOE, workers=2, device="cpu")
    try:
        assert isinstance(backend, ProcessPoolBackend) and backend.training_threads == 2
    finally:
        backend.close()
