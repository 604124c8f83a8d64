"""The lock-step runner: the same games as one-at-a-time play, one call per player per step."""

from __future__ import annotations

import numpy as np
import pytest

from envs import CONNECT4, TICTACTOE, Game, State
from envs.players import RandomPlayer
from train.arena.runner import play_lockstep


class Scripted:
    """Deterministic: a move fixed by the position (a hash of it picks among the legal
    moves), so that every game goes its own way. Logs the plies of each batch it is asked."""

    def __init__(self, game: Game, salt: int, name: str) -> None:
        self.game, self.salt, self.name = game, salt, name
        self.calls: list[np.ndarray] = []

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        self.calls.append(np.array(state.ply, copy=True))
        legal = self.game.legal_mask(state)
        key = (state.own * 3 + state.opp * 5 + self.salt) % 97
        order = np.argsort(~legal, axis=-1, kind="stable")  # legal actions first
        pick = key.astype(np.int64) % legal.sum(axis=-1)
        return order[np.arange(len(pick)), pick]


def _one_by_one(game: Game, players, start: State, seat: np.ndarray):
    """The reference: each game played alone to its end, the plain way."""
    moves, finals = [], []
    for i in range(len(start)):
        state, played = start[i], []
        while not game.is_terminal(state):
            index = 0 if int(game.to_play(state)) == seat[i] else 1
            action = int(players[index].act(State.stack([state]), None)[0])
            played.append((int(state.ply), action))
            state = game.play(state, action)
        moves.append(played)
        finals.append(state)
    return moves, State.stack(finals)


@pytest.mark.parametrize("game", [TICTACTOE, CONNECT4], ids=lambda g: g.name)
def test_lockstep_games_equal_games_played_one_by_one(game: Game) -> None:
    rng = np.random.default_rng(0)
    n = 24
    # Varied starts: a few random plies (none finished) for each game.
    start = game.initial_state(n)
    for _ in range(3):
        start = game.step(start, RandomPlayer(game).act(start, rng))
    seat = np.arange(n) % 2
    a, b = Scripted(game, 1, "a"), Scripted(game, 2, "b")
    played = play_lockstep(game, (a, b), start, rng, seat=seat)
    moves, finals = _one_by_one(game, (Scripted(game, 1, "a"), Scripted(game, 2, "b")), start, seat)
    np.testing.assert_array_equal(played.final.own, finals.own)
    np.testing.assert_array_equal(played.final.opp, finals.opp)
    np.testing.assert_array_equal(played.final.ply, finals.ply)
    table = played.moves()
    assert table.shape == (n, game.num_cells)
    for i, game_moves in enumerate(moves):
        expected = np.full(game.num_cells, -1)
        for ply, action in game_moves:
            expected[ply] = action
        np.testing.assert_array_equal(table[i], expected)
    # Outcomes for the first mover, from the reference's final positions.
    value = game.terminal_value(finals)
    first = np.where(finals.ply % 2 == 0, value, -value)
    np.testing.assert_array_equal(played.first_player_outcome(), first)


def test_each_player_is_called_once_per_step_for_its_own_games_first_player_first() -> None:
    game = CONNECT4
    a, b = Scripted(game, 3, "a"), Scripted(game, 4, "b")
    seat = np.array([0, 1, 0, 1, 1])
    played = play_lockstep(game, (a, b), game.initial_state(5), np.random.default_rng(0), seat)
    # Turns alternate a, b within a step (both colours are to move at every ply here).
    assert [t.player for t in played.turns[:4]] == [0, 1, 0, 1]
    for turn in played.turns:
        assert np.all(np.diff(turn.games) > 0)  # increasing game order
        mover = (game.to_play(turn.states) == seat[turn.games]) == (turn.player == 0)
        assert mover.all()  # each player moves only for its own colour
    assert len(a.calls) + len(b.calls) == len(played.turns)
    states, actions, games = played.played_by(1)
    assert sum(len(c) for c in b.calls) == len(actions) == len(games) == len(states)
    np.testing.assert_array_equal(played.moves()[games, states.ply], actions)


def test_one_player_makes_every_move_and_max_plies_stops_early() -> None:
    game = TICTACTOE
    player = Scripted(game, 5, "solo")
    start = game.initial_state(6)
    played = play_lockstep(game, [player], start, np.random.default_rng(0), max_plies=3)
    assert [t.player for t in played.turns] == [0, 0, 0]  # one call per ply
    assert (played.final.ply == 3).all()
    assert (played.moves(3) >= 0).all()
    # Going on from there plays to the end; finished games are left as they are.
    rest = play_lockstep(game, [player], played.final, np.random.default_rng(0))
    assert game.is_terminal(rest.final).all()
    again = play_lockstep(game, [player], rest.final, np.random.default_rng(0))
    assert again.turns == []


def test_a_wrong_answer_is_refused_with_the_players_name() -> None:
    class Short:
        name, game = "short", TICTACTOE

        def act(self, state, rng):
            return np.zeros(len(state) - 1, dtype=np.int64)

    with pytest.raises(ValueError, match="short returned"):
        play_lockstep(TICTACTOE, [Short()], TICTACTOE.initial_state(3), np.random.default_rng(0))
    with pytest.raises(ValueError, match="one or two players"):
        play_lockstep(TICTACTOE, [], TICTACTOE.initial_state(1), np.random.default_rng(0))
