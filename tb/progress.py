"""Progress of the steps that take long: Verilog generation and the Verilator C++ build.

Every step prints one line on stderr when it starts (for a build, with the path of its log, so a
user can ``tail -f`` it at once). On a terminal a live line follows — elapsed seconds and, for a
build, the C++ files compiled out of the total — and disappears when the step ends. Nothing live
is drawn when stderr is not a terminal (CI logs stay readable) or when quiet.

Quiet: ``RDU_QUIET=1`` (``rdu --quiet``) drops the start lines and the live display;
``RDU_VERBOSE=1`` (``rdu --verbose``) also shows the simulator's own output (:mod:`tb.runner`).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["counter", "cxx_units", "quiet", "say", "step", "watch_build", "watch_sim"]

#: Seconds between two looks at a build folder.
POLL_S = 0.5


@contextlib.contextmanager
def _polling(update):
    """Call ``update()`` every :data:`POLL_S` seconds from a thread while the block runs."""
    stop = threading.Event()

    def loop():
        while not stop.wait(POLL_S):
            update()
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()


def quiet():
    """Whether progress is off (``RDU_QUIET=1``)."""
    return os.environ.get("RDU_QUIET") == "1"


def _live():
    return not quiet() and sys.stderr.isatty()


def say(text):
    """One line on stderr unless quiet."""
    if not quiet():
        print(f"[rdu] {text}", file=sys.stderr, flush=True)


def _block(text, name):
    """The words of the make variable ``name`` (``NAME += \\`` continued lines) in ``text``."""
    words = []
    for m in re.finditer(rf"^{name}\s*\+?=\s*\\\n((?:[ \t]+\S+[ \t]*\\\n)*)", text, re.M):
        words += [w for w in m.group(1).replace("\\", " ").split()]
    return words


def cxx_units(build_dir):
    """The number of object files Verilator's makefiles compile in ``build_dir`` (model classes,
    or one ``__ALL`` file when the model is small; Verilator's runtime; the C++ main), or
    ``None`` before verilation has written them."""
    d = Path(build_dir)
    try:
        classes = (d / "Vtop_classes.mk").read_text()
        top = (d / "Vtop.mk").read_text()
    except OSError:
        return None
    model = sum(len(_block(classes, v)) for v in
                ("VM_CLASSES_FAST", "VM_CLASSES_SLOW", "VM_SUPPORT_FAST", "VM_SUPPORT_SLOW"))
    if not re.search(r"^VM_PARALLEL_BUILDS\s*=\s*1", classes, re.M):
        model = 1
    runtime = len(_block(classes, "VM_GLOBAL_FAST")) + len(_block(classes, "VM_GLOBAL_SLOW"))
    user = len(_block(top, "VM_USER_CLASSES"))
    return model + runtime + user


@contextlib.contextmanager
def step(text):
    """A step of unknown length: its start line, then (on a terminal) a live elapsed time."""
    say(text)
    if not _live():
        yield
        return
    with Progress(TextColumn("  {task.description}"), TimeElapsedColumn(), transient=True,
                  console=Console(stderr=True)) as p:
        p.add_task(text.split(" (")[0], total=None)
        yield


@contextlib.contextmanager
def watch_build(build_dir, top, log):
    """A Verilator build of ``top`` in ``build_dir``: its start line naming ``log``, then (on a
    terminal) verilating → C++ files compiled / total, counted from the object files written."""
    say(f"{top}: building the Verilator model (log: {log})")
    if not _live():
        yield
        return
    d = Path(build_dir)
    cols = (TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn())
    with Progress(*cols, transient=True, console=Console(stderr=True)) as p:
        task = p.add_task("verilating", total=None)

        def update():
            total = cxx_units(d)
            if total:
                done = len(list(d.glob("*.o")))
                p.update(task, description=f"{top}: C++", total=total, completed=min(done, total))
        with _polling(update):
            yield


@contextlib.contextmanager
def watch_sim(top, env, folder):
    """A simulation of ``top``: on a terminal, the cycles simulated and cycles per second, read
    from the file the testbench's clock writes (:func:`tb.clock.start_clock`; its path is put
    in ``env`` as ``RDU_PROGRESS_FILE``). Nothing otherwise."""
    if not _live():
        yield
        return
    path = Path(folder) / "progress"
    path.unlink(missing_ok=True)
    env["RDU_PROGRESS_FILE"] = str(path)
    cols = (TextColumn("  {task.description}"), TimeElapsedColumn())
    with Progress(*cols, transient=True, console=Console(stderr=True)) as p:
        task = p.add_task(f"{top}: simulating", total=None)
        first = []

        def update():
            try:
                cycles, t = path.read_text().split()
            except (OSError, ValueError):
                return
            cycles, t = int(cycles), float(t)
            if not first:
                first.append((cycles, t))
            c0, t0 = first[0]
            rate = (cycles - c0) / (t - t0) if t > t0 else 0.0
            p.update(task, description=f"{top}: {cycles:,} cycles"
                     + (f" ({rate / 1e3:,.1f}k cycles/s)" if rate else ""))
        with _polling(update):
            yield


class _Count:
    """What :func:`counter` yields: :meth:`advance` after each item."""

    def __init__(self, update=None):
        self.done = 0
        self.failed = 0
        self._update = update

    def advance(self, failed=False):
        self.done += 1
        self.failed += bool(failed)
        if self._update is not None:
            self._update(self)


@contextlib.contextmanager
def counter(text, total):
    """Items of a known number (the points of a sweep): on a terminal a live bar, items done /
    ``total`` and how many failed, gone when the block ends; nothing otherwise. Yields an object
    whose ``advance(failed=False)`` counts one item (and whose ``done`` and ``failed`` say how
    many)."""
    if not _live():
        yield _Count()
        return
    cols = (TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn())
    with Progress(*cols, transient=True, console=Console(stderr=True)) as p:
        task = p.add_task(text, total=total, failed=0)
        yield _Count(lambda c: p.update(task, completed=c.done, failed=c.failed))
