"""Experiments on the recipe: stage 1's data wall, strength against thinking time, what a
warm start saves stage 2, and how far each network size gets when taught perfect play.

python -m scripts.experiment data-wall      # stage 1 on 250..16,000 expert games, 1..64 epochs
python -m scripts.experiment thinking --checkpoints runs/<stage-2 run>/latest.pt
python -m scripts.experiment warm-vs-zero   # stage 2 from checkpoints/connect4_stage1.pt and zero
python -m scripts.experiment ceiling        # networks of several sizes taught perfect play
python -m scripts.experiment EXPERIMENT --quick   # tiny budgets: seconds (the smoke test's)
python -m scripts.experiment EXPERIMENT --help    # its flags

Each writes summary.md, results.json and figures to OUT/experiments/EXPERIMENT/ (OUT: --out,
default report, the folder scripts/compare.py writes) and links them from
OUT/experiments/index.md; its training runs go under --run-dir.
The same command and seed give the same numbers and figures; only wall times vary.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

from envs import CONNECT4, GAME_NAMES, Game, get_game, get_profile
from envs.experts import make_expert
from models.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from models.net import NetConfig, default_config
from scripts.cli import arg, build_parser, resolve_device, set_threads, writable_dir
from train.arena.strength import StrengthConfig, solver_positions
from train.experiments.ceiling import CeilingConfig, ceiling, write_ceiling
from train.experiments.data_wall import DataWallConfig, data_wall, write_data_wall
from train.experiments.ideal_labels import DEFAULT_SOURCES, LabelConfig, cached_labels
from train.experiments.thinking_time import thinking, write_thinking
from train.experiments.warm_vs_zero import measure_runs, warm_vs_zero, write_warm_vs_zero
from train.experiments.yardstick import Yardstick
from train.learn.alphazero import SelfPlayConfig
from train.learn.expert_games import GenerationConfig
from train.learn.imitation import ImitationConfig
from train.search.evaluators import FAST_CACHE_SIZE, RuntimeFlag, resolve_runtime


@dataclass
class Common:
    """Flags every experiment takes."""

    out: str = arg("report", "the report folder; writes OUT/experiments/EXPERIMENT/")
    games: int = arg(100, "games against the teacher per measured point, half with each colour")
    positions: int | None = arg(
        None,
        "solver-graded positions per point, drawn with the seed; None: all of the game's "
        "(Connect Four's 1,200-position benchmark set, tic-tac-toe's 4,520 positions)",
    )
    opening_moves: int | None = arg(
        None, "random plies opening each duel game, the same for both colours (None: 2, or 0 "
        "for tic-tac-toe)"
    )  # fmt: skip
    quick: bool = arg(False, "tiny budgets, done in seconds (flags given still apply)")
    seed: int = arg(0, "seed of the expert games, initial weights, training and measurements")
    threads: int = arg(1, "torch CPU threads")
    device: Literal["auto", "cpu", "cuda"] = arg("cpu", "where the networks train and play")


@dataclass
class DataWallArgs(Common):
    """Stage 1 with more expert games, then with more epochs: where do returns flatten?"""

    game: str = arg("connect4", "the game", choices=GAME_NAMES)
    sizes: tuple[int, ...] = arg(
        DataWallConfig.sizes, "training games of the size sweep (each set a prefix of the next)"
    )
    epochs: int = arg(DataWallConfig.epochs, "epochs of every run of the size sweep")
    epoch_games: int = arg(DataWallConfig.epoch_games, "training games of the epoch sweep")
    epoch_counts: tuple[int, ...] = arg(
        DataWallConfig.epoch_counts, "epochs of the epoch sweep, each its own run"
    )
    val_games: int = arg(DataWallConfig.val_games, "held-out expert games, shared by all runs")
    depth: int | None = arg(None, "Connect Four expert depth (None: the expert's default)")
    temperature: float | None = arg(
        None, "expert softmax temperature (None: as train_imitation, 0.5 / 0 for tic-tac-toe)"
    )
    random_opening: int | None = arg(
        None, "random plies opening each expert game (None: as train_imitation, 2 / 6)"
    )
    batch_size: int = arg(ImitationConfig.batch_size, "SGD batch size")
    lr: float = arg(ImitationConfig.lr, "peak AdamW learning rate (warm-up, then cosine decay)")
    workers: int = arg(1, "processes generating the expert games")
    cache_dir: str = arg("data/cache", "where expert games are cached")
    run_dir: str = arg("runs/experiments", "parent folder of the training runs")


@dataclass
class ThinkingArgs(Common):
    """Strength against MCTS simulations per move, beside the expert's own depth sweep."""

    positions: int | None = arg(
        400, "solver-graded positions per point (more than the game has: all)"
    )
    stage1: str = arg("checkpoints/connect4_stage1.pt", "the stage-1 checkpoint")
    checkpoints: tuple[str, ...] = arg((), "more checkpoints of the game (e.g. a stage-2 run's)")
    sims: tuple[int, ...] = arg((0, 4, 16, 64, 256, 1024), "MCTS simulations per move (0: alone)")
    depths: tuple[int, ...] = arg(
        (1, 3, 5, 7), "expert depths to measure too (Connect Four; tic-tac-toe's has no depth)"
    )


@dataclass
class WarmVsZeroArgs(Common):
    """Stage 2 from the stage-1 checkpoint and from scratch: how much compute does it save?"""

    stage1: str = arg(
        "checkpoints/connect4_stage1.pt",
        "the warm start; its step and metrics' elapsed_s count as stage 1's cost",
    )
    game: str | None = arg(
        None,
        "the game, checked against the checkpoint's (None: the checkpoint's)",
        choices=GAME_NAMES,
    )
    iterations: int | None = arg(None, "self-play iterations of each run (None: stage 2's)")
    eval_every: int = arg(4, "measure every N iterations (and before the first, after the last)")
    games_per_iteration: int | None = arg(
        None, "self-play games per iteration (None: stage 2's default for the game)"
    )
    simulations: int = arg(SelfPlayConfig.simulations, "MCTS simulations per self-play move")
    buffer_size: int = arg(SelfPlayConfig.buffer_size, "replay buffer capacity, in positions")
    sample_reuse: float | None = arg(
        None, "SGD samples per new position (None: stage 2's default for the game)"
    )
    lr: float = arg(SelfPlayConfig.lr, "AdamW learning rate")
    workers: int = arg(2, "processes playing the self-play games (CPU), as train_selfplay's")
    runtime: RuntimeFlag = arg(
        "auto", "what runs the network in self-play, as train_selfplay's (auto: onnxruntime "
        "on a CPU, torch on a GPU)"
    )  # fmt: skip
    eval_cache: int = arg(FAST_CACHE_SIZE, "positions each self-play evaluator remembers")
    run_dir: str = arg("runs/experiments", "parent folder of the training runs")
    from_runs: tuple[str, ...] = arg(
        (), "WARM SCRATCH: two run folders that train_selfplay trained already (--init STAGE1; "
        "--init scratch; the same flags otherwise, e.g. --time-budget 58): measure their "
        "snapshots at multiples of --eval-every and their latest.pt instead of training "
        "(the training flags above then do nothing)"
    )  # fmt: skip


@dataclass
class CeilingArgs(Common):
    """Connect Four networks of several sizes taught perfect play, each measured alone."""

    games: int = arg(400, "games against the teacher per network, half with each colour")
    opening_moves: int | None = arg(
        4, "random plies opening each duel game, both colours alike (the README's duels')"
    )
    sizes: tuple[str, ...] = arg(
        ("4x32", "6x64"),
        "network sizes, BLOCKSxCHANNELS (the value head keeps the default's width)",
    )
    labelled: int = arg(LabelConfig.positions, "positions labelled by the solver, in all")
    opening_labelled: int = arg(
        LabelConfig.opening_positions,
        "of them, positions of 14 stones or fewer (about a second each to solve)",
    )
    sources: tuple[str, ...] = arg(DEFAULT_SOURCES, "player specs whose games give the positions")
    min_ply: int = arg(LabelConfig.min_ply, "fewest stones of a labelled position")
    epochs: int = arg(CeilingConfig.epochs, "epochs of every training run")
    val_fraction: float = arg(CeilingConfig.val_fraction, "share of the games held out")
    batch_size: int = arg(ImitationConfig.batch_size, "SGD batch size")
    lr: float = arg(ImitationConfig.lr, "peak AdamW learning rate (warm-up, then cosine decay)")
    checkpoints: tuple[str, ...] = arg(
        ("checkpoints/connect4_stage1.pt", "checkpoints/connect4_stage2.pt"),
        "shipped checkpoints measured the same way",
    )
    run_dir: str = arg("runs/experiments", "parent folder of the training runs")


#: What --quick changes, for the flags left at their defaults.
QUICK = {
    "data-wall": {
        **{"sizes": (20, 40, 80), "epochs": 1, "epoch_games": 40, "epoch_counts": (1, 2)},
        **{"val_games": 20, "games": 6, "positions": 60},
    },
    "thinking": {"sims": (0, 4), "depths": (1, 3), "positions": 40, "games": 4},
    "ceiling": {
        **{"sizes": ("1x8", "2x8"), "labelled": 300, "opening_labelled": 0, "min_ply": 14},
        **{"epochs": 1, "games": 4, "positions": 60},
    },
    "warm-vs-zero": {
        **{"iterations": 2, "eval_every": 1, "games_per_iteration": 4, "simulations": 4},
        **{"positions": 60, "games": 4, "workers": 1},
    },
}


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        usage = f"usage: python -m scripts.experiment {{{','.join(EXPERIMENTS)}}} [-h] [FLAGS ...]"
        print(f"{usage}\n\n{__doc__.strip()}", file=sys.stdout if argv else sys.stderr)
        raise SystemExit(0 if argv else 2)
    name, rest = argv[0], argv[1:]
    if name not in EXPERIMENTS:
        _fail(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    cls, run = EXPERIMENTS[name]
    parser = build_parser(cls)
    parser.prog = f"python -m scripts.experiment {name}"
    args = _quick(cls(**vars(parser.parse_args(rest))), QUICK[name])
    if args.games < 1 or (args.positions or 1) < 1 or (args.opening_moves or 0) < 0:
        _fail("--games and --positions must be >= 1, --opening-moves >= 0")
    set_threads(args.threads)
    command = f"python -m scripts.experiment {name} {shlex.join(rest)}".strip()
    summary = run(args, command)
    index = _write_index(summary.parent.parent)
    print(f"\nwrote {summary}, {summary.parent / 'results.json'} and the figures beside them")
    print(f"every experiment in this report so far: {index}")


def _data_wall(args: DataWallArgs, command: str) -> Path:
    defaults = get_profile(args.game).imitation_defaults  # as train_imitation's
    try:
        data = GenerationConfig(
            game=args.game,
            games=1,  # set by the experiment
            depth=args.depth,
            temperature=_default(args.temperature, defaults["temperature"]),
            random_opening=_default(args.random_opening, defaults["random_opening"]),
            seed=args.seed,
        )
        config = DataWallConfig(
            data,
            default_config(args.game),
            sizes=tuple(sorted(set(args.sizes))),
            epochs=args.epochs,
            epoch_games=args.epoch_games,
            epoch_counts=tuple(sorted(set(args.epoch_counts))),
            val_games=args.val_games,
            imitation=ImitationConfig(batch_size=args.batch_size, lr=args.lr),
        )
    except ValueError as err:
        _fail(str(err))
    if args.workers < 1:
        _fail("--workers must be >= 1")
    device = resolve_device(args.device)
    yardstick = _yardstick(args, get_game(args.game))
    folder, runs = _output(args, "data-wall"), writable_dir(args.run_dir)
    print(f"data wall on {args.game}: {len(config.plan())} stage-1 runs -> {runs}")
    rows = data_wall(
        config,
        yardstick,
        run_dir=runs,
        cache_dir=Path(args.cache_dir),
        workers=args.workers,
        device=device,
    )
    return write_data_wall(folder, rows, config, yardstick, command)


def _thinking(args: ThinkingArgs, command: str) -> Path:
    paths = list(dict.fromkeys([args.stage1, *args.checkpoints]))
    checkpoints = {label: _load(path, None) for label, path in _labels(paths).items()}
    games = {c.game for c in checkpoints.values()}
    if len(games) > 1:
        _fail(f"the checkpoints are of different games: {sorted(games)}")
    game = get_game(games.pop())
    if min(args.sims) < 0:
        _fail("--sims must be >= 0")
    depths = args.depths if game.name == "connect4" else ()
    for depth in depths:
        try:
            make_expert(game, depth=depth)
        except ValueError as err:
            _fail(f"--depths: {err}")
    device = resolve_device(args.device)
    yardstick = _yardstick(args, game)
    folder = _output(args, "thinking")
    networks = {label: c.model.to(device) for label, c in checkpoints.items()}
    print(f"thinking time on {game.name}: {', '.join(networks)} at {list(args.sims)} simulations")
    rows = thinking(yardstick, networks, args.sims, depths, device)
    sources = {label: str(c.path) for label, c in checkpoints.items()}
    return write_thinking(folder, rows, yardstick, command, sources)


def _warm_vs_zero(args: WarmVsZeroArgs, command: str) -> Path:
    stage1 = _load(args.stage1, args.game)
    if "elapsed_s" not in stage1.metrics:
        _fail(f"{args.stage1}: its metrics hold no elapsed_s, so stage 1's cost is unknown")
    if (args.iterations is not None and args.iterations < 1) or args.eval_every < 1:
        _fail("--iterations and --eval-every must be >= 1")
    game = get_game(stage1.game)
    device = resolve_device(args.device)
    given = {
        "iterations": args.iterations,
        "games_per_iteration": args.games_per_iteration,
        "sample_reuse": args.sample_reuse,
    }
    config = SelfPlayConfig.for_game(
        game.name,
        **{k: v for k, v in given.items() if v is not None},
        simulations=args.simulations,
        buffer_size=args.buffer_size,
        lr=args.lr,
        workers=args.workers if device == "cpu" else 1,
        runtime=resolve_runtime(args.runtime, device),
        eval_cache=args.eval_cache,
    )
    yardstick = _yardstick(args, game)
    if args.from_runs:
        return _warm_vs_zero_of_runs(args, stage1, yardstick, device, command)
    folder, runs = _output(args, "warm-vs-zero"), writable_dir(args.run_dir)
    print(f"stage 2 on {game.name}, {config.iterations} iterations, warm then scratch -> {runs}")
    rows = warm_vs_zero(
        stage1, config, yardstick, eval_every=args.eval_every, run_dir=runs, device=device
    )
    return write_warm_vs_zero(folder, rows, yardstick, command, args.stage1)


def _warm_vs_zero_of_runs(
    args: WarmVsZeroArgs, stage1: Checkpoint, yardstick: Yardstick, device: str, command: str
) -> Path:
    if len(args.from_runs) != 2:
        _fail("--from-runs takes two run folders: WARM SCRATCH")
    warm, scratch = (Path(p) for p in args.from_runs)
    for run in (warm, scratch):
        if not (run / "latest.pt").is_file():
            _fail(f"{run}: no latest.pt there; give train_selfplay's run folders")
    print(f"measuring the snapshots of {warm} (warm) and {scratch} (scratch)")
    try:
        rows = measure_runs(
            stage1, warm, scratch, yardstick, eval_every=args.eval_every, device=device
        )
    except CheckpointError as err:
        _fail(str(err))
    note = (
        f"Both trained already by `scripts.train_selfplay` (`{warm.name}`, `{scratch.name}`), "
        f"measured here on their snapshots every {args.eval_every} iterations and their last "
        "network; wall time is each checkpoint's own record, so it counts the runs' "
        "in-training evaluations, alike for both."
    )
    folder = _output(args, "warm-vs-zero")
    return write_warm_vs_zero(folder, rows, yardstick, command, args.stage1, note)


def _ceiling(args: CeilingArgs, command: str) -> Path:
    default = default_config(CONNECT4.name)
    try:
        nets = tuple(
            NetConfig(CONNECT4.name, *_size(text), default.value_hidden) for text in args.sizes
        )
        labelling = LabelConfig(
            positions=args.labelled,
            opening_positions=args.opening_labelled,
            sources=args.sources,
            min_ply=args.min_ply,
            seed=args.seed,
        )
        config = CeilingConfig(
            labelling,
            nets,
            epochs=args.epochs,
            val_fraction=args.val_fraction,
            imitation=ImitationConfig(batch_size=args.batch_size, lr=args.lr),
        )
    except ValueError as err:
        _fail(str(err))
    shipped = {
        label: _load(path, CONNECT4.name) for label, path in _labels(args.checkpoints).items()
    }
    device = resolve_device(args.device)
    yardstick = _yardstick(args, CONNECT4)
    folder, runs = _output(args, "ceiling"), writable_dir(args.run_dir)
    # Never train on a position any run may be graded on: all of them, whatever --positions.
    graded = solver_positions(CONNECT4).positions
    labels, cache = cached_labels(labelling, folder, exclude=graded)
    print(f"{len(labels):,} labelled positions ({cache}); training {', '.join(args.sizes)}")
    rows = ceiling(config, labels, yardstick, shipped, run_dir=runs, device=device)
    return write_ceiling(folder, rows, config, labels, yardstick, command)


def _size(text: str) -> tuple[int, int]:
    """``(blocks, channels)`` of a size written ``BLOCKSxCHANNELS``."""
    blocks, x, channels = text.partition("x")
    if not x or not blocks.isdigit() or not channels.isdigit():
        raise ValueError(f"a network size is BLOCKSxCHANNELS, e.g. 4x32, not {text!r}")
    return int(blocks), int(channels)


#: Each experiment's flags, and what runs it (returning the path of its summary.md).
EXPERIMENTS: dict[str, tuple[type, Callable[..., Path]]] = {
    "data-wall": (DataWallArgs, _data_wall),
    "thinking": (ThinkingArgs, _thinking),
    "warm-vs-zero": (WarmVsZeroArgs, _warm_vs_zero),
    "ceiling": (CeilingArgs, _ceiling),
}


def _quick(args: Common, quick: dict) -> Common:
    """``args`` with --quick's values for the flags left at their defaults."""
    if not args.quick:
        return args
    defaults = {f.name: f.default for f in dataclasses.fields(args)}
    chosen = {k: v for k, v in quick.items() if getattr(args, k) == defaults[k]}
    return dataclasses.replace(args, **chosen)


def _output(args: Common, name: str) -> Path:
    """The experiment's folder in the report, created once its inputs are known to be good."""
    return writable_dir(Path(args.out) / "experiments" / name)


def _write_index(experiments: Path) -> Path:
    """``experiments/index.md``: a link to each experiment's summary in the report so far."""
    lines = ["# Experiments", ""]
    for summary in sorted(experiments.glob("*/summary.md")):
        title = summary.read_text().partition("\n")[0].removeprefix("# ")
        lines.append(f"- [{title}]({summary.parent.name}/summary.md)")
    (experiments / "index.md").write_text("\n".join(lines) + "\n")
    return experiments / "index.md"


def _yardstick(args: Common, game: Game) -> Yardstick:
    opening = _default(args.opening_moves, StrengthConfig.for_game(game.name).opening_moves)
    return Yardstick.build(game, args.positions, args.games, opening, args.seed)


def _default(value, default):
    return default if value is None else value


def _labels(paths: list[str]) -> dict[str, str]:
    """A short label per checkpoint path: its file name, with its folder where names clash."""
    stems = [Path(p).stem for p in paths]
    return {
        (stem if stems.count(stem) == 1 else f"{Path(p).parent.name}/{stem}"): p
        for stem, p in zip(stems, paths, strict=True)
    }


def _load(path: str, game: str | None) -> Checkpoint:
    try:
        return load_checkpoint(path, game=game)
    except CheckpointError as err:
        _fail(str(err))


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


if __name__ == "__main__":
    main()
