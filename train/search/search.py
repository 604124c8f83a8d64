"""Batched PUCT search: one tree per game, all trees in a handful of arrays, in lock-step.

The design follows DeepMind's mctx: the trees of a batch of ``B`` games are arrays indexed
``[game, node]`` or ``[game, node, action]``, with ``N = simulations + 1`` node slots
(the root, plus at most one new node per simulation). Each simulation

1. **selects** a leaf in every game at once: a descent from the root that loops over depth,
   never over games, choosing at each node the action with the best PUCT score;
2. **expands** the new leaves: finished positions take their true outcome
   (``game.terminal_value``); the others go to the evaluator in *one* batched call;
3. **backs up** the leaf values to the root, negating at each ply.

Sign convention: every value in the tree is from the view of the player to move *at the node
that stores it*; a child's value, seen from its parent, is its negation. ``q[b, a]`` in the
result is from the view of the player to move at the root.

PUCT (AlphaZero pseudocode, Silver et al. 2018, ``ucb_score``)::

    score(a) = Q(a) + c(N) * P(a) * sqrt(N) / (1 + N(a)),
    c(N)     = c_puct_init + log((N + c_puct_base + 1) / c_puct_base)

where ``N`` is the visit count of the node (its own evaluation counts as one visit, as in
mctx, so the priors steer even the first descent through a fresh node) and ``N(a)`` that of
child ``a``. Ties go to the lowest action index (``np.argmax``); the reference search in
``train/search/reference.py`` does the same, which is what lets the two agree exactly.

Subtree reuse (keeping the chosen child's subtree for the next move) is not implemented.
Measured in Connect Four self-play (32 games, default temperature), the chosen child held
only 17-33% of the visits in the opening and 32-59% later (50-200 simulations, uniform,
hashed and untrained-network evaluators), so reuse would save at most that share of the
evaluations, at the price of re-indexing every tree and of games needing different numbers
of new simulations in one lock-step batch. Worth revisiting if self-play time dominates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from envs.core import Game, State
from envs.players import sample_masked

ROOT_INDEX = 0
UNVISITED = -1  # in ``children``: the edge has not been expanded yet
NO_PARENT = -1  # in ``parents``: the root

#: ``evaluate(states[K], legal bool[K, A]) -> (priors float32[K, A], values float32[K])``,
#: values from the view of the player to move (see ``train/search/evaluators.py``).
Evaluator = Callable[[State, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class MCTSConfig:
    """Search settings. Defaults from AlphaZero (Silver et al., 2018, pseudocode) unless noted.

    Attributes:
        simulations: leaves added per search (evaluator calls = 1 + simulations).
        c_puct_init: the exploration constant ``c_init`` of AlphaZero's PUCT (1.25).
        c_puct_base: ``c_base`` (19652); with a few hundred simulations ``c`` stays ~1.25.
        dirichlet_alpha: root-noise concentration. AlphaZero used 0.3 for chess (~35 legal
            moves) and 0.03 for Go (~250), i.e. about 10 / legal moves; tic-tac-toe and
            Connect Four have at most 9 and 7, so 10 / moves is ~1.1-1.4, and we take 1.0.
        dirichlet_fraction: weight of the noise in the root priors (0.25).
        fpu_value: the Q of a not-yet-visited child ("first-play urgency"), from the view of
            the player choosing. ``0.0`` (the default, as in the AlphaZero pseudocode rescaled
            to [-1, 1] values with draws at 0) treats an untried move as a draw; ``None``
            uses the node's current mean value (Leela Chess Zero's choice, with no
            reduction), which explores less in positions that are going well.
    """

    simulations: int = 100
    c_puct_init: float = 1.25
    c_puct_base: float = 19652.0
    dirichlet_alpha: float = 1.0
    dirichlet_fraction: float = 0.25
    fpu_value: float | None = 0.0

    def __post_init__(self) -> None:
        if self.simulations < 1:
            raise ValueError(f"simulations must be >= 1, got {self.simulations}")
        if self.dirichlet_alpha <= 0 or not 0 <= self.dirichlet_fraction <= 1:
            raise ValueError(f"invalid Dirichlet settings in {self}")


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
    """

    visits: np.ndarray
    q: np.ndarray
    root_value: np.ndarray
    priors: np.ndarray
    legal: np.ndarray


@dataclass
class _Tree:
    """The trees of a batch of games, as arrays (mutated in place during one search).

    Shapes: ``[B, N]`` per node, ``[B, N, A]`` per edge. Node ``ROOT_INDEX`` is the root;
    node ``s + 1`` is the one created by simulation ``s`` (unused if that simulation ended on
    an already known terminal node).
    """

    own: np.ndarray  # uint64[B, N] the node's position ...
    opp: np.ndarray  # uint64[B, N]
    ply: np.ndarray  # int32[B, N]
    terminal: np.ndarray  # bool[B, N]
    parents: np.ndarray  # int32[B, N], NO_PARENT at the root
    actions: np.ndarray  # int32[B, N] the action that led here from the parent
    visits: np.ndarray  # int32[B, N]
    value_sums: np.ndarray  # float64[B, N] for the player to move at the node
    legal: np.ndarray  # bool[B, N, A]
    priors: np.ndarray  # float64[B, N, A]
    children: np.ndarray  # int32[B, N, A] node index, or UNVISITED
    child_visits: np.ndarray  # int32[B, N, A]
    child_value_sums: np.ndarray  # float64[B, N, A] for the player to move at the parent

    @classmethod
    def empty(cls, batch: int, nodes: int, actions: int) -> _Tree:
        def per_node(dtype, fill=0):
            return np.full((batch, nodes), fill, dtype=dtype)

        def per_edge(dtype, fill=0):
            return np.full((batch, nodes, actions), fill, dtype=dtype)

        return cls(
            own=per_node(np.uint64),
            opp=per_node(np.uint64),
            ply=per_node(np.int32),
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


def search(
    game: Game,
    states: State,
    evaluate: Evaluator,
    config: MCTSConfig,
    rng: np.random.Generator,
    add_noise: bool = False,
) -> SearchResult:
    """Run ``config.simulations`` PUCT simulations from each of a batch of positions.

    Args:
        game: the rules.
        states: State[B] unfinished root positions.
        evaluate: the batched evaluator (one call per simulation, plus one for the roots).
        config: search settings.
        rng: the only source of randomness (the root's Dirichlet noise).
        add_noise: mix Dirichlet noise into the root priors (self-play exploration).

    Returns:
        a :class:`SearchResult` of arrays ``[B, ...]``.
    """
    if game.is_terminal(states).any():
        raise ValueError("search needs unfinished root positions")
    batch, actions = len(states), game.num_actions
    tree = _Tree.empty(batch, config.simulations + 1, actions)
    games = np.arange(batch)

    root_legal = game.legal_mask(states)
    root_priors, root_values = evaluate(states, root_legal)
    root_priors = np.asarray(root_priors, dtype=np.float32)
    noisy = _add_dirichlet_noise(root_priors, root_legal, config, rng) if add_noise else None
    _set_nodes(tree, games, np.full(batch, ROOT_INDEX), states, root_legal)
    tree.priors[:, ROOT_INDEX] = root_priors if noisy is None else noisy
    tree.visits[:, ROOT_INDEX] = 1
    tree.value_sums[:, ROOT_INDEX] = root_values

    for sim in range(config.simulations):
        parents, actions_taken, leaves = _select(tree, config)
        leaves, values = _expand(tree, game, evaluate, sim + 1, parents, actions_taken, leaves)
        _backup(tree, leaves, values)

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
    )


def _puct_scores(
    priors: np.ndarray,
    legal: np.ndarray,
    node_visits: np.ndarray,
    node_value_sums: np.ndarray,
    child_visits: np.ndarray,
    child_value_sums: np.ndarray,
    config: MCTSConfig,
) -> np.ndarray:
    """float64[K, A]: the PUCT score of each action at ``K`` nodes (-inf where illegal).

    Args:
        priors: float64[K, A]; legal: bool[K, A]; node_visits: int[K];
        node_value_sums: float64[K]; child_visits: int[K, A]; child_value_sums:
        float64[K, A] (values for the player choosing at the node).
    """
    n = node_visits.astype(np.float64)
    fpu = config.fpu_value if config.fpu_value is not None else (node_value_sums / n)[:, None]
    q = np.where(child_visits > 0, child_value_sums / np.maximum(child_visits, 1), fpu)
    c = config.c_puct_init + np.log((n + config.c_puct_base + 1) / config.c_puct_base)
    u = (c * np.sqrt(n))[:, None] * priors / (1 + child_visits)
    return np.where(legal, q + u, -np.inf)


def _select(tree: _Tree, config: MCTSConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Descend every tree from the root to an unexpanded edge or a terminal node.

    Returns:
        parents: int[B] the last node the descent chose an action at;
        actions: int[B] the action chosen there;
        leaves: int[B] the terminal node reached, or UNVISITED when the edge is new.
    """
    batch = tree.visits.shape[0]
    parents = np.zeros(batch, dtype=np.int64)
    actions = np.zeros(batch, dtype=np.int64)
    leaves = np.full(batch, UNVISITED, dtype=np.int64)
    games = np.arange(batch)  # the games still descending
    nodes = np.full(batch, ROOT_INDEX, dtype=np.int64)
    while len(games):
        scores = _puct_scores(
            tree.priors[games, nodes],
            tree.legal[games, nodes],
            tree.visits[games, nodes],
            tree.value_sums[games, nodes],
            tree.child_visits[games, nodes],
            tree.child_value_sums[games, nodes],
            config,
        )
        chosen = np.argmax(scores, axis=1)
        child = tree.children[games, nodes, chosen]
        parents[games], actions[games] = nodes, chosen
        expanded = child != UNVISITED
        at_terminal = expanded & tree.terminal[games, np.maximum(child, 0)]
        leaves[games[at_terminal]] = child[at_terminal]
        go_on = expanded & ~at_terminal
        games, nodes = games[go_on], child[go_on]
    return parents, actions, leaves


def _expand(
    tree: _Tree,
    game: Game,
    evaluate: Evaluator,
    slot: int,
    parents: np.ndarray,
    actions: np.ndarray,
    leaves: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Create the new leaves in node ``slot`` and value every leaf of this simulation.

    Returns:
        leaves: int[B] the leaf node of each game (new or an already known terminal node);
        values: float64[B] its value for its player to move.
    """
    leaves = leaves.copy()
    values = np.zeros(len(leaves), dtype=np.float64)
    # A known terminal node is revisited: every visit backed up the same outcome, so its
    # mean value is that outcome.
    known = np.flatnonzero(leaves != UNVISITED)
    values[known] = tree.value_sums[known, leaves[known]] / tree.visits[known, leaves[known]]

    new = np.flatnonzero(leaves == UNVISITED)
    if len(new) == 0:
        return leaves, values
    at, actions = parents[new], actions[new]
    states = game.step(State(tree.own[new, at], tree.opp[new, at], tree.ply[new, at]), actions)
    legal = game.legal_mask(states)
    _set_nodes(tree, new, np.full(len(new), slot), states, legal)
    tree.parents[new, slot] = at
    tree.actions[new, slot] = actions
    tree.children[new, at, actions] = slot
    leaves[new] = slot

    # Finished games take their true outcome; only the others cost an evaluator call.
    terminal = tree.terminal[new, slot]  # no legal move: set from ``legal`` just above
    values[new[terminal]] = game.terminal_value(states[terminal])
    if not terminal.all():
        priors, leaf_values = evaluate(states[~terminal], legal[~terminal])
        tree.priors[new[~terminal], slot] = np.asarray(priors, dtype=np.float32)
        values[new[~terminal]] = leaf_values
    return leaves, values


def _backup(tree: _Tree, leaves: np.ndarray, values: np.ndarray) -> None:
    """Add each leaf's value (for its player to move) to every node on its path to the root."""
    games = np.arange(len(leaves))
    nodes = leaves.astype(np.int64)
    values = values.astype(np.float64)
    tree.visits[games, nodes] += 1
    tree.value_sums[games, nodes] += values
    while True:
        parents = tree.parents[games, nodes]
        up = parents != NO_PARENT
        if not up.any():
            return
        games, nodes, parents = games[up], nodes[up], parents[up]
        values = -values[up]  # the parent's player to move is the child's opponent
        actions = tree.actions[games, nodes]
        tree.child_visits[games, parents, actions] += 1
        tree.child_value_sums[games, parents, actions] += values
        tree.visits[games, parents] += 1
        tree.value_sums[games, parents] += values
        nodes = parents


def _set_nodes(tree: _Tree, games: np.ndarray, nodes: np.ndarray, states: State, legal) -> None:
    tree.own[games, nodes] = states.own
    tree.opp[games, nodes] = states.opp
    tree.ply[games, nodes] = states.ply
    tree.legal[games, nodes] = legal
    tree.terminal[games, nodes] = ~legal.any(axis=-1)


def _add_dirichlet_noise(
    priors: np.ndarray, legal: np.ndarray, config: MCTSConfig, rng: np.random.Generator
) -> np.ndarray:
    """float32[B, A]: ``(1 - f) * priors + f * Dir(alpha)`` over each row's legal actions."""
    # A Dirichlet sample is a vector of independent Gamma(alpha) draws, normalised.
    gamma = np.where(legal, rng.gamma(config.dirichlet_alpha, size=priors.shape), 0.0)
    noise = gamma / np.maximum(gamma.sum(axis=-1, keepdims=True), np.finfo(np.float64).tiny)
    f = config.dirichlet_fraction
    return ((1 - f) * priors + f * noise).astype(np.float32)


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
