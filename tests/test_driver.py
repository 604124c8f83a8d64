"""The stage driver (train/learn/driver.py): resume state, the end of a round, the summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from models.net import NetConfig, PolicyValueNet
from train.learn.driver import (
    EpochProgress,
    IterationProgress,
    RunOutputs,
    end_round,
    restore,
    resume_run,
    summary,
    training_state,
)
from train.learn.optim import make_optimizer
from train.learn.tb import RunLogger

TINY = NetConfig("tictactoe", blocks=0, channels=4, value_hidden=4)


def _net() -> PolicyValueNet:
    torch.manual_seed(0)
    return PolicyValueNet(TINY)


def _step(model: PolicyValueNet, optimizer, scheduler) -> None:
    loss = sum(p.square().sum() for p in model.parameters())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_restore_gives_back_what_training_state_saved(kind: str) -> None:
    model = _net()
    optimizer, scheduler = make_optimizer(model, 1e-3, 0.0, total_steps=10)
    rng = np.random.default_rng(3) if kind == "numpy" else torch.Generator().manual_seed(3)
    _step(model, optimizer, scheduler)
    saved = training_state(optimizer, scheduler, rng, pool=[1, 2])
    saved["progress"] = {"iteration": 4, "positions_seen": 9, "selfplay_positions": 2}
    draw = (lambda g: g.random(3)) if kind == "numpy" else (lambda g: torch.rand(3, generator=g))
    expected = draw(rng)
    assert saved["pool"] == [1, 2]

    fresh = _net()
    fresh_opt, fresh_sched = make_optimizer(fresh, 1e-3, 0.0, total_steps=10)
    fresh_rng = np.random.default_rng(99) if kind == "numpy" else torch.Generator()
    progress = restore(saved, fresh_opt, fresh_sched, fresh_rng, IterationProgress)
    assert progress == IterationProgress(iteration=4, positions_seen=9, selfplay_positions=2)
    np.testing.assert_array_equal(np.asarray(draw(fresh_rng)), np.asarray(expected))
    assert fresh_sched.last_epoch == scheduler.last_epoch == 1
    assert fresh_opt.state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()


def test_end_round_evaluates_when_due_and_writes_the_checkpoints(tmp_path: Path) -> None:
    model, calls = _net(), []

    def evaluate(net: PolicyValueNet) -> dict[str, float]:
        calls.append(1)
        return {"eval/vs_random/score": 0.5}

    logger = RunLogger(tmp_path / "tb")
    outputs = RunOutputs(logger, tmp_path, 7, {"game": "tictactoe"}, evaluate, 2, 3, 2)
    progress = IterationProgress(positions_seen=100)
    evaluated = []
    for _ in range(3):
        metrics = {"losses/total": 1.0}
        evaluated.append(end_round(model, metrics, progress, outputs, {"extra": 1}))
        progress.positions_seen += 10
    logger.close()
    # Every second round, and the last.
    assert evaluated == [False, True, True] and len(calls) == 2
    latest = load_checkpoint(tmp_path / "latest.pt")
    assert latest.stage == "selfplay" and latest.step == 120 and latest.seed == 7
    assert latest.metrics["iteration"] == 3 and latest.metrics["eval/vs_random/score"] == 0.5
    assert latest.training_state["extra"] == 1
    assert latest.training_state["progress"]["iteration"] == 3
    assert sorted(p.name for p in tmp_path.glob("iteration_*.pt")) == ["iteration_0002.pt"]
    assert not (tmp_path / "best.pt").exists()


def test_end_round_keeps_the_best_epoch_as_best_pt(tmp_path: Path) -> None:
    model = _net()
    logger = RunLogger(tmp_path / "tb")
    outputs = RunOutputs(logger, tmp_path, 1, {}, None, 1, 2)
    progress = EpochProgress()
    end_round(model, {"val/policy_loss": 1.0}, progress, outputs, {}, keep_as_best=True)
    end_round(model, {"val/policy_loss": 2.0}, progress, outputs, {}, keep_as_best=False)
    logger.close()
    best, latest = load_checkpoint(tmp_path / "best.pt"), load_checkpoint(tmp_path / "latest.pt")
    assert best.stage == latest.stage == "imitation"
    assert best.metrics["epoch"] == 1 and latest.metrics["epoch"] == 2
    assert latest.training_state["progress"]["epoch"] == 2


def test_summary_line_has_the_round_the_head_and_the_scores() -> None:
    progress = EpochProgress(epoch=3, positions_seen=12345, elapsed=61.4)
    metrics = {
        "eval/vs_random/score": 0.75,
        "eval/vs_random/win_rate": 0.5,
        "eval/solver/optimal_move_rate": 0.9,
        "losses/total": 1.0,
    }
    line = summary(progress, metrics, {"val acc": 0.8})
    assert line == (
        "epoch 3 | positions 12,345 | val acc 0.800 | solver/optimal_move_rate 0.900 "
        "| vs_random/score 0.750 | 61s"
    )


def _run_folder(tmp_path: Path, stage: str, state: dict | None) -> Path:
    tmp_path.mkdir(exist_ok=True)
    save_checkpoint(
        tmp_path / "latest.pt", _net(), stage=stage, step=5, args={}, metrics={}, seed=1,
        training_state=state,
    )  # fmt: skip
    return tmp_path


def test_resume_run_reads_where_the_run_stopped(tmp_path: Path) -> None:
    state = {"progress": {"epoch": 2, "positions_seen": 5, "best_val_loss": 1.0, "elapsed": 3.0}}
    resumed = resume_run(_run_folder(tmp_path, "imitation", state), "imitation")
    assert resumed.progress == EpochProgress(2, 5, 1.0, 3.0)
    assert resumed.describe() == f"resuming {tmp_path} at epoch 2"
    assert resumed.training_state["progress"]["epoch"] == 2


def test_resume_run_refuses_the_other_stage_and_a_missing_state(tmp_path: Path) -> None:
    stage1 = _run_folder(tmp_path / "a", "imitation", {"progress": {"epoch": 1}})
    with pytest.raises(CheckpointError, match=r"stage-1 \(imitation\) run.*--init"):
        resume_run(stage1, "selfplay")
    stage2 = _run_folder(tmp_path / "b", "selfplay", {"progress": {"iteration": 1}})
    with pytest.raises(CheckpointError, match=r"stage-2 \(self-play\) run"):
        resume_run(stage2, "imitation")
    exported = _run_folder(tmp_path / "c", "selfplay", None)
    with pytest.raises(CheckpointError, match="no training state"):
        resume_run(exported, "selfplay")
