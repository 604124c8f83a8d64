"""Worker processes that a Ctrl-C or a crash of their main process never leaves behind.

Self-play's process pool and stage 1's expert-game generation both run module-level
functions on tasks in a few processes. :class:`WorkerPool` is the one way they do it, because
``multiprocessing.Pool`` fails an interrupted run in two ways: its workers print a
``KeyboardInterrupt`` traceback each (Ctrl-C reaches the whole process group), and its
terminate can block forever on its task queue's lock, left held by a worker that died.

So here each worker

- is started with SIGINT blocked (:func:`train.interrupts.sigint_deferred`), then ignores
  it: the main process alone handles a Ctrl-C, and ends the workers;
- has a pipe of its own: no queue or lock is shared that a dying process could leave held;
- ends by itself soon after its main process is gone, killed even: within a second, or
  once its start-up (imports) is done.

Tasks and results travel pickled by value (``send_bytes``), not by multiprocessing's own
pickler, to which torch adds tensors passed as shared memory, their file descriptors served
by a helper thread: a worker ended mid-transfer leaves nothing to serve.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from train.interrupts import sigint_deferred

T = TypeVar("T")
R = TypeVar("R")

#: Seconds a worker gets to end after SIGTERM before it is killed.
TERMINATE_WAIT_S = 2.0
#: How often a worker checks that its main process is still there.
_ORPHAN_CHECK_S = 0.5


class WorkerFailed(RuntimeError):
    """A worker raised (its traceback is the message), or ended without answering."""


class WorkerPool:
    """``workers`` processes running module-level functions on tasks, one task each at a time.

    Use as a context manager, or call :meth:`close`: the processes end with it, within
    seconds whatever they are doing. ``spawn`` starts clean interpreters: forking a process
    whose torch (or numba) has started threads can hang.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"a pool needs at least 1 worker, got {workers}")
        self.workers = workers
        context = multiprocessing.get_context("spawn")
        self._processes: list[tuple[BaseProcess, Connection]] = []
        if hasattr(signal, "pthread_sigmask"):
            # spawn starts multiprocessing's resource tracker with the first process, and
            # unblocks SIGINT after doing so: start it first, so that our block holds.
            resource_tracker.ensure_running()
        try:
            with sigint_deferred():  # the workers inherit SIGINT blocked: deaf from birth
                for _ in range(workers):
                    ours, theirs = context.Pipe()
                    process = context.Process(
                        target=_serve, args=(theirs, os.getpid()), daemon=True
                    )
                    self._processes.append((process, ours))
                    process.start()
                    theirs.close()  # so that our end reads EOF if the worker dies
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """``fn(task)`` for each task, run in the workers, yielded in task order.

        ``fn`` must be importable by name (a module-level function). A worker's exception is
        raised here as :class:`WorkerFailed` with the worker's traceback.
        """
        if not self._processes:
            raise RuntimeError("the pool is closed")
        results: dict[int, R] = {}
        pending = iter(enumerate(tasks))
        busy: dict[Connection, tuple[int, BaseProcess]] = {}
        idle = list(self._processes)
        next_out = 0
        while next_out < len(tasks):
            while idle and (item := next(pending, None)) is not None:
                process, connection = idle.pop()
                try:
                    _send(connection, (fn, item[1]))
                except OSError:  # the worker died before its task reached it
                    self._drain(busy)
                    raise _ended(process) from None
                busy[connection] = (item[0], process)
            for ready in wait(list(busy)):
                index, process = busy.pop(ready)
                try:
                    results[index] = _receive(process, ready)
                except WorkerFailed:
                    self._drain(busy)  # so the next map reads no stale answer
                    raise
                idle.append((process, ready))
            while next_out in results:
                yield results.pop(next_out)
                next_out += 1

    @staticmethod
    def _drain(busy: dict[Connection, tuple[int, BaseProcess]]) -> None:
        """Read and drop the answers of the tasks still running."""
        for connection, (_, process) in busy.items():
            with contextlib.suppress(WorkerFailed):
                _receive(process, connection)

    def close(self) -> None:
        """End the workers: SIGTERM, then SIGKILL those still there after a wait."""
        processes, self._processes = self._processes, []
        started = [p for p, _ in processes if p.pid is not None]
        for _, connection in processes:
            connection.close()
        for process in started:
            if process.exitcode is None:
                process.terminate()
        deadline = time.monotonic() + TERMINATE_WAIT_S
        for process in started:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                process.kill()
                process.join()


def _ended(process: BaseProcess) -> WorkerFailed:
    """The failure of a worker that is gone (reaped first, so its exit code is known)."""
    process.join(TERMINATE_WAIT_S)
    return WorkerFailed(f"worker {process.pid} ended unexpectedly (exit code {process.exitcode})")


def _receive(process: BaseProcess, connection: Connection) -> Any:
    """A worker's result, or its failure raised here."""
    try:
        ok, result = _recv(connection)
    except (EOFError, OSError):
        raise _ended(process) from None
    if not ok:
        raise WorkerFailed(f"worker {process.pid} failed:\n{result}")
    return result


def _serve(connection: Connection, parent: int) -> None:
    """A worker's life: run each task received, send back (ok, result or traceback), and end
    when the main process closes the pipe or is gone."""
    # Ctrl-C reaches the whole process group; the main process alone handles it. Ignoring
    # the signal also drops one that arrived while it was blocked (at start-up).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    while True:
        try:
            fn, task = _recv(connection)
        except (EOFError, OSError):  # the main process closed the pipe, or is gone
            return
        try:
            reply = (True, fn(task))
        except Exception:
            reply = (False, traceback.format_exc())
        try:
            _send(connection, reply)
        except OSError:  # BrokenPipeError: nobody waits for the result any more
            return


def _send(connection: Connection, item: Any) -> None:
    connection.send_bytes(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))


def _recv(connection: Connection) -> Any:
    return pickle.loads(connection.recv_bytes())


def _exit_when_orphaned(parent: int) -> None:
    """End this worker soon after its main process is gone (killed, even mid-task)."""
    while os.getppid() == parent:
        time.sleep(_ORPHAN_CHECK_S)
    os._exit(0)
