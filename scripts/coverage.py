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
    print(f"{'unit':40} {'lines':>16} {'toggles':>18}")
    for unit, s in summary.items():
        ln, tg = s["lines"], s["toggles"]
        lp = "-" if ln["percent"] is None else f"{ln['percent']:5.1f}%"
        tp = "-" if tg["percent"] is None else f"{tg['percent']:5.1f}%"
        low = ln["percent"] is not None and ln["percent"] < a.target
        print(f"{unit[:40]:40} {ln['covered']:>5}/{ln['total']:<5} {lp:>6} "
              f"{tg['covered']:>6}/{tg['total']:<6} {tp:>6}{'  < target' if low else ''}")
    print(f"{len(files)} runs merged; {a.out / 'summary.json'}, {a.out / 'uncovered.txt'}, "
          f"{a.out / 'annotated'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
