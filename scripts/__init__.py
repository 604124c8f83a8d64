"""Thin command-line entry points; each parses one argument dataclass and calls ``train/``.

``python -m scripts.X`` imports this package first, before ``X`` spends seconds importing
torch: a Ctrl-C in that time ends the command with one line and exit status 130, not an
import traceback. The script's own handling takes over when its ``main`` starts
(``scripts.cli.parse`` restores Python's default, ``scripts.cli.run_main`` sets the training
scripts' own).
"""

import os
import signal
import sys


def _interrupted_while_starting(signum: int, frame: object) -> None:
    sys.stderr.write("interrupted while starting up: nothing done\n")
    sys.stderr.flush()
    os._exit(130)


# While ``-m`` looks for the module, sys.argv[0] is "-m": this is a script starting, not an
# import from code (a test, a notebook) whose Ctrl-C is its own business.
if sys.argv[:1] == ["-m"]:
    signal.signal(signal.SIGINT, _interrupted_while_starting)
