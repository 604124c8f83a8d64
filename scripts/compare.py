"""Compare training runs: curves of both stages, duels of their networks, search budgets.

python -m scripts.compare --logdir runs --out report            # every run folder in runs/
python -m scripts.compare --runs runs/A runs/B --out report     # these runs
python -m scripts.compare --logdir runs --out report --quick    # a rough report in a minute

Writes report/report.md (the verdicts: did stage 2 beat stage 1, did each network beat the
teacher, with 95% intervals), report/report.json and report/figures/*.png.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

import numpy as np

from envs import GAME_NAMES, get_profile
from scripts.cli import arg, parse, resolve_device, set_threads, writable_dir
from train.report.report import ReportConfig, build_report
from train.report.runs import Run, discover_runs, label_runs, load_run

QUICK = {"games": 20, "sims": (0, 16), "positions": 100, "thinking_games": 10}


@dataclass
class Args:
    """Compare training runs (stage 1, stage 2, stage 2 from scratch) and write a report."""

    runs: tuple[str, ...] = arg((), "run folders to compare")
    logdir: str | None = arg(None, "compare every run folder in this folder")
    game: str | None = arg(
        None,
        "keep only the runs of this game (for a --logdir holding both)",
        choices=GAME_NAMES,
    )
    out: str = arg("report", "folder for report.md, report.json and figures/")
    checkpoint: Literal["best", "latest"] = arg(
        "best", "which checkpoint of each run plays (best falls back to latest)"
    )
    games: int | None = arg(None, "games per duel of the round robin; None: 100 (--quick: 20)")
    sims: tuple[int, ...] = arg(
        (),
        "MCTS simulations per move along the thinking-time curve, 0 = the network alone; "
        "(): 0 16 64 256 for tic-tac-toe, 0 16 64 for Connect Four (--quick: 0 16)",
    )
    positions: int | None = arg(
        None,
        "solver-graded positions per budget; None: 500 tic-tac-toe, 200 Connect Four (Go: none)",
    )
    thinking_games: int | None = arg(
        None, "games against the teacher per budget; None: 40 tic-tac-toe, 20 Connect Four"
    )
    opening_moves: int = arg(
        2,
        "random plies opening each game, the same for both colours (so that deterministic "
        "players don't replay one game)",
    )
    quick: bool = arg(
        False, "a rough report in about a minute: 20 games per duel, 0 and 16 simulations"
    )
    seed: int = arg(0, "seed of the duels' openings and moves")
    threads: int = arg(1, "torch CPU threads")
    device: Literal["auto", "cpu", "cuda"] = arg("cpu", "where the networks run")


def main(argv: list[str] | None = None) -> None:
    args = parse(Args, argv)
    runs = label_runs(_load_runs(args))
    set_threads(args.threads)
    config = _config(args, runs[0].game)
    out = writable_dir(args.out)
    print(f"comparing {len(runs)} runs of {runs[0].game}:")
    for run in runs:
        print(f"  {run.label:28s} {run.path}  ({run.checkpoint.name if run.checkpoint else '-'})")
    started = time.perf_counter()
    try:
        summary = build_report(
            runs,
            out,
            config,
            np.random.default_rng(args.seed),
            log=lambda message: print(f"[{time.perf_counter() - started:4.0f}s] {message}"),
        )
    except ValueError as err:
        _fail(str(err))
    print(f"\n{out / 'report.md'} ({time.perf_counter() - started:.0f}s)")
    for v in summary["verdicts"]:
        print(f"  {v['question']} {v['answer'].replace('**', '')}")


def _load_runs(args: Args) -> list[Run]:
    """The runs named by --runs (each must load) and found in --logdir (broken ones skipped)."""
    named = [Path(p) for p in args.runs]
    found = []
    if args.logdir:
        if not Path(args.logdir).is_dir():
            _fail(f"--logdir {args.logdir}: no such folder")
        found = discover_runs(args.logdir)
    loaded: dict[Path, Run] = {}
    for path in named + found:
        if path.resolve() in loaded:
            continue
        try:
            loaded[path.resolve()] = load_run(path, args.checkpoint)
        except ValueError as err:  # includes CheckpointError
            if path in named:
                _fail(str(err))
            print(f"skipping {err}")  # e.g. a run stopped before its first checkpoint
    runs = [r for r in loaded.values() if args.game in (None, r.game)]
    games = sorted({r.game for r in runs})
    if not runs:
        _fail("no runs to compare: give --runs RUN_DIR... or --logdir DIR")
    if len(games) > 1:
        _fail(f"runs of {games}: compare one game at a time (--game)")
    return runs


def _config(args: Args, game: str) -> ReportConfig:
    """The measurements asked for: flags given, else --quick's, else the game's defaults."""
    report = get_profile(game).report_defaults  # e.g. tic-tac-toe affords 256 simulations
    defaults = {"games": 100, **report, **(QUICK if args.quick else {})}
    given = {
        "games": args.games,
        "sims": tuple(args.sims) or None,
        "positions": args.positions,
        "thinking_games": args.thinking_games,
    }
    chosen = {k: defaults[k] if v is None else v for k, v in given.items()}
    if get_profile(game).grader is None:
        chosen["positions"] = 0  # no solver (Go): the report grades by duels alone
    graded = chosen["positions"] or 1
    counts = (chosen["games"], chosen["thinking_games"], graded)
    if min(counts) < 1 or min(chosen["sims"]) < 0 or args.opening_moves < 0:
        _fail("--games, --thinking-games, --positions must be >= 1; --sims, --opening-moves >= 0")
    return ReportConfig(
        **chosen, opening_moves=args.opening_moves, device=resolve_device(args.device)
    )


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


if __name__ == "__main__":
    main()
