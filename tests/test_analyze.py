"""The shared analysis code (train/engine/) and the JSON-lines engine
(scripts/analyze.py)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import train.engine.analyser as analysis
from envs import CONNECT4, GO7, TICTACTOE
from envs.core import State
from models.checkpoint import load_checkpoint
from scripts.analyze import answer_lines, serve
from tests.fixtures import tiny_checkpoints
from train.engine.analyser import Analyser
from train.engine.request import DEFAULT_SIMULATIONS, AnalysisError, make_request
from train.search.evaluators import NetworkEvaluator

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny untrained network per game, its policy sharpened so that moves differ."""
    return tiny_checkpoints(
        tmp_path_factory.mktemp("checkpoints"), ("connect4", "tictactoe"), sharpen_value=True
    )


# --- known answers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("game", "position", "best"),
    [
        ("tictactoe", "1527", {"3"}),  # X completes the top row
        ("tictactoe", "1425", {"3"}),
        ("connect4", "445566", {"3", "7"}),  # X completes the bottom row at either end
        ("connect4", "12131", {"1"}),  # O must block the column
    ],
)
def test_rollout_search_finds_the_forced_move(game: str, position: str, best: set[str]) -> None:
    answer = Analyser(seed=1).analyse(make_request(game, position, simulations=150))
    assert answer["move"] in best
    assert answer["evaluator"] == "rollouts"
    assert sum(answer["visits"].values()) == 150
    assert sum(answer["policy"].values()) == pytest.approx(1.0, abs=1e-3)
    assert set(answer["policy"]) == set(answer["visits"]) == set(answer["legal_moves"])


def test_winning_side_has_a_high_value() -> None:
    # X to move, with a win in one.
    answer = Analyser(seed=0).analyse(make_request("tictactoe", "1527", 300))
    assert answer["to_play"] == "first" and answer["value"] > 0.5
    assert answer["q"]["3"] == 1.0  # every visit of the winning move backs up a win


def test_moves_use_the_one_based_notation() -> None:
    answer = Analyser().analyse(make_request("connect4", "7777", 0))
    board = CONNECT4.board(CONNECT4.parse("7777"))
    assert (board[:, 6] != 0).sum() == 4  # "7" is the rightmost column (action 6)
    assert answer["position"] == "7777"
    assert answer["legal_moves"] == ["1", "2", "3", "4", "5", "6", "7"]
    full = Analyser().analyse(make_request("connect4", "777777", 0))
    assert "7" not in full["legal_moves"] and "7" not in full["policy"]


def test_position_as_list_or_string_is_the_same() -> None:
    requests = [
        make_request("connect4", "4453"),
        make_request("connect4", ["4", "4", "5", "3"]),
        make_request("connect4", [4, 4, 5, 3]),
        make_request("connect4", " 4 4 5 3 "),
    ]
    assert {r.actions for r in requests} == {(3, 3, 4, 2)}


@pytest.mark.parametrize(
    ("game", "position", "result", "to_play"),
    [
        ("tictactoe", "14253", "first", "second"),
        ("tictactoe", "412579", "second", "first"),
        ("tictactoe", "159287364", "draw", "second"),
        ("connect4", "1212121", "first", "second"),
    ],
)
def test_finished_positions(game: str, position: str, result: str, to_play: str) -> None:
    answer = Analyser().analyse(make_request(game, position))
    assert answer["terminal"] and answer["result"] == result and answer["to_play"] == to_play
    assert answer["legal_moves"] == [] and "move" not in answer
    assert answer["value"] == (0.0 if result == "draw" else -1.0)


def test_unfinished_position_is_not_terminal() -> None:
    answer = Analyser().analyse(make_request("tictactoe", "1", 5))
    assert answer["terminal"] is False and answer["result"] is None
    assert answer["to_play"] == "second"


def test_go_positions_and_moves_are_gtp_vertices() -> None:
    line = json.dumps({"id": "g", "game": "go7", "position": "D4 C3", "simulations": 16})
    (answer,) = answer_lines([line], Analyser(seed=0))
    assert "error" not in answer, answer
    assert answer["id"] == "g" and answer["position"] == "D4 C3"
    assert answer["to_play"] == "first" and not answer["terminal"]
    # Every point but the two taken, then the pass, each named as GTP names it.
    legal = GO7.legal_mask(GO7.parse("D4 C3"))
    assert answer["legal_moves"] == [GO7.format_move(a) for a in np.flatnonzero(legal)]
    assert len(answer["legal_moves"]) == 48 and answer["legal_moves"][-1] == "pass"
    assert {"D4", "C3"}.isdisjoint(answer["legal_moves"])
    assert set(answer["policy"]) == set(answer["visits"]) == set(answer["legal_moves"])
    assert sum(answer["visits"].values()) == 16 and answer["move"] in answer["legal_moves"]
    assert answer["score"] == -9.0  # one stone each, the rest nobody's: komi decides
    # Any case, a list, commas: the same position.
    assert GO7.parse_move("D4") == 24 and GO7.parse_move("C3") == 30  # row 0 at the top
    for position in ["d4 c3", ["D4", "c3"], " D4,C3 "]:
        assert make_request("go7", position).actions == (24, 30)


def test_go_refusals_and_a_finished_go_game() -> None:
    with pytest.raises(AnalysisError, match=r"move 2 \('D4'\) of the position: .*illegal"):
        make_request("go7", "D4 D4")
    with pytest.raises(AnalysisError, match="not a point of a 7x7 board"):
        make_request("go7", "D44")
    # Two passes end the game: White wins the empty board by the komi.
    answer = Analyser().analyse(make_request("go7", "pass PASS", 4))
    assert answer["terminal"] and answer["result"] == "second" and answer["legal_moves"] == []
    assert answer["position"] == "pass pass" and answer["score"] == -9.0
    assert answer["to_play"] == "first" and answer["value"] == -1.0  # Black, to move, lost


# --- with a network ------------------------------------------------------------------------


def test_zero_simulations_gives_the_network_alone(checkpoints) -> None:
    answer = Analyser().analyse(make_request("tictactoe", "5", 0, str(checkpoints["tictactoe"])))
    model = load_checkpoint(checkpoints["tictactoe"]).model
    state = State.stack([TICTACTOE.parse("5")])
    priors, values = NetworkEvaluator(model, TICTACTOE)(state, TICTACTOE.legal_mask(state))
    expected = {str(a + 1): round(float(priors[0, a]), 4) for a in range(9) if a != 4}
    assert answer["policy"] == pytest.approx(expected, abs=2e-4)
    assert answer["value"] == pytest.approx(float(values[0]), abs=2e-4)
    assert answer["move"] == str(int(np.argmax(priors[0])) + 1)
    assert answer["visits"] == {} and answer["q"] == {}


def test_batched_answers_equal_one_by_one(checkpoints, monkeypatch) -> None:
    calls = []
    real_search = analysis.search

    def counting_search(game, states, *args, **kwargs):
        calls.append((game.name, len(states)))
        return real_search(game, states, *args, **kwargs)

    monkeypatch.setattr(analysis, "search", counting_search)
    path = str(checkpoints["connect4"])
    positions = ["", "4", "44", "4453", "1234567", "77"]
    batch = [make_request("connect4", p, 25, path) for p in positions]
    batch.append(make_request("tictactoe", "5", 25))  # another group
    analyser = Analyser()
    together = analyser.analyse_many(batch)
    assert sorted(calls) == [("connect4", 6), ("tictactoe", 1)]  # one search per group
    for request, answer in zip(batch[:-1], together[:-1], strict=True):
        alone = analyser.analyse(request)
        assert answer["move"] == alone["move"]
        assert answer["visits"] == alone["visits"]
        assert answer["value"] == pytest.approx(alone["value"], abs=1e-3)


def test_checkpoints_are_loaded_once_and_reloaded_when_changed(checkpoints, monkeypatch) -> None:
    analyser = Analyser()
    loads = []
    real_load = analyser._load
    monkeypatch.setattr(
        analyser, "_load", lambda path, game: loads.append(path) or real_load(path, game)
    )
    path = checkpoints["tictactoe"]
    for position in ["", "5", "51"]:
        analyser.analyse(make_request("tictactoe", position, 3, str(path)))
    assert len(loads) == 1
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # as if rewritten
    analyser.analyse(make_request("tictactoe", "", 3, str(path)))
    assert len(loads) == 2


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"game": "chess"}, "unknown game"),
        ({"game": 7}, "'game' must be a string"),
        ({"game": "tictactoe", "position": "11"}, "cell 1 is taken"),
        ({"game": "tictactoe", "position": "0"}, "not a cell 1..9"),
        ({"game": "connect4", "position": "8"}, "not a column 1..7"),
        ({"game": "connect4", "position": [4, True]}, "must be a string or a number"),
        ({"game": "connect4", "position": {"a": 1}}, "'position' must be"),
        ({"game": "connect4", "position": "121212121"}, "already over"),
        ({"game": "connect4", "simulations": -1}, "'simulations' must be in"),
        ({"game": "connect4", "simulations": 10**9}, "'simulations' must be in"),
        ({"game": "connect4", "simulations": 2.5}, "whole number"),
        ({"game": "connect4", "simulations": True}, "whole number"),
        ({"game": "connect4", "checkpoint": ""}, "'checkpoint' must be a path"),
    ],
)
def test_bad_requests_are_refused(fields: dict, message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        make_request(**fields)


def test_refused_values_are_quoted_whole_or_not_at_all() -> None:
    with pytest.raises(AnalysisError) as short:
        make_request("connect4", simulations=2.5)
    assert str(short.value) == "'simulations' must be a whole number, got float 2.5"
    # A long value is described by its length, never cut off in the middle.
    with pytest.raises(AnalysisError) as long:
        make_request("connect4", simulations="word " * 20)
    assert str(long.value) == (
        "'simulations' must be a whole number, got str (102 characters long, not quoted)"
    )
    value = {f"key{i}": i for i in range(10)}
    with pytest.raises(AnalysisError) as position:
        make_request("connect4", position=value)
    assert str(position.value) == (
        "'position' must be a move string or a list of moves, "
        f"got dict ({len(repr(value))} characters long, not quoted)"
    )


@pytest.mark.parametrize(
    "line",
    [
        b"[" * 100_000,  # nests too deep: a RecursionError with a long message
        b'{"id": 1, ' + b" " * 1000 + b"}",  # the position of the fault runs past 80 characters
    ],
)
def test_a_line_that_is_not_json_gets_the_whole_reason(line: bytes) -> None:
    try:
        json.loads(line)
    except (ValueError, RecursionError) as err:
        reason = str(err)
    assert len(reason) > 80
    (answer,) = answer_lines([line], Analyser())
    assert answer == {"id": None, "error": f"the line is not JSON ({reason})"}


def test_missing_or_wrong_checkpoint(checkpoints, tmp_path: Path) -> None:
    analyser = Analyser()
    with pytest.raises(AnalysisError, match="No such file"):
        analyser.analyse(make_request("connect4", "", 1, str(tmp_path / "missing.pt")))
    with pytest.raises(AnalysisError, match="tictactoe"):
        analyser.analyse(make_request("connect4", "", 1, str(checkpoints["tictactoe"])))


# --- the engine ----------------------------------------------------------------------------


def test_engine_process_answers_by_id_and_survives_junk(checkpoints) -> None:
    lines = [
        {"id": "a", "game": "connect4", "position": "4453", "simulations": 20},
        {"id": "b", "game": "tictactoe", "position": [1, 5], "simulations": 0},
        {"id": "c", "game": "tictactoe", "position": "14253"},
        {"id": "d", "game": "connect4", "checkpoint": str(checkpoints["connect4"])},
        {"id": "e", "game": "connect4", "checkpoint": "nowhere.pt"},
        {"id": "f", "game": "tictactoe", "colour": "red"},
        {"id": "g"},
    ]
    requests = [json.dumps(line).encode() for line in lines]
    rng = np.random.default_rng(0)
    junk = [rng.bytes(int(rng.integers(1, 80))).replace(b"\n", b"") for _ in range(200)]
    junk += [b"not json", b"[1]", b"{" * 100_000]  # the last nests too deep for json
    last = b'{"id": "last", "game": "tictactoe", "position": "15", "simulations": 4}'
    result = subprocess.run(
        [sys.executable, "-m", "scripts.analyze"],
        input=b"\n".join([*requests, *junk, b"", last]) + b"\n",
        capture_output=True,
        env=ENV,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    by_id = {a["id"]: a for a in answers if isinstance(a["id"], str)}
    # One answer per non-blank line; junk is answered with an error and id null.
    assert len(answers) == len(lines) + len([j for j in junk if j.strip()]) + 1
    assert set(by_id) == set("abcdefg") | {"last"}
    assert all("error" in a for a in answers if a["id"] is None)
    assert by_id["a"]["position"] == "4453" and sum(by_id["a"]["visits"].values()) == 20
    assert by_id["b"]["simulations"] == 0 and by_id["b"]["evaluator"] == "rollouts"
    assert by_id["c"]["terminal"] and by_id["c"]["result"] == "first"
    assert "over" in by_id["c"]["error"]
    assert by_id["d"]["evaluator"].startswith("network:")
    assert by_id["d"]["simulations"] == DEFAULT_SIMULATIONS
    assert "No such file" in by_id["e"]["error"]
    assert "unknown field" in by_id["f"]["error"]
    assert "names no 'game'" in by_id["g"]["error"]
    assert by_id["last"]["move"] in list("2346789")
    errors = [a["error"] for a in answers if a["id"] is None]
    assert any("not JSON" in e for e in errors) and any("JSON object" in e for e in errors)


def test_waiting_requests_are_searched_in_one_batch(monkeypatch) -> None:
    sizes = []
    real_search = analysis.search
    monkeypatch.setattr(
        analysis,
        "search",
        lambda game, states, *a: sizes.append(len(states)) or real_search(game, states, *a),
    )
    requests = [
        {"id": i, "game": "connect4", "position": str(i % 7 + 1), "simulations": 5}
        for i in range(12)
    ]
    stdin = io.BytesIO(b"".join(json.dumps(r).encode() + b"\n" for r in requests))
    stdout = io.StringIO()
    serve(stdin, stdout, Analyser(), max_batch=100)
    answers = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert sorted(a["id"] for a in answers) == list(range(12))
    # The reader thread may hand over the first line alone; the rest go together.
    assert sum(sizes) == 12 and len(sizes) <= 3


# --- fuzzing: the engine never crashes on input ---------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# "simulations" is always there, small or invalid: without it a request searches the default
# 100 simulations, too slow for a fuzz loop (test_engine_answers_each_request_by_id has one).
_requests = st.fixed_dictionaries(
    {"simulations": st.integers(-3, 8) | st.none() | st.floats() | st.text(max_size=3)},
    optional={
        "id": _json,
        "game": st.sampled_from(["connect4", "tictactoe", "go7", "chess", ""]) | _json,
        "position": st.text(alphabet="0123456789 xDdpas", max_size=12)
        | st.lists(st.integers(-2, 11) | st.text(max_size=2), max_size=10)
        | _json,
        "checkpoint": st.sampled_from(["missing.pt", "/dev/null", ""]) | _json,
    },
)
_lines = st.one_of(
    st.binary(max_size=60),
    _json.map(lambda v: json.dumps(v).encode()),
    _requests.map(lambda v: json.dumps(v).encode()),
)


@settings(
    max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.lists(_lines, min_size=1, max_size=5))
def test_engine_survives_any_input(lines: list[bytes]) -> None:
    lines = [line.replace(b"\n", b" ") for line in lines]  # one request per line
    answers = answer_lines(lines, _FUZZ_ANALYSER)
    assert len(answers) == sum(1 for line in lines if line.strip())
    for answer in answers:
        assert "id" in answer
        assert ("error" in answer) != ("move" in answer)
        json.dumps(answer, allow_nan=False)  # every answer is strict JSON


_FUZZ_ANALYSER = Analyser(seed=0)
