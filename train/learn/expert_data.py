"""Expert datasets: stage 1's training data, as records in memory and as a file.

Records. Every position of an expert game, opening positions included, is one record: the
position, the expert's move distribution there (its policy, the imitation target), the move
it chose from that distribution (in the opening the game goes on with a random move
instead), the game's final outcome from the view of the player to move (+1 won, 0 drawn, -1
lost), and the index of its game. Records are sorted by game, then ply. The games are played
by :mod:`train.learn.expert_games`.

File format (version :data:`FORMAT_VERSION`). One ``.npz`` archive (written atomically and
byte-for-byte reproducibly) holding the arrays ``own``, ``opp`` (the position's stones in the
game's layout: uint64[N] bitboards, or bool[N, cells] for Go), ``ply`` (uint8[N]), for a game
whose position holds more (Go) ``aux`` (int16[N, k]), ``move`` (int8[N]), ``policy``
(float32[N, A]), ``outcome`` (int8[N]), ``game_index`` (int32[N]) and ``meta``, a JSON
string: format version, game, expert settings, seed, random opening, counts and code version.
``game.observation(state)`` rebuilds the network's input from the stored position.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from envs import Game, State

FORMAT_VERSION = 1
#: The arrays of a dataset file besides ``meta``, as :func:`save_dataset` writes them.
ARRAYS = ("own", "opp", "ply", "move", "policy", "outcome", "game_index")
#: Arrays a dataset file holds only for games that have them (``State.aux``).
OPTIONAL_ARRAYS = ("aux",)


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

    @classmethod
    def from_arrays(
        cls, game: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]
    ) -> ExpertDataset:
        """A dataset from the file's arrays (named as in :data:`ARRAYS`, any integer dtypes)."""
        return cls(
            game=game,
            state=State(
                _stones(arrays["own"]),
                _stones(arrays["opp"]),
                arrays["ply"].astype(np.int32),
                None if arrays.get("aux") is None else arrays["aux"].astype(np.int16),
            ),
            move=arrays["move"].astype(np.int64),
            policy=arrays["policy"].astype(np.float32),
            outcome=arrays["outcome"].astype(np.int8),
            game_index=arrays["game_index"].astype(np.int32),
            meta=meta,
        )


def _stones(array: np.ndarray) -> np.ndarray:
    # Bitboards come back as uint64 whatever integer type they were stored in; boards of
    # cells (bool) stay as they are.
    return array if array.dtype == np.bool_ else array.astype(np.uint64)


# --- summary ------------------------------------------------------------------------------


def summarize(dataset: ExpertDataset) -> dict[str, float]:
    """Counts that tell whether a dataset is varied and balanced.

    ``first_wins``/``draws``/``second_wins`` count games by result for the first player.
    """
    first = np.unique(dataset.game_index, return_index=True)[1]  # each game's ply-0 record
    first_player = dataset.outcome[first]
    stones = [dataset.state.own, dataset.state.opp]  # the position, whoever's turn it is
    positions = np.concatenate([a.reshape(len(dataset), -1) for a in stones], axis=-1)
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
        "own": _stones(dataset.state.own),
        "opp": _stones(dataset.state.opp),
        "ply": dataset.state.ply.astype(np.uint8),
        **({} if dataset.state.aux is None else {"aux": dataset.state.aux.astype(np.int16)}),
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
        missing = [name for name in (*ARRAYS, "meta") if name not in archive.files]
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
        present = [name for name in OPTIONAL_ARRAYS if name in archive.files]
        arrays = {name: archive[name] for name in (*ARRAYS, *present)}
    return ExpertDataset.from_arrays(meta["game"], arrays, meta)


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
