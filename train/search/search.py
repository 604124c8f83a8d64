"""Batched search: one tree per game, all trees in a handful of arrays, in lock-step.

The trees of a batch of ``B`` games live in the arrays of ``train/search/tree.py``. Each
simulation, in every game at once,

1. **selects** a leaf: the root selection chooses the action at the root
   (``train.search.protocols.RootSelection``), the interior selection the actions below it
   (``InteriorSelection``), in a descent that loops over depth, never over games; by
   default both are the config's (``MCTSConfig.search``): AlphaZero's PUCT
   (``train/search/puct.py``), or Gumbel MuZero's rules (``train/search/gumbel.py``);
2. **expands** the new leaves: finished positions take their true outcome
   (``game.terminal_value``); the others go to the evaluator in *one* batched call;
3. **backs up** the leaf values to the root, negating at each ply.

``q[b, a]`` in the result is from the view of the player to move at the root. With a
deterministic evaluator and no noise the visit counts equal, game by game, those of the
oracle, the one-leaf reference search in ``train/search/reference.py``
(``tests/test_mcts.py``).

Subtree reuse (keeping the chosen child's subtree for the next move) is not implemented.
Measured in Connect Four self-play (32 games, default temperature), the chosen child held
only 17-33% of the visits in the opening and 32-59% later (50-200 simulations, uniform,
hashed and untrained-network evaluators), so reuse would save at most that share of the
evaluations, at the price of re-indexing every tree and of games needing different numbers
of new simulations in one lock-step batch. Worth revisiting if self-play time dominates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.core import Game, State
from envs.players import sample_masked
from train.search.gumbel import GUMBEL_ROOT, gumbel_interior_actions
from train.search.protocols import Evaluator, InteriorSelection, RootSelection
from train.search.puct import PUCT_ROOT, MCTSConfig, puct_actions
from train.search.timing import PhaseTimer, no_timer
from train.search.tree import ROOT_INDEX, backup, descend, expand, init_tree

# MCTSConfig and Evaluator are imported from here by most callers.
__all__ = ["Evaluator", "MCTSConfig", "SearchResult", "search", "select_action"]


@dataclass(frozen=True)
class SearchResult:
    """What a search returns for a batch of ``B`` root positions.

    Attributes:
        visits: int32[B, A] visits of each root action (they sum to ``simulations``).
        q: float32[B, A] mean value of each root action for the player to move at the root
            (0 for unvisited actions).
        root_value: float32[B] mean of all values backed up through the root, its own
            evaluation included, for the player to move at the root.
        priors: float32[B, A] the evaluator's priors at the root, before any noise.
        legal: bool[B, A] the legal moves at the root.
        action: int64[B] the move the root selection recommends, drawn without randomness:
            with PUCT the most visited root action, the lowest index on ties (play that
            samples by temperature or breaks ties at random, PUCT's self-play and
            ``SearchPlayer``, uses :func:`select_action` on ``visits`` instead); with Gumbel
            the sequential-halving survivor, the move Gumbel play makes.
        raw_value: float32[B] the evaluator's value of each root, for its player to move
            (Gumbel's mixed value needs it; None where a result was made without one).
    """

    visits: np.ndarray
    q: np.ndarray
    root_value: np.ndarray
    priors: np.ndarray
    legal: np.ndarray
    action: np.ndarray
    raw_value: np.ndarray | None = None


def search(
    game: Game,
    states: State,
    evaluate: Evaluator,
    config: MCTSConfig,
    rng: np.random.Generator,
    add_noise: bool = False,
    root_selection: RootSelection | None = None,
    interior_selection: InteriorSelection | None = None,
    timer: PhaseTimer | None = None,
) -> SearchResult:
    """Run ``config.simulations`` simulations from each of a batch of positions.

    Args:
        game: the rules.
        states: State[B] unfinished root positions.
        evaluate: the batched evaluator (one call per simulation, plus one for the roots).
        config: search settings.
        rng: the only source of randomness (the root selection's noise).
        add_noise: exploration noise at the root (self-play): for PUCT, Dirichlet noise
            mixed into the root priors; for Gumbel, the Gumbel noise of its top-k.
        root_selection: chooses the root action of each simulation and the recommended
            move (default: the config's, AlphaZero's PUCT root or ``GumbelRoot``).
        interior_selection: chooses the actions below the root (default: the config's,
            PUCT or ``gumbel_interior_actions``).
        timer: if given, the simulations' steps are timed as its phases ``descend``,
            ``expand`` and ``backup`` (``train/search/timing.py``).

    Returns:
        a :class:`SearchResult` of arrays ``[B, ...]``.
    """
    if game.is_terminal(states).any():
        raise ValueError("search needs unfinished root positions")
    root_legal = game.legal_mask(states)
    root_priors, root_values = evaluate(states, root_legal)
    root_priors = np.asarray(root_priors, dtype=np.float32)
    gumbel = config.search == "gumbel"
    if root_selection is None:
        root_selection = GUMBEL_ROOT if gumbel else PUCT_ROOT
    if interior_selection is None:
        interior_selection = gumbel_interior_actions if gumbel else puct_actions
    tree = init_tree(game, states, root_legal, root_priors, root_values, config.simulations + 1)
    plan = root_selection.start(tree, config, rng, add_noise)

    phase = no_timer if timer is None else timer.phase
    for sim in range(config.simulations):
        with phase("descend"):
            root_actions = plan.select(tree, sim)
            parents, actions, leaves = descend(tree, root_actions, interior_selection, config)
        with phase("expand"):
            leaves, values = expand(tree, game, evaluate, sim + 1, parents, actions, leaves)
        with phase("backup"):
            backup(tree, leaves, values)

    visits = tree.child_visits[:, ROOT_INDEX]
    sums = tree.child_value_sums[:, ROOT_INDEX]
    q = np.where(visits > 0, sums / np.maximum(visits, 1), 0.0)
    root_value = tree.value_sums[:, ROOT_INDEX] / tree.visits[:, ROOT_INDEX]
    return SearchResult(
        visits=visits.astype(np.int32),
        q=q.astype(np.float32),
        root_value=root_value.astype(np.float32),
        priors=root_priors,
        legal=root_legal,
        action=np.asarray(plan.action(tree), dtype=np.int64),
        raw_value=np.asarray(root_values, dtype=np.float32),
    )


def select_action(visits: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """int64[B]: an action per row of ``visits`` (int[B, A]), drawn from ``visits ** (1/T)``.

    ``temperature == 0`` plays the most visited action, breaking ties uniformly at random
    (with few simulations ties are common, and always taking the lowest index would bias
    play towards the left of the board).
    """
    visits = np.asarray(visits, dtype=np.float64)
    if temperature == 0:
        weights = (visits == visits.max(axis=-1, keepdims=True)).astype(np.float64)
    else:
        # Divide by the row maximum first, so that large counts ** (1/T) cannot overflow.
        scaled = visits / np.maximum(visits.max(axis=-1, keepdims=True), 1.0)
        weights = scaled ** (1.0 / temperature)
    return sample_masked(weights, rng)
