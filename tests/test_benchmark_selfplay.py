"""The self-play benchmark script, and the fast inference path it measures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs import CONNECT4, GAMES, Game
from models.net import PolicyValueNet, default_config, inference_copy, predict
from scripts.benchmark_selfplay import PROFILE_PHASES, Args, main, profile_selfplay_moves
from tests.fixtures import hashed_evaluator, random_positions
from train.arena import positions
from train.search import timing
from train.search.evaluators import NetworkEvaluator, resolve_runtime
from train.search.search import MCTSConfig, search


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


@pytest.mark.parametrize("eval_cache", [0, 1000])
def test_benchmark_script_smoke(capsys: pytest.CaptureFixture[str], eval_cache: int) -> None:
    args = Args(
        batch=3,
        simulations=4,
        threads=1,
        device="cpu",
        seconds=0.0,
        rounds=1,
        eval_cache=eval_cache,
    )
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
    split = [results[f"profile_{name}"] for name in PROFILE_PHASES]
    assert sum(split) == pytest.approx(1.0, abs=1e-6) and min(split) >= 0
    assert "by phase: network" in out
    assert ("cache_hit_rate" in results) == bool(eval_cache)
    assert 0 <= results.get("cache_hit_rate", 0) <= 1


# --- the faster paths: ONNX Runtime, bfloat16 ------------------------------------------


def _outputs(evaluate: NetworkEvaluator, game: Game, n: int = 64, seed: int = 7):
    states = random_positions(game, n, seed=seed)
    return evaluate(states, game.legal_mask(states)), game.legal_mask(states)


@pytest.mark.parametrize("game", GAMES.values(), ids=GAMES.keys())
def test_onnxruntime_computes_the_same_function(game: Game) -> None:
    model = _net_with_random_statistics(game, seed=8)
    (priors, values), legal = _outputs(NetworkEvaluator(model, game), game)
    evaluate = NetworkEvaluator(model, game, runtime="onnxruntime")
    (fast_priors, fast_values), _ = _outputs(evaluate, game)
    assert fast_priors.dtype == fast_values.dtype == np.float32
    assert fast_priors.shape == priors.shape and fast_values.shape == values.shape
    assert not fast_priors[~legal].any()
    np.testing.assert_allclose(fast_priors, priors, rtol=0, atol=1e-5)
    np.testing.assert_allclose(fast_values, values, rtol=0, atol=1e-5)
    empty = evaluate.fast_model()(np.zeros((0, *game.obs_shape), np.float32), legal[:0])
    assert empty[0].shape == (0, game.num_actions) and empty[1].shape == (0,)


def test_onnxruntime_evaluator_follows_the_weights() -> None:
    model = _net_with_random_statistics(CONNECT4, seed=9)
    evaluate = NetworkEvaluator(model, CONNECT4, runtime="onnxruntime")
    (before, _), _ = _outputs(evaluate, CONNECT4)
    with torch.no_grad():
        model.policy_head[2].weight.mul_(3.0)
    (after, _), _ = _outputs(evaluate, CONNECT4)
    (expected, _), _ = _outputs(NetworkEvaluator(model, CONNECT4), CONNECT4)
    assert np.abs(after - before).max() > 1e-2
    np.testing.assert_allclose(after, expected, rtol=0, atol=1e-5)


def test_bfloat16_stays_close_to_float32() -> None:
    # The tolerance measured on the shipped Connect Four networks is 3e-2 (priors) and 5e-2
    # (values); a fresh network's outputs are smoother.
    torch.manual_seed(10)
    model = PolicyValueNet(default_config(CONNECT4.name)).eval()
    (priors, values), legal = _outputs(NetworkEvaluator(model, CONNECT4), CONNECT4)
    bf16 = NetworkEvaluator(model, CONNECT4, precision="bfloat16")
    (low_priors, low_values), _ = _outputs(bf16, CONNECT4)
    assert low_priors.dtype == np.float32 and not low_priors[~legal].any()
    np.testing.assert_allclose(low_priors.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(low_priors, priors, rtol=0, atol=5e-3)
    np.testing.assert_allclose(low_values, values, rtol=0, atol=5e-3)
    assert next(model.parameters()).dtype == torch.float32, "the model itself stays float32"


def test_evaluator_refuses_unknown_settings() -> None:
    model = PolicyValueNet(default_config(CONNECT4.name))
    with pytest.raises(ValueError, match="precision"):
        NetworkEvaluator(model, CONNECT4, precision="float16")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="runtime"):
        NetworkEvaluator(model, CONNECT4, runtime="tvm")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="float32 on the CPU"):
        NetworkEvaluator(model, CONNECT4, runtime="onnxruntime", precision="bfloat16")


def test_runtime_auto_is_onnxruntime_on_a_cpu_only() -> None:
    # ONNX Runtime's CPU build can't use a GPU: there PyTorch stays.
    assert (resolve_runtime("auto", "cpu"), resolve_runtime("auto", "cuda")) == (
        "onnxruntime",
        "torch",
    )
    # A runtime named outright is kept, whatever the device (the scripts refuse a bad pair).
    assert [resolve_runtime(r, d) for r in ("torch", "onnxruntime") for d in ("cpu", "cuda")] == [
        "torch",
        "torch",
        "onnxruntime",
        "onnxruntime",
    ]


# --- the phase timers and the profile split -------------------------------------------


class _FakeClock:
    """A clock advancing by a fixed step at every reading."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_phase_timer_charges_exclusive_time() -> None:
    timer = timing.PhaseTimer(clock=_FakeClock(1.0))
    with timer.phase("outer"):  # reads the clock at 1 ...
        with timer.phase("inner"):  # 2 ... 3
            pass
        with timer.phase("inner"):  # 4 ... 5
            pass
    # ... and at 6: outer spans 5 s, of which the inner phases took 2.
    assert timer.totals == {"outer": 3.0, "inner": 2.0}
    assert timer.calls == {"outer": 1, "inner": 2}
    shares = timer.fractions(10.0)
    assert shares == {"outer": 0.3, "inner": 0.2, "other": pytest.approx(0.5)}


def test_timed_search_and_game_change_no_result() -> None:
    timer = timing.PhaseTimer()
    game = timing.TimedGame(CONNECT4, timer)
    states = random_positions(CONNECT4, 6, seed=3)
    config = MCTSConfig(simulations=20)
    network = timer.wrap(hashed_evaluator, "network")
    timed = search(game, states, network, config, np.random.default_rng(0), True, timer=timer)
    plain = search(CONNECT4, states, hashed_evaluator, config, np.random.default_rng(0), True)
    np.testing.assert_array_equal(timed.visits, plain.visits)
    np.testing.assert_array_equal(timed.q, plain.q)
    assert game.num_actions == CONNECT4.num_actions  # attributes read through
    for name in ("descend", "expand", "backup"):
        assert timer.calls[name] == 20
    assert timer.calls["network"] == 21 and timer.calls["rules"] > 20
    assert all(seconds >= 0 for seconds in timer.totals.values())


def test_profile_split_of_a_selfplay_move() -> None:
    torch.manual_seed(0)
    model = PolicyValueNet(default_config(CONNECT4.name)).eval()
    states = random_positions(CONNECT4, 5, seed=2)
    for cache_size in (0, 1000):
        evaluate = NetworkEvaluator(model, CONNECT4, cache_size=cache_size)
        split = profile_selfplay_moves(
            CONNECT4, evaluate, MCTSConfig(simulations=8), states, np.random.default_rng(0), 0.0
        )
        assert sum(split[name] for name in PROFILE_PHASES) == pytest.approx(1.0, abs=1e-6)
        assert split["tree"] == pytest.approx(split["descend"] + split["expand"] + split["backup"])
        for name in (*PROFILE_PHASES, "descend", "expand", "backup"):
            assert 0 <= split[name] <= 1, name
        assert split["network"] > 0 and 0 < split["network_share_of_search"] <= 1
        assert split["move_s"] > 0
