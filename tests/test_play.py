"""The terminal game, driven through its stdin in a subprocess as a person would type."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from envs import CONNECT4, GO7, TICTACTOE
from envs.core import State
from models.checkpoint import load_checkpoint, save_checkpoint
from models.net import NetConfig, PolicyValueNet
from scripts.play import main
from train.search.evaluators import NetworkEvaluator

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
PROMPT = "X to play> "


@pytest.fixture(scope="module", autouse=True)
def restore_torch_threads() -> Iterator[None]:
    """The in-process runs pin torch to one thread, as the script does; undo that after."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def play(*args: str, stdin: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "scripts.play", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained tic-tac-toe network, its policy sharpened so that moves differ."""
    torch.manual_seed(0)
    model = PolicyValueNet(NetConfig("tictactoe", blocks=1, channels=8, value_hidden=16))
    with torch.no_grad():
        model.policy_head[-1].weight.mul_(20)
    path = tmp_path_factory.mktemp("checkpoints") / "tiny.pt"
    save_checkpoint(path, model, stage="test", step=0, args={}, metrics={}, seed=0)
    return path


def test_bad_input_gets_a_one_line_hint_and_the_prompt_again() -> None:
    typed = ["x", "", "8", "0", "10", "4", "undo", "1", "undo", "restart"]
    result = play("--game", "connect4", "--position", "444444", stdin="\n".join(typed) + "\n")
    assert result.returncode == 0  # end of input ends the game quietly
    # What follows each prompt is the answer to the line typed there.
    intro, *answers = result.stdout.split(PROMPT)
    assert ". . . O . . ." in intro and "1 2 3 4 5 6 7" in intro  # board and column numbers
    assert len(answers) == len(typed) + 1
    hints = {
        "x": "'x' is not a column 1..7",
        "": "No move given",
        "8": "'8' is not a column 1..7",
        "0": "'0' is not a column 1..7",
        "10": "'10' is not a column 1..7",
        "4": "column 4 is full",
        "undo": "Nothing to undo yet",
    }
    for line, answer in zip(typed[:7], answers[:7], strict=True):
        assert answer.count("\n") == 1 and answer.startswith(hints[line]), (line, answer)
    # "1" is played and answered by the expert; undo and restart go back to the start.
    reply = re.match(r"expert-d\d+ plays ([1-7])\n", answers[7])
    assert reply, answers[7]
    after = CONNECT4.render(CONNECT4.parse("4444441" + reply[1]))
    assert answers[7] == f"{reply[0]}{after}\n"
    assert answers[8] == intro.split("\n", 1)[1]  # the starting board again
    assert answers[9] == intro.split("\n", 1)[1]
    assert answers[10] == "\n"


def test_a_whole_game_against_the_perfect_expert() -> None:
    # Type every cell in turn until the game ends: taken cells are refused, the rest played.
    typed = [str(cell) for cell in range(1, 10)] * 2 + ["5", "restart", "quit"]
    result = play("--game", "tictactoe", "--seed", "3", stdin="\n".join(typed) + "\n")
    assert result.returncode == 0
    out = result.stdout
    (verdict,) = re.findall(r"^(Draw\.|O \(expert-perfect\) wins\.).*$", out, re.M)
    assert "you) win" not in out  # nobody beats perfect play
    assert "The game is over: type restart, undo or quit." in out
    # After restart the empty board is back (tic-tac-toe shows the cell numbers).
    assert out.rstrip().endswith("1 2 3\n4 5 6\n7 8 9\n" + PROMPT.rstrip())
    assert verdict


def test_a_go_game_against_random_typed_in_gtp_and_ended_by_passes() -> None:
    # Lower case is fine; then pass every turn until random passes too (or the move limit).
    typed = ["d4", *["pass"] * GO7.max_moves, "quit"]
    result = play("--game", "go7", "--opponent", "random", stdin="\n".join(typed) + "\n")
    assert result.returncode == 0
    out = result.stdout
    assert out.startswith("You play X (Black) against random. Type a point A1-G7 (e.g. D4) or pass")
    assert "  A B C D E F G" in out and "\n7 . . . . . . .\n" in out  # GTP coordinates
    replies = re.findall(r"^(?:X to play> )?random plays (\S+)$", out, re.M)
    # The game as played: ours (D4, then passes) and random's replies, in turn.
    ours = ["D4", *["pass"] * (len(replies) - 1)]
    record = [move for pair in zip(ours, replies, strict=True) for move in pair]
    final = GO7.parse(" ".join(record))
    assert GO7.is_terminal(final) and replies
    assert out.count("The game is over: type restart, undo or quit.") >= 1
    margin = float(GO7.score(final)) * (1 if int(GO7.to_play(final)) == 0 else -1)  # Black's
    (verdict,) = re.findall(r"^.*(?:wins|win|Draw).*$", out, re.M)
    if margin > 0:
        expected = f"X (you) win by {margin:g} points (B+{margin:g})."
    elif margin < 0:
        expected = f"O (random) wins by {-margin:g} points (W+{-margin:g})."
    else:
        expected = "Draw: the area scores are equal after komi 9."
    assert verdict == f"{expected} Type restart, undo or quit."


def test_illegal_go_moves_say_which_rule_forbids_them() -> None:
    #   A B C D E F G     White (O) to move: Black's E5 has just taken a stone at D5,
    # 6 . . . X O . .     so retaking at D5 is the ko; A1 would be suicide.
    # 5 . . X . X O .
    # 4 . . . X O . .
    position = "D6 E6 C5 F5 D4 E4 A2 G7 B1 D5 E5"
    typed = ["D5", "a1", "D6", "h1", "D8", "D 4"]
    result = play(
        "--game",
        "go7",
        "--opponent",
        "random",
        "--side",
        "second",
        "--position",
        position,
        stdin="\n".join(typed) + "\n",
    )
    assert result.returncode == 0
    intro, *answers = result.stdout.split("O to play> ")
    assert intro.startswith("You play O (White) against random.")
    assert len(answers) == len(typed) + 1
    hints = {
        "D5": "D5 would retake the ko at once: play elsewhere first.",
        "a1": "A1 would be suicide (the stone would have no liberties).",
        "D6": "D6 is occupied.",
        "h1": "'h1' is not a point of a 7x7 board",
        "D8": "'D8' is not a point of a 7x7 board (rows 1..7)",
        "D 4": "'D 4' is not a point of a 7x7 board",
    }
    for line, answer in zip(typed, answers, strict=False):
        assert answer.count("\n") == 1 and answer.startswith(hints[line]), (line, answer)
        assert answer.rstrip().endswith(
            "Type a point A1-G7 (e.g. D4) or pass, or hint (?), undo, restart, quit."
        )


# The next two run the script in this process (torch is already imported here, which saves
# seconds); the tests above drive it through a real pipe.


def test_hint_shows_the_network_probabilities_and_value(tiny: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("hint\n?\nquit\n"))
    main(["--checkpoint", str(tiny), "--sims", "8", "--side", "first"])
    out = capsys.readouterr().out
    hint_lines = [line for line in out.splitlines() if "network" in line]
    assert len(hint_lines) == 4  # two hints of two lines
    summary, probabilities = hint_lines[:2]
    assert re.search(r"the network after 8 simulations: value [+-]\d\.\d\d for you", summary)
    # The probabilities shown are the network's own, computed here independently.
    model = load_checkpoint(tiny).model
    start = State.stack([TICTACTOE.initial_state()])
    priors, _ = NetworkEvaluator(model, TICTACTOE)(start, TICTACTOE.legal_mask(start))
    expected = "  ".join(f"{a + 1}:{p:4.0%}" for a, p in enumerate(priors[0]))
    assert probabilities.strip() == f"network {expected}".strip()
    visits = re.search(r"visits\s+(.*)", out)[1]
    assert sum(int(v) for v in re.findall(r"\d:(\d+)", visits)) == 8


def test_watch_two_players(tiny: Path, capsys) -> None:
    main(["--watch", str(tiny), "expert", "--game", "tictactoe", "--delay", "0"])
    out = capsys.readouterr().out
    assert out.startswith("X: tiny   O: expert-perfect")
    moves = re.findall(r"^(?:tiny|expert-perfect) plays (\d)$", out, re.M)
    final = TICTACTOE.parse("".join(moves))
    assert TICTACTOE.is_terminal(final)
    last_line = out.rstrip().splitlines()[-1]
    if TICTACTOE.is_won(final):
        winner = "X (tiny)" if len(moves) % 2 == 1 else "O (expert-perfect)"
        assert last_line == f"{winner} wins."
    else:
        assert last_line == "Draw."
    assert last_line != "X (tiny) wins."  # the perfect expert never loses


def test_ctrl_c_exits_cleanly() -> None:
    # A shell that starts a job in the background (as CI runners may) leaves SIGINT ignored
    # in it, and Python then never raises KeyboardInterrupt: restore the default, as a
    # terminal would have it.
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.play", "--game", "tictactoe"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    seen = b""
    deadline = time.monotonic() + 60
    while PROMPT.encode() not in seen and time.monotonic() < deadline:
        chunk = os.read(process.stdout.fileno(), 1024)
        if not chunk:
            break
        seen += chunk
    assert PROMPT.encode() in seen
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert b"interrupted" in out
    assert b"Traceback" not in err and b"KeyboardInterrupt" not in err
