"""The web board's server: its JSON API, its refusals, and that it serves nothing but its page;
the winning line, a long search's progress and cancel, and misuse of its command line."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from envs import CONNECT4, GO7, TICTACTOE
from envs.experts import tictactoe_action_values
from envs.experts.gtp import gnugo_available
from models.checkpoint import save_checkpoint
from models.net import NetConfig, PolicyValueNet
from scripts.serve import STATIC_DIR, App, Args, make_server
from scripts.web.search_jobs import Job, SearchAnalyser
from scripts.web.winning_line import winning_cells
from train.engine.analyser import Analyser
from train.engine.request import make_request


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny checkpoints for every game, and a .pt file that is not a checkpoint."""
    folder = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    for game in ("connect4", "tictactoe", "go7"):
        model = PolicyValueNet(NetConfig(game, blocks=1, channels=8, value_hidden=16))
        save_checkpoint(
            folder / "run" / f"{game}.pt", model, stage="test", step=7, args={}, metrics={}, seed=0
        )
    (folder / "junk.pt").write_bytes(b"not a checkpoint")
    return folder


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[tuple[str, int]]:
    server = make_server(App(folder, SearchAnalyser(seed=0), seed=0), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[:2]
    server.shutdown()
    server.server_close()


def call(server, method: str, path: str, body=None, headers=None) -> tuple[int, dict]:
    """Send one request exactly as written (no path normalisation); returns status and JSON."""
    connection = http.client.HTTPConnection(*server, timeout=30)
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    connection.request(method, path, body=data, headers=headers or {})
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    is_json = response.getheader("Content-Type", "").startswith("application/json")
    return response.status, json.loads(raw) if is_json else {"raw": raw}


def test_options_list_the_checkpoints_found(server) -> None:
    status, options = call(server, "GET", "/api/options")
    assert status == 200
    games = {g["name"]: g for g in options["games"]}
    assert set(games) == {"connect4", "tictactoe", "go7", "go9"}
    # What the page needs to write moves: one character each, or Go's vertices and pass.
    assert games["connect4"] == {
        **dict(name="connect4", rows=6, cols=7, stones=["X", "O"]),
        **dict(separator="", expert="scripted expert"),
        "pass": None,
    }
    assert (games["go7"]["rows"], games["go7"]["cols"]) == (7, 7)
    assert (games["go7"]["separator"], games["go7"]["pass"]) == (" ", "pass")
    assert games["go7"]["expert"] == "GNU Go"
    assert (games["go9"]["rows"], games["go9"]["cols"], games["go9"]["pass"]) == (9, 9, "pass")
    found = {c["id"]: (c["game"], c["stage"], c["step"]) for c in options["checkpoints"]}
    # Searched recursively; the junk .pt file is left out.
    assert found == {
        "run/connect4.pt": ("connect4", "test", 7),
        "run/go7.pt": ("go7", "test", 7),
        "run/tictactoe.pt": ("tictactoe", "test", 7),
    }


def test_analyse_answers_as_the_engine_does(server, folder: Path) -> None:
    body = {"game": "connect4", "position": "4453", "checkpoint": "run/connect4.pt"}
    status, answer = call(server, "POST", "/api/analyse", {**body, "simulations": 30})
    assert status == 200
    expected = Analyser().analyse(
        make_request("connect4", "4453", 30, str(folder / "run" / "connect4.pt"))
    )
    assert answer["move"] == expected["move"]
    assert answer["visits"] == expected["visits"]
    assert answer["policy"] == pytest.approx(expected["policy"], abs=1e-3)
    assert answer["evaluator"] == "network:run/connect4.pt"  # no server path in answers
    board = np.array(answer["board"])
    assert (board == CONNECT4.board(CONNECT4.parse("4453"))).all()
    assert board[-1].tolist() == [0, 0, -1, 1, 1, 0, 0]  # bottom row: O on 3, X on 4 and 5


def test_a_finished_game_reports_its_result(server) -> None:
    status, answer = call(
        server, "POST", "/api/analyse", {"game": "tictactoe", "position": "14253"}
    )
    assert status == 200
    assert answer["terminal"] and answer["result"] == "first" and answer["legal_moves"] == []
    status, answer = call(
        server,
        "POST",
        "/api/move",
        {"game": "tictactoe", "position": "14253", "opponent": "expert"},
    )
    assert status == 409 and "over" in answer["error"]


def test_the_expert_and_the_network_answer_with_legal_moves(server) -> None:
    # X (to move) wins at once with 3: the perfect expert takes it.
    status, answer = call(
        server, "POST", "/api/move", {"game": "tictactoe", "position": "1425", "opponent": "expert"}
    )
    assert status == 200 and answer == {"move": "3"}
    values = tictactoe_action_values(TICTACTOE.parse("1425"))
    assert values[2] == 1
    body = {"game": "tictactoe", "position": "5", "opponent": "run/tictactoe.pt", "simulations": 0}
    status, answer = call(server, "POST", "/api/move", body)
    assert status == 200 and answer["move"] in list("12346789")


def test_go_positions_moves_and_board(server, folder: Path) -> None:
    # A capture and a ko:   A B C D E F G      Black's E5 has just taken White's D5: the
    #                     6 . . . X O . .      board shows the point empty, White may not
    #                     5 . . X . X O .      retake it at once, and Go answers carry
    #                     4 . . . X O . .      Black's area score.
    position = "D6 E6 C5 F5 D4 E4 A2 G7 B1 D5 E5"
    body = {"game": "go7", "position": position, "checkpoint": "run/go7.pt", "simulations": 8}
    status, answer = call(server, "POST", "/api/analyse", body)
    assert status == 200, answer
    assert answer["position"] == position and answer["to_play"] == "second"
    assert (np.array(answer["board"]) == GO7.board(GO7.parse(position))).all()
    assert answer["board"][2][3] == 0  # D5, taken
    assert "D5" not in answer["legal_moves"] and "pass" in answer["legal_moves"]
    assert set(answer["policy"]) == set(answer["legal_moves"])
    assert sum(answer["visits"].values()) == 8 and answer["move"] in answer["legal_moves"]
    assert answer["winning_cells"] == []
    assert answer["score"] == -5.0  # Black: 6 stones, A1 and D5; White: 4 stones and komi 9
    expected = Analyser().analyse(make_request("go7", position, 8, str(folder / "run/go7.pt")))
    assert answer["visits"] == expected["visits"]
    # The network answers with a GTP vertex (or pass) that the rules allow.
    body = {"game": "go7", "position": "d4 c3", "opponent": "run/go7.pt", "simulations": 0}
    status, answer = call(server, "POST", "/api/move", body)
    assert status == 200 and GO7.legal_mask(GO7.parse("D4 C3"))[GO7.parse_move(answer["move"])]


@pytest.mark.skipif(not gnugo_available(), reason="GNU Go is not installed")
def test_gnu_go_is_the_go_expert(server) -> None:
    body = {"game": "go7", "position": "D4", "opponent": "expert"}
    status, answer = call(server, "POST", "/api/move", body)
    assert status == 200 and answer["move"] != "D4"
    assert GO7.legal_mask(GO7.parse("D4"))[GO7.parse_move(answer["move"])]


def test_a_missing_gnu_go_says_how_to_install_it(folder: Path, monkeypatch) -> None:
    monkeypatch.setenv("APPRENTICE_GNUGO", str(folder / "no-gnugo"))
    server = make_server(App(folder, SearchAnalyser(seed=0), seed=0), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        body = {"game": "go7", "position": "D4", "opponent": "expert"}
        status, answer = call(server.server_address[:2], "POST", "/api/move", body)
    finally:
        server.shutdown()
        server.server_close()
    assert status == 503 and "apt-get install gnugo" in answer["error"]


def test_two_passes_end_a_go_game(server) -> None:
    status, answer = call(
        server, "POST", "/api/analyse", {"game": "go7", "position": "D4 pass pass"}
    )
    assert status == 200 and answer["terminal"] and answer["legal_moves"] == []
    assert answer["result"] == "first" and answer["score"] == 40.0  # 49 points less komi 9
    body = {"game": "go7", "position": "D4 pass pass", "opponent": "expert"}
    status, answer = call(server, "POST", "/api/move", body)
    assert status == 409 and "over" in answer["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/../../etc/passwd",
        "/static/..%2f..%2fREADME.md",
        "/static/../serve.py",
        "/static/%2e%2e/serve.py",
        "/static/..%5cserve.py",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "//etc/passwd",
        "/serve.py",
        "/index.html/../../serve.py",
        "/static/",
        "/static/.",
    ],
)
def test_never_serves_files_outside_its_static_folder(server, path: str) -> None:
    status, answer = call(server, "GET", path)
    assert status == 404, path
    assert answer == {"error": "not found"}


def test_serves_its_page(server) -> None:
    for path, name in [("/", "index.html"), ("/static/app.js", "app.js")]:
        status, answer = call(server, "GET", path)
        assert status == 200
        assert answer["raw"] == (STATIC_DIR / name).read_bytes()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/api/analyse", b"{not json", 400, "not JSON"),
        ("POST", "/api/analyse", b"[1, 2]", 400, "JSON object"),
        ("POST", "/api/analyse", {"game": "go"}, 400, "unknown game"),
        ("POST", "/api/analyse", {"game": "connect4", "position": "48"}, 400, "not a column"),
        ("POST", "/api/analyse", {"game": "connect4", "position": "4444444"}, 400, "full"),
        ("POST", "/api/analyse", {"game": "go7", "position": "D4 D4"}, 400, "illegal"),
        ("POST", "/api/analyse", {"game": "go7", "position": "D4C3"}, 400, "not a point"),
        ("POST", "/api/analyse", {"game": "go7", "position": "J1"}, 400, "not a point"),
        ("POST", "/api/analyse", {"game": "connect4", "simulations": -1}, 400, "simulations"),
        ("POST", "/api/analyse", {"game": "connect4", "simulations": "9"}, 400, "simulations"),
        ("POST", "/api/analyse", {"game": "connect4", "colour": "red"}, 400, "unknown field"),
        ("POST", "/api/analyse", {"game": "connect4", "checkpoint": "../x.pt"}, 404, "no check"),
        ("POST", "/api/analyse", {"game": "connect4", "checkpoint": "/etc/x"}, 404, "no check"),
        ("POST", "/api/analyse", {"game": "connect4", "checkpoint": 3}, 400, "id of a listed"),
        ("POST", "/api/move", {"game": "connect4", "opponent": "junk.pt"}, 404, "no check"),
        ("POST", "/api/nothing", {}, 404, "no endpoint"),
        ("GET", "/api/analyse", None, 405, "POST"),
        ("PUT", "/api/analyse", b"{}", 405, "not supported"),
    ],
)
def test_refuses_malformed_requests(server, method, path, body, status, message) -> None:
    got, answer = call(server, method, path, body)
    assert got == status
    assert message in answer["error"]


def test_a_tic_tac_toe_network_is_refused_for_connect_four(server) -> None:
    body = {"game": "connect4", "checkpoint": "run/tictactoe.pt", "simulations": 0}
    status, answer = call(server, "POST", "/api/analyse", body)
    assert status == 400 and "tictactoe" in answer["error"]


def test_refuses_bodies_without_length_or_too_long(server) -> None:
    with socket.create_connection(server, timeout=10) as sock:
        sock.sendall(b"POST /api/analyse HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.0 411")
    status, answer = call(server, "POST", "/api/analyse", b"{}" + b" " * 70_000)
    assert status == 413
    with socket.create_connection(server, timeout=10) as sock:
        sock.sendall(b"GET / NOT-HTTP\r\n\r\n")  # a malformed request line
        # http.server answers it in HTTP/0.9 style: no status line, an HTML page.
        assert b"Error code: 400" in sock.makefile("rb").read()
    assert call(server, "GET", "/api/options")[0] == 200  # and goes on serving


def test_listens_on_localhost_by_default(folder: Path) -> None:
    assert Args().host == "127.0.0.1"
    server = make_server(App(folder, SearchAnalyser()), port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


# --- the winning line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("game", "moves", "cells"),
    [
        (TICTACTOE, "14253", [(0, 0), (0, 1), (0, 2)]),  # the top row
        (TICTACTOE, "12539", [(0, 0), (1, 1), (2, 2)]),  # the diagonal
        (TICTACTOE, "31527", [(0, 2), (1, 1), (2, 0)]),  # the other diagonal
        # X X X      X's last stone (1) made two lines at once: both are shown
        # X O O
        # X O O
        (TICTACTOE, "253648791", [(0, 0), (0, 1), (0, 2), (1, 0), (2, 0)]),
        (TICTACTOE, "123546879", []),  # a draw
        (CONNECT4, "4455667", [(5, 3), (5, 4), (5, 5), (5, 6)]),  # the bottom row
        (CONNECT4, "1212121", [(2, 0), (3, 0), (4, 0), (5, 0)]),  # a column
        # . . . X . . .
        # . . X O . . .
        # . X X O . . .
        # X O O O X . .
        (CONNECT4, "12233434544", [(2, 3), (3, 2), (4, 1), (5, 0)]),
        (CONNECT4, "76655454344", [(2, 3), (3, 4), (4, 5), (5, 6)]),  # its mirror image
        (CONNECT4, "112244573", [(5, 0), (5, 1), (5, 2), (5, 3), (5, 4)]),  # five in a row
        (CONNECT4, "4453", []),  # not over
        (CONNECT4, "", []),
    ],
)
def test_winning_cells_of_known_positions(game, moves: str, cells) -> None:
    assert winning_cells(game, game.parse(moves)) == [list(cell) for cell in cells]


def test_analyse_answers_with_the_winning_line(server) -> None:
    status, answer = call(
        server, "POST", "/api/analyse", {"game": "tictactoe", "position": "12539"}
    )
    assert status == 200 and answer["winning_cells"] == [[0, 0], [1, 1], [2, 2]]
    board = np.array(answer["board"])
    assert all(board[r, c] == 1 for r, c in answer["winning_cells"])  # the first player's
    status, answer = call(server, "POST", "/api/analyse", {"game": "connect4", "simulations": 0})
    assert status == 200 and answer["winning_cells"] == []


# --- progress and cancel ------------------------------------------------------------------------


def test_a_tracked_search_counts_its_simulations_and_searches_the_same() -> None:
    request = make_request("connect4", "4453", 37)
    job = Job(37)
    tracked = SearchAnalyser(seed=3).analyse_job(request, job)
    assert (job.calls, job.done) == (38, 37)  # the roots' evaluation, then one per simulation
    plain = Analyser(seed=3).analyse(request)
    assert tracked == plain  # the same rollouts, in the same order


def start_search(server, job: str, sims: int = 20_000) -> tuple[threading.Thread, dict]:
    """Send a long rollout analysis as ``job`` from a thread; returns it and its answer."""
    answer: dict = {}

    def send() -> None:
        body = {"game": "connect4", "simulations": sims, "job": job}
        answer["status"], answer["body"] = call(server, "POST", "/api/analyse", body)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread, answer


def wait_searching(server, job: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, progress = call(server, "GET", f"/api/progress?job={job}")
        assert status == 200
        if progress["state"] == "searching" and progress["done"] > 0:
            return progress
        time.sleep(0.02)
    raise AssertionError(f"job {job} never started searching")


def test_progress_is_reported_and_a_cancel_stops_the_search(server) -> None:
    thread, answer = start_search(server, "long-1")
    first = wait_searching(server, "long-1")
    assert first["total"] == 20_000 and 0 < first["done"] < 20_000
    time.sleep(0.2)
    later = call(server, "GET", "/api/progress?job=long-1")[1]
    assert first["done"] < later["done"] < 20_000
    # The same name can't be used twice at once.
    body = {"game": "connect4", "simulations": 5, "job": "long-1"}
    status, refused = call(server, "POST", "/api/analyse", body)
    assert status == 409 and "already running" in refused["error"]

    started = time.monotonic()
    assert call(server, "POST", "/api/cancel", {"job": "long-1"}) == (
        200,
        {"job": "long-1", "cancelled": True},
    )
    thread.join(10)
    assert time.monotonic() - started < 5
    assert answer == {"status": 409, "body": {"error": "the search was stopped"}}
    gone = call(server, "GET", "/api/progress?job=long-1")[1]
    assert gone == {"job": "long-1", "state": "unknown", "done": 0, "total": 0}
    # The analyser is free again: the next request is answered at once.
    status, answer = call(server, "POST", "/api/analyse", {"game": "connect4", "simulations": 5})
    assert status == 200 and sum(answer["visits"].values()) == 5


def test_a_cancel_that_arrives_first_stops_the_search_before_it_starts(server) -> None:
    assert call(server, "POST", "/api/cancel", {"job": "early"})[0] == 200
    started = time.monotonic()
    body = {"game": "connect4", "simulations": 20_000, "job": "early"}
    status, answer = call(server, "POST", "/api/analyse", body)
    assert status == 409 and answer["error"] == "the search was stopped"
    assert time.monotonic() - started < 2
    # Only once: the name is free for a new search.
    body = {"game": "tictactoe", "simulations": 3, "job": "early"}
    assert call(server, "POST", "/api/analyse", body)[0] == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/progress", None),
        ("GET", "/api/progress?job=../etc", None),
        ("GET", "/api/progress?job=" + "x" * 65, None),
        ("POST", "/api/cancel", {}),
        ("POST", "/api/cancel", {"job": 7}),
        ("POST", "/api/analyse", {"game": "connect4", "job": "a b"}),
        ("POST", "/api/move", {"game": "connect4", "opponent": "run/connect4.pt", "job": ""}),
    ],
)
def test_refuses_bad_job_names(server, method: str, path: str, body) -> None:
    status, answer = call(server, method, path, body)
    assert status == 400 and "'job' must be 1 to 64 letters" in answer["error"]


def test_errors_name_checkpoints_by_their_id_not_their_path(server, folder: Path) -> None:
    body = {"game": "tictactoe", "checkpoint": "run/connect4.pt", "simulations": 0}
    status, answer = call(server, "POST", "/api/analyse", body)
    assert status == 400 and answer["error"].startswith("run/connect4.pt: holds a connect4")
    assert str(folder) not in answer["error"]


# --- misuse on the command line ------------------------------------------------------------------


def serve_error(argv: list[str]) -> str:
    """The one sentence ``serve`` exits with for ``argv``."""
    from scripts import serve

    with pytest.raises(SystemExit) as exit_info:
        serve.main(argv)
    message = str(exit_info.value.code)
    assert exit_info.value.code not in (0, None) and message.startswith("error: "), message
    assert "\n" not in message
    return message


def test_a_busy_port_is_one_sentence(folder: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = serve_error(["--checkpoints", str(folder), "--port", str(port)])
    assert message == (
        f"error: port {port} is already in use on 127.0.0.1; choose another with --port "
        "(0: any free)"
    )


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--host", "999.1.1.1"], "cannot listen on --host 999.1.1.1: no such address"),
        (["--host", "192.0.2.1"], "--host 192.0.2.1: not an address of this machine"),
        (["--port", "70000"], "--port must be in 0..65535"),
        (["--port", "-1"], "--port must be in 0..65535"),
    ],
)
def test_bad_addresses_are_one_sentence(folder: Path, flags: list[str], expected: str) -> None:
    assert expected in serve_error(["--checkpoints", str(folder), *flags])


def test_a_missing_checkpoint_folder_is_one_sentence(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert serve_error(["--checkpoints", str(missing)]) == (
        f"error: --checkpoints {missing} does not exist"
    )
    a_file = tmp_path / "file.pt"
    a_file.write_bytes(b"")
    assert serve_error(["--checkpoints", str(a_file)]) == (
        f"error: --checkpoints {a_file} is not a folder"
    )
