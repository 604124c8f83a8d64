"""Write a small, shippable copy of a checkpoint: the same network and metadata, without the
training state (optimiser, replay buffer, RNG) that only ``--resume`` needs.

    python -m scripts.export_checkpoint runs/<run>/best.pt checkpoints/connect4_stage1.pt

It never writes over its source (that would strip a run of what it needs to resume), and
writes over another existing file only with ``--force``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from scripts.cli import arg, parse, positional


@dataclass
class Args:
    """Copy a checkpoint without its training state."""

    source: str = positional("the checkpoint to export")
    target: str = positional("where to write the copy (a file name, not a folder)")
    force: bool = arg(False, "write over an existing target (never over the source)")


def main(argv: list[str] | None = None) -> None:
    args = parse(Args, argv)
    source, target = Path(args.source), Path(args.target)
    try:
        checkpoint = load_checkpoint(source)
    except CheckpointError as err:
        raise SystemExit(f"error: {err}") from None
    _check_target(source, target, args.force)
    try:
        save_checkpoint(
            target,
            checkpoint.model,
            stage=checkpoint.stage,
            step=checkpoint.step,
            args={**checkpoint.args, "exported_from": str(source)},
            metrics=checkpoint.metrics,
            seed=checkpoint.seed,
        )
    except OSError as err:
        raise SystemExit(f"error: cannot write {target} ({err.strerror or err})") from None
    size = target.stat().st_size
    print(f"wrote {target} ({size / 1024:.0f} KiB): {checkpoint.game}, {checkpoint.stage}")


def _check_target(source: Path, target: Path, force: bool) -> None:
    """Exit with one sentence unless ``target`` is a file name we may write."""
    if target.is_dir():
        example = target / source.name
        if example.exists() and os.path.samefile(source, example):
            example = target / f"{source.stem}_export{source.suffix}"
        raise SystemExit(f"error: {target} is a folder; give the copy's file name, e.g. {example}")
    if not target.exists():
        blocker = next((p for p in target.parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise SystemExit(f"error: cannot write {target}: {blocker} is a file, not a folder")
        return
    # samefile sees through symlinks, hard links and other spellings of one path.
    if os.path.samefile(source, target):
        raise SystemExit(
            f"error: {target} is the source itself; exporting over it would drop the training "
            "state its run needs to resume, so write the copy elsewhere"
        )
    if not force:
        raise SystemExit(f"error: {target} already exists; add --force to write over it")


if __name__ == "__main__":
    main()
