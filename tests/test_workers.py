"""train/workers.py: the worker processes both self-play and expert-game generation use."""

from __future__ import annotations

import os
import signal
import time

import pytest

from train.workers import WorkerFailed, WorkerPool


def _square_after(task: tuple[int, float]) -> tuple[int, int]:
    """(x * x, the worker's pid), after sleeping ``delay`` seconds."""
    x, delay = task
    time.sleep(delay)
    return x * x, os.getpid()


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x


def _sigint_handler(_: object) -> str:
    return str(signal.getsignal(signal.SIGINT))


def test_results_come_in_task_order_from_every_worker() -> None:
    # Early tasks slower than later ones: the answers arrive out of order, the results don't.
    tasks = [(x, 0.3 if x < 2 else 0.0) for x in range(7)]
    with WorkerPool(3) as pool:
        results = list(pool.map(_square_after, tasks))
        assert [square for square, _ in results] == [x * x for x, _ in tasks]
        assert len({pid for _, pid in results}) == 3  # more tasks than workers, all used
        assert [s for s, _ in pool.map(_square_after, [(4, 0.0), (2, 0.0)])] == [16, 4]


def test_a_failing_task_raises_with_the_workers_traceback_and_the_pool_goes_on() -> None:
    with WorkerPool(2) as pool:
        with pytest.raises(WorkerFailed, match="three is not allowed"):
            list(pool.map(_fail_on_three, [1, 2, 3, 4]))
        # The worker caught its exception and answered: it serves the next map.
        assert list(pool.map(_fail_on_three, [5, 6])) == [5, 6]


def test_workers_ignore_ctrl_c_and_end_with_the_pool() -> None:
    pool = WorkerPool(2)
    (handler,) = set(pool.map(_sigint_handler, [0, 1]))
    assert handler == str(signal.SIG_IGN)  # the main process alone handles a Ctrl-C
    processes = [process for process, _ in pool._processes]
    pool.close()
    assert all(process.exitcode is not None for process in processes)
    with pytest.raises(RuntimeError, match="closed"):
        list(pool.map(_sigint_handler, [0]))


def test_a_worker_that_dies_is_reported_not_waited_for() -> None:
    with WorkerPool(1) as pool:
        ((process, _),) = pool._processes
        os.kill(process.pid, signal.SIGKILL)
        with pytest.raises(WorkerFailed, match="ended unexpectedly"):
            list(pool.map(_square_after, [(1, 0.0)]))
