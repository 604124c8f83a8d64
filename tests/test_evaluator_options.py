"""Self-play's evaluator settings (--runtime, --eval-cache) reach every backend's players."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs import CONNECT4, TICTACTOE
from models.net import NetConfig, PolicyValueNet
from scripts import train_selfplay
from scripts.cli import parse
from train.learn import alphazero
from train.search.evaluators import DEFAULT_EVALUATOR, EvaluatorOptions, NetworkEvaluator
from train.search.search import MCTSConfig
from train.selfplay import process_pool
from train.selfplay.backend import InProcessBackend, make_backend
from train.selfplay.games import play_selfplay_games
from train.selfplay.playout_cap import NO_CAP

CACHED = EvaluatorOptions(cache_size=10_000)


def _model(game: str) -> PolicyValueNet:
    torch.manual_seed(0)
    return PolicyValueNet(NetConfig(game, blocks=1, channels=8, value_hidden=8)).eval()


def test_options_build_the_evaluator_they_describe() -> None:
    model = _model("connect4")
    assert EvaluatorOptions() == DEFAULT_EVALUATOR
    plain = DEFAULT_EVALUATOR.evaluator(model, CONNECT4)
    assert plain.cache is None and plain.runtime == "torch" and plain.precision == "float32"
    options = EvaluatorOptions(cache_size=7, precision="bfloat16")
    evaluate = options.evaluator(model, CONNECT4)
    assert evaluate.cache.capacity == 7 and evaluate.precision == "bfloat16"


def test_in_process_backend_plays_with_the_options() -> None:
    model = _model("tictactoe")
    config = MCTSConfig(simulations=6)
    backend = make_backend(TICTACTOE, workers=1, device="cpu", evaluator=CACHED)
    assert isinstance(backend, InProcessBackend)
    records = backend.play(model, config, 4, np.random.default_rng(2))
    assert backend._evaluator.cache is not None and backend._evaluator.cache.hits > 0
    oracle = play_selfplay_games(
        TICTACTOE, CACHED.evaluator(model, TICTACTOE), config, 4, np.random.default_rng(2)
    )
    assert records.moves == oracle.moves
    np.testing.assert_array_equal(records.policies, oracle.policies)


def test_a_pool_worker_plays_with_the_options_it_is_sent() -> None:
    model = _model("connect4")
    config = MCTSConfig(simulations=6)
    weights = {name: t.detach().clone() for name, t in model.state_dict().items()}
    task = (model.config, weights, config, 3, 5, 2, None, "visits", NO_CAP, CACHED)
    played = process_pool._play_share(task)
    oracle = play_selfplay_games(
        CONNECT4,
        CACHED.evaluator(model, CONNECT4),
        config,
        3,
        np.random.default_rng(5),
        temperature_moves=2,
    )
    assert played.moves == oracle.moves
    np.testing.assert_array_equal(played.policies, oracle.policies)
    # Without the cache the same games, to float32 rounding of the network's answers.
    plain = play_selfplay_games(
        CONNECT4, NetworkEvaluator(model, CONNECT4), config, 3, np.random.default_rng(5), 2
    )
    np.testing.assert_allclose(played.policies, plain.policies, atol=1e-6)


def test_the_script_threads_the_flags_to_the_backend(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    seen = {}

    class _Stop(Exception):
        pass

    def fake_make_backend(game, workers, device, backend, ray_address, evaluator):
        seen["options"] = evaluator
        raise _Stop

    monkeypatch.setattr(alphazero, "make_backend", fake_make_backend)
    threads = torch.get_num_threads()
    try:
        with pytest.raises(_Stop):
            train_selfplay.main(
                ["--init", "scratch", "--game", "tictactoe", "--run-dir", str(tmp_path)]
                + ["--device", "cpu", "--workers", "1", "--eval-cache", "500"]
            )
    finally:
        torch.set_num_threads(threads)  # the script pins torch's threads for the process
    # --runtime auto, the default, is ONNX Runtime on a CPU.
    assert seen["options"] == EvaluatorOptions(runtime="onnxruntime", cache_size=500)
    with pytest.raises(SystemExit, match="--eval-cache"):
        train_selfplay.main(["--init", "scratch", "--game", "tictactoe", "--eval-cache", "-1"])
    on_gpu = parse(train_selfplay.Args, ["--init", "scratch", "--runtime", "onnxruntime"])
    with pytest.raises(SystemExit, match="on the CPU"):
        train_selfplay._check_runtime(on_gpu, "cuda")
