"""The stage driver (train/learn/driver.py): resume state, the end of a round, the summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.plugin_event_accumulator import (
    EventAccumulator as PluginEventAccumulator,
)

from models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from models.net import NetConfig, PolicyValueNet
from train.learn.driver import (
    EpochProgress,
    IterationProgress,
    RunOutputs,
    end_round,
    first_checkpoint,
    restore,
    resume_run,
    summary,
    training_state,
)
from train.learn.evaluation import Evaluation, with_intervals
from train.learn.optim import make_optimizer
from train.learn.tb import RunLogger
from train.report.runs import read_scalars

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


def test_stage_two_summary_counts_its_own_time_not_stage_ones() -> None:
    # 100 s of stage 1, then 61 s of stage 2: charts/elapsed_s says 161, the line 61.
    progress = IterationProgress(iteration=2, elapsed=161.4, earlier_stages_s=100.0)
    assert summary(progress, {}, {}).endswith(" | 61s")


def test_the_evaluation_generator_is_saved_and_restored_with_the_run(tmp_path: Path) -> None:
    def measure(net: PolicyValueNet, rng: np.random.Generator) -> dict[str, float]:
        return {"eval/draw": float(rng.random())}

    evaluation = Evaluation(measure, np.random.default_rng(5), games=0)
    logger = RunLogger(tmp_path / "tb")
    outputs = RunOutputs(logger, tmp_path, 1, {}, evaluation, 1, 3)
    progress = EpochProgress()
    end_round(_net(), {}, progress, outputs, {})
    logger.close()
    expected = [evaluation(_net())["eval/draw"] for _ in range(2)]  # the uninterrupted run's
    state = load_checkpoint(tmp_path / "latest.pt").training_state
    resumed = Evaluation(measure, np.random.default_rng(5), games=0)  # seeded as at the start
    resumed.restore(state)
    assert [resumed(_net())["eval/draw"] for _ in range(2)] == expected
    # A checkpoint from before the generator was saved: the seeded generator carries on.
    older = Evaluation(measure, np.random.default_rng(5), games=0)
    older.restore({"progress": state["progress"]})
    assert older.rng.bit_generator.state == np.random.default_rng(5).bit_generator.state


def test_each_duel_score_gets_its_wilson_interval() -> None:
    # 7 wins, 2 draws, 1 loss in 10 games: score 0.8, Wilson 95% interval [0.490, 0.943].
    metrics = with_intervals({"eval/vs_expert/score": 0.8, "eval/solver/error_rate": 0.1}, 10)
    assert set(metrics) == {
        "eval/vs_expert/score",
        "eval/vs_expert/score_low",
        "eval/vs_expert/score_high",
        "eval/solver/error_rate",
    }
    assert metrics["eval/vs_expert/score_low"] == pytest.approx(0.4902, abs=1e-4)
    assert metrics["eval/vs_expert/score_high"] == pytest.approx(0.9433, abs=1e-4)
    assert with_intervals({"eval/vs_expert/score": 0.8}, 0) == {"eval/vs_expert/score": 0.8}


def test_a_new_run_starts_with_a_checkpoint_that_resumes_from_the_start(tmp_path: Path) -> None:
    start = IterationProgress(positions_seen=700, elapsed=30.0, earlier_stages_s=30.0)
    first_checkpoint(tmp_path, _net(), start, {"game": "tictactoe"}, 3)
    resumed = resume_run(tmp_path, "selfplay")
    assert resumed.progress == start and resumed.checkpoint.step == 700
    assert resumed.loop_state is None  # the loop starts afresh, from the saved network
    for name, tensor in resumed.checkpoint.model.state_dict().items():
        assert torch.equal(tensor, _net().state_dict()[name])


def test_resume_removes_the_temporaries_of_killed_checkpoint_writes(tmp_path: Path) -> None:
    run = _run_folder(tmp_path, "selfplay", {"progress": {"iteration": 1}})
    (run / ".latest.pt.4242.tmp").write_bytes(b"half a checkpoint")
    (run / ".best.pt.17.tmp").write_bytes(b"")
    (run / ".keep.tmp").write_text("not ours")  # no process id: left alone
    resume_run(run, "selfplay")
    assert sorted(p.name for p in run.glob(".*")) == [".keep.tmp"]


def test_a_resumed_logger_discards_what_the_interrupted_process_logged_later(
    tmp_path: Path,
) -> None:
    first = RunLogger(tmp_path)
    for step in (10, 20, 30):  # the checkpoint was at 20, the crash after 30
        first.scalars({"losses/total": float(step)}, step)
    first.close()
    resumed = RunLogger(tmp_path, resumed_step=20)
    for step in (30, 40):  # the checkpoint was at 30, the crash after 40
        resumed.scalars({"losses/total": step + 1.0}, step)
    resumed.close()
    again = RunLogger(tmp_path, resumed_step=30)
    again.scalars({"losses/total": 42.0}, 40)
    again.close()
    # Both readers: the one the report uses, and the one TensorBoard's own page uses (which
    # takes a run's first restart mark for its start: every writer must leave one).
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    plugins = PluginEventAccumulator(str(tmp_path))
    plugins.Reload()
    for tag in ("losses/total", "charts/elapsed_s"):
        assert [e.step for e in events.Scalars(tag)] == [10, 20, 30, 40]
        assert [e.step for e in plugins.Tensors(tag)] == [10, 20, 30, 40]
    assert [e.value for e in events.Scalars("losses/total")] == [10.0, 20.0, 31.0, 42.0]
    np.testing.assert_array_equal(read_scalars(tmp_path)["losses/total"].values, [10, 20, 31, 42])
