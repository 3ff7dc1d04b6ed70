"""``make sim`` / ``rdu sim``: the main job on one configuration.

The main job is the **kernel suite** (:data:`SUITE`): every kernel the compiler maps (GEMM,
attention in both forms, FFT, Hyena, prefix sum, linear scan, Mamba) compiled for the configuration,
run on its RTL under Verilator with tensors starting and ending in the HBM model, and checked bit for
bit against the golden models and against float64. It prints one table — kernel, shape, pass,
cycles, utilization, error — with a progress display while it runs.

``--smoke`` runs the end-to-end smoke suite instead (the L-lane MAC pipeline, Python-driven and
free-running under random backpressure): the quickest check that the Amaranth → Verilator → cocotb
flow works on a machine.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from compiler.kernel import available
from compiler.requests import KernelRequest
from hw.golden import mac_lanes
from hw.params import load
from hw.smoke import MacParams, MacPipeline
from tb import env, freerun, runner
from tb.harness import StreamHarness
from tb.run import run_kernel
from tb.stream import pack_lanes, unpack_rows

__all__ = ["main_job", "smoke_suite", "kernel_suite", "SUITE"]

#: The default kernel suite: (kernel, dtype, shape).
SUITE = [
    ("gemm", "bf16", {"M": 64, "N": 64, "K": 64}),
    ("gemm", "int16", {"M": 33, "N": 20, "K": 17}),
    ("sdpa", "fp32", {"n": 32, "d": 8}),
    ("sdpa_naive", "fp32", {"n": 32, "d": 8}),
    ("fft", "fp32", {"n": 256}),
    ("hyena", "fp32", {"n": 128}),
    ("scan", "fp32", {"n": 1000}),
    ("linear_scan", "fp32", {"n": 1000}),
    ("mamba", "fp32", {"T": 64, "D": 4, "S": 8}),
]


def kernel_suite(params, seed):
    """(name, fn) cases running :data:`SUITE` through :func:`tb.run.run_kernel`."""

    cases = []
    for kernel, dtype, shape in SUITE:
        if "d" in shape:      # attention holds a head row in one vector: d <= L
            shape = {**shape, "d": min(shape["d"], params.lanes)}
        req = KernelRequest.make(kernel, dtype, **shape)

        def fn(req=req):
            if not available(req.kernel):
                return {"cycles": None, "skipped": True,
                        "detail": "mapping not available in this build"}
            r = run_kernel(req, params, seed=seed)
            err = r["max_rel_err_vs_float64"]
            detail = (f"util {r['utilization']:.1%}, rel err {err:.2g}" if isinstance(err, float)
                      else f"util {r['utilization']:.1%}")
            if not r["passed"]:
                raise AssertionError(r["mismatch"])
            return {"cycles": r["cycles"], "utilization": r["utilization"], "detail": detail,
                    "max_rel_err": err, "buffer_high_water_words": r["buffer_high_water_words"]}
        cases.append((f"{kernel} {req.label} {dtype}", fn))
    return cases


def smoke_suite(params, seed):
    lanes = params.lanes
    rows = []
    p = MacParams(lanes=lanes)
    design = runner.Design.from_component(MacPipeline(p), f"rdu_mac_l{lanes}")

    def case_lint():
        runner.lint(design)
        return {"cycles": None, "detail": "verilator --lint-only clean"}

    def case_driven():
        t0 = time.perf_counter()
        runner.simulate(design, "tb.cocotb_mac", seed=seed, env=env.encode(
            lanes=lanes, in_bits=16, acc_bits=32, seed=seed, pause_src=0.3, pause_sink=0.3,
            groups=[[1, 32], [8, 256]]))
        return {"cycles": None, "detail": f"python-driven, 30% pauses, {time.perf_counter() - t0:.1f} s"}

    def case_free():
        h = StreamHarness(MacPipeline(p), 8192, 2048, passthrough=("acc_len",))
        d = freerun.design_for(h, f"rdu_mac_l{lanes}_harness")
        rng = np.random.default_rng(seed)
        a = rng.integers(-32768, 32768, (8192, lanes))
        b = rng.integers(-32768, 32768, (8192, lanes))
        words = [pack_lanes(list(a[t]) + list(b[t]), 16) for t in range(len(a))]
        r = freerun.run(d, h, words, 2048, seed=seed, pause_src=64, pause_sink=64,
                        passthrough={"acc_len": 4}, repeat=2)
        np.testing.assert_array_equal(unpack_rows(r.outputs, 32, lanes, signed=True),
                                      mac_lanes(a, b, 4))
        return {"cycles": r.cycles, "detail": f"free-running, 25% pauses, "
                                              f"{r.cycles_per_s / 1e3:.0f}k cycles/s"}

    cases = [("lint", case_lint), ("mac driven", case_driven), ("mac free-running", case_free)]
    return [(name, fn) for name, fn in cases]


def main_job(config=None, seed=None, json_out=None, smoke=False):
    params = load(config)
    seed = runner.seed_from_env(seed)
    con = Console(highlight=False)
    con.print(f"rdu sim: configuration [bold]{params.name}[/] ({params.rows}x{params.cols}, "
              f"{params.lanes} lanes), seed {seed}")
    results = []
    cases = smoke_suite(params, seed) if smoke else kernel_suite(params, seed)
    with Progress(console=con, transient=True) as prog:
        task = prog.add_task("simulating", total=len(cases))
        for name, fn in cases:
            prog.update(task, description=name)
            t0 = time.perf_counter()
            try:
                r = fn()
                r.update(case=name, passed=not r.get("skipped", False))
            except (runner.VerilatorNotFound, runner.BuildFailed, OSError):
                raise               # the environment, not this case: every case would fail alike
            except Exception as e:  # a failing case is reported in the table, not a traceback
                r = {"case": name, "passed": False, "cycles": None, "detail": str(e).splitlines()[0]}
            r["wall_s"] = round(time.perf_counter() - t0, 2)
            results.append(r)
            prog.advance(task)
    t = Table(title=f"rdu sim — {params.name}")
    for col in ("case", "pass", "cycles", "wall s", "detail"):
        t.add_column(col)
    for r in results:
        t.add_row(r["case"], "[green]PASS[/]" if r["passed"] else
                  ("[yellow]SKIP[/]" if r.get("skipped") else "[red]FAIL[/]"),
                  "" if r["cycles"] is None else str(r["cycles"]), f"{r['wall_s']:.1f}", r["detail"])
    con.print(t)
    ok = all(r["passed"] or r.get("skipped") for r in results) and any(r["passed"] for r in results)
    con.print(f"{sum(r['passed'] for r in results)}/{len(results)} passed"
              + ("" if ok else f" — rerun with RDU_SEED={seed}"))
    if json_out:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        with open(json_out, "w") as f:
            json.dump({"config": params.name, "seed": seed, "results": results}, f, indent=2)
    return 0 if ok else 1
