"""Deliberately broken variants of the checked blocks, one broken property each: the formal checks
must find every one of them (tests/formal/test_*.py). Each wraps the real block and breaks one
promise at its ports, so the check still runs the shipped RTL."""

from amaranth import Module, Signal, Value
from amaranth.lib import wiring

from hw.config import BROADCAST, UNIT_ID_PORT, AddressMap, ConfigStore, Op
from hw.net import NETWORKS
from hw.stream import PipeReg, SkidBuffer, StreamFIFO
from interconnect.switch import Switch
from memory.agcu import OutstandingTags
from tiles.pmu import SlotCounters


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
                     self.i.ready.eq(inner.i.ready | (inner.level == self._depth)),
                     self.level.eq(inner.level)]
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


# --- the configuration ring stop -------------------------------------------------------------

class _StoreWrapper(ConfigStore):
    """A ConfigStore around a real one, every port connected through unless a mutant rewires it."""

    def __init__(self):
        super().__init__(UNIT_ID_PORT, self.KIND, self.LAYOUT, n_args=self.N_ARGS,
                         n_counters=self.N_COUNTERS)

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = ConfigStore(UNIT_ID_PORT, self.KIND, self.LAYOUT,
                                                 n_args=self.N_ARGS, n_counters=self.N_COUNTERS)
        m.d.comb += [inner.unit_id.eq(self.unit_id), inner.busy.eq(self.busy),
                     inner.done.eq(self.done), inner.counters.eq(self.counters),
                     self.config.eq(inner.config), self.args.eq(inner.args)]
        self.rewire(m, inner)
        return m

    def rewire(self, m, inner):
        wiring.connect(m, wiring.flipped(self.ring_i), inner.ring_i)
        wiring.connect(m, inner.ring_o, wiring.flipped(self.ring_o))
        m.d.comb += [self.start.eq(inner.start), self.clear.eq(inner.clear)]


def store_mutants(kind, layout, n_args, n_counters):
    """The ConfigStore mutants for a store of these parameters (unit id from its port)."""
    base = type("Store", (_StoreWrapper,), {"KIND": kind, "LAYOUT": layout, "N_ARGS": n_args,
                                            "N_COUNTERS": n_counters})

    class WritesNeighboursWords(base):
        """Takes configuration WRITEs for unit id ^ 1 as its own (breaks ``config: write``)."""

        def rewire(self, m, inner):
            super().rewire(m, inner)
            pkt = self.ring_i.payload
            m.d.comb += inner.ring_i.payload.eq(pkt)
            with m.If((pkt.unit == (self.unit_id ^ 1)) & (pkt.op == Op.WRITE)
                      & (pkt.addr < AddressMap.CONFIG_WORDS)):
                m.d.comb += inner.ring_i.payload.unit.eq(self.unit_id)

    class SwallowsBroadcast(base):
        """Applies a BROADCAST write but does not pass it on (breaks ``ring: order``)."""

        def rewire(self, m, inner):
            super().rewire(m, inner)
            pkt = self.ring_i.payload
            m.d.comb += inner.ring_i.payload.eq(pkt)
            with m.If(pkt.unit == BROADCAST):
                m.d.comb += inner.ring_i.payload.unit.eq(self.unit_id)

    class AnswersWrongData(base):
        """Flips bit 0 of the data of every response it sends (breaks ``ring: order``)."""

        def rewire(self, m, inner):
            super().rewire(m, inner)
            out = inner.ring_o.payload
            m.d.comb += self.ring_o.payload.eq(out)
            with m.If(out.op == Op.RESP):
                m.d.comb += self.ring_o.payload.data.eq(out.data ^ 1)

    class MirrorsArgument(base):
        """Shows argument register 0 as register 1 too (breaks ``args: write``: register 1
        changes without a write to it)."""

        def rewire(self, m, inner):
            super().rewire(m, inner)
            m.d.comb += self.args[1].eq(inner.args[0])

    class StartsOnAnyUnit(base):
        """Pulses ``start`` for a START written to any unit (breaks ``control: start``)."""

        def rewire(self, m, inner):
            super().rewire(m, inner)
            pkt = self.ring_i.payload
            other = Signal()
            m.d.sync += other.eq(self.ring_i.valid & self.ring_i.ready & (pkt.op == Op.WRITE)
                                 & (pkt.addr == AddressMap.CONTROL) & pkt.data[0])
            m.d.comb += self.start.eq(inner.start | other)

    return {"writes_neighbours_words": (WritesNeighboursWords, "config: write"),
            "swallows_broadcast": (SwallowsBroadcast, "ring: order"),
            "answers_wrong_data": (AnswersWrongData, "ring: order"),
            "starts_on_any_unit": (StartsOnAnyUnit, "control: start"),
            "mirrors_argument": (MirrorsArgument, "args: write")}


# --- the switch ------------------------------------------------------------------------------

class _SwitchWrapper(Switch):
    """A Switch (``config`` port) around a real one: the outputs connected through, each input's
    handshake through :meth:`input_ready`."""

    def __init__(self, spec):
        super().__init__(spec)

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = Switch(self.spec)
        m.d.comb += Value.cast(inner.config).eq(Value.cast(self.config))
        for net in NETWORKS:
            ins = self.spec.inputs(net)
            for i in ins:
                outer, port = self.port(net, i, True), inner.port(net, i, True)
                selected = 0
                for o in self.spec.outputs(net):
                    if i in self.spec.allowed(net, o):
                        selected = selected | (self.config[net][o] == 1 + ins.index(i))
                m.d.comb += [port.valid.eq(outer.valid), port.payload.eq(outer.payload),
                             outer.ready.eq(self.input_ready(port.ready, selected))]
            for o in self.spec.outputs(net):
                wiring.connect(m, inner.port(net, o, False),
                               wiring.flipped(self.port(net, o, False)))
        return m


class SwitchIgnoresBackpressure(_SwitchWrapper):
    """Takes a word from a selected input even while its output cannot, dropping it (breaks the
    output's ``progress``: a word went in and never comes out)."""

    def input_ready(self, ready, selected):
        return ready | selected


class SwitchTakesUnselected(_SwitchWrapper):
    """Takes (and drops) words from an input no output selects (breaks ``no word taken without a
    taker``)."""

    def input_ready(self, ready, selected):
        return ready | ~selected


# --- the PMU's slot counters -----------------------------------------------------------------

class _SlotWrapper(SlotCounters):
    """SlotCounters around a real one; :meth:`gate` may change the ``w_ok`` / ``r_ok`` it gives."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = SlotCounters(self.bits)
        for name in ("slots", "start", "wslot", "rslot", "fill", "free"):
            m.d.comb += getattr(inner, name).eq(getattr(self, name))
        m.d.comb += [self.freed.eq(inner.freed), self.wcount.eq(inner.wcount),
                     self.rcount.eq(inner.rcount)]
        w_ok, r_ok = self.gate(inner)
        m.d.comb += [self.w_ok.eq(w_ok), self.r_ok.eq(r_ok)]
        return m


class AdmitsOneMore(_SlotWrapper):
    """Lets a write slot begin while N are held (breaks ``held within N``)."""

    def gate(self, inner):
        return inner.w_ok | (inner.wcount + inner.wslot == inner.slots), inner.r_ok


class ReadsUnfilled(_SlotWrapper):
    """Lets a read slot begin with no slot filled (breaks ``read after write``)."""

    def gate(self, inner):
        return inner.w_ok, inner.r_ok | (inner.rcount == 0)


class HoldsOneBack(_SlotWrapper):
    """Keeps one of the N slots unused: with N = 1 nothing is ever written (breaks ``no
    deadlock``)."""

    def gate(self, inner):
        return inner.w_ok & (inner.wcount + inner.wslot + 1 < inner.slots), inner.r_ok


# --- the AGCU's outstanding reads ------------------------------------------------------------

class _TagsWrapper(OutstandingTags):
    """OutstandingTags around a real one; :meth:`rewire` may change what passes."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = OutstandingTags(self.n, self.tag_bits)
        for name in ("issue", "pop", "resp_valid", "resp_tag"):
            m.d.comb += getattr(inner, name).eq(getattr(self, name))
        for name in ("accept", "arrived", "tail", "head", "count"):
            m.d.comb += getattr(self, name).eq(getattr(inner, name))
        self.rewire(m, inner)
        return m


class TrustsEveryResponse(_TagsWrapper):
    """Accepts every response whose tag names a slot, in flight or not (the AGCU before it checked
    its responses; breaks ``no response without a request``)."""

    def rewire(self, m, inner):
        m.d.comb += self.accept.eq(self.resp_valid & (self.resp_tag < self.n))


class SkipsLastSlot(_TagsWrapper):
    """A read issued with the last tag does not take its slot, so the next read gets the same tag
    (breaks ``one slot per read``)."""

    def rewire(self, m, inner):
        m.d.comb += inner.issue.eq(self.issue & (inner.tail != self.n - 1))


class PopsEarly(_TagsWrapper):
    """Says the oldest read has arrived as soon as one is in flight (breaks ``data after its
    response``)."""

    def rewire(self, m, inner):
        m.d.comb += self.arrived.eq(inner.count != 0)


class IgnoresSlotZero(_TagsWrapper):
    """Does not take a response for slot 0 (breaks ``response taken``: a read's response is
    lost)."""

    def rewire(self, m, inner):
        m.d.comb += self.accept.eq(inner.accept & (self.resp_tag != 0))
