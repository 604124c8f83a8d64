"""The comparison report: scalars read back as written, runs told apart, a report written.

The runs are synthetic: tiny tic-tac-toe networks saved as checkpoints, and TensorBoard
logs written with the same ``RunLogger`` the training loops use.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch
from torch.utils.tensorboard import SummaryWriter

import train.report.report as report_module
from envs import TICTACTOE
from envs.experts import make_expert
from models.checkpoint import save_checkpoint
from models.net import NetConfig, PolicyValueNet
from scripts import compare
from tests.test_training_scripts import run_script
from train.arena.duels import DuelResult, Record, duel, wilson_interval
from train.arena.grading import grade_player
from train.arena.thinking import Strength, thinking_curve
from train.arena.tournament import (
    duel_dict,
    find_duel,
    flipped,
    network_player,
    score_matrix,
    solver_sample,
)
from train.learn.evaluation import with_intervals
from train.learn.tb import RunLogger
from train.report.figures import interval_band, plot_metric
from train.report.report import ReportConfig, build_report, verdict
from train.report.runs import (
    Run,
    discover_runs,
    label_runs,
    load_run,
    read_scalars,
    shared_tags,
    stage_boundaries,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def tiny_net(seed: int) -> PolicyValueNet:
    torch.manual_seed(seed)
    return PolicyValueNet(NetConfig("tictactoe", blocks=0, channels=4, value_hidden=4))


def metrics_at(i: int) -> dict[str, float]:
    """What the synthetic runs log at their ``i``-th step (every third step evaluates)."""
    out = {"losses/total": 3.0 - 0.1 * i, "losses/policy": 2.0 - 0.1 * i}
    if i % 3 == 2:
        out["eval/vs_expert/score"] = 0.05 * i
    return out


def make_run(
    root: Path,
    name: str,
    stage: str,
    args: dict,
    steps: range,
    seed: int,
    elapsed_offset: float = 0.0,
) -> Path:
    """A run folder as the training scripts leave it: event files, a checkpoint, args.json."""
    run = root / name
    logger = RunLogger(run, elapsed_offset=elapsed_offset)
    for i, step in enumerate(steps):
        logger.scalars(metrics_at(i), step)
    logger.close()
    file = "best.pt" if stage == "imitation" else "latest.pt"
    save_checkpoint(
        run / file, tiny_net(seed), stage=stage, step=steps[-1], args=args, metrics={}, seed=seed
    )
    (run / "args.json").write_text(json.dumps(args))
    return run


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``runs/`` holding a stage-1 run, a stage-2 run started from it, and a scratch run."""
    root = tmp_path_factory.mktemp("compare") / "runs"
    stage1 = make_run(
        root,
        "tictactoe__imitation__1__100",
        "imitation",
        {"game": "tictactoe"},
        range(100, 1100, 100),
        seed=1,
    )
    init = str(stage1 / "best.pt")
    make_run(
        root,
        "tictactoe__selfplay__1__200",
        "selfplay",
        {"init": init, "game": None, "algo": "alphazero"},
        range(1200, 2200, 200),
        seed=2,
        elapsed_offset=100.0,
    )
    make_run(
        root,
        "tictactoe__scratch__1__300",
        "selfplay",
        {"init": "scratch", "game": "tictactoe", "algo": "alphazero"},
        range(200, 1200, 200),
        seed=3,
    )
    (root / "not_a_run").mkdir()  # no event files: not discovered
    broken = RunLogger(root / "tictactoe__broken__1__400")  # logs, but no checkpoint or args
    broken.scalars({"losses/total": 1.0}, 1)
    broken.close()
    return root


def test_read_scalars_returns_what_was_written(tmp_path: Path) -> None:
    logger = RunLogger(tmp_path)
    written = {step: {"losses/total": 1.0 / step, "eval/x": float(step)} for step in (3, 1, 2)}
    for step, metrics in written.items():
        logger.scalars(metrics, step)
    logger.close()
    scalars = read_scalars(tmp_path)
    assert set(scalars) == {"losses/total", "eval/x", "charts/elapsed_s"}
    np.testing.assert_array_equal(scalars["eval/x"].steps, [1, 2, 3])
    # TensorBoard stores float32.
    expected = np.float32([1.0 / s for s in (1, 2, 3)])
    np.testing.assert_array_equal(scalars["losses/total"].values.astype(np.float32), expected)
    np.testing.assert_array_equal(scalars["charts/elapsed_s"].steps, [1, 2, 3])


def test_read_scalars_keeps_the_last_value_of_a_step_logged_twice(tmp_path: Path) -> None:
    # A run resumed before its writers left restart marks (train/learn/tb.py) logged again
    # the steps after its last checkpoint, in a new event file, with nothing to discard them.
    for values in ({10: 5.0, 20: 4.0}, {20: 3.0, 30: 2.0}):
        writer = SummaryWriter(str(tmp_path))
        for step, value in values.items():
            writer.add_scalar("losses/total", value, step)
        writer.close()
    series = read_scalars(tmp_path)["losses/total"]
    np.testing.assert_array_equal(series.steps, [10, 20, 30])
    np.testing.assert_array_equal(series.values, [5.0, 3.0, 2.0])


def test_a_score_is_drawn_with_its_interval_band(tmp_path: Path) -> None:
    logger = RunLogger(tmp_path / "run")
    for step, score in ((100, 0.5), (200, 0.75)):
        metrics = {"eval/vs_expert/score": score, "losses/total": 1.0}
        logger.scalars(with_intervals(metrics, games=20), step)
    logger.close()
    run = Run(tmp_path / "run", "stage1", "tictactoe", {}, read_scalars(tmp_path / "run"))
    # The bounds are no curves of their own, but the band of their score.
    assert shared_tags([run]) == ["eval/vs_expert/score", "losses/total"]
    low, high = interval_band(run, "eval/vs_expert/score")
    expected = [wilson_interval(points, 20) for points in (10, 15)]
    np.testing.assert_allclose(np.stack([low, high], axis=1), expected, atol=1e-6)
    assert interval_band(run, "losses/total") is None
    path = plot_metric([run], "eval/vs_expert/score", tmp_path / "score.png")
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_runs_are_told_apart_and_labelled(runs_dir: Path) -> None:
    paths = discover_runs(runs_dir)
    assert [p.name for p in paths] == sorted(p.name for p in runs_dir.iterdir() if "__" in p.name)
    runs = label_runs([load_run(p) for p in paths if "broken" not in p.name])
    assert [(r.role, r.label) for r in runs] == [
        ("stage1", "stage 1"),
        ("stage2", "stage 2"),
        ("scratch", "stage 2 from scratch"),
    ]
    stage1, stage2, _ = runs
    assert stage2.parent == stage1.path.name
    assert stage1.checkpoint.name == "best.pt" and stage2.checkpoint.name == "latest.pt"
    assert stage1.last_step == 1000 and stage2.last_step == 2000
    # The end of stage 1, in positions and in its own logged seconds.
    ((step, seconds),) = stage_boundaries(runs)
    assert step == 1000
    assert seconds == pytest.approx(stage1.scalars["charts/elapsed_s"].last)
    # Stage 2's clock continues from the offset it was given.
    assert stage2.scalars["charts/elapsed_s"].values[0] >= 100.0


def test_load_run_refuses_a_folder_that_is_not_a_run(runs_dir: Path) -> None:
    with pytest.raises(ValueError, match="not a training run"):
        load_run(runs_dir / "not_a_run")
    with pytest.raises(ValueError, match="not a training run"):
        load_run(runs_dir / "tictactoe__broken__1__400")
    with pytest.raises(ValueError, match="not a run folder"):
        load_run(runs_dir / "missing")


def duel_result(wins: int, draws: int, losses: int, a: str = "a", b: str = "b") -> DuelResult:
    half = Record(wins // 2, draws // 2, losses // 2)
    rest = Record(wins - half.wins, draws - half.draws, losses - half.losses)
    return DuelResult(a, b, half, rest)


def test_verdict_reads_the_interval() -> None:
    # The Wilson 95% interval of 60/100 is [0.5020, 0.6906] (by hand): above 1/2.
    assert verdict(duel_result(60, 0, 40)).startswith("**yes**: a beat b")
    assert verdict(duel_result(50, 0, 50)).startswith("**no clear difference**")
    assert verdict(duel_result(40, 20, 40)).startswith("**no clear difference**")
    assert verdict(duel_result(10, 0, 90)).startswith("**no**: a lost to b")
    assert "score 0.600 [0.502, 0.691] over 100 games (+60 =0 -40)" in verdict(
        duel_result(60, 0, 40)
    )


def test_duels_seen_from_either_side() -> None:
    d = DuelResult("a", "b", Record(3, 1, 0), Record(1, 0, 5))
    f = flipped(d)
    assert (f.a, f.b, f.wins, f.draws, f.losses) == ("b", "a", 5, 1, 4)
    assert f.as_first == Record(5, 0, 1)  # b moved first where a moved second
    assert find_duel([d], "b", "a").score == pytest.approx(1 - d.score)
    assert find_duel([d], "a", "c") is None
    m = score_matrix(["a", "b", "c"], [d])
    assert m[0, 1] + m[1, 0] == pytest.approx(1.0)
    assert np.isnan(m[0, 0]) and np.isnan(m[0, 2])


def run_compare(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_script("compare", *args, cwd=cwd, check=False)


def test_compare_writes_the_report(runs_dir: Path, tmp_path: Path) -> None:
    small = ["--games", "8", "--sims", "0", "2", "--positions", "30", "--thinking-games", "2"]
    # An experiment already written into the report folder gets a link.
    (tmp_path / "experiments" / "thinking").mkdir(parents=True)
    (tmp_path / "experiments" / "thinking" / "summary.md").write_text("# thinking\n")
    result = run_compare("--logdir", str(runs_dir), "--out", str(tmp_path), *small, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipping" in result.stdout and "tictactoe__broken__1__400" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())

    # A figure for every shared tag written, and the duel matrix and thinking-time figures.
    written = {tag for i in range(10) for tag in metrics_at(i)}
    assert set(report["figures"]) == written
    pngs = [tmp_path / p for p in report["figures"].values()]
    pngs += [tmp_path / "figures" / "duel_matrix.png", tmp_path / "figures" / "thinking_time.png"]
    for png in pngs:
        assert png.read_bytes().startswith(PNG_SIGNATURE), png
        assert matplotlib.image.imread(png).shape[0] > 100  # decodes, and has some size

    # A round robin of the three networks and the teacher, all games counted.
    assert len(report["duels"]) == 6
    for d in report["duels"]:
        assert d["wins"] + d["draws"] + d["losses"] == d["games"] == 8
        assert d["score"] == pytest.approx((d["wins"] + 0.5 * d["draws"]) / 8)
        low, high = d["score_interval"]
        assert low <= d["score"] <= high
    assert report["elo"]["anchor"] == "expert"
    assert report["elo"]["ratings"]["expert"]["elo"] == 0.0

    # The verdicts: stage 2 against stage 1, each network against the teacher, and stage 2
    # against stage 2 from scratch; each answer follows from the duel's interval.
    questions = [v["question"] for v in report["verdicts"]]
    assert questions == [
        "Did stage 2 beat stage 1?",
        "Did stage 1 beat the teacher?",
        "Did stage 2 beat the teacher?",
        "Did stage 2 from scratch beat the teacher?",
        "Did stage 2 beat stage 2 from scratch?",
    ]
    markdown = (tmp_path / "report.md").read_text()
    for v in report["verdicts"]:
        low, high = v["score_interval"]
        word = "**yes**" if low > 0.5 else "**no**:" if high < 0.5 else "**no clear difference**"
        assert v["answer"].startswith(word)
        assert f"[{low:.3f}, {high:.3f}]" in v["answer"]
        assert f"- {v['question']} {v['answer']}" in markdown
        # The verdict's duel is the matrix's duel, seen from the asker's side.
        matrix = next(d for d in report["duels"] if {d["a"], d["b"]} == {v["a"], v["b"]})
        same_side = matrix["a"] == v["a"]
        assert v["wins"] == (matrix["wins"] if same_side else matrix["losses"])

    # Strength against thinking time: both budgets for each network, rates in [0, 1].
    curves = report["thinking_time"]
    assert list(curves) == ["stage 1", "stage 2", "stage 2 from scratch"]
    for points in curves.values():
        assert [p["sims"] for p in points] == [0, 2]
        for p in points:
            assert p["positions"] == 30 and 0 <= p["optimal_move_rate"] <= 1
            assert p["vs_teacher"]["games"] == 2
    for figure in report["figures"].values():
        assert f"]({figure})" in markdown
    assert "- [thinking](experiments/thinking/summary.md)" in markdown


def test_compare_refuses_bad_input_with_a_message(
    runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    for args, message in (
        ([], "no runs"),
        (["--runs", str(runs_dir / "not_a_run")], "not a training run"),
        (["--logdir", str(tmp_path / "nowhere")], "no such folder"),
        (["--logdir", str(runs_dir), "--games", "0"], "must be >= 1"),
        (["--logdir", str(runs_dir), "--game", "connect4"], "no runs to compare"),
        (["--runs", str(runs_dir / "tictactoe__broken__1__400")], "not a training run"),
        (["--logdir", str(runs_dir), "--sims", "-1"], "--sims, --opening-moves >= 0"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            compare.main([*args, "--out", str(tmp_path / "out")])
        assert exit_info.value.code == 2, args
        assert message in capsys.readouterr().err


# --- the one thinking-time curve ------------------------------------------------------------


def test_thinking_curve_from_one_generator_draws_each_budget_in_turn() -> None:
    # The report's way: every budget grades, then duels, drawing from one generator in turn.
    game, model, teacher = TICTACTOE, tiny_net(4), make_expert(TICTACTOE)
    graded = solver_sample(game, 25, np.random.default_rng(7))
    rng = np.random.default_rng(8)
    curve = thinking_curve(game, model, (0, 3), teacher, graded, 4, lambda: (rng, rng), 1)
    again = np.random.default_rng(8)
    positions, action_values, _ = graded
    for point, sims in zip(curve, (0, 3), strict=True):
        player = network_player(game, model, sims)
        grade = grade_player(player, positions, action_values, None, again, batch_size=512)
        result = duel(game, player, teacher, 4, again, 1)
        assert point.sims == sims and point.seconds >= 0
        assert point.strength == Strength(int(grade.optimal.sum()), 25, result)
        assert point.as_dict()["vs_teacher"] == duel_dict(result)
    assert [p.sims for p in curve] == [0, 3]


def test_the_report_measures_thinking_time_with_the_arena_curve(
    runs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    curves = []

    def recorded(*args, **kwargs):
        curves.append(thinking_curve(*args, **kwargs))
        return curves[-1]

    monkeypatch.setattr(report_module, "thinking_curve", recorded)
    paths = [p for p in discover_runs(runs_dir) if "broken" not in p.name]
    runs = label_runs([load_run(p) for p in paths])
    config = ReportConfig(games=2, sims=(0, 2), positions=20, thinking_games=2)
    summary = build_report(runs, tmp_path, config, np.random.default_rng(0), log=lambda _: None)
    assert len(curves) == len(runs) == 3
    assert list(summary["thinking_time"].values()) == [[p.as_dict() for p in c] for c in curves]
