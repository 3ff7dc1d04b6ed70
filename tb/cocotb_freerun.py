"""cocotb side of :mod:`tb.freerun` (runs inside the simulator; configured by files)."""

import json
import os
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer


@cocotb.test()
async def freerun(dut):
    tmp = Path(os.environ["RDU_FREERUN_DIR"])
    cfg = json.loads((tmp / "freerun.json").read_text())
    seed = int(os.environ.get("RDU_SEED", "1"))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for name in ("start", "load", "dump"):
        getattr(dut, name).value = 0
    dut.n_in.value = cfg["n_in"]
    dut.n_out.value = cfg["n_out"]
    dut.pause_src.value = cfg["pause_src"]
    dut.pause_sink.value = cfg["pause_sink"]
    for name, value in cfg["passthrough"].items():
        getattr(dut, name).value = int(value)
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    dut.load.value = 1
    await RisingEdge(dut.clk)
    dut.load.value = 0
    result = {}
    for r in range(cfg["repeat"]):
        dut.seed.value = (seed + r) & 0xFFFFFFFF
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        t0, c0 = time.perf_counter(), time.process_time()
        fired = await First(RisingEdge(dut.done), RisingEdge(dut.stalled),
                            Timer(cfg["timeout_cycles"] * 10, unit="ns"))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        await RisingEdge(dut.clk)
        if int(dut.stalled.value):
            side = ("the DUT's input (i.valid high, i.ready low)" if int(dut.stall_in.value) else
                    "the DUT's output (o.valid low)" if int(dut.stall_out.value) else "both sides")
            raise AssertionError(f"watchdog: no transfer for the harness's watchdog window after "
                                 f"{int(dut.cycles.value)} cycles; stalled on {side}")
        if not int(dut.done.value):
            raise AssertionError(f"timeout: not done after {cfg['timeout_cycles']} cycles")
        result = {"cycles": int(dut.cycles.value), "wall_s": wall, "cpu_s": cpu}
    dut.dump.value = 1
    await RisingEdge(dut.clk)
    dut.dump.value = 0
    await ClockCycles(dut.clk, 2)
    (tmp / "result.json").write_text(json.dumps(result))
