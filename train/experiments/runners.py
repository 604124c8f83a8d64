"""Three experiments on the two-stage recipe, all measured with one yardstick.

- :func:`data_wall`: stage 1 on nested prefixes of one expert dataset (more games, same
  recipe) and, at one size, for more epochs: where do more data and more passes stop paying?
- :func:`thinking`: strength against MCTS simulations per move, for networks, beside the
  teacher's own depth sweep: how much does search add to a network?
- :func:`warm_vs_zero`: stage 2 (AlphaZero) from the stage-1 network and from scratch, same
  settings and seed, against compute: how much does imitating the teacher first save?

Every point is measured by a :class:`Yardstick`: the share of solver-graded positions in
which the player picks a best move (95% Wilson interval over positions) and a duel against
the teacher, the default expert (score and win rate, 95% Wilson intervals). Each measurement
draws from generators seeded by the experiment's seed alone, so every player is graded on the
same positions and meets the teacher from the same openings (common random numbers: the
differences between points are not buried in the luck of different openings), and the same
command and seed give the same numbers; only wall times vary.

The functions return rows, flat dicts of plain values, which ``train.experiments.summaries``
turns into findings, tables and ``results.json`` and ``train.experiments.plots`` into figures.
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

from envs import Game, State
from envs.experts import make_expert
from envs.players import Player
from models.checkpoint import Checkpoint
from models.net import NetConfig, PolicyValueNet
from train.arena.duels import duel, wilson_interval
from train.arena.grading import grade_player
from train.arena.tournament import network_player, solver_sample
from train.learn.alphazero import SelfPlayConfig, run_selfplay
from train.learn.expert_data import ExpertDataset, summarize
from train.learn.expert_games import GenerationConfig, cached_dataset
from train.learn.imitation import ImitationConfig, PositionTensors, train_imitation
from train.learn.tb import RunLogger, run_name
from train.report.runs import read_scalars

#: The TensorBoard tag under which stage 2's evaluations log the training seconds so far
#: (the warm run's counting stage 1's), evaluations excluded.
COMPUTE_TAG = "experiment/compute_s"


# --- the yardstick ------------------------------------------------------------------------


@dataclass(frozen=True)
class Yardstick:
    """How every point of every experiment is measured.

    Attributes:
        game: the game.
        teacher: the default expert, every duel's opponent.
        graded: ``(positions State[N], action values int8[N, A], stages)`` to grade moves on.
        games: games against the teacher per point, half with each colour.
        opening_moves: random plies opening each duel game, the same for both colours.
        seed: seeds the grading and the duel of every point alike.
    """

    game: Game
    teacher: Player
    graded: tuple[State, np.ndarray, np.ndarray | None]
    games: int
    opening_moves: int
    seed: int

    @classmethod
    def build(
        cls, game: Game, positions: int | None, games: int, opening_moves: int, seed: int
    ) -> Yardstick:
        """Grade on ``positions`` of the game's solver-graded positions (None: all of them),
        drawn with ``seed``, and duel the default expert."""
        graded = solver_sample(game, positions, np.random.default_rng([seed, 0]))
        return cls(game, make_expert(game), graded, games, opening_moves, seed)

    def measure(self, player: Player) -> dict:
        """``player``'s optimal-move rate and its duel against the teacher, as one row."""
        positions, action_values, _ = self.graded
        grading, dueling = (np.random.default_rng([self.seed, k]) for k in (1, 2))
        grade = grade_player(player, positions, action_values, None, grading, batch_size=512)
        result = duel(self.game, player, self.teacher, self.games, dueling, self.opening_moves)
        optimal = int(grade.optimal.sum())
        return {
            "optimal_move_rate": optimal / len(positions),
            "optimal_interval": list(wilson_interval(optimal, len(positions))),
            "positions_graded": len(positions),
            "score": result.score,
            "score_interval": list(result.score_interval),
            "win_rate": result.win_rate,
            "win_interval": list(result.win_interval),
            "record": str(result.total),
            "duel_games": result.n,
        }


def seeded_net(config: NetConfig, seed: int) -> PolicyValueNet:
    """A freshly initialised network whose weights depend on ``seed`` alone (torch's global
    generator is restored afterwards, so nothing else is disturbed)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return PolicyValueNet(config)


# --- data wall ------------------------------------------------------------------------------


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
    val_data = _tensors(game, data.subset(data.game_index >= largest), augment=False)
    rows = []
    for games, epochs in tqdm(config.plan(), desc="data-wall runs", unit="run"):
        train = data.subset(data.game_index < games)
        folder = Path(run_dir) / run_name(game.name, f"data-wall-{games}g-{epochs}ep", seed)
        model = seeded_net(config.net, seed).to(device)
        settings = dataclasses.replace(config.imitation, epochs=epochs)
        logger = RunLogger(folder)
        train_data = _tensors(game, train, settings.augment)
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


def _tensors(game: Game, dataset: ExpertDataset, augment: bool) -> PositionTensors:
    outcome = dataset.outcome.astype(np.float32)
    return PositionTensors.build(
        game, dataset.state, dataset.policy, dataset.move, outcome, augment
    )


# --- thinking time --------------------------------------------------------------------------


def thinking(
    yardstick: Yardstick,
    networks: dict[str, PolicyValueNet],
    sims: Sequence[int],
    depths: Sequence[int],
    device: str = "cpu",
) -> list[dict]:
    """Each network at each search budget, then the teacher's expert at each depth.

    Rows hold ``player`` (a network's label, or ``"expert"``), ``sims`` (None for the
    expert), ``depth`` (None for networks), ``seconds`` (the measurement's wall time) and the
    yardstick's measurements.
    """
    game = yardstick.game
    players = [(label, n, None) for label in networks for n in sims]
    players += [("expert", None, d) for d in depths]
    rows = []
    for label, n, depth in tqdm(players, desc="thinking", unit="point"):
        if depth is None:
            player = network_player(game, networks[label], n, device)
        else:
            player = make_expert(game, depth=depth)
        started = time.perf_counter()
        measured = yardstick.measure(player)
        seconds = time.perf_counter() - started
        rows.append({"player": label, "sims": n, "depth": depth, "seconds": seconds, **measured})
    return rows


# --- warm start against zero ----------------------------------------------------------------


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
