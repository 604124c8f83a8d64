"""Turn an argument dataclass into a command line, the way CleanRL scripts read.

Each script declares one ``@dataclass Args`` whose fields carry their help text
(``arg(default, "help")``); :func:`parse` builds ``--help`` from it, parses ``argv`` and
returns the filled-in dataclass. Booleans become ``--flag/--no-flag``; ``Literal`` fields
become choices, and so does a field given ``choices=`` (``arg("connect4", "the game",
choices=GAME_NAMES)``: ``envs.GAME_NAMES`` is a live view of the registered games, so a
game registered after the script's import is offered too).
"""

from __future__ import annotations

import _thread
import argparse
import atexit
import contextlib
import dataclasses
import os
import re
import signal
import sys
import tempfile
import textwrap
import threading
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

T = TypeVar("T")


def arg(default: Any, help: str, **kwargs: Any) -> Any:
    """A dataclass field with a default and its ``--help`` text."""
    return dataclasses.field(default=default, metadata={"help": help, **kwargs})


def positional(help: str, nargs: str | None = None) -> Any:
    """A required positional field (``nargs="+"`` for one or more)."""
    factory = list if nargs in ("+", "*") else None
    if factory:
        return dataclasses.field(
            default_factory=factory, metadata={"help": help, "positional": nargs}
        )
    return dataclasses.field(default=None, metadata={"help": help, "positional": "1"})


def build_parser(cls: type, description: str | None = None) -> argparse.ArgumentParser:
    """An argparse parser with one option per field of the dataclass ``cls``. A script's
    ``main`` builds one first: from then on a Ctrl-C is the script's to handle."""
    end_startup_interrupts()
    parser = argparse.ArgumentParser(
        description=description or (cls.__doc__ or "").strip(),
        formatter_class=_HelpFormatter,
    )
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        meta = dict(field.metadata)
        help_text = meta.pop("help", "")
        kind = hints[field.name]
        if "positional" in meta:
            nargs = meta.pop("positional")
            parser.add_argument(
                field.name, help=help_text, nargs=None if nargs == "1" else nargs, **meta
            )
            continue
        flag = "--" + field.name.replace("_", "-")
        options: dict[str, Any] = {"default": field.default, "help": help_text, **meta}
        if kind is bool or kind == bool | None:  # --flag / --no-flag (None: not given)
            options["action"] = argparse.BooleanOptionalAction
        else:
            typed = _type_options(kind)
            if "choices" in meta:  # --help lists the choices, not a placeholder name
                typed.pop("metavar", None)
            options.update(typed)
        parser.add_argument(flag, dest=field.name, **options)
    return parser


def parse(cls: type[T], argv: list[str] | None = None, description: str | None = None) -> T:
    """Parse ``argv`` (default: ``sys.argv[1:]``) into an instance of the dataclass ``cls``."""
    namespace = build_parser(cls, description).parse_args(argv)
    return cls(**vars(namespace))


def end_startup_interrupts() -> None:
    """From here on a Ctrl-C is the script's to handle (a ``KeyboardInterrupt``), no longer
    the start-up's one line (see ``scripts/__init__.py``)."""
    import scripts

    if signal.getsignal(signal.SIGINT) is scripts._interrupted_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)


_ROOT = Path(__file__).resolve().parents[1]
# A help text that already tells the default: "(default: ...)", "(default per game)",
# "default: generate one" ("its default network", "the game's default" only name one).
_TELLS_DEFAULT = re.compile(r"\bdefault(:| per\b)")


class _HelpFormatter(argparse.HelpFormatter):
    """Appends each flag's default once, as one would type it, unless its help tells it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        # BooleanOptionalAction (Python < 3.13) appends its own "(default: ...)": ours replaces it.
        text = (action.help or "").removesuffix(" (default: %(default)s)")
        shown = shown_default(action, text)
        return text if shown is None else f"{text} (default: {shown.replace('%', '%%')})"

    def _split_lines(self, text: str, width: int) -> list[str]:
        # As argparse's, but never breaking "--no-augment" or "tic-tac-toe" at a hyphen.
        text = " ".join(text.split())
        return textwrap.wrap(text, width, break_on_hyphens=False)


def shown_default(action: argparse.Action, help_text: str = "") -> str | None:
    """The default to print after ``help_text`` for ``action``, or None to print none.

    None where the help already tells it, for positionals, and for the unset values None, ""
    and () (the help says what they mean, e.g. "None: all", or they mean "not given").
    Booleans show as the flag that is on, sequences as they are typed, paths inside the
    repository relative to it and others in the home folder from ``~``, so that no machine's
    folders show.
    """
    default = action.default
    if not action.option_strings or default is argparse.SUPPRESS:
        return None
    if _TELLS_DEFAULT.search(help_text):
        return None
    if default is None or default == "" or (isinstance(default, (list, tuple)) and not default):
        return None
    if isinstance(action, argparse.BooleanOptionalAction):
        return action.option_strings[0 if default else 1]
    if isinstance(default, (list, tuple)):
        return " ".join(_shown_value(v) for v in default)
    return _shown_value(default)


def _shown_value(value: Any) -> str:
    if isinstance(value, (str, Path)) and Path(value).is_absolute():
        path = Path(value)
        if path.is_relative_to(_ROOT):
            return f"the repository's {path.relative_to(_ROOT).as_posix()}"
        if path.is_relative_to(Path.home()):
            return f"~/{path.relative_to(Path.home()).as_posix()}"
    return str(value)


def _type_options(kind: Any) -> dict[str, Any]:
    origin, args = get_origin(kind), get_args(kind)
    if origin is Literal:
        return {"choices": list(args), "type": type(args[0])}
    if args and type(None) in args:  # Optional[X]: parse as X
        inner = next(a for a in args if a is not type(None))
        if get_origin(inner) is Literal:
            return _type_options(inner)
        return {"type": inner, "metavar": {str: "PATH", int: "N", float: "X"}.get(inner, "VALUE")}
    if origin in (list, tuple):
        return {"type": args[0], "nargs": "+"}
    return {"type": kind}


def merge_resumed(args: T, stored: dict[str, Any]) -> T:
    """The arguments of a resumed run: those it was started with, except the flags given now
    (those that differ from their defaults), e.g. more ``--epochs``."""
    changed = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(args)
        if getattr(args, f.name) != f.default
    }
    known = {f.name for f in dataclasses.fields(args)}
    merged = {k: v for k, v in stored.items() if k in known}
    merged.update(changed)
    return dataclasses.replace(args, **merged)


def set_threads(threads: int) -> None:
    """Pin torch's CPU threads. On 2 shared cores, extra threads spin against each other (and
    against the data pipeline) and cost far more than they give: measured in the README."""
    import torch

    if threads < 1:
        raise SystemExit(f"error: --threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def resolve_device(name: str) -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is visible, else ``"cpu"``; refuses a missing GPU."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda, but torch sees no CUDA device (try --device cpu)")
    return name


def writable_dir(path: str | Path) -> Path:
    """Create ``path`` if needed and prove it is writable, or exit with a clear message."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        # A probe of its own name: runs started together in one run directory must not
        # delete each other's probe (a shared ".write-test" did, and one run refused).
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise SystemExit(f"error: run directory {str(path)!r} is not writable ({err})") from None
    return path


def count_text(value: float) -> str:
    """A number as a person reads it: ``2000 -> "2,000"``, ``23.456 -> "23.5"``; a count
    never in exponent form (``f"{2000:.3g}"`` would print ``2e+03``)."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


# --- Ctrl-C ------------------------------------------------------------------------------


class RunInterrupted(Exception):
    """Ctrl-C during the run whose folder is ``run_dir`` (raised by :func:`resumable`)."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(str(run_dir))
        self.run_dir = run_dir


#: Set by the SIGINT handler of :func:`run_main`: from then on, whatever error ends the
#: run is the interruption's doing (code cut short can fail again as it unwinds, and say so).
_CTRL_C = threading.Event()


@contextmanager
def resumable(run_dir: Path) -> Iterator[None]:
    """Ctrl-C inside the block names ``run_dir``, so that :func:`run_main` can print the
    command that resumes it."""
    try:
        yield
    except BaseException as err:
        if isinstance(err, KeyboardInterrupt) or _CTRL_C.is_set():
            raise RunInterrupted(run_dir) from None
        raise


def run_main(main: Callable[[], object], module: str) -> None:
    """Run a training script's ``main``; Ctrl-C ends it within seconds with exit status 130
    and one line instead of a traceback: the command that resumes the run (``python -m
    module --resume RUN``) once the run folder holds a checkpoint, else that there is
    nothing to resume. A second Ctrl-C is ignored: it would only break the clean-up (the
    workers' ends, a checkpoint write undone) that the first started, which takes seconds.

    The process ends there, without the interpreter's teardown (see below)."""
    signal.signal(signal.SIGINT, _interrupt_once)
    sys.unraisablehook = _redeliver_lost_interrupt
    try:
        main()
        # Done, the checkpoints on disk: a Ctrl-C now, while the interpreter winds down, has
        # nothing left to interrupt.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return
    except RunInterrupted as stop:
        run_dir = stop.run_dir
    except BaseException:
        if not _CTRL_C.is_set():
            raise
        run_dir = None
    # Here, past the except clauses, the interrupted frames are gone, and the progress bars
    # they held have printed their last line: ours comes last.
    if run_dir is not None and (run_dir / "latest.pt").exists():
        line = f"interrupted: resume with python -m {module} --resume {run_dir}"
    else:
        line = "interrupted before the run's first checkpoint: nothing to resume"
        if run_dir is not None:
            with contextlib.suppress(OSError):  # only if empty: interrupted making its first file
                run_dir.rmdir()
    print(line, file=sys.stderr)
    # Not SystemExit: CPython ends its teardown by re-raising SIGINT if a KeyboardInterrupt
    # ever left code run by exec() of a string (dataclasses build their methods so, and torch
    # imports lazily), whoever caught it after; the status would be a death by SIGINT, not
    # 130. So: what exit runs (multiprocessing's clean-up among it), then out, skipping only
    # the interpreter's teardown. The checkpoints and the events they cover are on disk.
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def _interrupt_once(signum: int, frame: object) -> None:
    _CTRL_C.set()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _redeliver_lost_interrupt(unraisable: Any) -> None:
    """Python swallows an exception raised where it cannot propagate (a weakref's callback,
    a ``__del__``, the import system's lock clean-up) and prints it as "Exception ignored".
    A Ctrl-C whose handler ran there would be lost, the run going on with SIGINT ignored; so
    it is raised again, by the same signal, at the interpreter's next check (past the
    callback). Anything else goes to Python's own hook."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and _CTRL_C.is_set():
        signal.signal(signal.SIGINT, _interrupt_once)
        # A moment later, from another thread: called here, signal.raise_signal (or
        # interrupt_main) would run the handler at once, inside this hook, where its
        # exception is swallowed again. (Should the moment still find us in a callback, this
        # hook runs again, and so on.)
        threading.Timer(0.01, _thread.interrupt_main, args=(signal.SIGINT,)).start()
        return
    sys.__unraisablehook__(unraisable)
