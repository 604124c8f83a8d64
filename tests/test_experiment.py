"""The experiments: the curve-reading rules on hand-made curves, then each ``--quick`` mode
run for real (seconds of Connect Four), its files read back and checked against each other,
against the checkpoints its training runs left, and against an independent measurement."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import train.experiments.thinking_time as thinking_module
from envs import get_game
from models.checkpoint import load_checkpoint
from scripts import experiment, train_selfplay
from train.arena.thinking import thinking_curve
from train.arena.tournament import network_player
from train.experiments.findings import compute_saved, first_reach, flattens_at
from train.experiments.thinking_time import thinking
from train.experiments.yardstick import Yardstick, seeded_net, strength_row

REPO = Path(__file__).resolve().parents[1]
STAGE1 = str(REPO / "checkpoints" / "connect4_stage1.pt")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- reading curves -------------------------------------------------------------------------


def test_flattens_at_the_first_point_no_later_point_beats():
    values = [0.50, 0.60, 0.70, 0.72, 0.71]
    uppers = [0.55, 0.65, 0.75, 0.77, 0.76]
    # 0.60 > 0.55 and 0.70 > 0.65, but neither 0.72 nor 0.71 exceeds 0.75.
    assert flattens_at(values, uppers) == 2
    assert flattens_at([0.1, 0.2, 0.3], [0.15, 0.25, 0.35]) == 2  # still rising: the last
    assert flattens_at([0.8, 0.5, 0.6], [0.85, 0.55, 0.65]) == 0  # never beaten


def test_first_reach_interpolates_between_the_points_around_the_crossing():
    x, y = [0, 10, 20], [0.2, 0.4, 0.8]
    assert first_reach(x, y, 0.6) == pytest.approx(15.0)  # halfway from 0.4 to 0.8
    assert first_reach(x, y, 0.4) == pytest.approx(10.0)
    assert first_reach(x, y, 0.1) == 0.0  # already there at the start
    assert first_reach(x, y, 0.9) is None
    # A dip below the target after reaching it does not matter: the first crossing counts.
    assert first_reach([0, 1, 2, 3], [0.0, 1.0, 0.0, 1.0], 0.5) == pytest.approx(0.5)


def test_compute_saved_on_hand_made_curves():
    warm = ([100, 110, 130], [0.6, 0.7, 0.8])  # starts at stage 1's cost, 100
    scratch = ([0, 50, 100, 200], [0.1, 0.3, 0.5, 0.65])
    # Scratch's final strength, 0.65: warm gets there halfway from 100 to 110, scratch only
    # at its last point.
    final = compute_saved(warm, scratch, 0.65)
    assert final["warm"] == pytest.approx(105.0) and final["scratch"] == pytest.approx(200.0)
    assert final["saved"] == pytest.approx(95.0)
    assert final["ratio"] == pytest.approx(200 / 105)
    # The stage-1 network's strength, 0.6: warm at once; scratch 2/3 of the way 100 -> 200.
    start = compute_saved(warm, scratch, 0.6)
    assert start["warm"] == 100.0
    assert start["saved"] == pytest.approx(200 / 3)
    # Beyond scratch: it would need more than its whole budget of 200, warm needed 130.
    beyond = compute_saved(warm, scratch, 0.8)
    assert beyond["scratch"] is None and beyond["saved_at_least"] == pytest.approx(70.0)
    # A scratch run shorter than stage 1 can't bound the saving.
    short = compute_saved(warm, ([0, 50], [0.1, 0.3]), 0.8)
    assert short["saved_at_least"] is None and short["budget"] == 50.0
    # A warm start that costs more than it saves.
    costly = compute_saved(warm, scratch, 0.3)
    assert costly["saved"] == pytest.approx(50.0 - 100.0)
    assert compute_saved(warm, scratch, 0.9)["warm"] is None


# --- the quick modes ------------------------------------------------------------------------


def read(folder: Path) -> tuple[dict, str]:
    for name in ("summary.md", "results.json"):
        assert (folder / name).is_file(), f"{name} missing in {folder}"
    return json.loads((folder / "results.json").read_text()), (folder / "summary.md").read_text()


def assert_png(path: Path) -> None:
    assert path.is_file() and path.read_bytes()[:8] == PNG_SIGNATURE, path


def assert_measured(row: dict, positions: int, games: int) -> None:
    """A row's measurements are in range, inside their intervals, over the counts asked for."""
    for key, interval in (
        ("optimal_move_rate", "optimal_interval"),
        ("score", "score_interval"),
        ("win_rate", "win_interval"),
    ):
        low, high = row[interval]
        assert 0 <= low <= row[key] + 1e-12 and row[key] <= high + 1e-12 and high <= 1
    assert row["positions_graded"] == positions and row["duel_games"] == games
    wins, draws, losses = map(int, re.fullmatch(r"\+(\d+) =(\d+) -(\d+)", row["record"]).groups())
    assert wins + draws + losses == games
    assert row["score"] == pytest.approx((wins + draws / 2) / games)


def table(summary: str, heading: str) -> list[list[str]]:
    """The body cells of the first markdown table after ``heading``."""
    lines = summary.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[2:]  # past the header and the |---| line


def measured_cell(row: dict, key: str, interval: str) -> str:
    low, high = row[interval]
    return f"{row[key]:.3f} [{low:.3f}, {high:.3f}]"


def test_data_wall_quick(tmp_path):
    out, runs, cache = tmp_path / "report", tmp_path / "runs", tmp_path / "cache"
    args = ["--out", str(out), "--run-dir", str(runs), "--cache-dir", str(cache)]
    experiment.main(["data-wall", "--quick", *args])
    folder = out / "experiments" / "data-wall"
    results, summary = read(folder)
    assert_png(folder / "data_wall_by_size.png")
    assert_png(folder / "data_wall_by_epochs.png")
    # Quick: sizes 20 40 80 at 1 epoch, and 40 games for 1 and 2 epochs: (40, 1) is shared.
    rows = results["rows"]
    assert sorted((r["expert_games"], r["epochs"]) for r in rows) == [
        (20, 1),
        (40, 1),
        (40, 2),
        (80, 1),
    ]
    assert list(cache.glob("connect4_g100_*.npz")), "80 training + 20 validation games cached"
    by_size = sorted((r for r in rows if r["epochs"] == 1), key=lambda r: r["expert_games"])
    # Nested prefixes: each larger set holds the smaller one, so it has more positions.
    assert np.all(np.diff([r["positions"] for r in by_size]) > 0)
    assert np.all(np.diff([r["unique_positions"] for r in by_size]) > 0)
    for r in rows:
        assert_measured(r, positions=60, games=6)
        assert r["unique_positions"] <= r["positions"]
        assert r["positions_trained"] == r["epochs"] * r["positions"]
        assert r["val_loss"] > 0 and 0 <= r["val_move_accuracy"] <= 1
        # Each run is a stage-1 run folder whose last checkpoint saw exactly those positions.
        checkpoint = load_checkpoint(Path(r["run"]) / "latest.pt")
        assert checkpoint.stage == "imitation" and checkpoint.step == r["positions_trained"]
    # The summary's table shows the same numbers as results.json.
    cells = table(summary, "## More data")
    assert [c[0] for c in cells] == ["20", "40", "80"]
    for c, r in zip(cells, by_size, strict=True):
        assert c[1] == f"{r['unique_positions']:,}"
        assert c[3] == measured_cell(r, "optimal_move_rate", "optimal_interval")
        assert c[4] == measured_cell(r, "score", "score_interval")
    assert [c[0] for c in table(summary, "## More epochs")] == ["1", "2"]
    assert results["findings"] and all(f in summary for f in results["findings"])
    index = (out / "experiments" / "index.md").read_text()
    assert "[Data wall: connect4](data-wall/summary.md)" in index


def test_thinking_quick_is_reproducible(tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        experiment.main(["thinking", "--quick", "--stage1", STAGE1, "--out", str(out)])
        runs.append(out / "experiments" / "thinking")
    (results, summary), (again, _) = read(runs[0]), read(runs[1])
    assert_png(runs[0] / "thinking.png")
    rows = results["rows"]
    # Quick: the network at 0 and 4 simulations, then the expert at depths 1 and 3.
    assert [(r["player"], r["sims"], r["depth"]) for r in rows] == [
        ("connect4_stage1", 0, None),
        ("connect4_stage1", 4, None),
        ("expert", None, 1),
        ("expert", None, 3),
    ]
    for r in rows:
        assert_measured(r, positions=40, games=4)
    cells = table(summary, "## Strength against simulations")
    assert [c[3] for c in cells] == [
        measured_cell(r, "optimal_move_rate", "optimal_interval") for r in rows
    ]

    # The same command and seed: the same numbers (wall times aside) and the same figure.
    def without_times(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert without_times(again["rows"]) == without_times(rows)
    assert (runs[0] / "thinking.png").read_bytes() == (runs[1] / "thinking.png").read_bytes()


def test_thinking_measures_networks_with_the_arena_curve(monkeypatch):
    curves = []

    def recorded(*args, **kwargs):
        curves.append(thinking_curve(*args, **kwargs))
        return curves[-1]

    monkeypatch.setattr(thinking_module, "thinking_curve", recorded)
    yardstick = Yardstick.build(get_game("connect4"), 20, 2, 2, 3)
    model = load_checkpoint(STAGE1).model
    rows = thinking(yardstick, {"net": model}, (0, 2), depths=(1,))
    ((zero, two),) = curves
    assert [(r["player"], r["sims"], r["depth"]) for r in rows] == [
        ("net", 0, None),
        ("net", 2, None),
        ("expert", None, 1),
    ]
    for row, point in zip(rows[:2], (zero, two), strict=True):
        head = {"player": "net", "sims": point.sims, "depth": None, "seconds": point.seconds}
        assert row == head | strength_row(point.strength)
        # Each budget is measured afresh from the seed: what the yardstick gives that player.
        alone = yardstick.measure(network_player(yardstick.game, model, point.sims))
        assert strength_row(point.strength) == alone


def test_warm_vs_zero_quick(tmp_path):
    out, runs = tmp_path / "report", tmp_path / "runs"
    experiment.main(
        ["warm-vs-zero", "--quick", "--stage1", STAGE1, "--out", str(out), "--run-dir", str(runs)]
    )
    folder = out / "experiments" / "warm-vs-zero"
    results, summary = read(folder)
    assert_png(folder / "warm_vs_zero.png")
    stage1 = load_checkpoint(STAGE1)
    rows = results["rows"]
    warm = [r for r in rows if r["run"] == "warm"]
    scratch = [r for r in rows if r["run"] == "scratch"]
    # Quick: 2 iterations, measured before the first and after each.
    assert [r["iteration"] for r in warm] == [r["iteration"] for r in scratch] == [0, 1, 2]
    # The warm curve starts at stage 1's cost; scratch starts from nothing.
    assert warm[0]["positions_trained"] == stage1.step
    assert warm[0]["wall_s"] == pytest.approx(stage1.metrics["elapsed_s"])
    assert (scratch[0]["positions_trained"], scratch[0]["wall_s"]) == (0, 0.0)
    for curve in (warm, scratch):
        assert np.all(np.diff([r["positions_trained"] for r in curve]) > 0)
        assert np.all(np.diff([r["wall_s"] for r in curve]) > 0)
        for r in curve:
            assert_measured(r, positions=60, games=4)
    # Each run's last checkpoint saw as many positions as its last row says.
    for run, curve in (("warm", warm), ("scratch", scratch)):
        (run_dir,) = runs.glob(f"connect4__warm-vs-zero-{run}__*")
        assert load_checkpoint(run_dir / "latest.pt").step == curve[-1]["positions_trained"]
    # The warm start's first point is the stage-1 network, measured here independently.
    yardstick = Yardstick.build(get_game("connect4"), 60, 4, 2, 0)
    alone = yardstick.measure(network_player(yardstick.game, stage1.model, 0))
    assert alone["optimal_move_rate"] == warm[0]["optimal_move_rate"]
    assert alone["record"] == warm[0]["record"]
    # The warm start has the stage-1 network's strength from its first point, at its cost.
    for a in results["compute_saved"]:
        if a["target_of"] == "the stage-1 network's":
            assert a["warm"] == pytest.approx(warm[0][a["axis"]])
    assert [c[2] for c in table(summary, "## Strength against compute")] == [
        f"{r['positions_trained']:,}" for r in rows
    ]


def test_bad_input_is_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "report"
    cases = [
        (["nonsense"], "unknown experiment"),
        (["thinking", "--stage1", str(tmp_path / "missing.pt"), "--out", str(out)], "missing"),
        (["warm-vs-zero", "--stage1", STAGE1, "--game", "tictactoe", "--out", str(out)], "tic"),
        (["data-wall", "--sizes", "0", "--out", str(out)], ">= 1"),
        (["thinking", "--stage1", STAGE1, "--sims", "-1", "--out", str(out)], "--sims"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            experiment.main(argv)
        assert exit_info.value.code == 2, argv
        assert message in capsys.readouterr().err, argv
    assert not out.exists()


def _tiny_run(run_dir: Path, init: str, name: str) -> Path:
    """A two-iteration Connect Four stage 2 by ``train_selfplay``, a snapshot every iteration."""
    threads = torch.get_num_threads()
    try:
        train_selfplay.main(
            ["--init", init, "--game", "connect4", "--run-dir", str(run_dir)]
            + ["--exp-name", name, "--iterations", "2", "--games-per-iteration", "4"]
            + ["--simulations", "4", "--workers", "1", "--eval-games", "0", "--eval-every", "1"]
            + ["--snapshot-every", "1", "--device", "cpu"]
        )
    finally:
        torch.set_num_threads(threads)  # the script pins torch's threads for the process
    (folder,) = run_dir.glob(f"connect4__{name}__*")
    return folder


def test_warm_vs_zero_from_runs_measures_the_runs_own_checkpoints(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "report"
    warm_run, scratch_run = _tiny_run(runs, STAGE1, "w"), _tiny_run(runs, "scratch", "s")
    experiment.main(
        ["warm-vs-zero", "--quick", "--stage1", STAGE1, "--out", str(out), "--eval-every", "2"]
        + ["--from-runs", str(warm_run), str(scratch_run)]
    )
    results, summary = read(out / "experiments" / "warm-vs-zero")
    assert "Both trained already" in summary
    stage1, yardstick = load_checkpoint(STAGE1), Yardstick.build(get_game("connect4"), 60, 4, 2, 0)
    for label, folder in (("warm", warm_run), ("scratch", scratch_run)):
        curve = [r for r in results["rows"] if r["run"] == label]
        # Before the run, then the snapshot at iteration 2, which latest.pt repeats (once).
        assert [r["iteration"] for r in curve] == [0, 2]
        snapshot = load_checkpoint(folder / "iteration_0002.pt")
        assert curve[1]["positions_trained"] == snapshot.step
        assert curve[1]["wall_s"] == pytest.approx(snapshot.metrics["elapsed_s"])
        alone = yardstick.measure(network_player(yardstick.game, snapshot.model, 0))
        assert (curve[1]["optimal_move_rate"], curve[1]["record"]) == (
            alone["optimal_move_rate"],
            alone["record"],
        )
        # The first point: stage 1 at its cost, or the network --init scratch drew.
        first = stage1.model if label == "warm" else seeded_net(stage1.config, 1)
        alone = yardstick.measure(network_player(yardstick.game, first, 0))
        assert curve[0]["optimal_move_rate"] == alone["optimal_move_rate"]
    warm0 = results["rows"][0]
    assert (warm0["positions_trained"], warm0["wall_s"]) == (
        stage1.step,
        stage1.metrics["elapsed_s"],
    )
    # The runs swapped are refused: the warm one did not start from scratch.
    with pytest.raises(SystemExit) as exit_info:
        experiment.main(
            ["warm-vs-zero", "--quick", "--stage1", STAGE1, "--out", str(out)]
            + ["--from-runs", str(scratch_run), str(warm_run)]
        )
    assert exit_info.value.code == 2


def test_compute_saved_spreads_scratch_over_its_interval_band():
    warm = ([100, 110, 130], [0.6, 0.7, 0.8])
    scratch = ([0, 100, 200], [0.2, 0.5, 0.7])
    lows, highs = [0.1, 0.4, 0.6], [0.3, 0.6, 0.8]
    # 0.6: the point curve at 150 (halfway 100 -> 200); the upper ends at 100; the lower at 200.
    out = compute_saved(warm, scratch, 0.6, scratch_band=(lows, highs))
    assert out["scratch"] == pytest.approx(150.0)
    assert out["scratch_range"] == pytest.approx([100.0, 200.0])
    assert out["ratio_range"] == pytest.approx([1.0, 2.0])
    # 0.65: the lower ends never get there.
    assert (
        compute_saved(warm, scratch, 0.65, scratch_band=(lows, highs))["scratch_range"][1] is None
    )
