"""Deliberately broken variants of the checked blocks, one broken property each: the formal checks
must find every one of them (tests/formal/test_*.py). Each wraps the real block and breaks one
promise at its ports, so the check still runs the shipped RTL."""

from amaranth import Module, Signal
from amaranth.lib import wiring

from hw.stream import PipeReg, SkidBuffer, StreamFIFO


def _wrap(m, inner, outer):
    m.submodules.inner = inner
    wiring.connect(m, wiring.flipped(outer.i), inner.i)
    wiring.connect(m, inner.o, wiring.flipped(outer.o))


class FIFOAcceptsWhenFull(StreamFIFO):
    """Says ``ready`` while full and drops the word (breaks ``occupancy``)."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = StreamFIFO(self._shape, self._depth)
        m.d.comb += [inner.i.payload.eq(self.i.payload), inner.i.valid.eq(self.i.valid),
                     self.i.ready.eq(1), self.level.eq(inner.level)]
        wiring.connect(m, inner.o, wiring.flipped(self.o))
        return m


class FIFOHoldsLastWord(StreamFIFO):
    """Offers a word only while it holds two or more: the last word waits for the next one
    (breaks ``progress``)."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = StreamFIFO(self._shape, self._depth)
        wiring.connect(m, wiring.flipped(self.i), inner.i)
        more = inner.level > 1
        m.d.comb += [self.o.payload.eq(inner.o.payload), self.o.valid.eq(inner.o.valid & more),
                     inner.o.ready.eq(self.o.ready & more), self.level.eq(inner.level)]
        return m


class SkidPayloadWobbles(SkidBuffer):
    """Flips a payload bit in every cycle its output stalls (breaks ``payload stable``)."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = SkidBuffer(self._shape)
        wiring.connect(m, wiring.flipped(self.i), inner.i)
        flip = Signal()
        with m.If(inner.o.valid & ~self.o.ready):
            m.d.sync += flip.eq(~flip)
        m.d.comb += [self.o.payload.eq(inner.o.payload ^ flip), self.o.valid.eq(inner.o.valid),
                     inner.o.ready.eq(self.o.ready)]
        return m


class SkidCorruptsWord(SkidBuffer):
    """Changes every second word it takes (breaks ``order``: the output is not the input)."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = SkidBuffer(self._shape)
        odd = Signal()
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += odd.eq(~odd)
        m.d.comb += [inner.i.payload.eq(self.i.payload ^ odd), inner.i.valid.eq(self.i.valid),
                     self.i.ready.eq(inner.i.ready)]
        wiring.connect(m, inner.o, wiring.flipped(self.o))
        return m


class PipeRegDropsValid(PipeReg):
    """Withdraws ``valid`` after one stalled cycle (breaks ``valid held until accepted``)."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = PipeReg(self._shape)
        wiring.connect(m, wiring.flipped(self.i), inner.i)
        stalled = Signal()
        m.d.sync += stalled.eq(self.o.valid & ~self.o.ready)
        m.d.comb += [self.o.payload.eq(inner.o.payload), self.o.valid.eq(inner.o.valid & ~stalled),
                     inner.o.ready.eq(self.o.ready)]
        return m


class PipeRegStarves(PipeReg):
    """``i.ready = o.ready``: an empty register refuses words while the consumer waits (breaks
    ``accepts when not full``)."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = PipeReg(self._shape)
        wiring.connect(m, inner.o, wiring.flipped(self.o))
        m.d.comb += [inner.i.payload.eq(self.i.payload),
                     inner.i.valid.eq(self.i.valid & self.o.ready),
                     self.i.ready.eq(self.o.ready & inner.i.ready)]
        return m
