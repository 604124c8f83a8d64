"""The seams of the search: what each pluggable part is called with and must return.

- :data:`Evaluator` scores leaves (``train/search/evaluators.py``: uniform, rollouts, the
  network);
- :class:`RootSelection` (with the per-search :class:`RootPlan` it starts) chooses the root
  action of every simulation and the move a search recommends: AlphaZero's PUCT root today
  (``train.search.puct.PuctRoot``) and Gumbel root search (``train.search.gumbel.GumbelRoot``);
- :class:`InteriorSelection` chooses the actions below the root (``train.search.puct.
  puct_actions``);
- :class:`SearchFunction` is the signature of ``train.search.search.search`` itself, the
  contract a second implementation (the GPU twin) fills.

Protocols only: nothing here runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from envs.core import Game, State

if TYPE_CHECKING:
    from train.search.puct import MCTSConfig
    from train.search.search import SearchResult
    from train.search.tree import Tree

#: ``evaluate(states[K], legal bool[K, A]) -> (priors float32[K, A], values float32[K])``:
#: priors over the legal moves, values in [-1, 1] from the view of the player to move (see
#: ``train/search/evaluators.py``). Called once for the roots and once per simulation with
#: the new unfinished leaves; it may keep its model (and its tensors) on any device, the
#: search only sees numpy arrays.
Evaluator = Callable[[State, np.ndarray], tuple[np.ndarray, np.ndarray]]


class RootPlan(Protocol):
    """One search's root policy, made by :meth:`RootSelection.start` (it may hold state for
    that search alone: sampled noise, the candidates still in play)."""

    def select(self, tree: Tree, simulation: int) -> np.ndarray:
        """int[B]: the legal root action each game's descent takes in simulation
        ``simulation`` (0, 1, ..., ``config.simulations - 1``)."""
        ...

    def action(self, tree: Tree) -> np.ndarray:
        """int[B]: the move the finished search recommends in each game (the search's
        ``SearchResult.action``). It must draw no random numbers: play that samples or
        breaks ties at random does so outside the search (``select_action``)."""
        ...


class RootSelection(Protocol):
    """How a search treats its roots.

    ``start`` is called once per search, after the roots are evaluated and before the first
    simulation, with the tree holding the roots (``tree.priors[:, ROOT_INDEX]`` the
    evaluator's priors). It may change the root priors (AlphaZero's Dirichlet noise) and
    draw from ``rng``; ``add_noise`` asks for self-play exploration. It returns the
    :class:`RootPlan` of this search.

    Gumbel root search (Danihelka et al. 2022, "Policy improvement by planning with
    Gumbel") is one, ``train.search.gumbel.GumbelRoot``: ``start`` draws Gumbel noise
    (when ``add_noise``) and keeps the top-k actions by noise + logits; ``select`` follows
    sequential halving's schedule over the candidates still in play, by noise + logits +
    sigma(completed Q); ``action`` is the survivor, and its policy target is
    ``train.search.targets.gumbel_policy``.
    """

    def start(
        self, tree: Tree, config: MCTSConfig, rng: np.random.Generator, add_noise: bool
    ) -> RootPlan: ...


class InteriorSelection(Protocol):
    """``select(tree, games int[K], nodes int[K], config) -> int[K]``: the action to take at
    node ``nodes[k]`` of game ``games[k]``, for all ``K`` descents below the root at once.

    It reads the tree's statistics and must choose a legal action; it draws no random
    numbers (the search must stay reproducible and match its oracle): PUCT
    (``train.search.puct.puct_actions``), or Gumbel MuZero's deterministic rule
    (``train.search.gumbel.gumbel_interior_actions``).
    """

    def __call__(
        self, tree: Tree, games: np.ndarray, nodes: np.ndarray, config: MCTSConfig
    ) -> np.ndarray: ...


class SearchFunction(Protocol):
    """The contract of ``train.search.search.search``, for a second implementation.

    A GPU twin of the search goes in ``train/search/gpu.py``: the same arrays as
    ``train/search/tree.py`` held as torch tensors on the device, the same steps as batched
    tensor operations, an evaluator that takes device tensors so positions never cross to
    the host during a search, and a :class:`SearchResult` of numpy arrays at the end. It is
    correct when ``tests/test_mcts.py``'s oracle test (identical visit counts to
    ``train/search/reference.py``) passes for it too.
    """

    def __call__(
        self,
        game: Game,
        states: State,
        evaluate: Evaluator,
        config: MCTSConfig,
        rng: np.random.Generator,
        add_noise: bool = False,
    ) -> SearchResult: ...
