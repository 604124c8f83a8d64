"""Random positions: known answers from a plain one-game-at-a-time loop, and properties."""

from __future__ import annotations

import numpy as np
import pytest

from envs import CONNECT4, GAMES, TICTACTOE, Game, LineGame, State
from train.arena.positions import random_openings, random_positions


def _uniform_pick(legal: np.ndarray, u: float) -> int:
    """The move ``envs.players.sample_masked`` draws from equal weights on ``legal`` (the
    legal actions, increasing) with the uniform number ``u``: the first action whose running
    count exceeds ``u * len(legal)``."""
    return int(legal[int(u * len(legal))])


def _reference_positions(game: Game, n: int, max_plies: int, seed: int, finished: bool):
    """random_positions written out the plain way, game by game, from the same draws."""
    rng = np.random.default_rng(seed)
    plies = rng.integers(0, max_plies + 1, n)
    states = [game.initial_state() for _ in range(n)]
    for ply in range(max_plies):
        u = rng.random(n)  # one draw per game and ply, whether it moves or not
        for i in range(n):
            legal = np.flatnonzero(game.legal_mask(states[i]))
            if ply >= plies[i] or len(legal) == 0:
                continue
            after = game.step(states[i], _uniform_pick(legal, u[i]))
            if finished or not game.is_terminal(after):
                states[i] = after
    return State.stack(states)


def _reference_openings(game: Game, n: int, plies: int, seed: int):
    """random_openings the plain way: at each ply one draw per unfinished game, in order."""
    rng = np.random.default_rng(seed)
    states = [game.initial_state() for _ in range(n)]
    actions = np.full((n, plies), -1)
    for ply in range(plies):
        live = [i for i in range(n) if not game.is_terminal(states[i])]
        if not live:
            break
        u = rng.random(len(live))
        for k, i in enumerate(live):
            actions[i, ply] = _uniform_pick(np.flatnonzero(game.legal_mask(states[i])), u[k])
            states[i] = game.step(states[i], actions[i, ply])
    return State.stack(states), actions


def _assert_same(a: State, b: State) -> None:
    for field in ("own", "opp", "ply"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


@pytest.mark.parametrize("game", [TICTACTOE, CONNECT4], ids=lambda g: g.name)
@pytest.mark.parametrize("max_plies", [0, 3, 8, 30])
@pytest.mark.parametrize("finished", [False, True])
def test_random_positions_equal_the_plain_loop(game: Game, max_plies: int, finished: bool):
    fast = random_positions(game, 60, max_plies, np.random.default_rng(5), finished=finished)
    _assert_same(fast, _reference_positions(game, 60, max_plies, 5, finished))
    assert fast.own.dtype == np.uint64 and fast.ply.dtype == np.int32


@pytest.mark.parametrize("game", [TICTACTOE, CONNECT4], ids=lambda g: g.name)
@pytest.mark.parametrize("plies", [0, 2, 7, 9])
def test_random_openings_equal_the_plain_loop(game: Game, plies: int):
    states, actions = random_openings(game, 40, plies, np.random.default_rng(plies))
    expected_states, expected_actions = _reference_openings(game, 40, plies, plies)
    _assert_same(states, expected_states)
    np.testing.assert_array_equal(actions, expected_actions)
    assert actions.shape == (40, plies) and actions.dtype == np.int64


def test_openings_have_exactly_their_plies_unless_the_game_ended() -> None:
    states, actions = random_openings(TICTACTOE, 500, 7, np.random.default_rng(0))
    over = TICTACTOE.is_terminal(states)
    assert over.any() and (states.ply[~over] == 7).all()  # 7 plies end some games
    assert ((actions >= 0).sum(axis=1) == states.ply).all()
    for i in np.flatnonzero(over)[:20]:  # a game that ended replays to its end and stops
        moves = actions[i][actions[i] >= 0]
        assert TICTACTOE.is_terminal(TICTACTOE.parse(TICTACTOE.notation(moves)))


@pytest.mark.parametrize("game", GAMES.values(), ids=GAMES.keys())
def test_random_starts_are_unfinished_positions_of_every_depth(game: Game) -> None:
    starts = random_positions(game, 400, 8, np.random.default_rng(0))
    assert not game.is_terminal(starts).any()
    assert starts.ply.min() == 0 and starts.ply.max() <= 8
    # Plies are drawn uniformly from 0..8; only a move that would end the game is skipped.
    assert len(np.unique(starts.ply)) >= 8
    _check_stones(game, starts)
    again = random_positions(game, 400, 8, np.random.default_rng(0))
    np.testing.assert_array_equal(again.own, starts.own)


def test_random_starts_never_hand_over_a_finished_tictactoe_game() -> None:
    # Eight random plies end many tic-tac-toe games; those games stop one ply earlier.
    starts = random_positions(TICTACTOE, 2000, 8, np.random.default_rng(1))
    assert not TICTACTOE.is_terminal(starts).any()
    assert TICTACTOE.legal_mask(starts).any(axis=1).all()


@pytest.mark.parametrize("game", GAMES.values(), ids=GAMES.keys())
def test_finished_positions_are_real_games_that_ended(game: Game) -> None:
    states = random_positions(game, 400, game.max_moves - 1, np.random.default_rng(2), True)
    over = game.is_terminal(states)
    assert over.any() and (~over).any()
    _check_stones(game, states)
    if isinstance(game, LineGame):
        # No move was played after a game ended: the player to move never holds a line.
        swapped = State(states.opp, states.own, states.ply)
        assert not game.is_won(swapped).any()


def _check_stones(game: Game, states: State) -> None:
    """Each position is a real one: as many stones as plies in the line games (no captures,
    no passes), at most as many in Go, and never a stone of both colours on one cell."""
    stones = (game.board(states) != 0).reshape(len(states), -1).sum(axis=1)
    if isinstance(game, LineGame):
        np.testing.assert_array_equal(stones, states.ply)
    else:
        assert (stones <= states.ply).all()
        assert not (np.asarray(states.own) & np.asarray(states.opp)).any()
