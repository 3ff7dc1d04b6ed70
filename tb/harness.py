"""HDL-side testbench harness: free-running stream tests with no Python in the cycle loop.

:class:`StreamHarness` wraps a DUT that has one input stream ``i`` and one output stream ``o``:

* a source memory (:class:`hw.backdoor.BackdoorMemory`) preloaded with ``n_in`` input words replays
  them into ``i``, pausing ``valid`` at random (an xorshift32 generator; pause probability
  ``pause_src / 256``);
* a sink memory captures ``n_out`` output words, dropping ``ready`` at random (``pause_sink / 256``);
* ``done`` rises when the last output is captured; ``cycles`` counts from ``start``;
* a watchdog raises ``stalled`` if neither stream moves for ``watchdog`` cycles (``stall_in`` /
  ``stall_out`` say which side was waiting).

The Python side (``tb.freerun``) writes the hex files, pulses ``load`` and ``start``, waits once for
``done``, pulses ``dump`` and reads the results: Python wakes a handful of times per test instead
of every cycle. Other DUT inputs (e.g. ``acc_len``) are exposed as harness ports with the same name.
"""

from __future__ import annotations

from amaranth import Module, Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.backdoor import BackdoorMemory
from hw.stream import StreamFIFO
from hw.util import xorshift32_rtl

__all__ = ["StreamHarness"]


class StreamHarness(wiring.Component):
    """Free-running harness around ``dut`` (see module docstring).

    Parameters: ``dut`` (component with ``i``/``o`` streams), ``depth_in``/``depth_out`` (memory
    words), ``backend`` (``"verilator"`` or ``"amaranth"``), ``init_in`` (source contents for the
    Amaranth backend), ``passthrough`` (names of other DUT input ports to expose), ``watchdog``
    (idle cycles before ``stalled``).
    """

    def __init__(self, dut, depth_in, depth_out, backend="verilator", init_in=(),
                 passthrough=(), watchdog=4096):
        self.dut = dut
        self.in_width = Shape.cast(dut.i.payload.shape()).width
        self.out_width = Shape.cast(dut.o.payload.shape()).width
        self.depth_in = depth_in
        self.depth_out = depth_out
        self.backend = backend
        self.watchdog_cycles = watchdog
        self.src = BackdoorMemory(self.in_width, depth_in, "src", backend, init_in)
        self.snk = BackdoorMemory(self.out_width, depth_out, "snk", backend)
        self.passthrough = tuple(passthrough)
        members = {
            "start": In(1), "load": In(1), "dump": In(1),
            "n_in": In(32), "n_out": In(32), "seed": In(32),
            "pause_src": In(8), "pause_sink": In(8),
            "done": Out(1), "cycles": Out(32), "stalled": Out(1),
            "stall_in": Out(1), "stall_out": Out(1),
        }
        for name in self.passthrough:
            members[name] = In(getattr(dut, name).shape())
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        m.submodules.src = src = self.src
        m.submodules.snk = snk = self.snk
        for name in self.passthrough:
            m.d.comb += getattr(dut, name).eq(getattr(self, name))
        m.d.comb += [src.load.eq(self.load), snk.dump.eq(self.dump)]

        running = Signal()
        rng_src = Signal(32)
        rng_snk = Signal(32)
        nxt_src = xorshift32_rtl(m, rng_src)
        nxt_snk = xorshift32_rtl(m, rng_snk)
        m.d.sync += [rng_src.eq(nxt_src), rng_snk.eq(nxt_snk)]

        # Source: memory reads run ahead into an 8-word FIFO (reads in flight are counted, so it
        # never overflows); the FIFO feeds i at one word per cycle, gated by random pauses.
        m.submodules.src_q = q = StreamFIFO(self.in_width, 8)
        fetched = Signal(32)
        rd_pending = Signal()
        can_fetch = running & (fetched < self.n_in) & ((q.level + rd_pending) < 6)
        m.d.comb += src.raddr.eq(fetched[: src.abits])
        m.d.sync += rd_pending.eq(can_fetch)
        with m.If(can_fetch):
            m.d.sync += fetched.eq(fetched + 1)
        m.d.comb += [q.i.payload.eq(src.rdata), q.i.valid.eq(rd_pending)]
        src_pause = Signal()
        m.d.comb += src_pause.eq(rng_src[:8] < self.pause_src)
        m.d.comb += [dut.i.payload.eq(q.o.payload), dut.i.valid.eq(q.o.valid & ~src_pause),
                     q.o.ready.eq(dut.i.ready & ~src_pause)]

        # Sink: random ready; every accepted word is written to the sink memory.
        got = Signal(32)
        snk_pause = Signal()
        m.d.comb += snk_pause.eq(rng_snk[:8] < self.pause_sink)
        m.d.comb += dut.o.ready.eq(running & ~snk_pause)
        m.d.comb += [snk.we.eq(dut.o.valid & dut.o.ready), snk.waddr.eq(got[: snk.abits]),
                     snk.wdata.eq(dut.o.payload)]
        with m.If(dut.o.valid & dut.o.ready):
            m.d.sync += got.eq(got + 1)

        # Run control, cycle counter, watchdog.
        idle = Signal(range(self.watchdog_cycles + 1))
        with m.If(self.start):
            m.d.sync += [running.eq(1), fetched.eq(0), got.eq(0), self.cycles.eq(0), self.done.eq(0), idle.eq(0),
                         self.stalled.eq(0), rng_src.eq(self.seed | 1),
                         rng_snk.eq((self.seed ^ 0x9E3779B9) | 1)]
        with m.Elif(running):
            m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.If((got + (dut.o.valid & dut.o.ready)) >= self.n_out):
                m.d.sync += [running.eq(0), self.done.eq(1)]
            moved = (dut.i.valid & dut.i.ready) | (dut.o.valid & dut.o.ready)
            with m.If(moved):
                m.d.sync += idle.eq(0)
            with m.Elif(idle == self.watchdog_cycles):
                m.d.sync += [running.eq(0), self.stalled.eq(1),
                             self.stall_in.eq(dut.i.valid & ~dut.i.ready),
                             self.stall_out.eq(~dut.o.valid)]
            with m.Else():
                m.d.sync += idle.eq(idle + 1)
        return m
