"""Formal check of the configuration ring stop (hw.config.ConfigStore; docs/verification.md).

The stop takes its unit id from its ``unit_id`` port, an arbitrary constant, so the check holds for
every id; the ring input carries any packets (op, unit, addr, data unconstrained) from a producer
that follows the handshake rules, the ring output any backpressure. Properties:

* ``config: write`` / ``args: write`` — a WRITE to this unit or to BROADCAST writes exactly the
  addressed configuration word or argument register in the cycle after its transfer; every other
  word keeps its value (packets for other units, READs, RESPs, other addresses);
* ``control: start`` / ``control: clear`` — the start and clear pulses are exactly the
  CONTROL writes to this unit or BROADCAST with bit 0 / bit 1 set, one cycle after;
* ``ring: order`` (with the other :class:`hw.formal.OrderTracker` properties) — the ring output is
  the ring input with this unit's WRITEs consumed and its READs turned into RESPs carrying the
  addressed word, everything else (other units, BROADCAST writes, RESPs) passed on unchanged and in
  order; so a READ sent after a group of packets comes back after all of them (the fence) and
  answers with the words as written before it;
* ``ring_o: ...`` — the ring output follows the handshake rules.
"""

import pytest
from amaranth import Elaboratable, Module, Mux, Signal, Value, unsigned
from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Assume
from amaranth.lib import data

from hw.config import BROADCAST, CFG_PACKET, UNIT_ID_PORT, AddressMap, ConfigStore, Op, UnitKind
from hw.formal import OrderTracker, drive_stream, handshake_rules, past

from . import mutants

#: 2 full words and a 6-bit one: word slicing and the partial last word are both covered
LAYOUT = data.StructLayout({"a": unsigned(32), "b": unsigned(32), "c": unsigned(6)})
N_ARGS = 2
N_COUNTERS = 1
KIND = UnitKind.PMU


def store():
    return ConfigStore(UNIT_ID_PORT, KIND, LAYOUT, n_args=N_ARGS, n_counters=N_COUNTERS)


class ConfigContract(Elaboratable):
    def __init__(self, dut, ring=True):
        self.dut = dut
        self.ring = ring

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        uid = AnyConst(12)
        m.d.comb += [Assume(uid < BROADCAST), dut.unit_id.eq(uid),
                     dut.busy.eq(AnySeq(1)), dut.done.eq(AnySeq(1)),
                     dut.counters.eq(AnySeq(32 * N_COUNTERS))]
        drive_stream(m, dut.ring_i, dut.ring_o)
        pkt = dut.ring_i.payload
        take = dut.ring_i.valid & dut.ring_i.ready
        mine = pkt.unit == uid
        write = take & (pkt.op == Op.WRITE) & (mine | (pkt.unit == BROADCAST))

        # Every register: the value it had, or the word a write addressed to it in the last cycle.
        started = past(m, 1, name="started")
        cfg = Value.cast(dut.config)
        words = [cfg[32 * w: min(32 * w + 32, len(cfg))] for w in range(-(-len(cfg) // 32))]
        for prop, regs, base in (("config: write", words, AddressMap.CONFIG),
                                 ("args: write", list(dut.args), AddressMap.ARG)):
            for k, reg in enumerate(regs):
                reg = Value.cast(reg)
                hit = past(m, write & (pkt.addr == base + k), name=f"hit_{prop[0]}{k}")
                data_ = past(m, pkt.data[:len(reg)], name=f"data_{prop[0]}{k}")
                before = past(m, reg, name=f"before_{prop[0]}{k}")
                with m.If(started):
                    m.d.comb += Assert(reg == Mux(hit, data_, before), prop)
        control = write & (pkt.addr == AddressMap.CONTROL)
        m.d.comb += [Assert(dut.start == past(m, control & pkt.data[0], name="exp_start"),
                            "control: start"),
                     Assert(dut.clear == past(m, control & pkt.data[1], name="exp_clear"),
                            "control: clear")]
        if not self.ring:
            return m

        # The ring: what must come out for each packet that goes in.
        rdata = Signal(32)
        with m.Switch(pkt.addr):
            for k, w in enumerate(words):
                with m.Case(AddressMap.CONFIG + k):
                    m.d.comb += rdata.eq(w)
            for k in range(N_ARGS):
                with m.Case(AddressMap.ARG + k):
                    m.d.comb += rdata.eq(dut.args[k])
            with m.Case(AddressMap.CONTROL):
                m.d.comb += rdata.eq(dut.busy | (dut.done << 1))
            with m.Case(AddressMap.IDENT):
                m.d.comb += rdata.eq((int(KIND) << 16) | uid)
            for k in range(N_COUNTERS):
                with m.Case(AddressMap.PERF + k):
                    m.d.comb += rdata.eq(dut.counters[k])
        expect = Signal(CFG_PACKET)
        m.d.comb += expect.eq(pkt)
        with m.If(mine & (pkt.op == Op.READ)):
            m.d.comb += [expect.op.eq(Op.RESP), expect.data.eq(rdata)]
        consumed = mine & (pkt.op == Op.WRITE)
        handshake_rules(m, dut.ring_o, Assert, "ring_o")
        OrderTracker(m, put=take & ~consumed, put_word=Value.cast(expect),
                     take=dut.ring_o.valid & dut.ring_o.ready,
                     take_word=Value.cast(dut.ring_o.payload), capacity=2, what="ring",
                     accept=dut.ring_i.ready, offered=dut.ring_o.valid,
                     head=Value.cast(dut.ring_o.payload))
        return m


def test_config_store_writes(prove):
    """The register properties alone close by k-induction (unbounded)."""
    prove(ConfigContract(store(), ring=False), "config_writes", "prove", 2)


def test_config_store_ring(prove):
    prove(ConfigContract(store()), "config_ring", "bmc", 8)


MUTANTS = mutants.store_mutants(KIND, LAYOUT, N_ARGS, N_COUNTERS)


@pytest.mark.parametrize("name", MUTANTS)
def test_config_store_mutant_is_caught(refute, name):
    make, prop = MUTANTS[name]
    refute(ConfigContract(make()), name, "bmc", 6, prop)
