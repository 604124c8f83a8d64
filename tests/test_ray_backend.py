"""The Ray self-play backend on a local Ray runtime with 2 CPUs: the process pool's games for
the same seed, a stage-2 run on it, an actor killed mid-iteration, and resume after the
driver is killed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint import load_checkpoint
from models.net import NetConfig, PolicyValueNet
from tests import test_faults as faults
from tests.test_training_scripts import ENV, only_run, run_script
from train.arena.positions import random_positions
from train.search.search import MCTSConfig
from train.selfplay.games import SelfPlayRecords
from train.selfplay.process_pool import ProcessPoolBackend

# Ray is an optional extra; the test extra installs it. Only its absence skips these tests.
ray = pytest.importorskip("ray", reason='Ray is not installed (pip install -e ".[ray]")')

from envs import CONNECT4, TICTACTOE  # noqa: E402
from train.selfplay.backend import make_backend  # noqa: E402
from train.selfplay.ray_backend import RayBackend  # noqa: E402


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """One local Ray runtime with 2 CPUs for the whole module; yields its address, which the
    scripts' runs join with ``--ray-address`` (so no test pays Ray's start-up twice)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    try:
        with pytest.MonkeyPatch.context() as patch:
            # A driver joining by explicit address uses Ray's token authentication (the token
            # in ~/.ray/auth_token) only when told to: as ray.init told this process.
            patch.setitem(ENV, "RAY_AUTH_MODE", os.environ.get("RAY_AUTH_MODE", "token"))
            yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _tiny_net(game: str) -> PolicyValueNet:
    torch.manual_seed(0)
    return PolicyValueNet(NetConfig(game, blocks=1, channels=8, value_hidden=8)).eval()


def _assert_same_games(a: SelfPlayRecords, b: SelfPlayRecords) -> None:
    assert a.moves == b.moves
    np.testing.assert_array_equal(a.states.own, b.states.own)
    np.testing.assert_array_equal(a.states.opp, b.states.opp)
    np.testing.assert_array_equal(a.policies, b.policies)
    np.testing.assert_array_equal(a.outcomes, b.outcomes)
    np.testing.assert_array_equal(a.root_values, b.root_values)
    np.testing.assert_array_equal(a.game_index, b.game_index)


def test_ray_actors_play_the_process_pools_games_for_the_same_seed(cluster: str) -> None:
    model, config = _tiny_net("connect4"), MCTSConfig(simulations=6)
    starts = random_positions(CONNECT4, 5, 4, np.random.default_rng(3))
    options = {"temperature_moves": 2, "start_states": starts, "policy_target": "completed-q"}
    rng_ray, rng_pool = np.random.default_rng(9), np.random.default_rng(9)
    backend = make_backend(CONNECT4, 2, "cpu", backend="ray")
    assert isinstance(backend, RayBackend) and backend.training_threads == 2
    with backend:
        on_ray = [backend.play(model, config, 5, rng_ray, **options) for _ in range(2)]
        assert len(set(backend.pids())) == 2 and os.getpid() not in backend.pids()
    # A backend that found Ray running leaves it running (the driver's, not the backend's).
    assert ray.is_initialized()
    with ProcessPoolBackend(2) as pool:
        pooled = [pool.play(model, config, 5, rng_pool, **options) for _ in range(2)]
    for a, b in zip(on_ray, pooled, strict=True):
        _assert_same_games(a, b)
    # The two backends drew the same numbers from the run's generator.
    assert rng_ray.integers(2**62) == rng_pool.integers(2**62)


def test_an_actor_killed_mid_iteration_is_replaced_and_its_share_replayed(
    cluster: str, capsys: pytest.CaptureFixture[str]
) -> None:
    model, config, n_games = _tiny_net("tictactoe"), MCTSConfig(simulations=96), 96
    with RayBackend(2) as backend:
        expected = backend.play(model, config, n_games, np.random.default_rng(4))
        pids = backend.pids()
        played: list[SelfPlayRecords] = []
        iteration = threading.Thread(
            target=lambda: played.append(
                backend.play(model, config, n_games, np.random.default_rng(4))
            )
        )
        iteration.start()
        time.sleep(0.1)  # the shares are in flight (each takes a second or more)
        os.kill(pids[1], signal.SIGKILL)
        iteration.join(timeout=120)
        assert not iteration.is_alive() and len(played) == 1
        assert backend.replaced == 1
        assert backend.pids()[0] == pids[0] and backend.pids()[1] != pids[1]
        (records,) = played
        # Every game once: the iteration's game count, and the very games of the run without
        # the fault (the share replayed with its seed).
        assert len(records.moves) == n_games == len(np.unique(records.game_index))
        assert len(records.stats.game_lengths) == n_games
        _assert_same_games(records, expected)
        # And the backend plays on with the new actor.
        again = backend.play(model, config, 4, np.random.default_rng(5))
        assert len(again.moves) == 4
    log = capsys.readouterr().out
    assert f"self-play actor 1 (pid {pids[1]}) died mid-iteration: replaced" in log
    assert "replayed with the same seed" in log


def test_stage2_on_ray_finishes_and_checkpoints_like_a_local_run(
    cluster: str, tmp_path: Path
) -> None:
    tiny = ["--iterations", "2", "--games-per-iteration", "8", "--simulations", "8"]
    result = run_script(
        "train_selfplay",
        *("--init", "scratch", "--game", "tictactoe", *tiny),
        *("--backend", "ray", "--ray-address", cluster, "--workers", "2"),
        *("--eval-games", "4", "--eval-every", "1", "--snapshot-every", "1"),
        *("--run-dir", str(tmp_path)),
        cwd=tmp_path,
    )
    assert "eval/vs_expert/score" in result.stdout
    run = only_run(tmp_path)
    latest = load_checkpoint(run / "latest.pt")
    assert latest.stage == "selfplay" and latest.metrics["iteration"] == 2
    assert latest.args["backend"] == "ray" and latest.args["ray_address"] == cluster
    snapshots = sorted(p.name for p in run.glob("iteration_*.pt"))
    assert snapshots == ["iteration_0001.pt", "iteration_0002.pt"]
    last = load_checkpoint(run / snapshots[-1])
    assert last.step == latest.step
    for name, tensor in last.model.state_dict().items():
        torch.testing.assert_close(tensor, latest.model.state_dict()[name])
    assert "selfplay/game_length" in latest.metrics
    assert 0.0 <= latest.metrics["eval/vs_expert/score"] <= 1.0
    # Both iterations' games in the buffer (8 games each, each at least one move played
    # after its random opening).
    assert len(latest.training_state["buffer"]["value"]) >= 2 * 8


# The default suite's longest test (1.5-3 minutes on 2 cores: a Ray driver started, killed
# and resumed); the fault tests cover resuming after kill -9 on the process pool by default.
@pytest.mark.slow
def test_a_ray_run_resumes_after_its_driver_is_killed(cluster: str, tmp_path: Path) -> None:
    args = [
        *("--init", "scratch", "--game", "tictactoe", "--iterations", "1000"),
        *("--games-per-iteration", "8", "--simulations", "8"),
        *("--backend", "ray", "--ray-address", cluster, "--workers", "2"),
        *("--eval-games", "0", "--eval-every", "100", "--run-dir", str(tmp_path)),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.train_selfplay", *args],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # A new run folder starts with its latest.pt (iteration 0): wait for a finished iteration.
    deadline, latest = time.monotonic() + 240, None
    while time.monotonic() < deadline and latest is None:
        found = next(iter(tmp_path.glob("*/latest.pt")), None)
        if found is not None and load_checkpoint(found).metrics.get("iteration", 0) >= 1:
            latest = found
        time.sleep(0.2)
    assert latest is not None, "no iteration's checkpoint appeared"
    time.sleep(1.5)  # into a later iteration
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = int(load_checkpoint(latest).metrics["iteration"])
    assert 1 <= done_before < 1000
    # The run's own arguments (Ray, this cluster) carry on; the dead driver's actors go.
    target = str(done_before + 2)
    result = run_script(
        "train_selfplay", "--resume", str(latest.parent), "--iterations", target, cwd=tmp_path
    )
    assert f"at iteration {done_before}" in result.stdout
    resumed = load_checkpoint(latest.parent / "latest.pt")
    assert resumed.metrics["iteration"] == done_before + 2
    assert resumed.args["backend"] == "ray"
    assert len(resumed.training_state["buffer"]["value"]) > 0


def test_ctrl_c_ends_a_ray_run_with_one_line_and_no_process_left(
    cluster: str, tmp_path: Path
) -> None:
    """As tests/test_faults.py asks of the process pool: exit 130 within 5 s, the resume
    command alone, no traceback, nothing left of the driver's process group (the actors live
    in the cluster, which outlives the driver)."""
    rng = random.Random(15)
    command = (*faults.STAGE2, "--iterations", "500", "--backend", "ray", "--workers", "2")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(faults.ENV, "RAY_AUTH_MODE", ENV["RAY_AUTH_MODE"])
        for attempt in range(3):
            parent = tmp_path / f"run{attempt}"
            run = faults.start(
                tmp_path, command, "--ray-address", cluster, "--run-dir", str(parent)
            )
            faults.wait_for(lambda p=parent: list(p.glob("*/latest.pt")), "a checkpoint", run)
            time.sleep(rng.uniform(0.0, 4.0))
            assert run.process.poll() is None, "the run ended before its interruption"
            interrupted = faults.ctrl_c(run, parent)
            assert interrupted.line.startswith("interrupted: resume with")


def test_make_backend_refuses_an_unknown_backend() -> None:
    with pytest.raises(ValueError, match="local, processes, ray"):
        make_backend(TICTACTOE, 2, "cpu", backend="dask")


def test_stage2_asks_for_ray_in_one_sentence_when_it_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scripts import train_selfplay

    real_find_spec = train_selfplay.importlib.util.find_spec
    monkeypatch.setattr(
        train_selfplay.importlib.util,
        "find_spec",
        lambda name, *rest: None if name == "ray" else real_find_spec(name, *rest),
    )
    args = train_selfplay.Args(init="scratch", game="tictactoe", backend="ray", workers=2)
    with pytest.raises(
        SystemExit, match=r'needs Ray, which is not installed: pip install -e "\.\[ray\]"'
    ):
        train_selfplay._check_backend(args)
