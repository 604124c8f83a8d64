"""Solver-graded play: how often a player picks a move as good as the best one.

The oracle is a table of move values: for each position, the game-theoretic outcome of every
legal action for the player to move, ``+1`` win, ``0`` draw, ``-1`` loss, and ``ILLEGAL``
(-2) for actions that can't be played: what a game profile's grader returns
(:class:`envs.profile.GradedPositions`; solver scores of another scale become such a table
with :func:`envs.profile.move_outcomes`, which keeps only their sign).

A move is *optimal* when its outcome equals the best outcome of the position: any winning
move in a won position counts, however slow, and in a lost position every move is optimal.
The error rate is one minus the optimal-move rate. Connect Four positions are also split by
stage, by the number of stones on the board: opening <= 14, middle 15-28, end > 28.

The value head is graded by *sign accuracy*: a predicted value ``v`` in [-1, 1] is read as a
win when ``v > 1/3``, a loss when ``v < -1/3`` and a draw in between (the band splits the
range into equal thirds), and it is correct when that matches the position's true outcome
(its best move's outcome). Every graded position is non-terminal, so this is always defined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.core import State
from envs.players import Player
from envs.profile import ILLEGAL, STAGES

DRAW_BAND = 1 / 3


def best_outcome(action_values: np.ndarray) -> np.ndarray:
    """int8[N]: the outcome of the best move, i.e. the position's value for the mover."""
    return np.asarray(action_values).max(axis=-1).astype(np.int8)


def value_class(values: np.ndarray) -> np.ndarray:
    """int8[N]: a predicted value read as +1 win, 0 draw (``|v| <= 1/3``) or -1 loss."""
    values = np.asarray(values)
    return np.where(values > DRAW_BAND, 1, np.where(values < -DRAW_BAND, -1, 0)).astype(np.int8)


def grade_moves(actions: np.ndarray, action_values: np.ndarray) -> np.ndarray:
    """bool[N]: whether each action (int[N]) is as good as the best of ``action_values[N, A]``."""
    chosen = np.asarray(action_values)[np.arange(len(actions)), actions]
    if (chosen == ILLEGAL).any():
        raise ValueError("an illegal action was graded")
    return chosen == best_outcome(action_values)


def grade_values(values: np.ndarray, action_values: np.ndarray) -> np.ndarray:
    """bool[N]: whether each predicted value (float[N]) has the sign of the true value."""
    return value_class(values) == best_outcome(action_values)


@dataclass(frozen=True)
class SolverGrade:
    """Per-position grades of one player (and optionally of a value head).

    Attributes:
        optimal: bool[N] the move played was as good as the best move.
        stage: int8[N] index in ``STAGES`` per position, or None for a single stage.
        value_correct: bool[N] the predicted value had the right sign, or None.
    """

    optimal: np.ndarray
    stage: np.ndarray | None = None
    value_correct: np.ndarray | None = None

    @property
    def optimal_move_rate(self) -> float:
        return float(self.optimal.mean())

    @property
    def error_rate(self) -> float:
        return float((~self.optimal).mean())

    def error_rate_by_stage(self) -> dict[str, float]:
        """Error rate per stage name, for the stages that have positions."""
        if self.stage is None:
            return {}
        return {
            name: float((~self.optimal[self.stage == k]).mean())
            for k, name in enumerate(STAGES)
            if (self.stage == k).any()
        }

    @property
    def value_sign_accuracy(self) -> float | None:
        return None if self.value_correct is None else float(self.value_correct.mean())

    def metrics(self) -> dict[str, float]:
        """Scalars for TensorBoard, ``eval/solver/...``; tags without data are left out."""
        out = {
            "eval/solver/optimal_move_rate": self.optimal_move_rate,
            "eval/solver/error_rate": self.error_rate,
        }
        for name, rate in self.error_rate_by_stage().items():
            out[f"eval/solver/error_rate_{name}"] = rate
        if self.value_correct is not None:
            out["eval/solver/value_sign_accuracy"] = self.value_sign_accuracy
        return out

    def __str__(self) -> str:
        parts = [f"optimal moves {self.optimal_move_rate:.3f} of {len(self.optimal)}"]
        parts += [f"{k} error {v:.3f}" for k, v in self.error_rate_by_stage().items()]
        if self.value_correct is not None:
            parts.append(f"value sign accuracy {self.value_sign_accuracy:.3f}")
        return ", ".join(parts)


def grade_player(
    player: Player,
    positions: State,
    action_values: np.ndarray,
    stages: np.ndarray | None,
    rng: np.random.Generator,
    *,
    values: np.ndarray | None = None,
    batch_size: int | None = None,
) -> SolverGrade:
    """Grade ``player``'s moves in ``positions[N]`` against ``action_values`` int8[N, A].

    Args:
        stages: int8[N] stage index per position (a grader's ``stages``), or None.
        values: float[N] predicted values of the same positions, to grade their signs.
        batch_size: ask the player about at most this many positions at a time.
    """
    n = len(positions)
    step = batch_size or max(n, 1)
    actions = np.concatenate(
        [np.asarray(player.act(positions[i : i + step], rng)) for i in range(0, n, step)]
    )
    return SolverGrade(
        optimal=grade_moves(actions.astype(np.int64), action_values),
        stage=None if stages is None else np.asarray(stages),
        value_correct=None if values is None else grade_values(values, action_values),
    )
