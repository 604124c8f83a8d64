"""TensorBoard logging shared by both stages, so their curves overlay.

Every scalar is logged against one global step: **training positions seen**, counted from
the start of stage 1 and carried on by stage 2 when it starts from a stage-1 checkpoint.
Wall time is logged as its own tag (``charts/elapsed_s``, also cumulative over stages), so
the report can draw any metric against compute as well as against data.
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
    """

    def __init__(self, run_dir: str | Path, elapsed_offset: float = 0.0) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.writer = SummaryWriter(str(self.run_dir))
        self._offset = elapsed_offset
        self._start = time.monotonic()

    @property
    def elapsed(self) -> float:
        """Seconds of training so far, earlier stages and runs included."""
        return self._offset + time.monotonic() - self._start

    def hyperparameters(self, args: Any) -> None:
        """Log the arguments as a markdown table (text tab) for later reading."""
        values = dataclasses.asdict(args) if dataclasses.is_dataclass(args) else dict(args)
        rows = "\n".join(f"|{key}|{value}|" for key, value in values.items())
        self.writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{rows}")

    def scalars(self, metrics: dict[str, float], step: int) -> None:
        """Log each metric at ``step`` (positions seen), plus ``charts/elapsed_s``."""
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, step)
        self.writer.add_scalar("charts/elapsed_s", self.elapsed, step)

    def close(self) -> None:
        self.writer.close()
