"""Fault injection: both training scripts killed (-9) or interrupted (Ctrl-C) anywhere, then
resumed.

A run interrupted any number of times and resumed each time must end as the uninterrupted
run ends: the same final and best networks bit for bit, the same logged losses and
evaluations at the same steps, every TensorBoard step once, no temporary file left. Ctrl-C
(SIGINT to the process group, as a terminal sends it) must end a run within 5 seconds with
one line giving the resume command, no traceback from any process, and no process left.

Kills land at random moments (seeded) and at the moments that used to lose something:
inside a checkpoint write (``tests/fault_runner.py``) and between ``best.pt`` and
``latest.pt``. The default suite runs one chain of faults per stage; ``-m slow`` runs 20
Ctrl-C tries per stage and more random kills.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.plugin_event_accumulator import (
    EventAccumulator as PluginEventAccumulator,
)

from models.checkpoint import load_checkpoint
from train.interrupts import sigint_deferred
from train.report.runs import read_scalars

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists() or not hasattr(os, "killpg"),
    reason="needs POSIX process groups and Linux's /proc",
)

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "tests" / "fault_runner.py"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
#: Tags whose values are timings, which no two runs share.
TIMINGS = (
    "charts/elapsed_s",
    "charts/positions_per_s",
    "charts/sims_per_s",
    "charts/selfplay_positions_per_s",
)
NOTHING_TO_RESUME = "interrupted before the run's first checkpoint: nothing to resume"
STARTING_UP = "interrupted while starting up: nothing done"  # scripts/__init__.py
# Tiny tic-tac-toe runs of a few seconds, evaluated (4 games a duel) at most rounds.
STAGE1 = (
    "scripts.train_imitation",
    *("--game", "tictactoe", "--games", "60", "--epochs", "5", "--batch-size", "64"),
    *("--eval-games", "4", "--eval-every", "1"),
)
STAGE2_ITERATIONS = 6
STAGE2 = (
    "scripts.train_selfplay",
    *("--init", "scratch", "--game", "tictactoe", "--iterations", str(STAGE2_ITERATIONS)),
    *("--games-per-iteration", "4", "--simulations", "4"),
    *("--eval-games", "4", "--eval-every", "2", "--snapshot-every", "2"),
)


# --- running, killing and interrupting ----------------------------------------------------


@dataclass
class Started:
    """A training script started in a process group of its own, its output in ``log``."""

    process: subprocess.Popen
    log: Path
    module: str

    @property
    def output(self) -> str:
        return self.log.read_text().replace("\r", "\n")


def start(cwd: Path, command: tuple[str, ...], *args: str, moment: str | None = None) -> Started:
    """Start ``command`` (a script module and its flags) with ``args``, killed at ``moment``
    of its checkpoint writes if given (see tests/fault_runner.py)."""
    module, *flags = command
    head = [str(RUNNER), moment, module] if moment else ["-m", module]
    log = cwd / f"log_{time.monotonic_ns()}.txt"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, *head, *flags, *args],
            cwd=cwd,
            env=ENV,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a job in a terminal
        )
    return Started(process, log, module)


def finish(run: Started, timeout: float = 300) -> int:
    try:
        return run.process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(run.process.pid, signal.SIGKILL)
        raise AssertionError(f"{run.module} did not end:\n{run.output}") from None


def group_left(pgid: int, grace: float = 3.0) -> list[str]:
    """The processes of group ``pgid`` still alive after up to ``grace`` seconds (zombies,
    already dead, left out), as their command lines."""
    deadline = time.monotonic() + grace
    while True:
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                state, _, group = stat.read_text().rpartition(")")[2].split()[:3]
                command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
            except (OSError, ValueError):
                continue  # ended while we looked
            if int(group) == pgid and state != "Z":
                alive.append(command.decode(errors="replace"))
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def wait_for(predicate, what: str, run: Started, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if run.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what} never happened:\n{run.output}")
        time.sleep(0.02)


def kill_9(run: Started) -> None:
    """SIGKILL the main process alone, as a crash would; its workers must end by themselves
    (one still starting, within its start-up: its imports take seconds on a busy machine)."""
    run.process.send_signal(signal.SIGKILL)
    finish(run)
    left = group_left(run.process.pid, grace=15.0)
    assert left == [], "workers outlived their killed main process"


@dataclass
class Interrupted:
    seconds: float  # from the signal to the end of the process
    line: str  # the message


def ctrl_c(run: Started, parent: Path) -> Interrupted:
    """SIGINT to the process group (a terminal's Ctrl-C) of a run in ``parent``; checks what
    the issue asks."""
    sent = time.monotonic()
    os.killpg(run.process.pid, signal.SIGINT)
    code = finish(run, timeout=30)
    seconds = time.monotonic() - sent
    output = run.output
    assert "Traceback" not in output, output
    assert code == 130, output
    messages = [line for line in output.splitlines() if "interrupted" in line]
    assert len(messages) == 1, output
    runs = [p for p in parent.iterdir() if p.is_dir()] if parent.exists() else []
    if runs:
        (run_dir,) = runs
        assert (run_dir / "latest.pt").exists(), "a run folder without its first checkpoint"
        assert messages == [f"interrupted: resume with python -m {run.module} --resume {run_dir}"]
    else:  # before the run folder (and its first checkpoint) was made, or the imports done
        assert messages[0] in (NOTHING_TO_RESUME, STARTING_UP)
    assert seconds < 5.0, f"took {seconds:.1f}s to end"
    assert group_left(run.process.pid) == []
    return Interrupted(seconds, messages[0])


# --- what a finished run holds ------------------------------------------------------------


@dataclass
class Logged:
    """A run folder's TensorBoard events as TensorBoard reads them (purges applied): the
    scalars by the accumulator the report reads them with, and the steps of every tag,
    text included, by the one TensorBoard's plugins read them with."""

    scalars: dict[str, list[tuple[int, float]]]
    steps: dict[str, list[int]]


def read_logged(run_dir: Path) -> Logged:
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    scalars = {t: [(e.step, e.value) for e in events.Scalars(t)] for t in events.Tags()["scalars"]}
    plugins = PluginEventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    plugins.Reload()
    steps = {t: [e.step for e in plugins.Tensors(t)] for t in plugins.Tags()["tensors"]}
    return Logged(scalars, steps)


def only_run(parent: Path) -> Path:
    (run,) = [p for p in parent.iterdir() if p.is_dir()]
    return run


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path).model.state_dict()


def assert_same_weights(a: Path, b: Path) -> None:
    left, right = weights(a), weights(b)
    assert left.keys() == right.keys()
    for name in left:
        assert torch.equal(left[name], right[name]), f"{a} and {b} differ in {name}"


def assert_resumed_exactly(run: Path, reference: Path) -> None:
    """``run``, interrupted and resumed, ended as the uninterrupted ``reference`` did."""
    assert_same_weights(run / "latest.pt", reference / "latest.pt")
    for snapshot in sorted(reference.glob("iteration_*.pt")):
        assert_same_weights(run / snapshot.name, snapshot)
    assert not list(run.glob(".*.tmp")), "a temporary file was left"
    logged, expected = read_logged(run), read_logged(reference)
    assert logged.scalars.keys() == expected.scalars.keys()
    for tag, points in logged.scalars.items():
        steps = [step for step, _ in points]
        assert len(steps) == len(set(steps)), f"{tag}: a step logged twice"
        assert steps == [step for step, _ in expected.scalars[tag]], tag
        if tag not in TIMINGS:  # losses, rates, evaluations: equal, not only close
            assert points == expected.scalars[tag], tag
    assert logged.steps.keys() == logged.scalars.keys() | {"hyperparameters/text_summary"}
    for tag, steps in logged.steps.items():
        assert len(steps) == len(set(steps)), f"{tag}: a step logged twice"
    # The report's reader sees the same steps.
    report = read_scalars(run)
    assert {t: list(s.steps) for t, s in report.items()} == {
        t: [step for step, _ in p] for t, p in logged.scalars.items()
    }


def validation_losses(run: Path) -> dict[int, float]:
    """The validation loss (policy + value) at each epoch's end, by step."""
    logged = read_logged(run).scalars
    value = dict(logged["val/value_loss"])
    return {step: policy + value[step] for step, policy in logged["val/policy_loss"]}


def assert_best_is_best(run: Path, reference: Path) -> None:
    losses = validation_losses(run)
    best = load_checkpoint(run / "best.pt")
    assert best.step == min(losses, key=losses.get)
    assert_same_weights(run / "best.pt", reference / "best.pt")


def epochs_done(run_dir: Path, unit: str) -> int:
    return int(load_checkpoint(run_dir / "latest.pt").metrics[unit])


# --- holding Ctrl-C back -----------------------------------------------------------------


def test_a_ctrl_c_inside_a_deferred_block_is_handled_after_it() -> None:
    seen = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append("handled"))
    try:
        with sigint_deferred():  # e.g. a checkpoint file being written
            signal.raise_signal(signal.SIGINT)
            seen.append("block done")
        seen.append("after")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == ["block done", "handled", "after"]


LOST_IN_A_CALLBACK = """
import signal, time, weakref
from scripts.cli import run_main

class Thing:
    pass

def main():
    thing = Thing()
    # Its callback runs at the del: the Ctrl-C's handler runs inside it, where Python
    # swallows what it raises (as it did in importlib's lock clean-up, in a CI run).
    ref = weakref.ref(thing, lambda r: signal.raise_signal(signal.SIGINT))
    del thing
    for _ in range(500):
        time.sleep(0.01)
    print("not interrupted")

run_main(main, "scripts.nothing")
"""


def test_a_ctrl_c_that_python_swallows_in_a_callback_still_ends_the_run() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOST_IN_A_CALLBACK],
        cwd=ROOT,
        env={**ENV, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 130, output
    assert output.strip() == NOTHING_TO_RESUME, output


# --- Ctrl-C before the first round ----------------------------------------------------------


@pytest.mark.parametrize("command", [STAGE1, STAGE2], ids=["stage1", "stage2"])
def test_ctrl_c_while_python_imports_ends_with_one_line(tmp_path: Path, command) -> None:
    # 0.15 s in: past the interpreter's own start (tens of ms, before any code of ours runs),
    # well before torch is imported (a second or more).
    run = start(tmp_path, command, "--run-dir", str(tmp_path / "runs"))
    time.sleep(0.15)
    assert ctrl_c(run, tmp_path / "runs").line == STARTING_UP


def test_ctrl_c_while_expert_games_are_generated_leaves_no_worker(tmp_path: Path) -> None:
    # Connect Four games take seconds each chunk, in 2 worker processes; a fresh folder, so
    # that they are generated (data/cache/ is under the working directory).
    command = ("scripts.train_imitation", "--game", "connect4", "--games", "300")
    run = start(tmp_path, command, "--workers", "2", "--run-dir", str(tmp_path / "runs"))
    wait_for(lambda: "expert games:" in run.output, "the expert games' start", run)
    time.sleep(1.5)
    assert not list((tmp_path / "data" / "cache").glob("*.npz")), "generated already"
    assert ctrl_c(run, tmp_path / "runs").line == NOTHING_TO_RESUME


# --- the runs -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for every run of this module, so that stage 1's expert games are
    generated once (by the first reference run) and read from data/cache/ afterwards."""
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def stage1_reference(workdir: Path) -> Path:
    parent = workdir / "reference1"
    run = start(workdir, STAGE1, "--run-dir", str(parent))
    assert finish(run) == 0, run.output
    return only_run(parent)


@pytest.fixture(scope="module")
def stage2_reference(workdir: Path) -> Path:
    parent = workdir / "reference2"
    run = start(workdir, STAGE2, "--run-dir", str(parent))
    assert finish(run) == 0, run.output
    return only_run(parent)


def improved_epochs(reference: Path) -> list[int]:
    """The epochs (1-based) at which the reference run's validation loss improved."""
    losses = list(validation_losses(reference).values())
    return [e + 1 for e, loss in enumerate(losses) if loss < min(losses[:e], default=1e9)]


def test_stage1_killed_and_interrupted_anywhere_resumes_exactly(
    workdir: Path, stage1_reference: Path
) -> None:
    rng = random.Random(17)
    parent = workdir / "faulted1"
    resume = ("--resume",)
    # 1. Ctrl-C at a random moment of the first epochs.
    run = start(workdir, STAGE1, "--run-dir", str(parent))
    wait_for(lambda: list(parent.glob("*/latest.pt")), "the first checkpoint", run)
    run_dir = only_run(parent)
    time.sleep(rng.uniform(0.0, 1.5))
    ctrl_c(run, parent)
    # 2. Killed inside the write of a latest.pt: the temporary file stays behind.
    done = epochs_done(run_dir, "epoch")
    run = start(workdir, STAGE1, *resume, str(run_dir), moment="before:latest.pt:2")
    assert finish(run) == -signal.SIGKILL, run.output
    assert list(run_dir.glob(".latest.pt.*.tmp"))
    assert epochs_done(run_dir, "epoch") == done + 1
    # 3. Killed between best.pt and latest.pt, at the last epoch that improved: the resumed
    # run must still end with that epoch as best.pt.
    done = epochs_done(run_dir, "epoch")
    last_best = improved_epochs(stage1_reference)[-1]
    writes = sum(1 for e in improved_epochs(stage1_reference) if e > done)
    if writes:
        run = start(workdir, STAGE1, *resume, str(run_dir), moment=f"after:best.pt:{writes}")
        assert finish(run) == -signal.SIGKILL, run.output
        assert not list(run_dir.glob(".*.tmp"))  # the resume cleared the earlier one
        assert load_checkpoint(run_dir / "best.pt").metrics["epoch"] == last_best
        assert epochs_done(run_dir, "epoch") == last_best - 1
    # 4. Killed -9 at a random moment (of the rest), then resumed to the end.
    run = start(workdir, STAGE1, *resume, str(run_dir))
    wait_for(lambda: "resuming" in run.output, "the resume", run)
    time.sleep(rng.uniform(0.0, 3.0))
    kill_9(run)
    run = start(workdir, STAGE1, *resume, str(run_dir))
    assert finish(run) == 0, run.output
    assert_resumed_exactly(run_dir, stage1_reference)
    assert_best_is_best(run_dir, stage1_reference)


def test_stage2_killed_and_interrupted_anywhere_resumes_exactly(
    workdir: Path, stage2_reference: Path
) -> None:
    rng = random.Random(29)
    parent = workdir / "faulted2"
    # 1. Killed inside the write of iteration 2's latest.pt (the third: the first is the
    # run's start); the temporary file stays, the workers end by themselves.
    run = start(workdir, STAGE2, "--run-dir", str(parent), moment="before:latest.pt:3")
    assert finish(run) == -signal.SIGKILL, run.output
    assert group_left(run.process.pid, grace=15.0) == []
    run_dir = only_run(parent)
    assert list(run_dir.glob(".latest.pt.*.tmp"))
    assert epochs_done(run_dir, "iteration") == 1
    # 2. Ctrl-C at a random moment of the resumed run's next two iterations. (A moment
    # picked by the clock alone could fall after a quick run's end: a Ctrl-C then finds
    # nothing to interrupt, and the run exits 0.)
    run = start(workdir, STAGE2, "--resume", str(run_dir))
    wait_for(lambda: "resuming" in run.output, "the resume", run)
    target = rng.randint(2, 3)
    wait_for(lambda: epochs_done(run_dir, "iteration") >= target, "an iteration", run)
    time.sleep(rng.uniform(0.0, 0.2))
    assert epochs_done(run_dir, "iteration") < STAGE2_ITERATIONS, "interrupted too late"
    ctrl_c(run, parent)
    # 3. Resumed to the end.
    run = start(workdir, STAGE2, "--resume", str(run_dir))
    assert finish(run) == 0, run.output
    assert_resumed_exactly(run_dir, stage2_reference)


# --- the slow suite: 20 Ctrl-C per stage, more random kills ---------------------------------


def _ctrl_c_tries(workdir: Path, command: tuple[str, ...], name: str, seed: int) -> None:
    """20 runs (long ones), each interrupted at a random moment of its first seconds: from
    when its --run-dir exists (Python's imports done) to well into its rounds."""
    rng = random.Random(seed)
    times = []
    for attempt in range(20):
        parent = workdir / f"{name}_{attempt}"
        run = start(workdir, command, "--run-dir", str(parent))
        wait_for(parent.exists, "the run folder", run)
        time.sleep(rng.uniform(0.0, 6.0))
        assert run.process.poll() is None, "the run ended before its interruption"
        times.append(ctrl_c(run, parent).seconds)
    print(
        f"\n{name}: 20 of 20 interrupted cleanly, ended after the signal in "
        f"{statistics.median(times):.2f}s (median), {max(times):.2f}s (max)"
    )


@pytest.mark.slow
def test_ctrl_c_20_times_in_stage1(workdir: Path, stage1_reference: Path) -> None:
    # (The reference run has cached the expert games.)
    _ctrl_c_tries(workdir, (*STAGE1, "--epochs", "500"), "sigint1", seed=1)


@pytest.mark.slow
def test_ctrl_c_20_times_in_stage2(workdir: Path) -> None:
    _ctrl_c_tries(workdir, (*STAGE2, "--iterations", "500"), "sigint2", seed=2)


@pytest.mark.slow
@pytest.mark.parametrize("stage", [1, 2])
def test_random_kills_then_resume_exactly(
    workdir: Path, stage: int, stage1_reference: Path, stage2_reference: Path
) -> None:
    """Five kills -9 at random moments (seeded), each followed by a resume, then the end."""
    command, reference = (STAGE1, stage1_reference) if stage == 1 else (STAGE2, stage2_reference)
    rng = random.Random(100 + stage)
    parent = workdir / f"random{stage}"
    run = start(workdir, command, "--run-dir", str(parent))
    wait_for(lambda: list(parent.glob("*/latest.pt")), "the first checkpoint", run)
    time.sleep(rng.uniform(0.0, 3.0))
    kill_9(run)
    run_dir = only_run(parent)
    for _ in range(4):
        run = start(workdir, command, "--resume", str(run_dir))
        wait_for(lambda run=run: "resuming" in run.output, "the resume", run)
        time.sleep(rng.uniform(0.0, 4.0))
        kill_9(run)
    run = start(workdir, command, "--resume", str(run_dir))
    assert finish(run) == 0, run.output
    assert_resumed_exactly(run_dir, reference)
    if stage == 1:
        assert_best_is_best(run_dir, reference)
