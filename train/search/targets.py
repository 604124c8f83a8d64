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

Gumbel root search (``train/search/gumbel.py``) is the search the paper's completion was made
for, and :func:`gumbel_policy` follows it as mctx does (``qtransform_completed_by_mix_value``):
an unvisited move gets the *mixed value* (:func:`mixed_value`: the root's own evaluation
averaged with the prior-weighted Q of the visited moves), and the completed Q values are
rescaled to [0, 1] by their minimum and maximum over the legal moves before ``sigma``, with
``c_visit`` and ``c_scale`` from the search's config. The same pieces (:func:`sigma`,
:func:`improved_policy`, :func:`mixed_completed_q`) give Gumbel MuZero's interior rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

if TYPE_CHECKING:  # at run time search.py imports gumbel.py, which imports this module
    from train.search.puct import MCTSConfig
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


def sigma(q: np.ndarray, visits: np.ndarray, c_visit: float, c_scale: float) -> np.ndarray:
    """float64[K, A]: ``(c_visit + max_b N(b)) * c_scale * q``, the paper's monotone transform
    of each row's completed Q values ``q`` (float[K, A]) by its visits ``N`` (int[K, A])."""
    scale = (c_visit + visits.max(axis=-1, keepdims=True).astype(np.float64)) * c_scale
    return scale * q.astype(np.float64)


def log_priors(priors: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """float64[K, A]: the log of the priors (float[K, A]) on the legal moves (bool[K, A]),
    -inf elsewhere. A legal move whose prior underflowed to 0 stays possible: its logit is
    very low, not -inf."""
    return np.where(legal, np.log(np.maximum(priors.astype(np.float64), 1e-12)), -np.inf)


def improved_policy(priors: np.ndarray, legal: np.ndarray, sigma_q: np.ndarray) -> np.ndarray:
    """float64[K, A]: ``softmax(log prior + sigma_q)`` over each row's legal moves, zero on
    illegal ones (``priors``, ``sigma_q``: float[K, A]; ``legal``: bool[K, A])."""
    logits = log_priors(priors, legal) + np.where(legal, sigma_q, 0.0)
    logits -= logits.max(axis=-1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=-1, keepdims=True)


def completed_q_policy(
    result: SearchResult, c_visit: float = 50.0, c_scale: float = 0.1
) -> np.ndarray:
    """float32[B, A]: ``softmax(log prior + sigma(completed Q))`` over the legal moves, with
    :func:`completed_q` (for PUCT's search: see the module docstring), zero on illegal moves.

    Args:
        result: a search of ``B`` positions.
        c_visit, c_scale: ``sigma(q) = (c_visit + max visits) * c_scale * q``.
    """
    sigma_q = sigma(completed_q(result), result.visits, c_visit, c_scale)
    return improved_policy(result.priors, result.legal, sigma_q).astype(np.float32)


def mixed_value(
    raw_value: np.ndarray, q: np.ndarray, visits: np.ndarray, priors: np.ndarray
) -> np.ndarray:
    """float64[K]: mctx's mixed value, ``(v + sum_b N(b) * sum_visited p(a) q(a) /
    sum_visited p(a)) / (1 + sum_b N(b))``: the node's own evaluation ``v`` (float[K])
    averaged, with weight one visit, with the prior-weighted mean Q of its visited moves
    (``q``, ``priors``: float[K, A]; ``visits``: int[K, A])."""
    visited = visits > 0
    n = visits.sum(axis=-1).astype(np.float64)
    # A visited move with prior 0 still counts, with the smallest weight there is.
    p = np.where(visited, np.maximum(priors.astype(np.float64), np.finfo(np.float64).tiny), 0.0)
    p_sum = p.sum(axis=-1)
    weighted_q = (p * q).sum(axis=-1) / np.where(p_sum > 0, p_sum, 1.0)
    return (raw_value.astype(np.float64) + n * weighted_q) / (n + 1)


def mixed_completed_q(
    raw_value: np.ndarray,
    q: np.ndarray,
    visits: np.ndarray,
    priors: np.ndarray,
    legal: np.ndarray,
) -> np.ndarray:
    """float64[K, A]: Gumbel's completed Q, rescaled to [0, 1]: each visited move's ``q``,
    the :func:`mixed_value` for the unvisited ones, then ``(q - min) / max(max - min, 1e-8)``
    with the minimum and maximum over each row's legal moves (mctx takes them over every
    action, illegal ones completed too); 0 on illegal moves.

    Args:
        raw_value: float[K] the node's own evaluation, for the player choosing there.
        q: float[K, A] mean value of each move for that player (read only where visited).
        visits: int[K, A]; priors: float[K, A]; legal: bool[K, A].
    """
    value = mixed_value(raw_value, q, visits, priors)[:, None]
    completed = np.where(visits > 0, q.astype(np.float64), value)
    low = np.where(legal, completed, np.inf).min(axis=-1, keepdims=True)
    high = np.where(legal, completed, -np.inf).max(axis=-1, keepdims=True)
    return np.where(legal, (completed - low) / np.maximum(high - low, 1e-8), 0.0)


def gumbel_policy(result: SearchResult, config: MCTSConfig) -> np.ndarray:
    """float32[B, A]: Gumbel MuZero's policy target (mctx's ``action_weights``),
    ``softmax(log prior + sigma(mixed_completed_q))`` with ``config.c_visit`` and
    ``config.c_scale``, zero on illegal moves."""
    if result.raw_value is None:
        raise ValueError("the Gumbel policy target needs the search's raw_value")
    completed = mixed_completed_q(
        result.raw_value, result.q, result.visits, result.priors, result.legal
    )
    sigma_q = sigma(completed, result.visits, config.c_visit, config.c_scale)
    return improved_policy(result.priors, result.legal, sigma_q).astype(np.float32)


def search_policy(result: SearchResult, kind: PolicyTarget) -> np.ndarray:
    """float32[B, A]: the policy target of kind ``kind`` (one of :data:`POLICY_TARGETS`)."""
    if kind == "visits":
        return visit_policy(result)
    if kind == "completed-q":
        return completed_q_policy(result)
    raise ValueError(f"unknown policy target {kind!r}; choose from {POLICY_TARGETS}")
