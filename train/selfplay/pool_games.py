"""Stage 2's REINFORCE games: the learner's network against one opponent from its pool.

Both sides are the network alone (:class:`train.arena.network_players.PolicyPlayer`),
drawing their moves from their priors at a temperature; the games run in lock-step through
:func:`train.arena.runner.play_lockstep`, the learner moving first in half of them. Only the
learner's positions are kept, as the policy gradient's data (:mod:`train.learn.reinforce`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from envs.core import Game, State
from train.arena.network_players import PolicyPlayer
from train.arena.runner import play_lockstep
from train.search.search import Evaluator


@dataclass(frozen=True)
class PoolGameStats:
    """What happened in a batch of learner-vs-opponent games.

    Attributes:
        game_lengths: int32[n] moves played in each game.
        learner_first: bool[n] whether the learner moved first.
        learner_result: float32[n] +1 learner won, 0 draw, -1 learner lost.
        moves: the move string (``game.notation``) of each game.
        game_index: int32[P] the game each returned learner position comes from.
        learner_entropy: mean entropy (nats) of the learner's policy at its positions.
        wall_time_s: seconds for the whole batch.
    """

    game_lengths: np.ndarray
    learner_first: np.ndarray
    learner_result: np.ndarray
    moves: list[str]
    game_index: np.ndarray
    learner_entropy: float
    wall_time_s: float

    @property
    def win_rate(self) -> float:
        return float((self.learner_result > 0).mean())

    @property
    def draw_rate(self) -> float:
        return float((self.learner_result == 0).mean())

    @property
    def first_player_win_rate(self) -> float:
        first_result = np.where(self.learner_first, self.learner_result, -self.learner_result)
        return float((first_result > 0).mean())

    def as_metrics(self) -> dict[str, float]:
        """The ``selfplay/*``, throughput and ``reinforce/*`` tags of these games."""
        plies = float(self.game_lengths.sum())
        return {
            "selfplay/game_length": float(self.game_lengths.mean()),
            "selfplay/first_player_win_rate": self.first_player_win_rate,
            "selfplay/draw_rate": self.draw_rate,
            "selfplay/policy_entropy/network": self.learner_entropy,
            "charts/selfplay_positions_per_s": plies / max(self.wall_time_s, 1e-9),
            "reinforce/win_rate_vs_pool": self.win_rate,
        }


def play_against_pool(
    game: Game,
    learner_eval: Evaluator,
    opponent_eval: Evaluator,
    n_games: int,
    rng: np.random.Generator,
    temperature: float = 1.0,
) -> tuple[State, np.ndarray, np.ndarray, PoolGameStats]:
    """Play ``n_games`` games of the learner against an opponent, in lock-step.

    The learner moves first in ``ceil(n_games / 2)`` games. At each ply each side's evaluator
    is called once, on the games where that side is to move (the learner's first), and both
    draw their moves from their priors at ``temperature`` (0: the most likely move).

    Returns:
        states: State[P] the positions where the learner moved (the opponent's are dropped).
        actions: int64[P] the learner's move at each.
        outcomes: float32[P] the final result from the learner's view (+1, 0, -1).
        stats: :class:`PoolGameStats`.
    """
    if n_games < 1:
        raise ValueError(f"n_games must be >= 1, got {n_games}")
    started = time.perf_counter()
    learner_seat = np.where(np.arange(n_games) < n_games - n_games // 2, 0, 1)
    learner_priors = _RecordingPriors(learner_eval)
    players = (
        PolicyPlayer(game, learner_priors, temperature, name="learner"),
        PolicyPlayer(game, opponent_eval, temperature, name="opponent"),
    )
    played = play_lockstep(game, players, game.initial_state(n_games), rng, seat=learner_seat)
    states, actions, games = played.played_by(0)

    winner_seat = game.winner(played.final)  # -1 for a draw
    learner_result = np.where(
        winner_seat < 0, 0.0, np.where(winner_seat == learner_seat, 1.0, -1.0)
    )
    final = played.final
    game_index = games.astype(np.int32)
    stats = PoolGameStats(
        game_lengths=final.ply.astype(np.int32),
        learner_first=learner_seat == 0,
        learner_result=learner_result.astype(np.float32),
        moves=[game.notation(row[row >= 0]) for row in played.moves()],
        game_index=game_index,
        learner_entropy=float(np.concatenate([_entropy(p) for p in learner_priors.seen]).mean()),
        wall_time_s=time.perf_counter() - started,
    )
    outcomes = stats.learner_result[game_index]
    return states, actions, outcomes, stats


class _RecordingPriors:
    """An evaluator that passes calls through and keeps the priors it returned."""

    def __init__(self, evaluate: Evaluator) -> None:
        self.evaluate = evaluate
        self.seen: list[np.ndarray] = []

    def __call__(self, states: State, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        priors, values = self.evaluate(states, legal)
        self.seen.append(priors)
        return priors, values


def _entropy(p: np.ndarray) -> np.ndarray:
    """float64[K]: the entropy in nats of each row of a distribution ``p`` [K, A]."""
    p = np.asarray(p, dtype=np.float64)
    return -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1)
