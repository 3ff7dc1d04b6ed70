"""The configuration network: one ring from the host port through every unit and switch.

Protocol
--------
The ring carries :data:`CFG_PACKET` words, one per cycle, as an ``amaranth.lib.stream``:

======  ==========================================================================================
op      ``WRITE`` (0): write ``data`` to ``addr`` of unit ``unit`` (``unit = BROADCAST`` writes every
        unit, e.g. a global start); ``READ`` (1): ask unit ``unit`` for ``addr``;
        ``RESP`` (2): the answer to a READ, carrying ``data``.
unit    12-bit unit id, assigned by the fabric generator (:data:`BROADCAST` = all units).
addr    12-bit word address inside the unit (:class:`AddressMap`).
data    32-bit word.
======  ==========================================================================================

Each ring stop (:class:`ConfigStore`) is one registered hop (valid, payload and ready): a WRITE
or READ for its unit is consumed (a READ turns into a RESP that continues along the ring),
everything else passes unchanged, so packets return to the host in order. A WRITE or READ that
comes back unchanged names a unit that is not on the ring; :func:`responses` reports it.

Unit address map (:class:`AddressMap`)
--------------------------------------
``0x000..0x3FF`` configuration words (the unit's config layout cut into 32-bit words, word ``w`` =
bits ``[32w, 32w+32)``; readable for checking), ``0x400..0x4FF`` argument registers (writable while
running: a kernel's scalars change without reloading), ``0x500`` control (write: bit 0 start pulse,
bit 1 clear performance counters; read: bit 0 busy, bit 1 done), ``0x600`` unit identity
(read: ``kind << 16 | unit``), ``0x800..0xBFF`` performance counters (read only).

The config layouts are declared once with ``amaranth.lib.data`` and used by the RTL (the register
is a ``View`` of the layout) and by the Python assembler (:func:`config_words` packs a description
with ``layout.const``), so the two cannot disagree.
"""

from __future__ import annotations

import dataclasses
import enum

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.stream import SkidBuffer

__all__ = ["Op", "BROADCAST", "UNIT_ID_PORT", "CFG_PACKET", "AddressMap", "UnitKind",
           "ConfigStore", "Packet", "ConfigPackets", "RingError", "responses", "config_words",
           "config_writes", "layout_words"]


class Op(enum.IntEnum):
    WRITE = 0
    READ = 1
    RESP = 2


#: Unit id that every ring stop accepts for WRITE.
BROADCAST = 0xFFF

#: Pass as the unit id of a ring stop (or of a unit, which hands it to its stop) to take the id
#: from an input port ``unit_id`` (12 bits) instead of building it in as a constant: one Verilog
#: module then serves every unit of the same kind and parameters (:func:`hw.generate.shared_unit`).
UNIT_ID_PORT = "port"

CFG_PACKET = data.StructLayout({
    "op": unsigned(2),
    "unit": unsigned(12),
    "addr": unsigned(12),
    "data": unsigned(32),
})


class AddressMap:
    """Word addresses inside one unit (see the module docstring)."""

    CONFIG = 0x000
    CONFIG_WORDS = 0x400
    ARG = 0x400
    ARG_WORDS = 0x100
    CONTROL = 0x500
    IDENT = 0x600
    PERF = 0x800
    PERF_WORDS = 0x400

    START = 1 << 0
    CLEAR = 1 << 1


class UnitKind(enum.IntEnum):
    """Identity codes read back at :attr:`AddressMap.IDENT`."""

    SMOKE = 1
    PCU = 2
    PMU = 3
    SWITCH = 4
    AGCU = 5
    DRAM = 6
    DMA = 7
    FABRIC = 8


def layout_words(layout):
    """Number of 32-bit config words a layout occupies."""
    return -(-data.Layout.cast(layout).size // 32) if data.Layout.cast(layout).size else 0


class ConfigStore(wiring.Component):
    """A unit's stop on the configuration ring: its config register, argument registers, control
    pulses and performance-counter read-back.

    Latency: 1 cycle per hop for packets passing through; a READ is answered in the same hop.
    Throughput: 1 packet/cycle under any backpressure (the hop is a :class:`~hw.stream.SkidBuffer`:
    ``ring_i.ready`` is registered, so backpressure does not chain combinationally round the ring).

    Parameters
    ----------
    unit : int or UNIT_ID_PORT
        The unit id (0..0xFFE) this stop answers to; :data:`UNIT_ID_PORT`: the ``unit_id`` input
        port (its value is the parent's to keep in range and constant).
    kind : UnitKind
        Reported at ``IDENT``.
    layout : data.Layout or None
        The unit's configuration layout (``config`` port is a ``View`` of it), at most 1024 words.
    n_args : int
        Argument registers (``args`` port, 32 bits each).
    n_counters : int
        Performance counters read at ``PERF + i`` (``counters`` port, 32 bits each).
    """

    def __init__(self, unit, kind, layout=None, n_args=0, n_counters=0):
        if unit != UNIT_ID_PORT and not 0 <= unit < BROADCAST:
            raise ValueError(f"ConfigStore: unit = {unit}: must be in 0..{BROADCAST - 1}")
        self.unit = unit
        self.kind = UnitKind(kind)
        self.layout = data.Layout.cast(layout) if layout is not None else data.StructLayout({})
        self.n_words = layout_words(self.layout)
        if self.n_words > AddressMap.CONFIG_WORDS:
            raise ValueError(f"ConfigStore: config layout of {self.layout.size} bits exceeds "
                             f"{AddressMap.CONFIG_WORDS} words")
        if not 0 <= n_args <= AddressMap.ARG_WORDS:
            raise ValueError(f"ConfigStore: n_args = {n_args}: must be in 0..{AddressMap.ARG_WORDS}")
        if not 0 <= n_counters <= AddressMap.PERF_WORDS:
            raise ValueError(f"ConfigStore: n_counters = {n_counters}: must be in "
                             f"0..{AddressMap.PERF_WORDS}")
        self.n_args = n_args
        self.n_counters = n_counters
        members = {
            "ring_i": In(stream.Signature(CFG_PACKET)),
            "ring_o": Out(stream.Signature(CFG_PACKET)),
            "config": Out(self.layout),
            "start": Out(1),
            "clear": Out(1),
            "busy": In(1),
            "done": In(1),
        }
        if n_args:
            members["args"] = Out(data.ArrayLayout(unsigned(32), n_args))
        if n_counters:
            members["counters"] = In(data.ArrayLayout(unsigned(32), n_counters))
        if unit == UNIT_ID_PORT:
            members["unit_id"] = In(12)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        pkt = self.ring_i.payload
        unit = self.unit_id if self.unit == UNIT_ID_PORT else self.unit
        mine = (pkt.unit == unit) & (pkt.op != Op.RESP)
        bcast = (pkt.unit == BROADCAST) & (pkt.op == Op.WRITE)
        take = self.ring_i.valid & self.ring_i.ready

        # Read mux: every readable word of this unit.
        rdata = Signal(32)
        cfg_bits = self.config.as_value()
        with m.Switch(pkt.addr):
            for w in range(self.n_words):
                with m.Case(AddressMap.CONFIG + w):
                    m.d.comb += rdata.eq(cfg_bits[32 * w: min(32 * w + 32, len(cfg_bits))])
            for a in range(self.n_args):
                with m.Case(AddressMap.ARG + a):
                    m.d.comb += rdata.eq(self.args[a])
            with m.Case(AddressMap.CONTROL):
                m.d.comb += rdata.eq(Mux(self.busy, 1, 0) | Mux(self.done, 2, 0))
            with m.Case(AddressMap.IDENT):
                m.d.comb += rdata.eq((int(self.kind) << 16) | unit)
            for c in range(self.n_counters):
                with m.Case(AddressMap.PERF + c):
                    m.d.comb += rdata.eq(self.counters[c])

        # Writes (to this unit or broadcast).
        write = take & (mine | bcast) & (pkt.op == Op.WRITE)
        if self.n_words:
            # The configuration words are a Memory of n_words x 32 bits with one write port and a
            # combinational read port per word, not one wide register written by slices: Amaranth
            # emits a register as "next = cur; if (we) next[..] = d; q <= next", which Verilator
            # runs as three copies of the whole (up to 2048-bit) vector every cycle, written or not
            # (9-18% of a PCU cycle). A memory write is "if (en) mem[addr] <= d": an idle cycle
            # costs one flag test (scripts/ircount.py; docs/architecture.md §3). ram_style = logic
            # keeps it in flip-flops on an FPGA (every bit is read in parallel). Not reset: the
            # words start as zero and keep their values across a reset.
            m.submodules.words = words = Memory(shape=32, depth=self.n_words, init=[],
                                                attrs={"ram_style": "logic"})
            wp = words.write_port()
            rd = [words.read_port(domain="comb") for _ in range(self.n_words)]
            in_config = pkt.addr < AddressMap.CONFIG + self.n_words
            if AddressMap.CONFIG:   # (the configuration words start at address 0)
                in_config &= pkt.addr >= AddressMap.CONFIG
            if self.n_words > 1:   # (a one-word memory has a zero-width address)
                m.d.comb += wp.addr.eq(pkt.addr - AddressMap.CONFIG)
            m.d.comb += [
                wp.data.eq(pkt.data),
                wp.en.eq(write & in_config),
                cfg_bits.eq(Cat(*(r.data for r in rd))),
            ]
            for w, r in enumerate(rd):
                if self.n_words > 1:
                    m.d.comb += r.addr.eq(w)
        m.d.sync += [self.start.eq(0), self.clear.eq(0)]
        with m.If(write):
            with m.Switch(pkt.addr):
                for a in range(self.n_args):
                    with m.Case(AddressMap.ARG + a):
                        m.d.sync += self.args[a].eq(pkt.data)
                with m.Case(AddressMap.CONTROL):
                    m.d.sync += [self.start.eq(pkt.data[0]), self.clear.eq(pkt.data[1])]

        # The ring hop: a skid buffer, so ``ring_i.ready`` is a register. A combinational ready
        # would chain the backpressure through every stop of the ring in one cycle and drive the
        # write enables of every config register: on the ECP5 fabric that chain was the longest
        # path across the chip (CHANGELOG.md, 2026-11-23).
        m.submodules.hop = hop = SkidBuffer(CFG_PACKET)
        m.d.comb += [
            self.ring_i.ready.eq(hop.i.ready),
            hop.i.valid.eq(self.ring_i.valid & ~(mine & (pkt.op == Op.WRITE))),
        ]
        with m.If(mine & (pkt.op == Op.READ)):
            m.d.comb += [
                hop.i.payload.op.eq(Op.RESP),
                hop.i.payload.unit.eq(unit),
                hop.i.payload.addr.eq(pkt.addr),
                hop.i.payload.data.eq(rdata),
            ]
        with m.Else():
            m.d.comb += hop.i.payload.eq(pkt)
        wiring.connect(m, hop.o, wiring.flipped(self.ring_o))
        return m


# --------------------------------------------------------------------------------------------
# Python assembler side
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Packet:
    """One configuration-ring packet (see the module docstring)."""

    op: Op
    unit: int
    addr: int
    data: int = 0

    def __post_init__(self):
        if not 0 <= self.unit <= BROADCAST:
            raise ValueError(f"Packet: unit = {self.unit}: must be in 0..{BROADCAST}")
        if not 0 <= self.addr < 1 << 12:
            raise ValueError(f"Packet: addr = {self.addr:#x}: must be in 0..0xfff")
        if not 0 <= self.data < 1 << 32:
            raise ValueError(f"Packet: data = {self.data:#x}: must fit 32 bits")

    def encode(self):
        """The packet as the integer the ring carries."""
        return CFG_PACKET.const({"op": int(self.op), "unit": self.unit, "addr": self.addr,
                                 "data": self.data}).as_value().value

    @classmethod
    def decode(cls, value):
        v = int(value)
        return cls(Op((v >> 0) & 3), (v >> 2) & 0xFFF, (v >> 14) & 0xFFF, (v >> 26) & 0xFFFFFFFF)

    @classmethod
    def write(cls, unit, addr, value):
        return cls(Op.WRITE, unit, addr, value & 0xFFFFFFFF)

    @classmethod
    def read(cls, unit, addr):
        return cls(Op.READ, unit, addr, 0)


def config_words(layout, value):
    """Pack a readable description (``dict``/``list`` matching ``layout``) into 32-bit words, the
    way :class:`ConfigStore` holds it. Raises ``ValueError`` (from ``layout.const``) naming a field
    that does not exist or a value that does not fit."""
    layout = data.Layout.cast(layout)
    bits = layout.const(value).as_value().value if not isinstance(value, int) else value
    return [(bits >> (32 * w)) & 0xFFFFFFFF for w in range(layout_words(layout))]


def config_writes(unit, layout, value):
    """The WRITE packets that load ``value`` (a description of ``layout``) into ``unit``."""
    return [Packet.write(unit, AddressMap.CONFIG + w, word)
            for w, word in enumerate(config_words(layout, value))]


class RingError(RuntimeError):
    """Packets that came back around the ring unanswered, or responses out of order."""


@dataclasses.dataclass
class ConfigPackets:
    """An ordered list of configuration-ring :class:`Packet` s: what the compiler emits for a phase,
    what a simulation's ring driver and a board's host bridge send."""

    packets: list = dataclasses.field(default_factory=list)

    def config(self, unit, layout, value):
        self.packets += config_writes(unit, layout, value)
        return self

    def write(self, unit, addr, value):
        self.packets.append(Packet.write(unit, addr, value))
        return self

    def arg(self, unit, index, value):
        return self.write(unit, AddressMap.ARG + index, value)

    def read(self, unit, addr):
        self.packets.append(Packet.read(unit, addr))
        return self

    def start(self, unit=BROADCAST):
        return self.write(unit, AddressMap.CONTROL, AddressMap.START)

    def clear_counters(self, unit=BROADCAST):
        return self.write(unit, AddressMap.CONTROL, AddressMap.CLEAR)

    def extend(self, other):
        self.packets += list(other.packets if isinstance(other, ConfigPackets) else other)
        return self

    def words(self):
        """Encoded packets (integers, as the ring carries them)."""
        return [p.encode() for p in self.packets]

    @property
    def n_reads(self):
        return sum(p.op == Op.READ for p in self.packets)

    @property
    def n_returns(self):
        """Packets that come back around the ring: READ responses and BROADCAST writes (which
        every stop applies and passes on)."""
        return sum(p.op == Op.READ or (p.op == Op.WRITE and p.unit == BROADCAST)
                   for p in self.packets)

    def __len__(self):
        return len(self.packets)


def responses(sent, returned):
    """Check ``returned`` (decoded packets from the ring's end) against ``sent``; return the data of
    each READ in order. Raises :class:`RingError` for unanswered packets."""
    returned = [p if isinstance(p, Packet) else Packet.decode(p) for p in returned]
    # A broadcast WRITE is applied by every stop and comes back by design.
    returned = [p for p in returned if not (p.op == Op.WRITE and p.unit == BROADCAST)]
    lost = [p for p in returned if p.op != Op.RESP]
    if lost:
        p = lost[0]
        raise RingError(f"config ring: {p.op.name} to unit {p.unit} (addr {p.addr:#x}) came back "
                        f"unanswered: no unit {p.unit} on the ring ({len(lost)} packet(s) lost)")
    reads = [p for p in sent if p.op == Op.READ]
    if len(returned) != len(reads):
        raise RingError(f"config ring: sent {len(reads)} READs, got {len(returned)} responses")
    for q, r in zip(reads, returned):
        if (q.unit, q.addr) != (r.unit, r.addr):
            raise RingError(f"config ring: response for unit {r.unit} addr {r.addr:#x} where unit "
                            f"{q.unit} addr {q.addr:#x} was expected (reordered?)")
    return [r.data for r in returned]
