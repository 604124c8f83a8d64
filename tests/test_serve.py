"""The web board's server: its JSON API, its refusals, and that it serves nothing but its page."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from envs import CONNECT4, TICTACTOE
from envs.experts import tictactoe_action_values
from models.checkpoint import save_checkpoint
from models.net import NetConfig, PolicyValueNet
from scripts.serve import STATIC_DIR, App, Args, make_server
from train.engine.analyser import Analyser
from train.engine.request import make_request


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny checkpoints for both games, and a .pt file that is not a checkpoint."""
    folder = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    for game in ("connect4", "tictactoe"):
        model = PolicyValueNet(NetConfig(game, blocks=1, channels=8, value_hidden=16))
        save_checkpoint(
            folder / "run" / f"{game}.pt", model, stage="test", step=7, args={}, metrics={}, seed=0
        )
    (folder / "junk.pt").write_bytes(b"not a checkpoint")
    return folder


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[tuple[str, int]]:
    server = make_server(App(folder, Analyser(seed=0), seed=0), "127.0.0.1", 0)
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
    assert {g["name"] for g in options["games"]} == {"connect4", "tictactoe"}
    found = {c["id"]: (c["game"], c["stage"], c["step"]) for c in options["checkpoints"]}
    # Searched recursively; the junk .pt file is left out.
    assert found == {
        "run/connect4.pt": ("connect4", "test", 7),
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
    server = make_server(App(folder, Analyser()), port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()
