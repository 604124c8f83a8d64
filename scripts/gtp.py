"""A Go checkpoint as a GTP engine, for Sabaki, GoGui, or a relay against another program.

python -m scripts.gtp --checkpoint runs/go7/best.pt              # the network alone
python -m scripts.gtp --checkpoint runs/go7/best.pt --sims 200   # the network inside MCTS

It speaks GTP version 2 on stdin and stdout (commands and rules: train/engine/gtp_engine.py)
and writes nothing else there; one line on stderr says it is ready.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

from scripts.cli import arg, parse, resolve_device, set_threads


@dataclass
class Args:
    """Play Go over the Go Text Protocol (GTP v2) on stdin and stdout."""

    checkpoint: str = arg(None, "the Go checkpoint that plays", required=True, metavar="PATH")
    sims: int = arg(0, "MCTS simulations per move (0: the network alone)")
    device: Literal["auto", "cpu", "cuda"] = arg("auto", "where the network runs")
    seed: int = arg(0, "seed of the search's random tie-breaks")
    threads: int = arg(1, "torch CPU threads")


def main(argv: list[str] | None = None) -> None:
    args = parse(Args, argv)
    set_threads(args.threads)
    from train.engine.gtp_engine import checkpoint_engine  # after --help: it imports torch

    try:
        engine = checkpoint_engine(
            args.checkpoint, sims=args.sims, device=resolve_device(args.device), seed=args.seed
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"{engine.version}: ready for GTP commands", file=sys.stderr, flush=True)
    # Bytes that are not UTF-8 must not end the engine: they become U+FFFD, and the command
    # holding them gets its "? unknown command" or "? syntax error".
    sys.stdin.reconfigure(errors="replace")
    try:
        for line in sys.stdin:
            response = engine.handle(line)
            if response:
                sys.stdout.write(response)
                sys.stdout.flush()  # the controller waits for each answer
            if engine.finished:
                break
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except BrokenPipeError:  # the controller went away
        sys.stderr.close()


if __name__ == "__main__":
    main()
