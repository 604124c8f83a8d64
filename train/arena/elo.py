"""Elo ratings fitted by maximum likelihood to the results of many duels.

The model is Bradley-Terry on the Elo scale: player ``i`` scores against player ``j`` with
expectation ``E_ij = 1 / (1 + 10 ** (-(r_i - r_j) / 400))``. A win counts 1 point and a draw
1/2, and the points of each pair are treated as binomial, so the log-likelihood is::

    L(r) = sum over pairs  S_ij log E_ij + S_ji log E_ji

with ``S_ij`` the points ``i`` took from ``j``. It is concave, and Newton's method (with a
backtracking line search, for safety far from the optimum) finds its maximum in a few steps.
Only differences are identified, so one player, the anchor (``"random"`` by default), is held
at exactly 0.

Standard errors come from the inverse of the observed information (minus the Hessian of
``L`` over the free ratings). Because a draw carries less variance than the binomial model
assumes, they are slightly conservative when games are drawn.

A player that won (or lost) every game has no finite maximum-likelihood rating. We add
``virtual_draws`` drawn games (default 1) to every pair of players that met: a light prior
that keeps ratings finite (a 100-0 sweep becomes a difference of about 920 Elo) and moves
well-measured ratings negligibly. With ``virtual_draws=0`` such data raise ``ValueError``
(the exact condition is checked before fitting; see ``_check_finite``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

ELO_PER_NAT = 400 / math.log(10)  # Elo points per unit of the logistic's natural scale


class DuelRecord(Protocol):
    """A duel's result from ``a``'s view, e.g. ``train.arena.duels.DuelResult``."""

    a: str
    b: str
    wins: int
    draws: int
    losses: int


#: A duel's result: a :class:`DuelRecord` or a tuple ``(a, b, wins, draws, losses)``.
DuelLike = DuelRecord | tuple[str, str, float, float, float]


def expected_score(difference: float | np.ndarray) -> float | np.ndarray:
    """The expected score of a player rated ``difference`` Elo above its opponent."""
    return 1 / (1 + 10 ** (-np.asarray(difference) / 400))


@dataclass(frozen=True)
class EloFit:
    """Fitted ratings.

    Attributes:
        players: the players, in order of first appearance.
        ratings: Elo rating per player (the anchor exactly 0).
        stderr: standard error of each rating, i.e. of its difference from the anchor.
        covariance: float64[P, P] covariance of the ratings (Elo²), in ``players`` order.
        games: real games played per player.
        anchor: the player held at 0.
    """

    players: tuple[str, ...]
    ratings: dict[str, float]
    stderr: dict[str, float]
    covariance: np.ndarray
    games: dict[str, int]
    anchor: str

    def difference_stderr(self, a: str, b: str) -> float:
        """Standard error of ``ratings[a] - ratings[b]``."""
        i, j = self.players.index(a), self.players.index(b)
        c = self.covariance
        return math.sqrt(max(c[i, i] + c[j, j] - 2 * c[i, j], 0.0))

    def table(self) -> str:
        """The ratings, best first, with 95% intervals."""
        width = max(len(p) for p in self.players)
        lines = [f"{'player':<{width}}  {'elo':>7}  {'±95%':>6}  games"]
        for p in sorted(self.players, key=lambda p: -self.ratings[p]):
            lines.append(
                f"{p:<{width}}  {self.ratings[p]:7.1f}  {1.96 * self.stderr[p]:6.1f}  "
                f"{self.games[p]}"
            )
        return "\n".join(lines)


def fit_elo(
    duels: Iterable[DuelLike],
    anchor: str = "random",
    virtual_draws: float = 1.0,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> EloFit:
    """Fit Elo ratings to duel results (see the module docstring).

    Args:
        duels: ``(a, b, wins, draws, losses)`` tuples from ``a``'s view, or ``DuelResult``s.
            Several duels of the same pair add up.
        anchor: the player whose rating is fixed at 0; it must have played.
        virtual_draws: drawn games added to each pair that met, to keep sweeps finite.
    """
    players, points, games = _tally(duels)
    if anchor not in players:
        raise ValueError(f"anchor {anchor!r} played no games (players: {list(players)})")
    _check_connected(players, games, anchor)
    n = games + virtual_draws * (games > 0)
    s = points + 0.5 * virtual_draws * (games > 0)
    _check_finite(s)
    k = players.index(anchor)
    free = np.array([i for i in range(len(players)) if i != k], dtype=np.int64)

    beta = np.zeros(len(players))  # ratings in natural units
    for _ in range(max_iter):
        grad, hess = _derivatives(beta, s, n)
        step = np.linalg.solve(-hess[np.ix_(free, free)], grad[free])
        # Backtrack until the log-likelihood does not fall (it is concave, so this ends).
        scale, old = 1.0, _log_likelihood(beta, s, n)
        while True:
            trial = beta.copy()
            trial[free] += scale * step
            if _log_likelihood(trial, s, n) >= old - 1e-12 or scale < 1e-6:
                break
            scale /= 2
        beta = trial
        if np.abs(scale * step).max() < tol:
            break
    else:
        raise RuntimeError(f"Elo fit did not converge in {max_iter} Newton steps")

    _, hess = _derivatives(beta, s, n)
    cov = np.zeros((len(players), len(players)))
    cov[np.ix_(free, free)] = np.linalg.inv(-hess[np.ix_(free, free)]) * ELO_PER_NAT**2
    elo = beta * ELO_PER_NAT
    return EloFit(
        players=players,
        ratings={p: float(elo[i]) for i, p in enumerate(players)},
        stderr={p: float(math.sqrt(cov[i, i])) for i, p in enumerate(players)},
        covariance=cov,
        games={p: int(games[i].sum()) for i, p in enumerate(players)},
        anchor=anchor,
    )


def _tally(duels: Iterable[DuelLike]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Players, points[i, j] scored by i against j, and games[i, j] (symmetric)."""
    rows = []
    for d in duels:
        if isinstance(d, tuple):
            a, b, wins, draws, losses = d
        else:
            a, b, wins, draws, losses = d.a, d.b, d.wins, d.draws, d.losses
        if a == b:
            raise ValueError(f"a duel of {a!r} against itself carries no rating information")
        rows.append((a, b, float(wins), float(draws), float(losses)))
    players = tuple(dict.fromkeys(name for a, b, *_ in rows for name in (a, b)))
    index = {p: i for i, p in enumerate(players)}
    points = np.zeros((len(players), len(players)))
    games = np.zeros_like(points)
    for a, b, wins, draws, losses in rows:
        i, j = index[a], index[b]
        points[i, j] += wins + 0.5 * draws
        points[j, i] += losses + 0.5 * draws
        games[i, j] += wins + draws + losses
        games[j, i] += wins + draws + losses
    return players, points, games


def _check_connected(players: tuple[str, ...], games: np.ndarray, anchor: str) -> None:
    """Every player must be linked to the anchor by a chain of duels, or its rating floats."""
    reached = _reachable(games > 0, players.index(anchor))
    missing = [p for i, p in enumerate(players) if not reached[i]]
    if missing:
        raise ValueError(f"players {missing} are not linked to the anchor {anchor!r} by duels")


def _check_finite(points: np.ndarray) -> None:
    """Refuse data whose likelihood keeps rising as some ratings go to infinity.

    The maximum is finite exactly when the graph "i took points from j" is strongly connected
    (Ford, 1957): otherwise some group of players won every game against the rest.
    """
    scored = points > 0
    if not (_reachable(scored, 0).all() and _reachable(scored.T, 0).all()):
        raise ValueError(
            "no finite maximum-likelihood ratings: some players won (or lost) every game "
            "against the rest; fit with virtual_draws > 0"
        )


def _reachable(adjacency: np.ndarray, start: int) -> np.ndarray:
    """bool[P]: the nodes reachable from ``start`` along ``adjacency[i, j]`` (bool[P, P])."""
    reached = np.zeros(len(adjacency), dtype=bool)
    reached[start] = True
    frontier = [start]
    while frontier:
        new = adjacency[frontier].any(axis=0) & ~reached
        reached |= new
        frontier = list(np.flatnonzero(new))
    return reached


def _derivatives(beta: np.ndarray, s: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, ...]:
    """Gradient float64[P] and Hessian float64[P, P] of the log-likelihood."""
    p = 1 / (1 + np.exp(-(beta[:, None] - beta[None, :])))  # p[i, j]: i scores against j
    grad = (s - n * p).sum(axis=1)
    w = n * p * (1 - p)
    hess = w - np.diag(w.sum(axis=1))
    return grad, hess


def _log_likelihood(beta: np.ndarray, s: np.ndarray, n: np.ndarray) -> float:
    diff = beta[:, None] - beta[None, :]
    # log E_ij = -log(1 + exp(-diff)), written stably; s[i, j] already counts each direction.
    return float(-(s * np.logaddexp(0.0, -diff)).sum())
