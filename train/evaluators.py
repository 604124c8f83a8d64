"""Evaluators: what scores the leaves of a search, all behind one batched callable.

An evaluator is called as ``evaluate(states, legal)`` with ``states: State[K]`` (unfinished
positions) and ``legal: bool[K, A]``, and returns ``(priors float32[K, A], values
float32[K])``: a distribution over the legal moves and a value in [-1, 1] **from the view of
the player to move**. The search (``train/mcts.py``) neither knows nor cares which one it
calls, so uniform priors, random rollouts and the network plug into the same slot.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from envs.core import Game, State
from envs.players import sample_masked
from models.net import predict


def uniform_priors(legal: np.ndarray) -> np.ndarray:
    """float32[K, A]: equal probability on each legal move of each row."""
    legal = np.asarray(legal, dtype=np.float32)
    return legal / np.maximum(legal.sum(axis=-1, keepdims=True), 1.0)


class UniformEvaluator:
    """Uniform priors and a value of 0: search guided by nothing but the rules."""

    def __init__(self, game: Game) -> None:
        self.game = game

    def __call__(self, states: State, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return uniform_priors(legal), np.zeros(len(states), dtype=np.float32)


class RolloutEvaluator:
    """Uniform priors, and the mean outcome of ``rollouts`` random playouts as the value.

    The playouts of all leaves (``K * rollouts`` games) advance together, one numpy step per
    ply, until every one has ended; this is classic Monte Carlo tree search's evaluation.
    """

    def __init__(self, game: Game, rng: np.random.Generator, rollouts: int = 1) -> None:
        if rollouts < 1:
            raise ValueError(f"rollouts must be >= 1, got {rollouts}")
        self.game = game
        self.rng = rng
        self.rollouts = rollouts

    def __call__(self, states: State, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        game = self.game
        r = self.rollouts
        start = State(np.repeat(states.own, r), np.repeat(states.opp, r), np.repeat(states.ply, r))
        own, opp, ply = start.own.copy(), start.opp.copy(), start.ply.copy()
        playing = np.flatnonzero(~game.is_terminal(start))
        while len(playing):
            current = State(own[playing], opp[playing], ply[playing])
            moves = game.legal_mask(current).astype(np.float64)
            after = game.step(current, sample_masked(moves, self.rng))
            own[playing], opp[playing], ply[playing] = after.own, after.opp, after.ply
            playing = playing[~game.is_terminal(after)]
        final = State(own, opp, ply)
        # The outcome is for whoever is to move at the end; flip it for each ply of difference.
        sign = np.where((ply - start.ply) % 2 == 0, 1.0, -1.0)
        values = (game.terminal_value(final) * sign).reshape(len(states), self.rollouts)
        return uniform_priors(legal), values.mean(axis=1).astype(np.float32)


class NetworkEvaluator:
    """The policy-value network's move probabilities and value.

    ``model(obs float32[K, planes, rows, cols], legal bool[K, A]) -> (logits[K, A],
    value[K])`` (``models/net.py``) runs in eval mode under ``torch.inference_mode``; its
    logits become probabilities over the legal moves.
    """

    def __init__(self, model: nn.Module, game: Game, device: str | torch.device = "cpu") -> None:
        self.model = model
        self.game = game
        self.device = torch.device(device)

    def __call__(self, states: State, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        obs = self.game.observation(states)
        priors, values = predict(self.model, obs, legal, device=self.device)
        return priors.astype(np.float32), values.astype(np.float32)
