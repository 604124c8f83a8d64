"""Every script explains itself: ``--help`` prints its usage and flags and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SCRIPTS = sorted(
    p.stem for p in ROOT.joinpath("scripts").glob("*.py") if p.stem not in {"__init__", "cli"}
)
COMMANDS = [[name, "--help"] for name in SCRIPTS] + [
    ["experiment", sub, "--help"] for sub in ("data-wall", "thinking", "warm-vs-zero")
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_exits_cleanly(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"scripts.{command[0]}", *command[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "--" in done.stdout and not done.stderr.strip()
    if command[0] != "experiment" or len(command) == 3:  # bare `experiment` lists its commands
        assert done.stdout.startswith("usage:")
