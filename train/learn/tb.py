"""TensorBoard logging shared by both stages, so their curves overlay.

Every scalar is logged against one global step: **training positions seen**, counted from
the start of stage 1 and carried on by stage 2 when it starts from a stage-1 checkpoint.
Wall time is logged as its own tag (``charts/elapsed_s``, also cumulative over stages), so
the report can draw any metric against compute as well as against data.

A resumed run repeats the work its interrupted process did after the last checkpoint, and
logs it again: its writer starts with TensorBoard's ``purge_step`` just past that checkpoint's
step, a restart mark that makes readers (TensorBoard, ``train.report.runs.read_scalars``)
discard what the interrupted process logged later, so every step reads once. A new run's
writer leaves that mark too, at step 0 (nothing to discard): the reader behind TensorBoard's
page takes the first mark of a run for its start and acts only on later ones, so a run
begun without one would show its first resume's repeated steps twice.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter


def run_name(game: str, exp_name: str, seed: int) -> str:
    """``{game}__{exp_name}__{seed}__{unix time}``, CleanRL's run-folder convention."""
    return f"{game}__{exp_name}__{seed}__{int(time.time())}"


class RunLogger:
    """A TensorBoard writer that also keeps the cumulative wall clock of the run.

    Args:
        run_dir: the run's folder (created).
        elapsed_offset: seconds of training already spent before this process (a resumed
            run, or stage 1's time when stage 2 continues from it).
        earlier_stages_s: the part of ``elapsed_offset`` that earlier stages spent (stage 1's
            time, for a stage 2 continuing from it), which :attr:`stage_elapsed` leaves out.
        resumed_step: the step of the checkpoint a resumed run continues from: what the
            interrupted process logged after it is discarded (None: a new run).
    """

    def __init__(
        self,
        run_dir: str | Path,
        elapsed_offset: float = 0.0,
        earlier_stages_s: float = 0.0,
        resumed_step: int | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # Events at steps >= purge_step logged before this writer started are discarded. The
        # checkpoint's own step stays: its round logged it before writing the checkpoint.
        purge = 0 if resumed_step is None else resumed_step + 1
        self.writer = SummaryWriter(str(self.run_dir), purge_step=purge)
        self.earlier_stages_s = earlier_stages_s
        self._first_step = purge
        self._offset = elapsed_offset
        self._start = time.monotonic()

    @property
    def elapsed(self) -> float:
        """Seconds of training so far, earlier stages and runs included."""
        return self._offset + time.monotonic() - self._start

    @property
    def stage_elapsed(self) -> float:
        """Seconds of this stage so far (its earlier, interrupted processes included)."""
        return self.elapsed - self.earlier_stages_s

    def hyperparameters(self, args: Any) -> None:
        """Log the arguments as a markdown table (text tab) for later reading; a resumed run
        logs its own (a resume may change some) at its first new step."""
        values = dataclasses.asdict(args) if dataclasses.is_dataclass(args) else dict(args)
        rows = "\n".join(f"|{key}|{value}|" for key, value in values.items())
        table = f"|param|value|\n|-|-|\n{rows}"
        self.writer.add_text("hyperparameters", table, global_step=self._first_step)

    def scalars(self, metrics: dict[str, float], step: int, elapsed: bool = True) -> None:
        """Log each metric at ``step`` (positions seen), plus ``charts/elapsed_s`` unless
        ``elapsed`` is False (when the round's end logs it at the same step)."""
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, step)
        if elapsed:
            self.writer.add_scalar("charts/elapsed_s", self.elapsed, step)

    def flush(self) -> None:
        """Write what was logged to the event file now (before a checkpoint: a process
        killed after it must not lose the steps the checkpoint has passed)."""
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
