"""The ceiling experiment: its ideal targets against brute force on late Connect Four positions
and known positions, the labelled set's quotas, exclusions and cache, and its ``--quick`` mode
run end to end."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest

import train.experiments.ideal_labels as labels_module
from envs import CONNECT4, State
from envs.profile import ILLEGAL
from envs.solvers.connect4_solver import Solver
from models.checkpoint import load_checkpoint
from scripts import experiment
from train.arena.positions import random_positions
from train.experiments.ceiling import split_games, verdict
from train.experiments.ideal_labels import (
    LabelConfig,
    cached_labels,
    ideal_targets,
    label_games,
    label_positions,
)

NA = ILLEGAL  # a move that cannot be played


def test_ideal_targets_spread_over_the_best_outcome_class():
    outcomes = np.array(
        [
            [1, 0, -1, 1, NA, 0, -1],  # won: both winning moves
            [-1, 0, -1, NA, NA, 0, -1],  # drawn: the drawing moves
            [-1, -1, NA, -1, -1, -1, -1],  # lost: every legal move
        ],
        dtype=np.int8,
    )
    policy, value = ideal_targets(outcomes)
    np.testing.assert_allclose(policy[0], [0.5, 0, 0, 0.5, 0, 0, 0])
    np.testing.assert_allclose(policy[1], [0, 0.5, 0, 0, 0, 0.5, 0])
    np.testing.assert_allclose(policy[2], [1 / 6, 1 / 6, 0, 1 / 6, 1 / 6, 1 / 6, 1 / 6])
    np.testing.assert_array_equal(value, [1, 0, -1])
    with pytest.raises(ValueError, match="without a legal move"):
        ideal_targets(np.full((1, 7), NA, dtype=np.int8))


@cache
def _negamax(own: int, opp: int, ply: int) -> int:
    """The result for the player to move, by plain exhaustive search (no solver code)."""
    state = State(np.uint64(own), np.uint64(opp), np.int32(ply))
    if CONNECT4.is_terminal(state):
        return int(CONNECT4.terminal_value(state))
    return max(-_child(state, a) for a in np.flatnonzero(CONNECT4.legal_mask(state)))


def _child(state: State, action: int) -> int:
    after = CONNECT4.play(state, int(action))
    return _negamax(int(after.own), int(after.opp), int(after.ply))


def test_labels_match_brute_force_on_late_positions():
    pool = random_positions(CONNECT4, 300, 41, np.random.default_rng(3))
    late = pool[pool.ply >= 36][:12]
    assert len(late) >= 8
    outcomes = label_positions(late, Solver(table_log2=16))
    policy, value = ideal_targets(outcomes)
    for i in range(len(late)):
        legal = CONNECT4.legal_mask(late[i])
        truth = np.full(7, NA)
        for a in np.flatnonzero(legal):
            truth[a] = -_child(late[i], a)
        np.testing.assert_array_equal(outcomes[i], truth)
        best = truth[legal].max()
        np.testing.assert_array_equal(policy[i] > 0, legal & (truth == best))
        assert value[i] == best
    # Not a trivial sample: won, drawn and lost positions, and best moves that are not all.
    assert set(value.tolist()) == {-1.0, 0.0, 1.0}
    assert ((policy > 0) != CONNECT4.legal_mask(late)).any(axis=-1).sum() >= 5


def test_targets_are_from_the_view_of_the_player_to_move():
    # X (to move) has 4, 5, 6 along the bottom, both ends open: every move wins (3 and 7 at
    # once; after any other, O can block one end only).
    won = CONNECT4.parse("445566")
    # O to move against the same three: it can block one end only, so every move loses.
    lost = CONNECT4.parse("44556")
    outcomes = label_positions(State.stack([won, lost]), Solver(table_log2=16))
    policy, value = ideal_targets(outcomes)
    np.testing.assert_array_equal(outcomes, [[1] * 7, [-1] * 7])
    np.testing.assert_allclose(policy, np.full((2, 7), 1 / 7))
    np.testing.assert_array_equal(value, [1, -1])


def test_label_games_fills_its_quotas_with_new_positions_and_skips_the_excluded(
    tmp_path, monkeypatch
):
    config = LabelConfig(positions=60, opening_positions=0, min_ply=14, seed=2)
    first = label_games(config)
    assert np.bincount(first.stages, minlength=3).tolist() == [0, 30, 30]
    # Each source an equal share of each stage's quota, the first ones the remainders.
    assert np.bincount(first.source).tolist() == [16, 16, 14, 14]
    keys = set(zip(first.own.tolist(), first.opp.tolist(), strict=True))
    assert len(keys) == len(first)  # no position twice
    assert not CONNECT4.is_terminal(first.states).any() and first.ply.min() >= 14
    # Excluding some positions drops them and their mirror images, and the quotas still fill.
    mirror = CONNECT4.symmetries[1]
    exclude = State.concat([first.states[:5], CONNECT4.transform_state(first.states[5:10], mirror)])
    second = label_games(config, exclude=exclude)
    assert len(second) == 60
    kept = set(zip(second.own.tolist(), second.opp.tolist(), strict=True))
    assert not kept & set(zip(first.own[:10].tolist(), first.opp[:10].tolist(), strict=True))
    # Cached: the second call reads the file, it labels nothing.
    made, path = cached_labels(config, tmp_path)
    monkeypatch.setattr(labels_module, "label_games", lambda *a, **k: pytest.fail("relabelled"))
    read, same_path = cached_labels(config, tmp_path)
    assert path == same_path and path.is_file()
    for name, value in vars(made).items():
        np.testing.assert_array_equal(getattr(read, name), value)


def test_split_games_keeps_games_whole():
    config = LabelConfig(positions=40, opening_positions=0, min_ply=14, seed=4)
    data = label_games(config)
    train, val = split_games(data, 0.25, np.random.default_rng(0))
    assert len(train) + len(val) == len(data) and len(val) > 0
    assert not set(train.game.tolist()) & set(val.game.tolist())


def test_verdict_reads_the_intervals():
    def row(name, rate, interval, shipped=False, default=False, params=1):
        return {
            "network": name,
            "blocks": 4,
            "channels": 32,
            "optimal_move_rate": rate,
            "optimal_interval": interval,
            "shipped": shipped,
            "default": default,
            "parameters": params,
            "fit_optimal": rate,
            "val_optimal": rate,
        }

    stage2 = row("stage 2", 0.88, [0.86, 0.90], shipped=True, default=True)
    past = row("4x32", 0.95, [0.93, 0.96], default=True)
    assert "the gap is in the learning" in verdict([past, stage2])[0]
    near = row("4x32", 0.89, [0.87, 0.91], default=True)
    bigger = row("6x64", 0.95, [0.93, 0.96], params=5)
    found = verdict([near, bigger, stage2])
    assert "overlap" in found[0] and "clearly beats 4x32: 6x64" in found[1]


def test_bad_input_is_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "report"
    cases = [
        (["--sizes", "4by32"], "BLOCKSxCHANNELS"),
        (["--labelled", "10", "--opening-labelled", "20"], "opening positions"),
        (["--sources", "nobody"], "nobody"),
        (["--checkpoints", "checkpoints/tictactoe_stage1.pt"], "connect4"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            experiment.main(["ceiling", *argv, "--out", str(out)])
        assert exit_info.value.code == 2, argv
        assert message in capsys.readouterr().err, argv
    assert not out.exists()


def test_ceiling_quick(tmp_path):
    out, runs = tmp_path / "report", tmp_path / "runs"
    experiment.main(["ceiling", "--quick", "--out", str(out), "--run-dir", str(runs)])
    folder = out / "experiments" / "ceiling"
    results = json.loads((folder / "results.json").read_text())
    summary = (folder / "summary.md").read_text()
    assert list(folder.glob("labels-*.npz")), "the labelled positions are cached"
    rows = results["rows"]
    assert [r["network"] for r in rows] == ["1x8", "2x8", "connect4_stage1", "connect4_stage2"]
    for r in rows:
        assert r["positions_graded"] == 60 and r["duel_games"] == 4
        assert 0 <= r["optimal_interval"][0] <= r["optimal_move_rate"] <= r["optimal_interval"][1]
    for r in rows[:2]:
        assert not r["shipped"] and 0 < r["positions"] < 300 and r["epochs"] == 1
        checkpoint = load_checkpoint(f"{r['run']}/latest.pt")
        assert checkpoint.step == r["positions_trained"] == r["positions"]
        assert (checkpoint.config.blocks, checkpoint.config.channels) == (r["blocks"], 8)
    assert all(r["shipped"] and r["default"] for r in rows[2:])
    assert results["labelled_positions"] == 300
    assert results["findings"] and all(f in summary for f in results["findings"])
