"""A small Go Text Protocol (GTP v2) client: talk to a Go program over its stdin and stdout.

A command is one line; its answer is ``= text`` on success or ``? message`` on failure, and
ends with a blank line. The text may span several lines (``showboard`` draws the board), so an
answer is read line by line up to that blank line. Carriage returns are dropped, as the
protocol allows either line ending.

Spec: https://www.lysator.liu.se/~gunnar/gtp/gtp2-spec-draft2/gtp2-spec.html
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from typing import NoReturn

#: The environment variable that names the GNU Go program, before PATH is searched.
GNUGO_ENV = "APPRENTICE_GNUGO"
#: Where Debian and Ubuntu put GNU Go: /usr/games is not on every user's PATH.
_DEBIAN_GNUGO = "/usr/games/gnugo"
_QUIT_TIMEOUT_S = 2.0


class GtpError(RuntimeError):
    """The engine refused a command (it answered ``? message``)."""


class GtpClient:
    """A GTP engine running as a child process.

    Args:
        argv: the program and its arguments, e.g. ``["gnugo", "--mode", "gtp"]``.

    Use it as a context manager, or call :meth:`close`, to end the program.
    """

    def __init__(self, argv: list[str]) -> None:
        self.argv = list(argv)
        self._process: subprocess.Popen | None = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def send(self, command: str) -> str:
        """The engine's answer to one command, without the ``= `` and surrounding blank lines.

        Raises ``GtpError`` if the engine answered ``?``, ``RuntimeError`` if it has exited.
        """
        return self.send_many([command])[0]

    def send_many(self, commands: list[str]) -> list[str]:
        """The answers to several commands, written at once and then read in order.

        One round trip instead of one per command: setting up a position of many stones
        costs about as much as a single ``play``. If a command fails, the answers of the
        others are still read (so the next command meets its own answer), then ``GtpError``
        is raised for the first failure. The answers must fit in the pipe (64 KiB on Linux)
        while the commands are being written, which a few hundred moves easily do.
        """
        for command in commands:
            if "\n" in command or "\r" in command:
                raise ValueError(f"a GTP command is one line, got {command!r}")
        process = self._running()
        try:
            process.stdin.write("".join(c + "\n" for c in commands).encode())
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            self._died(commands[0])
        answers, first_error = [], None
        for command in commands:
            ok, text = self._read_answer(command)
            if not ok and first_error is None:
                first_error = GtpError(f"{command!r}: {text}")
            answers.append(text)
        if first_error is not None:
            raise first_error
        return answers

    def close(self) -> None:
        """Ask the engine to quit and wait for it; kill it if it does not within 2 s."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.poll() is None:
                process.stdin.write(b"quit\n")
                process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it has already gone; wait() below collects it
        try:
            process.wait(timeout=_QUIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for pipe in (process.stdin, process.stdout):
            # Closing stdin flushes what a dead program never read: that may fail.
            with contextlib.suppress(OSError):
                pipe.close()

    def __enter__(self) -> GtpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Quietly: at interpreter exit the modules close() needs may already be gone.
        try:  # noqa: SIM105 (contextlib itself may be gone by then)
            self.close()
        except Exception:
            pass

    def _running(self) -> subprocess.Popen:
        if self._process is None:
            raise RuntimeError(f"the GTP client for {self.argv[0]} is closed")
        return self._process

    def _read_answer(self, command: str) -> tuple[bool, str]:
        """(success, text) of the next answer; the text keeps the indentation of its lines."""
        stdout = self._running().stdout
        lines: list[str] = []
        while True:
            raw = stdout.readline()
            if not raw:
                self._died(command)
            line = raw.decode(errors="replace").replace("\r", "").rstrip("\n")
            if not lines and not line.strip():
                continue  # blank lines between answers carry nothing
            if not line.strip():
                break
            lines.append(line)
        status, text = lines[0][:1], "\n".join([lines[0][1:], *lines[1:]])
        if status not in "=?":
            raise RuntimeError(f"{self.argv[0]} answered {command!r} with {lines[0]!r}")
        # Drop the optional command id (we never send one), the space after the status,
        # and the empty first line of a multi-line answer.
        text = text.lstrip("0123456789").removeprefix(" ").strip("\n").rstrip()
        return status == "=", text

    def _died(self, command: str) -> NoReturn:
        process = self._running()
        try:
            code = process.wait(timeout=_QUIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:  # it closed its output but lingers
            process.kill()
            code = process.wait()
        raise RuntimeError(f"{self.argv[0]} exited with code {code} while running {command!r}")


def find_gnugo() -> str:
    """The path of the GNU Go program: ``$APPRENTICE_GNUGO``, else ``gnugo`` on PATH, else
    ``/usr/games/gnugo``; raises ``FileNotFoundError`` if none of them exists."""
    override = os.environ.get(GNUGO_ENV)
    candidates = [override] if override else [shutil.which("gnugo"), _DEBIAN_GNUGO]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise FileNotFoundError(
        "GNU Go is not installed: on Debian or Ubuntu run `sudo apt-get install gnugo` "
        f"(or set {GNUGO_ENV} to its path)"
    )


def gnugo_available() -> bool:
    """Whether :func:`find_gnugo` finds the program."""
    try:
        find_gnugo()
    except FileNotFoundError:
        return False
    return True
