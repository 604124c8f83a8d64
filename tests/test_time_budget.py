"""Stage 2's time budget, on a clock the test moves: the round the budget runs out in is
evaluated and is the last, even when the budget runs out between rounds (while a round's
checkpoint is written); a resumed run whose budget is spent plays nothing."""

from __future__ import annotations

from pathlib import Path

import torch

from envs import TICTACTOE
from models.checkpoint import load_checkpoint
from models.net import NetConfig, PolicyValueNet
from train.learn.alphazero import SelfPlayConfig, run_selfplay
from train.learn.tb import RunLogger

BUDGET_S = 10.0


class _SteppedClock(RunLogger):
    """A logger whose stage clock moves only when a round's bookkeeping ends (each
    ``flush``), by ``step_s``: the budget then always runs out between two rounds."""

    def __init__(self, run_dir: Path, step_s: float, start_s: float = 0.0) -> None:
        super().__init__(run_dir)
        self.now, self.step_s = start_s, step_s

    @property
    def stage_elapsed(self) -> float:
        return self.now

    def flush(self) -> None:
        super().flush()
        self.now += self.step_s


def _run(folder: Path, logger: RunLogger, resume: dict | None = None) -> list[int]:
    """A tiny tic-tac-toe stage 2 under ``BUDGET_S``; returns the rounds evaluated."""
    config = SelfPlayConfig.for_game(
        "tictactoe", iterations=1000, games_per_iteration=2, simulations=2, batch_size=8,
        time_budget_s=BUDGET_S,
    )  # fmt: skip
    torch.manual_seed(0)
    model = PolicyValueNet(NetConfig("tictactoe", blocks=1, channels=8, value_hidden=8))
    evaluated: list[int] = []

    def evaluate(net: PolicyValueNet) -> dict[str, float]:
        evaluated.append(len(evaluated))
        return {"eval/marker": 1.0}

    try:
        run_selfplay(
            TICTACTOE, model, config, device=torch.device("cpu"), logger=logger,
            checkpoint_dir=folder, seed=0, args={}, evaluate=evaluate, eval_every=1000,
            resume=resume,
        )  # fmt: skip
    finally:
        logger.close()
    return evaluated


def test_the_round_the_budget_runs_out_in_is_evaluated_and_ends_the_run(tmp_path: Path) -> None:
    # The clock reads 0, 6, 12 s at the rounds' ends: the budget of 10 s runs out while
    # round 2's checkpoint is written, so round 3 is the last, and is evaluated.
    evaluated = _run(tmp_path, _SteppedClock(tmp_path, step_s=6.0))
    latest = load_checkpoint(tmp_path / "latest.pt")
    assert int(latest.metrics["iteration"]) == 3
    assert evaluated == [0]  # once (--eval-every never came round): after the last round
    assert latest.metrics["eval/marker"] == 1.0


def test_a_resumed_run_whose_budget_is_spent_plays_no_more(tmp_path: Path) -> None:
    _run(tmp_path, _SteppedClock(tmp_path, step_s=6.0))
    checkpoint = load_checkpoint(tmp_path / "latest.pt")
    evaluated = _run(
        tmp_path, _SteppedClock(tmp_path, step_s=6.0, start_s=18.0), checkpoint.training_state
    )
    assert evaluated == []
    assert int(load_checkpoint(tmp_path / "latest.pt").metrics["iteration"]) == 3
