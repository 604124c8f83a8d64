"""The data-wall experiment: stage 1 on nested prefixes of one expert dataset (more games, same
recipe) and, at one size, for more epochs: where do more data and more passes stop paying?

:func:`data_wall` trains and measures every run; :func:`write_data_wall` draws its figures and
writes its summary.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from models.net import NetConfig
from train.arena.tournament import network_player
from train.experiments.findings import sweep_findings, teacher_verdict
from train.experiments.plots import plot_data_wall
from train.experiments.summary import STRENGTH_HEADER, strength_cells, write_summary
from train.experiments.yardstick import Yardstick, seeded_net
from train.learn.expert_data import ExpertDataset, summarize
from train.learn.expert_games import GenerationConfig, cached_dataset
from train.learn.imitation import (
    ImitationConfig,
    ValidationSet,
    expert_positions,
    train_imitation,
)
from train.learn.tb import RunLogger, run_name
from train.report.markdown import markdown_table


@dataclass(frozen=True)
class DataWallConfig:
    """What :func:`data_wall` trains.

    Attributes:
        data: the expert games' settings (``data.games`` is replaced: the largest training
            size plus ``val_games`` are generated, once).
        net: the network size of every run.
        sizes: training games of the size sweep; each training set is a prefix of the next,
            so that larger sets only add games.
        epochs: epochs of every run of the size sweep.
        epoch_games: training games of the epoch sweep.
        epoch_counts: epochs of the epoch sweep. Each count is its own run: the learning rate
            decays over a run's length (cosine), so the model after 4 of 64 epochs is not what
            a 4-epoch run gives. A run in both sweeps is trained once.
        val_games: validation games, generated after the largest training prefix and shared by
            every run.
        imitation: stage 1's optimisation settings (``epochs`` is set per run).
    """

    data: GenerationConfig
    net: NetConfig
    sizes: tuple[int, ...] = (250, 500, 1000, 2000, 4000, 8000, 16000)
    epochs: int = 8
    epoch_games: int = 2000
    epoch_counts: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    val_games: int = 500
    imitation: ImitationConfig = ImitationConfig()

    def __post_init__(self) -> None:
        counts = (*self.sizes, *self.epoch_counts, self.epochs, self.epoch_games, self.val_games)
        if not self.sizes or not self.epoch_counts or min(counts) < 1:
            raise ValueError("sizes, epoch counts, epochs and game counts must all be >= 1")

    def plan(self) -> list[tuple[int, int]]:
        """``(training games, epochs)`` of every run, smallest first, each once."""
        runs = [(n, self.epochs) for n in self.sizes]
        runs += [(self.epoch_games, e) for e in self.epoch_counts]
        return sorted(set(runs), key=lambda run: run[0] * run[1])


def expert_games(
    config: GenerationConfig, cache_dir: Path | None, workers: int = 1
) -> ExpertDataset:
    """The expert games ``config`` describes, from the cache ``scripts/train_imitation.py``
    shares (``train.learn.expert_games.cached_dataset``), else generated and cached.

    Chunk ``i`` of a dataset draws on child ``i`` of the seed, whatever the game count, so
    for ``n`` a multiple of ``CHUNK_GAMES`` (250) the first ``n`` games of a larger dataset
    are the ``n``-game dataset of the same seed: each prefix is a dataset in its own right.
    """
    return cached_dataset(config, cache_dir, workers)[0]


def data_wall(
    config: DataWallConfig,
    yardstick: Yardstick,
    *,
    run_dir: Path,
    cache_dir: Path | None,
    workers: int = 1,
    device: str = "cpu",
) -> list[dict]:
    """Train every run of ``config.plan()`` and measure its final network alone.

    Each run is a stage-1 run folder under ``run_dir`` (TensorBoard logs, checkpoints). Rows
    hold ``expert_games``, ``epochs``, ``positions`` (training records), ``unique_positions``,
    ``positions_trained`` (SGD samples), ``val_loss`` (policy + value), ``val_move_accuracy``,
    ``train_s`` and the yardstick's measurements.
    """
    game, seed = yardstick.game, yardstick.seed
    largest = max(*config.sizes, config.epoch_games)
    generation = dataclasses.replace(config.data, games=largest + config.val_games)
    data = expert_games(generation, cache_dir, workers)
    val_data = ValidationSet.from_dataset(game, data.subset(data.game_index >= largest))
    rows = []
    for games, epochs in tqdm(config.plan(), desc="data-wall runs", unit="run"):
        train = data.subset(data.game_index < games)
        folder = Path(run_dir) / run_name(game.name, f"data-wall-{games}g-{epochs}ep", seed)
        model = seeded_net(config.net, seed).to(device)
        settings = dataclasses.replace(config.imitation, epochs=epochs)
        logger = RunLogger(folder)
        train_data = expert_positions(game, train, settings.augment)
        started = time.perf_counter()
        metrics = train_imitation(
            game,
            model,
            train_data,
            val_data,
            settings,
            device=torch.device(device),
            logger=logger,
            checkpoint_dir=folder,
            seed=seed,
            args={"experiment": "data-wall", "game": game.name, "games": games, "seed": seed},
        )
        seconds = time.perf_counter() - started
        logger.close()
        rows.append(
            {
                "expert_games": games,
                "epochs": epochs,
                "positions": len(train),
                "unique_positions": int(summarize(train)["unique_positions"]),
                "positions_trained": epochs * len(train),
                "val_loss": metrics["val/policy_loss"] + metrics["val/value_loss"],
                "val_move_accuracy": metrics["val/move_accuracy"],
                "train_s": seconds,
                "run": str(folder),
                **yardstick.measure(network_player(game, model, 0, device)),
            }
        )
    return rows


def write_data_wall(
    folder: Path, rows: list[dict], config: DataWallConfig, yardstick: Yardstick, command: str
) -> Path:
    """Figures, findings and files of :func:`data_wall`."""
    by_size = sorted(
        (r for r in rows if r["epochs"] == config.epochs and r["expert_games"] in config.sizes),
        key=lambda r: r["expert_games"],
    )
    in_epoch_sweep = {(config.epoch_games, e) for e in config.epoch_counts}
    by_epochs = sorted(
        (r for r in rows if (r["expert_games"], r["epochs"]) in in_epoch_sweep),
        key=lambda r: r["epochs"],
    )
    plot_data_wall(by_size, by_epochs, folder)

    def games(r: dict) -> str:
        return f"{r['expert_games']:,} games ({r['unique_positions']:,} unique positions)"

    findings = [
        *sweep_findings(by_size, "More data", games),
        *sweep_findings(by_epochs, "More epochs", lambda r: _epochs(r["epochs"])),
        _overfitting(by_epochs, config.epoch_games),
        teacher_verdict(
            rows,
            "Stage-1 networks",
            lambda r: f"{r['expert_games']:,} games, {_epochs(r['epochs'])}",
        ),
    ]
    tail = ["record", "val loss", "val move accuracy", "train s"]
    sections = [
        f"## More data ({_epochs(config.epochs)} each)",
        "![strength against data](data_wall_by_size.png)",
        markdown_table(
            ["expert games", "unique positions", "positions", *STRENGTH_HEADER, *tail],
            [_counts(r, "expert_games", "unique_positions", "positions") for r in by_size],
        ),
        f"## More epochs ({config.epoch_games:,} games)",
        "Each epoch count is its own run: the learning rate decays (cosine) over a run's "
        "length, so these are the networks that many epochs of stage 1 give.",
        "![strength against epochs](data_wall_by_epochs.png)",
        markdown_table(
            ["epochs", "positions trained", *STRENGTH_HEADER, *tail],
            [[r["epochs"], *_counts(r, "positions_trained")] for r in by_epochs],
        ),
    ]
    intro = (
        f"Stage 1 on nested prefixes of one set of expert games ({config.data.make_expert().name}"
        f", {config.data.random_opening} random opening plies), the same recipe each time, each "
        f"network then measured alone. Validation: {config.val_games:,} held-out games, the same "
        "for every run."
    )
    return write_summary(
        folder,
        f"Data wall: {yardstick.game.name}",
        intro,
        findings,
        sections,
        {"config": dataclasses.asdict(config), "rows": rows},
        yardstick,
        command,
    )


def _overfitting(rows: Sequence[dict], games: int) -> str:
    losses = [r["val_loss"] for r in rows]
    best, last = rows[int(np.argmin(losses))], rows[-1]
    if best is last:
        text = f"Validation loss is lowest at the most epochs, {last['epochs']}"
        if len(rows) < 2:
            return f"{text} ({last['val_loss']:.3f})."
        before = rows[-2]
        return (
            f"{text}: no overfitting, but going from {before['epochs']} to {last['epochs']} "
            f"epochs lowered it from {before['val_loss']:.3f} to {last['val_loss']:.3f}."
        )
    return (
        f"Validation loss is lowest after {best['epochs']} epochs ({best['val_loss']:.3f}) and "
        f"{last['val_loss']:.3f} after {last['epochs']}: longer training overfits the "
        f"{games:,} games."
    )


def _counts(row: dict, *keys: str) -> list:
    """The counts ``keys`` of ``row`` with thousands separators, then its :func:`strength_cells`."""
    return [f"{row[k]:,}" for k in keys] + strength_cells(row)


def _epochs(n: int) -> str:
    return f"{n} epoch" + "s" * (n != 1)
