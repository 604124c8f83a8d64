"""Elo fitting: known ratings are recovered, the anchor is fixed, symmetry is respected."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from train.arena.duels import DuelResult, Record
from train.arena.elo import expected_score, fit_elo

TRUE = {"random": 0.0, "a": 250.0, "b": -120.0, "c": 600.0, "d": 400.0}


def _synthetic_duels(rng: np.random.Generator, games: int, draw_rate: float) -> list[tuple]:
    """Trinomial outcomes whose expected score is the Elo model's, for every pair."""
    duels = []
    for x, y in itertools.combinations(TRUE, 2):
        e = float(expected_score(TRUE[x] - TRUE[y]))
        # Draws take half a point from each side: P(win) = e - draws / 2 must stay >= 0.
        d = min(draw_rate, 2 * e, 2 * (1 - e))
        wins, draws, losses = rng.multinomial(games, [e - d / 2, d, 1 - e - d / 2])
        duels.append((x, y, wins, draws, losses))
    return duels


@pytest.mark.parametrize("draw_rate", [0.0, 0.3])
def test_recovers_known_ratings_within_reported_errors(draw_rate):
    fit = fit_elo(_synthetic_duels(np.random.default_rng(7), 4000, draw_rate))
    assert fit.ratings["random"] == 0.0
    assert fit.stderr["random"] == 0.0
    for player, rating in TRUE.items():
        if player != "random":
            assert 0 < fit.stderr[player] < 30
            assert abs(fit.ratings[player] - rating) < 4 * fit.stderr[player], fit.table()
    assert abs(fit.ratings["c"] - fit.ratings["d"] - 200) < 4 * fit.difference_stderr("c", "d")


def test_standard_errors_are_calibrated():
    # Over repeated synthetic tournaments, the z-scores of the fitted ratings have spread ~1.
    rng = np.random.default_rng(3)
    z = []
    for _ in range(40):
        fit = fit_elo(_synthetic_duels(rng, 300, 0.0), virtual_draws=0.0)
        z += [(fit.ratings[p] - TRUE[p]) / fit.stderr[p] for p in TRUE if p != "random"]
    assert 0.75 < np.std(z) < 1.25
    assert abs(np.mean(z)) < 0.3


def test_anchor_is_exactly_zero_and_differences_do_not_depend_on_it():
    duels = _synthetic_duels(np.random.default_rng(0), 200, 0.2)
    by_random = fit_elo(duels)
    by_c = fit_elo(duels, anchor="c")
    assert by_c.ratings["c"] == 0.0
    for p in TRUE:
        shifted = by_random.ratings[p] - by_random.ratings["c"]
        assert by_c.ratings[p] == pytest.approx(shifted, abs=1e-6)
    # The error of a difference does not depend on which player is held fixed.
    assert by_c.stderr["random"] == pytest.approx(by_random.stderr["c"], rel=1e-6)


def test_symmetric_inputs_give_symmetric_ratings():
    # x beats the anchor as often as y loses to it; x and y never meet.
    fit = fit_elo([("x", "random", 70, 10, 20), ("random", "y", 70, 10, 20)])
    assert fit.ratings["x"] == pytest.approx(-fit.ratings["y"], abs=1e-9)
    assert fit.stderr["x"] == pytest.approx(fit.stderr["y"], rel=1e-9)
    # A rock-paper-scissors cycle of equal margins rates everyone equally.
    cycle = fit_elo([("random", "p", 60, 0, 40), ("p", "q", 60, 0, 40), ("q", "random", 60, 0, 40)])
    assert cycle.ratings["p"] == pytest.approx(0.0, abs=1e-9)
    assert cycle.ratings["q"] == pytest.approx(0.0, abs=1e-9)


def test_two_players_match_the_closed_form():
    # With one pair, the maximum-likelihood difference solves expected_score(d) = score.
    wins, draws, losses = 300, 100, 100
    fit = fit_elo([("a", "random", wins, draws, losses)], virtual_draws=0.0)
    score = (wins + draws / 2) / (wins + draws + losses)
    assert fit.ratings["a"] == pytest.approx(400 * math.log10(score / (1 - score)), abs=1e-6)


def test_sweeps_stay_finite_with_the_prior_and_are_refused_without():
    duels = [
        ("expert", "random", 100, 0, 0),
        ("expert", "mid", 60, 30, 10),
        ("mid", "random", 70, 0, 30),
    ]
    fit = fit_elo(duels)
    assert all(
        math.isfinite(r) and math.isfinite(s)
        for r, s in zip(fit.ratings.values(), fit.stderr.values(), strict=True)
    )
    assert fit.ratings["expert"] > fit.ratings["mid"] > 0
    with pytest.raises(ValueError, match="virtual_draws"):
        fit_elo([("expert", "random", 100, 0, 0)], virtual_draws=0.0)
    # A group sweep counts too: two players who split their games but never lose to a third.
    group = [("p", "q", 5, 0, 5), ("p", "random", 10, 0, 0), ("q", "random", 10, 0, 0)]
    with pytest.raises(ValueError, match="virtual_draws"):
        fit_elo(group, virtual_draws=0.0)
    # One draw against the anchor is enough for a finite maximum.
    group[1] = ("p", "random", 9, 1, 0)
    assert fit_elo(group, virtual_draws=0.0).ratings["p"] > 0


def test_accepts_duel_results_and_adds_repeated_pairs():
    result = DuelResult("a", "random", Record(30, 5, 15), Record(25, 5, 20))
    from_result = fit_elo([result])
    from_tuples = fit_elo([("a", "random", 30, 5, 15), ("random", "a", 20, 5, 25)])
    assert from_result.ratings["a"] == pytest.approx(from_tuples.ratings["a"])
    assert from_result.games == {"a": 100, "random": 100}


def test_refuses_bad_inputs():
    with pytest.raises(ValueError, match="anchor"):
        fit_elo([("a", "b", 1, 1, 1)])
    with pytest.raises(ValueError, match="not linked"):
        fit_elo([("a", "random", 5, 0, 5), ("b", "c", 5, 0, 5)])
    with pytest.raises(ValueError, match="itself"):
        fit_elo([("random", "random", 5, 0, 5)])
