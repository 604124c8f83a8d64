"""Expert datasets: records that replay into real games, reproducible files, splits by game."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from envs import CONNECT4, TICTACTOE, State, get_game
from envs.experts import tictactoe_action_values
from train.learn.expert_data import (
    FORMAT_VERSION,
    ExpertDataset,
    load_dataset,
    save_dataset,
    split_by_game,
    summarize,
)
from train.learn.expert_games import CHUNK_GAMES, GenerationConfig, cached_dataset, generate_dataset


@pytest.fixture(scope="module")
def c4_data() -> ExpertDataset:
    config = GenerationConfig(game="connect4", games=40, depth=2, temperature=0.5, seed=1)
    return generate_dataset(config, workers=1, progress=False)[0]


@pytest.fixture(scope="module")
def ttt_data() -> ExpertDataset:
    config = GenerationConfig(game="tictactoe", games=300, random_opening=3, seed=2)
    return generate_dataset(config, workers=1, progress=False)[0]


def games_of(dataset: ExpertDataset):
    """Each game's records, in ply order."""
    for g in np.unique(dataset.game_index):
        yield dataset.subset(np.flatnonzero(dataset.game_index == g))


def successors(game, state: State) -> set[tuple[int, int]]:
    """The (own, opp) bitboards of every position one legal move after ``state``."""
    result = set()
    for action in np.flatnonzero(game.legal_mask(state)):
        child = game.step(state, action)
        result.add((child.own, child.opp))
    return result


@pytest.mark.parametrize("name", ["c4_data", "ttt_data"])
def test_records_replay_into_finished_games(name, request):
    dataset: ExpertDataset = request.getfixturevalue(name)
    game = get_game(dataset.game)
    random_opening = dataset.meta["random_opening"]
    assert dataset.num_games == dataset.meta["games"]
    for record in games_of(dataset):
        plies = record.state.ply
        np.testing.assert_array_equal(plies, np.arange(len(record)))  # every position, in order
        assert record.state[0].own == 0 and record.state[0].opp == 0
        for k in range(len(record) - 1):
            here, there = record.state[k], record.state[k + 1]
            assert not game.is_terminal(here)
            if k >= random_opening:  # past the opening the game goes on with the expert's move
                expected = game.step(here, record.move[k])
                assert (expected.own, expected.opp) == (there.own, there.opp)
            else:  # in the opening, with some legal move
                assert (there.own, there.opp) in successors(game, here)
        final = game.step(record.state[-1], record.move[-1])
        assert game.is_terminal(final)
        # The outcome is the final result from each mover's view: it flips every ply.
        last_mover_result = -game.terminal_value(final)  # the player who made the last move
        expected = last_mover_result * np.where((len(record) - 1 - plies) % 2 == 0, 1, -1)
        np.testing.assert_array_equal(record.outcome, expected)


@pytest.mark.parametrize("name", ["c4_data", "ttt_data"])
def test_policies_are_distributions_over_legal_moves(name, request):
    dataset: ExpertDataset = request.getfixturevalue(name)
    game = get_game(dataset.game)
    legal = game.legal_mask(dataset.state)
    assert dataset.policy.dtype == np.float32
    assert dataset.policy.shape == (len(dataset), game.num_actions)
    np.testing.assert_allclose(dataset.policy.sum(axis=-1), 1.0, atol=1e-5)
    assert (dataset.policy[~legal] == 0).all()
    assert (dataset.policy[np.arange(len(dataset)), dataset.move] > 0).all()
    assert game.observation(dataset.state).shape == (len(dataset), *game.obs_shape)


def test_tictactoe_targets_are_optimal_moves(ttt_data):
    values = tictactoe_action_values(ttt_data.state)
    best = values.max(axis=-1, keepdims=True)
    assert (ttt_data.policy[values < best] == 0).all()


def test_summary_counts(ttt_data):
    summary = summarize(ttt_data)
    assert summary["games"] == 300
    assert summary["positions"] == len(ttt_data)
    assert summary["first_wins"] + summary["draws"] + summary["second_wins"] == 300
    # Three random plies make some games decisive; perfect play never loses a won game.
    assert summary["first_wins"] > 0 and summary["draws"] > 0
    assert 0 < summary["unique_positions"] < len(ttt_data)


def test_file_round_trip_and_metadata(tmp_path, c4_data):
    path = tmp_path / "c4.npz"
    save_dataset(c4_data, path)
    loaded = load_dataset(path, game="connect4")
    for field in ("move", "policy", "outcome", "game_index"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(c4_data, field))
    for field in ("own", "opp", "ply"):
        np.testing.assert_array_equal(getattr(loaded.state, field), getattr(c4_data.state, field))
    meta = loaded.meta
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["game"] == "connect4" and meta["seed"] == 1
    assert meta["expert"] == {"name": "expert-d2-t0.5", "depth": 2, "temperature": 0.5}
    assert meta["games"] == 40 and meta["positions"] == len(c4_data)
    assert meta["code_version"]
    assert [p.name for p in tmp_path.iterdir()] == ["c4.npz"]  # no temporary file left


def test_load_refuses_wrong_game_newer_version_and_junk(tmp_path, c4_data):
    path = tmp_path / "c4.npz"
    save_dataset(c4_data, path)
    with pytest.raises(ValueError, match="connect4 games, not tictactoe"):
        load_dataset(path, game=TICTACTOE)
    newer = dataclasses.replace(c4_data, meta={**c4_data.meta, "format_version": 99})
    save_dataset(newer, tmp_path / "newer.npz")
    with pytest.raises(ValueError, match="format version 99"):
        load_dataset(tmp_path / "newer.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not an expert dataset"):
        load_dataset(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="missing"):
        load_dataset(tmp_path / "other.npz")


def test_same_seed_same_bytes_whatever_the_worker_count(tmp_path):
    config = GenerationConfig(game="tictactoe", games=CHUNK_GAMES + 50, seed=7)
    one, _ = generate_dataset(config, workers=1, progress=False)
    two, _ = generate_dataset(config, workers=2, progress=False)
    save_dataset(one, tmp_path / "one.npz")
    save_dataset(two, tmp_path / "two.npz")
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    other, _ = generate_dataset(dataclasses.replace(config, seed=8), workers=1, progress=False)
    assert not np.array_equal(other.state.own, one.state.own)


def test_split_by_game(c4_data):
    train, val = split_by_game(c4_data, 0.25, np.random.default_rng(0))
    assert len(train) + len(val) == len(c4_data)
    assert not set(train.game_index) & set(val.game_index)  # no game on both sides
    assert set(train.game_index) | set(val.game_index) == set(c4_data.game_index)
    assert val.num_games == 10
    again, _ = split_by_game(c4_data, 0.25, np.random.default_rng(0))
    np.testing.assert_array_equal(again.game_index, train.game_index)
    everything, nothing = split_by_game(c4_data, 0.0, np.random.default_rng(0))
    assert len(everything) == len(c4_data) and len(nothing) == 0
    with pytest.raises(ValueError, match="val_fraction"):
        split_by_game(c4_data, 1.0, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"game": "chess"}, "unknown game"),
        ({"games": 0}, "games"),
        ({"random_opening": 42}, "random_opening"),
        ({"depth": 0}, "depth"),
        ({"temperature": -1.0}, "temperature"),
        ({"game": "tictactoe", "depth": 4}, "perfect"),
    ],
)
def test_config_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GenerationConfig(**kwargs)


# --- the script ---------------------------------------------------------------------------


def run_script(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "scripts.generate_expert_games", "--no-progress", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("game", "extra"), [("tictactoe", []), ("connect4", ["--depth", "2", "--temperature", "1"])]
)
def test_script_smoke(tmp_path, game, extra):
    out = tmp_path / f"{game}.npz"
    result = run_script(
        "--game", game, "--games", "20", "--workers", "1", "--out", str(out), *extra
    )
    assert result.returncode == 0, result.stderr
    assert "unique positions" in result.stdout and "expert moves/s" in result.stdout
    dataset = load_dataset(out, game=game)
    assert dataset.num_games == 20
    assert json.loads(json.dumps(dataset.meta))["game"] == game


def test_script_refuses_bad_input(tmp_path):
    result = run_script("--games", "0", "--out", str(tmp_path / "x.npz"))
    assert result.returncode != 0 and "games must be at least 1" in result.stderr
    result = run_script("--game", "tictactoe", "--depth", "3", "--out", str(tmp_path / "x.npz"))
    assert result.returncode != 0 and "perfect" in result.stderr
    result = run_script("--out", str(tmp_path / "x.txt"))
    assert result.returncode != 0 and ".npz" in result.stderr
    assert CONNECT4.name in run_script("--help").stdout


def test_cached_dataset_generates_once_then_reads_the_same_games(tmp_path) -> None:
    config = GenerationConfig(game="tictactoe", games=20, random_opening=2, seed=3)
    first, timings = cached_dataset(config, tmp_path, workers=1)
    assert timings is not None and len(list(tmp_path.glob("tictactoe_g20_*_s3.npz"))) == 1
    again, cached = cached_dataset(config, tmp_path, workers=1)
    assert cached is None
    np.testing.assert_array_equal(again.move, first.move)
    np.testing.assert_array_equal(again.state.own, first.state.own)
    other, timings = cached_dataset(dataclasses.replace(config, seed=4), tmp_path, workers=1)
    assert timings is not None  # another seed is another file
