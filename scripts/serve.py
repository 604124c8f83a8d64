"""A local web page to play Connect Four, tic-tac-toe or 7x7 Go against any checkpoint, or the
expert (GNU Go for Go).

python -m scripts.serve --checkpoints runs/        # then open http://127.0.0.1:8000/

Pick a game, an opponent (every ``*.pt`` under ``--checkpoints``, searched recursively, plus
the scripted expert), your side and the opponent's thinking (MCTS simulations, 0: the network
alone); click a column, a cell or a point to move (Go has a Pass button, and its illegal points,
suicide or ko, take no click). The page shows the network's probability for each move and its
estimate of who is winning (with the expert as opponent: a random-rollout search's), the
progress of a long search (which a Stop button cuts short), and the result with the winning
line (in Go, the score).

The server is the standard library's ``ThreadingHTTPServer`` with a small JSON API, answered
by the same code as the analysis engine (``train/engine/analyser.py``)::

    GET  /                  the page; GET /static/NAME: its script and style sheet
    GET  /api/options       games, and the checkpoints found (re-scanned on each call); each
                            game has "name", "rows", "cols", "stones", "separator" (what
                            joins a move string's moves: "" or, in Go, " "), "pass" (the
                            pass move, "pass", or null) and "expert" (what its expert is)
    POST /api/analyse       {"game", "position", "checkpoint": ID or null, "simulations"}
                            -> the analysis (see train/engine/analyser.py) plus "board": rows of
                            +1 (first player), -1 (second), 0, top row first, and
                            "winning_cells": [[row, col], ...] of a won game's line(s)
    POST /api/move          {"game", "position", "opponent": "expert" or ID, "simulations"}
                            -> {"move": "4"}: the opponent's move, in the game's notation
                            ("D4" or "pass" in Go)
    GET  /api/progress?job=JOB   {"state": "queued" | "searching" | "unknown",
                            "done", "total"}: simulations so far of the analyse or move request
                            sent with "job": JOB (a name the page picks, e.g. "a1b2c3")
    POST /api/cancel        {"job": JOB} -> {"cancelled": true}: that request stops at its next
                            simulation and answers 409 "the search was stopped"

Checkpoints are named by their path relative to ``--checkpoints`` and must be among those
found there, so a request can't make the server open another file. It listens on 127.0.0.1
unless told otherwise with ``--host``.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import threading
import traceback
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from envs import GAMES
from envs.core import Game, State
from envs.go import GoGame
from scripts.cli import arg, parse, resolve_device, set_threads
from scripts.web.search_jobs import JobError, SearchAnalyser, SearchJobs
from scripts.web.winning_line import winning_cells
from train.engine.request import (
    DEFAULT_SIMULATIONS,
    MAX_SIMULATIONS,
    AnalysisError,
    make_request,
    position_after,
)

STATIC_DIR = Path(__file__).resolve().parent / "static"
EXPERT = "expert"
_MAX_BODY = 64 * 1024
_CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


@dataclass
class Args:
    """Serve a web page to play against checkpoints or the scripted expert."""

    checkpoints: str | None = arg(
        None,
        "folder searched recursively for *.pt (default: checkpoints/ if it exists, else runs/)",
    )
    host: str = arg("127.0.0.1", "address to listen on (another than 127.0.0.1 exposes the page)")
    port: int = arg(8000, "port to listen on (0: any free port)")
    device: Literal["auto", "cpu", "cuda"] = arg("cpu", "where networks run")
    threads: int = arg(1, "torch CPU threads")
    seed: int = arg(0, "seed of the expert's and the rollouts' random choices")
    log_requests: bool = arg(False, "log every request on stderr")


def main(argv: list[str] | None = None) -> None:
    args = parse(Args, argv)
    if args.checkpoints is not None and not Path(args.checkpoints).is_dir():
        what = "is not a folder" if Path(args.checkpoints).exists() else "does not exist"
        raise SystemExit(f"error: --checkpoints {args.checkpoints} {what}")
    if not 0 <= args.port <= 65535:
        raise SystemExit(f"error: --port must be in 0..65535 (0: any free port), got {args.port}")
    set_threads(args.threads)
    folder = Path(args.checkpoints or ("checkpoints" if Path("checkpoints").is_dir() else "runs"))
    analyser = SearchAnalyser(device=resolve_device(args.device), seed=args.seed)
    app = App(folder, analyser, args.seed)
    try:
        server = make_server(app, args.host, args.port, log_requests=args.log_requests)
    except OSError as err:
        raise SystemExit(f"error: {_listen_error(args.host, args.port, err)}") from None
    host, port = server.server_address[:2]
    found = len(app.checkpoints())
    print(f"{found} checkpoint(s) under {folder}/; serving on http://{host}:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped")
    finally:
        server.server_close()


def _listen_error(host: str, port: int, err: OSError) -> str:
    """One sentence for a failure to listen on ``host:port``."""
    hint = "(127.0.0.1: this machine alone, 0.0.0.0: every network it is on)"
    if isinstance(err, socket.gaierror):
        return f"cannot listen on --host {host}: no such address or host name {hint}"
    if err.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on --host {host}: not an address of this machine {hint}"
    if err.errno == errno.EADDRINUSE:
        return f"port {port} is already in use on {host}; choose another with --port (0: any free)"
    if err.errno == errno.EACCES:
        return f"not allowed to listen on port {port} (ports below 1024 need root); try --port 8000"
    return f"cannot listen on {host}:{port} ({err.strerror or err})"


class RequestError(Exception):
    """A request the server refuses; becomes a 4xx answer with the message."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class App:
    """What the handlers share: the checkpoint folder, the analyser, the experts and the
    searches in progress."""

    def __init__(self, folder: Path, analyser: SearchAnalyser, seed: int = 0) -> None:
        if not isinstance(analyser, SearchAnalyser):
            raise TypeError("App needs a SearchAnalyser (it reports progress and can stop)")
        self.folder = folder
        self.analyser = analyser
        self.rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, dict[str, Any]]] = {}  # id -> (mtime, info)
        self._experts: dict[str, Any] = {}
        self.jobs = SearchJobs(analyser)

    def checkpoints(self) -> list[dict[str, Any]]:
        """The loadable checkpoints under the folder: id (relative path), game, stage, step."""
        from models.checkpoint import CheckpointError, load_checkpoint

        found = []
        paths = sorted(self.folder.rglob("*.pt")) if self.folder.is_dir() else []
        for path in paths:
            key = path.relative_to(self.folder).as_posix()
            mtime = path.stat().st_mtime
            with self._lock:
                cached = self._known.get(key)
            if cached is None or cached[0] != mtime:
                try:
                    loaded = load_checkpoint(path)
                except CheckpointError as err:
                    print(f"skipping {err}", file=sys.stderr)
                    continue
                info = {"id": key, "game": loaded.game, "stage": loaded.stage, "step": loaded.step}
                cached = (mtime, info)
                with self._lock:
                    self._known[key] = cached
            found.append(cached[1])
        return found

    def options(self) -> dict[str, Any]:
        return {
            "games": [_game_info(g) for g in GAMES.values()],
            "checkpoints": self.checkpoints(),
            "default_simulations": DEFAULT_SIMULATIONS,
            "max_simulations": MAX_SIMULATIONS,
        }

    def analyse(self, body: dict[str, Any]) -> dict[str, Any]:
        checkpoint = body.get("checkpoint")
        request = self._request(body, checkpoint)
        answer = self.jobs.run(request, body.get("job"))
        if checkpoint is not None and "evaluator" in answer:
            answer["evaluator"] = f"network:{checkpoint}"  # its id, not where it lies
        state = position_after(request.game, request.actions)
        board = request.game.board(state).tolist()
        return {**answer, "board": board, "winning_cells": winning_cells(request.game, state)}

    def move(self, body: dict[str, Any]) -> dict[str, Any]:
        opponent = body.get("opponent", EXPERT)
        request = self._request(body, None if opponent == EXPERT else opponent)
        game = request.game
        state = position_after(game, request.actions)
        if game.is_terminal(state):
            raise RequestError(HTTPStatus.CONFLICT, "the game is over")
        if opponent != EXPERT:
            return {"move": self.jobs.run(request, body.get("job"))["move"]}
        expert = self._expert(game)
        with self._lock:  # the generator (and GNU Go's process) is shared between threads
            try:
                action = int(expert.act(State.stack([state]), self.rng)[0])
            except FileNotFoundError as err:  # GNU Go is not installed: say how to get it
                raise RequestError(HTTPStatus.SERVICE_UNAVAILABLE, str(err)) from None
        return {"move": game.format_move(action)}

    def public(self, message: str) -> str:
        """``message`` with checkpoints named by their id, not by where they lie here."""
        return message.replace(f"{self.folder}{os.sep}", "")

    def progress(self, query: dict[str, list[str]]) -> dict[str, Any]:
        return self.jobs.progress((query.get("job") or [None])[0])

    def cancel(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.jobs.cancel(body.get("job"))

    def _request(self, body: dict[str, Any], checkpoint: Any):
        known = {"game", "position", "simulations", "checkpoint", "opponent", "job"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise AnalysisError(f"unknown field(s) {unknown}")
        path = None if checkpoint is None else self._checkpoint_path(checkpoint)
        return make_request(
            body.get("game"),
            body.get("position", ""),
            body.get("simulations", DEFAULT_SIMULATIONS),
            path,
        )

    def _checkpoint_path(self, key: Any) -> str:
        """The file of a listed checkpoint; anything else is refused."""
        if not isinstance(key, str):
            raise AnalysisError("'checkpoint' must be the id of a listed checkpoint")
        with self._lock:
            known = key in self._known
        if not known and key not in {c["id"] for c in self.checkpoints()}:
            raise RequestError(HTTPStatus.NOT_FOUND, f"no checkpoint {key!r} here")
        return str(self.folder / key)

    def _expert(self, game: Game):
        from envs.experts import make_expert

        with self._lock:
            if game.name not in self._experts:
                self._experts[game.name] = make_expert(game)
            return self._experts[game.name]


def _game_info(game: Game) -> dict[str, Any]:
    """What the page needs to draw a game and write its moves."""
    go = isinstance(game, GoGame)
    return {
        "name": game.name,
        "rows": game.rows,
        "cols": game.cols,
        "stones": list(game.stone_chars),
        "separator": game.separator,  # Go's vertices ("D4") are longer than one character
        "pass": game.format_move(game.pass_action) if go else None,
        "expert": "GNU Go" if go else "scripted expert",
    }


def make_server(
    app: App, host: str = "127.0.0.1", port: int = 8000, log_requests: bool = False
) -> ThreadingHTTPServer:
    """A server for ``app`` bound to ``host:port`` (port 0: a free one); not yet serving."""

    class Handler(_Handler):
        pass

    Handler.app = app
    Handler.log_requests = log_requests
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


class _Handler(BaseHTTPRequestHandler):
    app: App
    log_requests: bool = False
    server_version = "apprentice"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path = url.path
        if path == "/api/options":
            self._send_json(HTTPStatus.OK, self.app.options())
        elif path == "/api/progress":
            self._answer(lambda: self.app.progress(parse_qs(url.query)))
        elif path.startswith("/api/"):
            self._send_error(HTTPStatus.METHOD_NOT_ALLOWED, "use POST for this endpoint")
        else:
            self._send_static(path)

    def do_POST(self) -> None:
        routes = {
            "/api/analyse": self.app.analyse,
            "/api/move": self.app.move,
            "/api/cancel": self.app.cancel,
        }
        route = routes.get(urlsplit(self.path).path)
        if route is None:
            self._send_error(HTTPStatus.NOT_FOUND, f"no endpoint {self.path[:80]!r}")
            return
        self._answer(lambda: route(self._read_json()))

    def _answer(self, compute) -> None:
        """Send what ``compute()`` returns as JSON, or the error it raises."""
        try:
            status, payload = HTTPStatus.OK, compute()
        except RequestError as err:
            status, payload = err.status, {"error": str(err)}
        except JobError as err:  # a stopped search, or a job name already in use
            status, payload = HTTPStatus.CONFLICT, {"error": str(err)}
        except AnalysisError as err:
            status, payload = HTTPStatus.BAD_REQUEST, {"error": self.app.public(str(err))}
        except Exception as err:  # a bug: say so, and keep serving the other requests
            traceback.print_exc()
            status, payload = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{err!r}"}
        self._send_json(status, payload)

    def _refuse_method(self) -> None:
        self._send_error(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not supported")

    do_PUT = do_DELETE = do_PATCH = _refuse_method

    def _read_json(self) -> dict[str, Any]:
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "a JSON body with Content-Length")
        if not length.isdigit():
            raise RequestError(HTTPStatus.BAD_REQUEST, "bad Content-Length")
        if int(length) > _MAX_BODY:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large")
        raw = self.rfile.read(int(length))
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        return body

    def _send_static(self, path: str) -> None:
        # Only the files lying in the static folder itself, matched by exact name: no
        # decoding trick ("..", "%2f", backslashes) can reach anything else.
        if path == "/":
            name = "index.html"
        elif path.startswith("/static/"):
            name = unquote(path.removeprefix("/static/"))
        else:
            name = ""
        file = {p.name: p for p in STATIC_DIR.iterdir() if p.is_file()}.get(name)
        if file is None:
            self._send_error(HTTPStatus.NOT_FOUND, "not found")
            return
        content_type = _CONTENT_TYPES.get(file.suffix, "application/octet-stream")
        self._send(HTTPStatus.OK, file.read_bytes(), f"{content_type}; charset=utf-8")

    def _send_json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send_error(self, status: HTTPStatus, message: str) -> None:
        self._send_json(status, {"error": message})

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        try:
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page went away (reloaded, closed) before its answer came

    def log_message(self, format: str, *args: Any) -> None:
        if self.log_requests:
            super().log_message(format, *args)


if __name__ == "__main__":
    main()
