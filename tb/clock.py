"""Clock and reset for cocotb tests (the clock runs in C: cocotb's GPI clock)."""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

__all__ = ["start_clock", "reset"]

PERIOD_NS = 10


def start_clock(dut, name="clk"):
    clk = getattr(dut, name)
    cocotb.start_soon(Clock(clk, PERIOD_NS, unit="ns").start())
    return clk


async def reset(dut, cycles=2, clk="clk", rst="rst"):
    getattr(dut, rst).value = 1
    await ClockCycles(getattr(dut, clk), cycles)
    getattr(dut, rst).value = 0
