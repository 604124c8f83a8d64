"""The oracle: a one-leaf reference search, a plain PUCT search of one game written for clarity.

Node objects, a dict of children, one leaf per evaluator call, scalar Python arithmetic.
It applies the same rule as the batched search in ``train/search/search.py`` (AlphaZero's
PUCT, ``train/search/puct.py``: the node's own evaluation counted as one visit, first-play
value ``config.fpu_value``, ties to the lowest action), so with a deterministic evaluator and
no noise the two must produce identical visit counts: it is the oracle of
``tests/test_mcts.py``, and the baseline that ``scripts/benchmark_selfplay.py`` measures the
batched search against. It knows only the PUCT root and interior selection; another
selection rule brings its own oracle.
"""

from __future__ import annotations

import math

import numpy as np

from envs.core import Game, State
from train.search.protocols import Evaluator
from train.search.puct import MCTSConfig


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
        priors, values = evaluate(State.stack([self.state]), np.array([self.legal]))
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
    for _ in range(config.simulations):
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
