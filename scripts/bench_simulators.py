"""Simulation speed of one design under the Amaranth simulator and cocotb + Verilator.

The design is the smoke MAC pipeline (hw.smoke, 4 lanes). Two testbench styles for each simulator:

* *driven* — the Python testbench drives valid/payload and ready every cycle (no pauses);
* *free-running* — data preloaded into HDL-side memories (tb.harness), Python waits for ``done``.

cycles/s = simulated cycles ÷ wall seconds of the measured region (simulator start-up and Verilator
compilation excluded; the Verilator free-running figure is the second run in one process).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
from amaranth.sim import Simulator

from hw.smoke import MacParams, MacPipeline
from scripts.bench import cli
from tb import amsim, env, freerun, runner
from tb.harness import StreamHarness

TITLE = "Simulation speed: Amaranth simulator vs cocotb + Verilator (MAC pipeline, 4 lanes)"


def _amaranth_driven(p, n):
    dut = MacPipeline(p)
    words = [int(x) for x in np.arange(n)]
    got = []

    async def setup(ctx):
        ctx.set(dut.acc_len, 4)
    t0 = time.perf_counter()
    amsim.run(dut, setup, amsim.source(dut.i, words), amsim.sink(dut.o, n // 4, got),
              deadline_cycles=4 * n + 100)
    wall = time.perf_counter() - t0
    return n + 3, wall


def _amaranth_free(p, n):
    h = StreamHarness(MacPipeline(p), n, n // 4, backend="amaranth", init_in=list(range(n)),
                      passthrough=("acc_len",))
    sim = Simulator(h)
    sim.add_clock(1e-8)
    res = {}

    async def bench(ctx):
        ctx.set(h.n_in, n)
        ctx.set(h.n_out, n // 4)
        ctx.set(h.acc_len, 4)
        ctx.set(h.seed, 1)
        ctx.set(h.start, 1)
        await ctx.tick()
        ctx.set(h.start, 0)
        t0 = time.perf_counter()
        await ctx.tick().until(h.done)
        res["wall"] = time.perf_counter() - t0
        res["cycles"] = ctx.get(h.cycles)
    sim.add_testbench(bench)
    sim.run()
    return res["cycles"], res["wall"]


def _verilator_driven(p, n):
    d = runner.Design.from_component(MacPipeline(p), "bench_mac")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        runner.simulate(d, "tb.cocotb_mac_speed", seed=1,
                        env=env.encode(lanes=p.lanes, vectors=n, acc_len=4, result=str(out)))
        r = json.loads(out.read_text())
    return r["cycles"], r["wall_s"]


def _verilator_free(p, n):
    h = StreamHarness(MacPipeline(p), n, n // 4, passthrough=("acc_len",))
    d = freerun.design_for(h, "bench_mac_harness")
    r = freerun.run(d, h, list(range(n)), n // 4, seed=1, passthrough={"acc_len": 4}, repeat=3)
    return r.cycles, r.wall_s


def run(quick=False):
    p = MacParams(lanes=4)
    n_small = 2_000 if quick else 10_000
    n_big = 20_000 if quick else 200_000
    measures = [
        ("amaranth", "driven", _amaranth_driven, n_small),
        ("amaranth", "free-running", _amaranth_free, n_small),
        ("verilator", "driven", _verilator_driven, n_small * 4),
        ("verilator", "free-running", _verilator_free, n_big),
    ]
    rows = []
    speeds = {}
    for sim, style, fn, n in measures:
        cycles, wall = fn(p, n)
        speeds[(sim, style)] = cycles / wall
        rows.append({"simulator": sim, "testbench": style, "vectors": n, "cycles": cycles,
                     "wall_s": round(wall, 3), "cycles_per_s": round(cycles / wall)})
    for r in rows:
        base = speeds[("amaranth", r["testbench"])]
        r["vs_amaranth"] = round(r["cycles_per_s"] / base, 1)
    notes = [f"verilator free-running / verilator driven = "
             f"{speeds[('verilator', 'free-running')] / speeds[('verilator', 'driven')]:.1f}x",
             f"verilator free-running / amaranth driven = "
             f"{speeds[('verilator', 'free-running')] / speeds[('amaranth', 'driven')]:.1f}x"]
    return {"rows": rows, "notes": notes}


if __name__ == "__main__":
    raise SystemExit(cli(__name__))
