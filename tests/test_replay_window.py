"""The growing replay window: its schedule, the buffer it bounds, and a stage-2 run with it
(and with a playout cap) that is killed and resumed and ends as the uninterrupted run."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from envs import TICTACTOE
from models.checkpoint import load_checkpoint
from models.net import NetConfig, PolicyValueNet
from tests.test_faults import assert_resumed_exactly, finish, only_run, start
from train.arena.positions import random_positions
from train.learn.alphazero import SelfPlayConfig, run_selfplay
from train.learn.tb import RunLogger
from train.selfplay.replay_buffer import ReplayBuffer, replay_window


def test_the_window_follows_katagos_rule_from_its_start_to_the_capacity() -> None:
    big = 10**9
    # Worked by hand: (16)^0.75 = 8 and (81)^0.75 = 27, so 1000 * (1 + 0.4 * (8 - 1) / 0.75)
    # = 4733.3 and 1000 * (1 + 0.4 * 26 / 0.75) = 14866.7.
    assert [replay_window(n, 1000, big) for n in (0, 500, 1000, 16_000, 81_000)] == [
        1000,
        1000,
        1000,
        4733,
        14866,
    ]
    assert replay_window(81_000, 1000, 5000) == 5000  # never past the capacity
    assert replay_window(16 * 250_000, 250_000, big) == 1_183_333  # KataGo's own start
    windows = [replay_window(n, 300, 20_000) for n in range(0, 200_000, 997)]
    assert windows == sorted(windows)  # it only grows
    with pytest.raises(ValueError):
        replay_window(10, 0, 100)


def _held_oldest_first(buffer: ReplayBuffer) -> np.ndarray:
    """The ids (the value column) of the positions held, the oldest first."""
    rows = (buffer.cursor - buffer.size + np.arange(buffer.size)) % buffer.capacity
    return buffer.value[rows]


def test_the_buffer_holds_the_newest_positions_of_the_window_never_more() -> None:
    rng = np.random.default_rng(0)
    game, capacity = TICTACTOE, 50
    buffer = ReplayBuffer(capacity, game)
    added = 0
    for step in range(40):
        n = int(rng.integers(1, 30))
        states = random_positions(game, n, 3, rng)
        ids = np.arange(added, added + n, dtype=np.float32)  # each position's id, as value
        buffer.add(states, rng.random((n, 9), dtype=np.float32), ids, rng.random(n) < 0.5)
        added += n
        window = replay_window(added, 12, capacity)
        if step % 3:  # sometimes no window: the ring alone bounds the buffer
            buffer.keep_newest(window)
            assert len(buffer) == min(added, window)
        # The oracle: the newest positions added, oldest first.
        expected = np.arange(added - len(buffer), added, dtype=np.float32)
        np.testing.assert_array_equal(_held_oldest_first(buffer), expected)
        assert len(buffer) <= capacity
    # Everything sampled is held.
    _, _, value, _ = buffer.sample(200, rng)
    assert set(value.tolist()) <= set(_held_oldest_first(buffer).tolist())


def test_a_windowed_buffer_saved_and_loaded_carries_on_exactly() -> None:
    game = TICTACTOE
    rng = np.random.default_rng(1)
    batches = []
    for _ in range(12):
        n = int(rng.integers(5, 25))
        batches.append(
            (
                random_positions(game, n, 4, rng),
                rng.random((n, 9), dtype=np.float32),
                rng.random(n, dtype=np.float32),
                rng.random(n) < 0.3,
            )
        )

    def feed(buffer: ReplayBuffer, batches: list, added: int) -> int:
        for batch in batches:
            buffer.add(*batch)
            added += len(batch[2])
            buffer.keep_newest(replay_window(added, 10, buffer.capacity))
        return added

    whole = ReplayBuffer(60, game)
    feed(whole, batches, 0)
    first = ReplayBuffer(60, game)
    added = feed(first, batches[:7], 0)
    resumed = ReplayBuffer(60, game)
    resumed.load_state_dict(first.state_dict())
    feed(resumed, batches[7:], added)
    assert (resumed.size, resumed.cursor) == (whole.size, whole.cursor)
    for name in ("policy", "value", "has_policy"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(whole, name))
    np.testing.assert_array_equal(resumed.states.own, whole.states.own)
    a, b = (buf.sample(50, np.random.default_rng(2)) for buf in (whole, resumed))
    for x, y in zip(a[1:], b[1:], strict=True):
        np.testing.assert_array_equal(x, y)


def test_a_buffer_saved_before_playout_caps_has_every_policy_as_a_target() -> None:
    buffer = ReplayBuffer(10, TICTACTOE)
    states = random_positions(TICTACTOE, 4, 2, np.random.default_rng(3))
    buffer.add(states, np.full((4, 9), 1 / 9, np.float32), np.zeros(4, np.float32))
    saved = buffer.state_dict()
    del saved["has_policy"]
    restored = ReplayBuffer(10, TICTACTOE)
    restored.load_state_dict(saved)
    assert restored.has_policy[:4].all() and len(restored) == 4


# --- a stage-2 run with both flags, stopped and resumed -----------------------------------


class _Stopped(Exception):
    pass


def _stop_at_call(calls: int):
    """An evaluation that ends the run at its ``calls``-th call (before that round's
    checkpoint, as a kill would), and otherwise measures nothing."""
    seen = []

    def evaluate(model: PolicyValueNet) -> dict[str, float]:
        seen.append(1)
        if len(seen) == calls:
            raise _Stopped
        return {}

    return evaluate


def _run(folder: Path, evaluate, resume_from: Path | None = None) -> PolicyValueNet:
    config = SelfPlayConfig.for_game(
        "tictactoe", iterations=4, games_per_iteration=8, simulations=8, batch_size=32,
        full_search_fraction=0.25, cheap_simulations=2, replay_window_start=20, buffer_size=70,
    )  # fmt: skip
    torch.manual_seed(0)
    model = PolicyValueNet(NetConfig("tictactoe", blocks=1, channels=8, value_hidden=8))
    resume = None
    if resume_from is not None:
        checkpoint = load_checkpoint(resume_from / "latest.pt")
        model, resume = checkpoint.model, checkpoint.training_state
    logger = RunLogger(folder)
    try:
        run_selfplay(
            TICTACTOE, model, config, device=torch.device("cpu"), logger=logger,
            checkpoint_dir=folder, seed=3, args={}, evaluate=evaluate, resume=resume,
        )  # fmt: skip
    finally:
        logger.close()
    return model


def test_a_loop_with_a_playout_cap_and_a_window_resumes_exactly(tmp_path: Path) -> None:
    whole = _run(tmp_path / "whole", _stop_at_call(0))
    with pytest.raises(_Stopped):  # stopped in iteration 3: latest.pt is iteration 2's
        _run(tmp_path / "cut", _stop_at_call(3))
    assert load_checkpoint(tmp_path / "cut" / "latest.pt").metrics["iteration"] == 2
    resumed = _run(tmp_path / "cut", _stop_at_call(0), resume_from=tmp_path / "cut")
    for name, tensor in whole.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
    buffers = [load_checkpoint(tmp_path / d / "latest.pt").training_state for d in ("whole", "cut")]
    for name, tensor in buffers[0]["buffer"].items():
        assert torch.equal(torch.as_tensor(tensor), torch.as_tensor(buffers[1]["buffer"][name]))
    # The flags did their work: a window below the capacity, cheap positions in it.
    played = buffers[0]["progress"]["selfplay_positions"]
    held = buffers[0]["buffer"]
    assert len(held["value"]) == min(played, replay_window(played, 20, 70))
    assert 0 < held["has_policy"].float().mean() < 1


# --- the script with both flags, killed and resumed ---------------------------------------

RUN = (
    "scripts.train_selfplay",
    *("--init", "scratch", "--game", "tictactoe", "--iterations", "4"),
    *("--games-per-iteration", "8", "--simulations", "8", "--workers", "1"),
    *("--full-search-fraction", "0.25", "--cheap-simulations", "2"),
    *("--replay-window-start", "20", "--buffer-size", "70"),
    *("--eval-games", "4", "--eval-every", "2", "--snapshot-every", "2"),
)


@pytest.mark.slow
@pytest.mark.skipif(
    not Path("/proc/self/stat").exists() or not hasattr(os, "killpg"),
    reason="needs POSIX process groups (as tests/test_faults.py)",
)
def test_a_run_with_a_playout_cap_and_a_window_resumes_exactly(tmp_path: Path) -> None:
    reference = start(tmp_path, RUN, "--run-dir", str(tmp_path / "reference"))
    assert finish(reference) == 0, reference.output
    reference_dir = only_run(tmp_path / "reference")
    # Killed just after iteration 2's latest.pt (the third write: the first is the start).
    killed = start(
        tmp_path, RUN, "--run-dir", str(tmp_path / "faulted"), moment="after:latest.pt:3"
    )
    assert finish(killed) == -signal.SIGKILL, killed.output
    run_dir = only_run(tmp_path / "faulted")
    assert load_checkpoint(run_dir / "latest.pt").metrics["iteration"] == 2
    resumed = start(tmp_path, RUN, "--resume", str(run_dir))
    assert finish(resumed) == 0, resumed.output
    assert_resumed_exactly(run_dir, reference_dir)

    # The flags did their work: a window below the capacity, cheap positions in it.
    latest = load_checkpoint(reference_dir / "latest.pt")
    played = latest.training_state["progress"]["selfplay_positions"]
    held = latest.training_state["buffer"]
    assert len(held["value"]) == min(played, replay_window(played, 20, 70))
    assert 0 < held["has_policy"].float().mean() < 1
    assert latest.metrics["selfplay/full_search_fraction"] < 1
    first = load_checkpoint(reference_dir / "iteration_0002.pt").metrics
    assert first["selfplay/buffer_size"] < 70
