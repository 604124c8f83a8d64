"""Players built from evaluators: the network alone, search, and players named on a command line.

``make_player`` turns a short spec (``"random"``, ``"expert:depth=6"``, ``"mcts:1000"``,
``"PATH.pt"``, ``"PATH.pt:sims=200"``) into a :class:`envs.players.Player`, so duels, play and
the analysis engine take the same descriptions. Torch is imported only when a checkpoint is
named.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from envs.core import Game, State
from envs.players import Player, RandomPlayer, sample_masked
from train.search.search import Evaluator, MCTSConfig, search, select_action


class PolicyPlayer:
    """The network alone: the most likely move of the evaluator's priors (or a sample).

    With ``temperature`` T > 0 a move is drawn with probability proportional to
    ``prior ** (1 / T)``; with T = 0 the highest prior is played (ties to the lowest action).
    """

    def __init__(
        self, game: Game, evaluate: Evaluator, temperature: float = 0.0, name: str = "network"
    ) -> None:
        self.game = game
        self.evaluate = evaluate
        self.temperature = temperature
        self.name = name

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        legal = self.game.legal_mask(state)
        priors, _ = self.evaluate(state, legal)
        priors = np.asarray(priors, dtype=np.float64)
        if self.temperature == 0:
            return np.argmax(np.where(legal, priors, -np.inf), axis=-1).astype(np.int64)
        # Work in log space so small temperatures don't underflow every weight to zero.
        logits = np.log(np.maximum(priors, 1e-30)) / self.temperature
        logits = np.where(legal, logits, -np.inf)
        weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return sample_masked(weights, rng)


class SearchPlayer:
    """MCTS with any evaluator (a network, or random rollouts), playing its most visited move.

    No root noise; ties between equally visited moves are broken at random by
    ``train.search.search.select_action``.
    """

    def __init__(
        self, game: Game, evaluate: Evaluator, mcts_config: MCTSConfig, name: str = "mcts"
    ) -> None:
        self.game = game
        self.evaluate = evaluate
        self.config = mcts_config
        self.name = name

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        result = search(self.game, state, self.evaluate, self.config, rng)
        return np.asarray(select_action(result.visits, 0.0, rng), dtype=np.int64)


_CHECKPOINT_SPEC = re.compile(r"^(?P<path>.+\.pt)(?::(?P<options>.*))?$")


def make_player(spec: str, game: Game, *, seed: int = 0, device: str = "cpu") -> Player:
    """Build a player from a short description, as given on a command line.

    ``"random"``; ``"expert"`` or ``"expert:depth=6,temperature=0.5"`` (keyword arguments of
    ``envs.experts.make_expert``); ``"mcts:1000"`` (pure MCTS, one random rollout per leaf,
    1000 simulations per move); ``"PATH.pt"`` (a checkpoint's network alone, optionally
    ``"PATH.pt:temperature=0.5"``); ``"PATH.pt:sims=200"`` (the network inside MCTS).
    ``seed`` seeds the rollouts of pure MCTS; moves are drawn from the ``rng`` given to ``act``.
    """
    match = _CHECKPOINT_SPEC.match(spec)
    if match:
        return _checkpoint_player(
            game, match["path"], _parse_options(match["options"] or ""), device, spec
        )
    kind, _, rest = spec.partition(":")
    if kind == "random" and not rest:
        return RandomPlayer(game)
    if kind == "expert":
        from envs.experts import make_expert

        return make_expert(game, **_parse_options(rest))
    if kind == "mcts":
        options = {"sims": int(rest)} if rest.isdigit() else _parse_options(rest)
        sims = int(options.pop("sims", 1000))
        _refuse_unknown(spec, options)
        from train.search.evaluators import RolloutEvaluator

        evaluate = RolloutEvaluator(game, np.random.default_rng(seed))
        return SearchPlayer(game, evaluate, MCTSConfig(simulations=sims), name=f"mcts{sims}")
    raise ValueError(
        f"unknown player {spec!r}; use random, expert[:key=value,...], mcts:SIMS, "
        "PATH.pt or PATH.pt:sims=N"
    )


def _checkpoint_player(game: Game, path: str, options: dict, device: str, spec: str) -> Player:
    from models.checkpoint import load_checkpoint
    from train.search.evaluators import NetworkEvaluator

    sims = options.pop("sims", None)
    temperature = float(options.pop("temperature", 0.0))
    _refuse_unknown(spec, options)
    checkpoint = load_checkpoint(path, game=game.name, device=device)
    evaluate = NetworkEvaluator(checkpoint.model, game, device=device)
    name = Path(path).stem
    if sims is None:
        return PolicyPlayer(game, evaluate, temperature, name=name)
    config = MCTSConfig(simulations=int(sims))
    return SearchPlayer(game, evaluate, config, name=f"{name}+mcts{sims}")


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


def _refuse_unknown(spec: str, options: dict) -> None:
    if options:
        raise ValueError(f"unknown option(s) {sorted(options)} in player {spec!r}")
