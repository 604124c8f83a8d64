"""Where a search's time goes: cheap wall-clock timers around its phases, off by default.

A :class:`PhaseTimer` adds up the wall time of named phases. Phases nest, and each one is
charged its *exclusive* time (its own minus that of the phases inside it), so the totals of
all phases add up to the time spent inside the outermost ones and nothing is counted twice:
a network call made inside ``expand`` is charged to ``network``, not to ``expand``.

``train.search.search.search(..., timer=...)`` times its own steps (``descend``, ``expand``,
``backup``); :meth:`PhaseTimer.wrap` times any callable as one phase (an evaluator as
``network``), and :class:`TimedGame` times every rule a game is asked for (``rules``), so
the same search code is profiled without a profiler and without a branch per phase. Off
(``timer=None``), the search pays one no-op ``with`` per step.
``scripts/benchmark_selfplay.py`` prints the split of one self-play move.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from envs.core import Game

F = TypeVar("F", bound=Callable[..., Any])


class PhaseTimer:
    """Exclusive wall time (seconds) and call counts per named phase.

    Use ``with timer.phase("name"): ...``; phases may nest. ``totals`` and ``calls`` map each
    phase's name to its summed exclusive seconds and its number of entries. ``clock`` reads
    the time in seconds (a stand-in in tests).
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.totals: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        # One [name, start, seconds spent in nested phases] per open phase.
        self._open: list[list[Any]] = []

    def phase(self, name: str) -> _Phase:
        """A context manager charging the time inside it (less nested phases) to ``name``."""
        return _Phase(self, name)

    def wrap(self, fn: F, name: str) -> F:
        """``fn`` with every call timed as phase ``name``."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return fn(*args, **kwargs)

        return timed  # type: ignore[return-value]

    def fractions(self, total_s: float) -> dict[str, float]:
        """Each phase's share of ``total_s`` seconds, plus ``"other"`` for the rest (the time
        inside ``total_s`` that no phase claimed; never below 0)."""
        shares = {name: s / total_s for name, s in self.totals.items()}
        shares["other"] = max(0.0, 1.0 - sum(shares.values()))
        return shares

    def _enter(self, name: str) -> None:
        self._open.append([name, self._clock(), 0.0])

    def _exit(self) -> None:
        name, start, nested = self._open.pop()
        elapsed = self._clock() - start
        self.totals[name] = self.totals.get(name, 0.0) + elapsed - nested
        self.calls[name] = self.calls.get(name, 0) + 1
        if self._open:
            self._open[-1][2] += elapsed


class _Phase:
    __slots__ = ("_name", "_timer")

    def __init__(self, timer: PhaseTimer, name: str) -> None:
        self._timer, self._name = timer, name

    def __enter__(self) -> None:
        self._timer._enter(self._name)

    def __exit__(self, *exc: object) -> None:
        self._timer._exit()


class _NoPhase:
    """What ``search`` enters when it is not timed: nothing at all."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


NO_PHASE = _NoPhase()


def no_timer(name: str) -> _NoPhase:
    """The stand-in for ``PhaseTimer.phase`` when nothing is timed."""
    return NO_PHASE


class TimedGame:
    """A game whose every method call is timed as phase ``name`` of ``timer``; attributes
    (``num_actions``, ``rows`` ...) read through unchanged. Calls a rule makes inside the
    real game (``legal_mask`` asking ``is_terminal``) are not timed again."""

    def __init__(self, game: Game, timer: PhaseTimer, name: str = "rules") -> None:
        self._game, self._timer, self._name = game, timer, name
        self._wrapped: dict[str, Any] = {}  # each method wrapped once, not at every call

    def __getattr__(self, attribute: str) -> Any:
        if attribute in self._wrapped:
            return self._wrapped[attribute]
        value = getattr(self._game, attribute)
        if callable(value):
            value = self._wrapped[attribute] = self._timer.wrap(value, self._name)
        return value
