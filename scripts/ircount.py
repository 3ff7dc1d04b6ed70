"""Verilator model cost in instructions per simulated cycle, counted by callgrind.

Wall time on a shared machine mostly measures the CPU share a process gets; an instruction count
does not. This runs a free-running simulation twice (``n1`` and ``n2`` words) under
``valgrind --tool=callgrind``, collecting only inside the Verilated model's ``eval`` (cocotb's
``SIM_CMD_PREFIX``; Python, VPI and start-up are not counted), and reports

    Ir / cycle = (Ir(n2) - Ir(n1)) / (cycles(n2) - cycles(n1))

so reset, configuration load and read-back cancel out: what is left is the steady-state cost of one
clock cycle of the model. ``model_Ir_per_cycle`` counts only the model's own functions
(``___024root___*``, self cost), leaving out ``$readmemh``/``$writememh`` file parsing.

Targets:

* ``pcu PRESET`` — the benchmark's PCU speed harness (:func:`scripts.bench_pcu._speed`'s program:
  every stage active, Python asleep until ``done``);
* ``fabric PRESET`` — the interconnect benchmark's test-unit fabric ``speed`` job (every test unit
  streaming; built with the benchmark's ``SPEED_CFLAGS``).

Usage: ``.venv/bin/python -m scripts.ircount pcu sim`` /
``.venv/bin/python -m scripts.ircount fabric sim [--n1 2000 --n2 6000] [--annotate 20]``.
The callgrind files are kept in ``build/ircount/`` for ``callgrind_annotate``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import numpy as np

from hw import numerics as nx
from hw.config import AddressMap, Packet
from hw.params import load
from scripts import bench_interconnect as bi
from tb import freerun
from tb.harness import StreamHarness
from tb.pcu_top import PCUStream
from tb.stream import pack_lanes
from tiles.pcu_asm import Counter, Out, Program, Stage, assemble

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
    without ``$readmemh`` / ``$writememh`` parsing and libc, which are constant per run anyway."""
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
        cycles = fn()
    finally:
        if old is None:
            os.environ.pop("SIM_CMD_PREFIX")
        else:
            os.environ["SIM_CMD_PREFIX"] = old
    return _ir(out), _model_ir(out), cycles


def pcu(preset, n):
    """The bench's PCU speed design (scripts/bench_pcu.py ``_speed``) with ``n`` vectors."""
    p = load(preset).pcu
    L = p.lanes
    if "fp32" in p.classes_of(0):
        stages = [Stage("fma", a="vec0", b="const", c="const", const=1.5, dst="r0"),
                  Stage("fmax", a="r0", b="const", const=0.0, dst="r0"),
                  Stage("f2bf", a="r0", dst="r1"), Stage("bf2f", a="r1", dst="r0")]
    else:
        stages = [Stage("muladd", a="vec0", b="const", c="const", const=3, dst="r0"),
                  Stage("shr", a="r0", b="const", const=1, dst="r0"),
                  Stage("max", a="r0", b="const", const=0, dst="r0")]
    prog = Program(name="speed", counters=[Counter(0)], vec_in={0: "every"}, stages=stages,
                   vec_out={0: Out(reg="r0")})
    packets = assemble(p, prog).writes(0) + [Packet.write(0, AddressMap.CONTROL,
                                                          AddressMap.START)]
    # the harness is sized for the larger run so both runs use one build
    h = StreamHarness(PCUStream(p, packets), N_MAX, N_MAX)
    d = freerun.design_for(h, f"rdu_pcu_{preset}_speed")
    x = np.random.default_rng(3).standard_normal((n, L)).astype(np.float32)
    words = [pack_lanes(row, 32) for row in nx.fp32_words(x)]
    return freerun.run(d, h, words, n, seed=1).cycles


def fabric(preset, n):
    p = load(preset)
    d = bi._test_unit_fabric(p, f"rdu_fabric_tu_{preset}")
    r = bi._simulate(d, {"params": preset, "jobs": ["speed"], "speed_words": n, "flows": 60,
                         "seed": 7}, extra_args=bi.SPEED_CFLAGS)
    return r["speed"]["cycles"]


N_MAX = 20_000
TARGETS = {"pcu": pcu, "fabric": fabric}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m scripts.ircount", description=__doc__.split("\n")[0])
    ap.add_argument("target", choices=sorted(TARGETS))
    ap.add_argument("preset")
    ap.add_argument("--n1", type=int, default=2000)
    ap.add_argument("--n2", type=int, default=6000)
    ap.add_argument("--tag", default="", help="suffix of the callgrind file names")
    ap.add_argument("--annotate", type=int, default=0, metavar="N",
                    help="print the N costliest functions of the longer run")
    a = ap.parse_args(argv)
    if not 0 < a.n1 < a.n2 <= N_MAX:
        ap.error(f"need 0 < n1 < n2 <= {N_MAX}")
    OUT.mkdir(parents=True, exist_ok=True)
    fn = TARGETS[a.target]
    res = []
    for n in (a.n1, a.n2):
        out = OUT / f"{a.target}-{a.preset}-{n}{a.tag}.callgrind"
        ir, model, cycles = _under_callgrind(out, lambda n=n: fn(a.preset, n))
        res.append((n, ir, model, cycles, out))
    (n1, ir1, m1, c1, _), (n2, ir2, m2, c2, out2) = res
    print(json.dumps({"target": a.target, "preset": a.preset,
                      "runs": [{"n": n, "Ir": ir, "model_Ir": mi, "cycles": c, "file": str(o)}
                               for n, ir, mi, c, o in res],
                      "Ir_per_cycle": round((ir2 - ir1) / (c2 - c1), 1),
                      "model_Ir_per_cycle": round((m2 - m1) / (c2 - c1), 1)}, indent=1))
    if a.annotate:
        txt = subprocess.run(["callgrind_annotate", "--inclusive=no", str(out2)],
                             capture_output=True, text=True).stdout
        lines = [ln for ln in txt.splitlines() if ln.strip()]
        start = next((i for i, ln in enumerate(lines) if "file:function" in ln), 0)
        print("\n".join(lines[start: start + 1 + a.annotate]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
