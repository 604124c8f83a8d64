"""Ctrl-C held back for a moment, then delivered.

Some steps must not be cut in the middle: a checkpoint file being written (``torch.save``
interrupted half-way fails again while closing its zip file, and reports that error instead
of the interruption), a worker process being started (it would be left to die printing a
traceback). Inside :func:`sigint_deferred` a SIGINT is noted, not acted on; when the block
ends it is delivered to the handler it was meant for. The block also runs with SIGINT
blocked in this thread, so a process started in it inherits the signal blocked: it is born
deaf to a Ctrl-C meant for its parent, until it chooses what to do with one.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Run the block with SIGINT held back (see the module docstring). Outside the main
    thread, or under a handler Python did not install, the block runs as it is."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield
        return
    caught: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    masks = hasattr(signal, "pthread_sigmask")  # not on Windows
    if masks:
        before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if masks:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)
        signal.signal(signal.SIGINT, previous)
        if caught:
            signal.raise_signal(signal.SIGINT)
