"""Analysis engine: one JSON request per line on stdin, one JSON answer per line on stdout.

python -m scripts.analyze < requests.jsonl

A request (the style of KataGo's analysis engine)::

    {"id": "a1", "game": "connect4", "position": "4453", "simulations": 200,
     "checkpoint": "runs/x/best.pt"}

``position`` is a move string or a list of moves (``["4", "4", "5"]`` or ``[4, 4, 5]``;
in Go ``"D4 C3 pass"`` or ``["D4", "C3", "pass"]``),
``simulations`` defaults to 100 (0: the network alone), ``checkpoint`` is optional: without
it the search uses random playouts (uniform priors, one random game per leaf). **Moves in
requests and answers are the game's notation**: Connect Four columns 1..7, tic-tac-toe
cells 1..9 row by row, Go's GTP vertices (``D4``, ``pass``; any case in requests)::

    {"id": "g1", "game": "go7", "position": "D4 C3", "simulations": 16}

The answer carries the request's ``id`` and the fields described in
``train/engine/analyser.py`` (move, policy, value from the side to move, visits, q, terminal,
result, legal_moves, and in Go the score).

Requests waiting on stdin are read together, and those sharing game, checkpoint and
simulations are searched in one batch, so answers may come out of order: match them by
``id``. Anything wrong with a line (not JSON, unknown game, illegal or finished position,
missing checkpoint) is answered with ``{"id": ..., "error": "..."}`` and the engine goes on;
a finished position's error answer also says ``"terminal": true`` and its ``result``.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, TextIO

from scripts.cli import arg, parse, resolve_device, set_threads
from train.engine.analyser import Analyser
from train.engine.request import DEFAULT_SIMULATIONS, AnalysisError, Request, make_request

_FIELDS = {"id", "game", "position", "simulations", "checkpoint"}
_EOF = object()


@dataclass
class Args:
    """Analysis engine: JSON-lines requests on stdin, JSON-lines answers on stdout."""

    max_batch: int = arg(256, "most requests taken from stdin for one round of batched search")
    device: Literal["auto", "cpu", "cuda"] = arg("cpu", "where networks run")
    threads: int = arg(1, "torch CPU threads")
    seed: int = arg(0, "seed of the random playouts used without a checkpoint")


def main(argv: list[str] | None = None) -> None:
    args = parse(Args, argv)
    if args.max_batch < 1:
        raise SystemExit("error: --max-batch must be >= 1")
    set_threads(args.threads)
    analyser = Analyser(device=resolve_device(args.device), seed=args.seed)
    try:
        serve(sys.stdin.buffer, sys.stdout, analyser, args.max_batch)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away; nothing left to say


def serve(stdin: BinaryIO, stdout: TextIO, analyser: Analyser, max_batch: int = 256) -> None:
    """Answer every line of ``stdin`` until it ends, batching the lines that wait together."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in stdin:
            lines.put(line)
        lines.put(_EOF)

    threading.Thread(target=read, daemon=True).start()
    done = False
    while not done:
        batch = [lines.get()]  # wait for the first line, then take whatever else is there
        while len(batch) < max_batch and not lines.empty():
            batch.append(lines.get_nowait())
        if batch[-1] is _EOF:
            done = True
            batch.pop()
        for answer in answer_lines(batch, analyser):
            stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


def answer_lines(lines: Iterable[bytes | str], analyser: Analyser) -> list[dict[str, Any]]:
    """The answers to some request lines (blank lines get none); never raises on bad input."""
    answers: list[dict[str, Any]] = []
    ids: list[Any] = []
    requests: list[Request] = []
    for line in lines:
        if not line.strip():
            continue
        request_id, parsed = _parse_line(line)
        if isinstance(parsed, Request):
            ids.append(request_id)
            requests.append(parsed)
        else:
            answers.append({"id": request_id, "error": parsed})
    for request_id, answer in zip(ids, analyser.analyse_many(requests), strict=True):
        if answer.get("terminal"):
            answer["error"] = f"the game is over ({_result_text(answer['result'])})"
        answers.append({"id": request_id, **answer})
    return answers


def _parse_line(line: bytes | str) -> tuple[Any, Request | str]:
    """(the request's id or None, the parsed request or an error message)."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        obj = json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        return None, "the line is not UTF-8 text"
    except (ValueError, RecursionError) as err:
        return None, f"the line is not JSON ({err})"
    if not isinstance(obj, dict):
        return None, f"a request must be a JSON object, got {type(obj).__name__}"
    request_id = obj.get("id")
    unknown = sorted(set(obj) - _FIELDS)
    if unknown:
        return request_id, f"unknown field(s) {unknown}; a request has {sorted(_FIELDS)}"
    if "game" not in obj:
        return request_id, "the request names no 'game'"
    try:
        request = make_request(
            obj["game"],
            obj.get("position", ""),
            obj.get("simulations", DEFAULT_SIMULATIONS),
            obj.get("checkpoint"),
        )
    except AnalysisError as err:
        return request_id, str(err)
    return request_id, request


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _result_text(result: str) -> str:
    return "a draw" if result == "draw" else f"the {result} player won"


if __name__ == "__main__":
    main()
