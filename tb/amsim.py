"""Stream drivers for Amaranth-simulator testbenches (the fast level for small blocks).

The same roles as :mod:`tb.stream` (source / sink with random pauses) for
``amaranth.sim.Simulator`` async testbenches::

    sim = Simulator(dut); sim.add_clock(1e-8)
    sim.add_testbench(source(dut.i, items, PauseGenerator(0.3, seed)))
    got = []; sim.add_testbench(sink(dut.o, n, got, PauseGenerator(0.3, seed + 1)))
    with watchdog(sim, cycles=10_000, what="fifo"): sim.run()
"""

from __future__ import annotations

import contextlib

from amaranth.sim import Simulator

from tb.stream import PauseGenerator

__all__ = ["source", "sink", "run", "PauseGenerator"]


def _raw(payload):
    # Layout-typed payloads (Views) are driven and sampled as plain integers.
    return payload.as_value() if hasattr(payload, "as_value") else payload


def source(port, items, pause=None):
    """Testbench coroutine driving ``port`` (a stream sink side of the DUT) with ``items``
    (integers; layout payloads take their flattened value)."""
    pause = pause or PauseGenerator()
    payload = _raw(port.payload)

    async def testbench(ctx):
        for item in items:
            while pause():
                ctx.set(port.valid, 0)
                await ctx.tick()
            ctx.set(payload, item)
            ctx.set(port.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(port.ready)
                if ready:
                    break
        ctx.set(port.valid, 0)
    return testbench


def sink(port, n, out, pause=None):
    """Testbench coroutine collecting ``n`` payloads (as integers) from ``port`` into ``out``."""
    pause = pause or PauseGenerator()
    raw = _raw(port.payload)

    async def testbench(ctx):
        while len(out) < n:
            ready = not pause()
            ctx.set(port.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(port.valid, raw)
            if ready and valid:
                out.append(payload)
        ctx.set(port.ready, 0)
    return testbench


def run(dut, *testbenches, processes=(), deadline_cycles=100_000, what="dut", vcd=None):
    """Simulate ``dut`` with a 100 MHz clock until every testbench returns. A watchdog process fails
    the run, naming ``what``, if that takes more than ``deadline_cycles``."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for b in testbenches:
        sim.add_testbench(b)
    for p in processes:
        sim.add_process(p)

    async def watchdog(ctx):
        for _ in range(deadline_cycles):
            await ctx.tick()
        raise AssertionError(f"{what}: testbenches still running after {deadline_cycles} cycles "
                             f"(a stream stalled or a handshake never completed)")
    sim.add_process(watchdog)
    ctx = sim.write_vcd(vcd) if vcd else contextlib.nullcontext()
    with ctx:
        sim.run()
    return sim
