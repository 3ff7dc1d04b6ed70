"""Clock and reset for cocotb tests.

The clock is cocotb's GPI clock (``impl="gpi"``): its edges are scheduled in the simulator
interface's C++, so a free-running test costs no Python per cycle (cocotb's ``impl="py"`` clock
wakes a coroutine on every edge)."""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

__all__ = ["start_clock", "reset"]

PERIOD_NS = 10


def start_clock(dut, name="clk"):
    clk = getattr(dut, name)
    cocotb.start_soon(Clock(clk, PERIOD_NS, unit="ns", impl="gpi").start())
    return clk


async def reset(dut, cycles=2, clk="clk", rst="rst"):
    getattr(dut, rst).value = 1
    await ClockCycles(getattr(dut, clk), cycles)
    getattr(dut, rst).value = 0
