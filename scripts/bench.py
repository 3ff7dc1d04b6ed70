"""``make bench`` / ``rdu bench``: run every benchmark, print a table each and the JSON.

A benchmark is a module ``scripts/bench_<name>.py`` with ``TITLE`` and ``run(quick) -> dict``
returning ``{"rows": [ {column: value, ...}, ... ], "notes": [str, ...]}``. Results are written to
``build/bench/<name>.json`` in the working directory and the combined JSON is printed after the
tables. Benchmarks measure ratios within one run; absolute times on shared machines are noisy.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
import time
import traceback
from pathlib import Path

from rich.console import Console
from rich.table import Table

__all__ = ["discover", "main", "print_table"]

#: Where results go, relative to the working directory (``make bench`` runs in the checkout).
OUT_DIR = Path("build") / "bench"


def discover():
    """Names of the benchmark modules beside this one."""
    here = Path(__file__).resolve().parent
    return sorted(p.stem[len("bench_"):] for p in here.glob("bench_*.py"))


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


def standalone(module_name):
    """``python -m scripts.bench_<name> [--quick] [--config C]``: run one benchmark module by
    itself, print its table and JSON (the same as ``rdu bench <name>`` without writing files)."""
    mod = importlib.import_module(module_name)
    ap = argparse.ArgumentParser(description=mod.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    if "config" in inspect.signature(mod.run).parameters:
        ap.add_argument("--config", default=None, help="fabric configuration")
    a = ap.parse_args()
    kw = {"config": a.config} if getattr(a, "config", None) else {}
    res = mod.run(quick=a.quick, **kw)
    print_table(getattr(mod, "TITLE", module_name), res["rows"], res.get("notes", ()))
    print(json.dumps(res, indent=2, default=str))


def main(only=(), quick=False, config=None):
    names = list(only) or discover()
    unknown = [n for n in names if n not in discover()]
    if unknown:
        print(f"rdu bench: unknown benchmark(s) {', '.join(unknown)}; available: "
              f"{', '.join(discover())}", file=sys.stderr)
        return 2
    out_dir = OUT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    combined = {}
    failed = []
    for name in names:
        mod = importlib.import_module(f"scripts.bench_{name}")
        t0 = time.perf_counter()
        try:
            kw = {}
            if config is not None:
                # kernel benchmarks take the fabric configuration (default: their own, 'sim')
                if "config" not in inspect.signature(mod.run).parameters:
                    print(f"rdu bench: {name} has no --config; running its own configurations",
                          file=sys.stderr)
                else:
                    kw["config"] = config
            res = mod.run(quick=quick, **kw)
        except Exception as e:
            traceback.print_exc()
            failed.append(name)
            res = {"rows": [], "notes": [f"FAILED: {e}"], "error": str(e)}
        res["wall_s"] = round(time.perf_counter() - t0, 1)
        combined[name] = res
        (out_dir / f"{name}.json").write_text(json.dumps(res, indent=2, default=str))
        print_table(f"{getattr(mod, 'TITLE', name)}  ({res['wall_s']} s)", res["rows"],
                    res.get("notes", ()))
    (out_dir / "results.json").write_text(json.dumps(combined, indent=2, default=str))
    print(json.dumps(combined, indent=2, default=str))
    print(f"rdu bench: results in {out_dir}/results.json", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="rdugen benchmarks: a table each and JSON")
    ap.add_argument("only", nargs="*")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--config", default=None,
                    help="fabric configuration for the kernel benchmarks (default: sim)")
    a = ap.parse_args()
    sys.exit(main(a.only, quick=a.quick, config=a.config))
