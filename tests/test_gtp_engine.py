"""The GTP engine (train/engine/gtp_engine.py, scripts/gtp.py): the protocol command by
command, and a whole game against GNU Go with both programs talking GTP."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.core import State
from envs.experts.gnugo import GnuGo, parse_score
from envs.experts.gtp import GtpClient, gnugo_available
from envs.go import GO7, GoGame, parse_vertex, vertex
from tests.fixtures import tiny_checkpoints
from train.engine.gtp_engine import GTP_MAX_MOVES, GtpEngine, checkpoint_engine, score_text

ROOT = Path(__file__).parents[1]
# A well-formed response: status, optional id, text without an empty line, one blank line.
RESPONSE = re.compile(r"[=?][0-9]* [^\n]*(\n[^\n]+)*\n\n", re.ASCII)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny untrained Go network (its policy sharpened so that its moves differ) and a
    Connect Four one, which the engine must refuse."""
    return tiny_checkpoints(tmp_path_factory.mktemp("checkpoints"), ("go7", "connect4"))


@pytest.fixture
def engine(checkpoints: dict[str, Path]) -> GtpEngine:
    return checkpoint_engine(checkpoints["go7"])


def ok(engine: GtpEngine, command: str) -> str:
    """The text of a successful response (the test fails on ``?``)."""
    response = engine.handle(command)
    assert RESPONSE.fullmatch(response), repr(response)
    assert response.startswith("= "), f"{command!r} -> {response!r}"
    return response[2:-2]


def failure(engine: GtpEngine, command: str) -> str:
    """The message of a failed response (the test fails on ``=``)."""
    response = engine.handle(command)
    assert RESPONSE.fullmatch(response), repr(response)
    assert response.startswith("? "), f"{command!r} -> {response!r}"
    return response[2:-2]


def stones(engine: GtpEngine) -> dict[str, int]:
    """{vertex: +1 black or -1 white} of the engine's board."""
    board = GO7.board(engine.state).reshape(-1)
    return {vertex(int(cell), 7): int(board[cell]) for cell in np.flatnonzero(board)}


class PassingPlayer:
    """A stand-in player that always passes."""

    name = "passer"

    def __init__(self, game: GoGame) -> None:
        self.game = game

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        return np.full(state.shape, self.game.pass_action, dtype=np.int64)


# --- the protocol ----------------------------------------------------------------------------


def test_identity_commands(engine: GtpEngine) -> None:
    assert ok(engine, "protocol_version") == "2"
    assert ok(engine, "name") == "apprentice"
    assert ok(engine, "version").endswith("(go7, network alone)")
    assert ok(engine, "known_command genmove") == "true"
    assert ok(engine, "known_command resign") == "false"
    listed = ok(engine, "list_commands").split("\n")
    assert set(listed) >= {"play", "genmove", "undo", "final_score", "showboard", "komi", "quit"}
    assert all(ok(engine, f"known_command {name}") == "true" for name in listed)


def test_ids_comments_and_blank_lines(engine: GtpEngine) -> None:
    assert engine.handle("12 name") == "=12 apprentice\n\n"
    assert engine.handle("7 bogus") == "?7 unknown command\n\n"
    assert engine.handle("3 undo") == "?3 cannot undo\n\n"
    for nothing in ("", "\n", "   \t \r\n", "# a comment", "   # indented comment\n"):
        assert engine.handle(nothing) == ""
    assert engine.handle("name # who are you?\r\n") == "= apprentice\n\n"
    assert engine.handle("\tna\x01me\x7f\n") == "= apprentice\n\n"  # control characters go
    assert engine.handle("5") == "?5 syntax error: an id but no command\n\n"


def test_wrong_arguments_are_syntax_errors(engine: GtpEngine) -> None:
    for command in (
        "play",
        "play black",
        "play black D4 D5",
        "play purple D4",
        "play black Z9",
        "play black H1",  # off a 7x7 board
        "play black D0",
        "genmove",
        "genmove green",
        "komi",
        "komi lots",
        "komi nan",
        "boardsize",
        "boardsize seven",
        "known_command",
        "undo now",
        "final_score please",
    ):
        assert failure(engine, command).startswith("syntax error"), command
    assert stones(engine) == {}  # nothing was played


def test_boardsize_accepts_only_the_checkpoints_size(engine: GtpEngine) -> None:
    ok(engine, "play black D4")
    assert failure(engine, "boardsize 9") == "unacceptable size"
    assert stones(engine) == {"D4": 1}  # a refused size leaves the board alone
    assert ok(engine, "boardsize 7") == ""
    assert stones(engine) == {}
    ok(engine, "play black D4")
    ok(engine, "clear_board")
    assert stones(engine) == {}
    assert failure(engine, "undo") == "cannot undo"


def test_colour_words_in_any_case(engine: GtpEngine) -> None:
    for colour, point in (("b", "A1"), ("W", "B1"), ("Black", "C1"), ("WHITE", "D1")):
        ok(engine, f"play {colour} {point.lower()}")
    assert stones(engine) == {"A1": 1, "B1": -1, "C1": 1, "D1": -1}


def test_illegal_moves(engine: GtpEngine) -> None:
    ok(engine, "play black D4")
    assert failure(engine, "play white D4") == "illegal move"  # occupied
    ok(engine, "clear_board")
    for move in ("b A2", "w G7", "b B1"):
        ok(engine, f"play {move}")
    assert failure(engine, "play white A1") == "illegal move"  # suicide
    ok(engine, "clear_board")
    # Black E4 is taken by White D4; Black may not retake at once (ko), only after a move
    # elsewhere.
    for move in ("b C4", "w E5", "b D5", "w E3", "b D3", "w F4", "b E4", "w D4"):
        ok(engine, f"play {move}")
    assert "E4" not in stones(engine)
    assert failure(engine, "play black E4") == "illegal move"
    for move in ("b A1", "w A7", "b E4"):
        ok(engine, f"play {move}")
    assert stones(engine)["E4"] == 1 and "D4" not in stones(engine)


def test_a_colour_out_of_turn_gets_a_pass_inserted(engine: GtpEngine) -> None:
    ok(engine, "play black D4")
    ok(engine, "play black E5")  # White passed in between
    assert stones(engine) == {"D4": 1, "E5": 1}
    assert int(GO7.to_play(engine.state)) == 1 and int(engine.state.ply) == 3
    ok(engine, "undo")  # E5 and the pass before it
    assert stones(engine) == {"D4": 1} and int(engine.state.ply) == 1
    # genmove for the colour not to move passes for the other first, too.
    ok(engine, "genmove white")
    assert int(GO7.to_play(engine.state)) == 0 and int(engine.state.ply) == 2
    ok(engine, "undo")
    move = ok(engine, "genmove black")
    assert int(engine.state.ply) == 3 and int(GO7.to_play(engine.state)) == 1
    assert move == "pass" or stones(engine)[move.upper()] == 1


def test_genmove_plays_the_networks_move(checkpoints: dict[str, Path]) -> None:
    engine = checkpoint_engine(checkpoints["go7"])
    moves = [ok(engine, f"genmove {'black' if turn % 2 == 0 else 'white'}") for turn in range(6)]
    assert int(engine.state.ply) == 6
    on_board = stones(engine)
    for turn, move in enumerate(moves):
        if move != "pass":  # nothing is captured in six moves: each stone is still there
            assert on_board[move] == (1 if turn % 2 == 0 else -1)
    for _ in moves:
        ok(engine, "undo")
    assert stones(engine) == {} and failure(engine, "undo") == "cannot undo"
    # The same position and seed give the same moves.
    again = checkpoint_engine(checkpoints["go7"])
    assert [ok(again, f"genmove {c}") for c in ("b", "w", "b")] == moves[:3]


def test_genmove_with_search(checkpoints: dict[str, Path]) -> None:
    searching = checkpoint_engine(checkpoints["go7"], sims=8)
    assert searching.version.endswith("(go7, MCTS 8 simulations)")
    move = ok(searching, "genmove b")
    assert move == "pass" or stones(searching) == {move: 1}


def test_genmove_passes_when_the_player_does_and_when_the_game_is_over(
    engine: GtpEngine,
) -> None:
    passer = GtpEngine(GO7, PassingPlayer)
    assert ok(passer, "genmove b") == "pass"
    ok(engine, "play b pass")
    ok(engine, "play w pass")  # two passes: the game is over
    assert ok(engine, "genmove b") == "pass"
    assert ok(engine, "genmove w") == "pass"
    # GTP has no end of game: a stone after the passes goes on with it.
    ok(engine, "play b D4")
    assert stones(engine) == {"D4": 1}
    ok(engine, "genmove w")  # the network's choice again


def test_a_game_may_outlast_the_games_move_limit(engine: GtpEngine) -> None:
    ok(engine, "play b D4")
    ok(engine, "play w E5")
    # The same stones, a long game later (the same side to move).
    long_after = dataclasses.replace(engine.state, ply=engine.state.ply + 2 * GO7.max_moves)
    assert GO7.is_terminal(long_after) and not engine.game.is_terminal(long_after)
    engine.state = long_after
    ok(engine, "play b C3")
    assert stones(engine) == {"D4": 1, "E5": -1, "C3": 1}
    assert 2 * GO7.max_moves + 3 < GTP_MAX_MOVES
    move = ok(engine, "genmove w")
    assert move == "pass" or stones(engine)[move] == -1


def test_final_score_on_a_finished_position(engine: GtpEngine) -> None:
    # Black holds columns A-D (28 points), White E-G (21): Black by 7 before komi.
    for row in range(1, 8):
        ok(engine, f"play black D{row}")
        ok(engine, f"play white E{row}")
    ok(engine, "play black pass")
    ok(engine, "play white pass")
    assert ok(engine, "final_score") == "W+2.0"  # the default komi, 9
    ok(engine, "komi 6.5")
    assert ok(engine, "final_score") == "B+0.5"
    ok(engine, "komi 7")
    assert ok(engine, "final_score") == "0"
    assert engine.komi == 7.0 and engine.black_margin() == 0.0
    assert score_text(3.5) == "B+3.5" and score_text(-2) == "W+2.0" and score_text(0.0) == "0"


def test_komi_is_used_by_the_next_moves(engine: GtpEngine) -> None:
    ok(engine, "komi 0.5")
    assert engine.game.komi == 0.5 and engine.game.size == 7
    move = ok(engine, "genmove b")  # the player is rebuilt for the new rules
    assert engine.black_margin() == (-0.5 if move == "pass" else 48.5)  # a stone owns all
    assert ok(engine, "showboard").endswith("komi 0.5")


def test_showboard_draws_the_game(engine: GtpEngine) -> None:
    ok(engine, "play black D4")
    ok(engine, "play white C3")
    drawn = ok(engine, "showboard")
    assert drawn.startswith("\n")  # the board starts on its own line
    lines = drawn.split("\n")[1:]
    assert lines[:-1] == GO7.render(engine.state).split("\n")
    assert lines[3] == "4 . . . X . . ." and lines[4] == "3 . . O . . . ."
    assert lines[-1] == "Black to move, move 3, komi 9"


def test_quit(engine: GtpEngine) -> None:
    assert not engine.finished
    assert engine.handle("9 quit") == "=9 \n\n"
    assert engine.finished


def test_an_exception_becomes_an_internal_error() -> None:
    def broken(game: GoGame) -> PassingPlayer:
        raise ZeroDivisionError("the player broke")

    engine = GtpEngine(GO7, broken)
    assert engine.handle("4 genmove b") == (
        "?4 internal error: ZeroDivisionError: the player broke\n\n"
    )
    assert engine.handle("name") == "= apprentice\n\n"  # and the engine goes on
    assert int(engine.state.ply) == 0


_WORDS = [
    *("play", "genmove", "undo", "komi", "boardsize", "final_score", "showboard", "quit"),
    *("clear_board", "known_command", "list_commands", "name", "b", "W", "black", "pass"),
    *("D4", "a1", "G7", "H8", "7", "9", "-1", "6.5", "inf", "12", "#", "\t", "\x00", "\u00e9"),
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.lists(st.sampled_from(_WORDS), max_size=4).map(" ".join),
            st.text(max_size=12),
        ),
        max_size=12,
    )
)
def test_no_input_crashes_the_engine(lines: list[str]) -> None:
    engine = GtpEngine(GO7, PassingPlayer)
    for line in lines:
        for part in line.splitlines() or [""]:  # the script hands the engine single lines
            response = engine.handle(part)
            assert response == "" or RESPONSE.fullmatch(response), (part, response)
            assert "internal error" not in response, (part, response)


# --- the script ------------------------------------------------------------------------------


def run_script(checkpoint: Path, stdin: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scripts.gtp", "--checkpoint", str(checkpoint), *flags],
        input=stdin.encode() + b"\xff\xfe bytes that are not utf-8\n",
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )


def test_the_script_talks_gtp_on_stdin_and_stdout(checkpoints: dict[str, Path]) -> None:
    done = run_script(
        checkpoints["go7"],
        "1 name\n# comment\n\nplay b D4\nfoo\n2 final_score\nquit\nname\n",
        "--device",
        "cpu",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == (
        "=1 apprentice\n\n= \n\n? unknown command\n\n=2 B+40.0\n\n= \n\n"
    )  # nothing after quit
    assert done.stderr.decode().count("\n") == 1  # the one "ready" line


def test_the_script_refuses_another_games_checkpoint(checkpoints: dict[str, Path]) -> None:
    done = run_script(checkpoints["connect4"], "name\n")
    assert done.returncode == 2 and done.stdout == b""
    message = done.stderr.decode()
    assert message.count("\n") == 1 and "connect4" in message and message.startswith("error:")


# --- a whole game against GNU Go ---------------------------------------------------------------

#: The apprentice's own moves before it only passes: an untrained network never passes by
#: itself, so its side stops there and GNU Go (--capture-all-dead) takes every dead stone
#: off before it passes too, leaving a board whose every stone is alive.
_ENGINE_MOVES = 24
_MAX_PLIES = 200


@pytest.mark.skipif(not gnugo_available(), reason="GNU Go is not installed")
@pytest.mark.parametrize(("engine_colour", "sims"), [("black", 0), ("white", 2)])
def test_a_whole_game_against_gnugo(
    checkpoints: dict[str, Path], monkeypatch: pytest.MonkeyPatch, engine_colour: str, sims: int
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # for python -m scripts.gtp in the child
    started = time.perf_counter()
    argv = [sys.executable, "-m", "scripts.gtp", "--checkpoint", str(checkpoints["go7"])]
    argv += ["--sims", str(sims), "--device", "cpu"]
    with GtpClient(argv) as apprentice, GnuGo(7, komi=GO7.komi, level=0, seed=1) as gnugo:
        assert apprentice.send("protocol_version") == "2"
        apprentice.send_many(["boardsize 7", "clear_board", f"komi {GO7.komi:g}"])
        gnugo.clear()
        moves, passes, colour = [], 0, "black"
        while passes < 2 and len(moves) < _MAX_PLIES:
            if colour == engine_colour:
                if len(moves) < 2 * _ENGINE_MOVES:
                    move = apprentice.send(f"genmove {colour}")
                else:
                    move = "pass"
                    apprentice.send(f"play {colour} pass")
                gnugo.play(colour, parse_vertex(move, 7))
            else:
                move = vertex(gnugo.genmove(colour), 7)
                apprentice.send(f"play {colour} {move}")
            moves.append(move)
            passes = passes + 1 if move == "pass" else 0
            colour = "white" if colour == "black" else "black"
        ours, theirs = apprentice.send("final_score"), gnugo.client.send("final_score")
        drawn = apprentice.send("showboard")
        boards = f"apprentice:\n{drawn}\nGNU Go:\n{gnugo.showboard()}"
        gnugo_stones = {
            point: sign
            for colour, sign in (("black", 1), ("white", -1))
            for point in gnugo.client.send(f"list_stones {colour}").split()
        }
    seconds = time.perf_counter() - started
    print(f"{len(moves)} moves in {seconds:.1f} s: {' '.join(moves)}; {ours} / {theirs}")
    assert passes == 2, f"no two passes in {len(moves)} moves:\n{boards}"
    assert drawn_stones(drawn) == gnugo_stones, boards  # the same captures all along
    assert any(m != "pass" for m in moves[engine_colour == "white" :: 2])  # it played stones
    # GNU Go removes the stones it judges dead before it counts; we count every stone. A
    # difference here means dead stones were left on the board: the boards show which.
    assert parse_score(ours) == parse_score(theirs), f"{ours} vs {theirs}\n{boards}"


def drawn_stones(drawn: str) -> dict[str, int]:
    """{vertex: +1 black or -1 white} read back from our ``showboard``."""
    found = {}
    for line in drawn.split("\n"):
        number, *points = line.split()
        if number.isdecimal() and len(points) == 7:
            for column, point in zip("ABCDEFG", points, strict=True):
                if point in "XO":
                    found[f"{column}{number}"] = 1 if point == "X" else -1
    return found


@pytest.mark.skipif(not gnugo_available(), reason="GNU Go is not installed")
def test_final_score_agrees_with_gnugo_on_a_settled_position(engine: GtpEngine) -> None:
    # Both colours alive, no dead stones, no dame: the area counts must agree at any komi.
    moves = [(c, parse_vertex(f"{x}{row}", 7)) for row in range(1, 8) for c, x in _COLUMNS_DE]
    for colour, action in moves:
        ok(engine, f"play {colour} {vertex(action, 7)}")
    for komi, expected in (("9", "W+2.0"), ("6.5", "B+0.5"), ("7", "0")):
        ok(engine, f"komi {komi}")
        assert ok(engine, "final_score") == expected
        # A GNU Go per komi: GNU Go 3.8 keeps a position's final_score across a komi change,
        # even across clear_board.
        with GnuGo(7, komi=float(komi), level=0) as gnugo:
            gnugo.play_moves(moves)
            assert parse_score(gnugo.client.send("final_score")) == parse_score(expected)


_COLUMNS_DE = (("black", "D"), ("white", "E"))
