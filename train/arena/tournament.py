"""Round robins: the measurements behind evaluate.py and compare.py.

A round robin plays one duel per pair of players (``train.arena.duels.duel``: both colours,
shared random openings, Wilson intervals), from which ``train.arena.elo.fit_elo`` fits a ladder.
The thinking-time curve is ``train.arena.thinking``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations

import numpy as np

from envs.core import Game, State
from envs.players import Player
from envs.registry import get_profile
from models.net import PolicyValueNet
from train.arena.duels import DuelResult, Record, duel
from train.arena.grading import SolverGrade, grade_player
from train.arena.network_players import PolicyPlayer, SearchPlayer
from train.arena.strength import solver_positions
from train.search.evaluators import NetworkEvaluator
from train.search.search import MCTSConfig


class Named:
    """A player under another name, so that duels and ratings carry the caller's labels."""

    def __init__(self, name: str, player: Player) -> None:
        self.name = name
        self.player = player
        self.game = player.game

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        return self.player.act(state, rng)


def network_player(game: Game, model: PolicyValueNet, sims: int, device: str = "cpu") -> Player:
    """The network alone (``sims == 0``: its most likely move), or inside MCTS."""
    evaluate = NetworkEvaluator(model, game, device=device)
    if sims == 0:
        return PolicyPlayer(game, evaluate)
    return SearchPlayer(game, evaluate, MCTSConfig(simulations=sims))


def round_robin(
    game: Game,
    players: dict[str, Player],
    games: int,
    rng: np.random.Generator,
    opening_moves: int = 0,
    on_result: Callable[[DuelResult], None] | None = None,
) -> list[DuelResult]:
    """One duel of ``games`` games for every pair of ``players`` (keyed by label), in order.

    ``on_result`` is called with each duel as it ends (e.g. to print progress).
    """
    duels = []
    for a, b in combinations(players, 2):
        duels.append(
            duel(game, Named(a, players[a]), Named(b, players[b]), games, rng, opening_moves)
        )
        if on_result is not None:
            on_result(duels[-1])
    return duels


def flipped(result: DuelResult) -> DuelResult:
    """The same duel from ``b``'s view."""

    def swap(r: Record) -> Record:
        return Record(r.losses, r.draws, r.wins)

    return DuelResult(result.b, result.a, swap(result.as_second), swap(result.as_first))


def find_duel(duels: Sequence[DuelResult], a: str, b: str) -> DuelResult | None:
    """The duel of ``a`` against ``b``, from ``a``'s view, or None if they did not meet."""
    for d in duels:
        if (d.a, d.b) == (a, b):
            return d
        if (d.a, d.b) == (b, a):
            return flipped(d)
    return None


def score_matrix(names: Sequence[str], duels: Sequence[DuelResult]) -> np.ndarray:
    """float64[P, P]: the score of player ``names[i]`` against ``names[j]`` (NaN: no duel)."""
    out = np.full((len(names), len(names)), np.nan)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            d = find_duel(duels, a, b) if i != j else None
            if d is not None:
                out[i, j] = d.score
    return out


def duel_dict(result: DuelResult) -> dict:
    """A duel as plain data, for JSON."""
    low, high = result.score_interval
    counts = ("wins", "draws", "losses")
    return {
        "a": result.a,
        "b": result.b,
        "games": result.n,
        **{k: getattr(result, k) for k in counts},
        "score": result.score,
        "score_interval": [low, high],
        "as_first": {k: getattr(result.as_first, k) for k in counts},
        "as_second": {k: getattr(result.as_second, k) for k in counts},
    }


# --- solver grades ---------------------------------------------------------------------------


def solver_sample(
    game: Game, n: int | None, rng: np.random.Generator
) -> tuple[State, np.ndarray, np.ndarray | None]:
    """``n`` of the game's solver-graded positions, drawn without replacement (all if None).

    Returns ``(positions[n], action values int8[n, A], stage int8[n] or None)``, as
    ``train.arena.strength.solver_positions``; none for a game without a grader (Go).
    """
    if get_profile(game.name).grader is None:
        return game.initial_state(0), np.zeros((0, game.num_actions), np.int8), None
    positions, action_values, stages = solver_positions(game)
    if n is None or n >= len(positions):
        return positions, action_values, stages
    index = np.sort(rng.choice(len(positions), size=n, replace=False))
    return positions[index], action_values[index], None if stages is None else stages[index]


def grade_network(
    game: Game,
    player: Player,
    model: PolicyValueNet,
    graded: tuple[State, np.ndarray, np.ndarray | None],
    rng: np.random.Generator,
    device: str = "cpu",
) -> SolverGrade:
    """Grade ``player``'s moves, and ``model``'s value head, on ``graded`` positions."""
    positions, action_values, stages = graded
    _, values = NetworkEvaluator(model, game, device=device)(positions, game.legal_mask(positions))
    return grade_player(
        player, positions, action_values, stages, rng, values=values, batch_size=512
    )
