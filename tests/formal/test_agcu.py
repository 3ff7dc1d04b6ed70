"""Formal check of the AGCU's outstanding-read tracking (memory.agcu.OutstandingTags;
docs/verification.md).

The contract plays the AGCU around it: it issues a read only while fewer than N are in flight (its
credit) and pops the oldest only once that one's response has arrived; the DRAM side is any
sequence of responses with any tag, at any time — stray and repeated ones included. One slot
``t`` (an arbitrary constant) is followed through its life: free → issued → answered → free.
Properties:

* ``one slot per read`` — a read is given slot ``t`` only while ``t`` is free (no tag is reused
  while its read is in flight), and ``t`` is in flight exactly while it lies in the window of
  ``count`` slots from ``head`` (slots are used in issue order);
* ``no response without a request`` — a response is accepted for ``t`` only while ``t``'s read is
  in flight and unanswered (so every read gets at most one response, and strays are ignored);
* ``response taken`` — a response for ``t``'s read in flight is accepted (none is lost);
* ``data after its response`` — the oldest read leaves only after its response;
* ``count within N`` — at most N reads in flight.

The slots' arrived bits are internal, so k-induction does not close; the check is bounded, at a
depth where every slot is used twice.
"""

import pytest
from amaranth import Elaboratable, Module, Mux, Signal
from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Assume

from memory.agcu import OutstandingTags

from . import mutants

N = 3           # slots: not a power of two, so the tags wrap before the tag field does
TAG_BITS = 3    # tags up to 7: responses with tags of no slot are possible


class TagsContract(Elaboratable):
    def __init__(self, dut):
        self.dut = dut

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        n = dut.n
        m.d.comb += [dut.issue.eq(AnySeq(1)), dut.pop.eq(AnySeq(1)),
                     dut.resp_valid.eq(AnySeq(1)), dut.resp_tag.eq(AnySeq(dut.tag_bits)),
                     Assume(~dut.issue | (dut.count < n)), Assume(~dut.pop | dut.arrived)]
        t = AnyConst(range(n))
        m.d.comb += Assume(t < n)
        issued = Signal()       # t's read is in flight
        answered = Signal()     # ... and its response has come
        with m.If(dut.issue & (dut.tail == t)):
            m.d.comb += Assert(~issued, "one slot per read")
            m.d.sync += issued.eq(1)
        resp_t = dut.resp_valid & (dut.resp_tag == t)
        with m.If(resp_t & dut.accept):
            m.d.comb += Assert(issued & ~answered, "no response without a request")
            m.d.sync += answered.eq(1)
        with m.If(resp_t & issued & ~answered):
            m.d.comb += Assert(dut.accept, "response taken")
        with m.If(dut.resp_valid & (dut.resp_tag >= n)):
            m.d.comb += Assert(~dut.accept, "no response without a request")
        with m.If(dut.pop & (dut.head == t)):
            m.d.comb += Assert(issued & answered, "data after its response")
            m.d.sync += [issued.eq(0), answered.eq(0)]
        # t is in flight exactly while it lies in the window [head, head + count) of the ring
        ahead = Signal(range(n))
        m.d.comb += ahead.eq(Mux(t >= dut.head, t - dut.head, t + n - dut.head))
        m.d.comb += [Assert(dut.count <= n, "count within N"),
                     Assert((issued == (ahead < dut.count)) & (~answered | issued),
                            "one slot per read")]
        return m


def test_outstanding_tags(prove):
    prove(TagsContract(OutstandingTags(N, TAG_BITS)), "agcu_tags", "bmc", 2 * N + 4)


@pytest.mark.parametrize("make, prop", [
    (mutants.TrustsEveryResponse, "no response without a request"),
    (mutants.SkipsLastSlot, "one slot per read"),
    (mutants.PopsEarly, "data after its response"),
    (mutants.IgnoresSlotZero, "response taken"),
], ids=["trusts_every_response", "skips_last_slot", "pops_early", "ignores_slot_zero"])
def test_outstanding_tags_mutant_is_caught(refute, make, prop):
    refute(TagsContract(make(N, TAG_BITS)), make.__name__, "bmc", 2 * N + 4, prop)
