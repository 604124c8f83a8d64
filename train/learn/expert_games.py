"""Expert games: the scripted expert playing itself, recorded as stage 1's dataset.

Games are played in chunks of :data:`CHUNK_GAMES`; within a chunk every game advances one
ply per step, in lock-step (:func:`train.arena.runner.play_lockstep`), so the expert sees one
batch per ply. For variety, the first ``random_opening`` plies of each game are uniformly
random moves (with a temperature, the expert's own sampling adds more). Chunks run in
parallel worker processes; chunk ``i`` draws its randomness from child ``i`` of
``np.random.SeedSequence(seed)``, so the same seed and settings give the same games, in the
same order, whatever the worker count. What is recorded, and the file it goes to, is
:mod:`train.learn.expert_data`.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from envs import Game, State, get_game
from envs.experts import make_expert
from envs.players import Player, sample_masked
from train.arena.runner import play_lockstep
from train.learn.expert_data import (
    FORMAT_VERSION,
    ExpertDataset,
    load_dataset,
    save_dataset,
)
from train.workers import WorkerPool

#: Games per unit of work: the batch the expert sees, and what a worker process takes at once.
CHUNK_GAMES = 250


@dataclass(frozen=True)
class GenerationConfig:
    """What to generate; everything that decides the file's contents.

    Attributes:
        game: ``"tictactoe"`` or ``"connect4"``.
        games: how many games.
        depth: the Connect Four expert's search depth (``None``: its default; tic-tac-toe's
            expert is perfect and takes none).
        temperature: the expert's softmax temperature over its move scores (0: best move).
        random_opening: uniformly random plies at the start of every game.
        seed: the root of all randomness.
    """

    game: str = "connect4"
    games: int = 10_000
    depth: int | None = None
    temperature: float = 0.0
    random_opening: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        game = get_game(self.game)  # raises a ValueError naming the games
        if self.games < 1:
            raise ValueError(f"games must be at least 1, got {self.games}")
        if not 0 <= self.random_opening < game.num_cells:
            raise ValueError(
                f"random_opening must lie in 0..{game.num_cells - 1}, got {self.random_opening}"
            )
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        self.make_expert()  # refuses a bad depth or temperature, with the expert's message

    def make_expert(self) -> Player:
        """The expert these settings describe."""
        return make_expert(get_game(self.game), depth=self.depth, temperature=self.temperature)


def generate_dataset(
    config: GenerationConfig, workers: int = 2, progress: bool = True
) -> tuple[ExpertDataset, dict[str, float]]:
    """Play ``config.games`` expert games in ``workers`` processes.

    Returns the dataset and timings: ``seconds`` (wall clock) and ``expert_moves_per_s``
    (positions the expert moved in, per second of its own time, i.e. per core).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    start = time.perf_counter()
    starts = range(0, config.games, CHUNK_GAMES)
    seeds = np.random.SeedSequence(config.seed).spawn(len(starts))
    tasks = [
        (config, s, min(CHUNK_GAMES, config.games - s), q)
        for s, q in zip(starts, seeds, strict=True)
    ]
    chunks, expert_seconds = [], 0.0
    with tqdm(total=config.games, unit="game", disable=not progress) as bar:
        for task, (chunk, seconds) in zip(tasks, _run(tasks, workers), strict=True):
            chunks.append(chunk)
            expert_seconds += seconds
            bar.update(task[2])
    arrays = {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}
    dataset = ExpertDataset.from_arrays(config.game, arrays, _metadata(config, arrays))
    timings = {
        "seconds": time.perf_counter() - start,
        "expert_moves_per_s": len(dataset) / max(expert_seconds, 1e-9),
    }
    return dataset, timings


def cached_dataset(
    config: GenerationConfig, cache_dir: str | Path | None, workers: int = 2
) -> tuple[ExpertDataset, dict[str, float] | None]:
    """The dataset ``config`` describes: read from ``cache_dir`` if generated before, else
    generated (and saved there when ``cache_dir`` is given).

    Returns the dataset and the generation's timings (None when read from the cache). The
    file name spells out every setting, so a changed setting never reuses a stale file.
    """
    name = (
        f"{config.game}_g{config.games}_d{config.depth}_t{config.temperature}"
        f"_o{config.random_opening}_s{config.seed}.npz"
    )
    path = None if cache_dir is None else Path(cache_dir) / name
    if path is not None and path.exists():
        return load_dataset(path, game=config.game), None
    dataset, timings = generate_dataset(config, workers=workers)
    if path is not None:
        save_dataset(dataset, path)
    return dataset, timings


def play_expert_games(
    game: Game, expert: Player, n_games: int, random_opening: int, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], float]:
    """Play ``n_games`` games of ``expert`` against itself, all in lock-step.

    Returns the records as arrays named as in the file (``game_index`` counted from 0) and
    the seconds spent inside the expert.
    """
    recorder = _RecordingExpert(game, expert, random_opening)
    played = play_lockstep(game, [recorder], game.initial_state(n_games), rng)
    states, _, games = played.played_by(0)
    # The final position's value is for whoever is to move there; flip it for the other side.
    final = played.final
    final_value = game.terminal_value(final).astype(np.int8)
    records = {
        "game_index": games.astype(np.int32),
        **states.fields(),
        "ply": states.ply.astype(np.uint8),
        "move": np.concatenate(recorder.chosen).astype(np.int8),
        "policy": np.concatenate(recorder.policies).astype(np.float32),
    }
    g = records["game_index"]
    same_mover = (final.ply[g] - records["ply"]) % 2 == 0
    records["outcome"] = np.where(same_mover, final_value[g], -final_value[g]).astype(np.int8)
    order = np.lexsort((records["ply"], g))
    return {name: array[order] for name, array in records.items()}, recorder.seconds


class _RecordingExpert:
    """The expert as a player that remembers, per call, its policy and the move it chose.

    In the first ``random_opening`` plies the game goes on with a uniformly random move
    instead (drawn after the expert's own choice), but the record keeps the expert's.
    """

    def __init__(self, game: Game, expert: Player, random_opening: int) -> None:
        self.game, self.expert, self.random_opening = game, expert, random_opening
        self.name = expert.name
        self.policies: list[np.ndarray] = []
        self.chosen: list[np.ndarray] = []
        self.seconds = 0.0  # inside the expert

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        tic = time.perf_counter()
        policy = self.expert.policy(state)
        self.seconds += time.perf_counter() - tic
        chosen = sample_masked(policy, rng)
        played = chosen.copy()
        opening = state.ply < self.random_opening
        if opening.any():
            legal = self.game.legal_mask(state[opening]).astype(np.float64)
            played[opening] = sample_masked(legal, rng)
        self.policies.append(policy)
        self.chosen.append(chosen)
        return played


def _play_chunk(task: tuple) -> tuple[dict[str, np.ndarray], float]:
    config, first_game, n_games, seed_seq = task
    records, seconds = play_expert_games(
        get_game(config.game),
        config.make_expert(),
        n_games,
        config.random_opening,
        np.random.default_rng(seed_seq),
    )
    records["game_index"] += first_game
    return records, seconds


def _run(tasks: list[tuple], workers: int) -> Iterator[tuple[dict[str, np.ndarray], float]]:
    """The chunks' results, in task order."""
    if workers == 1 or len(tasks) == 1:
        yield from map(_play_chunk, tasks)
        return
    # Compile (or load) the expert once here, so the workers find numba's cache warm.
    config = tasks[0][0]
    game = get_game(config.game)
    config.make_expert().policy(game.initial_state(1))
    # Fresh interpreters that a Ctrl-C neither hangs nor fills with tracebacks.
    with WorkerPool(min(workers, len(tasks))) as pool:
        yield from pool.map(_play_chunk, tasks)


def _metadata(config: GenerationConfig, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    expert = config.make_expert()
    return {
        "format_version": FORMAT_VERSION,
        "game": config.game,
        "expert": {
            "name": expert.name,
            "depth": getattr(expert, "depth", None),
            "temperature": expert.temperature,
        },
        "random_opening": config.random_opening,
        "seed": config.seed,
        "chunk_games": CHUNK_GAMES,
        "games": config.games,
        "positions": int(arrays["move"].size),
        "code_version": code_version(),
    }


def code_version() -> str:
    """The package version, plus the git commit when run from a checkout."""
    try:
        version = metadata.version("apprentice")
    except metadata.PackageNotFoundError:
        version = "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+g{commit}" if commit else version
