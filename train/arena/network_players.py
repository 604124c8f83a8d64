"""Players built from evaluators: the network alone, and search with any evaluator.

Both follow :class:`envs.players.Player`; :mod:`train.arena.specs` builds them from the specs
scripts take on the command line (``"PATH.pt"``, ``"PATH.pt:sims=200"``, ``"mcts:1000"``).
"""

from __future__ import annotations

import numpy as np

from envs.core import Game, State
from envs.players import sample_masked
from train.search.search import Evaluator, MCTSConfig, search, select_action


class PolicyPlayer:
    """The network alone: the most likely move of the evaluator's priors (or a sample).

    With ``temperature`` T > 0 a move is drawn with probability proportional to
    ``prior ** (1 / T)``; with T = 0 the highest prior is played (ties to the lowest action).
    """

    def __init__(
        self, game: Game, evaluate: Evaluator, temperature: float = 0.0, name: str = "network"
    ) -> None:
        self.game = game
        self.evaluate = evaluate
        self.temperature = temperature
        self.name = name

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        legal = self.game.legal_mask(state)
        priors, _ = self.evaluate(state, legal)
        priors = np.asarray(priors, dtype=np.float64)
        if self.temperature == 0:
            return np.argmax(np.where(legal, priors, -np.inf), axis=-1).astype(np.int64)
        # Work in log space so small temperatures don't underflow every weight to zero.
        logits = np.log(np.maximum(priors, 1e-30)) / self.temperature
        logits = np.where(legal, logits, -np.inf)
        weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return sample_masked(weights, rng)


class SearchPlayer:
    """MCTS with any evaluator (a network, or random rollouts), playing its most visited move.

    No root noise; ties between equally visited moves are broken at random by
    ``train.search.search.select_action``. A Gumbel search (``MCTSConfig(search="gumbel")``)
    plays its own recommendation, the best of its most visited moves, instead.
    """

    def __init__(
        self, game: Game, evaluate: Evaluator, mcts_config: MCTSConfig, name: str = "mcts"
    ) -> None:
        self.game = game
        self.evaluate = evaluate
        self.config = mcts_config
        self.name = name

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        result = search(self.game, state, self.evaluate, self.config, rng)
        if self.config.search == "gumbel":
            return result.action
        return np.asarray(select_action(result.visits, 0.0, rng), dtype=np.int64)
