"""Go's rules on known positions: captures, suicide, ko, snapback, seki, life and death,
scoring and the end of the game. (The compliance tests every game passes are in
``test_rules``; the agreement with GNU Go is in ``test_go_gnugo``.)"""

from __future__ import annotations

import numpy as np
import pytest

from envs import State
from envs.go import GO7, GoGame, parse_vertex, vertex


def position(game: GoGame, diagram: str, black_to_move: bool = True, ko: int = -1) -> State:
    """A position from a diagram of ``X`` (Black), ``O`` (White) and ``.``, top row first."""
    cells = np.array(diagram.split()).reshape(-1)
    assert cells.size == game.num_cells, f"the diagram has {cells.size} points"
    black, white = cells == "X", cells == "O"
    own, opp = (black, white) if black_to_move else (white, black)
    aux = np.array([ko, 0], dtype=np.int16)
    return State(own, opp, np.int32(0 if black_to_move else 1), aux)


def play(game: GoGame, state: State, *moves: str) -> State:
    for move in moves:
        state = game.play(state, game.parse_move(move))
    return state


def stones(game: GoGame, state: State) -> str:
    """The board as a diagram, for comparing with an expected one."""
    glyph = {1: "X", -1: "O", 0: "."}
    return " ".join(glyph[int(v)] for v in game.board(state).ravel())


def diagram(text: str) -> str:
    return " ".join(text.split())


GO5 = GoGame(5)


def test_a_single_stone_is_captured() -> None:
    state = position(
        GO5,
        """
        . . . . .
        . . X . .
        . X O X .
        . . . . .
        . . . . .
        """,
    )
    after = play(GO5, state, "C2")
    assert stones(GO5, after) == diagram(
        """
        . . . . .
        . . X . .
        . X . X .
        . . X . .
        . . . . .
        """
    )


def test_a_group_in_the_corner_is_captured_whole() -> None:
    state = position(
        GO5,
        """
        O O . . .
        O X . . .
        X . . . .
        . . . . .
        . . . . .
        """,
    )
    after = play(GO5, state, "C5")  # the white stones' last liberty
    assert stones(GO5, after).split()[:6] == [".", ".", "X", ".", ".", "."]
    assert int(GO5.board(after).sum()) == 3  # three black stones, no white ones


def test_suicide_is_illegal_but_a_capture_is_not() -> None:
    state = position(
        GO5,
        """
        . O . . .
        O . . . .
        . . . . .
        . . . . .
        . . . . .
        """,
    )
    legal = GO5.legal_mask(state)
    assert not legal[parse_vertex("A5", 5)]  # a lone stone with no liberty
    with pytest.raises(ValueError, match="illegal"):
        GO5.play(state, parse_vertex("A5", 5))
    # A group that would fill its own last liberty is suicide too.
    group = position(
        GO5,
        """
        X . O . .
        X O . . .
        O . . . .
        . . . . .
        . . . . .
        """,
    )
    assert not GO5.legal_mask(group)[parse_vertex("B5", 5)]
    # The same point is legal once it captures: the white stone on C5 is in atari.
    capture = position(
        GO5,
        """
        X . O X .
        X O X . .
        O . . . .
        . . . . .
        . . . . .
        """,
    )
    assert GO5.legal_mask(capture)[parse_vertex("B5", 5)]
    after = play(GO5, capture, "B5")
    assert stones(GO5, after).split()[2] == "."


def test_ko_forbids_the_immediate_retake_only() -> None:
    state = position(
        GO5,
        """
        . X O . .
        X O . O .
        . X O . .
        . . . . .
        . . . . .
        """,
    )
    taken = play(GO5, state, "C4")  # Black captures B4
    ko = parse_vertex("B4", 5)
    assert GO5.ko_cell(taken) == ko
    assert not GO5.legal_mask(taken)[ko]  # White may not retake at once
    assert GO5.observation(taken)[2].ravel()[ko] == 1  # the network sees the ko point
    later = play(GO5, taken, "E1", "E2")  # a move each elsewhere (a ko threat and answer)
    assert GO5.ko_cell(later) == -1 and GO5.legal_mask(later)[ko]
    retaken = play(GO5, later, "B4")
    assert GO5.ko_cell(retaken) == parse_vertex("C4", 5)


def test_a_pass_clears_the_ko() -> None:
    state = position(
        GO5,
        """
        . X O . .
        X O . O .
        . X O . .
        . . . . .
        . . . . .
        """,
    )
    # White passes instead of retaking: the ban was on the next move only, so after Black's
    # answer (a pass too would end the game) White may take back.
    after = play(GO5, state, "C4", "pass")
    assert GO5.ko_cell(after) == -1
    assert GO5.legal_mask(play(GO5, after, "E1"))[parse_vertex("B4", 5)]


def test_snapback_is_not_a_ko() -> None:
    state = position(
        GO7,
        """
        . . O X . . .
        O O O X . . .
        X X X X . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        """,
    )
    # Black throws in on B7; White captures it on A7, leaving its own five stones with one
    # liberty (B7), where Black takes them back at once: more than one stone, so no ko.
    after = play(GO7, state, "B7", "A7")
    assert GO7.ko_cell(after) == -1
    assert GO7.legal_mask(after)[parse_vertex("B7", 7)]
    snapped = play(GO7, after, "B7")
    assert not (GO7.board(snapped) == -1).any()  # every white stone is gone


def test_two_eyes_live_one_eye_dies() -> None:
    two_eyes = position(
        GO5,
        """
        . X O . .
        X X O . .
        . X O . .
        X X O . .
        O O O . .
        """,
        black_to_move=False,
    )
    legal = GO5.legal_mask(two_eyes)
    assert not legal[parse_vertex("A5", 5)] and not legal[parse_vertex("A3", 5)]
    one_eye = position(
        GO5,
        """
        . X O . .
        X X O . .
        X X O . .
        X X O . .
        O O O . .
        """,
        black_to_move=False,
    )
    captured = play(GO5, one_eye, "A5")
    assert not (GO5.board(captured) == 1).any()


def test_seki_both_groups_live_and_their_shared_liberties_are_neutral() -> None:
    # Black's stones on A4-A2 and White's on column B share their only liberties, A5 and
    # A1: whoever fills one is captured through the other, so neither does and both live.
    seki = position(
        GO5,
        """
        . O X . .
        X O X . .
        X O X . .
        X O X . .
        . O X . .
        """,
    )
    a5 = parse_vertex("A5", 5)
    assert GO5.legal_mask(seki)[a5]  # filling is legal, but it is self-atari
    filled = play(GO5, seki, "A5", "A1")  # White takes Black's four stones
    assert int((GO5.board(filled) == 1).sum()) == 5  # only column C is left
    # Scored as it stands: Black 8 stones and the 10 points of columns D-E, White 5 stones;
    # A5 and A1 border both colours and count for nobody.
    assert GO5.score(seki) == pytest.approx(18 - 5 - GO5.komi)


def test_area_scoring_with_komi() -> None:
    board = """
        . . . X O . .
        . . . X O . .
        . . . X O . .
        . . . X O . .
        . . . X O . .
        . . . X O . .
        . . . X O . .
    """
    # Black: 7 stones and 21 points of territory; White: 7 stones and 14 points.
    black_to_move = position(GO7, board)
    white_to_move = position(GO7, board, black_to_move=False)
    assert GO7.komi == 9.0
    assert GO7.score(black_to_move) == pytest.approx(28 - 21 - 9)
    assert GO7.score(white_to_move) == pytest.approx(-(28 - 21 - 9))
    finished = play(GO7, black_to_move, "pass", "pass")
    assert GO7.is_terminal(finished)
    assert GO7.terminal_value(finished) == -1.0  # Black to move again, and Black lost by 2
    assert GO7.winner(finished) == 1  # White
    fair = GoGame(7, komi=7.0)  # a komi of 7 makes it a draw
    assert fair.terminal_value(play(fair, black_to_move, "pass", "pass")) == 0.0


def test_the_game_ends_after_two_passes_or_the_move_limit() -> None:
    state = play(GO7, GO7.initial_state(), "D4", "pass")
    assert not GO7.is_terminal(state)
    state = play(GO7, state, "C3")  # a stone between the passes starts the count again
    state = play(GO7, state, "pass")
    assert not GO7.is_terminal(state)
    state = play(GO7, state, "pass")
    assert GO7.is_terminal(state) and not GO7.legal_mask(state).any()
    short = GoGame(5, max_moves=3)
    end = play(short, short.initial_state(), "A1", "B2", "C3")
    assert short.is_terminal(end) and short.name == "go5-custom"


@pytest.mark.parametrize("size", [7, 9, 19])
def test_vertex_round_trip(size):
    actions = range(size * size + 1)
    names = [vertex(a, size) for a in actions]
    assert len(set(names)) == len(names)
    assert not any("I" in name for name in names)
    assert [parse_vertex(n, size) for n in names] == list(actions)
    assert [parse_vertex(n.lower(), size) for n in names] == list(actions)


def test_vertex_known_names():
    assert (vertex(0, 7), vertex(48, 7), vertex(49, 7)) == ("A7", "G1", "pass")
    assert (vertex(8, 9), vertex(80, 9)) == ("J9", "J1")  # column 8 skips I
    assert vertex(360, 19) == "T1" and parse_vertex("PASS", 19) == 361
    assert parse_vertex("d4", 7) == 3 * 7 + 3


@pytest.mark.parametrize("junk", ["", "I4", "H1", "A8", "A0", "A", "4A", "pas", "A-1"])
def test_parse_vertex_refuses_junk(junk):
    with pytest.raises(ValueError):
        parse_vertex(junk, 7)


def test_vertex_refuses_off_board():
    with pytest.raises(ValueError):
        vertex(50, 7)


def test_move_strings_are_gtp_vertices_separated_by_spaces() -> None:
    state = GO7.parse("D4 C3 pass")
    assert int(state.ply) == 3 and GO7.notation([24, 30, 49]) == "D4 C3 pass"
    with pytest.raises(ValueError, match="move 2"):
        GO7.parse("D4 D4")


def test_render_shows_gtp_coordinates() -> None:
    text = GO7.render(GO7.parse("A1 G7"))
    lines = text.splitlines()
    assert lines[0].startswith("7 ") and lines[0].endswith("O")
    assert lines[6].startswith("1 X") and lines[-1].split() == list("ABCDEFG")


def test_random_games_stay_consistent() -> None:
    """Along random games: stones never overlap, no group on the board lacks a liberty,
    and the ko point is always empty."""
    game = GoGame(5)
    rng = np.random.default_rng(0)
    batch = game.initial_state(64)
    for _ in range(game.max_moves):
        live = ~game.is_terminal(batch)
        if not live.any():
            break
        legal = game.legal_mask(batch)
        legal[~live, game.pass_action] = True
        weights = legal * np.where(np.arange(game.num_actions) == game.pass_action, 0.02, 1.0)
        actions = weights.cumsum(-1) > rng.random((64, 1)) * weights.sum(-1, keepdims=True)
        batch = State.where(live, game.step(batch, actions.argmax(-1)), batch)
        assert not (batch.own & batch.opp).any()
        ko = game.ko_cell(batch)
        has_ko = ko >= 0
        occupied = batch.own | batch.opp
        assert not occupied[has_ko, ko[has_ko]].any()
        # No group without liberties: every stone reaches an empty point through its colour.
        board = game.board(batch).reshape(64, -1)
        for g in range(64):
            assert _every_group_breathes(board[g], game.size)


def _every_group_breathes(board: np.ndarray, size: int) -> bool:
    seen = np.zeros(board.size, dtype=bool)
    for start in np.flatnonzero(board):
        if seen[start]:
            continue
        frontier, group, breathes = [start], {start}, False
        while frontier:
            p = frontier.pop()
            r, c = divmod(int(p), size)
            for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= rr < size and 0 <= cc < size:
                    n = rr * size + cc
                    if board[n] == 0:
                        breathes = True
                    elif board[n] == board[start] and n not in group:
                        group.add(n)
                        frontier.append(n)
        seen[list(group)] = True
        if not breathes:
            return False
    return True


def test_an_empty_batch_is_a_batch() -> None:
    empty = GO7.initial_state(0)
    assert GO7.legal_mask(empty).shape == (0, GO7.num_actions)
    assert GO7.step(empty, np.zeros(0, dtype=np.int64)).own.shape == (0, GO7.num_cells)
    assert GO7.score(empty).shape == (0,) and GO7.observation(empty).shape == (0, 5, 7, 7)
