"""GNU Go over GTP: vertex names, the client's framing, set-up positions, kos, scores, and
the player. Skipped where GNU Go is not installed."""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import numpy as np
import pytest

from envs.experts.gnugo import GnuGo, GnuGoPlayer, parse_score
from envs.experts.gtp import GtpClient, GtpError, find_gnugo, gnugo_available
from envs.go import parse_vertex
from envs.players import Player

pytestmark = pytest.mark.skipif(not gnugo_available(), reason="GNU Go is not installed")

_STONE = {".": 0, "X": 1, "O": -1}


def board(text: str) -> np.ndarray:
    """int8[cells] from rows of ``X`` (black), ``O`` (white) and ``.``."""
    return np.array([_STONE[c] for c in text.split()], dtype=np.int8)


def stones(engine: GnuGo) -> np.ndarray:
    """int8[cells]: GNU Go's own board, read back with ``list_stones``."""
    out = np.zeros(engine.size**2, dtype=np.int8)
    for color, sign in (("black", 1), ("white", -1)):
        for name in engine.client.send(f"list_stones {color}").split():
            out[parse_vertex(name, engine.size)] = sign
    return out


@dataclass
class Positions:
    """A batch of Go positions, as the stand-in game below reads them."""

    boards: np.ndarray  # int8[B, size, size]
    to_play: np.ndarray  # int[B], 0: black
    ko: np.ndarray  # int[B], -1: none


class StandInGo:
    """Just the accessors GnuGoPlayer uses; no rules."""

    def __init__(self, size: int, komi: float = 7.5) -> None:
        self.size, self.komi = size, komi
        self.num_actions = size * size + 1

    def board(self, state: Positions) -> np.ndarray:
        return state.boards

    def to_play(self, state: Positions) -> np.ndarray:
        return state.to_play

    def ko_cell(self, state: Positions) -> np.ndarray:
        return state.ko


# Black to move; white has just taken a black stone at B6 (cell 8) with its stone at C6.
KO = """
. O X . . . .
O . O X . . .
. O X . . . .
. . . . . . .
. . . . . . .
. . . . . . .
. . . . . . .
"""
KO_POINT = 8

# Groups in atari: the black pair A7-B7 lives by A6 alone, the white trio D5-E5-D4 by F5,
# the white stone G1 by F1.
ATARI = """
X X O . . . .
. O . X X . .
. . X O O . .
. . X O X . .
. . . X . . .
. . . . . . X
. . . . . . O
"""


@pytest.fixture(scope="module")
def engine():
    with GnuGo(7, komi=0.5, level=0) as go:
        yield go


def test_send_many_keeps_in_step_after_an_error():
    with GtpClient([find_gnugo(), "--mode", "gtp"]) as client:
        with pytest.raises(GtpError, match="Z99"):
            client.send_many(["boardsize 7", "play black Z99", "name", "bogus_command"])
        # Had the last two answers been left in the pipe, these would read them.
        assert client.send("protocol_version") == "2"
        assert client.send_many(["name", "query_boardsize"]) == ["GNU Go", "7"]
        drawing = client.send("showboard")
        assert drawing.splitlines()[0].split() == list("ABCDEFG")
        assert len(drawing.splitlines()) == 9


def test_a_dead_program_is_reported():
    client = GtpClient(["sh", "-c", "exit 3"])
    with pytest.raises(RuntimeError, match="exited with code 3"):
        client.send("name")
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.send("name")


def test_set_position_with_groups_in_atari(engine):
    position = board(ATARI)
    engine.set_position(position, black_to_move=False)
    np.testing.assert_array_equal(stones(engine), position)
    assert not engine.black_to_move
    # The atari groups are real: taking their last liberty captures them.
    engine.play("white", 7)  # A6
    assert stones(engine)[[0, 1]].tolist() == [0, 0]


def test_set_position_rebuilds_random_games(engine):
    """Positions reached by random play with captures, rebuilt exactly on a second engine."""
    rng = np.random.default_rng(0)
    with GnuGo(7, komi=0.5) as source:
        for _ in range(8):
            source.clear()
            color = "black"
            for _ in range(60):
                try:
                    source.play(color, int(rng.integers(49)))
                except GtpError:
                    continue  # occupied, suicide or ko: try another point
                color = "white" if color == "black" else "black"
            position = stones(source)
            engine.set_position(position, black_to_move=True)
            np.testing.assert_array_equal(stones(engine), position)


def test_set_position_refuses_a_dead_group(engine):
    with pytest.raises(ValueError, match="no liberty"):
        engine.set_position(board(ATARI.replace(". O", "O O", 1)), black_to_move=True)


def test_ko_makes_the_retake_illegal(engine):
    position = board(KO)
    engine.set_position(position, black_to_move=True)
    assert engine.is_legal("black", KO_POINT)  # without the ko, retaking is fine
    engine.set_position(position, black_to_move=True, ko=KO_POINT)
    np.testing.assert_array_equal(stones(engine), position)
    assert not engine.is_legal("black", KO_POINT)
    assert engine.is_legal("black", 48)
    assert engine.genmove("black") != KO_POINT


def test_a_ko_no_capture_explains_is_refused(engine):
    with pytest.raises(ValueError):
        engine.set_position(board(KO), black_to_move=True, ko=0)  # A7: not surrounded
    with pytest.raises(ValueError):
        engine.set_position(board(KO), black_to_move=False, ko=KO_POINT)  # wrong mover


def test_genmove_on_an_empty_board_is_legal(engine):
    engine.clear()
    assert engine.is_legal("black", 24)
    move = engine.genmove("black")
    assert 0 <= move < 49
    assert stones(engine)[move] == 1 and np.count_nonzero(stones(engine)) == 1


def test_final_score_counts_area_with_komi(engine):
    # Black owns columns A-D (28 points), white E-G (21), each with two eyes.
    finished = """
    . X X X O . O
    X X . X O O O
    X X X X O . O
    X . X X O O O
    X X X X O O O
    X X . X O . O
    X X X X O O O
    """
    engine.set_position(board(finished), black_to_move=True)
    assert engine.final_score() == pytest.approx(28 - 21 - 0.5)


def test_parse_score():
    assert parse_score("B+3.5") == 3.5
    assert parse_score("W+2") == -2.0
    assert parse_score("0") == 0.0
    with pytest.raises(ValueError):
        parse_score("X+1")


@pytest.mark.parametrize("level", [-1, 11, 2.5, True])
def test_level_is_checked(level):
    with pytest.raises(ValueError, match="level"):
        GnuGo(7, 7.5, level=level)
    with pytest.raises(ValueError, match="level"):
        GnuGoPlayer(StandInGo(7), level=level)


def _batch() -> Positions:
    boards = np.stack([np.zeros(49, np.int8), board(ATARI), board(KO)]).reshape(3, 7, 7)
    return Positions(boards, to_play=np.array([0, 1, 0]), ko=np.array([-1, -1, KO_POINT]))


def test_player_plays_legal_moves_reproducibly(engine):
    player = GnuGoPlayer(StandInGo(7), level=0)
    state = _batch()
    try:
        moves = player.act(state, np.random.default_rng(1))
        assert moves.dtype == np.int64 and moves.shape == (3,)
        np.testing.assert_array_equal(player.act(state, np.random.default_rng(1)), moves)
        for i, move in enumerate(moves):
            black = state.to_play[i] == 0
            engine.set_position(state.boards[i].ravel(), black, ko=int(state.ko[i]))
            assert engine.is_legal("black" if black else "white", int(move))
        policy = player.policy(state, np.random.default_rng(1))
        assert policy.dtype == np.float32 and policy.shape == (3, 50)
        np.testing.assert_array_equal(policy.argmax(axis=1), moves)
        np.testing.assert_array_equal(policy.sum(axis=1), 1.0)
        assert player.name == "gnugo-l0" and isinstance(player, Player)
    finally:
        player.close()


def test_player_survives_pickling():
    player = GnuGoPlayer(StandInGo(7), level=1)
    state = _batch()
    try:
        moves = player.act(state, np.random.default_rng(2))
        copy = pickle.loads(pickle.dumps(player))
        assert copy._engine is None and player._engine is not None
        assert copy.name == "gnugo-l1"
        np.testing.assert_array_equal(copy.act(state, np.random.default_rng(2)), moves)
        copy.close()
    finally:
        player.close()


def test_missing_program_says_how_to_install(monkeypatch):
    monkeypatch.setenv("APPRENTICE_GNUGO", "/nonexistent/gnugo")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(FileNotFoundError) as caught:
        find_gnugo()
    assert str(caught.value) == (
        "GNU Go is not installed: on Debian or Ubuntu run `sudo apt-get install gnugo` "
        "(or set APPRENTICE_GNUGO to its path)"
    )
    assert not gnugo_available()
    with pytest.raises(FileNotFoundError):
        GnuGo(7, 7.5)


def test_env_var_names_the_program(monkeypatch):
    path = find_gnugo()
    monkeypatch.setenv("APPRENTICE_GNUGO", path)
    monkeypatch.setenv("PATH", "")
    assert find_gnugo() == path
