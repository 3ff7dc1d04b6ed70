"""Formal check of the PMU's slot accounting (tiles.pmu.SlotCounters; docs/pmu.md,
docs/verification.md): the token / credit up-down counters of N-buffering and FIFO synchronisation.

The contract plays both address pipelines as the PMU runs them: each has at most one slot in
flight, begins a slot only when the counters allow it (``w_ok`` / ``r_ok``, the arbiter's gate)
and finishes it any number of cycles later, the next one beginning at the earliest in that cycle.
``N`` (the ``slots`` field) is an arbitrary constant from 1 to the largest the counter width
holds; fill and free are each, by an arbitrary constant choice, the pipelines' own events or
control tokens from well-behaved neighbours (a producer fills only while it has credit, i.e. fewer
than N slots are readable; a consumer frees only slots whose reads have finished), arriving at any
time. Properties:

* ``held within N`` — slots held (written, not freed) plus the one being written never exceed N,
  and the count never goes below zero (it would wrap above N);
* ``filled within N`` — readable slots never exceed N (with the PMU's own fill and free: the held
  ones);
* ``read after write`` — a read slot in flight is counted as filled, and with its own fill, read
  slots begun never exceed write slots finished (no read of a region before its write is done);
* ``write after read`` — with its own fill and free: write slots begun never exceed read slots
  finished plus N (no region is overwritten before its reads are done);
* ``held = filled + unfreed`` — with its own fill: every held slot is readable, or read and not
  yet freed (by a token);
* ``no deadlock`` — an idle writer with fewer than N held, an idle reader with a filled slot, may
  begin.

The counters are registers compared with the contract's own counts, so k-induction closes: the
properties hold for every cycle.
"""

import pytest
from amaranth import Elaboratable, Module, Mux, Signal, signed
from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Assume

from tiles.pmu import SlotCounters

from . import mutants

BITS = 4    # slot_bits for up to 7 buffers; N ranges over 1..15


class SlotContract(Elaboratable):
    def __init__(self, dut):
        self.dut = dut

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        bits = dut.bits
        n = AnyConst(bits)
        own_fill, own_free = AnyConst(1), AnyConst(1)
        m.d.comb += [Assume(n >= 1), dut.slots.eq(n), dut.start.eq(0)]

        # The two pipelines: begin a slot when allowed, one in flight, finish it later.
        w_busy, r_busy = Signal(), Signal()
        w_begin, r_begin = Signal(), Signal()
        m.d.comb += [w_begin.eq(AnySeq(1)), r_begin.eq(AnySeq(1)),
                     dut.wslot.eq(AnySeq(1)), dut.rslot.eq(AnySeq(1))]
        for busy, begin, ok, end in ((w_busy, w_begin, dut.w_ok, dut.wslot),
                                     (r_busy, r_begin, dut.r_ok, dut.rslot)):
            m.d.comb += [Assume(~end | busy), Assume(~begin | ok),
                         Assume(~begin | ~busy | end)]
            m.d.sync += busy.eq(begin | (busy & ~end))
        # Tokens from well-behaved neighbours: a producer fills only while it has credit (fewer
        # than N slots readable), a consumer frees only slots whose reads have finished.
        tok_fill, tok_free = Signal(), Signal()
        unfreed = Signal(range(1 << (bits + 1)))    # read slots finished and not yet freed
        m.d.comb += [tok_fill.eq(AnySeq(1)), tok_free.eq(AnySeq(1)),
                     Assume(~tok_fill | (dut.rcount < n)),
                     Assume(~tok_free | (unfreed != 0))]
        m.d.sync += unfreed.eq(unfreed + dut.rslot - tok_free)
        m.d.comb += [dut.fill.eq(Mux(own_fill, dut.wslot, tok_fill)),
                     dut.free.eq(Mux(own_free, dut.rslot, tok_free))]

        # Slot sequence numbers, as differences: write slots finished - read slots begun, and
        # read slots finished + N - write slots begun.
        cnt = signed(bits + 3)
        raw = Signal(cnt)      # written, not yet begun reading
        war = Signal(cnt)      # room for writes left by finished reads
        m.d.sync += [raw.eq(raw + dut.wslot - r_begin), war.eq(war + dut.rslot - w_begin)]
        first = Signal(init=1)
        m.d.sync += first.eq(0)
        wcount, rcount = dut.wcount, dut.rcount
        m.d.comb += [
            Assert(wcount + w_busy <= n, "held within N"),
            Assert((rcount <= n) & (~(own_fill & own_free) | (rcount <= wcount)),
                   "filled within N"),
            # a read in flight has its filled slot; with its own fill: counted from the writes
            Assert((rcount >= r_busy) & (~own_fill | ((raw >= 0) & (raw == rcount - r_busy))),
                   "read after write"),
            Assert(~(own_fill & own_free) | ((war + n >= 0) & (war + n == n - wcount - w_busy)),
                   "write after read"),
            # with its own fill, a held slot is readable or read and not yet freed
            Assert(~own_fill | (wcount == rcount + Mux(own_free, 0, unfreed)),
                   "held = filled + unfreed"),
            Assert((w_busy | (wcount >= n) | dut.w_ok) & (r_busy | (rcount == 0) | dut.r_ok),
                   "no deadlock"),
        ]
        return m


def test_slot_counters(prove):
    prove(SlotContract(SlotCounters(BITS)), "pmu_slots", "prove", 3)


@pytest.mark.parametrize("make, prop", [
    (mutants.AdmitsOneMore, "held within N"),
    (mutants.ReadsUnfilled, "read after write"),
    (mutants.HoldsOneBack, "no deadlock"),
], ids=["admits_one_more", "reads_unfilled", "holds_one_back"])
def test_slot_counters_mutant_is_caught(refute, make, prop):
    refute(SlotContract(make(BITS)), make.__name__, "bmc", 6, prop)
