"""The oracle for ``train/mcts.py``: a plain PUCT search of one game, written for clarity.

Node objects, a dict of children, one leaf per evaluator call, scalar Python arithmetic.
It applies the same rule as the batched search (AlphaZero's PUCT, the node's own evaluation
counted as one visit, first-play value ``config.fpu_value``, ties to the lowest action), so
with a deterministic evaluator and no noise the two must produce identical visit counts.
Also here: a deterministic stand-in network (:func:`hashed_evaluator`) and test positions.
"""

from __future__ import annotations

import math

import numpy as np

from envs.core import Game, State, stack_states
from train.mcts import Evaluator, MCTSConfig


class Node:
    """A position in the tree, with the statistics of the simulations through it."""

    def __init__(self, game: Game, state: State) -> None:
        self.state = state
        self.legal = [bool(x) for x in game.legal_mask(state)]
        self.terminal = bool(game.is_terminal(state))
        self.outcome = float(game.terminal_value(state))  # for the player to move here
        self.priors: list[float] = []
        self.children: dict[int, Node] = {}
        self.visits = 0
        self.value_sum = 0.0  # for the player to move at this node

    def mean_value(self) -> float:
        return self.value_sum / self.visits

    def expand(self, game: Game, evaluate: Evaluator) -> float:
        """Ask the evaluator about this one position; return its value."""
        batch_of_one = State(self.state.own[None], self.state.opp[None], self.state.ply[None])
        priors, values = evaluate(batch_of_one, np.array([self.legal]))
        self.priors = [float(p) for p in np.asarray(priors, dtype=np.float32)[0]]
        return float(values[0])

    def best_action(self, config: MCTSConfig) -> int:
        n = float(self.visits)
        c = config.c_puct_init + math.log((n + config.c_puct_base + 1) / config.c_puct_base)
        fpu = self.mean_value() if config.fpu_value is None else config.fpu_value
        best, best_score = -1, -math.inf
        for action, legal in enumerate(self.legal):
            if not legal:
                continue
            child = self.children.get(action)
            visits = child.visits if child else 0
            # The child's value is for its player to move: the opponent of ours.
            q = -child.mean_value() if child and child.visits else fpu
            score = q + (c * math.sqrt(n)) * self.priors[action] / (1 + visits)
            if score > best_score:  # strict: ties keep the lowest action
                best, best_score = action, score
        return best


def reference_search(
    game: Game, state: State, evaluate: Evaluator, config: MCTSConfig
) -> tuple[np.ndarray, np.ndarray, float]:
    """Search one position (shape ``()``); return root visits int[A], q float[A], root value."""
    root = Node(game, state)
    root.value_sum = root.expand(game, evaluate)
    root.visits = 1
    for _ in range(config.num_simulations):
        node, path = root, [root]
        while True:
            action = node.best_action(config)
            if action not in node.children:
                child = Node(game, game.step(node.state, action))
                node.children[action] = child
                path.append(child)
                value = child.outcome if child.terminal else child.expand(game, evaluate)
                break
            node = node.children[action]
            path.append(node)
            if node.terminal:
                value = node.outcome
                break
        for visited in reversed(path):
            visited.visits += 1
            visited.value_sum += value
            value = -value  # one ply up, the other player is to move
    visits = np.zeros(game.num_actions, dtype=np.int64)
    q = np.zeros(game.num_actions)
    for action, child in root.children.items():
        visits[action] = child.visits
        q[action] = -child.mean_value()
    return visits, q, root.mean_value()


def _mix(x: np.ndarray) -> np.ndarray:
    """uint64: the splitmix64 finaliser, a cheap well-scrambling hash."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def hashed_evaluator(states: State, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic, position-dependent, uneven priors and values: a stand-in network."""
    key = _mix(np.atleast_1d(states.own) * np.uint64(0x9E3779B97F4A7C15))
    key = _mix(key ^ np.atleast_1d(states.opp))
    actions = np.arange(legal.shape[-1], dtype=np.uint64)
    per_action = _mix(key[:, None] + actions * np.uint64(0xD1B54A32D192ED03)) >> np.uint64(11)
    weights = np.where(legal, 0.05 + per_action / 2.0**53, 0.0)
    priors = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
    values = ((_mix(key ^ np.uint64(12345)) >> np.uint64(11)) / 2.0**53 * 2 - 1).astype(np.float32)
    return priors, values


def random_positions(game: Game, n: int, seed: int) -> State:
    """``n`` unfinished positions reached by random play, at assorted depths."""
    rng = np.random.default_rng(seed)
    found: list[State] = []
    while len(found) < n:
        state = game.initial_state()
        for _ in range(rng.integers(0, game.num_cells - 2)):
            legal = np.flatnonzero(game.legal_mask(state))
            nxt = game.step(state, rng.choice(legal))
            if game.is_terminal(nxt):
                break
            state = nxt
        found.append(state)
    return stack_states(found)
