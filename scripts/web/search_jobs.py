"""Searches that report their progress and can be stopped, for the web board.

The page names each long request (``"job": "a1b2c3"``), polls its progress and may cancel
it. The search calls its evaluator once for the roots and then once per simulation
(``train/search/search.py``), so a wrapper around the evaluator counts the simulations and
ends a cancelled search by raising: nothing in ``train/`` has to know.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import numpy as np

from envs.core import Game, State
from train.engine.analyser import Analyser
from train.engine.request import AnalysisError, Request

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Cancellations remembered for requests not yet arrived (a page may cancel, then send).
_MAX_EARLY_STOPS = 256


class JobError(Exception):
    """A job the server can't run as asked; becomes a 409 answer with the message."""


class SearchCancelled(JobError):
    """Raised inside a search whose job was cancelled: it ends the search at once."""

    def __init__(self) -> None:
        super().__init__("the search was stopped")


class Job:
    """The simulations one request's search has run so far, and whether to stop it.

    Attributes:
        total: the simulations asked for.
        calls: evaluator calls so far (one for the roots, then one per simulation).
        cancelled: set to stop the search at its next simulation.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.calls = 0
        self.cancelled = False

    @property
    def done(self) -> int:
        """Simulations finished, in 0..total."""
        return max(0, min(self.calls - 1, self.total))


class SearchAnalyser(Analyser):
    """An :class:`Analyser` whose searches count their simulations into a :class:`Job`.

    The job is kept per thread: the server answers each request in a thread of its own.
    """

    def __init__(self, device: str = "cpu", seed: int = 0, max_checkpoints: int = 8) -> None:
        super().__init__(device=device, seed=seed, max_checkpoints=max_checkpoints)
        self._current = threading.local()

    def analyse_job(self, request: Request, job: Job | None) -> dict[str, Any]:
        """:meth:`analyse`, counting into ``job`` (None: untracked); raises SearchCancelled."""
        self._current.job = job
        try:
            return self.analyse(request)
        finally:
            self._current.job = None

    def evaluator(self, game: Game, checkpoint: str | None):
        evaluate, description = super().evaluator(game, checkpoint)
        job = getattr(self._current, "job", None)
        if job is None:
            return evaluate, description

        def tracked(states: State, legal: np.ndarray):
            if job.cancelled:
                raise SearchCancelled
            job.calls += 1
            return evaluate(states, legal)

        return tracked, description


class SearchJobs:
    """The named searches in progress; safe to share between the handler threads."""

    def __init__(self, analyser: SearchAnalyser) -> None:
        self.analyser = analyser
        self._lock = threading.Lock()
        self._running: dict[str, Job] = {}
        self._early_stops: dict[str, None] = {}  # insertion-ordered: oldest first

    def run(self, request: Request, name: Any) -> dict[str, Any]:
        """The analysis of ``request``, as job ``name`` (None: not tracked)."""
        if name is None:
            return self.analyser.analyse_job(request, None)
        name, job = check_name(name), Job(request.simulations)
        with self._lock:
            if name in self._running:
                raise JobError(f"job {name!r} is already running")
            job.cancelled = name in self._early_stops
            self._early_stops.pop(name, None)
            self._running[name] = job
        try:
            return self.analyser.analyse_job(request, job)
        finally:
            with self._lock:
                del self._running[name]

    def progress(self, name: Any) -> dict[str, Any]:
        """``{"job", "state", "done", "total"}``; state "queued" while another search runs,
        "searching", or "unknown" (finished, or not arrived yet)."""
        name = check_name(name)
        with self._lock:
            job = self._running.get(name)
            if job is None:
                return {"job": name, "state": "unknown", "done": 0, "total": 0}
            state = "searching" if job.calls else "queued"
            return {"job": name, "state": state, "done": job.done, "total": job.total}

    def cancel(self, name: Any) -> dict[str, Any]:
        """Stop job ``name`` at its next simulation (or as soon as it arrives)."""
        name = check_name(name)
        with self._lock:
            job = self._running.get(name)
            if job is not None:
                job.cancelled = True
            else:
                self._early_stops[name] = None
                while len(self._early_stops) > _MAX_EARLY_STOPS:
                    del self._early_stops[next(iter(self._early_stops))]
        return {"job": name, "cancelled": True}


def check_name(name: Any) -> str:
    """``name`` if it is a valid job name; raises AnalysisError otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise AnalysisError("'job' must be 1 to 64 letters, digits, '-' or '_'")
    return name
