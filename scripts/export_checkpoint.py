"""Write a small, shippable copy of a checkpoint: the same network and metadata, without the
training state (optimiser, replay buffer, RNG) that only ``--resume`` needs.

    python -m scripts.export_checkpoint runs/<run>/best.pt checkpoints/connect4_stage1.pt
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from scripts.cli import parse, positional


@dataclass
class Args:
    """Copy a checkpoint without its training state."""

    source: str = positional("the checkpoint to export")
    target: str = positional("where to write the copy")


def main(argv: list[str] | None = None) -> None:
    args = parse(Args, argv)
    try:
        checkpoint = load_checkpoint(args.source)
    except CheckpointError as err:
        raise SystemExit(f"error: {err}") from None
    save_checkpoint(
        Path(args.target),
        checkpoint.model,
        stage=checkpoint.stage,
        step=checkpoint.step,
        args={**checkpoint.args, "exported_from": str(args.source)},
        metrics=checkpoint.metrics,
        seed=checkpoint.seed,
    )
    size = Path(args.target).stat().st_size
    print(f"wrote {args.target} ({size / 1024:.0f} KiB): {checkpoint.game}, {checkpoint.stage}")


if __name__ == "__main__":
    main()
