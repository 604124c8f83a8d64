"""The policy-value network: shapes, masking, value range, rebuilding from a config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs import CONNECT4, TICTACTOE, Game, State
from models.net import (
    ILLEGAL_LOGIT,
    NetConfig,
    PolicyValueNet,
    default_config,
    num_parameters,
    predict,
)
from train.arena import positions

GAMES = [TICTACTOE, CONNECT4]
TINY = {"tictactoe": (1, 8, 8), "connect4": (1, 8, 8)}  # blocks, channels, value_hidden


def tiny_net(game: Game, seed: int = 0) -> PolicyValueNet:
    torch.manual_seed(seed)
    return PolicyValueNet(NetConfig(game.name, *TINY[game.name])).eval()


def random_positions(game: Game, n: int, rng: np.random.Generator) -> State:
    """A batch of positions after 0..cells-1 random moves (some of them finished games)."""
    return positions.random_positions(game, n, game.num_cells - 1, rng, finished=True)


@pytest.mark.parametrize("game", GAMES, ids=lambda g: g.name)
def test_shapes_and_value_range(game: Game) -> None:
    rng = np.random.default_rng(1)
    state = random_positions(game, 32, rng)
    model = tiny_net(game)
    obs = torch.as_tensor(game.observation(state))
    logits, value = model(obs, torch.as_tensor(game.legal_mask(state)))
    assert logits.shape == (32, game.num_actions) and logits.dtype == torch.float32
    assert value.shape == (32,) and value.dtype == torch.float32
    # Value in [-1, 1] even when the head's pre-activation is huge: push inputs far out.
    _, value_big = model(obs * 1000.0 - 500.0)
    assert torch.all(value_big.abs() <= 1.0)
    assert torch.all(value.abs() <= 1.0)


@pytest.mark.parametrize("game", GAMES, ids=lambda g: g.name)
def test_illegal_moves_are_masked(game: Game) -> None:
    rng = np.random.default_rng(2)
    state = random_positions(game, 64, rng)
    legal = game.legal_mask(state)
    assert (~legal).any(), "the batch should contain illegal moves to test masking"
    model = tiny_net(game)
    obs = torch.as_tensor(game.observation(state))
    unmasked, value_unmasked = model(obs)
    logits, value = model(obs, torch.as_tensor(legal))
    legal_t = torch.as_tensor(legal)
    assert torch.equal(logits[legal_t], unmasked[legal_t])  # legal logits untouched
    assert torch.all(logits[~legal_t] == ILLEGAL_LOGIT)
    assert torch.equal(value, value_unmasked)  # the mask never changes the value
    probs = torch.softmax(logits, dim=-1)
    playable = legal_t.any(dim=-1)
    assert torch.all(probs[~legal_t & playable[:, None]] < 1e-30)
    log_probs = torch.log_softmax(logits, dim=-1)
    assert torch.isfinite(log_probs).all()
    # A cross-entropy against targets that are zero on illegal moves stays finite.
    target = torch.as_tensor(legal, dtype=torch.float32)
    target = target / target.sum(-1, keepdim=True).clamp(min=1)
    assert torch.isfinite(-(target * log_probs).sum(-1)).all()


def test_gradients_reach_every_parameter() -> None:
    model = tiny_net(CONNECT4).train()
    state = random_positions(CONNECT4, 16, np.random.default_rng(3))
    logits, value = model(
        torch.as_tensor(CONNECT4.observation(state)),
        torch.as_tensor(CONNECT4.legal_mask(state)),
    )
    (torch.log_softmax(logits, -1).clamp(min=-50).sum() + value.sum()).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name


@pytest.mark.parametrize("game", GAMES, ids=lambda g: g.name)
def test_predict_matches_forward(game: Game) -> None:
    rng = np.random.default_rng(4)
    state = random_positions(game, 40, rng)
    obs, legal = game.observation(state), game.legal_mask(state)
    model = tiny_net(game).train()  # predict must evaluate in eval mode and restore the mode
    probs, values = predict(model, obs, legal)
    assert model.training
    model.eval()
    with torch.no_grad():
        logits, expected_values = model(torch.as_tensor(obs), torch.as_tensor(legal))
    assert probs.dtype == np.float32 and values.dtype == np.float32
    np.testing.assert_allclose(values, expected_values.numpy(), rtol=1e-6)
    playable = legal.any(axis=-1)
    assert (~playable).any(), "the batch should contain finished games"
    expected = torch.softmax(logits, -1).numpy()
    np.testing.assert_allclose(probs[playable], expected[playable], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(probs[playable].sum(-1), 1.0, rtol=1e-5)
    assert np.all(probs[~legal] == 0.0)  # including every action of a finished game


def test_predict_empty_batch() -> None:
    model = tiny_net(TICTACTOE)
    probs, values = predict(model, np.zeros((0, 3, 3, 3), np.float32), np.zeros((0, 9), bool))
    assert probs.shape == (0, 9) and values.shape == (0,)


@pytest.mark.parametrize("game", GAMES, ids=lambda g: g.name)
def test_rebuilds_from_config_alone(game: Game) -> None:
    config = default_config(game.name)
    assert config.game == game.name
    a, b = PolicyValueNet(config), PolicyValueNet(NetConfig(**config.to_dict()))
    b.load_state_dict(a.state_dict())  # same architecture, parameter for parameter
    a.eval(), b.eval()
    obs = torch.rand(5, *game.obs_shape)
    with torch.no_grad():
        for x, y in zip(a(obs), b(obs), strict=True):
            assert torch.equal(x, y)
    assert num_parameters(a) == num_parameters(b) > 0


def test_default_sizes() -> None:
    # Tic-tac-toe's net stays tiny next to Connect Four's.
    small = num_parameters(PolicyValueNet(default_config("tictactoe")))
    large = num_parameters(PolicyValueNet(default_config("connect4")))
    assert small * 3 < large


def test_invalid_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown game"):
        NetConfig("chess", 1, 8, 8)
    with pytest.raises(ValueError, match="unknown game"):
        default_config("go")
    with pytest.raises(ValueError, match="invalid network size"):
        NetConfig("connect4", -1, 8, 8)
    with pytest.raises(ValueError, match="invalid network size"):
        NetConfig("connect4", 1, 0, 8)


def test_zero_blocks_is_a_valid_network() -> None:
    model = PolicyValueNet(NetConfig("tictactoe", 0, 4, 4)).eval()
    logits, value = model(torch.zeros(2, *TICTACTOE.obs_shape))
    assert logits.shape == (2, 9) and value.shape == (2,)


def test_benchmark_script_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import benchmark_net
    from scripts.cli import parse

    argv = "--game tictactoe --blocks 0 1 --channels 4 --batch-sizes 1 3 --seconds 0.01 --rounds 1"
    threads = f" --threads {torch.get_num_threads()}"  # leave the test process as it was
    benchmark_net.main(parse(benchmark_net.Args, (argv + threads).split()))
    lines = capsys.readouterr().out.strip().splitlines()
    assert "pos/s @1" in lines[1] and "pos/s @3" in lines[1]
    rows = [line.split() for line in lines[2:]]
    assert [row[:2] for row in rows] == [["0", "4"], ["1", "4"]]
    for row in rows:
        assert all(float(rate.replace(",", "")) > 0 for rate in row[4:])


def test_macs_count_a_known_network() -> None:
    from scripts.benchmark_net import macs_per_position

    # Tic-tac-toe, 0 blocks, 4 channels, value_hidden 4, by hand (9 cells, 3 input planes):
    # stem 3*4*9*9 = 972; policy 1x1 conv 4*2*9 = 72 + linear 18*9 = 162;
    # value 1x1 conv 4*1*9 = 36 + linear 9*4 = 36 + linear 4*1 = 4.
    model = PolicyValueNet(NetConfig("tictactoe", 0, 4, 4))
    assert macs_per_position(model) == 972 + 72 + 162 + 36 + 36 + 4
