"""Expert datasets: games the scripted expert plays against itself, as stage 1's training data.

Generation. Games are played in chunks of :data:`CHUNK_GAMES`; within a chunk every game
advances one ply per step, in lock-step, so the expert sees one batch per ply. For variety,
the first ``random_opening`` plies of each game are uniformly random moves (with a
temperature, the expert's own sampling adds more). Chunks run in parallel worker processes;
chunk ``i`` draws its randomness from child ``i`` of ``np.random.SeedSequence(seed)``, so the
same seed and settings give the same games, in the same order, whatever the worker count.

Records. Every position met, opening positions included, is one record: the position, the
expert's move distribution there (its policy, the imitation target), the move it chose from
that distribution (in the opening the game goes on with the random move instead), the game's
final outcome from the view of the player to move (+1 won, 0 drawn, -1 lost), and the index
of its game. Records are sorted by game, then ply.

File format (version :data:`FORMAT_VERSION`). One ``.npz`` archive (written atomically and
byte-for-byte reproducibly) holding the arrays ``own``, ``opp`` (uint64[N] bitboards),
``ply`` (uint8[N]), ``move`` (int8[N]), ``policy`` (float32[N, A]), ``outcome`` (int8[N]),
``game_index`` (int32[N]) and ``meta``, a JSON string: format version, game, expert
settings, seed, random opening, counts and code version. ``game.observation(state)``
rebuilds the network's input from the stored position.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import subprocess
import tempfile
import time
import zipfile
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

FORMAT_VERSION = 1
#: Games per unit of work: the batch the expert sees, and what a worker process takes at once.
CHUNK_GAMES = 250
_ARRAYS = ("own", "opp", "ply", "move", "policy", "outcome", "game_index")


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


@dataclass(frozen=True)
class ExpertDataset:
    """Expert records (see the module docstring).

    Attributes:
        game: the game's name.
        state: ``State[N]`` the positions.
        move: int64[N] the move the expert chose.
        policy: float32[N, A] the expert's move distribution.
        outcome: int8[N] the game's result for the player to move: +1, 0 or -1.
        game_index: int32[N] which game each record comes from.
        meta: the file's metadata (of the whole dataset, also in a split of it).
    """

    game: str
    state: State
    move: np.ndarray
    policy: np.ndarray
    outcome: np.ndarray
    game_index: np.ndarray
    meta: dict[str, Any]

    def __len__(self) -> int:
        return len(self.move)

    @property
    def num_games(self) -> int:
        return len(np.unique(self.game_index))

    def subset(self, index: np.ndarray) -> ExpertDataset:
        """The records picked by ``index`` (a bool mask or integer indices over ``[N]``)."""
        return dataclasses.replace(
            self,
            state=self.state[index],
            move=self.move[index],
            policy=self.policy[index],
            outcome=self.outcome[index],
            game_index=self.game_index[index],
        )


# --- generating -------------------------------------------------------------------------------


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
    arrays = {name: np.concatenate([c[name] for c in chunks]) for name in _ARRAYS}
    dataset = _from_arrays(config.game, arrays, _metadata(config, arrays))
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
    state = game.initial_state(n_games)
    steps, expert_seconds = [], 0.0
    while True:
        live = np.flatnonzero(~game.is_terminal(state))
        if live.size == 0:
            break
        here = state[live]
        tic = time.perf_counter()
        policy = expert.policy(here)
        expert_seconds += time.perf_counter() - tic
        chosen = sample_masked(policy, rng)
        played = chosen.copy()
        opening = here.ply < random_opening
        if opening.any():
            legal = game.legal_mask(here[opening]).astype(np.float64)
            played[opening] = sample_masked(legal, rng)
        steps.append((live, here, chosen, policy))
        state = _advance(state, live, game.step(here, played))
    # The final position's value is for whoever is to move there; flip it for the other side.
    final_value = game.terminal_value(state).astype(np.int8)
    records = {
        "game_index": np.concatenate([live for live, *_ in steps]).astype(np.int32),
        "own": np.concatenate([here.own for _, here, *_ in steps]),
        "opp": np.concatenate([here.opp for _, here, *_ in steps]),
        "ply": np.concatenate([here.ply for _, here, *_ in steps]).astype(np.uint8),
        "move": np.concatenate([chosen for *_, chosen, _ in steps]).astype(np.int8),
        "policy": np.concatenate([policy for *_, policy in steps]).astype(np.float32),
    }
    g = records["game_index"]
    same_mover = (state.ply[g] - records["ply"]) % 2 == 0
    records["outcome"] = np.where(same_mover, final_value[g], -final_value[g]).astype(np.int8)
    order = np.lexsort((records["ply"], g))
    return {name: records[name][order] for name in _ARRAYS}, expert_seconds


def _advance(state: State, live: np.ndarray, moved: State) -> State:
    """``state`` with the games ``live`` replaced by ``moved``."""
    own, opp, ply = state.own.copy(), state.opp.copy(), state.ply.copy()
    own[live], opp[live], ply[live] = moved.own, moved.opp, moved.ply
    return State(own, opp, ply)


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
    # "spawn": a fresh interpreter per worker, safe with numba and torch threads.
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(workers, len(tasks))) as pool:
        yield from pool.imap(_play_chunk, tasks)


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


# --- summary ------------------------------------------------------------------------------


def summarize(dataset: ExpertDataset) -> dict[str, float]:
    """Counts that tell whether a dataset is varied and balanced.

    ``first_wins``/``draws``/``second_wins`` count games by result for the first player.
    """
    first = np.unique(dataset.game_index, return_index=True)[1]  # each game's ply-0 record
    first_player = dataset.outcome[first]
    positions = np.stack([dataset.state.own, dataset.state.opp], axis=-1)
    return {
        "games": len(first),
        "positions": len(dataset),
        "unique_positions": len(np.unique(positions, axis=0)),
        "first_wins": int((first_player > 0).sum()),
        "draws": int((first_player == 0).sum()),
        "second_wins": int((first_player < 0).sum()),
        "mean_game_length": len(dataset) / max(len(first), 1),
    }


# --- files --------------------------------------------------------------------------------


def save_dataset(dataset: ExpertDataset, path: str | Path) -> None:
    """Write ``dataset`` to ``path`` (``.npz``) atomically; identical data give identical bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "own": dataset.state.own.astype(np.uint64),
        "opp": dataset.state.opp.astype(np.uint64),
        "ply": dataset.state.ply.astype(np.uint8),
        "move": dataset.move.astype(np.int8),
        "policy": dataset.policy.astype(np.float32),
        "outcome": dataset.outcome.astype(np.int8),
        "game_index": dataset.game_index.astype(np.int32),
        "meta": np.array(json.dumps(dataset.meta, sort_keys=True)),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            _write_npz(file, arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_npz(file, arrays: dict[str, np.ndarray]) -> None:
    # np.savez stamps each member with the current time; a fixed stamp keeps files
    # reproducible, so the same seed and settings give the same bytes.
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


def load_dataset(path: str | Path, game: Game | str | None = None) -> ExpertDataset:
    """Read a dataset written by :func:`save_dataset`.

    Raises ``ValueError`` if the file is not an expert dataset, was written by a newer
    format version, or holds another game than ``game`` (when given).
    """
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path} is not an expert dataset ({err})") from None
    with archive:
        missing = [name for name in (*_ARRAYS, "meta") if name not in archive.files]
        if missing:
            raise ValueError(f"{path} is not an expert dataset (missing {', '.join(missing)})")
        meta = json.loads(str(archive["meta"]))
        version = meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(
                f"{path} has format version {version!r}, but this code reads versions up to "
                f"{FORMAT_VERSION}; update apprentice to read it"
            )
        wanted = game if isinstance(game, str) or game is None else game.name
        if wanted is not None and meta["game"] != wanted:
            raise ValueError(f"{path} holds {meta['game']} games, not {wanted}")
        arrays = {name: archive[name] for name in _ARRAYS}
    return _from_arrays(meta["game"], arrays, meta)


def _from_arrays(game: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> ExpertDataset:
    return ExpertDataset(
        game=game,
        state=State(
            arrays["own"].astype(np.uint64),
            arrays["opp"].astype(np.uint64),
            arrays["ply"].astype(np.int32),
        ),
        move=arrays["move"].astype(np.int64),
        policy=arrays["policy"].astype(np.float32),
        outcome=arrays["outcome"].astype(np.int8),
        game_index=arrays["game_index"].astype(np.int32),
        meta=meta,
    )


# --- splitting ----------------------------------------------------------------------------


def split_by_game(
    dataset: ExpertDataset, val_fraction: float, rng: np.random.Generator
) -> tuple[ExpertDataset, ExpertDataset]:
    """``(train, val)``: a random ``val_fraction`` of the *games* goes to validation.

    Splitting by game, never by position, keeps the positions of one game (which share
    most of their stones and the same outcome) on one side, so validation measures
    generalisation to new games rather than recall of neighbouring positions.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    games = np.unique(dataset.game_index)
    n_val = round(val_fraction * len(games))
    if val_fraction > 0 and len(games) > 1:
        n_val = min(max(n_val, 1), len(games) - 1)  # neither side empty
    in_val = np.isin(dataset.game_index, rng.choice(games, size=n_val, replace=False))
    return dataset.subset(~in_val), dataset.subset(in_val)
