"""Rules: one generic compliance test every game passes, then known answers per game."""

from __future__ import annotations

import numpy as np
import pytest

from envs import CONNECT4, GAMES, TICTACTOE, Game, GoGame, LineGame, State, TicTacToe
from tests.toy_game import CONNECT3

#: Every registered game, and the test-only toy (whose rules need no registry).
COMPLIANT = [*GAMES.values(), CONNECT3]


def from_ascii(game: Game, text: str) -> State:
    """A position drawn as in ``Game.render`` (X moved first; digits and dots are empty)."""
    rows = [line.split() for line in text.strip().splitlines()][: game.rows]
    cells = np.array(rows).ravel()
    x_bits = np.bitwise_or.reduce(np.where(cells == "X", game.cell_bits, np.uint64(0)))
    o_bits = np.bitwise_or.reduce(np.where(cells == "O", game.cell_bits, np.uint64(0)))
    n_x, n_o = int((cells == "X").sum()), int((cells == "O").sum())
    assert n_x - n_o in (0, 1), "X moves first, so it has as many stones as O or one more"
    own, opp = (x_bits, o_bits) if n_x == n_o else (o_bits, x_bits)
    return State(np.uint64(own), np.uint64(opp), np.int32(n_x + n_o))


def random_games(game: Game, n: int, seed: int) -> list[tuple[list[State], list[int]]]:
    """``n`` random games, each as the positions from the empty board to the end and the
    actions between them."""
    rng = np.random.default_rng(seed)
    games = []
    for _ in range(n):
        state, history, actions = game.initial_state(), [game.initial_state()], []
        while not game.is_terminal(state):
            actions.append(int(rng.choice(np.flatnonzero(game.legal_mask(state)))))
            state = game.play(state, actions[-1])
            history.append(state)
        games.append((history, actions))
    return games


def random_playouts(game: Game, n: int, seed: int) -> list[list[State]]:
    """``n`` random games, each as the list of positions from the empty board to the end."""
    return [history for history, _ in random_games(game, n, seed)]


def same(a: State, b: State) -> bool:
    """The two positions are equal, field by field."""
    return bool(np.array_equal(a.flat_keys(), b.flat_keys()))


@pytest.mark.parametrize("game", COMPLIANT, ids=lambda g: g.name)
class TestCompliance:
    """What every game must satisfy, checked along random playouts."""

    def test_mask_non_empty_until_terminal(self, game: Game) -> None:
        for history in random_playouts(game, 50, seed=1):
            for state in history[:-1]:
                assert not game.is_terminal(state)
                assert game.legal_mask(state).any()
            assert game.is_terminal(history[-1])
            assert not game.legal_mask(history[-1]).any()

    def test_step_never_mutates_its_input(self, game: Game) -> None:
        batch = game.initial_state(4)
        batch = game.step(batch, np.array([0, 1, 2, 1]))
        before = batch.copy()
        game.step(batch, np.array([1, 2, 0, 1]))
        for name, array in batch.fields().items():
            np.testing.assert_array_equal(array, before.fields()[name])

    def test_outcome_is_zero_sum(self, game: Game) -> None:
        for history in random_playouts(game, 100, seed=2):
            end = history[-1]
            value = game.terminal_value(end)
            assert value in (-1.0, 0.0, 1.0)
            assert all(game.terminal_value(s) == 0 for s in history[:-1])  # 0 until the end
            # Who won, by the first player's colour, follows from the mover's value.
            first_to_move = game.to_play(end) == 0
            expected = -1 if value == 0 else (0 if (value > 0) == first_to_move else 1)
            assert game.winner(end) == expected
            if isinstance(game, LineGame):
                # Only the player who just moved can hold a line; the loser never does.
                assert not game._has_line(end.own)
                assert value == (-1.0 if game.is_won(end) else 0.0)

    def test_symmetries_preserve_legality_and_outcome(self, game: Game) -> None:
        for history in random_playouts(game, 20, seed=3):
            for state in history:
                for sym in game.symmetries:
                    image = game.transform_state(state, sym)
                    np.testing.assert_array_equal(
                        game.legal_mask(image),
                        game.transform_policy(game.legal_mask(state), sym),
                    )
                    assert game.is_terminal(image) == game.is_terminal(state)
                    assert game.terminal_value(image) == game.terminal_value(state)
                    np.testing.assert_array_equal(
                        game.observation(image),
                        game.transform_obs(game.observation(state), sym),
                    )

    def test_symmetries_commute_with_moves(self, game: Game) -> None:
        state = random_playouts(game, 1, seed=4)[0][2]
        for sym in game.symmetries:
            for action in np.flatnonzero(game.legal_mask(state)):
                moved_then_mapped = game.transform_state(game.step(state, action), sym)
                mapped_then_moved = game.step(
                    game.transform_state(state, sym), sym.action_perm[action]
                )
                assert same(moved_then_mapped, mapped_then_moved)

    def test_batched_equals_single(self, game: Game) -> None:
        rng = np.random.default_rng(5)
        n = 64
        batch, singles = game.initial_state(n), [game.initial_state() for _ in range(n)]
        while not game.is_terminal(batch).all():
            live = ~game.is_terminal(batch)
            legal = game.legal_mask(batch)
            actions = np.array([rng.choice(np.flatnonzero(m)) if m.any() else 0 for m in legal])
            batch = State.where(live, game.step(batch, actions), batch)
            singles = [
                game.step(s, a) if ok else s
                for s, a, ok in zip(singles, actions, live, strict=True)
            ]
            for i, single in enumerate(singles):
                assert same(batch[i], single)
                np.testing.assert_array_equal(game.legal_mask(batch)[i], game.legal_mask(single))
                np.testing.assert_array_equal(game.observation(batch)[i], game.observation(single))
        np.testing.assert_array_equal(
            game.terminal_value(batch), [game.terminal_value(s) for s in singles]
        )

    def test_notation_round_trip(self, game: Game) -> None:
        for history, actions in random_games(game, 20, seed=6):
            text = game.notation(actions)
            assert same(game.parse(text), history[-1])
            assert game.parse_actions(text) == actions

    def test_observation_is_from_the_movers_view(self, game: Game) -> None:
        state = game.parse(game.notation([0, 1]))
        obs = game.observation(state)
        assert obs.shape == game.obs_shape and obs.dtype == np.float32
        # After two moves the first player is to move: plane 0 holds its single stone.
        assert obs[0].sum() == 1 and obs[1].sum() == 1
        after = game.observation(game.step(state, 2))
        assert after[0].sum() == 1 and after[1].sum() == 2
        # A plane of ones says the first player is to move (Go's is after its ko plane).
        first = 3 if isinstance(game, GoGame) else 2
        assert obs[first].all() and not after[first].any()


# --- tic-tac-toe: known counts and boards ----------------------------------------------


def _tictactoe_tree() -> tuple[set[tuple[int, int]], int]:
    """(every reachable position, number of possible games), by exhaustive search.

    The games below a position depend only on the position, so they are counted once per
    position (memoised) rather than once per path.
    """
    games_below: dict[tuple[int, int], int] = {}

    def visit(state: State) -> int:
        key = (int(state.own), int(state.opp))
        if key not in games_below:
            legal = np.flatnonzero(TICTACTOE.legal_mask(state))
            games_below[key] = (
                sum(visit(TICTACTOE.step(state, a)) for a in legal) if legal.size else 1
            )
        return games_below[key]

    games = visit(TICTACTOE.initial_state())
    return set(games_below), games


def test_a_board_over_64_cells_is_refused() -> None:
    class Big(TicTacToe):
        name = "big"
        rows, cols = 9, 9

    with pytest.raises(ValueError, match="big: 81 cells, more than a State holds"):
        Big()


def test_tictactoe_counts() -> None:
    positions, games = _tictactoe_tree()
    assert len(positions) == 5478
    assert games == 255168


@pytest.mark.parametrize(
    "board",
    [
        "X X X\n4 O 6\nO 8 9",  # row
        "O X 3\nO X 6\n7 X 9",  # column
        "X O 3\nO X 6\n7 8 X",  # diagonal
        "O O X\n4 X 6\nX 8 9",  # anti-diagonal
    ],
)
def test_tictactoe_every_line_wins(board: str) -> None:
    state = from_ascii(TICTACTOE, board)
    assert TICTACTOE.is_won(state) and TICTACTOE.is_terminal(state)
    assert TICTACTOE.terminal_value(state) == -1.0
    assert not TICTACTOE.legal_mask(state).any()


def test_tictactoe_draw_and_render() -> None:
    state = TICTACTOE.parse("519732468")
    assert TICTACTOE.render(state) == "O O X\nX X O\nO X X"
    assert TICTACTOE.is_terminal(state) and not TICTACTOE.is_won(state)
    assert TICTACTOE.terminal_value(state) == 0.0
    assert TICTACTOE.render(TICTACTOE.parse("5")) == "1 2 3\n4 X 6\n7 8 9"


# --- Connect Four: known counts and boards -----------------------------------------------

# OEIS A212693: distinct Connect Four positions after n plies.
A212693 = [1, 7, 49, 238, 1120, 4263, 16422, 54859, 184275, 558186]


def test_connect4_position_counts() -> None:
    frontier = CONNECT4.initial_state(1)
    counts = [1]
    for _ in range(len(A212693) - 1):
        legal = CONNECT4.legal_mask(frontier)
        rows, actions = np.nonzero(legal)
        children = CONNECT4.step(frontier[rows], actions)
        # A position is the pair of stone sets; the ply is implied by them.
        keys = np.unique(np.stack([children.own, children.opp], axis=1), axis=0)
        frontier = State(keys[:, 0], keys[:, 1], np.full(len(keys), children.ply[0]))
        counts.append(len(keys))
    assert counts == A212693


CONNECT4_WINS = {
    "vertical": """
        . . . . . . .
        . . . . . . .
        X . . . . . .
        X O . . . . .
        X O . . . . .
        X O . . . . .""",
    "horizontal": """
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . O O O . .
        . . X X X X .""",
    "diagonal /": """
        . . . . . . .
        . . . . . . .
        . . . . . . X
        . . . . . X O
        . . . . X X O
        X . . X O O O""",
    "diagonal \\": """
        . . . . . . .
        . . . . . . .
        X . . . . . .
        O X . . . . .
        O X X . . . .
        O O O X . . X""",
}


@pytest.mark.parametrize("direction", CONNECT4_WINS)
def test_connect4_every_win_direction(direction: str) -> None:
    state = from_ascii(CONNECT4, CONNECT4_WINS[direction])
    assert CONNECT4.is_won(state) and CONNECT4.is_terminal(state)
    assert CONNECT4.terminal_value(state) == -1.0
    assert not CONNECT4.legal_mask(state).any()


def test_connect4_lines_do_not_wrap_between_columns() -> None:
    # X holds the top three cells of column 1 and the bottom cell of column 2: adjacent
    # bits were it not for the sentinel bit between columns, yet no four in a row.
    state = from_ascii(
        CONNECT4,
        """
        X . . . . . .
        X . . . . . .
        X . . . . . .
        O . . . . . .
        O . . . . . .
        O X . . . . .""",
    )
    assert not CONNECT4.is_terminal(state)
    assert CONNECT4.legal_mask(state).tolist() == [False] + [True] * 6


def test_connect4_draw() -> None:
    # The end of a random game that filled the board without a line.
    notation = "666165577462463234152541333211132724554777"
    board = """
        X X O X O O O
        O X X O X X X
        X O O X O X O
        O X X O O X O
        X O X X X O X
        O O X O O X O"""
    assert CONNECT4.render(CONNECT4.parse(notation)).splitlines()[:6] == [
        line.strip() for line in board.strip().splitlines()
    ]
    state = from_ascii(CONNECT4, board)
    assert state.ply == 42 and CONNECT4.is_terminal(state) and not CONNECT4.is_won(state)
    assert not CONNECT4._has_line(state.own)
    assert CONNECT4.terminal_value(state) == 0.0


def test_connect4_render_and_gravity() -> None:
    state = CONNECT4.parse("4453")
    expected = "\n".join(
        [". . . . . . ."] * 4 + [". . . O . . .", ". . O X X . .", "1 2 3 4 5 6 7"]
    )
    assert CONNECT4.render(state) == expected


@pytest.mark.parametrize(
    ("notation", "message"),
    [
        ("448", "'8' is not a column 1..7"),
        ("40", "'0' is not a column 1..7"),
        ("4a", "'a' is not a column 1..7"),
        ("1111111", "move 7 ('1'): column 1 is full"),
        ("12121212", "move 8 ('2'): the game is already over"),
    ],
)
def test_connect4_bad_notation_names_the_move(notation: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CONNECT4.parse(notation)


@pytest.mark.parametrize(
    ("notation", "message"),
    [("55", "cell 5 is taken"), ("0", "not a cell 1..9"), ("1425367", "already over")],
)
def test_tictactoe_bad_notation(notation: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TICTACTOE.parse(notation)
