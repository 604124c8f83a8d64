"""Solver-graded play, checked against an exhaustive tic-tac-toe minimax written here."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from envs import TICTACTOE, State, get_profile
from envs.players import RandomPlayer
from envs.profile import all_positions, move_outcomes
from train.arena.grading import (
    ILLEGAL,
    STAGES,
    SolverGrade,
    best_outcome,
    grade_moves,
    grade_player,
    grade_values,
    value_class,
)

# --- an independent oracle: plain negamax on (own, opp) bitboards, one position at a time ---

_LINES = [(0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6)]


def _has_line(bits: int) -> bool:
    return any(all(bits >> c & 1 for c in line) for line in _LINES)


@cache
def _negamax(own: int, opp: int) -> int:
    """Value of the position for the player to move (+1 / 0 / -1)."""
    if _has_line(opp):
        return -1
    empty = [c for c in range(9) if not (own | opp) >> c & 1]
    if not empty:
        return 0
    return max(-_negamax(opp, own | 1 << c) for c in empty)


def minimax_action_values(states: State) -> np.ndarray:
    """int8[N, 9]: the exact outcome of every legal action, ILLEGAL elsewhere."""
    out = np.full((len(states), 9), ILLEGAL, dtype=np.int8)
    for i, (own, opp) in enumerate(zip(states.own.tolist(), states.opp.tolist(), strict=True)):
        for c in range(9):
            if not (own | opp) >> c & 1:
                out[i, c] = -_negamax(opp, own | 1 << c)
    return out


class OraclePlayer:
    """Plays the best (or, with ``worst=True``, the worst) move of a table of action values."""

    def __init__(self, positions: State, action_values: np.ndarray, worst: bool = False):
        self.game = TICTACTOE
        self.name = "worst" if worst else "oracle"
        self.table = {
            (int(o), int(p)): v
            for o, p, v in zip(positions.own, positions.opp, action_values, strict=True)
        }
        self.worst = worst

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        keys = zip(state.own.tolist(), state.opp.tolist(), strict=True)
        rows = np.stack([self.table[key] for key in keys])
        if self.worst:
            return np.argmin(np.where(rows == ILLEGAL, 9, rows), axis=1)
        return np.argmax(rows, axis=1)


@pytest.fixture(scope="module")
def solved():
    positions = all_positions(TICTACTOE)
    return positions, minimax_action_values(positions)


def test_all_positions_count_and_are_unique_and_unfinished():
    everything = all_positions(TICTACTOE, include_terminal=True)
    assert len(everything) == 5478
    positions = all_positions(TICTACTOE)
    assert len(positions) == 4520
    assert not TICTACTOE.is_terminal(positions).any()
    keys = set(zip(positions.own.tolist(), positions.opp.tolist(), strict=True))
    assert len(keys) == len(positions)
    # Closed under moves: every non-terminal child of a listed position is listed.
    all_keys = set(zip(everything.own.tolist(), everything.opp.tolist(), strict=True))
    parents, actions = np.nonzero(TICTACTOE.legal_mask(positions))
    children = TICTACTOE.step(positions[parents], actions)
    assert set(zip(children.own.tolist(), children.opp.tolist(), strict=True)) <= all_keys


def test_minimax_knows_the_empty_board_is_a_draw(solved):
    positions, values = solved
    assert positions.ply[0] == 0
    assert best_outcome(values[:1])[0] == 0
    # Every opening move draws with best play.
    assert (values[0] == 0).all()


def test_oracle_player_is_perfect_and_worst_player_is_not(solved):
    positions, values = solved
    rng = np.random.default_rng(0)
    best = grade_player(OraclePlayer(positions, values), positions, values, None, rng)
    assert best.optimal_move_rate == 1.0
    assert best.error_rate == 0.0
    worst = grade_player(OraclePlayer(positions, values, worst=True), positions, values, None, rng)
    # The worst move is still optimal where all moves have the same outcome; count those.
    legal = values != ILLEGAL
    all_equal = (np.where(legal, values, 9).min(axis=1) == values.max(axis=1)).mean()
    assert worst.optimal_move_rate == pytest.approx(all_equal)
    assert worst.optimal_move_rate < 1.0


def test_random_player_error_rate_matches_its_expectation(solved):
    positions, values = solved
    # A uniform player's expected optimal rate is the mean fraction of optimal legal moves.
    legal = values != ILLEGAL
    fraction = ((values == best_outcome(values)[:, None]) & legal).sum(1) / legal.sum(1)
    grade = grade_player(
        RandomPlayer(TICTACTOE), positions, values, None, np.random.default_rng(1), batch_size=999
    )
    se = np.sqrt(fraction * (1 - fraction)).mean() / np.sqrt(len(positions))
    assert abs(grade.optimal_move_rate - fraction.mean()) < 5 * se + 1e-3


def test_grade_moves_counts_any_winning_move_and_refuses_illegal():
    values = np.array([[1, 1, -1, ILLEGAL], [-1, -1, -1, -1], [0, -1, ILLEGAL, 0]], np.int8)
    assert grade_moves(np.array([1, 2, 3]), values).tolist() == [True, True, True]
    assert grade_moves(np.array([2, 0, 1]), values).tolist() == [False, True, False]
    with pytest.raises(ValueError):
        grade_moves(np.array([3, 0, 0]), values)


def test_move_outcomes_keep_signs_of_solver_scores():
    scores = np.array([[5, -3, 0, 99]])
    legal = np.array([[True, True, True, False]])
    assert move_outcomes(scores, legal).tolist() == [[1, -1, 0, ILLEGAL]]


def test_value_sign_accuracy_uses_a_draw_band():
    assert value_class(np.array([0.9, 0.34, 0.33, -0.33, -0.34, -1.0])).tolist() == [
        1, 1, 0, 0, -1, -1
    ]  # fmt: skip
    values = np.array([[1, 0, ILLEGAL], [0, -1, ILLEGAL], [-1, -1, ILLEGAL]], np.int8)
    assert grade_values(np.array([0.8, 0.1, -0.9]), values).tolist() == [True, True, True]
    assert grade_values(np.array([0.2, 0.5, 0.0]), values).tolist() == [False, False, False]


def test_perfect_value_head_scores_one(solved):
    positions, values = solved
    rng = np.random.default_rng(0)
    truth = best_outcome(values).astype(np.float32)
    grade = grade_player(
        OraclePlayer(positions, values), positions, values, None, rng, values=0.9 * truth
    )
    assert grade.value_sign_accuracy == 1.0
    assert grade.metrics()["eval/solver/value_sign_accuracy"] == 1.0


def test_per_stage_error_rates_and_metric_tags():
    optimal = np.array([True, False, True, True, False, False, True])
    stage = np.array([0, 0, 1, 1, 1, 2, 2], np.int8)
    grade = SolverGrade(optimal, stage)
    assert grade.error_rate_by_stage() == {"opening": 0.5, "middle": 1 / 3, "end": 0.5}
    metrics = grade.metrics()
    assert set(metrics) == {
        "eval/solver/optimal_move_rate",
        "eval/solver/error_rate",
        *(f"eval/solver/error_rate_{s}" for s in STAGES),
    }
    assert metrics["eval/solver/error_rate"] == pytest.approx(3 / 7)
    # A single-stage grade (tic-tac-toe) reports the overall rates only, without placeholders.
    assert set(SolverGrade(optimal).metrics()) == {
        "eval/solver/optimal_move_rate",
        "eval/solver/error_rate",
    }
    # Stages without positions are left out rather than reported as NaN.
    assert set(SolverGrade(optimal[:2], stage[:2]).error_rate_by_stage()) == {"opening"}


def test_experts_oracle_agrees_with_minimax(solved):
    pytest.importorskip("envs.experts")
    positions, values, stages = get_profile("tictactoe").grader()
    assert stages is None
    np.testing.assert_array_equal(positions.own, solved[0].own)
    np.testing.assert_array_equal(values, solved[1])
