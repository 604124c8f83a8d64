"""The scripted experts: known positions, policy shape, determinism, and strength."""

from __future__ import annotations

import numpy as np
import pytest

from envs import CONNECT4, TICTACTOE, Game, State
from envs.experts import (
    ILLEGAL_VALUE,
    ConnectFourExpert,
    TicTacToeExpert,
    make_expert,
    tictactoe_action_values,
)
from envs.players import Player, RandomPlayer

# A strong, a weak and a noisy Connect Four expert: the forced-move rules hold for all.
C4_EXPERTS = [
    ConnectFourExpert(depth=4),
    ConnectFourExpert(depth=1),
    ConnectFourExpert(depth=3, temperature=50.0),
]


def play(game: Game, first: Player, second: Player, n: int, rng: np.random.Generator) -> State:
    """The final positions of ``n`` lock-step games, ``first`` moving first."""
    state = game.initial_state(n)
    while True:
        live = ~game.is_terminal(state)
        if not live.any():
            return state
        action = np.zeros(n, dtype=np.int64)
        for seat, player in enumerate((first, second)):
            mine = live & (game.to_play(state) == seat)
            if mine.any():
                action[mine] = player.act(state[mine], rng)
        state = State.where(live, game.step(state, action), state)


def first_player_result(game: Game, final: State) -> np.ndarray:
    """float[n]: +1 the first player won, 0 draw, -1 lost."""
    value = game.terminal_value(final)  # for the player to move at the end
    return np.where(game.to_play(final) == 0, value, -value)


def brute_force_value(own: int, opp: int) -> int:
    """Tic-tac-toe negamax without memo or tables: the value for the player to move."""
    lines = [7, 56, 448, 73, 146, 292, 273, 84]
    if any(opp & line == line for line in lines):
        return -1
    empty = [c for c in range(9) if not (own | opp) >> c & 1]
    if not empty:
        return 0
    return max(-brute_force_value(opp, own | 1 << c) for c in empty)


# --- tic-tac-toe ----------------------------------------------------------------------


def test_tictactoe_values_match_brute_force():
    rng = np.random.default_rng(0)
    # (From the empty board the brute force walks the whole game tree, nine times over:
    # seconds. Two stones in, it is quick.)
    for notation in ["15", "159", "1529", "12", "5137"] + [
        "".join(str(c + 1) for c in rng.permutation(9)[: rng.integers(2, 6)]) for _ in range(20)
    ]:
        state = TICTACTOE.parse(notation)
        values = tictactoe_action_values(state)
        for action in range(9):
            if TICTACTOE.legal_mask(state)[action]:
                child = TICTACTOE.step(state, action)
                won = bool(TICTACTOE.is_won(child))
                expected = 1 if won else -brute_force_value(int(child.own), int(child.opp))
                assert values[action] == expected, (notation, action)
            else:
                assert values[action] == ILLEGAL_VALUE


def test_tictactoe_values_known_positions():
    # X 1, O 5, X 2: X threatens 3. O must block there (and then holds the draw);
    # any other move lets X complete the top row.
    values = tictactoe_action_values(TICTACTOE.parse("152"))
    assert values[2] == 0
    assert set(values[[3, 5, 6, 7, 8]]) == {-1}
    assert set(values[[0, 1, 4]]) == {ILLEGAL_VALUE}
    # X 1, O 2 (an edge next to X's corner), X 5: a textbook loss for O whatever it does.
    assert set(tictactoe_action_values(TICTACTOE.parse("125"))[[2, 3, 5, 6, 7, 8]]) == {-1}
    assert (tictactoe_action_values(TICTACTOE.initial_state()) == 0).all()
    # batched with a leading shape
    batch = State.stack([TICTACTOE.parse("125"), TICTACTOE.parse("")])
    assert tictactoe_action_values(batch).shape == (2, 9)


def test_tictactoe_expert_takes_the_quickest_win_and_blocks():
    expert = TicTacToeExpert(TICTACTOE)
    # X: 1 5 ; O: 2 3 -> X (to move) wins at 9 at once (7 would win later too).
    assert expert.policy(TICTACTOE.parse("1253"))[8] == 1.0
    # X 1 and 5 threaten 9; O to move must block there.
    assert expert.policy(TICTACTOE.parse("125"))[8] == 1.0


def test_tictactoe_expert_never_loses_to_random_and_draws_itself():
    rng = np.random.default_rng(1)
    expert, random = make_expert(TICTACTOE), RandomPlayer(TICTACTOE)
    assert (first_player_result(TICTACTOE, play(TICTACTOE, expert, random, 300, rng)) >= 0).all()
    as_second = first_player_result(TICTACTOE, play(TICTACTOE, random, expert, 300, rng))
    assert (as_second <= 0).all()
    assert (as_second < 0).any()  # and it punishes mistakes
    assert (first_player_result(TICTACTOE, play(TICTACTOE, expert, expert, 100, rng)) == 0).all()


def test_tictactoe_refuses_bad_positions():
    with pytest.raises(ValueError, match="reachable"):
        tictactoe_action_values(State(np.uint64(3), np.uint64(0), np.int32(2)))
    with pytest.raises(ValueError, match="finished"):
        TicTacToeExpert().policy(TICTACTOE.parse("14253")[None])


# --- Connect Four: forced moves ----------------------------------------------------------


@pytest.mark.parametrize("expert", C4_EXPERTS, ids=lambda e: e.name)
def test_connect4_takes_an_immediate_win(expert):
    state = CONNECT4.parse("121312")  # X to move, three high in column 1
    assert CONNECT4.render(state).splitlines()[3:6] == [
        "X . . . . . .",
        "X O . . . . .",
        "X O O . . . .",
    ]
    policy = expert.policy(state[None])[0]
    assert policy[0] == 1.0
    assert expert.act(state[None], np.random.default_rng(0))[0] == 0


@pytest.mark.parametrize("expert", C4_EXPERTS, ids=lambda e: e.name)
def test_connect4_blocks_an_immediate_loss(expert):
    state = CONNECT4.parse("17273")  # O to move; X threatens column 4
    assert CONNECT4.render(state).splitlines()[4:6] == [
        ". . . . . . O",
        "X X X . . . O",
    ]
    assert CONNECT4.to_play(state) == 1
    assert expert.policy(state[None])[0, 3] == 1.0


def test_connect4_wins_rather_than_blocks():
    state = CONNECT4.parse("172737")  # X to move; both sides threaten
    assert CONNECT4.render(state).splitlines()[3:6] == [
        ". . . . . . O",
        ". . . . . . O",
        "X X X . . . O",
    ]
    for expert in C4_EXPERTS:
        assert expert.policy(state[None])[0, 3] == 1.0


# --- Connect Four: policies -----------------------------------------------------------------


def expert_positions(n_games: int, seed: int) -> State:
    """Positions from short random games (up to 20 plies), batched."""
    rng = np.random.default_rng(seed)
    state = CONNECT4.initial_state(n_games)
    positions = []
    for _ in range(20):
        live = ~CONNECT4.is_terminal(state)
        positions.append(state[live])
        legal = CONNECT4.legal_mask(state).astype(np.float64)
        legal[~live] = 1.0
        action = (rng.random(legal.shape) * legal).argmax(axis=-1)
        state = State.where(live, CONNECT4.step(state, action), state)
    return State.concat(positions)


@pytest.mark.parametrize("temperature", [0.0, 0.5, 5.0])
def test_connect4_policy_rows_are_distributions_over_legal_moves(temperature):
    states = expert_positions(30, seed=2)
    policy = ConnectFourExpert(depth=3, temperature=temperature).policy(states)
    legal = CONNECT4.legal_mask(states)
    assert policy.shape == (len(states), 7) and policy.dtype == np.float32
    np.testing.assert_allclose(policy.sum(axis=-1), 1.0, atol=1e-5)
    assert (policy[~legal] == 0).all()
    assert (policy >= 0).all()


def test_connect4_temperature_zero_is_uniform_over_the_best_scores():
    states = expert_positions(20, seed=3)
    expert = ConnectFourExpert(depth=3)
    scores, policy = expert.scores(states), expert.policy(states)
    best = scores == scores.max(axis=-1, keepdims=True)
    forced = policy.max(axis=-1) == 1.0
    free = ~forced
    np.testing.assert_allclose(
        policy[free], (best / best.sum(axis=-1, keepdims=True))[free], atol=1e-6
    )


def test_connect4_margin_search_agrees_with_exact_scores():
    # The policy's search stops early on moves it can show are worse; its best moves and
    # their scores must still be those of the exact search.
    from envs.experts import connect4_kernel as kernel

    states = expert_positions(20, seed=4)
    own, opp = states.own.astype(np.uint64), states.opp.astype(np.uint64)
    exact = kernel.root_scores(own, opp, 4, 2**31)
    pruned = kernel.root_scores(own, opp, 4, 0)
    best = exact.max(axis=-1, keepdims=True)
    assert (pruned.max(axis=-1, keepdims=True) == best).all()
    assert ((pruned == best) == (exact == best)).all()
    assert (pruned >= exact).all()  # the others are upper bounds


def test_experts_are_deterministic_given_the_seed():
    states = expert_positions(20, seed=5)
    expert = ConnectFourExpert(depth=3, temperature=1.0)
    first = expert.act(states, np.random.default_rng(42))
    again = expert.act(states, np.random.default_rng(42))
    other = expert.act(states, np.random.default_rng(43))
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()
    assert CONNECT4.legal_mask(states)[np.arange(len(states)), first].all()


def test_make_expert_defaults_and_refusals():
    assert isinstance(make_expert(TICTACTOE), TicTacToeExpert)
    assert isinstance(make_expert("connect4", depth=3), ConnectFourExpert)
    assert make_expert(CONNECT4, depth=3).name == "expert-d3"
    assert make_expert(CONNECT4, depth=3, temperature=0.5).name == "expert-d3-t0.5"
    assert isinstance(make_expert(CONNECT4), Player)
    with pytest.raises(ValueError, match="depth"):
        make_expert(CONNECT4, depth=0)
    with pytest.raises(ValueError, match="temperature"):
        make_expert(CONNECT4, temperature=-1.0)
    with pytest.raises(ValueError, match="perfect"):
        make_expert(TICTACTOE, depth=3)


# --- Connect Four: strength -----------------------------------------------------------------


def duel_score(deep: Player, shallow: Player, n: int, seed: int) -> float:
    """``deep``'s score (win 1, draw 1/2) over ``n`` games with colours alternating, each
    pair starting from the same two random plies."""
    rng = np.random.default_rng(seed)
    random = RandomPlayer(CONNECT4)
    scores = []
    for _ in range(n // 2):
        opening = CONNECT4.initial_state(1)
        for _ in range(2):
            opening = CONNECT4.step(opening, random.act(opening, rng))
        for first, second, sign in ((deep, shallow, 1), (shallow, deep, -1)):
            state = opening
            while not CONNECT4.is_terminal(state)[0]:
                mover = first if CONNECT4.to_play(state)[0] == 0 else second
                state = CONNECT4.step(state, mover.act(state, rng))
            result = sign * first_player_result(CONNECT4, state)[0]
            scores.append((result + 1) / 2)
    return float(np.mean(scores))


def test_deeper_search_beats_shallower():
    # Depth 3 against depth 1 scores about 0.75 over thousands of games; 0.6 over 60 is
    # about three standard errors below that.
    assert duel_score(ConnectFourExpert(depth=3), ConnectFourExpert(depth=1), 60, seed=6) > 0.6


@pytest.mark.slow
def test_depth_ladder():
    for depth in (2, 3, 5):
        deep, shallow = ConnectFourExpert(depth=depth + 2), ConnectFourExpert(depth=depth)
        assert duel_score(deep, shallow, 200, seed=depth) > 0.55, depth
