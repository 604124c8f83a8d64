"""Playout cap randomisation (KataGo: Wu, 2019, "Accelerating Self-Play Learning in Go", §3.1).

A self-play move needs a deep search for two different reasons: the search's visit
distribution is the *policy* target, and it must be much better than the network's prior to
teach it anything; the *value* target is the game's outcome, for which a move needs only to
be played reasonably. So each move independently, with probability ``full_fraction``, gets
the full search (``config.simulations``, with root noise) and is recorded as a policy target;
every other move gets a cheap search (``cheap_simulations``, no root noise, as KataGo) and
is recorded for its value only. KataGo used 600 and 100 playouts with a fraction of 0.25:
about as many games per second as with 100-playout searches, a policy target of 600.

How a cheap move is *played*: as every move is, from the visit counts at the game's
temperature (drawn at temperature 1 for the first ``temperature_moves`` moves, the most
visited move afterwards). Only the root noise is off, as in KataGo's cheap searches. Keeping
the temperature keeps the openings as varied as today's, which the value targets of every
position rely on.

The lock-step batch of games is searched in two calls per move: the full-search games
together, then the cheap ones together (:func:`split_search`), each call batching its own
games, so the cheap games really cost ``cheap_simulations`` and nothing more. What that
saves in wall-clock time depends on the evaluator: the full-search games still take
``simulations`` calls one after another (now with fewer rows each), and the cheap ones add
``cheap_simulations + 1`` calls. So the saving shows where a call costs in proportion to
its rows (big batches), and shrinks where a call's fixed cost dominates (small batches on a
CPU): measured on 2 cores, Connect Four's default network, 0.25 / 16 against 64 everywhere,
1.6x the positions/s with 256 games in lock-step, 1.0-1.2x with 64.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from envs.core import State
from train.search.search import MCTSConfig, SearchResult


@dataclass(frozen=True)
class PlayoutCap:
    """Which moves get the full search.

    Attributes:
        full_fraction: probability that a move gets the full search and becomes a policy
            target, in (0, 1]; 1 searches every move in full (no cap, no random draw).
        cheap_simulations: simulations of the other moves' searches (KataGo: 100 of 600).
    """

    full_fraction: float = 1.0
    cheap_simulations: int = 16

    def __post_init__(self) -> None:
        if not 0.0 < self.full_fraction <= 1.0:
            raise ValueError(f"full_fraction must be in (0, 1], got {self.full_fraction}")
        if self.cheap_simulations < 1:
            raise ValueError(f"cheap_simulations must be >= 1, got {self.cheap_simulations}")

    @property
    def capped(self) -> bool:
        """Whether some moves get the cheap search."""
        return self.full_fraction < 1.0


#: Every move searched in full: self-play as AlphaZero plays it.
NO_CAP = PlayoutCap()

#: ``run(states[K], config, add_noise) -> SearchResult`` for K positions: one search call,
#: with the caller's game, evaluator and generator.
RunSearch = Callable[[State, MCTSConfig, bool], SearchResult]


def draw_full_searches(cap: PlayoutCap, n: int, rng: np.random.Generator) -> np.ndarray:
    """bool[n]: which of ``n`` moves get the full search, each with probability
    ``cap.full_fraction``. Without a cap this draws nothing from ``rng`` (so an uncapped run
    makes the draws it always made)."""
    if not cap.capped:
        return np.ones(n, dtype=bool)
    return rng.random(n) < cap.full_fraction


def split_search(
    run: RunSearch,
    states: State,
    full: np.ndarray,
    config: MCTSConfig,
    cap: PlayoutCap,
    add_noise: bool,
) -> tuple[SearchResult, np.ndarray]:
    """Search the positions ``states[B]``: rows where ``full`` (bool[B]) with ``config`` and
    root noise (``add_noise``), the others with ``cap.cheap_simulations`` and no noise.

    The full searches run first, then the cheap ones (a fixed order of draws); a call with
    every row full is one plain search call.

    Returns:
        the result with rows in ``states``' order, and int64[B] the simulations of each row.
    """
    if full.all():
        return run(states, config, add_noise), np.full(len(full), config.simulations)
    cheap_config = replace(config, simulations=cap.cheap_simulations)
    parts = [
        (rows, run(states[rows], part_config, noise))
        for rows, part_config, noise in (
            (np.flatnonzero(full), config, add_noise),
            (np.flatnonzero(~full), cheap_config, False),
        )
        if len(rows)
    ]
    simulations = np.where(full, config.simulations, cap.cheap_simulations).astype(np.int64)
    return _rows_together(parts, len(full)), simulations


def _rows_together(parts: list[tuple[np.ndarray, SearchResult]], n: int) -> SearchResult:
    """One result of ``n`` rows from results of disjoint row subsets (every field is an
    array with the row first, so this needs no list of the fields)."""
    merged = {}
    for field in dataclasses.fields(SearchResult):
        first = getattr(parts[0][1], field.name)
        if first is None:  # an optional field no part has
            merged[field.name] = None
            continue
        out = np.empty((n, *first.shape[1:]), dtype=first.dtype)
        for rows, result in parts:
            out[rows] = getattr(result, field.name)
        merged[field.name] = out
    return SearchResult(**merged)
