"""Training runs read back from their folders: TensorBoard scalars, arguments, checkpoints.

A run folder (``runs/{game}__{exp_name}__{seed}__{time}/``, see ``train/learn/tb.py``) holds the
event files, ``args.json`` and ``best.pt``/``latest.pt``. Every scalar is logged against
training positions seen, which stage 2 carries on from stage 1, and ``charts/elapsed_s``
(cumulative wall time) is logged at the same steps, so any curve can be drawn against data
or against compute.

Runs are told apart by their checkpoints' ``stage`` and their ``args.json``: an imitation
run is *stage 1*, a self-play run started from a checkpoint is *stage 2*, and one started
with ``--init scratch`` is *stage 2 from scratch* (AlphaZero's recipe: no teacher at all).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from models.checkpoint import load_checkpoint
from models.net import PolicyValueNet

#: Tag prefixes both stages log under the same names, so that their curves overlay.
SHARED_PREFIXES = ("losses/", "val/", "eval/", "selfplay/")
ELAPSED_TAG = "charts/elapsed_s"
#: A duel score ``.../score`` comes with its 95% interval, ``.../score_low`` to ``.../score_high``
#: (train/learn/evaluation.py).
INTERVAL_SUFFIXES = ("_low", "_high")
#: Run roles, in report order, and how reports name them.
ROLE_NAMES = {"stage1": "stage 1", "stage2": "stage 2", "scratch": "stage 2 from scratch"}


@dataclass(frozen=True)
class Scalars:
    """One tag's values: ``steps`` int64[N] (ascending, unique) and ``values`` float64[N]."""

    steps: np.ndarray
    values: np.ndarray

    @property
    def last(self) -> float:
        return float(self.values[-1])


def read_scalars(run_dir: str | Path) -> dict[str, Scalars]:
    """Every scalar tag in the event files of ``run_dir``.

    A resumed run logs again the steps between its last checkpoint and the crash. Its writer
    marks where it started (TensorBoard's purge step, train/learn/tb.py), and the
    accumulator drops what the interrupted process logged past it; runs written before that
    mark existed may still hold a step twice, and of those values the last written is kept.
    """
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})  # 0: keep them all
    events.Reload()
    out = {}
    for tag in events.Tags()["scalars"]:
        latest = {e.step: e.value for e in sorted(events.Scalars(tag), key=lambda e: e.wall_time)}
        steps = np.array(sorted(latest), dtype=np.int64)
        out[tag] = Scalars(steps, np.array([latest[s] for s in steps], dtype=np.float64))
    return out


@dataclass
class Run:
    """A training run folder, read back.

    Attributes:
        path: the run folder.
        role: ``"stage1"``, ``"stage2"`` or ``"scratch"`` (see the module docstring).
        game: the game's name.
        args: the run's arguments (``args.json``; empty if missing).
        scalars: its TensorBoard scalars by tag.
        checkpoint: the checkpoint the report plays (``best.pt`` or ``latest.pt``), or None.
        model: that checkpoint's network, or None.
        label: a short unique name for tables and legends.
    """

    path: Path
    role: str
    game: str
    args: dict
    scalars: dict[str, Scalars]
    checkpoint: Path | None = None
    model: PolicyValueNet | None = field(default=None, repr=False)
    label: str = ""

    @property
    def last_step(self) -> int:
        """Training positions seen at the run's last logged step (0 without scalars)."""
        return max((int(s.steps[-1]) for s in self.scalars.values()), default=0)

    def elapsed_at(self, steps: np.ndarray) -> np.ndarray:
        """float64[N]: cumulative training seconds at ``steps`` (``charts/elapsed_s``)."""
        elapsed = self.scalars.get(ELAPSED_TAG)
        if elapsed is None:
            return np.full(len(steps), np.nan)
        return np.interp(steps, elapsed.steps, elapsed.values)

    @property
    def parent(self) -> str | None:
        """The folder name of the run whose checkpoint a stage-2 run started from."""
        init = self.args.get("init")
        return Path(init).parent.name if self.role == "stage2" and init else None


def load_run(path: str | Path, which: str = "best") -> Run:
    """Read a run folder; ``which`` checkpoint to play (``best.pt`` falls back to ``latest``).

    Raises ``ValueError`` (with the reason) for a folder that is not a run.
    """
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"{path}: not a run folder")
    args_file = path / "args.json"
    args = json.loads(args_file.read_text()) if args_file.exists() else {}
    names = ("best.pt", "latest.pt") if which == "best" else ("latest.pt",)
    checkpoint = next((path / n for n in names if (path / n).exists()), None)
    model, stage, game = None, None, args.get("game")
    if checkpoint is not None:
        loaded = load_checkpoint(checkpoint)
        model, stage, game = loaded.model, loaded.stage, loaded.game
        args = args or loaded.args
    elif args:
        stage = "selfplay" if "init" in args else "imitation"
    scalars = read_scalars(path)
    if stage is None or game is None or not scalars:
        raise ValueError(f"{path}: not a training run (needs a checkpoint or args.json, and logs)")
    if stage == "imitation":
        role = "stage1"
    else:
        role = "scratch" if args.get("init") == "scratch" else "stage2"
    return Run(path, role, game, args, scalars, checkpoint, model)


def discover_runs(logdir: str | Path) -> list[Path]:
    """The run folders directly inside ``logdir`` (those holding TensorBoard event files)."""
    return sorted(
        p for p in Path(logdir).iterdir() if p.is_dir() and any(p.glob("events.out.tfevents*"))
    )


def label_runs(runs: list[Run]) -> list[Run]:
    """Sort runs by role and give each a short unique label (``"stage 2"``, ...)."""
    runs = sorted(runs, key=lambda r: (list(ROLE_NAMES).index(r.role), r.path.name))
    for run in runs:
        algo = run.args.get("algo")
        run.label = ROLE_NAMES[run.role] + (f" ({algo})" if algo not in (None, "alphazero") else "")
    labels = [r.label for r in runs]
    for run in runs:
        if labels.count(run.label) > 1:
            run.label = f"{run.label} [{run.path.name}]"
    return runs


def stage_boundaries(runs: Sequence[Run]) -> list[tuple[int, float]]:
    """(positions, seconds) at the end of each stage-1 run, where stage 2 takes over."""
    ends = []
    for run in runs:
        if run.role == "stage1":
            step = run.last_step
            ends.append((step, float(run.elapsed_at(np.array([step]))[0])))
    return ends


def shared_tags(runs: Sequence[Run]) -> list[str]:
    """The tags under :data:`SHARED_PREFIXES` that any of the runs logged, sorted; interval
    bounds (``.../score_low``, ``.../score_high``) left out, drawn with their tag instead."""
    tags = {t for r in runs for t in r.scalars if t.startswith(SHARED_PREFIXES)}
    return sorted(t for t in tags if interval_of(t) is None)


def interval_of(tag: str) -> str | None:
    """The tag whose 95% interval bound ``tag`` is (``eval/vs_expert/score_low`` ->
    ``eval/vs_expert/score``), or None for a tag that is no bound."""
    for suffix in INTERVAL_SUFFIXES:
        if tag.endswith(f"/score{suffix}"):
            return tag.removesuffix(suffix)
    return None
