"""Gumbel MuZero's search rules: Gumbel-top-k and sequential halving at the root, a
deterministic rule below it (Danihelka et al., ICLR 2022, "Policy improvement by planning
with Gumbel"; the semantics of DeepMind mctx's ``gumbel_muzero_policy``).

At the root (:class:`GumbelRoot`), with ``g(a)`` Gumbel(0, 1) noise (zero without noise)
and ``logits(a) = log prior(a)``:

1. ``start`` keeps the ``k = min(max_considered_actions, legal moves)`` moves with the
   highest ``g(a) + logits(a)``: sampling k moves without replacement from the prior (the
   Gumbel-top-k trick), so with one simulation the move played is distributed as the prior;
2. sequential halving spends the ``simulations`` over ``ceil(log2 k)`` phases, each phase
   giving every surviving candidate the same number of visits (:func:`visit_schedule`, mctx's
   ``get_sequence_of_considered_visits``). Each simulation visits, among the candidates whose
   visit count is the one the schedule names, the one with the highest
   ``g(a) + logits(a) + sigma(completed Q(a))`` (``train/search/targets.py``); so a phase
   starts by visiting the best-scoring candidates in turn, and the half that the schedule
   visits again in the next phase are the better half, scored with the Q known by then (the
   halving is implicit, as in mctx);
3. ``action`` is, among the most visited candidates, the one with the highest score: no
   randomness drawn, the noise is the one drawn in ``start``.

Below the root (:func:`gumbel_interior_actions`) the rule is deterministic:
``argmax_a improved_policy(a) - N(a) / (1 + sum_b N(b))``, the improved policy being
``softmax(logits + sigma(completed Q))`` at that node, so the visits follow the improved
policy. The policy target of a Gumbel search is ``train.search.targets.gumbel_policy``.

A node's "raw value" (mctx's ``raw_values``, the evaluator's value of it) that the mixed
value needs is kept for the root; below it it is the node's value sum less its edges'
(every visit but its own evaluation came through an edge), so the tree needs no new array.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from train.search.puct import MCTSConfig
from train.search.targets import improved_policy, log_priors, mixed_completed_q, sigma
from train.search.tree import ROOT_INDEX, Tree


@functools.cache
def visit_schedule(considered: int, simulations: int) -> tuple[int, ...]:
    """The visit count that each of ``simulations`` simulations asks of the candidate it
    visits, when sequential halving starts with ``considered`` root candidates.

    Phase by phase, with ``m`` candidates left (``m = considered`` first, then halved, never
    below 2) and ``ceil(log2 considered)`` phases planned, each candidate gets
    ``max(1, simulations // (phases * m))`` more visits, one round at a time; the phases go on
    until the budget is spent. With one candidate every simulation visits it.

    Example: 4 candidates, 8 simulations: ``(0, 0, 0, 0, 1, 1, 2, 2)``: a visit each, then the
    better two get two more each.
    """
    if considered <= 1:
        return tuple(range(simulations))
    phases = math.ceil(math.log2(considered))
    schedule: list[int] = []
    visits, survivors = 0, considered
    while len(schedule) < simulations:
        for _ in range(max(1, simulations // (phases * survivors))):
            schedule += [visits] * survivors
            visits += 1
        survivors = max(2, survivors // 2)
    return tuple(schedule[:simulations])


@functools.cache
def _schedule_table(max_considered: int, simulations: int) -> np.ndarray:
    """int64[max_considered + 1, simulations]: row ``k`` is ``visit_schedule(k, ...)``."""
    table = np.array([visit_schedule(k, simulations) for k in range(max_considered + 1)])
    table.flags.writeable = False
    return table.reshape(max_considered + 1, simulations)


def _sigma_completed_q(
    tree: Tree, games: np.ndarray, nodes: np.ndarray, raw_values: np.ndarray, config: MCTSConfig
) -> np.ndarray:
    """float64[K, A]: ``sigma(completed Q)`` at node ``nodes[k]`` of game ``games[k]``, whose
    own evaluation was ``raw_values[k]``."""
    visits = tree.child_visits[games, nodes]
    q = tree.child_value_sums[games, nodes] / np.maximum(visits, 1)
    priors, legal = tree.priors[games, nodes], tree.legal[games, nodes]
    completed = mixed_completed_q(raw_values, q, visits, priors, legal)
    return sigma(completed, visits, config.c_visit, config.c_scale)


def gumbel_interior_actions(
    tree: Tree, games: np.ndarray, nodes: np.ndarray, config: MCTSConfig
) -> np.ndarray:
    """int64[K]: Gumbel MuZero's deterministic choice at node ``nodes[k]`` of game
    ``games[k]`` (both int[K]), ``argmax improved_policy - N(a) / (1 + sum N)`` over the
    legal moves, ties to the lowest action (an ``InteriorSelection``)."""
    visits = tree.child_visits[games, nodes]
    raw = tree.value_sums[games, nodes] - tree.child_value_sums[games, nodes].sum(axis=-1)
    sigma_q = _sigma_completed_q(tree, games, nodes, raw, config)
    legal = tree.legal[games, nodes]
    policy = improved_policy(tree.priors[games, nodes], legal, sigma_q)
    score = policy - visits / (1.0 + visits.sum(axis=-1, keepdims=True))
    return np.argmax(np.where(legal, score, -np.inf), axis=-1)


@dataclass(frozen=True)
class GumbelRoot:
    """Gumbel-top-k and sequential halving at the root (see the module docstring).

    Implements ``train.search.protocols.RootSelection``; stateless, so one instance serves
    every search (each search's noise and candidates live in the plan ``start`` returns).
    """

    def start(
        self, tree: Tree, config: MCTSConfig, rng: np.random.Generator, add_noise: bool
    ) -> _GumbelRootPlan:
        legal = tree.legal[:, ROOT_INDEX]
        logits = log_priors(tree.priors[:, ROOT_INDEX], legal)
        gumbel = np.zeros(legal.shape)
        if add_noise and config.gumbel_scale > 0:
            gumbel = np.where(legal, config.gumbel_scale * rng.gumbel(size=legal.shape), 0.0)
        count = np.minimum(config.max_considered_actions, legal.sum(axis=-1))
        # Rank of each move by noise + logits, best first (a stable sort: ties to the lowest
        # action, as mctx's argmax breaks them).
        order = np.argsort(-(gumbel + logits), axis=-1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(legal.shape[-1])[None], axis=-1)
        considered = legal & (rank < count[:, None])
        table = _schedule_table(config.max_considered_actions, config.simulations)
        # Before any simulation the root's value sum is its own evaluation.
        raw_values = tree.value_sums[:, ROOT_INDEX].copy()
        return _GumbelRootPlan(config, gumbel + logits, considered, count, table, raw_values)


@dataclass(frozen=True)
class _GumbelRootPlan:
    config: MCTSConfig
    noisy_logits: np.ndarray  # float64[B, A]: g(a) + log prior(a), -inf where illegal
    considered: np.ndarray  # bool[B, A]: the k candidates
    count: np.ndarray  # int[B]: k
    table: np.ndarray  # int64[K + 1, simulations]: visit_schedule of each k
    raw_values: np.ndarray  # float64[B]: the roots' own evaluations

    def _scores(self, tree: Tree) -> np.ndarray:
        """float64[B, A]: ``g + logits + sigma(completed Q)`` of every root move."""
        games = np.arange(tree.batch)
        roots = np.full(tree.batch, ROOT_INDEX)
        return self.noisy_logits + _sigma_completed_q(
            tree, games, roots, self.raw_values, self.config
        )

    def _best(self, tree: Tree, visit_target: np.ndarray) -> np.ndarray:
        """int64[B]: the best-scoring candidate among those with ``visit_target`` (int[B])
        visits."""
        eligible = self.considered & (tree.child_visits[:, ROOT_INDEX] == visit_target[:, None])
        return np.argmax(np.where(eligible, self._scores(tree), -np.inf), axis=-1)

    def select(self, tree: Tree, simulation: int) -> np.ndarray:
        return self._best(tree, self.table[self.count, simulation])

    def action(self, tree: Tree) -> np.ndarray:
        return self._best(tree, tree.child_visits[:, ROOT_INDEX].max(axis=-1))


#: The root selection of ``MCTSConfig(search="gumbel")``.
GUMBEL_ROOT = GumbelRoot()
