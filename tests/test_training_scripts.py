"""Seconds-long smoke tests of both training scripts, their refusals, and crash recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from models.checkpoint import load_checkpoint
from train.search.evaluators import FAST_CACHE_SIZE

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def run_script(
    module: str, *args: str, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", f"scripts.{module}", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{module} failed:\n{result.stdout}\n{result.stderr}")
    return result


def only_run(runs: Path) -> Path:
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


@pytest.fixture(scope="module")
def stage1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny tic-tac-toe stage-1 run; returns its run folder."""
    cwd = tmp_path_factory.mktemp("stage1")
    tiny = ["--games", "60", "--epochs", "2", "--eval-games", "4", "--eval-every", "1"]
    run_script("train_imitation", "--game", "tictactoe", *tiny, "--run-dir", "runs", cwd=cwd)
    return only_run(cwd / "runs")


def test_imitation_smoke(stage1: Path) -> None:
    best, latest = load_checkpoint(stage1 / "best.pt"), load_checkpoint(stage1 / "latest.pt")
    assert latest.stage == "imitation" and latest.game == "tictactoe"
    assert latest.metrics["epoch"] == 2
    assert 0.0 <= latest.metrics["val/move_accuracy"] <= 1.0
    assert "eval/vs_random/score" in latest.metrics
    assert "eval/solver/optimal_move_rate" in latest.metrics
    assert best.step <= latest.step
    assert any(p.name.startswith("events.out.tfevents") for p in stage1.iterdir())
    # The expert games were cached for the next run with the same settings.
    assert list((stage1.parent.parent / "data" / "cache").glob("tictactoe_*.npz"))


def test_imitation_resume_continues_from_the_last_epoch(stage1: Path, tmp_path: Path) -> None:
    # Resuming a finished run with more epochs trains only the new ones.
    copy = tmp_path / "run"
    copy.mkdir()
    for item in stage1.iterdir():
        if item.is_file():
            (copy / item.name).write_bytes(item.read_bytes())
    result = run_script(
        "train_imitation", "--resume", str(copy), "--epochs", "3", cwd=stage1.parent.parent
    )
    assert "resuming" in result.stdout
    assert load_checkpoint(copy / "latest.pt").metrics["epoch"] == 3


def _copy_run(run: Path, target: Path) -> Path:
    target.mkdir()
    for item in run.iterdir():
        if item.is_file():
            (target / item.name).write_bytes(item.read_bytes())
    return target


def test_resume_refuses_a_run_of_the_other_stage_or_without_training_state(
    stage1: Path, tmp_path: Path
) -> None:
    # A stage-1 run is not a stage-2 run to continue: one sentence, pointing at --init.
    wrong_stage = run_script("train_selfplay", "--resume", str(stage1), cwd=tmp_path, check=False)
    assert wrong_stage.returncode != 0 and "Traceback" not in wrong_stage.stderr
    assert wrong_stage.stderr.startswith("error: ") and "stage-1 (imitation)" in wrong_stage.stderr
    assert f"--init {stage1 / 'best.pt'}" in wrong_stage.stderr
    # An exported network (no training state) as a run's latest.pt: nothing to resume.
    exported = _copy_run(stage1, tmp_path / "exported")
    target = str(exported / "latest.pt")
    run_script("export_checkpoint", str(stage1 / "latest.pt"), target, "--force", cwd=tmp_path)
    no_state = run_script("train_imitation", "--resume", str(exported), cwd=tmp_path, check=False)
    assert no_state.returncode != 0 and "Traceback" not in no_state.stderr
    assert no_state.stderr.startswith("error: ") and "no training state" in no_state.stderr
    # A missing run folder.
    missing = run_script(
        "train_imitation", "--resume", str(tmp_path / "nowhere"), cwd=tmp_path, check=False
    )
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert missing.stderr.startswith("error: ") and "no such file" in missing.stderr


def test_selfplay_smoke_from_stage1(stage1: Path, tmp_path: Path) -> None:
    stage1_ckpt = load_checkpoint(stage1 / "best.pt")
    tiny = ["--iterations", "2", "--games-per-iteration", "4", "--simulations", "4"]
    result = run_script(
        "train_selfplay",
        "--init",
        str(stage1 / "best.pt"),
        *tiny,
        "--eval-games",
        "4",
        "--eval-every",
        "1",
        "--snapshot-every",
        "1",
        "--run-dir",
        str(tmp_path),
        cwd=tmp_path,
    )
    run = only_run(tmp_path)
    latest = load_checkpoint(run / "latest.pt")
    assert latest.stage == "selfplay" and latest.metrics["iteration"] == 2
    # Each iteration's network is kept too, without the training state; the last is latest's.
    snapshots = sorted(p.name for p in run.glob("iteration_*.pt"))
    assert snapshots == ["iteration_0001.pt", "iteration_0002.pt"]
    first, last = (load_checkpoint(run / name) for name in snapshots)
    assert first.metrics["iteration"] == 1 and not first.training_state
    assert last.step == latest.step
    for name, tensor in last.model.state_dict().items():
        torch.testing.assert_close(tensor, latest.model.state_dict()[name])
    # The x-axis continues from stage 1's positions.
    assert latest.step > stage1_ckpt.step
    assert latest.metrics["elapsed_s"] > stage1_ckpt.metrics["elapsed_s"]
    assert "selfplay/game_length" in latest.metrics
    # On a CPU its self-play ran the fast path by default, and the run records it as such
    # (so that --resume keeps it).
    recorded = json.loads((run / "args.json").read_text())
    assert (recorded["runtime"], recorded["eval_cache"]) == ("onnxruntime", FAST_CACHE_SIZE)
    assert latest.args["runtime"] == "onnxruntime"
    # Stage 2 tells where to watch it, as stage 1 does, and counts its own time apart.
    assert f"(tensorboard --logdir {tmp_path})" in result.stdout
    progress = latest.training_state["progress"]
    assert progress["earlier_stages_s"] == stage1_ckpt.metrics["elapsed_s"]
    assert f"| {progress['elapsed'] - progress['earlier_stages_s']:.0f}s" in result.stdout


def test_selfplay_refuses_bad_input_before_any_work(stage1: Path, tmp_path: Path) -> None:
    wrong_game = run_script(
        "train_selfplay",
        "--init",
        str(stage1 / "best.pt"),
        "--game",
        "connect4",
        cwd=tmp_path,
        check=False,
    )
    assert wrong_game.returncode != 0 and "tictactoe" in wrong_game.stderr
    unknown = run_script(
        "train_selfplay", "--init", "scratch", "--algo", "dqn", cwd=tmp_path, check=False
    )
    assert unknown.returncode != 0 and "invalid choice" in unknown.stderr
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    unwritable = run_script(
        "train_selfplay",
        "--init",
        "scratch",
        "--game",
        "tictactoe",
        "--run-dir",
        str(blocker / "runs"),
        cwd=tmp_path,
        check=False,
    )
    assert unwritable.returncode != 0 and "not writable" in unwritable.stderr
    assert not list(tmp_path.glob("**/*.pt"))


def test_selfplay_survives_kill_9_and_resumes(tmp_path: Path) -> None:
    """Kill the run at a random moment after its first checkpoint; resume loses nothing more."""
    args = [
        "--init",
        "scratch",
        "--game",
        "tictactoe",
        "--iterations",
        "1000",
        "--games-per-iteration",
        "8",
        "--simulations",
        "8",
        "--eval-games",
        "0",
        "--eval-every",
        "100",
        "--run-dir",
        str(tmp_path),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.train_selfplay", *args],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    latest = None
    while time.monotonic() < deadline and latest is None:
        # latest.pt is written before the first iteration too: wait for the first iteration's.
        runs = [p for p in tmp_path.glob("*/latest.pt") if load_checkpoint(p).metrics["iteration"]]
        latest = runs[0] if runs else None
        time.sleep(0.2)
    assert latest is not None, "no checkpoint appeared"
    time.sleep(1.5)  # into the middle of later iterations, likely mid-write
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = int(load_checkpoint(latest).metrics["iteration"])  # never torn
    assert 1 <= done_before < 1000
    run = latest.parent
    target = str(done_before + 2)
    result = run_script(
        "train_selfplay", "--resume", str(run), "--iterations", target, cwd=tmp_path
    )
    assert f"at iteration {done_before}" in result.stdout
    resumed = load_checkpoint(run / "latest.pt")
    assert resumed.metrics["iteration"] == done_before + 2
    state = resumed.training_state
    assert state is not None and len(state["buffer"]["value"]) > 0


def test_imitation_refuses_to_resume_a_stage2_run(tmp_path: Path) -> None:
    tiny = ["--iterations", "1", "--games-per-iteration", "2", "--simulations", "2"]
    run_script(
        "train_selfplay",
        *("--init", "scratch", "--game", "tictactoe", *tiny, "--workers", "1"),
        *("--eval-games", "0", "--snapshot-every", "0", "--run-dir", str(tmp_path / "runs")),
        cwd=tmp_path,
    )
    run = only_run(tmp_path / "runs")
    wrong_stage = run_script("train_imitation", "--resume", str(run), cwd=tmp_path, check=False)
    assert wrong_stage.returncode != 0 and "Traceback" not in wrong_stage.stderr
    assert wrong_stage.stderr.startswith("error: ") and "stage-2 (self-play)" in wrong_stage.stderr
    assert load_checkpoint(run / "latest.pt").metrics["iteration"] == 1  # left as it was


def test_export_drops_the_training_state_and_keeps_the_network(
    stage1: Path, tmp_path: Path
) -> None:
    import torch

    target = tmp_path / "shipped.pt"
    run_script("export_checkpoint", str(stage1 / "best.pt"), str(target), cwd=tmp_path)
    source, shipped = load_checkpoint(stage1 / "best.pt"), load_checkpoint(target)
    assert source.training_state is not None and shipped.training_state is None
    assert (shipped.game, shipped.stage, shipped.step) == (source.game, source.stage, source.step)
    obs = torch.rand(5, *shipped.model.obs_shape)
    with torch.inference_mode():
        for a, b in zip(source.model(obs), shipped.model(obs), strict=True):
            torch.testing.assert_close(a, b)
    assert target.stat().st_size < (stage1 / "best.pt").stat().st_size


def test_selfplay_time_budget_ends_the_run_evaluated_and_resume_keeps_it_ended(
    tmp_path: Path,
) -> None:
    budget_s = 4.0
    tiny = [
        *("--init", "scratch", "--game", "tictactoe", "--iterations", "100000"),
        *("--games-per-iteration", "4", "--simulations", "4", "--workers", "1"),
        *("--eval-games", "4", "--eval-every", "100000", "--snapshot-every", "0"),
    ]
    result = run_script(
        "train_selfplay", *tiny, "--time-budget", str(budget_s / 60), "--run-dir", "runs",
        cwd=tmp_path,
    )  # fmt: skip
    assert "time budget of 4s spent: run ended" in result.stdout
    latest = load_checkpoint(only_run(tmp_path / "runs") / "latest.pt")
    done = int(latest.metrics["iteration"])
    assert 1 <= done < 100000
    assert latest.metrics["elapsed_s"] >= budget_s
    # The last iteration was evaluated although --eval-every never came round.
    assert "eval/vs_random/score" in latest.metrics
    # A finished budget stays finished: a resume plays no more iterations.
    run_script("train_selfplay", "--resume", str(only_run(tmp_path / "runs")), cwd=tmp_path)
    again = load_checkpoint(only_run(tmp_path / "runs") / "latest.pt")
    assert int(again.metrics["iteration"]) == done


def test_selfplay_refuses_a_time_budget_it_cannot_keep(tmp_path: Path) -> None:
    for flags in (["--time-budget", "-1"], ["--time-budget", "1", "--algo", "reinforce"]):
        result = run_script(
            "train_selfplay", "--init", "scratch", "--game", "tictactoe", *flags, cwd=tmp_path,
            check=False,
        )  # fmt: skip
        assert result.returncode != 0
        assert result.stderr.strip().splitlines() == [
            "error: --time-budget must be >= 0, and is for --algo alphazero"
        ]
