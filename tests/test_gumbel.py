"""Gumbel root search (``train/search/gumbel.py``): its schedule, its choices and its policy
target on hand-made numbers, known answers in Connect Four, the Gumbel-max trick, batch
independence, and its way into self-play, players and stage 2."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from envs import CONNECT4, GAMES, TICTACTOE, Game, State
from scripts import train_selfplay
from tests.fixtures import hashed_evaluator, random_positions
from tests.test_training_scripts import only_run, run_script
from train.arena.network_players import SearchPlayer
from train.arena.specs import PlayerSpec, make_player, parse_spec
from train.search.evaluators import UniformEvaluator
from train.search.gumbel import GumbelRoot, gumbel_interior_actions, visit_schedule
from train.search.search import MCTSConfig, SearchResult, search
from train.search.targets import gumbel_policy, mixed_completed_q, mixed_value
from train.search.tree import ROOT_INDEX, init_tree
from train.selfplay.games import play_selfplay_games

GUMBEL = MCTSConfig(simulations=8, search="gumbel")


def _softmax(logits: np.ndarray) -> np.ndarray:
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


# --- sequential halving's schedule -------------------------------------------------------


def test_visit_schedule_matches_hand_computed_examples() -> None:
    # 4 candidates, 8 simulations, 2 phases: a visit each, then two more for the best two.
    assert visit_schedule(4, 8) == (0, 0, 0, 0, 1, 1, 2, 2)
    # 3 candidates, 2 phases: 8 // (2 * 3) = 1 round of 3, then 8 // (2 * 2) = 2 rounds of 2,
    # then the last two share what is left.
    assert visit_schedule(3, 8) == (0, 0, 0, 1, 1, 2, 2, 3)
    assert visit_schedule(1, 5) == (0, 1, 2, 3, 4)  # one candidate takes every visit


@pytest.mark.parametrize("considered", [2, 3, 4, 5, 7, 9, 16])
@pytest.mark.parametrize("simulations", [1, 2, 7, 8, 16, 50, 64, 200])
def test_visit_schedule_spends_the_budget_in_equal_shares(considered: int, simulations) -> None:
    schedule = visit_schedule(considered, simulations)
    assert len(schedule) == simulations
    # Play it: each simulation visits a candidate with the scheduled count, lowest first.
    visits = np.zeros(considered, dtype=int)
    for target in schedule:
        eligible = np.flatnonzero(visits == target)
        assert len(eligible), f"no candidate has {target} visits: {visits}"
        visits[eligible[0]] += 1
    assert visits.sum() == simulations
    # Within a phase the survivors share equally: counts never differ by more than one
    # visit among those still in play at the end.
    top = np.sort(visits)[::-1][: min(2, considered)]
    assert top[0] - top[-1] <= 1


# --- the root's choices on a hand-made tree ----------------------------------------------

PRIORS = np.array([0.3, 0.1, 0.25, 0.2, 0.05, 0.05, 0.05])


def _hand_tree(q: list[float], visits: list[int]):
    """One Connect Four root with PRIORS and value 0, and its root edges set by hand."""
    roots = CONNECT4.initial_state(1)
    legal = CONNECT4.legal_mask(roots)
    tree = init_tree(CONNECT4, roots, legal, PRIORS[None].astype(np.float32), np.zeros(1), 9)
    config = MCTSConfig(simulations=8, search="gumbel", max_considered_actions=4)
    plan = GumbelRoot().start(tree, config, np.random.default_rng(0), add_noise=False)
    tree.child_visits[0, ROOT_INDEX] = visits
    tree.child_value_sums[0, ROOT_INDEX] = np.array(q) * np.array(visits)
    return tree, plan


def test_root_picks_the_best_scored_candidate_with_the_scheduled_visits() -> None:
    # Without noise the 4 candidates are the 4 highest priors: actions 0, 2, 3, 1. After a
    # visit each (Q -0.5, 0.8, 0.0, 0.2 for actions 0..3), the 5th simulation (schedule: a
    # candidate with 1 visit) scores log prior + 51 * (Q rescaled to [0, 1]):
    # action 1: log .1 + 51, action 3: log .2 + 51 * .7/1.3, action 2: log .25 + 51 * .5/1.3.
    q = [-0.5, 0.8, 0.0, 0.2, 0.0, 0.0, 0.0]
    tree, plan = _hand_tree(q, [1, 1, 1, 1, 0, 0, 0])
    assert plan.select(tree, 4) == 1
    # Action 1 has had its second visit: the 6th goes to the best of the other three.
    tree, plan = _hand_tree(q, [1, 2, 1, 1, 0, 0, 0])
    assert plan.select(tree, 5) == 3
    # The recommendation is the most visited: action 1, though others have higher priors.
    np.testing.assert_array_equal(plan.action(tree), [1])
    # Non-candidates (actions 4-6) are never visited, even while unvisited.
    tree, plan = _hand_tree(q, [1, 0, 1, 1, 0, 0, 0])
    assert plan.select(tree, 3) == 1


def test_action_breaks_visit_ties_by_score_not_index() -> None:
    # Actions 0 and 3 both have 3 visits; 3 has the better Q and wins despite its prior.
    tree, plan = _hand_tree([0.1, -0.4, -0.4, 0.5, 0, 0, 0], [3, 1, 1, 3, 0, 0, 0])
    np.testing.assert_array_equal(plan.action(tree), [3])


def test_interior_rule_follows_the_improved_policy_minus_visit_share() -> None:
    # A node with 3 legal moves (cells 7, 8, 9 free): visits 2, 1, 0, Q 0.5, -0.5, raw value
    # 0.2, priors .2 .5 .3.
    roots = State.stack([TICTACTOE.parse("125346")])
    legal = TICTACTOE.legal_mask(roots)
    moves = np.flatnonzero(legal[0])
    priors = np.zeros((1, 9), dtype=np.float32)
    priors[0, moves] = [0.2, 0.5, 0.3]
    tree = init_tree(TICTACTOE, roots, legal, priors, np.array([0.2]), 5)
    tree.child_visits[0, ROOT_INDEX, moves] = [2, 1, 0]
    tree.child_value_sums[0, ROOT_INDEX, moves] = [1.0, -0.5, 0.0]
    tree.value_sums[0, ROOT_INDEX] = 0.2 + 0.5
    tree.visits[0, ROOT_INDEX] = 4
    # By hand: mixed value = (0.2 + 3 * (0.2 * 0.5 + 0.5 * -0.5) / 0.7) / 4 = -0.11071...,
    # completed Q (0.5, -0.5, -0.1107) rescaled (1, 0, 0.38929); sigma = 52 * c_scale * that.
    mixed = (0.2 + 3 * (0.2 * 0.5 - 0.5 * 0.5) / 0.7) / 4
    rescaled = np.array([1.0, 0.0, (mixed + 0.5) / 1.0])
    # A large c_scale follows Q (move 0, visited twice already); a small one the visit
    # shares (move 2, never visited).
    for c_scale, expected in ((1.0, 0), (0.02, 2)):
        policy = _softmax(np.log([0.2, 0.5, 0.3]) + 52 * c_scale * rescaled)
        score = policy - np.array([2, 1, 0]) / 4
        assert moves[np.argmax(score)] == moves[expected]
        config = MCTSConfig(search="gumbel", c_scale=c_scale)
        chosen = gumbel_interior_actions(tree, np.array([0]), np.array([ROOT_INDEX]), config)
        np.testing.assert_array_equal(chosen, [moves[expected]])


# --- the policy target -------------------------------------------------------------------


def _result(visits, q, priors, raw_value, legal) -> SearchResult:
    return SearchResult(
        visits=np.array([visits], dtype=np.int32),
        q=np.array([q], dtype=np.float32),
        root_value=np.zeros(1, dtype=np.float32),
        priors=np.array([priors], dtype=np.float32),
        legal=np.array([legal], dtype=bool),
        action=np.array([0]),
        raw_value=np.array([raw_value], dtype=np.float32),
    )


def test_policy_target_equals_the_formula_by_hand() -> None:
    # Moves 0, 1 visited (3 and 1 times, Q 0.6 and -0.2), 2 unvisited, 3 illegal; raw value
    # 0.1. Mixed value: (0.1 + 4 * (0.5 * 0.6 + 0.3 * -0.2) / 0.8) / 5 = (0.1 + 1.2) / 5 = 0.26.
    # Completed Q (0.6, -0.2, 0.26) rescaled by min -0.2 and range 0.8: (1, 0, 0.575).
    result = _result([3, 1, 0, 0], [0.6, -0.2, 0.0, 0.0], [0.5, 0.3, 0.2, 0.0], 0.1, [1, 1, 1, 0])
    args = (result.raw_value, result.q, result.visits, result.priors)
    assert mixed_value(*args)[0] == pytest.approx(0.26, abs=1e-6)
    completed = mixed_completed_q(*args, result.legal)
    np.testing.assert_allclose(completed, [[1.0, 0.0, 0.575, 0.0]], atol=1e-6)
    for c_scale in (1.0, 0.05):
        # sigma = (50 + 3) * c_scale * rescaled Q.
        logits = np.log([0.5, 0.3, 0.2]) + 53 * c_scale * np.array([1.0, 0.0, 0.575])
        target = gumbel_policy(result, MCTSConfig(search="gumbel", c_scale=c_scale))
        np.testing.assert_allclose(target[0, :3], _softmax(logits), rtol=1e-5, atol=1e-7)
        assert target[0, 3] == 0.0 and target.dtype == np.float32


def test_policy_target_without_visits_is_the_prior() -> None:
    # Nothing visited: every legal move's completed Q is the raw value, so sigma cancels.
    result = _result([0, 0, 0, 0], [0.0] * 4, [0.5, 0.3, 0.2, 0.0], -0.7, [1, 1, 1, 0])
    np.testing.assert_allclose(gumbel_policy(result, GUMBEL)[0], [0.5, 0.3, 0.2, 0.0], 1e-6)


# --- known answers -----------------------------------------------------------------------


def _one_ply_evaluator(states: State, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Uniform priors; value +1 when the player to move can win at once, else 0."""
    wins = np.zeros(legal.shape, dtype=bool)
    for action in range(legal.shape[1]):
        after = CONNECT4.step(states, np.full(len(states), action))
        wins[:, action] = legal[:, action] & CONNECT4.is_won(after)
    priors = legal / np.maximum(legal.sum(axis=1, keepdims=True), 1)
    return priors.astype(np.float32), wins.any(axis=1).astype(np.float32)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("c_scale, add_noise", [(0.1, False), (1.0, True)])
def test_takes_immediate_wins_with_eight_simulations(
    seed: int, c_scale: float, add_noise: bool
) -> None:
    # X is to move and completes four in a row with any of the listed columns. With noise the
    # move is a sample: at the default c_scale (0.1) a Gumbel draw can outweigh a won Q in 8
    # simulations (seed 0 does), at the paper's 1.0 it cannot.
    cases = {"445566": [2, 6], "121212": [0], "717171": [6]}
    states = State.stack([CONNECT4.parse(p) for p in cases])
    rng = np.random.default_rng(seed)
    config = replace(GUMBEL, c_scale=c_scale)
    result = search(CONNECT4, states, UniformEvaluator(CONNECT4), config, rng, add_noise=add_noise)
    target = gumbel_policy(result, config)
    for row, wins in enumerate(cases.values()):
        assert result.action[row] in wins
        assert target[row, wins].sum() > 0.95  # about 0.98 at c_scale 0.1, over 0.99 at 1.0
    np.testing.assert_array_equal(result.visits.sum(axis=1), 8)


@pytest.mark.parametrize("add_noise", [False, True])
def test_blocks_an_immediate_loss_with_eight_simulations(add_noise: bool) -> None:
    # X holds columns 4, 5, 6 on the bottom row and O column 7: O must block column 3. Each
    # other reply leaves X a win, which the one-ply evaluator sees at the child.
    state = State.stack([CONNECT4.parse("47546")])
    for seed in range(3):
        rng = np.random.default_rng(seed)
        result = search(CONNECT4, state, _one_ply_evaluator, GUMBEL, rng, add_noise=add_noise)
        assert result.action[0] == 2
        assert gumbel_policy(result, GUMBEL)[0, 2] > 0.95


def test_one_simulation_plays_a_sample_of_the_prior() -> None:
    # The Gumbel-max trick: argmax(g + log p) is distributed as p. Many copies of one root in
    # one batch each draw their own noise; with one simulation the move is that argmax.
    prior = np.array([0.3, 0.25, 0.2, 0.1, 0.1, 0.05, 0.0], dtype=np.float32)

    def fixed(states, legal):
        return np.tile(prior, (len(states), 1)), np.zeros(len(states), dtype=np.float32)

    n = 8000
    roots = CONNECT4.initial_state(n)
    config = MCTSConfig(simulations=1, search="gumbel")
    result = search(CONNECT4, roots, fixed, config, np.random.default_rng(0), add_noise=True)
    counts = np.bincount(result.action, minlength=7)
    assert counts[6] == 0  # a zero prior is never sampled
    expected = n * prior[:6]
    chi2 = ((counts[:6] - expected) ** 2 / expected).sum()
    assert chi2 < 20.5, (counts, chi2)  # the 0.999 quantile of chi-square with 5 d.o.f.
    # Without noise the one simulation goes to the highest prior.
    plain = search(CONNECT4, roots[:3], fixed, config, np.random.default_rng(0))
    np.testing.assert_array_equal(plain.action, [0, 0, 0])


def test_halving_gives_two_of_four_candidates_the_extra_visits() -> None:
    # 4 candidates, 8 simulations: visits 3, 3, 1, 1 on the 4 highest priors (no noise), and
    # the move played is one of the two survivors.
    states = random_positions(CONNECT4, 6, seed=5)
    states = states[CONNECT4.legal_mask(states).sum(axis=1) >= 5]
    config = MCTSConfig(simulations=8, search="gumbel", max_considered_actions=4)
    result = search(CONNECT4, states, hashed_evaluator, config, np.random.default_rng(0))
    for row in range(len(states)):
        np.testing.assert_array_equal(np.sort(result.visits[row])[::-1][:5], [3, 3, 1, 1, 0])
        top4 = np.argsort(-result.priors[row], kind="stable")[:4]
        assert set(np.flatnonzero(result.visits[row])) == set(top4)
        assert result.visits[row, result.action[row]] == 3


# --- batch independence ------------------------------------------------------------------


@pytest.mark.parametrize("game", GAMES.values(), ids=GAMES.keys())
def test_batched_gumbel_search_equals_each_game_alone(game: Game) -> None:
    states = random_positions(game, 8, seed=9)
    config = MCTSConfig(simulations=24, search="gumbel")
    together = search(game, states, hashed_evaluator, config, np.random.default_rng(0))
    targets = gumbel_policy(together, config)
    for i in range(len(states)):
        alone = search(game, states[i : i + 1], hashed_evaluator, config, np.random.default_rng(1))
        np.testing.assert_array_equal(together.visits[i], alone.visits[0])
        np.testing.assert_array_equal(together.q[i], alone.q[0])
        assert together.action[i] == alone.action[0]
        np.testing.assert_array_equal(targets[i], gumbel_policy(alone, config)[0])
    np.testing.assert_array_equal(together.visits.sum(axis=1), 24)
    assert not together.visits[~together.legal].any()


def test_noise_changes_the_gumbel_search_and_draws_only_from_the_rng() -> None:
    states = random_positions(CONNECT4, 16, seed=2)
    runs = [
        search(CONNECT4, states, hashed_evaluator, GUMBEL, np.random.default_rng(s), True)
        for s in (3, 3, 4)
    ]
    np.testing.assert_array_equal(runs[0].visits, runs[1].visits)
    np.testing.assert_array_equal(runs[0].action, runs[1].action)
    assert (runs[0].visits != runs[2].visits).any()


# --- self-play, players, stage 2 ---------------------------------------------------------


def test_selfplay_plays_the_search_action_and_records_its_policy_target() -> None:
    config = MCTSConfig(simulations=12, search="gumbel")
    records = play_selfplay_games(
        CONNECT4, hashed_evaluator, config, 3, np.random.default_rng(0), add_noise=False
    )
    again = search(CONNECT4, records.states, hashed_evaluator, config, np.random.default_rng(1))
    np.testing.assert_allclose(records.policies, gumbel_policy(again, config), atol=1e-6)
    # Positions are recorded game by game in move order: each move is the search's action.
    for g, notation in enumerate(records.moves):
        rows = np.flatnonzero(records.game_index == g)
        rows = rows[np.argsort(records.states.ply[rows])]
        np.testing.assert_array_equal(again.action[rows], CONNECT4.parse_actions(notation))
    # With noise the games differ (no temperature needed to explore).
    noisy = play_selfplay_games(CONNECT4, hashed_evaluator, config, 4, np.random.default_rng(0))
    assert len(set(noisy.moves)) > 1


def test_search_players_take_the_gumbel_spec() -> None:
    spec = parse_spec("mcts:sims=20,search=gumbel")
    assert spec == PlayerSpec("mcts", "mcts:sims=20,search=gumbel", sims=20, search="gumbel")
    assert parse_spec("a.pt:sims=8,search=puct").search == "puct"
    for bad, message in (("mcts:search=alpha", "search must be"), ("a.pt:search=gumbel", "sims")):
        with pytest.raises(ValueError, match=message):
            parse_spec(bad)
    player = make_player(spec, CONNECT4)
    assert isinstance(player, SearchPlayer) and player.config.search == "gumbel"
    # It plays its search's recommendation: here the win in column 3.
    searcher = SearchPlayer(CONNECT4, UniformEvaluator(CONNECT4), GUMBEL)
    state = State.stack([CONNECT4.parse("445566")] * 2)
    assert set(searcher.act(state, np.random.default_rng(0))) <= {2, 6}


def test_stage2_passes_search_gumbel_into_its_search_config(monkeypatch, tmp_path) -> None:
    seen = {}

    def fake_run(game, model, config, *, evaluate, **kwargs):
        seen["config"] = config
        return {}

    monkeypatch.setattr(train_selfplay, "run_selfplay", fake_run)
    threads = torch.get_num_threads()
    base = ["--init", "scratch", "--game", "tictactoe", "--run-dir", str(tmp_path)]
    try:
        train_selfplay.main([*base, "--simulations", "7", "--search", "gumbel", "--c-scale", "0.1"])
        with pytest.raises(SystemExit, match="completed-Q"):
            train_selfplay.main([*base, "--search", "gumbel", "--policy-target", "visits"])
    finally:
        torch.set_num_threads(threads)  # the script pins torch's threads for the process
    assert seen["config"].search == MCTSConfig(7, search="gumbel", c_scale=0.1)
    assert seen["config"].policy_target == "completed-q"


def test_stage2_tictactoe_with_gumbel_runs_and_resumes(tmp_path: Path) -> None:
    tiny = ["--games-per-iteration", "4", "--simulations", "4", "--workers", "1"]
    run_script(
        "train_selfplay",
        *("--init", "scratch", "--game", "tictactoe", "--iterations", "1", *tiny),
        *("--search", "gumbel", "--eval-games", "0", "--run-dir", "runs"),
        cwd=tmp_path,
    )
    run = only_run(tmp_path / "runs")
    result = run_script("train_selfplay", "--resume", str(run), "--iterations", "2", cwd=tmp_path)
    assert "at iteration 1" in result.stdout
    from models.checkpoint import load_checkpoint

    latest = load_checkpoint(run / "latest.pt")
    assert latest.metrics["iteration"] == 2
    for args in (latest.args, json.loads((run / "args.json").read_text())):
        assert args["search"] == "gumbel" and args["policy_target"] == "completed-q"
