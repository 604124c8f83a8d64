"""Strength, and strength against thinking time: the one measurement behind the report's
thinking-time curve (``train.report.report``) and the thinking experiment
(``train.experiments.thinking_time``).

A player's :class:`Strength` is how often it plays a best move on solver-graded positions and
how it fares in a duel against the teacher. :func:`thinking_curve` measures one network
inside MCTS at each of a growing number of simulations per move (0 = the network alone).

The callers differ only in their random numbers, which they pass in: the report draws every
point from one generator in turn, the experiments give every point fresh generators seeded by
the experiment's seed alone (common random numbers: every point meets the same positions and
openings).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from envs.core import Game, State
from envs.players import Player
from models.net import PolicyValueNet
from train.arena.duels import DuelResult, duel, wilson_interval
from train.arena.grading import grade_player
from train.arena.tournament import duel_dict, network_player

#: ``(grading, dueling)``: the generators one measurement draws from (they may be one).
Generators = tuple[np.random.Generator, np.random.Generator]


@dataclass(frozen=True)
class Strength:
    """A player's solver grade and its duel against the teacher.

    Attributes:
        optimal: graded positions in which it played a best move.
        positions: positions graded.
        vs_teacher: its duel against the teacher.
    """

    optimal: int
    positions: int
    vs_teacher: DuelResult

    @property
    def optimal_move_rate(self) -> float:
        """The share of best moves; NaN where nothing was graded (a game without a solver)."""
        return self.optimal / self.positions if self.positions else float("nan")

    @property
    def optimal_interval(self) -> tuple[float, float]:
        """95% Wilson interval of the optimal-move rate."""
        return wilson_interval(self.optimal, self.positions)

    def as_dict(self) -> dict:
        return {
            "optimal_move_rate": self.optimal_move_rate,
            "optimal_interval": list(self.optimal_interval),
            "positions": self.positions,
            "vs_teacher": duel_dict(self.vs_teacher),
        }


def measure_strength(
    game: Game,
    player: Player,
    teacher: Player,
    graded: tuple[State, np.ndarray, np.ndarray | None],
    games: int,
    generators: Generators,
    opening_moves: int = 0,
) -> Strength:
    """Grade ``player``'s moves on ``graded``, then duel it against ``teacher``.

    Args:
        graded: ``(positions State[N], action values int8[N, A], stages)``, as
            ``train.arena.tournament.solver_sample`` returns them (stages are not used).
        games: games against ``teacher``, half with each colour.
        generators: ``(grading, dueling)``; the grading draws first, then the duel.
        opening_moves: random plies opening each duel game, the same for both colours.
    """
    positions, action_values, _ = graded
    grading, dueling = generators
    optimal = 0
    if len(positions):  # a game without a solver (Go) is measured by the duel alone
        grade = grade_player(player, positions, action_values, None, grading, batch_size=512)
        optimal = int(grade.optimal.sum())
    result = duel(game, player, teacher, games, dueling, opening_moves)
    return Strength(optimal, len(positions), result)


@dataclass(frozen=True)
class ThinkingPoint:
    """A network's strength at one search budget.

    Attributes:
        sims: MCTS simulations per move (0: the network alone).
        strength: its solver grade and its duel against the teacher.
        seconds: wall time of the measurement (not part of :meth:`as_dict`: it varies).
    """

    sims: int
    strength: Strength
    seconds: float

    def as_dict(self) -> dict:
        return {"sims": self.sims, **self.strength.as_dict()}


def thinking_curve(
    game: Game,
    model: PolicyValueNet,
    sims: Sequence[int],
    teacher: Player,
    graded: tuple[State, np.ndarray, np.ndarray | None],
    games: int,
    generators: Callable[[], Generators],
    opening_moves: int = 0,
    device: str = "cpu",
    on_point: Callable[[ThinkingPoint], None] | None = None,
) -> list[ThinkingPoint]:
    """The strength of ``model`` at each search budget in ``sims``, in order.

    Args:
        graded: positions to grade, as :func:`measure_strength` takes them.
        games: games against ``teacher`` per budget, half with each colour.
        generators: called once per budget, before it is measured, for the generators that
            grade and duel (e.g. ``lambda: (rng, rng)`` to draw everything from one).
        on_point: called with each point as it is measured (e.g. to show progress).
    """
    points = []
    for n in sims:
        player = network_player(game, model, n, device)
        started = time.perf_counter()
        strength = measure_strength(
            game, player, teacher, graded, games, generators(), opening_moves
        )
        points.append(ThinkingPoint(n, strength, time.perf_counter() - started))
        if on_point is not None:
            on_point(points[-1])
    return points
