"""Instructions per simulated cycle of the PCU simulation-speed benchmark, by arithmetic mode.

``python -m scripts.callgrind_pcu [--preset sim small ...] [--n N1 N2]`` runs the speed benchmark's
free-running PCU (:func:`scripts.bench_pcu.speed_setup`: an fp32 map on every stage, or an int map
on integer-only PCUs) under ``valgrind --tool=callgrind`` (cocotb's ``SIM_CMD_PREFIX``) for
``N1`` and for ``N2`` vectors, with the gate-level and with the behavioural functional units
(:func:`tb.runner.arith_mode`). The difference of the two runs' instruction counts divided by the
difference of their simulated cycles is the cost of one cycle of the model: start-up, Python and
cocotb cancel out. The outputs of the two modes must be identical. A deterministic measure on a
shared machine, unlike wall or CPU time; callgrind runs the model ~50× slower, so keep N small.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import tempfile
from pathlib import Path

from hw.generate import ARITH_MODES
from scripts.bench_pcu import speed_setup
from tb import freerun

__all__ = ["instructions", "measure", "main"]


def instructions(out_file):
    """Total instructions (``Ir``) of a callgrind output file."""
    text = Path(out_file).read_text()
    m = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    if not m:
        raise RuntimeError(f"{out_file}: no callgrind summary")
    return int(m.group(1))


def _run(preset, n, depth, mode, tmp):
    h, d, words, _ = speed_setup(preset, n, mode, depth)     # one design for both lengths
    out = Path(tmp) / f"cg-{preset}-{mode}-{n}.out"
    prefix = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    old = os.environ.get("SIM_CMD_PREFIX")
    os.environ["SIM_CMD_PREFIX"] = shlex.join(prefix)
    try:
        r = freerun.run(d, h, words, n, seed=1)
    finally:
        if old is None:
            os.environ.pop("SIM_CMD_PREFIX", None)
        else:
            os.environ["SIM_CMD_PREFIX"] = old
    return r, instructions(out)


def measure(preset, n1, n2):
    """``{mode: {"instr_per_cycle", "cycles", "instructions"}}`` plus the ratio; raises if the
    modes' outputs differ."""
    res, outs = {}, {}
    with tempfile.TemporaryDirectory(prefix="rdu-callgrind-") as tmp:
        for mode in ARITH_MODES:
            (r1, i1), (r2, i2) = (_run(preset, n, n2, mode, tmp) for n in (n1, n2))
            outs[mode] = r2.outputs
            res[mode] = {"instr_per_cycle": round((i2 - i1) / (r2.cycles - r1.cycles)),
                         "cycles": [r1.cycles, r2.cycles], "instructions": [i1, i2]}
    if outs["gates"] != outs["behavioural"]:
        raise AssertionError(f"{preset}: gate and behavioural outputs differ")
    res["gates_over_behavioural"] = round(res["gates"]["instr_per_cycle"] /
                                          res["behavioural"]["instr_per_cycle"], 2)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m scripts.callgrind_pcu", description=__doc__)
    ap.add_argument("--preset", nargs="+", default=["small", "sim"])
    ap.add_argument("--n", nargs=2, type=int, default=[2000, 6000], metavar=("N1", "N2"))
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("callgrind_pcu: valgrind is not on PATH")
    for p in args.preset:   # one JSON object per preset, as each is measured
        print(json.dumps({p: measure(p, *args.n)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
