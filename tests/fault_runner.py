"""Run a training script and kill it (SIGKILL) at a chosen moment of its checkpoint writes.

The fault tests (``tests/test_faults.py``) kill runs at moments too brief to hit from
outside: inside a checkpoint write, or between two checkpoint files of one round. This
wrapper, run as ``python tests/fault_runner.py MOMENT MODULE ARGS...``, wraps ``os.replace``
(the rename that ends every checkpoint write, ``models/checkpoint.py``) in the script's own
process, then runs the script's module as ``__main__`` with ``ARGS``. No code of the project
knows about it. ``MOMENT`` is

- ``before:NAME:N``: killed at the N-th write (1-based) of the file NAME, its temporary file
  written and flushed but not yet renamed into place;
- ``after:NAME:N``: killed just after the N-th rename onto NAME.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys


def _kill_at(moment: str) -> None:
    when, name, nth = moment.split(":")
    assert when in ("before", "after"), moment
    rename = os.replace
    writes = 0

    def replace(src, dst, *args, **kwargs):
        nonlocal writes
        if os.path.basename(dst) != name:
            return rename(src, dst, *args, **kwargs)
        writes += 1
        if writes == int(nth) and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        rename(src, dst, *args, **kwargs)
        if writes == int(nth) and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return None

    os.replace = replace


if __name__ == "__main__":
    moment, module, *args = sys.argv[1:]
    _kill_at(moment)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
