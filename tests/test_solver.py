"""The Connect Four solver against facts computed independently of it.

The oracle is a plain-Python negamax over a list-of-columns board, with its own line check
and no pruning at all (only memoised), so it shares no code with the bitboard solver. It is
exhaustive, hence only used near the end of games.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from envs import CONNECT4, State
from envs.solvers.connect4_benchmark import STAGES, load_benchmark_set, stage_index, stage_of
from envs.solvers.connect4_solver import ILLEGAL, MAX_SCORE, Solver, action_values, outcome, solve

ROOT = Path(__file__).resolve().parents[1]

# --- the independent oracle -----------------------------------------------------------------

Board = tuple[tuple[int, ...], ...]  # 7 columns, each the players (0 first, 1 second) bottom-up


def _board_of(actions: list[int]) -> Board:
    columns: list[list[int]] = [[] for _ in range(7)]
    for ply, action in enumerate(actions):
        columns[action].append(ply % 2)
    return tuple(tuple(c) for c in columns)


def _completes_line(board: Board, col: int, player: int) -> bool:
    """Whether ``player`` dropping a stone in ``col`` makes four in a row."""
    row = len(board[col])

    def owner(c: int, r: int) -> int | None:
        if 0 <= c < 7 and 0 <= r < len(board[c]):
            return board[c][r]
        return None

    for dc, dr in ((1, 0), (0, 1), (1, 1), (1, -1)):
        run = 1
        for sign in (1, -1):
            c, r = col + sign * dc, row + sign * dr
            while owner(c, r) == player:
                run += 1
                c, r = c + sign * dc, r + sign * dr
        if run >= 4:
            return True
    return False


@functools.cache
def _brute_force(board: Board) -> int:
    """Negamax score of an unfinished position, scored as the solver does."""
    stones = sum(len(c) for c in board)
    if stones == 42:
        return 0
    player = stones % 2
    best = -100
    for col in range(7):
        if len(board[col]) == 6:
            continue
        if _completes_line(board, col, player):
            value = 22 - (stones // 2 + 1)  # the mover's stones once this one is down
        else:
            child = board[:col] + (board[col] + (player,),) + board[col + 1 :]
            value = -_brute_force(child)
        best = max(best, value)
    return best


def _brute_force_actions(actions: list[int]) -> np.ndarray:
    board = _board_of(actions)
    player = len(actions) % 2
    values = np.full(7, ILLEGAL)
    for col in range(7):
        if len(board[col]) < 6:
            if _completes_line(board, col, player):
                values[col] = 22 - (len(actions) // 2 + 1)
            else:
                child = board[:col] + (board[col] + (player,),) + board[col + 1 :]
                values[col] = -_brute_force(child)
    return values


# --- positions from random games ------------------------------------------------------------


def _random_positions(n: int, min_ply: int, seed: int) -> list[tuple[list[int], State]]:
    """``n`` unfinished positions with at least ``min_ply`` stones, from random games."""
    rng = np.random.default_rng(seed)
    found = []
    while len(found) < n:
        state, actions, history = CONNECT4.initial_state(), [], []
        while not CONNECT4.is_terminal(state):
            if state.ply >= min_ply:
                history.append((list(actions), state))
            action = int(rng.choice(np.flatnonzero(CONNECT4.legal_mask(state))))
            actions.append(action)
            state = CONNECT4.step(state, action)
        if history:
            found.append(history[rng.integers(len(history))])
    return found


@pytest.fixture(scope="module")
def solver() -> Solver:
    return Solver(table_log2=20)


# --- tests ----------------------------------------------------------------------------------


def test_immediate_win_scores_by_stones_played(solver: Solver) -> None:
    assert solver.solve(CONNECT4.parse("121212")) == 22 - 4 == MAX_SCORE  # three stacked in 1
    # The position before the winning move of random games that end in a line.
    rng = np.random.default_rng(0)
    checked = 0
    while checked < 20:
        state, last, before = CONNECT4.initial_state(), -1, None
        while not CONNECT4.is_terminal(state):
            before, last = state, int(rng.choice(np.flatnonzero(CONNECT4.legal_mask(state))))
            state = CONNECT4.step(state, last)
        if not CONNECT4.is_won(state) or state.ply < 24:  # keep the other moves cheap to solve
            continue
        stones_after = bin(int(before.own)).count("1") + 1
        assert solver.action_values(before)[last] == 22 - stones_after
        assert solver.solve(before) == 22 - stones_after  # nothing beats winning at once
        checked += 1


def test_finished_positions_score_their_result(solver: Solver) -> None:
    won = CONNECT4.parse("1212121")  # the first player's 4th stone made a line
    assert solver.solve(won) == -18
    assert (solver.action_values(won) == ILLEGAL).all()
    won_later = CONNECT4.parse("1212357262")  # the second player's 5th stone made a line
    assert CONNECT4.is_won(won_later)
    assert solver.solve(won_later) == -(22 - 5)


def test_matches_brute_force_near_the_end(solver: Solver) -> None:
    positions = _random_positions(40, min_ply=30, seed=1)
    scores = []
    for actions, state in positions:
        expected = _brute_force_actions(actions)
        np.testing.assert_array_equal(solver.action_values(state), expected, err_msg=str(actions))
        legal = expected != ILLEGAL
        assert solver.solve(state) == expected[legal].max()
        scores.append(expected[legal].max())
    # The sample covers both wins and losses (draws: see the next test).
    assert min(scores) < 0 < max(scores)


def test_full_board_draws(solver: Solver) -> None:
    # Find random games that filled the board without a line, then solve their last plies.
    rng = np.random.default_rng(2)
    checked = 0
    while checked < 3:
        state, actions, history = CONNECT4.initial_state(), [], []
        while not CONNECT4.is_terminal(state):
            history.append((list(actions), state))
            action = int(rng.choice(np.flatnonzero(CONNECT4.legal_mask(state))))
            actions.append(action)
            state = CONNECT4.step(state, action)
        if state.ply < 42 or CONNECT4.is_won(state):
            continue
        assert solver.solve(state) == 0
        assert (solver.action_values(state) == ILLEGAL).all()
        for past_actions, past in history[-8:]:
            assert solver.solve(past) == _brute_force(_board_of(past_actions))
        assert solver.solve(history[-1][1]) == 0  # one cell left, and it makes no line
        checked += 1


def test_value_is_best_child_in_the_middle_game() -> None:
    # Mid-game positions are too deep for the oracle; check the negamax identity instead,
    # with a tiny table (constant overwrites) against a large one (reused across calls).
    big, tiny = Solver(table_log2=20), Solver(table_log2=10)
    for _, state in _random_positions(12, min_ply=18, seed=3):
        values = big.action_values(state)
        legal = CONNECT4.legal_mask(state)
        np.testing.assert_array_equal(values == ILLEGAL, ~legal)
        assert big.solve(state) == values[legal].max() == tiny.solve(state)
        for action in np.flatnonzero(legal):
            # A child just won scores as a loss for its mover, so one identity covers all.
            assert values[action] == -tiny.solve(CONNECT4.step(state, action))


def test_mirror_images_score_alike() -> None:
    # The table stores a position and its mirror image as one entry: check both orders.
    mirror = CONNECT4.symmetries[1]
    solver = Solver(table_log2=16)
    for _, state in _random_positions(8, min_ply=16, seed=7):
        values = solver.action_values(state)
        mirrored = solver.action_values(CONNECT4.transform_state(state, mirror))
        np.testing.assert_array_equal(mirrored, values[::-1])
        np.testing.assert_array_equal(Solver(table_log2=16).action_values(state), values)


def test_weak_solving_gives_the_outcome() -> None:
    strong, weak = Solver(table_log2=20), Solver(table_log2=20)
    for _, state in _random_positions(12, min_ply=14, seed=6):
        assert weak.solve(state, weak=True) == outcome(strong.solve(state))
        values = strong.action_values(state)
        expected = np.where(values == ILLEGAL, ILLEGAL, np.sign(values))
        np.testing.assert_array_equal(weak.action_values(state, weak=True), expected)


def test_module_functions_and_outcome() -> None:
    state = CONNECT4.parse("4455443")
    assert solve(state) == action_values(state).max()
    assert outcome(7) == 1 and outcome(0) == 0 and outcome(-3) == -1
    np.testing.assert_array_equal(outcome(np.array([-2, 0, 5])), [-1, 0, 1])
    with pytest.raises(ValueError, match="one position"):
        solve(CONNECT4.initial_state(2))


def test_reset_clears_the_table() -> None:
    solver = Solver(table_log2=12)
    solver.solve(CONNECT4.parse("44444433"))
    assert solver.nodes > 0 and solver.table.any()
    solver.reset()
    assert solver.nodes == 0 and not solver.table.any()


@pytest.mark.slow
def test_first_player_wins_only_in_the_centre() -> None:
    """The well-known result: the centre wins, its neighbours draw, the rest lose.

    About 6.5 CPU minutes (12 minutes on a busy 2-core machine).
    """
    outcomes = Solver().action_values(CONNECT4.initial_state(), weak=True)
    np.testing.assert_array_equal(outcomes, [-1, -1, 0, 1, 0, -1, -1])


@pytest.mark.slow
def test_first_move_scores() -> None:
    """The published scores of the first moves (the centre wins with the last stone).

    About 10 CPU minutes (15 minutes on a busy 2-core machine).
    """
    values = Solver().action_values(CONNECT4.initial_state())
    np.testing.assert_array_equal(values, [-2, -1, 0, 1, 0, -1, -2])


# --- the shipped benchmark set --------------------------------------------------------------


def test_benchmark_set_is_sane() -> None:
    data = load_benchmark_set()
    n = len(data.ply)
    assert n >= 1000
    assert set(np.unique(data.stage)) == set(STAGES)
    rng = np.random.default_rng(4)
    sample = rng.choice(n, size=60, replace=False)
    solver = Solver(table_log2=20)
    for i in sample:
        state = CONNECT4.parse(data.notation[i])
        assert (state.own, state.opp, state.ply) == (data.own[i], data.opp[i], data.ply[i])
        legal = CONNECT4.legal_mask(state)
        np.testing.assert_array_equal(data.action_values[i] != ILLEGAL, legal)
        assert legal.any()
        if data.stage[i] == "end":
            np.testing.assert_array_equal(solver.action_values(state), data.action_values[i])


def test_connect4_stage_boundaries():
    ply = np.array([0, 14, 15, 28, 29, 41])
    assert stage_index(ply).tolist() == [0, 0, 1, 1, 2, 2]
    # The index and the name of a stage agree.
    assert [STAGES[i] for i in stage_index(ply)] == stage_of(ply).tolist()


def test_make_benchmark_set_script(tmp_path: Path) -> None:
    out = tmp_path / "set.npz"
    cmd = [sys.executable, "-m", "scripts.make_benchmark_set", "--out", str(out)]
    cmd += ["--per-stage", "0", "0", "6", "--seed", "5"]
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
    data = load_benchmark_set(out)
    assert len(data.ply) == 6 and (data.ply > 28).all()


def test_benchmark_solver_script() -> None:
    cmd = [sys.executable, "-m", "scripts.benchmark_solver", "--positions", "3"]
    cmd += ["--stages", "end", "--seed", "0"]
    result = subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    assert "end" in result.stdout and "nodes/s" in result.stdout
