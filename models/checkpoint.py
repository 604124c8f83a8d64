"""Self-describing checkpoints: the weights plus everything needed to rebuild and judge them.

A checkpoint is one ``torch.save`` file holding a dict of plain data::

    format           "apprentice-checkpoint" (tells our files from any other .pt file)
    version          FORMAT_VERSION at the time of writing
    game             "tictactoe" | "connect4"
    config           NetConfig as a dict: the network rebuilds from it alone
    model            the state_dict (CPU tensors)
    stage            "imitation", "selfplay", ...
    step             training positions seen so far
    args             the run's arguments (primitives)
    metrics          float metrics at save time, e.g. {"eval/vs_expert/win_rate": 0.61}
    seed             the run's seed
    training_state   None, or what a run needs to resume (optimiser and scheduler
                     state_dicts, RNG states, ...)

Loading uses ``torch.load(weights_only=True)``, which refuses to run code hidden in a
pickle; everything stored must therefore be tensors, dicts, lists, tuples, str, int, float,
bool or None. :func:`save_checkpoint` checks that when writing (and turns numpy arrays into
tensors and numpy scalars into Python numbers), so a checkpoint that saves always loads.

Writing is atomic: the file is written beside its destination, flushed to disk and renamed
over it, so a crash mid-write leaves the previous checkpoint whole (and the temporary file,
which :func:`remove_temporaries` clears when the run resumes).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.net import NetConfig, PolicyValueNet

FORMAT = "apprentice-checkpoint"
#: Bumped whenever the layout changes in a way older code can't read.
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file that can't be loaded as the requested checkpoint; the message says why."""


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        path: the file it came from.
        model: the rebuilt network, in eval mode, on the requested device.
        config: its :class:`NetConfig`.
        game: the game's name.
        stage: the training stage that wrote it ("imitation", "selfplay", ...).
        step: training positions seen.
        args: the run's arguments.
        metrics: float metrics at save time.
        seed: the run's seed.
        training_state: what a run needs to resume, or None.
    """

    path: Path
    model: PolicyValueNet
    config: NetConfig
    game: str
    stage: str
    step: int
    args: dict[str, Any]
    metrics: dict[str, float]
    seed: int
    training_state: dict[str, Any] | None


def save_checkpoint(
    path: str | os.PathLike,
    model: PolicyValueNet,
    *,
    stage: str,
    step: int,
    args: dict[str, Any],
    metrics: dict[str, float],
    seed: int,
    training_state: dict[str, Any] | None = None,
) -> None:
    """Write ``model`` and its description to ``path`` atomically (parent folders created).

    ``args`` and ``training_state`` may hold tensors, numpy arrays (stored as tensors, so
    they come back as tensors), dicts, lists, tuples and primitives; ``args`` may also hold
    paths (stored as strings). Anything else raises ``TypeError`` here, rather than making
    a file that won't load.
    """
    model = getattr(model, "_orig_mod", model)  # the module inside a torch.compile wrapper
    if not isinstance(model, PolicyValueNet):
        raise TypeError(f"expected a PolicyValueNet, got {type(model).__name__}")
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "game": model.config.game,
        "config": model.config.to_dict(),
        "model": {name: t.detach().cpu() for name, t in model.state_dict().items()},
        "stage": str(stage),
        "step": int(step),
        "args": _plain(args, "args", paths_as_str=True),
        "metrics": {str(k): float(v) for k, v in metrics.items()},
        "seed": int(seed),
        "training_state": _plain(training_state, "training_state"),
    }
    _atomic_save(payload, Path(path))


def load_checkpoint(
    path: str | os.PathLike, *, game: str | None = None, device: torch.device | str = "cpu"
) -> Checkpoint:
    """Load a checkpoint and rebuild its network from the stored config.

    Args:
        path: the checkpoint file.
        game: if given, refuse a checkpoint of any other game.
        device: where to put the weights and the training state's tensors.

    Raises:
        CheckpointError: the file is missing, unreadable, truncated or corrupt, holds pickled
            objects other than plain data (refused without running them), is not an
            apprentice checkpoint, comes from a newer format, or is for another game.
    """
    path = Path(path)
    payload = _read(path, device)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an apprentice checkpoint")
    version = payload.get("version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written in checkpoint format {version}, but this code reads formats up "
            f"to {FORMAT_VERSION}; update apprentice to load it"
        )
    stored_game = payload.get("game")
    if game is not None and stored_game != game:
        raise CheckpointError(f"{path}: holds a {stored_game} network, but {game} was requested")
    try:
        config = NetConfig(**payload["config"])
        if config.game != stored_game:
            raise ValueError(f"its config is for {config.game}, its header for {stored_game}")
        model = PolicyValueNet(config)
        model.load_state_dict(payload["model"])
        return Checkpoint(
            path=path,
            model=model.to(device).eval(),
            config=config,
            game=config.game,
            stage=payload["stage"],
            step=payload["step"],
            args=payload["args"],
            metrics=payload["metrics"],
            seed=payload["seed"],
            training_state=payload["training_state"],
        )
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        # Missing fields, a config this code doesn't know, weights that don't fit the config.
        raise CheckpointError(f"{path}: damaged checkpoint ({type(err).__name__}: {err})") from err


# --- reading and writing -------------------------------------------------------------------


def _read(path: Path, device: torch.device | str) -> Any:
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(_unpickling_refusal(path, str(err))) from None
    except Exception as err:  # torch reports torn files as EOFError, RuntimeError, OSError...
        reason = f"{type(err).__name__}: {str(err).split('. ')[0]}".rstrip(": ")
        raise CheckpointError(f"{path}: truncated or corrupt file ({reason})") from None


def _unpickling_refusal(path: Path, message: str) -> str:
    """Our message for a refusal of torch's safe (weights-only) unpickler.

    torch's message is long and advises loading with ``weights_only=False``, which would run
    whatever the file holds: we say what it holds instead, and never repeat that advice.
    """
    # "GLOBAL io.open was not an allowed global", "unsupported GLOBAL posix.system whose
    # module posix is blocked": the file names a function or class to call on loading.
    found = re.search(r"GLOBAL ([\w.]+)", message)
    if found:
        return (
            f"{path}: holds pickled Python objects that loading would run (code: {found[1]}), "
            "not just tensors and plain data; refused for safety, nothing in it was run"
        )
    detail = message.partition("WeightsUnpickler error:")[2].strip().split("\n")[0]
    detail = detail.split(". ")[0].strip() or "unreadable pickle"
    return f"{path}: corrupt, or not a checkpoint ({detail}); nothing in it was run"


def remove_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that checkpoint writes killed mid-way left in ``directory``
    (``.NAME.PID.tmp``); returns them. Call it only where no other process is writing."""
    stale = sorted(p for p in Path(directory).glob(".*.tmp") if _TEMPORARY.fullmatch(p.name))
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return stale


# The name _atomic_save writes to first: ".latest.pt.1234.tmp" for latest.pt by process 1234.
_TEMPORARY = re.compile(r"\..+\.\d+\.tmp")


def _atomic_save(payload: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of our own rather than mkstemp's, so the file gets the usual permissions (umask),
    # not mkstemp's owner-only 0600.
    tmp_name = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp_name, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; directories can't be opened on Windows.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- plain data ----------------------------------------------------------------------------

_PRIMITIVES = (str, int, float, bool, type(None))


def _plain(value: Any, where: str, paths_as_str: bool = False) -> Any:
    """``value`` as data ``torch.load(weights_only=True)`` accepts; ``TypeError`` otherwise."""
    if isinstance(value, np.generic):  # first: np.float64 is also a float, yet pickles as numpy
        return value.item()
    if type(value) in _PRIMITIVES:  # exact types: an Enum member that is also a str would
        return value  # pickle as its class, which weights-only loading refuses
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, np.ndarray):
        try:
            return torch.from_numpy(np.ascontiguousarray(value).copy())
        except TypeError as err:  # e.g. an array of Python objects
            raise TypeError(f"{where}: {err}") from None
    if paths_as_str and isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: key {key!r} must be a str or an int")
            out[key] = _plain(item, f"{where}[{key!r}]", paths_as_str)
        return out
    if isinstance(value, (list, tuple)):
        items = [_plain(item, f"{where}[{i}]", paths_as_str) for i, item in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    raise TypeError(
        f"{where}: a {type(value).__name__} can't be stored in a checkpoint "
        "(use tensors, numpy arrays, dicts, lists, tuples, str, int, float, bool or None)"
    )
