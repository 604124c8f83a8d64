"""The warm-start experiment: stage 2 (AlphaZero) from the stage-1 network and from scratch,
same settings and seed, against compute: how much does imitating the teacher first save?

:func:`warm_vs_zero` runs both and measures them as they go; :func:`write_warm_vs_zero` draws
the curves and writes how much compute the warm start saved (``train.experiments.findings``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import torch

from models.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from models.net import PolicyValueNet
from train.arena.tournament import network_player
from train.experiments.findings import INTERVALS, METRIC_NAMES, compute_saved, with_interval
from train.experiments.plots import plot_warm_vs_zero
from train.experiments.summary import STRENGTH_HEADER, strength_cells, write_summary
from train.experiments.yardstick import Yardstick, seeded_net
from train.learn.alphazero import SelfPlayConfig, run_selfplay
from train.learn.tb import RunLogger, run_name
from train.report.markdown import markdown_table
from train.report.runs import read_scalars

#: The TensorBoard tag under which stage 2's evaluations log the training seconds so far
#: (the warm run's counting stage 1's), evaluations excluded.
COMPUTE_TAG = "experiment/compute_s"


#: The two measures of compute, by row key.
AXES = {"wall_s": "wall time", "positions_trained": "positions trained"}


def warm_vs_zero(
    stage1: Checkpoint,
    config: SelfPlayConfig,
    yardstick: Yardstick,
    *,
    eval_every: int,
    run_dir: Path,
    device: str = "cpu",
) -> list[dict]:
    """Stage 2 twice with ``config`` and one seed: from ``stage1``'s network, and from a
    fresh network of the same size.

    Rows hold ``run`` (``"warm"`` or ``"scratch"``), ``iteration`` (0: before self-play),
    ``positions_trained`` and ``wall_s`` (cumulative, the warm run's counting stage 1's, i.e.
    the checkpoint's step and ``elapsed_s``; evaluations excluded) and the yardstick's
    measurements.
    """
    # Each run's --init (as train_selfplay records it, so that compare.py tells the runs
    # apart), first network, and the positions and seconds spent before its stage 2.
    starts = {
        "warm": (str(stage1.path), stage1.model, stage1.step, stage1.metrics["elapsed_s"]),
        "scratch": ("scratch", seeded_net(stage1.config, yardstick.seed), 0, 0.0),
    }
    rows = []
    for label, (init, model, positions, seconds) in starts.items():
        name = run_name(yardstick.game.name, f"warm-vs-zero-{label}", yardstick.seed)
        args = {"experiment": "warm-vs-zero", "game": yardstick.game.name, "init": init}
        run = _SelfPlayRun(Path(run_dir) / name, args, positions, float(seconds))
        rows += _selfplay_curve(label, run, model.to(device), config, yardstick, eval_every)
    return rows


@dataclass(frozen=True)
class _SelfPlayRun:
    """Where a stage-2 run writes, what it records as its arguments, and where it starts."""

    folder: Path
    args: dict
    positions: int
    seconds: float


def _selfplay_curve(
    label: str,
    run: _SelfPlayRun,
    model: PolicyValueNet,
    config: SelfPlayConfig,
    yardstick: Yardstick,
    eval_every: int,
) -> list[dict]:
    """One stage-2 run, measured before it starts and every ``eval_every`` iterations."""
    game, device = yardstick.game, str(next(model.parameters()).device)

    def measure(net: PolicyValueNet) -> dict:
        return yardstick.measure(network_player(game, net, 0, device))

    positions, seconds = run.positions, run.seconds
    first = {"run": label, "iteration": 0, "positions_trained": positions, "wall_s": seconds}
    first.update(measure(model))
    # Like train_selfplay's, the run's clock carries on from stage 1's (for compare.py).
    logger = RunLogger(run.folder, elapsed_offset=seconds)
    measured: list[tuple[float, dict]] = []  # (compute so far, measurements) per evaluation
    evaluating = [0.0]  # seconds spent measuring so far: not compute of the run

    def evaluate(net: PolicyValueNet) -> dict[str, float]:
        compute = logger.elapsed - evaluating[0]
        started = time.perf_counter()
        row = measure(net)
        evaluating[0] += time.perf_counter() - started
        measured.append((compute, row))
        return {
            COMPUTE_TAG: compute,
            "eval/solver/optimal_move_rate": row["optimal_move_rate"],
            "eval/vs_expert/score": row["score"],
        }

    run_selfplay(
        game,
        model,
        config,
        device=torch.device(device),
        logger=logger,
        checkpoint_dir=run.folder,
        seed=yardstick.seed,
        args=run.args,
        start_positions=positions,
        evaluate=evaluate,
        eval_every=eval_every,
    )
    logger.close()
    # The loop logs each evaluation at its step, training positions seen: read them back.
    steps = read_scalars(run.folder)[COMPUTE_TAG].steps
    due = [i for i in range(1, config.iterations + 1) if i % eval_every == 0]
    due += [config.iterations] if config.iterations % eval_every else []
    return [first] + [
        {"run": label, "iteration": it, "positions_trained": int(step), "wall_s": wall, **row}
        for it, step, (wall, row) in zip(due, steps, measured, strict=True)
    ]


def measure_runs(
    stage1: Checkpoint,
    warm_run: Path,
    scratch_run: Path,
    yardstick: Yardstick,
    *,
    eval_every: int,
    device: str = "cpu",
) -> list[dict]:
    """The rows of :func:`warm_vs_zero` for two stage-2 runs that ``train_selfplay`` trained
    already, ``warm_run`` from ``stage1`` and ``scratch_run`` with ``--init scratch``, the
    same settings otherwise.

    Each is measured before it started (``stage1``'s network; the fresh network that
    ``--init scratch`` drew from the run's seed) and on its snapshots ``iteration_NNNN.pt``
    whose iteration is a multiple of ``eval_every``, then on its ``latest.pt``. Positions and
    wall time are each checkpoint's own record (``step``, ``metrics["elapsed_s"]``), so the
    wall time here counts the runs' in-training evaluations, alike for both.

    Raises:
        CheckpointError: a run that is not such a run (another game, network or start).
    """
    game, rows = yardstick.game, []
    for label, folder in (("warm", Path(warm_run)), ("scratch", Path(scratch_run))):
        latest = load_checkpoint(folder / "latest.pt", game=game.name)
        if latest.config != stage1.config:
            raise CheckpointError(f"{folder}: its network is not the size of {stage1.path}'s")
        init = str(latest.args.get("init"))
        if label == "warm":
            if Path(init).resolve() != Path(stage1.path).resolve():
                raise CheckpointError(f"{folder}: not a run with --init {stage1.path}")
            first, positions, seconds = stage1.model, stage1.step, stage1.metrics["elapsed_s"]
        else:
            if init != "scratch":
                raise CheckpointError(f"{folder}: not a run with --init scratch")
            first, positions, seconds = seeded_net(stage1.config, latest.args["seed"]), 0, 0.0
        points = [(0, positions, float(seconds), first)]
        for checkpoint in _snapshots(folder, eval_every, game.name) + [latest]:
            iteration = int(checkpoint.metrics["iteration"])
            if iteration > points[-1][0]:
                wall = float(checkpoint.metrics["elapsed_s"])
                points.append((iteration, checkpoint.step, wall, checkpoint.model))
        for iteration, positions, wall, net in points:
            player = network_player(game, net.to(device), 0, device)
            measured = {"iteration": iteration, "positions_trained": positions, "wall_s": wall}
            rows.append({"run": label, **measured, **yardstick.measure(player)})
    return rows


def _snapshots(folder: Path, every: int, game: str) -> list[Checkpoint]:
    """The run's ``iteration_NNNN.pt`` whose NNNN is a multiple of ``every``, in order."""
    found = sorted(folder.glob("iteration_*.pt"))
    due = [p for p in found if int(p.stem.removeprefix("iteration_")) % every == 0]
    return [load_checkpoint(p, game=game) for p in due]


def write_warm_vs_zero(
    folder: Path,
    rows: list[dict],
    yardstick: Yardstick,
    command: str,
    stage1: str,
    wall_note: str = "Wall time excludes the evaluations.",
) -> Path:
    """Figures, findings and files of :func:`warm_vs_zero` (or :func:`measure_runs`, whose
    ``wall_note`` says what its wall time counts)."""
    plot_warm_vs_zero(rows, folder / "warm_vs_zero.png")
    warm = [r for r in rows if r["run"] == "warm"]
    scratch = [r for r in rows if r["run"] == "scratch"]
    targets = {"the from-scratch run's final": scratch[-1], "the stage-1 network's": warm[0]}
    analyses = []
    for key, (name, reference), axis in product(METRIC_NAMES, targets.items(), AXES):
        curves = [([r[axis] for r in run], [r[key] for r in run]) for run in (warm, scratch)]
        band = tuple([r[INTERVALS[key]][end] for r in scratch] for end in (0, 1))
        saved = compute_saved(*curves, reference[key], scratch_band=band)
        analyses.append({"metric": key, "target_of": name, "axis": axis, **saved})
    start = warm[0]
    # A run of its own (measure_runs) may stop at another iteration than the warm one.
    ends = [run[-1]["iteration"] for run in (warm, scratch)]
    done = f"{ends[0]} iteration{'s' * (ends[0] != 1)} of stage 2 each"
    if ends[0] != ends[1]:
        done = f"stage 2 (warm {ends[0]} iterations, scratch {ends[1]})"
    findings = [
        f"Stage 1's cost, where the warm curve starts: {start['positions_trained']:,} training "
        f"positions and {_seconds(start['wall_s'])} of training (the checkpoint's own record, "
        "timed on the machine that trained it; generating its expert games not counted).",
        f"After {done}: warm "
        f"{with_interval(warm[-1], 'optimal_move_rate')} optimal moves, score "
        f"{with_interval(warm[-1], 'score')}; from scratch "
        f"{with_interval(scratch[-1], 'optimal_move_rate')}, "
        f"score {with_interval(scratch[-1], 'score')}.",
        *(_saved_sentence(analyses, key, name) for key in METRIC_NAMES for name in targets),
    ]
    sections = [
        "## Strength against compute",
        "![warm start against zero](warm_vs_zero.png)",
        markdown_table(
            ["run", "iteration", "positions trained", "wall s", *STRENGTH_HEADER, "record"],
            [
                [r["run"], r["iteration"], f"{r['positions_trained']:,}", f"{r['wall_s']:.0f}"]
                + strength_cells(r)[:4]
                for r in rows
            ],
        ),
        "## Compute to reach a strength",
        "Where each curve first reaches the target, linear between measured points (from the "
        "point estimates; their intervals are in the table above).",
        markdown_table(
            ["strength", "target", "compute", "warm start", "from scratch", "the warm start"],
            [
                [f"{a['target_of']} {METRIC_NAMES[a['metric']]}", f"{a['target']:.3f}"]
                + [AXES[a["axis"]], _amount(a["warm"], a["axis"])]
                + [_amount(a["scratch"], a["axis"]), _saving(a)]
                for a in analyses
            ],
        ),
    ]
    intro = (
        f"Stage 2 (AlphaZero) twice with the same settings and seed: from `{stage1}` (warm) and "
        f"from a fresh network of the same size (scratch). {wall_note}"
    )
    return write_summary(
        folder,
        f"Warm start against zero: {yardstick.game.name}",
        intro,
        findings,
        sections,
        {"stage1": stage1, "rows": rows, "compute_saved": analyses},
        yardstick,
        command,
    )


def _saved_sentence(analyses: list[dict], key: str, target_of: str) -> str:
    by_axis = {a["axis"]: a for a in analyses if (a["metric"], a["target_of"]) == (key, target_of)}
    wall, data = by_axis["wall_s"], by_axis["positions_trained"]

    def needed(run: str) -> str:
        if wall[run] is None:
            return "never got there"
        return f"{_amount(wall[run], 'wall_s')} and {_amount(data[run], 'positions_trained')}"

    return (
        f"To reach {target_of} {METRIC_NAMES[key]} ({wall['target']:.3f}) the warm start needed "
        f"{needed('warm')}, the run from scratch {needed('scratch')}: in wall time the warm "
        f"start {_saving(wall)}; in positions trained it {_saving(data)}."
    )


def _seconds(s: float) -> str:
    return f"{s / 60:.1f} min" if s > 600 else f"{s:.0f} s"


def _amount(x: float | None, axis: str) -> str:
    if x is None:
        return "never"
    return _seconds(x) if axis == "wall_s" else f"{x:,.0f} positions"


def _saving(a: dict) -> str:
    """What the warm start saves on one axis, in words (see :func:`compute_saved`)."""
    axis = a["axis"]
    if a["warm"] is None:
        return "never gets there"
    if a["scratch"] is None:
        if a["saved_at_least"] is None:
            budget, warm = _amount(a["budget"], axis), _amount(a["warm"], axis)
            return f"can't be told: scratch stopped at {budget}, short of the warm start's {warm}"
        return f"saves at least {_amount(a['saved_at_least'], axis)}"
    if a["saved"] < 0:
        return f"costs {_amount(-a['saved'], axis)} more{_spread(a)}"
    ratio = f", {a['ratio']:.2f}x less" if a["ratio"] else ""
    return f"saves {_amount(a['saved'], axis)}{ratio}{_spread(a)}"


def _spread(a: dict) -> str:
    """Scratch's compute over the warm start's, from where the upper ends of scratch's 95%
    intervals reach the target to where the lower ends do."""
    if not a.get("ratio_range") or a["ratio_range"][0] is None:
        return ""
    early, late = a["ratio_range"]
    upto = f"{late:.2f}x" if late is not None else "beyond its budget"
    return f" (scratch's 95% intervals: from {early:.2f}x to {upto})"
