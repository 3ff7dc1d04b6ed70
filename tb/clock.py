"""Clock and reset for cocotb tests.

The clock is cocotb's GPI clock (``impl="gpi"``): its edges are scheduled in the simulator
interface's C++, so a free-running test costs no Python per cycle (cocotb's ``impl="py"`` clock
wakes a coroutine on every edge).

When the parent process asks for progress (``RDU_PROGRESS_FILE``, :func:`tb.progress.watch_sim`),
:func:`start_clock` also starts a coroutine that writes the cycle count to that file every
:data:`PROGRESS_CYCLES` cycles: one Python wake-up per that many cycles.
"""

import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, Timer

__all__ = ["start_clock", "reset"]

PERIOD_NS = 10

#: Cycles between two progress reports.
PROGRESS_CYCLES = 5_000


async def _report_progress(path):
    tmp = f"{path}.tmp"
    while True:
        await Timer(PROGRESS_CYCLES * PERIOD_NS, unit="ns")
        with open(tmp, "w") as f:   # noqa: ASYNC230 (a few bytes, once per many cycles)
            f.write(f"{int(get_sim_time('ns') // PERIOD_NS)} {time.monotonic()}\n")
        os.replace(tmp, path)


def start_clock(dut, name="clk"):
    clk = getattr(dut, name)
    cocotb.start_soon(Clock(clk, PERIOD_NS, unit="ns", impl="gpi").start())
    path = os.environ.get("RDU_PROGRESS_FILE")
    if path:
        cocotb.start_soon(_report_progress(path))
    return clk


async def reset(dut, cycles=2, clk="clk", rst="rst"):
    getattr(dut, rst).value = 1
    await ClockCycles(getattr(dut, clk), cycles)
    getattr(dut, rst).value = 0
