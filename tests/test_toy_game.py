"""Adding a game is one rules class, one profile and one registry call.

The toy game of :mod:`tests.toy_game` is registered here and nowhere else, then run through
stage 1, stage 2 and the evaluation by the scripts' own entry points (in this process, since
a subprocess would not see a game registered by the test), and through the gym environment.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from envs import GAME_NAMES, get_game, get_profile, register_game
from envs.experts import make_expert
from envs.registry import unregister_game
from models.checkpoint import load_checkpoint
from models.net import default_config
from scripts import evaluate, train_imitation, train_selfplay
from scripts.cli import build_parser
from tests.toy_game import CONNECT3, CONNECT3_PROFILE, ConnectThree, TacticsExpert
from train.arena.strength import solver_positions


@pytest.fixture(scope="module", autouse=True)
def _registered():
    register_game(CONNECT3, CONNECT3_PROFILE)
    yield
    unregister_game(CONNECT3.name)


def _only(folder: Path) -> Path:
    (found,) = list(folder.iterdir())
    return found


def test_the_registry_offers_the_game_everywhere():
    assert get_game("connect3") is CONNECT3 and get_profile("connect3") is CONNECT3_PROFILE
    assert "connect3" in GAME_NAMES
    # The scripts' --game choices are a live view of the registry.
    assert "connect3" in build_parser(train_imitation.Args).format_help()
    assert train_imitation.parse(train_imitation.Args, ["--game", "connect3"]).game == "connect3"
    config = default_config("connect3")
    assert (config.blocks, config.channels, config.value_hidden) == CONNECT3_PROFILE.net
    assert isinstance(make_expert("connect3"), TacticsExpert)
    with pytest.raises(ValueError, match="connect3 expert takes no depth"):
        make_expert(CONNECT3, depth=2)
    with pytest.raises(ValueError, match="registered already"):
        register_game(CONNECT3, CONNECT3_PROFILE)


def test_grader_values_are_a_consistent_negamax():
    positions, outcomes, stages = solver_positions(CONNECT3)
    assert stages is None and len(positions) == len(outcomes)
    legal = CONNECT3.legal_mask(positions)
    np.testing.assert_array_equal(outcomes != -2, legal)
    # A move that completes a line wins: the grader agrees with the rules.
    for action in range(CONNECT3.num_actions):
        rows = np.flatnonzero(legal[:, action])
        won = CONNECT3.is_won(CONNECT3.step(positions[rows], action))
        assert (outcomes[rows[won], action] == 1).all()


def test_a_game_without_expert_or_grader_is_refused_by_name():
    class Bare(ConnectThree):
        name = "connect3-bare"

    bare = Bare()
    bare_profile = dataclasses.replace(CONNECT3_PROFILE, expert=None, grader=None, env_id=None)
    register_game(bare, bare_profile)
    try:
        with pytest.raises(ValueError, match="connect3-bare has no scripted expert"):
            make_expert(bare)
        with pytest.raises(ValueError, match="connect3-bare has no grader"):
            solver_positions(bare)
    finally:
        unregister_game(bare.name)
    assert "connect3-bare" not in GAME_NAMES


def test_both_stages_and_the_evaluation_run_on_the_toy_game(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the expert-data cache goes to data/cache/ under the cwd
    common = ["--workers", "1", "--eval-games", "4", "--device", "cpu"]
    train_imitation.main(["--game", "connect3", "--run-dir", "stage1", *common])
    stage1 = _only(tmp_path / "stage1") / "best.pt"
    args = json.loads((stage1.parent / "args.json").read_text())
    assert {k: args[k] for k in CONNECT3_PROFILE.imitation_defaults} == dict(
        CONNECT3_PROFILE.imitation_defaults
    )
    checkpoint = load_checkpoint(stage1)
    assert checkpoint.game == "connect3"
    assert 0.0 <= checkpoint.metrics["eval/solver/optimal_move_rate"] <= 1.0

    train_selfplay.main(["--init", str(stage1), "--simulations", "8", "--run-dir", "s2", *common])
    stage2 = _only(tmp_path / "s2") / "latest.pt"
    checkpoint = load_checkpoint(stage2)
    assert checkpoint.game == "connect3" and checkpoint.stage == "selfplay"
    assert checkpoint.metrics["iteration"] == CONNECT3_PROFILE.selfplay_defaults["iterations"]
    assert "eval/vs_expert/score" in checkpoint.metrics

    evaluate.main([str(stage2), "--games", "4", "--positions", "100", "--out", "eval"])
    result = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert result["game"] == "connect3" and result["solver_positions"] == 100
    assert set(result["players"]) == {str(stage2), "random", "expert"}


def test_the_gym_environment_plays_the_toy_game():
    env = gym.make(CONNECT3_PROFILE.env_id, opponent="expert")
    assert env.unwrapped.game is CONNECT3
    assert env.observation_space.shape == CONNECT3.obs_shape
    rng = np.random.default_rng(0)
    for seed in range(5):
        _, info = env.reset(seed=seed)
        over, reward = False, 0.0
        while not over:
            action = rng.choice(np.flatnonzero(info["action_mask"]))
            _, reward, over, _, info = env.step(action)
        assert reward in (-1.0, 0.0, 1.0)
        assert not info["action_mask"].any()
