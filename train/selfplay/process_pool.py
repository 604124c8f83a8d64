"""Self-play on several CPU cores: an iteration's games split over worker processes (the
process-pool :class:`train.selfplay.backend.SelfPlayBackend`).

One process runs one batched search at a time, and a small network's batched inference
keeps one core busy (two torch threads in one process gain little and, on a busy machine,
lose a lot). So on a CPU the way to use a second core is a second process: each worker
holds a copy of the network, receives the current weights at every iteration, plays its
share of the games with its own seeded generator, and sends the records back. Training stays
in the main process. With a fixed number of workers a run is as reproducible as with one:
the main generator draws each share's seed.

Interrupting the run must never hang nor print the workers' tracebacks, so each worker
ignores Ctrl-C (the main process handles it and ends the workers) and has a pipe of its own:
no queue or lock is shared that a dying process could leave held (``multiprocessing.Pool``'s
terminate can block forever on its task queue's lock). A worker whose main process is gone,
killed even, ends by itself: within a second, or once its start-up (imports) is done.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
import time
import traceback
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import numpy as np
import torch

from envs import State, get_game
from models.net import NetConfig, PolicyValueNet
from train.interrupts import sigint_deferred
from train.search.evaluators import NetworkEvaluator
from train.search.search import MCTSConfig
from train.search.targets import PolicyTarget
from train.selfplay.games import (
    SelfPlayRecords,
    merge_records,
    play_selfplay_games,
    split_shares,
)
from train.selfplay.playout_cap import NO_CAP, PlayoutCap

_worker_model: PolicyValueNet | None = None  # each worker's copy of the network
#: Seconds a worker gets to end after SIGTERM before it is killed.
_TERMINATE_WAIT_S = 2.0
#: How often a worker checks that its main process is still there.
_ORPHAN_CHECK_S = 0.5


class ProcessPoolBackend:
    """A pool of ``workers`` processes playing self-play games with the network's weights.

    Use as a context manager, or call :meth:`close` (the processes end with it, within
    seconds whatever they are doing). ``spawn`` starts clean interpreters: forking a process
    whose torch has started threads can hang. While the pool waits for the next iteration its
    cores are free, so the learner may train with ``training_threads`` (one per worker).
    """

    def __init__(self, workers: int) -> None:
        if workers < 2:
            raise ValueError(f"a pool needs at least 2 workers, got {workers}")
        self.workers = workers
        self.training_threads: int | None = workers
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

    def __enter__(self) -> ProcessPoolBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the workers: SIGTERM, then SIGKILL those still there after a wait."""
        processes, self._processes = self._processes, []
        started = [p for p, _ in processes if p.pid is not None]
        for _, connection in processes:
            connection.close()
        for process in started:
            if process.exitcode is None:
                process.terminate()
        deadline = time.monotonic() + _TERMINATE_WAIT_S
        for process in started:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                process.kill()
                process.join()

    def play(
        self,
        model: PolicyValueNet,
        config: MCTSConfig,
        n_games: int,
        rng: np.random.Generator,
        temperature_moves: int | None = None,
        start_states: State | None = None,
        policy_target: PolicyTarget = "visits",
        playout_cap: PlayoutCap = NO_CAP,
    ) -> SelfPlayRecords:
        """Like :func:`train.selfplay.games.play_selfplay_games` with a network, the games
        shared out over the workers (``n_games`` split as evenly as possible)."""
        started = time.perf_counter()
        weights = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
        tasks = [
            (
                model.config,
                weights,
                config,
                len(share),
                seed,
                temperature_moves,
                None if start_states is None else start_states[share],
                policy_target,
                playout_cap,
            )
            for share, seed in split_shares(n_games, self.workers, rng)
        ]
        active = self._processes[: len(tasks)]
        for (_, connection), task in zip(active, tasks, strict=True):
            _send(connection, task)
        parts = [_receive(process, connection) for process, connection in active]
        return merge_records(parts, wall_time_s=time.perf_counter() - started)


def _receive(process: BaseProcess, connection: Connection) -> SelfPlayRecords:
    """A worker's records, or its failure raised here."""
    try:
        ok, result = _recv(connection)
    except (EOFError, OSError):
        process.join(_TERMINATE_WAIT_S)
        raise RuntimeError(
            f"self-play worker {process.pid} ended unexpectedly (exit code {process.exitcode})"
        ) from None
    if not ok:
        raise RuntimeError(f"self-play worker {process.pid} failed:\n{result}")
    return result


def _serve(connection: Connection, parent: int) -> None:
    """A worker's life: play each task received, send back (ok, records or traceback), and
    end when the main process closes the pipe or is gone."""
    # Ctrl-C reaches the whole process group; the main process alone handles it. Ignoring
    # the signal also drops one that arrived while it was blocked (at start-up).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    torch.set_num_threads(1)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    while True:
        try:
            task = _recv(connection)
        except (EOFError, OSError):  # the main process closed the pipe, or is gone
            return
        try:
            reply = (True, _play_share(task))
        except Exception:
            reply = (False, traceback.format_exc())
        try:
            _send(connection, reply)
        except OSError:  # BrokenPipeError: nobody waits for the records any more
            return


def _send(connection: Connection, item: Any) -> None:
    # Plain pickle, not the Connection's own (multiprocessing's, to which torch adds tensors
    # passed as shared memory, their file descriptors served by a helper thread): the weights
    # and records travel by value, and a worker ended mid-transfer leaves nothing to serve.
    connection.send_bytes(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))


def _recv(connection: Connection) -> Any:
    return pickle.loads(connection.recv_bytes())


def _exit_when_orphaned(parent: int) -> None:
    """End this worker soon after its main process is gone (killed, even mid-game)."""
    while os.getppid() == parent:
        time.sleep(_ORPHAN_CHECK_S)
    os._exit(0)


def _play_share(task: tuple[Any, ...]) -> SelfPlayRecords:
    """In a worker: load the weights into the worker's network and play its games."""
    global _worker_model
    net_config: NetConfig
    net_config, weights, config, n_games, seed, temperature_moves, start_states, target, cap = task
    if _worker_model is None or _worker_model.config != net_config:
        _worker_model = PolicyValueNet(net_config)
    _worker_model.load_state_dict(weights)
    _worker_model.eval()
    game = get_game(net_config.game)
    return play_selfplay_games(
        game,
        NetworkEvaluator(_worker_model, game),
        config,
        n_games,
        np.random.default_rng(seed),
        temperature_moves=temperature_moves,
        start_states=start_states,
        policy_target=target,
        playout_cap=cap,
    )
