"""``make bench`` / ``rdu bench``: run every benchmark, print a table each and the JSON.

The protocol: a benchmark is a module ``scripts/bench_<name>.py`` with

* ``TITLE``, the heading of its table;
* ``run(quick=False, **options) -> dict`` returning
  ``{"rows": [ {column: value, ...}, ... ], "notes": [str, ...]}`` (more keys allowed);
* optionally ``OPTIONS``, a tuple of :class:`Option`: the keyword arguments of ``run()`` a user may
  set on the command line (their defaults are ``run()``'s own);
* optionally a ``log`` keyword of ``run()``: a callable taking one row, which the runners pass to
  print each row on stderr as it is measured (for long benchmarks);
* as its only command-line code, ``if __name__ == "__main__": raise SystemExit(cli(__name__))``.

:func:`main` (``make bench``, ``rdu bench [NAME ...] [--quick] [--config C]``) runs the named
benchmarks (default: all) and writes each result to ``build/bench/<name>.json``, with ``wall_s``,
``quick`` and the effective ``options`` added, and all of them to ``build/bench/results.json``.
:func:`cli` (``python -m scripts.bench_<name> [--quick] [options] [--json PATH]``) runs one
benchmark with its own options and prints its table and JSON without writing ``build/bench``.
``python -m scripts.readme_figures`` (``make figures``) quotes ``build/bench`` in the README.
Benchmarks measure ratios within one run; absolute times on shared machines are noisy.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["Option", "cli", "discover", "load", "main", "options", "parse", "parser",
           "print_table"]

#: Where results go, relative to the working directory (``make bench`` runs in the checkout).
OUT_DIR = Path("build") / "bench"


@dataclass(frozen=True)
class Option:
    """One keyword argument ``name`` of a benchmark's ``run()`` as a command-line option.

    By default ``--name VALUE`` (``_`` in ``name`` becomes ``-``; ``flag`` overrides the spelling),
    the value converted by ``type``. ``many``: any number of values, passed as a list (``--name``
    alone passes an empty list). ``switch``: no value, passes True. ``positional``: the bare words
    of the command line, a list (none given: the option is not passed). ``choices`` restricts the
    values. An option not given is not passed, so ``run()``'s default applies."""

    name: str
    help: str
    type: Callable[[str], Any] = str
    many: bool = False
    switch: bool = False
    positional: bool = False
    choices: tuple | None = None
    flag: str | None = None

    @property
    def spelling(self):
        return self.name if self.positional else (self.flag or "--" + self.name.replace("_", "-"))


def discover():
    """The names of the benchmarks: every ``scripts/bench_<name>.py``."""
    here = Path(__file__).resolve().parent
    return sorted(p.stem[len("bench_"):] for p in here.glob("bench_*.py"))


def load(name):
    """The module of benchmark ``name`` (``scripts.bench_<name>``)."""
    return importlib.import_module(f"scripts.bench_{name}")


def options(mod):
    """The :class:`Option` tuple a benchmark module declares (none: ``()``)."""
    return tuple(getattr(mod, "OPTIONS", ()))


def _defaults(mod):
    return {k: p.default for k, p in inspect.signature(mod.run).parameters.items()
            if p.default is not inspect.Parameter.empty}


def parser(mod):
    """The argument parser of ``python -m scripts.bench_<name>``: ``--quick``, ``--json PATH``
    and the module's :data:`OPTIONS`."""
    spec = getattr(mod, "__spec__", None)
    ap = argparse.ArgumentParser(prog=f"python -m {spec.name}" if spec else None,
                                 description=mod.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument("--json", metavar="PATH", default=None, help="also write the JSON here")
    defaults = _defaults(mod)
    for o in options(mod):
        d = defaults.get(o.name)
        text = o.help if d in (None, False, (), []) else f"{o.help} (default: {_show(d)})"
        if o.positional:
            # argparse checks choices against the empty default of nargs="*": checked in parse()
            ap.add_argument(o.name, nargs="*", type=o.type, default=[], help=text,
                            metavar=o.name.upper() if not o.choices else
                            "{" + ",".join(o.choices) + "}")
        elif o.switch:
            ap.add_argument(o.spelling, dest=o.name, action="store_true",
                            default=argparse.SUPPRESS, help=text)
        else:
            ap.add_argument(o.spelling, dest=o.name, type=o.type, nargs="*" if o.many else None,
                            choices=o.choices, default=argparse.SUPPRESS, help=text,
                            metavar=None if o.choices else o.spelling.lstrip("-").upper())
    return ap


def _show(v):
    return " ".join(map(str, v)) if isinstance(v, (tuple, list)) else str(v)


def parse(mod, argv=None):
    """``(quick, {option: value} given on the command line, --json path or None)``."""
    ap = parser(mod)
    a = vars(ap.parse_args(argv))
    quick, out = a.pop("quick"), a.pop("json")
    for o in options(mod):
        if o.positional:
            words = a.pop(o.name)
            bad = [w for w in words if o.choices and w not in o.choices]
            if bad:
                ap.error(f"argument {o.name}: invalid choice(s) {', '.join(map(str, bad))} "
                         f"(choose from {', '.join(o.choices)})")
            if words:
                a[o.name] = words
    return quick, a, out


def _log_row(row):
    print(json.dumps(row, default=str), file=sys.stderr, flush=True)


def _run(mod, quick, kw):
    if "log" in inspect.signature(mod.run).parameters:
        kw = {**kw, "log": _log_row}
    return mod.run(quick=quick, **kw)


def cli(name, argv=None):
    """``python -m scripts.bench_<name> [--quick] [options] [--json PATH]``: run the benchmark
    module ``name`` (a module's ``__name__``, ``"__main__"`` included) with the options given,
    print its table and JSON, and return the exit status (0)."""
    mod = sys.modules.get(name) or importlib.import_module(name)
    quick, kw, out = parse(mod, argv)
    res = _run(mod, quick, kw)
    print_table(getattr(mod, "TITLE", name), res["rows"], res.get("notes", ()))
    text = json.dumps(res, indent=2, default=str)
    if out:
        Path(out).write_text(text)
    print(text)
    return 0


def print_table(title, rows, notes=(), console=None):
    con = console or Console(highlight=False)
    if not rows:
        con.print(f"{title}: no rows")
        return
    t = Table(title=title)
    cols = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    for c in cols:
        t.add_column(c)
    for r in rows:
        t.add_row(*[_fmt(r.get(c)) for c in cols])
    con.print(t)
    for n in notes:
        con.print(f"  {n}")


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def main(only=(), quick=False, config=None, out_dir=OUT_DIR):
    """Run the benchmarks ``only`` (default: all), print a table each and the combined JSON, and
    write ``out_dir/<name>.json`` and ``out_dir/results.json``. ``config`` goes to every
    benchmark with a ``config`` option. Returns the exit status: 2 for an unknown name, 1 if a
    benchmark failed."""
    names = list(only) or discover()
    unknown = [n for n in names if n not in discover()]
    if unknown:
        print(f"rdu bench: unknown benchmark(s) {', '.join(unknown)}; available: "
              f"{', '.join(discover())}", file=sys.stderr)
        return 2
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    combined = {}
    failed = []
    for name in names:
        mod = load(name)
        kw = {}
        if config is not None:
            # kernel benchmarks take the fabric configuration (default: their own, 'sim')
            if "config" in {o.name for o in options(mod)}:
                kw["config"] = config
            else:
                print(f"rdu bench: {name} has no --config; running its own configurations",
                      file=sys.stderr)
        t0 = time.perf_counter()
        try:
            res = _run(mod, quick, kw)
        except Exception as e:
            traceback.print_exc()
            failed.append(name)
            res = {"rows": [], "notes": [f"FAILED: {e}"], "error": str(e)}
        res["wall_s"] = round(time.perf_counter() - t0, 1)
        # what produced the figures: scripts/readme_figures.py quotes them with their command
        res["quick"] = quick
        defaults = _defaults(mod)
        res["options"] = {o.name: kw.get(o.name, defaults.get(o.name)) for o in options(mod)}
        combined[name] = res
        (out_dir / f"{name}.json").write_text(json.dumps(res, indent=2, default=str))
        print_table(f"{getattr(mod, 'TITLE', name)}  ({res['wall_s']} s)", res["rows"],
                    res.get("notes", ()))
    (out_dir / "results.json").write_text(json.dumps(combined, indent=2, default=str))
    print(json.dumps(combined, indent=2, default=str))
    print(f"rdu bench: results in {out_dir}/results.json", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="rdugen benchmarks: a table each and JSON")
    ap.add_argument("only", nargs="*")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--config", default=None,
                    help="fabric configuration for the kernel benchmarks (default: sim)")
    a = ap.parse_args()
    sys.exit(main(a.only, quick=a.quick, config=a.config))
