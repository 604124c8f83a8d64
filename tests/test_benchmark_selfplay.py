"""The self-play benchmark script, and the fast inference path it measures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs import CONNECT4, GAMES, Game
from models.net import PolicyValueNet, default_config, inference_copy, predict
from scripts.benchmark_selfplay import Args, main
from tests.fixtures import random_positions
from train.arena import positions
from train.search.evaluators import NetworkEvaluator


def _net_with_random_statistics(game: Game, seed: int) -> PolicyValueNet:
    """The default network with random BatchNorm statistics and affine weights (a fresh
    network's are 0 and 1, which would make folding them a near no-op)."""
    torch.manual_seed(seed)
    model = PolicyValueNet(default_config(game.name))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            torch.nn.init.normal_(module.weight)
            torch.nn.init.normal_(module.bias)
    return model.eval()


@pytest.mark.parametrize("game", GAMES.values(), ids=GAMES.keys())
def test_inference_copy_computes_the_same_function(game: Game) -> None:
    model = _net_with_random_statistics(game, seed=1)
    names = list(model.state_dict())
    fused = inference_copy(model)
    assert list(model.state_dict()) == names, "the original keeps its parameter names"
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    states = random_positions(game, 8, seed=4)
    obs = torch.as_tensor(game.observation(states))
    legal = torch.as_tensor(game.legal_mask(states))
    with torch.inference_mode():
        logits, values = model(obs, legal)
        fused_logits, fused_values = fused(obs, legal)
    np.testing.assert_allclose(fused_logits, logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fused_values, values, rtol=1e-4, atol=1e-5)


def test_network_evaluator_follows_the_weights_in_training() -> None:
    model = _net_with_random_statistics(CONNECT4, seed=2)
    evaluate = NetworkEvaluator(model, CONNECT4)
    states = random_positions(CONNECT4, 16, seed=5)
    legal = CONNECT4.legal_mask(states)
    obs = CONNECT4.observation(states)
    before, _ = evaluate(states, legal)

    # One training step changes the weights and (train mode) the BatchNorm statistics.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    model.train()
    logits, values = model(torch.as_tensor(obs), torch.as_tensor(legal))
    (torch.logsumexp(logits, dim=-1).mean() + values.square().mean()).backward()
    optimizer.step()

    after, after_values = evaluate(states, legal)
    assert model.training, "the evaluator must not change the model's mode"
    expected, expected_values = predict(model, obs, legal)  # the unfolded model itself
    assert np.abs(after - before).max() > 1e-2, "the step should change the priors"
    np.testing.assert_allclose(after, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(after_values, expected_values, rtol=1e-4, atol=1e-5)


def test_failed_compilation_falls_back_to_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_compile(module: torch.nn.Module, **kwargs: object) -> object:
        def run(*inputs: torch.Tensor) -> None:
            raise RuntimeError("no C++ compiler")

        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    model = _net_with_random_statistics(CONNECT4, seed=3)
    states = random_positions(CONNECT4, 4, seed=6)
    legal = CONNECT4.legal_mask(states)
    with pytest.warns(UserWarning, match="no C\\+\\+ compiler"):
        priors, values = NetworkEvaluator(model, CONNECT4, compile=True)(states, legal)
    expected, expected_values = predict(model, CONNECT4.observation(states), legal)
    np.testing.assert_allclose(priors, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(values, expected_values, rtol=1e-4, atol=1e-5)


def test_benchmark_roots_are_unfinished_and_varied() -> None:
    # The roots the script searches: random positions of up to half the board's plies.
    states = positions.random_positions(CONNECT4, 200, 20, np.random.default_rng(0))
    assert not CONNECT4.is_terminal(states).any()
    assert states.ply.min() == 0 and states.ply.max() >= 15


def test_benchmark_script_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    args = Args(batch=3, simulations=4, threads=1, device="cpu", seconds=0.0, rounds=1)
    threads = torch.get_num_threads()
    try:
        results = main(args)
    finally:
        torch.set_num_threads(threads)  # the script pins torch's threads for the process
    out = capsys.readouterr().out
    for key in ("raw_1", "raw_batch", "batched_sims", "reference_sims", "batched_positions"):
        assert results[key] > 0, key
    assert results["bound"] == pytest.approx(results["raw_batch"] / results["raw_1"])
    ratio = results["batched_sims"] / results["reference_sims"]
    assert f"batched / reference simulations/s: {ratio:.2f}x" in out
    assert "self-play positions/s: batched" in out and "load average" in out
