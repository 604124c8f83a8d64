"""How strong is a network? The one evaluation suite both stages, the report and tests run.

It plays the network alone (and, if asked, inside MCTS) against fixed opponents and grades
its moves against perfect play, returning metrics under tags both stages share:

- ``eval/vs_random/*``, ``eval/vs_expert/*``, ``eval/vs_mcts_rollout/*``: duels of the
  network alone (``win_rate``, ``draw_rate``, ``loss_rate``, ``score``);
- ``eval/solver/*``: its optimal-move and error rates on the game's graded positions
  (every tic-tac-toe position; Connect Four's shipped benchmark set), and how often its
  value head gets the sign of the true outcome right;
- ``eval/search/*``: the same duel against the expert and solver grading, with search.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from envs import Game, State, get_profile
from envs.experts import make_expert
from envs.players import Player, RandomPlayer
from envs.profile import GradedPositions
from models.net import PolicyValueNet
from train.arena.duels import duel
from train.arena.grading import grade_player
from train.arena.network_players import PolicyPlayer, SearchPlayer
from train.search.evaluators import NetworkEvaluator, RolloutEvaluator
from train.search.search import MCTSConfig


@dataclass(frozen=True)
class StrengthConfig:
    """What to measure. Zero games or simulations switch a measurement off.

    Attributes:
        games: games per duel, half with each colour.
        opening_moves: random plies at the start of each duel game, so that deterministic
            players don't replay one game (each opening is played with both colours).
        rollout_sims: simulations of the pure rollout-MCTS opponent (0: no such duel).
        search_sims: simulations when the network plays inside MCTS (0: network alone only).
        search: the other settings of that search (its simulations are ``search_sims``).
        solver: grade moves against perfect play (where the game's profile has a grader:
            Go has none, so it is measured by duels alone).
    """

    games: int = 100
    opening_moves: int = 2
    rollout_sims: int = 0
    search_sims: int = 0
    search: MCTSConfig = MCTSConfig()
    solver: bool = True

    @classmethod
    def for_game(cls, game: str, **overrides: int | bool | MCTSConfig) -> StrengthConfig:
        """Defaults per game: duels open with the game profile's ``duel_openings`` random
        plies (tic-tac-toe's none: two there can already decide the game; Connect Four's two)."""
        return cls(**{"opening_moves": get_profile(game).duel_openings, **overrides})


def measure_strength(
    game: Game,
    model: PolicyValueNet,
    config: StrengthConfig,
    rng: np.random.Generator,
    device: str = "cpu",
) -> dict[str, float]:
    """The evaluation metrics of ``model`` (see the module docstring for the tags)."""
    evaluate = NetworkEvaluator(model, game, device=device)
    network = PolicyPlayer(game, evaluate, name="network")
    expert = make_expert(game)
    metrics: dict[str, float] = {}

    def play(player: Player, opponent: Player, tag: str) -> None:
        result = duel(game, player, opponent, config.games, rng, config.opening_moves)
        metrics.update(result.as_metrics(tag))

    if config.games > 0:
        play(network, RandomPlayer(game), "eval/vs_random")
        play(network, expert, "eval/vs_expert")
        if config.rollout_sims > 0:
            rollouts = RolloutEvaluator(game, rng)
            pure_mcts = SearchPlayer(game, rollouts, MCTSConfig(simulations=config.rollout_sims))
            play(network, pure_mcts, "eval/vs_mcts_rollout")
    searcher = None
    if config.search_sims > 0:
        search_config = replace(config.search, simulations=config.search_sims)
        searcher = SearchPlayer(game, evaluate, search_config)
        if config.games > 0:
            play(searcher, expert, "eval/search/vs_expert")
    if config.solver and get_profile(game.name).grader is not None:
        positions, action_values, stages = solver_positions(game)
        grade = grade_player(
            network, positions, action_values, stages, rng, values=_values(evaluate, positions)
        )
        metrics.update(grade.metrics())
        if searcher is not None:
            graded = grade_player(searcher, positions, action_values, stages, rng)
            metrics["eval/search/solver/optimal_move_rate"] = graded.optimal_move_rate
    return metrics


def _values(evaluate: NetworkEvaluator, positions: State) -> np.ndarray:
    return evaluate(positions, evaluate.game.legal_mask(positions))[1]


@cache
def solver_positions(game: Game) -> GradedPositions:
    """Graded positions of ``game``, from its profile's grader: (State[N], action values
    int8[N, A], stage index int8[N] or None); raises ``ValueError`` for a game without one.

    Tic-tac-toe: every reachable unfinished position, valued by exhaustive minimax.
    Connect Four: the shipped benchmark set, valued by the solver.
    """
    grader = get_profile(game.name).grader
    if grader is None:
        raise ValueError(f"{game.name} has no grader: no solver-graded positions")
    return grader()
