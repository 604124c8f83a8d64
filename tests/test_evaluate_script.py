"""scripts/evaluate.py: a round robin with consistent counts, an anchored ladder, clear refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models.checkpoint import save_checkpoint
from models.net import NetConfig, PolicyValueNet
from scripts import evaluate

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def tiny_checkpoint(path: Path, game: str = "tictactoe", seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = PolicyValueNet(NetConfig(game, blocks=0, channels=4, value_hidden=4))
    save_checkpoint(path, model, stage="imitation", step=10, args={}, metrics={}, seed=seed)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("evaluate")
    return {
        "a": tiny_checkpoint(root / "a" / "best.pt", seed=1),
        "b": tiny_checkpoint(root / "b" / "best.pt", seed=2),
        "c4": tiny_checkpoint(root / "c4.pt", game="connect4"),
    }


def test_evaluate_writes_consistent_json_and_markdown(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    a, b = str(checkpoints["a"]), f"{checkpoints['b']}:sims=4"
    games = 6
    result = subprocess.run(
        [sys.executable, "-m", "scripts.evaluate", a, b, "--games", str(games)]
        + ["--opening-moves", "0", "--positions", "40", "--out", str(tmp_path)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["game"] == "tictactoe"  # inferred from the checkpoints
    assert report["players"] == [a, b, "random", "expert"]  # the baselines added

    # Every pair met once, and every game is counted once, with both colours equally.
    pairs = {frozenset((d["a"], d["b"])) for d in report["duels"]}
    assert len(report["duels"]) == len(pairs) == 6
    for d in report["duels"]:
        assert d["wins"] + d["draws"] + d["losses"] == d["games"] == games
        for side in ("as_first", "as_second"):
            assert sum(d[side].values()) == games // 2
        assert d["score"] == pytest.approx((d["wins"] + 0.5 * d["draws"]) / games)
    # The perfect tic-tac-toe expert never loses from the empty board.
    for d in report["duels"]:
        if "expert" in (d["a"], d["b"]):
            assert d["losses" if d["a"] == "expert" else "wins"] == 0

    ratings = report["elo"]["ratings"]
    assert report["elo"]["anchor"] == "random"
    assert ratings["random"] == {"elo": 0.0, "stderr": 0.0, "games": 3 * games}

    # Solver grades for the two checkpoints (the search player too), none for the others.
    assert set(report["solver"]) == {a, b} and report["solver_positions"] == 40
    for metrics in report["solver"].values():
        rate = metrics["eval/solver/optimal_move_rate"]
        assert 0 <= rate <= 1
        assert metrics["eval/solver/error_rate"] == pytest.approx(1 - rate)
        assert 0 <= metrics["eval/solver/value_sign_accuracy"] <= 1

    markdown = (tmp_path / "evaluation.md").read_text()
    for d in report["duels"]:
        record = f"+{d['wins']} ={d['draws']} -{d['losses']}"
        assert f"| {d['a']} | {d['b']} | {record} | {d['score']:.3f} |" in markdown
    assert "## Elo (random = 0)" in markdown and f"| {b} |" in markdown
    assert "Elo (random = 0)" in result.stdout and "solver grades (40 positions)" in result.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.pt"], "no such file"),
        (["wizard", "--game", "tictactoe"], "unknown player 'wizard'"),
        (["expert:depth=3", "--game", "tictactoe"], "player 'expert:depth=3'"),
        (["{a}:sims=4:x", "random"], "player"),
        (["random", "expert"], "give --game"),
        (["{a}", "{c4}"], "different games"),
        (["{a}", "--game", "connect4"], "tictactoe networks"),
        (["{garbage}"], "not an apprentice checkpoint"),
        (["random", "--no-baselines", "--game", "tictactoe"], "at least two"),
        (["{a}", "--games", "0"], "--games and --positions must be >= 1"),
    ],
)
def test_bad_input_exits_with_a_message(
    argv: list[str],
    message: str,
    checkpoints: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    garbage = tmp_path / "garbage.pt"
    torch.save({"weights": torch.zeros(2)}, garbage)
    paths = {"a": checkpoints["a"], "c4": checkpoints["c4"], "garbage": garbage}
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main([arg.format(**paths) for arg in argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
