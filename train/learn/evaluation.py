"""The evaluation a training run makes at the end of its rounds, resumable exactly.

Both stages measure their network with the shared strength suite
(:func:`train.arena.strength.measure_strength`), whose duels and grading draw from a
generator of their own, apart from the training's. That generator is part of where a run
stands: checkpoints save its state (:meth:`Evaluation.state`) and a resumed run restores it
(:meth:`Evaluation.restore`), so the resumed run's evaluations are those the uninterrupted
run logs.

Each duel's score is an estimate from a few games (100: +-0.09), so every ``.../score`` tag
comes with its Wilson 95% interval as ``.../score_low`` and ``.../score_high``, which the
report draws as a band around the curve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs import Game
from models.net import PolicyValueNet
from train.arena.duels import wilson_interval
from train.arena.strength import StrengthConfig, measure_strength


@dataclass
class Evaluation:
    """``measure(model, rng)`` with the run's evaluation generator ``rng``, every duel of it
    ``games`` games long.

    Calling it returns the metrics, each duel score's interval added (:func:`with_intervals`).
    """

    measure: Callable[[PolicyValueNet, np.random.Generator], dict[str, float]]
    rng: np.random.Generator
    games: int

    @classmethod
    def of_strength(
        cls,
        game: Game,
        strength: StrengthConfig,
        device: Any,
        seed: int,
        training_state: dict[str, Any] | None = None,
    ) -> Evaluation:
        """A training run's evaluation: the strength suite ``strength`` on ``device``, its
        generator seeded ``seed + 1`` (apart from the training's ``seed``), or continued from
        a resumed run's ``training_state``."""
        evaluation = cls(
            lambda net, rng: measure_strength(game, net, strength, rng, device),
            np.random.default_rng(seed + 1),
            strength.games,
        )
        if training_state is not None:
            evaluation.restore(training_state)
        return evaluation

    def __call__(self, model: PolicyValueNet) -> dict[str, float]:
        return with_intervals(self.measure(model, self.rng), self.games)

    def state(self) -> dict[str, Any]:
        """What a checkpoint's training state keeps of the evaluation."""
        return {"eval_rng": self.rng.bit_generator.state}

    def restore(self, training_state: dict[str, Any]) -> None:
        """Continue from a checkpoint's training state; one written before the evaluation's
        generator was saved leaves it freshly seeded (as those runs resumed)."""
        if "eval_rng" in training_state:
            self.rng.bit_generator.state = training_state["eval_rng"]


def with_intervals(metrics: dict[str, float], games: int) -> dict[str, float]:
    """``metrics`` with ``.../score_low`` and ``.../score_high`` after every duel score
    ``.../score`` of ``games`` games: its Wilson 95% interval."""
    out = {}
    for tag, value in metrics.items():
        out[tag] = value
        if tag.endswith("/score") and games > 0:
            # score = (wins + draws / 2) / games, so the points won are a whole number of
            # half games: rounding recovers them exactly from the rate.
            points = round(value * games * 2) / 2
            out[f"{tag}_low"], out[f"{tag}_high"] = wilson_interval(points, games)
    return out
