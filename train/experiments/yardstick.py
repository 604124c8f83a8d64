"""How every point of every experiment is measured, and the networks they start from.

A :class:`Yardstick` measures a player by ``train.arena.thinking.measure_strength``: the share
of solver-graded positions in which it picks a best move (95% Wilson interval over positions)
and a duel against the teacher, the default expert (score and win rate, 95% Wilson
intervals). Each measurement draws from generators seeded by the experiment's seed alone, so
every player is graded on the same positions and meets the teacher from the same openings
(common random numbers: the differences between points are not buried in the luck of
different openings), and the same command and seed give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from envs import Game, State
from envs.experts import make_expert
from envs.players import Player
from models.net import NetConfig, PolicyValueNet
from train.arena.thinking import Generators, Strength, measure_strength
from train.arena.tournament import solver_sample


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

    def generators(self) -> Generators:
        """Fresh ``(grading, dueling)`` generators for one point, seeded by the seed alone, so
        that every point is graded on the same draws and dueled from the same openings."""
        grading, dueling = (np.random.default_rng([self.seed, k]) for k in (1, 2))
        return grading, dueling

    def measure(self, player: Player) -> dict:
        """``player``'s optimal-move rate and its duel against the teacher, as one row."""
        strength = measure_strength(
            self.game,
            player,
            self.teacher,
            self.graded,
            self.games,
            self.generators(),
            self.opening_moves,
        )
        return strength_row(strength)


def strength_row(strength: Strength) -> dict:
    """A measurement as the experiments' rows hold it: flat, plain values."""
    result = strength.vs_teacher
    return {
        "optimal_move_rate": strength.optimal_move_rate,
        "optimal_interval": list(strength.optimal_interval),
        "positions_graded": strength.positions,
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
