"""GEMM on the fabric RTL (compiler/gemm.py): cycles, ideal cycles and MAC utilization.

Each row is one ``rdu run gemm`` (``tb.run.run_kernel``): A and B start in the HBM model, AGCUs
stream them through the mesh into systolic PCU chains (A re-ordered in a PMU, partial sums in a PMU
FIFO), C returns to HBM; the result is checked bit for bit against ``hw.golden.gemm``.

* ``cycles``: the whole run — every phase from its start to its ``done`` (the fabric's own
  counter), including pipeline fill / drain, weight loads and the first HBM latency; the
  configuration load between phases (``config_cycles``, through the ring) is listed separately;
* ``ideal``: ``M·N·K ÷ (L·S·PCUs used)``;
* ``mac_util``: ``M·N·K ÷ (L·S·PCUs used × cycles)`` — MAC utilization of the PCUs used
  (docs/architecture.md §7); ``util_incl_config`` counts the configuration cycles too.

For context (docs/architecture.md §7): an H100 reaches 0.15% of its peak at 256³ and 81% at 8192³.
"""

from __future__ import annotations

from compiler.gemm import plan
from compiler.requests import KernelRequest
from hw.params import load
from scripts.bench import Option, cli
from tb.run import run_kernel

TITLE = "GEMM on the fabric (systolic PCU chains, HBM → fabric → HBM, bit-exact)"
OPTIONS = (Option("config", "one fabric configuration (preset name or YAML path) for every shape "
                            "(default: each shape's own)"),)

FULL = [("sim", 256, 256, 256, "bf16"), ("sim", 256, 256, 256, "int16"),
        ("sim", 64, 64, 64, "bf16"), ("sim", 128, 128, 128, "int16"),
        ("small", 64, 64, 64, "bf16")]
QUICK = [("sim", 64, 64, 64, "bf16"), ("sim", 64, 64, 64, "int16"), ("small", 32, 32, 32, "bf16")]


def run(quick=False, config=None):
    rows, notes = [], []
    cases = QUICK if quick else FULL
    if config is not None:      # one configuration for every shape
        cases = list(dict.fromkeys((config,) + c[1:] for c in cases))
    for cfg, M, N, K, dt in cases:
        p = load(cfg)
        req = KernelRequest.make("gemm", dt, M=M, N=N, K=K)
        pl = plan(req, p)
        res = run_kernel(req, p, seed=1)
        cyc = res["cycles"]
        peak = p.lanes * p.pcu.stages * pl.pcus
        rows.append({
            "config": cfg, "shape": f"{M}x{N}x{K}", "dtype": dt,
            "bit_exact": res["passed"], "cycles": cyc, "ideal": res["ideal_cycles"],
            "mac_util": res["utilization"],
            "util_incl_config": round(M * N * K / (peak * (cyc + res["config_cycles"])), 4),
            "config_cycles": res["config_cycles"], "phases": res["phases"],
            "pcus": pl.pcus, "pmus": pl.units["pmu"], "agcus": pl.units["agcu"],
            "chains": f"{pl.chains}x{pl.chain}", "mb": pl.mb, "g": pl.g,
            "weights": pl.weights, "psum_hw_words": res["buffer_high_water_words"],
            "sim_wall_s": res["wall_s"],
        })
        if not res["passed"]:
            notes.append(f"{cfg} {M}x{N}x{K} {dt}: NOT bit-exact: {res['mismatch']}")
    notes.append("mac_util = M·N·K / (L·S·PCUs used · cycles), whole run (fill, drain, weight "
                 "loads, HBM latency); config_cycles = ring configuration between phases.")
    notes.append("H100 reference (docs/architecture.md §7): 0.15% of peak at 256³, 81% at 8192³.")
    return {"rows": rows, "notes": notes}


if __name__ == "__main__":
    raise SystemExit(cli(__name__))
