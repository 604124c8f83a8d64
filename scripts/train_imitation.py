"""Stage 1: train a policy-value network to imitate the scripted expert.

python -m scripts.train_imitation --game tictactoe            # about a minute
python -m scripts.train_imitation --game connect4             # generates expert games first
python -m scripts.train_imitation --dataset data/c4.npz       # a dataset you generated
python -m scripts.train_imitation --resume runs/<run folder>  # continue an interrupted run
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from envs import GAME_NAMES, get_game, get_profile
from models.checkpoint import CheckpointError
from models.net import PolicyValueNet, default_config, num_parameters
from scripts.cli import (
    arg,
    count_text,
    merge_resumed,
    parse,
    resolve_device,
    resumable,
    run_main,
    set_threads,
    writable_dir,
)
from train.arena.strength import StrengthConfig
from train.learn.driver import EpochProgress, Resumed, first_checkpoint, resume_run
from train.learn.evaluation import Evaluation
from train.learn.expert_data import ExpertDataset, load_dataset, split_by_game, summarize
from train.learn.expert_games import GenerationConfig, cached_dataset
from train.learn.imitation import (
    ImitationConfig,
    ValidationSet,
    expert_positions,
    train_imitation,
)
from train.learn.tb import RunLogger, run_name
from train.search.puct import SEARCH_FLAGS, MCTSConfig, config_from_flags


def _per_game(key: str) -> str:
    """The help's "default per game: tictactoe 2,000, ...", read from the registered games'
    profiles, so that it names every game and stays true when a default changes."""
    values = {name: get_profile(name).imitation_defaults[key] for name in GAME_NAMES}
    return "default per game: " + ", ".join(f"{name} {value:,g}" for name, value in values.items())


@dataclass
class Args:
    """Stage 1 of apprentice: imitate the scripted expert (AlphaGo's supervised stage)."""

    game: str = arg("connect4", "the game", choices=GAME_NAMES)
    dataset: str | None = arg(
        None, "an expert dataset (.npz); default: generate one (cached under data/cache/)"
    )
    games: int | None = arg(
        None,
        f"expert games to generate ({_per_game('games')})",
    )
    depth: int | None = arg(
        None,
        "the expert's strength: Connect Four search depth, or GNU Go's level 0..10 for Go "
        "(default: the expert's, depth 5 / level 0)",
    )
    temperature: float | None = arg(
        None,
        f"expert softmax temperature over move scores (0: best; {_per_game('temperature')}; "
        "GNU Go has none)",
    )
    random_opening: int | None = arg(
        None,
        f"uniformly random plies opening each expert game ({_per_game('random_opening')})",
    )
    workers: int = arg(2, "processes generating expert games")
    epochs: int | None = arg(None, f"passes over the training positions ({_per_game('epochs')})")
    batch_size: int = arg(256, "SGD batch size")
    lr: float = arg(2e-3, "peak AdamW learning rate (warm-up, then cosine decay)")
    weight_decay: float = arg(1e-4, "AdamW weight decay")
    val_fraction: float = arg(0.1, "fraction of the games (not positions) held out")
    augment: bool = arg(True, "augment with the board's symmetries")
    blocks: int | None = arg(None, "residual blocks (default per game)")
    channels: int | None = arg(None, "channels per block (default per game)")
    eval_every: int = arg(2, "run the shared evaluation every N epochs (and after the last)")
    eval_games: int = arg(100, "games per evaluation duel (0: no duels)")
    eval_search_sims: int = arg(0, "also evaluate the network inside MCTS with N simulations")
    # That search's settings, named as in stage 2 (which also has the self-play noise's).
    c_puct_init: float = arg(MCTSConfig.c_puct_init, SEARCH_FLAGS["c_puct_init"])
    c_puct_base: float = arg(MCTSConfig.c_puct_base, SEARCH_FLAGS["c_puct_base"])
    fpu_value: str = arg(str(MCTSConfig.fpu_value), SEARCH_FLAGS["fpu_value"])
    threads: int = arg(1, "torch CPU threads (1 is fastest on a busy 2-core machine)")
    device: Literal["auto", "cpu", "cuda"] = arg("auto", "where the network trains")
    seed: int = arg(1, "seed of every random choice in the run")
    run_dir: str = arg("runs", "parent folder of the run folders")
    exp_name: str = arg("imitation", "experiment name, part of the run folder's name")
    resume: str | None = arg(None, "a stage-1 run folder to continue from its latest.pt")


def main(argv: list[str] | None = None) -> None:
    args = parse(Args, argv)
    resumed, model = None, None
    if args.resume:
        resumed = _resume(args.resume)
        args = merge_resumed(args, resumed.checkpoint.args)
        model, run_path = resumed.checkpoint.model, resumed.run_dir
        print(resumed.describe())
    else:
        args = _fill_defaults(args)
        run_path = writable_dir(args.run_dir) / run_name(args.game, args.exp_name, args.seed)
    game = get_game(args.game)
    device = resolve_device(args.device)
    try:
        search_config = config_from_flags(args)  # its simulations: --eval-search-sims
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    torch.manual_seed(args.seed)
    set_threads(args.threads)

    dataset = _dataset(args)
    train_set, val_set = split_by_game(dataset, args.val_fraction, np.random.default_rng(args.seed))
    print(
        f"{game.name}: {len(dataset):,} expert positions from {dataset.num_games:,} games "
        f"({len(train_set):,} train / {len(val_set):,} validation, split by game)"
    )
    train_data = expert_positions(game, train_set, args.augment)
    val_data = ValidationSet.from_dataset(game, val_set)

    if model is None:
        config = default_config(game.name)
        sizes = {"blocks": args.blocks, "channels": args.channels}
        config = dataclasses.replace(config, **{k: v for k, v in sizes.items() if v is not None})
        model = PolicyValueNet(config)
    model.to(device)
    print(f"network: {model.config} ({num_parameters(model):,} parameters) on {device}")

    strength = StrengthConfig.for_game(
        game.name, games=args.eval_games, search_sims=args.eval_search_sims, search=search_config
    )
    evaluation = Evaluation.of_strength(
        game, strength, device, args.seed, resumed.training_state if resumed else None
    )

    # The run folder is made only now, the slow preparations done, and its latest.pt first:
    # a Ctrl-C from here on leaves a run to resume.
    run_path = writable_dir(run_path)
    with resumable(run_path):
        if resumed is None:
            first_checkpoint(
                run_path, model, EpochProgress(), dataclasses.asdict(args), args.seed, evaluation
            )
        logger = RunLogger(
            run_path,
            elapsed_offset=resumed.progress.elapsed if resumed else 0.0,
            resumed_step=resumed.checkpoint.step if resumed else None,
        )
        logger.hyperparameters(args)
        (run_path / "args.json").write_text(json.dumps(dataclasses.asdict(args), indent=2))
        print(f"run folder {run_path}  (tensorboard --logdir {args.run_dir})")
        metrics = train_imitation(
            game,
            model,
            train_data,
            val_data,
            ImitationConfig(
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                weight_decay=args.weight_decay,
                augment=args.augment,
            ),
            device=torch.device(device),
            logger=logger,
            checkpoint_dir=run_path,
            seed=args.seed,
            args=dataclasses.asdict(args),
            evaluate=evaluation,
            eval_every=args.eval_every,
            resume=resumed.loop_state if resumed else None,
        )
        logger.close()
        print(f"done: {run_path / 'best.pt'} (best validation loss), {run_path / 'latest.pt'}")
        for tag in sorted(metrics):
            print(f"  {tag:40s} {metrics[tag]:.3f}")


def _fill_defaults(args: Args) -> Args:
    """``args`` with the flags left at None set to the game's stage-1 defaults (its profile's,
    sized so the default run takes about a minute for tic-tac-toe and under 15 minutes for
    Connect Four on a 2-core laptop)."""
    defaults = get_profile(args.game).imitation_defaults
    filled = {k: v for k, v in defaults.items() if getattr(args, k) is None}
    return dataclasses.replace(args, **filled)


def _dataset(args: Args) -> ExpertDataset:
    """The dataset named by ``--dataset``, or the cached/generated one the flags describe."""
    if args.dataset:
        try:
            return load_dataset(args.dataset, game=args.game)
        except (OSError, ValueError) as err:
            raise SystemExit(f"error: {err}") from None
    config = GenerationConfig(
        game=args.game,
        games=args.games,
        depth=args.depth,
        temperature=args.temperature,
        random_opening=args.random_opening,
        seed=args.seed,
    )
    print(f"expert games: {config.games:,} ({args.workers} workers), cache data/cache/")
    dataset, timings = cached_dataset(config, "data/cache", workers=args.workers)
    if timings is None:
        print("  read from the cache")
        return dataset
    summary = summarize(dataset)
    print(
        f"  {timings['seconds']:.0f}s, {timings['expert_moves_per_s']:,.0f} expert moves/s; "
        + ", ".join(f"{k} {count_text(v)}" for k, v in summary.items())
    )
    return dataset


def _resume(run_dir: str) -> Resumed:
    try:
        return resume_run(run_dir, "imitation")
    except CheckpointError as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    run_main(main, "scripts.train_imitation")
