"""``make coverage``: merge the Verilator coverage of a regression run and report it per unit.

Usage: ``python -m scripts.coverage DATA_DIR [-o OUT_DIR] [--target 90]``. ``DATA_DIR`` holds the
``*.dat`` files a run with ``RDU_COVERAGE=DATA_DIR`` left (:mod:`tb.coverage`); ``OUT_DIR``
(default ``build/coverage``) receives ``summary.json`` (per unit: lines and toggles covered, the
uncovered lines), ``uncovered.txt`` and ``annotated/`` (the generated Verilog with counts). Prints
a table; units below ``--target`` percent of lines are marked. Exit 2 without data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tb import coverage


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m scripts.coverage",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("-o", "--out", type=Path, default=Path("build/coverage"))
    ap.add_argument("--target", type=float, default=90.0)
    a = ap.parse_args(argv)
    files = sorted(a.data.glob("*.dat")) if a.data.is_dir() else []
    if not files:
        print(f"coverage: no *.dat files in {a.data} (run the tests with RDU_COVERAGE={a.data})",
              file=sys.stderr)
        return 2
    summary = coverage.write_report(coverage.merge(files), a.out)
    print(f"{'unit':40} {'lines':>18} {'branches':>18} {'toggles':>20}")
    def cell(c, width):
        pct = "-" if c["percent"] is None else f"{c['percent']:.1f}%"
        return f"{c['covered']:>{width}}/{c['total']:<{width}} {pct:>6}"

    for unit, s in summary.items():
        low = s["lines"]["percent"] is not None and s["lines"]["percent"] < a.target
        print(f"{unit[:40]:40} {cell(s['lines'], 5)} {cell(s['branches'], 5)} "
              f"{cell(s['toggles'], 6)}{'  < target' if low else ''}")
    print(f"{len(files)} runs merged; {a.out / 'summary.json'}, {a.out / 'uncovered.txt'}, "
          f"{a.out / 'annotated'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
