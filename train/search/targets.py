"""What the policy head learns from one search: the visit distribution, or completed Q.

AlphaZero trains the policy towards the root's visit counts. With few simulations those
counts are coarse, and the root's Dirichlet noise spends some of them on moves the search
already knows are bad, so the target keeps mass on them. Gumbel AlphaZero (Danihelka et al.,
2022, "Policy improvement by planning with Gumbel") trains instead towards

    pi'(a) = softmax(log prior(a) + sigma(completed_q(a))),
    sigma(q) = (c_visit + max_b N(b)) * c_scale * q,

where ``completed_q`` is the search's Q of each visited move, completed for the moves the
search never tried. The paper completes them with a "mixed value", in effect the average of
the visited moves' Q; that suits its root search (sequential halving visits every move it
considers) but not PUCT, which leaves a move unvisited because it looks worse: after a
search that found a winning move and spent every simulation on it, the mixed value rates
every other move as winning too and the target falls back to the prior. Here an unvisited
move gets the lowest Q of the visited ones, and at most 0, a draw (the value the search
itself gives an untried move): never preferred to a move the search has seen, and not
credited with a win nobody has found.

The Q values are used as they are, in [-1, 1] with draws at 0, not min-max rescaled per
position: rescaling turns a difference of 0.01 between two moves into the full range and so
sharpens the target on noise. ``c_visit = 50`` and ``c_scale = 0.1`` are the paper's
defaults, which make a Q difference of 0.1 worth about one unit of logit at 64 simulations.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from train.search.search import SearchResult

PolicyTarget = Literal["visits", "completed-q"]
POLICY_TARGETS: tuple[str, ...] = get_args(PolicyTarget)


def visit_policy(result: SearchResult) -> np.ndarray:
    """float32[B, A]: the root's visit counts, normalised (AlphaZero's target)."""
    visits = result.visits.astype(np.float64)
    return (visits / visits.sum(axis=1, keepdims=True)).astype(np.float32)


def completed_q(result: SearchResult) -> np.ndarray:
    """float64[B, A]: each legal move's Q for the player to move at the root; a move the
    search did not visit gets the lowest Q among the visited ones, capped at 0 (a draw);
    0 where illegal."""
    visited = result.visits > 0
    q = result.q.astype(np.float64)
    lowest = np.minimum(np.where(visited, q, np.inf).min(axis=1, keepdims=True), 0.0)
    return np.where(result.legal, np.where(visited, q, lowest), 0.0)


def completed_q_policy(
    result: SearchResult, c_visit: float = 50.0, c_scale: float = 0.1
) -> np.ndarray:
    """float32[B, A]: ``softmax(log prior + sigma(completed Q))`` over the legal moves (see
    the module docstring), zero on illegal moves.

    Args:
        result: a search of ``B`` positions.
        c_visit, c_scale: ``sigma(q) = (c_visit + max visits) * c_scale * q``.
    """
    scale = (c_visit + result.visits.max(axis=1, keepdims=True)) * c_scale
    # A legal move whose prior underflowed to 0 stays possible: its logit is very low, not -inf.
    log_prior = np.log(np.maximum(result.priors.astype(np.float64), 1e-12))
    logits = np.where(result.legal, log_prior + scale * completed_q(result), -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def search_policy(result: SearchResult, kind: PolicyTarget) -> np.ndarray:
    """float32[B, A]: the policy target of kind ``kind`` (one of :data:`POLICY_TARGETS`)."""
    if kind == "visits":
        return visit_policy(result)
    if kind == "completed-q":
        return completed_q_policy(result)
    raise ValueError(f"unknown policy target {kind!r}; choose from {POLICY_TARGETS}")
