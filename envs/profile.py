"""What a game is beyond its rules: one :class:`GameProfile` per game, beside its rules.

The rules (:class:`~envs.core.Game`) say how a game is played; the profile says how this
project trains and judges it: the network's default size, the defaults of stage 1 (imitation),
stage 2 (self-play) and the report, the random plies opening each duel, the scripted expert
and the grader. ``envs.registry`` pairs each game with its profile; scripts and ``train/``
read the profile, never a table of their own keyed by game name.

A profile is plain data and factories: nothing here imports torch, ``models`` or ``train``.
Its expert and grader are built on demand, so loading the games doesn't compile the experts'
numba code or enumerate positions. A game may have no expert or no grader (``None``); what
needs one then refuses with a ``ValueError`` naming the game, never borrowing another's.

A grader returns :class:`GradedPositions`: positions with the game-theoretic outcome of every
move, ``+1`` win, ``0`` draw, ``-1`` loss for the player to move, and :data:`ILLEGAL` for
moves that can't be played (``train.arena.grading`` grades players on them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from envs.core import Game, State
from envs.players import Player

#: The outcome of an action that can't be played, in a grader's outcome table.
ILLEGAL = -2

#: The stages a grader may split its positions into (``GradedPositions.stages`` indexes this).
STAGES = ("opening", "middle", "end")


class NetSize(NamedTuple):
    """The default size of a game's policy-value network (``models.net.NetConfig``)."""

    blocks: int
    channels: int
    value_hidden: int


class GradedPositions(NamedTuple):
    """Positions to grade moves on (a tuple, so ``positions, outcomes, stages = ...`` reads).

    Attributes:
        positions: ``State[N]`` unfinished positions.
        outcomes: int8[N, A] the outcome of each action for the player to move (+1, 0, -1),
            :data:`ILLEGAL` where it can't be played.
        stages: int8[N] the stage of the game of each position (an index into
            ``STAGES``), or None for a game graded as one stage.
    """

    positions: State
    outcomes: np.ndarray
    stages: np.ndarray | None


#: ``expert(depth, temperature) -> Player``: the scripted expert at a strength (None: its
#: default); raises ``ValueError`` for a setting it doesn't take.
ExpertFactory = Callable[[int | None, float | None], Player]


@dataclass(frozen=True, eq=False)
class GameProfile:
    """How the project trains and judges one game (see the module docstring).

    The three ``*_defaults`` mappings hold the values a stage takes for this game when its
    flag is left unset, keyed by the flag's (and config field's) name; they are read-only.

    Attributes:
        net: the default network size.
        imitation_defaults: stage 1's (``scripts.train_imitation``): ``games``, ``epochs``,
            ``random_opening``, ``temperature``.
        selfplay_defaults: stage 2's, as ``train.learn.alphazero.SelfPlayConfig`` fields
            (``SelfPlayConfig.for_game``); ``scripts.train_selfplay`` takes every flag it
            leaves at None from here: ``iterations``, ``games_per_iteration``,
            ``temperature_moves``, ``random_opening``, ``sample_reuse``,
            ``merge_duplicates``, ``value_target_q``, ``policy_target``.
        report_defaults: ``scripts.compare``'s: ``sims``, ``positions``, ``thinking_games``.
        duel_openings: uniformly random plies opening each duel of the shared evaluation
            (``train.arena.strength.StrengthConfig.for_game``).
        expert: builds the scripted expert (``envs.experts.make_expert``), or None.
        grader: builds the graded positions (``train.arena.strength.solver_positions``), or
            None; called once per process (its result is cached there).
        env_id: the gymnasium id registered for the game, or None.
    """

    net: NetSize
    imitation_defaults: Mapping[str, Any]
    selfplay_defaults: Mapping[str, Any]
    report_defaults: Mapping[str, Any]
    duel_openings: int
    expert: ExpertFactory | None = None
    grader: Callable[[], GradedPositions] | None = None
    env_id: str | None = None

    def __post_init__(self) -> None:
        # Read-only views: the defaults are shared by every run in the process.
        for name in ("imitation_defaults", "selfplay_defaults", "report_defaults"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        if self.duel_openings < 0:
            raise ValueError(f"duel_openings must be >= 0, got {self.duel_openings}")


def move_outcomes(scores: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """int8[N, A]: the sign of each legal action's score (of any scale), ``ILLEGAL`` elsewhere."""
    return np.where(legal, np.sign(scores), ILLEGAL).astype(np.int8)


def all_positions(game: Game, include_terminal: bool = False) -> State:
    """Every reachable position of a game small enough to enumerate, one ply at a time.

    In a fixed order: by ply, then by the order the layer's moves reach them.
    """
    layer = game.initial_state(1)
    found = [layer]
    while len(layer):
        legal = game.legal_mask(layer)
        parent, action = np.nonzero(legal)
        children = game.step(layer[parent], action)
        # Transpositions reach the same stones by different orders: keep one of each.
        _, first = np.unique(
            np.stack([children.own, children.opp], axis=1), axis=0, return_index=True
        )
        layer = children[np.sort(first)]
        found.append(layer)
    positions = State.concat(found)
    if include_terminal:
        return positions
    return positions[~game.is_terminal(positions)]
