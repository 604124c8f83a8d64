"""Generate an expert dataset: games the scripted expert plays against itself (stage 1's data).

python -m scripts.generate_expert_games --game tictactoe --games 2000 --out data/ttt.npz
python -m scripts.generate_expert_games --game connect4 --games 10000 --depth 5 --workers 2

The same seed and settings write the same file, byte for byte, whatever ``--workers`` is.
The format is described in :mod:`train.learn.expert_data`.
"""

from __future__ import annotations

from dataclasses import dataclass

from envs import GAME_NAMES
from scripts.cli import arg, parse
from train.learn.expert_data import save_dataset, summarize
from train.learn.expert_games import GenerationConfig, generate_dataset


@dataclass
class Args:
    """Generate expert-vs-expert games and save every position with the expert's policy."""

    game: str = arg("connect4", "the game", choices=GAME_NAMES)
    games: int = arg(10_000, "how many games to play")
    depth: int | None = arg(
        None, "Connect Four expert search depth in plies (default: the expert's default)"
    )
    temperature: float = arg(
        0.0, "expert softmax temperature over its move scores (0: a best move, ties at random)"
    )
    random_opening: int = arg(
        2,
        "uniformly random plies at the start of every game, for variety (recorded with the "
        "expert's policy as target)",
    )
    workers: int = arg(2, "worker processes playing games in parallel")
    seed: int = arg(0, "random seed; the same seed and settings give the same file")
    out: str | None = arg(None, "output .npz path (default: data/<game>_expert.npz)")
    progress: bool = arg(True, "show a progress bar")


def main(args: Args) -> None:
    out = args.out or f"data/{args.game}_expert.npz"
    if not out.endswith(".npz"):
        raise SystemExit(f"error: --out must end in .npz, got {out!r}")
    if args.workers < 1:
        raise SystemExit(f"error: --workers must be at least 1, got {args.workers}")
    try:
        config = GenerationConfig(
            game=args.game,
            games=args.games,
            depth=args.depth,
            temperature=args.temperature,
            random_opening=args.random_opening,
            seed=args.seed,
        )
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None

    dataset, timings = generate_dataset(config, workers=args.workers, progress=args.progress)
    save_dataset(dataset, out)

    summary = summarize(dataset)
    expert = dataset.meta["expert"]["name"]
    print(f"wrote {out}: {args.game}, {expert}, seed {args.seed}")
    print(f"  games             {summary['games']:,}")
    print(f"  positions         {summary['positions']:,}")
    print(f"  unique positions  {summary['unique_positions']:,}")
    print(f"  mean game length  {summary['mean_game_length']:.1f} plies")
    print(
        f"  outcomes          first player wins {summary['first_wins']:,}, "
        f"draws {summary['draws']:,}, second player wins {summary['second_wins']:,}"
    )
    print(f"  expert moves/s    {timings['expert_moves_per_s']:,.0f} (per worker process)")
    print(f"  wall time         {timings['seconds']:.1f} s with {args.workers} worker(s)")


if __name__ == "__main__":
    main(parse(Args))
