"""One PCU functional unit behind valid/ready streams — the DUT of the free-running arithmetic
tests of :class:`tiles.pcu_fu.LaneFU` (gate-level or behavioural: the build's arithmetic mode,
``tb.runner.arith_mode``, decides which one the unit elaborates to).

:class:`FUStream` feeds ``i`` (``op a b c frac``, :attr:`FUStream.LAYOUT`) into the unit and
writes its result into an output FIFO ``latency`` cycles later. The unit never stalls (as in a
PCU), so the input is gated by credits instead: a word is taken only while the words in flight
plus those in the FIFO leave room for it. Latency ``latency + 1`` cycles, throughput one word per
cycle under any backpressure.
"""

from __future__ import annotations

import numpy as np
from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.stream import StreamFIFO
from tiles.pcu_fu import LaneFU

__all__ = ["FUStream"]


class FUStream(wiring.Component):
    """``LaneFU(classes, latency, comb=comb, mul=mul)`` behind an input and an output stream."""

    LAYOUT = data.StructLayout({"a": 32, "b": 32, "c": 32, "op": 6, "frac": 5})

    def __init__(self, classes, latency=None, comb=False, mul=True):
        self.fu = LaneFU(classes, latency, comb=comb, mul=mul)
        self.latency = self.fu.latency
        depth = 4
        while depth < self.latency + 2:
            depth *= 2
        #: output FIFO depth (also the credit limit)
        self.depth = depth
        super().__init__({"i": In(stream.Signature(self.LAYOUT)),
                          "o": Out(stream.Signature(32))})

    @classmethod
    def pack(cls, op, a, b, c, frac):
        """Input payloads (Python ints) of operand arrays (numpy or ints, broadcast)."""
        cols = np.broadcast_arrays(*(np.asarray(v, np.uint64) for v in (op, a, b, c, frac)))
        return [int(x) | (int(y) << 32) | (int(z) << 64) | (int(o) << 96) | (int(f) << 102)
                for o, x, y, z, f in zip(*cols)]

    def elaborate(self, platform):
        m = Module()
        m.submodules.fu = fu = self.fu
        m.submodules.q = q = StreamFIFO(32, self.depth)
        pl = self.i.payload
        m.d.comb += [fu.op.eq(pl.op), fu.a.eq(pl.a), fu.b.eq(pl.b), fu.c.eq(pl.c),
                     fu.frac.eq(pl.frac)]
        inflight = Signal(range(self.depth + 1))
        room = Signal()
        m.d.comb += [room.eq(q.level + inflight < self.depth), self.i.ready.eq(room)]
        fire = self.i.valid & room
        valid = fire
        for k in range(self.latency):
            v = Signal(name=f"valid_d{k}")
            m.d.sync += v.eq(valid)
            valid = v
        m.d.comb += [q.i.valid.eq(valid), q.i.payload.eq(fu.o)]
        m.d.sync += inflight.eq(inflight + fire - valid)
        wiring.connect(m, q.o, wiring.flipped(self.o))
        return m
