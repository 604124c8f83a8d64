"""Every script explains itself: ``--help`` prints its usage and flags and exits 0, each flag
with at most one default and none of this machine's folders."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.cli import arg, build_parser, count_text, shown_default

ROOT = Path(__file__).parents[1]
SCRIPTS = sorted(
    p.stem for p in ROOT.joinpath("scripts").glob("*.py") if p.stem not in {"__init__", "cli"}
)
COMMANDS = [[name, "--help"] for name in SCRIPTS] + [
    ["experiment", sub, "--help"] for sub in ("data-wall", "thinking", "warm-vs-zero", "ceiling")
]
# A sentence telling a default: "(default: 2)", "default per game", "None: all", "(): 0 16".
DEFAULT_SAID = re.compile(r"\bdefault(:| per\b)|(\bNone|\(\)):")


@functools.cache
def help_of(command: tuple[str, ...]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"scripts.{command[0]}", *command[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def flag_entries(text: str) -> dict[str, str]:
    """{"--flag ARG": its help on one line} for every flag of an argparse help text."""
    entries: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if re.match(r"  -", line):  # a new flag: "  --games N   its help..."
            key, _, rest = line.strip().partition("  ")
            entries[key] = rest.strip()
        elif key is not None and line.startswith("      "):  # its help, continued
            entries[key] = f"{entries[key]} {line.strip()}".strip()
        else:
            key = None
    return entries


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_exits_cleanly(command: list[str]) -> None:
    done = help_of(tuple(command))
    assert done.returncode == 0, done.stderr
    assert "--" in done.stdout and not done.stderr.strip()
    assert done.stdout.startswith("usage:")  # bare `experiment --help` too


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_each_flag_tells_at_most_one_default(command: list[str]) -> None:
    entries = flag_entries(help_of(tuple(command)).stdout)
    if command != ["experiment", "--help"]:  # that one lists its commands, not flags
        assert len(entries) >= 2, entries  # --help and at least one flag were read
    for flag, text in entries.items():
        assert len(DEFAULT_SAID.findall(text)) <= 1, f"{flag}: {text}"
        # An unset value is not a default worth printing: the help says what it means.
        for empty in ("(default: None)", "(default: ())", "(default: )", "(default: [])"):
            assert empty not in text, f"{flag}: {text}"
        assert "%(default)" not in text and "True)" not in text and "False)" not in text


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_shows_no_folder_of_this_machine(command: list[str]) -> None:
    text = help_of(tuple(command)).stdout
    for folder in {str(ROOT.resolve()), str(Path.home()), str(Path.cwd())} - {"/"}:
        assert folder not in text


def test_defaults_are_shown_once_as_typed() -> None:
    repo_file = ROOT.resolve() / "data" / "set.npz"

    @dataclass
    class Args:
        games: int = arg(2000, "games to play")
        depth: int | None = arg(None, "search depth; None: the expert's")
        blocks: int | None = arg(None, "residual blocks (default per game)")
        game: str | None = arg(None, "the game (default: the checkpoint's, else connect4)")
        hidden: int = arg(0, "hidden width (0: the game's default)")
        sims: tuple[int, ...] = arg((0, 16, 64), "simulations to try")
        runs: tuple[str, ...] = arg((), "run folders")
        augment: bool = arg(True, "augment with symmetries")
        compile: bool = arg(False, "compile the network")
        out: str = arg(str(repo_file), "where to write")
        cache: str = arg(str(Path.home() / "cache"), "cache folder")
        position: str = arg("", "start from this position")

    actions = {a.dest: a for a in build_parser(Args)._actions}
    shown = {name: shown_default(a, a.help or "") for name, a in actions.items()}
    assert shown == {
        "help": None,
        "games": "2000",
        "depth": None,
        "blocks": None,
        "game": None,
        "hidden": "0",
        "sims": "0 16 64",
        "runs": None,
        "augment": "--augment",
        "compile": "--no-compile",
        "out": "the repository's data/set.npz",
        "cache": "~/cache",
        "position": None,
    }
    text = build_parser(Args).format_help()
    assert "(default: --no-compile)" in " ".join(text.split())
    assert text.count("(default:") == 1 + 7  # the game's own, and one for each value shown


def test_help_never_breaks_a_flag_at_its_hyphen() -> None:
    @dataclass
    class Args:
        log_every_single_request: bool = arg(False, "log " + "every request " * 4)

    lines = build_parser(Args).format_help().splitlines()
    assert any("--no-log-every-single-request)" in line for line in lines), lines


def test_counts_print_as_numbers_not_exponents() -> None:
    assert count_text(2000) == "2,000"
    assert count_text(16_000.0) == "16,000"
    assert count_text(0) == "0"
    assert count_text(23.456) == "23.5"
    assert count_text(1234.5) == "1,234"  # rounds half to even, as format does
    assert "e+" not in count_text(123_456_789.5)


def test_experiment_without_a_name_prints_its_usage_and_fails() -> None:
    done = help_of(("experiment",))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("usage: python -m scripts.experiment {data-wall,thinking,")
