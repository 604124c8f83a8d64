"""Player specs: the short descriptions of players that scripts take on the command line.

    random                          uniformly random legal moves
    expert                          the game's scripted expert at its default strength
    expert:depth=6,temperature=0.5  the expert, stronger and sampling
    gnugo  (or gnugo:level=5)       GNU Go over GTP (Go only), at level 0..10 (default 0)
    mcts:1000  (or mcts:sims=1000)  pure MCTS, one random rollout per leaf, 1000 simulations
    PATH.pt                         a checkpoint's network alone (PATH.pt:temperature=0.5 samples)
    PATH.pt:sims=200                the network inside MCTS
    PATH.pt:sims=200,search=gumbel  ... inside Gumbel search (mcts:sims=N,search=gumbel too)

:func:`parse_spec` reads a spec into a :class:`PlayerSpec` without opening any file, and
refuses unknown kinds and options; :func:`make_player` builds the player. Duels, evaluation,
play and the benchmark set all go through these two. Torch is imported only when a
checkpoint is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from envs.core import Game
from envs.players import Player, RandomPlayer
from train.arena.network_players import PolicyPlayer, SearchPlayer
from train.search.puct import SEARCH_KINDS
from train.search.search import MCTSConfig

#: The deepest expert a spec may ask for. The Connect Four expert's search time grows about
#: fivefold every two plies: measured on one core of a busy 2-core machine, its slowest move
#: over early and middle-game positions takes 0.9 s at depth 16, 4.4 s at 18, and 14 s from
#: the empty board at 20, so a much deeper expert (``depth=99``) would never answer.
MAX_EXPERT_DEPTH = 16
#: Simulations of ``mcts`` without a count.
DEFAULT_MCTS_SIMS = 1000

_CHECKPOINT = re.compile(r"^(?P<path>.+\.pt)(?::(?P<options>.*))?$")
_OPTIONS = {
    "expert": {"depth", "temperature"},
    "gnugo": {"level"},
    "mcts": {"sims", "search"},
    "checkpoint": {"sims", "temperature", "search"},
}
_USAGE = "use random, expert[:key=value,...], gnugo[:level=N], mcts:SIMS, PATH.pt or PATH.pt:sims=N"


@dataclass(frozen=True)
class PlayerSpec:
    """One parsed player spec.

    Attributes:
        kind: ``"random"``, ``"expert"``, ``"gnugo"``, ``"mcts"`` or ``"checkpoint"``.
        text: the spec as written (what tables and errors show).
        path: the checkpoint file (``kind == "checkpoint"`` only).
        sims: MCTS simulations per move; ``None`` for a checkpoint means the network alone.
        depth: the expert's search depth, or GNU Go's level (``None``: the default).
        temperature: the expert's or the network's sampling temperature (``None``: greedy
            for a network, the default for the expert).
        search: the search's rules, ``"puct"`` or ``"gumbel"`` (``None``: PUCT).
    """

    kind: Literal["random", "expert", "gnugo", "mcts", "checkpoint"]
    text: str
    path: str | None = None
    sims: int | None = None
    depth: int | None = None
    temperature: float | None = None
    search: str | None = None


def checkpoint_path(text: str) -> str | None:
    """The checkpoint file a spec names (``"runs/x/best.pt"`` for ``"runs/x/best.pt:sims=8"``),
    or None for the fixed players and for anything that names no checkpoint."""
    match = _CHECKPOINT.match(text)
    return match["path"] if match else None


def parse_spec(text: str) -> PlayerSpec:
    """Read a spec (see the module docstring); raises ``ValueError`` saying what is wrong."""
    match = _CHECKPOINT.match(text)
    if match:
        kind, path, rest = "checkpoint", match["path"], match["options"] or ""
    else:
        kind, _, rest = text.partition(":")
        path = None
        if kind == "random" and not rest:
            return PlayerSpec("random", text)
        if kind == "gnugo" and not rest:
            return PlayerSpec("gnugo", text)
        if kind not in ("expert", "gnugo", "mcts"):
            raise ValueError(f"unknown player {text!r}; {_USAGE}")
    if kind == "mcts" and rest.isdigit():
        rest = f"sims={rest}"
    options = _parse_options(rest)
    unknown = sorted(set(options) - _OPTIONS[kind])
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} in player {text!r}")
    sims = _whole(options["sims"], "sims", text) if "sims" in options else None
    if kind == "mcts" and sims is None:
        sims = DEFAULT_MCTS_SIMS
    depth = _whole(options["depth"], "depth", text) if "depth" in options else None
    if "level" in options:
        depth = _whole(options["level"], "level", text)
        if not 0 <= depth <= 10:
            raise ValueError(f"GNU Go's level must be 0..10, got {depth} in {text!r}")
    if depth is not None and depth > MAX_EXPERT_DEPTH:
        raise ValueError(
            f"expert depth {depth} would take too long to answer (every two plies "
            f"multiply the expert's thinking time by about five, and depth {MAX_EXPERT_DEPTH} "
            f"already takes up to a second a move), so use a depth of at most {MAX_EXPERT_DEPTH}"
        )
    temperature = options.get("temperature")
    if temperature is not None and not isinstance(temperature, int | float):
        raise ValueError(f"temperature must be a number, got {temperature!r} in {text!r}")
    temperature = None if temperature is None else float(temperature)
    search = options.get("search")
    if search is not None and search not in SEARCH_KINDS:
        raise ValueError(f"search must be one of {SEARCH_KINDS}, got {search!r} in {text!r}")
    if search is not None and kind == "checkpoint" and sims is None:
        raise ValueError(f"search= needs sims= (the network alone does not search) in {text!r}")
    return PlayerSpec(kind, text, path, sims, depth, temperature, search)


def make_player(
    spec: str | PlayerSpec, game: Game, *, seed: int = 0, device: str = "cpu"
) -> Player:
    """The player a spec describes, for ``game``.

    ``seed`` seeds the rollouts of pure MCTS; moves are drawn from the ``rng`` given to
    ``act``. Raises ``ValueError`` for a bad spec, and for a checkpoint that cannot be read
    or is of another game.
    """
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    if spec.kind == "random":
        return RandomPlayer(game)
    if spec.kind == "expert":
        from envs.experts import make_expert

        return make_expert(game, depth=spec.depth, temperature=spec.temperature)
    if spec.kind == "gnugo":
        from envs.experts.gnugo import GnuGoPlayer
        from envs.go import GoGame

        if not isinstance(game, GoGame):
            raise ValueError(f"gnugo plays Go only, not {game.name}")
        return GnuGoPlayer(game, level=spec.depth or 0)
    if spec.kind == "mcts":
        from train.search.evaluators import RolloutEvaluator

        evaluate = RolloutEvaluator(game, np.random.default_rng(seed))
        config = MCTSConfig(simulations=spec.sims, search=spec.search or "puct")
        return SearchPlayer(game, evaluate, config, name=f"{_search_name(spec)}{spec.sims}")
    return _checkpoint_player(spec, game, device)


def _checkpoint_player(spec: PlayerSpec, game: Game, device: str) -> Player:
    from models.checkpoint import load_checkpoint
    from train.search.evaluators import NetworkEvaluator

    checkpoint = load_checkpoint(spec.path, game=game.name, device=device)
    evaluate = NetworkEvaluator(checkpoint.model, game, device=device)
    name = Path(spec.path).stem
    if spec.sims is None:
        return PolicyPlayer(game, evaluate, spec.temperature or 0.0, name=name)
    config = MCTSConfig(simulations=spec.sims, search=spec.search or "puct")
    return SearchPlayer(game, evaluate, config, name=f"{name}+{_search_name(spec)}{spec.sims}")


def _search_name(spec: PlayerSpec) -> str:
    """What a search player's name calls its search: ``mcts``, or ``gumbel``."""
    return "gumbel" if spec.search == "gumbel" else "mcts"


def _parse_options(text: str) -> dict[str, int | float | str]:
    """``"depth=6,temperature=0.5"`` -> ``{"depth": 6, "temperature": 0.5}``."""
    options: dict[str, int | float | str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"expected key=value, got {item!r}")
        options[key.strip()] = _number(value.strip())
    return options


def _number(text: str) -> int | float | str:
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _whole(value: int | float | str, key: str, text: str) -> int:
    """An option that counts something: a whole number (``6`` or ``6.0``)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"{key} must be a whole number, got {value!r} in {text!r}")
    return int(value)
