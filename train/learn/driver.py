"""What every training stage does around its own work, written once.

A run is a sequence of rounds (stage 1's epochs, stage 2's iterations). Each stage's loop does
its own work in a round (SGD over the expert's positions, self-play then SGD, games against
the pool then SGD) and leaves the rest here:

- where the run stands (:class:`EpochProgress`, :class:`IterationProgress`), saved in every
  checkpoint so that ``--resume`` continues exactly;
- the progress bar over the rounds and the one summary line per evaluated round;
- the end of a round (:func:`end_round`): evaluate when due, log, count the round, write
  ``latest.pt`` with the training state (and ``best.pt``, and snapshots, when asked);
- resuming: checking a run folder can be continued (:func:`resume_run`), then restoring the
  optimiser, schedule, generator and progress (:func:`restore`).

A run can be killed at any moment and resumed exactly. ``latest.pt`` is the resume point, so
it is the first file of a new run folder (:func:`first_checkpoint`) and the last written at
the end of every round, after the snapshot and ``best.pt``: a kill between two writes leaves
the round to be done again, never a best network lost. Every write is atomic
(:mod:`models.checkpoint`), the TensorBoard events are flushed before it, and the
evaluation's generator is part of the saved state (:mod:`train.learn.evaluation`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from tqdm import tqdm

from models.checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    remove_temporaries,
    save_checkpoint,
)
from models.net import PolicyValueNet
from train.interrupts import sigint_deferred
from train.learn.evaluation import Evaluation
from train.learn.tb import RunLogger


@dataclass
class EpochProgress:
    """Where a stage-1 run stands (after ``epoch`` epochs)."""

    epoch: int = 0
    positions_seen: int = 0
    best_val_loss: float = float("inf")
    elapsed: float = 0.0
    earlier_stages_s: float = 0.0  # always 0: stage 1 is the first stage
    unit: ClassVar[str] = "epoch"
    stage: ClassVar[str] = "imitation"


@dataclass
class IterationProgress:
    """Where a stage-2 run stands (after ``iteration`` iterations), whatever the algorithm."""

    iteration: int = 0
    positions_seen: int = 0  # training samples consumed, continuing from stage 1
    selfplay_positions: int = 0
    elapsed: float = 0.0  # cumulative seconds, stage 1's included
    earlier_stages_s: float = 0.0  # stage 1's seconds, when the run continues from it
    unit: ClassVar[str] = "iteration"
    stage: ClassVar[str] = "selfplay"


Progress = EpochProgress | IterationProgress
#: The progress type of each stage, by the stage name its checkpoints carry.
PROGRESS: dict[str, type[EpochProgress] | type[IterationProgress]] = {
    p.stage: p for p in (EpochProgress, IterationProgress)
}


_STAGE_NAMES = {"imitation": "stage-1 (imitation)", "selfplay": "stage-2 (self-play)"}


def rounds_done(progress: Progress) -> int:
    """The epochs or iterations finished."""
    return getattr(progress, progress.unit)


@dataclass(frozen=True)
class RunOutputs:
    """Where a run reports and how often it evaluates: fixed for the whole run.

    ``rounds`` is the length of the run (epochs or iterations); ``evaluate`` runs every
    ``eval_every`` rounds and after the last (an :class:`Evaluation` has its generator saved
    in the checkpoints); every ``snapshot_every`` rounds (0: never) the network is also kept
    alone as ``iteration_NNNN.pt``.
    """

    logger: RunLogger
    checkpoint_dir: Path
    seed: int
    args: dict[str, Any]
    evaluate: Callable[[PolicyValueNet], dict[str, float]] | None
    eval_every: int
    rounds: int
    snapshot_every: int = 0


# --- resuming ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Resumed:
    """A run folder about to be continued: its ``latest.pt`` and where it stopped."""

    run_dir: Path
    checkpoint: Checkpoint
    progress: Progress

    @property
    def training_state(self) -> dict[str, Any]:
        return self.checkpoint.training_state

    @property
    def loop_state(self) -> dict[str, Any] | None:
        """What the stage's loop continues from, or None for a run stopped in its first
        round: its latest.pt (:func:`first_checkpoint`) holds the starting network, and the
        loop starts afresh from it."""
        return self.training_state if rounds_done(self.progress) > 0 else None

    def describe(self) -> str:
        return f"resuming {self.run_dir} at {self.progress.unit} {rounds_done(self.progress)}"


def resume_run(run_dir: str | Path, stage: str) -> Resumed:
    """The run in ``run_dir``, checked to be one of ``stage`` ("imitation" or "selfplay")
    that can be continued; the temporary files of checkpoint writes it was killed in are
    removed.

    Raises:
        CheckpointError: with one sentence, when ``latest.pt`` is missing or damaged, was
            written by the other stage, or holds no training state (an exported network).
    """
    run_dir = Path(run_dir)
    path = run_dir / "latest.pt"
    checkpoint = load_checkpoint(path)
    if checkpoint.stage != stage:
        hint = f"; start stage 2 from it with --init {run_dir / 'best.pt'}"
        raise CheckpointError(
            f"{path} is from a {_STAGE_NAMES.get(checkpoint.stage, repr(checkpoint.stage))} "
            f"run, and only a {_STAGE_NAMES[stage]} run can be resumed here"
            + (hint if checkpoint.stage == "imitation" else "")
        )
    state = checkpoint.training_state
    progress_type = PROGRESS[stage]
    saved = state.get("progress") if isinstance(state, dict) else None
    if not isinstance(saved, dict) or progress_type.unit not in saved:
        raise CheckpointError(
            f"{path} holds no training state to resume from (an exported network?)"
        )
    remove_temporaries(run_dir)
    return Resumed(run_dir, checkpoint, progress_type(**saved))


def first_checkpoint(
    run_dir: Path,
    model: PolicyValueNet,
    progress: Progress,
    args: dict[str, Any],
    seed: int,
    evaluate: Callable[[PolicyValueNet], dict[str, float]] | None = None,
) -> None:
    """Write ``latest.pt`` for a new run, before anything else in its folder: the starting
    network and the progress before the first round (with ``evaluate``'s generator, if an
    :class:`Evaluation`). A run is started from its network and arguments alone, so this
    is all a run interrupted in its first round needs to resume (:attr:`Resumed.loop_state`).
    """
    state = {"progress": asdict(progress)}
    if isinstance(evaluate, Evaluation):
        state.update(evaluate.state())
    metrics = {progress.unit: 0, "elapsed_s": progress.elapsed}
    description = {"stage": progress.stage, "step": progress.positions_seen, "seed": seed}
    with sigint_deferred():
        save_checkpoint(run_dir / "latest.pt", model, **description, args=args, metrics=metrics,
                        training_state=state)  # fmt: skip


def training_state(
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    rng: np.random.Generator | torch.Generator,
    **extra: Any,
) -> dict[str, Any]:
    """What a loop needs to resume exactly, besides the network and its progress: the
    optimiser, the schedule, the run's generator and the loop's ``extra`` (buffer, pool)."""
    if isinstance(rng, torch.Generator):
        generator = {"torch_generator": rng.get_state()}
    else:
        generator = {"numpy_rng": rng.bit_generator.state}
    return {
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        **generator,
        **extra,
    }


def restore(
    state: dict[str, Any],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    rng: np.random.Generator | torch.Generator,
    progress_type: type[EpochProgress] | type[IterationProgress],
) -> Progress:
    """Load what :func:`training_state` saved (plus the progress :func:`end_round` adds)
    back into ``optimizer``, ``scheduler`` and ``rng``; returns the saved progress."""
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if isinstance(rng, torch.Generator):
        rng.set_state(state["torch_generator"])
    else:
        rng.bit_generator.state = state["numpy_rng"]
    return progress_type(**state["progress"])


# --- one round's end, and the display ---------------------------------------------------


def round_bar(progress: Progress, outputs: RunOutputs, desc: str) -> tqdm:
    """The progress bar over the rounds still to run (a resumed run starts part-way)."""
    done = rounds_done(progress)
    return tqdm(range(done, outputs.rounds), desc=desc, initial=done, total=outputs.rounds)


def end_round(
    model: PolicyValueNet,
    metrics: dict[str, float],
    progress: Progress,
    outputs: RunOutputs,
    state: dict[str, Any],
    keep_as_best: bool = False,
    last: bool = False,
) -> bool:
    """What ends every round of every stage: evaluate (every ``eval_every`` rounds, after
    the last, and after one the loop says is ``last``: its time budget spent) into
    ``metrics``, log, count the round done, then write every ``snapshot_every`` rounds the
    network alone as ``iteration_NNNN.pt``, ``best.pt`` when ``keep_as_best``, and last
    ``latest.pt`` (the resume point) with the loop's ``state`` (from :func:`training_state`)
    and the progress. Returns whether the evaluation ran."""
    done = rounds_done(progress) + 1
    due = done % outputs.eval_every == 0 or done == outputs.rounds or last
    evaluated = outputs.evaluate is not None and due
    if evaluated:
        metrics.update(outputs.evaluate(model))
    outputs.logger.scalars(metrics, progress.positions_seen)
    outputs.logger.flush()  # the steps the checkpoint passes must outlive a kill after it
    setattr(progress, progress.unit, done)
    progress.elapsed = outputs.logger.elapsed
    progress.earlier_stages_s = outputs.logger.earlier_stages_s
    description = {
        "stage": progress.stage,
        "step": progress.positions_seen,
        "args": outputs.args,
        "metrics": {**metrics, progress.unit: done, "elapsed_s": progress.elapsed},
        "seed": outputs.seed,
    }
    full = {**state, "progress": asdict(progress)}
    if isinstance(outputs.evaluate, Evaluation):
        full.update(outputs.evaluate.state())
    writes = [(name, full) for name in (("best.pt",) if keep_as_best else ()) + ("latest.pt",)]
    if outputs.snapshot_every > 0 and done % outputs.snapshot_every == 0:
        writes.insert(0, (f"iteration_{done:04d}.pt", None))
    for name, saved_state in writes:
        with sigint_deferred():  # a Ctrl-C comes between two files, never inside one
            path = outputs.checkpoint_dir / name
            save_checkpoint(path, model, **description, training_state=saved_state)
    return evaluated


def summary(progress: Progress, metrics: dict[str, float], head: dict[str, float]) -> str:
    """One line for the log: the round, positions seen, the stage's ``head`` numbers, every
    evaluation score and optimal-move rate, and the stage's time so far."""
    parts = [f"{progress.unit} {rounds_done(progress)}", f"positions {progress.positions_seen:,}"]
    parts += [f"{name} {value:.3f}" for name, value in head.items()]
    for tag in sorted(metrics):
        if tag.startswith("eval/") and tag.endswith(("/score", "optimal_move_rate")):
            parts.append(f"{tag.removeprefix('eval/')} {metrics[tag]:.3f}")
    parts.append(f"{progress.elapsed - progress.earlier_stages_s:.0f}s")
    return " | ".join(parts)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads (None: leave them), then restore."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
