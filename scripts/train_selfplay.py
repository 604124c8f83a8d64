"""Stage 2: improve a network by self-play, starting from a stage-1 checkpoint or from scratch.

python -m scripts.train_selfplay --init runs/<stage-1 run>/best.pt
python -m scripts.train_selfplay --init scratch --game tictactoe
python -m scripts.train_selfplay --resume runs/<stage-2 run>
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from envs import GAME_NAMES, get_game, get_profile
from models.checkpoint import CheckpointError, load_checkpoint
from models.net import PolicyValueNet, default_config
from scripts.cli import (
    arg,
    merge_resumed,
    parse,
    resolve_device,
    resumable,
    run_main,
    set_threads,
    writable_dir,
)
from train.arena.strength import StrengthConfig
from train.learn.alphazero import SelfPlayConfig, run_selfplay
from train.learn.driver import IterationProgress, Resumed, first_checkpoint, resume_run
from train.learn.evaluation import Evaluation
from train.learn.tb import RunLogger, run_name
from train.search.evaluators import FAST_CACHE_SIZE, RuntimeFlag, resolve_runtime
from train.search.puct import SEARCH_FLAGS, MCTSConfig, SearchKind, config_from_flags
from train.search.targets import PolicyTarget


@dataclass
class Args:
    """Stage 2 of apprentice: self-play reinforcement learning (AlphaZero, or REINFORCE)."""

    init: str | None = arg(None, "a stage-1 checkpoint to start from, or 'scratch'")
    game: str | None = arg(
        None,
        "the game (required with --init scratch; else taken from the checkpoint)",
        choices=GAME_NAMES,
    )
    algo: Literal["alphazero", "reinforce"] = arg(
        "alphazero", "alphazero: MCTS self-play; reinforce: AlphaGo-2016 policy gradient"
    )
    iterations: int | None = arg(
        None, "self-play iterations (games, then training, then evaluation); default per game"
    )
    time_budget: float = arg(
        0.0, "alphazero: end the run after the iteration that spends this many minutes of "
        "stage 2, the learning rate decaying over them (--iterations then only a cap); for "
        "comparing recipes at the same cost (0: no budget)"
    )  # fmt: skip
    games_per_iteration: int | None = arg(
        None, "games played per iteration, searched in lock-step batches; default per game"
    )
    simulations: int = arg(64, "MCTS simulations per move in self-play")
    full_search_fraction: float = arg(
        1.0, "alphazero: playout cap randomisation (KataGo): the share of moves searched "
        "with --simulations and root noise, whose policies are training targets; the others "
        "get --cheap-simulations, no noise, and train the value only (1: every move in full)"
    )  # fmt: skip
    cheap_simulations: int = arg(
        16, "alphazero: simulations of the cheap searches, with --full-search-fraction < 1"
    )
    # The search's settings, for self-play and for the evaluation's search (as in stage 1).
    c_puct_init: float = arg(MCTSConfig.c_puct_init, SEARCH_FLAGS["c_puct_init"])
    c_puct_base: float = arg(MCTSConfig.c_puct_base, SEARCH_FLAGS["c_puct_base"])
    dirichlet_alpha: float = arg(MCTSConfig.dirichlet_alpha, SEARCH_FLAGS["dirichlet_alpha"])
    dirichlet_fraction: float = arg(
        MCTSConfig.dirichlet_fraction, SEARCH_FLAGS["dirichlet_fraction"]
    )
    fpu_value: str = arg(str(MCTSConfig.fpu_value), SEARCH_FLAGS["fpu_value"])
    search: SearchKind = arg(MCTSConfig.search, SEARCH_FLAGS["search"])
    max_considered_actions: int = arg(
        MCTSConfig.max_considered_actions, SEARCH_FLAGS["max_considered_actions"]
    )
    gumbel_scale: float = arg(MCTSConfig.gumbel_scale, SEARCH_FLAGS["gumbel_scale"])
    c_visit: float = arg(MCTSConfig.c_visit, SEARCH_FLAGS["c_visit"])
    c_scale: float = arg(MCTSConfig.c_scale, SEARCH_FLAGS["c_scale"])
    temperature_moves: int | None = arg(
        None, "moves sampled from the visit counts before play turns greedy (puct; gumbel "
        "plays its search's move); default per game"
    )  # fmt: skip
    random_opening: int | None = arg(
        None, "each self-play game starts after 0..N uniformly random plies; default per game"
    )
    buffer_size: int = arg(60_000, "replay buffer capacity, in positions")
    replay_window_start: int = arg(
        0, "alphazero: train on a replay window of the newest positions only, N at first, "
        "growing with the positions played (KataGo's sublinear rule) up to --buffer-size "
        "(0: no window, the buffer's capacity alone)"
    )  # fmt: skip
    sample_reuse: float | None = arg(
        None, "SGD samples drawn per new self-play position; default per game"
    )
    batch_size: int = arg(256, "SGD batch size")
    lr: float | None = arg(None, "AdamW learning rate (default: 1e-3 alphazero, 2e-4 reinforce)")
    lr_decay: bool = arg(True, "alphazero: cosine decay of the rate to a tenth over the iterations")
    weight_decay: float = arg(1e-4, "AdamW weight decay")
    augment: bool = arg(True, "augment training samples with the board's symmetries")
    merge_duplicates: bool | None = arg(
        None, "train on each distinct position in the buffer once, its targets averaged; "
        "default per game (on for tic-tac-toe)"
    )  # fmt: skip
    value_target_q: float | None = arg(
        None, "alphazero: weight w of the search's root value in the value target, "
        "(1-w)*outcome + w*root value; default per game"
    )  # fmt: skip
    policy_target: PolicyTarget | None = arg(
        None, "alphazero: the policy label of a position, the search's visit counts or "
        "Gumbel AlphaZero's completed-Q policy (the only one with --search gumbel); default "
        "per game"
    )  # fmt: skip
    temperature: float = arg(1.0, "reinforce: sampling temperature of both sides' moves")
    pool_every: int = arg(5, "reinforce: add the current net to the opponent pool every N")
    pool_size: int = arg(10, "reinforce: snapshots kept in the pool besides the initial net")
    blocks: int | None = arg(None, "residual blocks, with --init scratch (default per game)")
    channels: int | None = arg(None, "channels, with --init scratch (default per game)")
    eval_every: int = arg(5, "evaluate every N iterations (and after the last)")
    snapshot_every: int = arg(
        5, "also keep the network every N iterations as iteration_NNNN.pt (0: only latest.pt)"
    )
    eval_games: int = arg(100, "games per evaluation duel (0: no duels)")
    eval_search_sims: int = arg(0, "also evaluate the network inside MCTS with N simulations")
    workers: int | None = arg(
        None, "alphazero: processes playing the self-play games, one core each (default: 2 "
        "on a CPU, 1 on a GPU)"
    )  # fmt: skip
    backend: Literal["local", "processes", "ray"] | None = arg(
        None, "alphazero: where self-play runs: this process, a pool of --workers processes, "
        "or --workers Ray actors (default: processes on a CPU with --workers > 1, else local)"
    )  # fmt: skip
    ray_address: str | None = arg(
        None, "with --backend ray: the cluster to join ('auto' or ray://host:port; default: "
        "a local Ray runtime with --workers CPUs)"
    )  # fmt: skip
    runtime: RuntimeFlag = arg(
        "auto", "alphazero: what runs the network in self-play; onnxruntime (CPU only) is "
        "~1.7x faster than torch, its outputs within ~1e-5 of torch's (auto: onnxruntime on "
        "a CPU, torch on a GPU)"
    )  # fmt: skip
    eval_cache: int = arg(
        FAST_CACHE_SIZE, "alphazero: positions each self-play evaluator remembers, each scored "
        "once per iteration (saves ~38%% of the network calls; answers as fresh to ~1e-7; 0: "
        "no cache)"
    )  # fmt: skip
    threads: int = arg(1, "torch CPU threads (1 is fastest on a busy 2-core machine)")
    device: Literal["auto", "cpu", "cuda"] = arg("auto", "where the network runs")
    seed: int = arg(1, "seed of every random choice in the run")
    run_dir: str = arg("runs", "parent folder of the run folders")
    exp_name: str = arg("selfplay", "experiment name, part of the run folder's name")
    resume: str | None = arg(None, "a stage-2 run folder to continue from its latest.pt")


def main(argv: list[str] | None = None) -> None:
    args = parse(Args, argv)
    resumed = None
    if args.resume:
        resumed = _resume(args.resume)
        args = merge_resumed(args, resumed.checkpoint.args)
        run_path, model = resumed.run_dir, resumed.checkpoint.model
        start_positions = resumed.progress.positions_seen
        elapsed = float(resumed.progress.elapsed)
        earlier_stages_s = float(resumed.progress.earlier_stages_s)
        game = get_game(resumed.checkpoint.game)
        print(resumed.describe())
    else:
        if args.init is None:
            raise SystemExit(
                "error: give --init PATH (a stage-1 checkpoint), --init scratch, or --resume"
            )
        model, game, start_positions, elapsed = _initial_model(args)
        earlier_stages_s = elapsed  # stage 1's seconds, if it continues from stage 1
        run_path = writable_dir(Path(args.run_dir)) / run_name(game.name, args.exp_name, args.seed)
    device = resolve_device(args.device)
    args = _fill_defaults(args, game.name, device)
    if not 0.0 <= args.value_target_q <= 1.0:
        raise SystemExit(f"error: --value-target-q must be in [0, 1], got {args.value_target_q}")
    if args.snapshot_every < 0:
        raise SystemExit(f"error: --snapshot-every must be >= 0, got {args.snapshot_every}")
    if not 0.0 < args.full_search_fraction <= 1.0:
        raise SystemExit(
            f"error: --full-search-fraction must be in (0, 1], got {args.full_search_fraction}"
        )
    if args.time_budget < 0 or (args.time_budget > 0 and args.algo != "alphazero"):
        raise SystemExit("error: --time-budget must be >= 0, and is for --algo alphazero")
    if args.cheap_simulations < 1 or args.replay_window_start < 0:
        raise SystemExit("error: --cheap-simulations must be >= 1, --replay-window-start >= 0")
    if args.search == "gumbel" and args.policy_target != "completed-q":
        raise SystemExit(
            "error: --search gumbel trains on its own completed-Q policy, not --policy-target "
            f"{args.policy_target}"
        )
    _check_backend(args)
    _check_runtime(args, device)
    if args.workers > 1 and device != "cpu" and args.backend != "ray":
        raise SystemExit(
            "error: --workers is for CPU self-play; on a GPU raise --games-per-iteration"
        )
    try:
        search_config = config_from_flags(args, args.simulations)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    torch.manual_seed(args.seed)
    set_threads(args.threads)
    model.to(device)

    # The loop's own settings; its ``search`` is the MCTSConfig (which --search is part of).
    flags = {f.name for f in dataclasses.fields(Args)} - {"search"}
    loop_fields = [f.name for f in dataclasses.fields(SelfPlayConfig) if f.name in flags]
    config = SelfPlayConfig(
        **{name: getattr(args, name) for name in loop_fields},
        search=search_config,
        time_budget_s=60.0 * args.time_budget,
    )
    strength = StrengthConfig.for_game(
        game.name, games=args.eval_games, search_sims=args.eval_search_sims, search=search_config
    )
    evaluation = Evaluation.of_strength(
        game, strength, device, args.seed, resumed.training_state if resumed else None
    )
    run = run_selfplay
    if args.algo == "reinforce":
        from train.learn.reinforce import ReinforceConfig, run_reinforce

        run = run_reinforce
        config = ReinforceConfig(
            iterations=args.iterations,
            games_per_iteration=args.games_per_iteration,
            temperature=args.temperature,
            pool_every=args.pool_every,
            pool_size=args.pool_size,
            batch_size=args.batch_size,
            lr=args.lr,
            weight_decay=args.weight_decay,
            augment=args.augment,
        )

    # The run folder is made only now, and its latest.pt first: a Ctrl-C from here on leaves
    # a run to resume.
    run_path = writable_dir(run_path)
    with resumable(run_path):
        if resumed is None:
            start = IterationProgress(
                positions_seen=start_positions, elapsed=elapsed, earlier_stages_s=earlier_stages_s
            )
            first_checkpoint(
                run_path, model, start, dataclasses.asdict(args), args.seed, evaluation
            )
        logger = RunLogger(
            run_path,
            elapsed_offset=elapsed,
            earlier_stages_s=earlier_stages_s,
            resumed_step=resumed.checkpoint.step if resumed else None,
        )
        logger.hyperparameters(args)
        (run_path / "args.json").write_text(json.dumps(dataclasses.asdict(args), indent=2))
        print(
            f"stage 2 ({args.algo}) on {game.name}: run folder {run_path}  "
            f"(tensorboard --logdir {args.run_dir})"
        )
        metrics = run(
            game,
            model,
            config,
            device=torch.device(device),
            logger=logger,
            checkpoint_dir=run_path,
            seed=args.seed,
            args=dataclasses.asdict(args),
            start_positions=start_positions,
            evaluate=evaluation,
            eval_every=args.eval_every,
            snapshot_every=args.snapshot_every,
            resume=resumed.loop_state if resumed else None,
        )
        logger.close()
        print(f"done: {run_path / 'latest.pt'}")
        for tag in sorted(metrics):
            if tag.startswith("eval/"):
                print(f"  {tag:45s} {metrics[tag]:.3f}")


def _fill_defaults(args: Args, game: str, device: str) -> Args:
    """``args`` with every flag left at None set to its default for ``game`` and ``device``
    (what the run records in args.json, so ``--resume`` carries on with the same values)."""
    defaults = {
        **get_profile(game).selfplay_defaults,
        # Gumbel search's label is its own completed-Q policy (train.search.targets).
        **({"policy_target": "completed-q"} if args.search == "gumbel" else {}),
        "lr": 1e-3 if args.algo == "alphazero" else 2e-4,
        # One process per core on a CPU (see train/selfplay/process_pool.py); a GPU takes one big
        # batch instead.
        "workers": 2 if device == "cpu" and args.backend != "local" else 1,
    }
    # ONNX Runtime on a CPU: at the same 16 minutes of stage 2 it played 1.8x the iterations
    # and its network scored more, in both seeds (docs/experiments/recipes/).
    args = dataclasses.replace(args, runtime=resolve_runtime(args.runtime, device))
    args = dataclasses.replace(
        args, **{k: v for k, v in defaults.items() if getattr(args, k) is None}
    )
    if args.backend is None:
        args = dataclasses.replace(args, backend="processes" if args.workers > 1 else "local")
    return args


def _check_runtime(args: Args, device: str) -> None:
    """Refuse, before the run starts, self-play evaluator settings that cannot run."""
    if args.eval_cache < 0:
        raise SystemExit(f"error: --eval-cache must be >= 0, got {args.eval_cache}")
    if args.runtime != "onnxruntime":
        return
    if device != "cpu":
        raise SystemExit(
            "error: --runtime onnxruntime runs on the CPU: give --device cpu, or --runtime auto"
        )
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise SystemExit(
            "error: --runtime onnxruntime needs the packages onnx and onnxruntime, "
            "dependencies of the project: pip install -e . (or give --runtime torch)"
        ) from None


def _check_backend(args: Args) -> None:
    """Refuse a backend that cannot play with these settings, before any work."""
    if args.backend == "ray" and importlib.util.find_spec("ray") is None:
        raise SystemExit(
            'error: --backend ray needs Ray, which is not installed: pip install -e ".[ray]"'
        )
    if args.backend == "processes" and args.workers < 2:
        raise SystemExit(f"error: --backend processes needs --workers >= 2, got {args.workers}")
    if args.backend == "local" and args.workers != 1:
        raise SystemExit("error: --backend local plays in this process: give --workers 1")
    if args.ray_address is not None and args.backend != "ray":
        raise SystemExit("error: --ray-address is for --backend ray")


def _initial_model(args: Args) -> tuple[PolicyValueNet, object, int, float]:
    """(model, game, positions seen so far, seconds spent so far) for ``--init``."""
    if args.init == "scratch":
        if args.game is None:
            raise SystemExit(f"error: --init scratch needs --game {'|'.join(GAME_NAMES)}")
        config = default_config(args.game)
        sizes = {"blocks": args.blocks, "channels": args.channels}
        config = dataclasses.replace(config, **{k: v for k, v in sizes.items() if v is not None})
        torch.manual_seed(args.seed)  # the first weights too are the seed's
        return PolicyValueNet(config), get_game(args.game), 0, 0.0
    checkpoint = _load(Path(args.init), args.game)
    elapsed = float(checkpoint.metrics.get("elapsed_s", 0.0))
    return checkpoint.model, get_game(checkpoint.game), checkpoint.step, elapsed


def _load(path: Path, game: str | None):
    try:
        return load_checkpoint(path, game=game)
    except CheckpointError as err:
        raise SystemExit(f"error: {err}") from None


def _resume(run_dir: str) -> Resumed:
    try:
        return resume_run(run_dir, "selfplay")
    except CheckpointError as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    run_main(main, "scripts.train_selfplay")
