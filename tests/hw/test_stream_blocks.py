"""hw.stream blocks under the Amaranth simulator: random backpressure, no loss, no duplication."""

import numpy as np
import pytest

from hw.stream import PipeReg, SkidBuffer, StreamFIFO
from tb import amsim
from tb.stream import PauseGenerator


@pytest.mark.parametrize("make", [lambda: StreamFIFO(16, 4), lambda: StreamFIFO(16, 1),
                                  lambda: SkidBuffer(16), lambda: PipeReg(16)],
                         ids=["fifo4", "fifo1", "skid", "pipereg"])
@pytest.mark.parametrize("pauses", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.4, 0.6)])
def test_no_loss_no_duplication(make, pauses):
    dut = make()
    items = [int(x) for x in np.random.default_rng(7).integers(0, 1 << 16, 300)]
    got = []
    amsim.run(dut, amsim.source(dut.i, items, PauseGenerator(pauses[0], 1)),
              amsim.sink(dut.o, len(items), got, PauseGenerator(pauses[1], 2)),
              what=type(dut).__name__)
    assert got == items


@pytest.mark.parametrize("make", [lambda: StreamFIFO(16, 4), lambda: StreamFIFO(16, 3),
                                  lambda: StreamFIFO(16, 2), lambda: SkidBuffer(16),
                                  lambda: PipeReg(16)],
                         ids=["fifo", "fifo3", "fifo2", "skid", "pipereg"])
def test_full_throughput(make):
    """With no pauses, one word per cycle after the first latency (a depth-2 FIFO ran at half rate
    before it became a skid buffer: tests/formal/test_stream.py)."""
    dut = make()
    items = list(range(100))
    got = []
    cycles = []

    async def count(ctx):
        n = 0
        while len(got) < len(items):
            await ctx.tick()
            n += 1
        cycles.append(n)
    amsim.run(dut, amsim.source(dut.i, items), amsim.sink(dut.o, len(items), got), count)
    assert got == items
    assert cycles[0] <= len(items) + 3


def test_fifo_high_water():
    dut = StreamFIFO(8, 8)
    got = []
    hw = []

    async def slow_sink(ctx):
        await ctx.tick().repeat(20)       # let the FIFO fill
        hw.append(ctx.get(dut.high_water))
        await amsim.sink(dut.o, 10, got)(ctx)
    amsim.run(dut, amsim.source(dut.i, list(range(10))), slow_sink)
    assert got == list(range(10))
    assert hw[0] == 8


def test_fifo_rejects_zero_depth():
    with pytest.raises(ValueError, match="depth = 0: must be >= 1"):
        StreamFIFO(8, 0)


def test_watchdog_names_the_unit():
    dut = PipeReg(8)
    with pytest.raises(AssertionError, match="pipereg-under-test: testbenches still running"):
        # the sink never asks for data: the source can push one word, then stalls
        amsim.run(dut, amsim.source(dut.i, [1, 2, 3]), deadline_cycles=100, what="pipereg-under-test")
