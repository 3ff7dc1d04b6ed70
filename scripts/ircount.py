"""Verilator model cost in instructions per simulated cycle, counted by callgrind.

Wall time on a shared machine mostly measures the CPU share a process gets; an instruction count
does not. This runs a free-running simulation twice (``n1`` and ``n2`` words) under
``valgrind --tool=callgrind``, collecting only inside the Verilated model's ``eval`` (cocotb's
``SIM_CMD_PREFIX``; Python, VPI and start-up are not counted), and reports

    Ir / cycle = (Ir(n2) - Ir(n1)) / (cycles(n2) - cycles(n1))

so reset, configuration load and read-back cancel out (the harness memories have one depth for
both runs, so their ``$readmemh``/``$writememh`` files are the same size): what is left is the
steady-state cost of one clock cycle of the model. ``model_Ir_per_cycle`` counts only the model's own functions
(``___024root___*``, self cost), leaving out ``$readmemh``/``$writememh`` file parsing.

Targets:

* ``pcu PRESET`` — the PCU speed design of ``rdu bench simspeed`` (:func:`tb.pcu_top.speed_design`:
  every stage active, Python asleep until ``done``), in each arithmetic mode (``--arith``; their
  outputs must be identical);
* ``fabric PRESET`` — the interconnect benchmark's test-unit fabric ``speed`` job (every test unit
  streaming; built with the benchmark's ``SPEED_CFLAGS``).

Usage: ``.venv/bin/python -m scripts.ircount pcu sim [--arith gates behavioural]`` /
``.venv/bin/python -m scripts.ircount fabric sim [--n1 2000 --n2 6000] [--annotate 20]``.
The callgrind files are kept in ``build/ircount/`` for ``callgrind_annotate``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path


from hw.generate import ARITH_MODES
from hw.params import load
from scripts import bench_interconnect as bi
from tb import freerun
from tb.pcu_top import speed_design

OUT = Path("build") / "ircount"


def _prefix(out):
    return (f"valgrind --tool=callgrind --collect-atstart=no "
            f"--toggle-collect=*___024root___eval(* --callgrind-out-file={out}")


def _ir(out):
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"{out}: no totals line")


def _model_ir(out):
    """Self cost of the Verilated model's own functions (``<top>___024root___*``): the total
    without ``$readmemh`` / ``$writememh`` parsing, libc and the behavioural functional units' C++
    (called through DPI-C, so compare arithmetic modes by ``Ir_per_cycle``)."""
    txt = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", str(out)],
                         capture_output=True, text=True, check=True).stdout
    total = 0
    for line in txt.splitlines():
        parts = line.split()
        if len(parts) >= 2 and "___024root___" in line and parts[0][0].isdigit():
            total += int(parts[0].replace(",", ""))
    return total


def _under_callgrind(out, fn):
    old = os.environ.get("SIM_CMD_PREFIX")
    os.environ["SIM_CMD_PREFIX"] = _prefix(out.absolute())
    try:
        result = fn()
    finally:
        if old is None:
            os.environ.pop("SIM_CMD_PREFIX")
        else:
            os.environ["SIM_CMD_PREFIX"] = old
    return _ir(out), _model_ir(out), result


def pcu(preset, n, arith):
    """The PCU speed design (:func:`tb.pcu_top.speed_design`) with ``n`` vectors; its memories
    hold :data:`N_MAX` words, so both runs use one build. Returns (cycles, outputs)."""
    h, d, words, _ = speed_design(preset, n, arith=arith, depth=N_MAX)
    r = freerun.run(d, h, words, n, seed=1)
    return r.cycles, r.outputs


def fabric(preset, n, arith):
    """The interconnect benchmark's test-unit fabric ``speed`` job (no functional units: the
    arithmetic mode does not apply). Returns (cycles, None)."""
    d = bi.fabric_of_test_units(load(preset), f"rdu_fabric_tu_{preset}")
    r = bi.simulate(d, {"params": preset, "jobs": ["speed"], "speed_words": n, "flows": 60,
                        "seed": 7}, extra_args=bi.SPEED_CFLAGS)
    return r["speed"]["cycles"], None


N_MAX = 20_000
TARGETS = {"pcu": pcu, "fabric": fabric}


def measure(target, preset, n1, n2, arith, tag=""):
    """Instructions per simulated cycle of ``target`` on ``preset`` in arithmetic mode ``arith``
    (runs of ``n1`` and ``n2`` words); returns the record and the longer run's outputs."""
    fn = TARGETS[target]
    res, outs = [], None
    for n in (n1, n2):
        out = OUT / f"{target}-{preset}-{arith}-{n}{tag}.callgrind"
        ir, model, (cycles, outs) = _under_callgrind(out, lambda n=n: fn(preset, n, arith))
        res.append((n, ir, model, cycles, out))
    (_, ir1, m1, c1, _), (_, ir2, m2, c2, _) = res
    return {"target": target, "preset": preset, "arith": arith,
            "runs": [{"n": n, "Ir": ir, "model_Ir": mi, "cycles": c, "file": str(o)}
                     for n, ir, mi, c, o in res],
            "Ir_per_cycle": round((ir2 - ir1) / (c2 - c1), 1),
            "model_Ir_per_cycle": round((m2 - m1) / (c2 - c1), 1)}, outs


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m scripts.ircount", description=__doc__.split("\n")[0])
    ap.add_argument("target", choices=sorted(TARGETS))
    ap.add_argument("preset")
    ap.add_argument("--n1", type=int, default=2000)
    ap.add_argument("--n2", type=int, default=6000)
    ap.add_argument("--arith", nargs="+", choices=ARITH_MODES, default=list(ARITH_MODES),
                    help="arithmetic modes to measure (default: both; their outputs must match)")
    ap.add_argument("--tag", default="", help="suffix of the callgrind file names")
    ap.add_argument("--annotate", type=int, default=0, metavar="N",
                    help="print the N costliest functions of each mode's longer run")
    a = ap.parse_args(argv)
    if not 0 < a.n1 < a.n2 <= N_MAX:
        ap.error(f"need 0 < n1 < n2 <= {N_MAX}")
    if shutil.which("valgrind") is None:
        raise SystemExit("ircount: valgrind is not on PATH")
    OUT.mkdir(parents=True, exist_ok=True)
    records, outputs = [], {}
    for mode in a.arith:
        rec, outputs[mode] = measure(a.target, a.preset, a.n1, a.n2, mode, a.tag)
        records.append(rec)
        print(json.dumps(rec, indent=1), flush=True)
        if a.annotate:
            txt = subprocess.run(["callgrind_annotate", "--inclusive=no", rec["runs"][1]["file"]],
                                 capture_output=True, text=True, check=False).stdout
            lines = [ln for ln in txt.splitlines() if ln.strip()]
            start = next((i for i, ln in enumerate(lines) if "file:function" in ln), 0)
            print("\n".join(lines[start: start + 1 + a.annotate]))
    if len(records) == 2:
        g, b = (next(r for r in records if r["arith"] == m) for m in ARITH_MODES)
        if outputs["gates"] != outputs["behavioural"]:
            raise SystemExit(f"ircount: {a.target} {a.preset}: the modes' outputs differ")
        print(json.dumps({"gates_over_behavioural": round(g["Ir_per_cycle"] /
                                                          b["Ir_per_cycle"], 2),
                          "outputs": "identical" if outputs["gates"] is not None else "n/a"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
