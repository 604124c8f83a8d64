"""The search tree: the trees of a batch of games as a handful of arrays, and what changes them.

The layout follows DeepMind's mctx: the trees of ``B`` games are arrays indexed ``[game,
node]`` or ``[game, node, action]``, with ``N`` node slots per game (a search of ``S``
simulations needs ``N = S + 1``: the root, plus at most one new node per simulation). The
positions themselves are one :class:`~envs.core.State` of shape ``[B, N]``, written and read
only through State's helpers, so the tree never knows how a position is laid out.

Sign convention: every value in the tree is from the view of the player to move *at the node
that stores it*; a child's value, seen from its parent, is its negation, and the edge
statistics ``child_value_sums[b, n, a]`` are already from the view of the player choosing at
``n``.

The functions here are shared by every way of choosing actions (``train/search/puct.py``
today, Gumbel root search later): :func:`init_tree` puts evaluated roots in,
:func:`descend` walks from the roots to the edges a simulation adds, :func:`expand` creates
and evaluates the new leaves, :func:`backup` adds their values along the paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from envs.core import Game, State

if TYPE_CHECKING:
    from train.search.protocols import Evaluator, InteriorSelection
    from train.search.puct import MCTSConfig

ROOT_INDEX = 0
UNVISITED = -1  # in ``children``: the edge has not been expanded yet
NO_PARENT = -1  # in ``parents``: the root


@dataclass
class Tree:
    """The trees of a batch of games, as arrays (mutated in place during one search).

    Shapes: ``[B, N]`` per node, ``[B, N, A]`` per edge. Node ``ROOT_INDEX`` is the root;
    node ``s + 1`` is the one created by simulation ``s`` (unused if that simulation ended
    on an already known terminal node).

    Attributes:
        states: State[B, N] the position of each node.
        terminal: bool[B, N] the node's game is over (it has no legal move).
        parents: int32[B, N] the parent node, ``NO_PARENT`` at the root.
        actions: int32[B, N] the action that led here from the parent (-1 at the root).
        visits: int32[B, N] the node's own evaluation counts as one.
        value_sums: float64[B, N] for the player to move at the node.
        legal: bool[B, N, A] the node's legal actions.
        priors: float64[B, N, A] the evaluator's priors (the root's maybe with noise).
        children: int32[B, N, A] the child node of each edge, or ``UNVISITED``.
        child_visits: int32[B, N, A] visits through each edge.
        child_value_sums: float64[B, N, A] for the player to move at the parent.
    """

    states: State
    terminal: np.ndarray
    parents: np.ndarray
    actions: np.ndarray
    visits: np.ndarray
    value_sums: np.ndarray
    legal: np.ndarray
    priors: np.ndarray
    children: np.ndarray
    child_visits: np.ndarray
    child_value_sums: np.ndarray

    @classmethod
    def empty(cls, game: Game, batch: int, nodes: int) -> Tree:
        """A tree with ``nodes`` empty slots for each of ``batch`` games."""

        def per_node(dtype, fill=0):
            return np.full((batch, nodes), fill, dtype=dtype)

        def per_edge(dtype, fill=0):
            return np.full((batch, nodes, game.num_actions), fill, dtype=dtype)

        return cls(
            states=game.initial_state((batch, nodes)),
            terminal=per_node(bool, False),
            parents=per_node(np.int32, NO_PARENT),
            actions=per_node(np.int32, -1),
            visits=per_node(np.int32),
            value_sums=per_node(np.float64),
            legal=per_edge(bool, False),
            priors=per_edge(np.float64),
            children=per_edge(np.int32, UNVISITED),
            child_visits=per_edge(np.int32),
            child_value_sums=per_edge(np.float64),
        )

    @property
    def batch(self) -> int:
        return self.visits.shape[0]


def init_tree(
    game: Game,
    roots: State,
    legal: np.ndarray,
    priors: np.ndarray,
    values: np.ndarray,
    nodes: int,
) -> Tree:
    """A tree of ``nodes`` slots per game holding the evaluated roots, one visit each.

    Args:
        game: the rules.
        roots: State[B] unfinished positions.
        legal: bool[B, A] their legal moves.
        priors: float32[B, A] the evaluator's priors at the roots.
        values: float[B] the evaluator's values, for the player to move at each root.
        nodes: node slots per game (``simulations + 1``).
    """
    tree = Tree.empty(game, len(roots), nodes)
    _set_nodes(tree, np.arange(len(roots)), np.full(len(roots), ROOT_INDEX), roots, legal)
    tree.priors[:, ROOT_INDEX] = priors
    tree.visits[:, ROOT_INDEX] = 1
    tree.value_sums[:, ROOT_INDEX] = values
    return tree


def descend(
    tree: Tree,
    root_actions: np.ndarray,
    select_interior: InteriorSelection,
    config: MCTSConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walk every tree from its root to an unexpanded edge or a terminal node.

    The loop runs over depth, never over games: at the root every game takes its action in
    ``root_actions`` (int[B]); below it, ``select_interior`` chooses for all the games
    still descending at once.

    Returns:
        parents: int[B] the last node each descent chose an action at;
        actions: int[B] the action chosen there;
        leaves: int[B] the terminal node reached, or ``UNVISITED`` when the edge is new.
    """
    batch = tree.batch
    parents = np.zeros(batch, dtype=np.int64)
    actions = np.zeros(batch, dtype=np.int64)
    leaves = np.full(batch, UNVISITED, dtype=np.int64)
    games = np.arange(batch)  # the games still descending
    nodes = np.full(batch, ROOT_INDEX, dtype=np.int64)
    chosen = root_actions
    while True:
        child = tree.children[games, nodes, chosen]
        parents[games], actions[games] = nodes, chosen
        expanded = child != UNVISITED
        at_terminal = expanded & tree.terminal[games, np.maximum(child, 0)]
        leaves[games[at_terminal]] = child[at_terminal]
        go_on = expanded & ~at_terminal
        games, nodes = games[go_on], child[go_on]
        if not len(games):
            return parents, actions, leaves
        chosen = select_interior(tree, games, nodes, config)


def expand(
    tree: Tree,
    game: Game,
    evaluate: Evaluator,
    slot: int,
    parents: np.ndarray,
    actions: np.ndarray,
    leaves: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Create the new leaves of one simulation in node ``slot``, and value every leaf.

    Args:
        parents, actions, leaves: int[B] what :func:`descend` returned.

    Returns:
        leaves: int[B] the leaf node of each game (new, or an already known terminal node);
        values: float64[B] its value for its player to move.
    """
    leaves = leaves.copy()
    values = np.zeros(len(leaves), dtype=np.float64)
    new = leaves == UNVISITED
    # A known terminal node is revisited: every visit backed up the same outcome, so its
    # mean value is that outcome. (The ``if``s here and below skip numpy calls on empty
    # selections, most of a simulation's cost when only a few games take that branch.)
    if not new.all():
        known = np.flatnonzero(~new)
        values[known] = tree.value_sums[known, leaves[known]] / tree.visits[known, leaves[known]]
    new = np.flatnonzero(new)
    if len(new) == 0:
        return leaves, values
    at, actions = parents[new], actions[new]
    states = game.step(tree.states[new, at], actions)
    legal = game.legal_mask(states)
    _set_nodes(tree, new, np.full(len(new), slot), states, legal)
    tree.parents[new, slot] = at
    tree.actions[new, slot] = actions
    tree.children[new, at, actions] = slot
    leaves[new] = slot

    # Finished games take their true outcome; only the others cost an evaluator call.
    terminal = tree.terminal[new, slot]  # no legal move: set from ``legal`` just above
    if terminal.any():
        values[new[terminal]] = game.terminal_value(states[terminal])
        if terminal.all():
            return leaves, values
        new, states, legal = new[~terminal], states[~terminal], legal[~terminal]
    priors, leaf_values = evaluate(states, legal)
    tree.priors[new, slot] = np.asarray(priors, dtype=np.float32)
    values[new] = leaf_values
    return leaves, values


def backup(tree: Tree, leaves: np.ndarray, values: np.ndarray) -> None:
    """Add each leaf's value (float[B], for its player to move) to every node on its path
    to the root, negating at each ply; ``leaves`` is int[B]."""
    # One ply per pass, all games at once, through flat views of the arrays: a game's nodes
    # are at ``game * N + node``, its edges at ``(game * N + node) * A + action``. Every
    # index of a pass is distinct (one node per game), so plain ``+=`` adds each value once.
    nodes_per_game, num_actions = tree.child_visits.shape[1:]
    visits, value_sums = _flat(tree.visits), _flat(tree.value_sums)
    parents_of, actions_of = _flat(tree.parents), _flat(tree.actions)
    edge_visits, edge_sums = _flat(tree.child_visits), _flat(tree.child_value_sums)
    offsets = np.arange(len(leaves), dtype=np.int64) * nodes_per_game  # each game's node 0
    at = offsets + leaves
    values = values.astype(np.float64)
    visits[at] += 1
    value_sums[at] += values
    while True:
        parents = parents_of[at]
        up = parents != NO_PARENT
        if not up.all():
            if not up.any():
                return
            at, parents, offsets, values = at[up], parents[up], offsets[up], values[up]
        values = -values  # the parent's player to move is the child's opponent
        parent_at = offsets + parents
        edges = parent_at * num_actions + actions_of[at]
        edge_visits[edges] += 1
        edge_sums[edges] += values
        visits[parent_at] += 1
        value_sums[parent_at] += values
        at = parent_at


def _flat(array: np.ndarray) -> np.ndarray:
    """A 1-d view of ``array`` (writes go through to it)."""
    if not array.flags.c_contiguous:
        raise ValueError("the tree's arrays must be C-contiguous")
    return array.reshape(-1)


def _set_nodes(
    tree: Tree, games: np.ndarray, nodes: np.ndarray, states: State, legal: np.ndarray
) -> None:
    tree.states.set_rows((games, nodes), states)
    tree.legal[games, nodes] = legal
    tree.terminal[games, nodes] = ~legal.any(axis=-1)
