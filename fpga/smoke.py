"""The smoke design: MAC units on the configuration ring (the default design of the boards no
fabric fits).

A :class:`SmokeUnit` is :class:`hw.smoke.MacPipeline` behind a small memory adapter and a
:class:`hw.config.ConfigStore` stop: configured through the ring, started by a ring START (or the
bridge's ``start``), it streams ``n_in`` input vectors from memory through the MAC pipeline and
writes the results back, then raises ``done``. :class:`SmokeSystem` chains ``units`` of them on one
configuration ring and exposes the same "design under control" ports as the fabric designs
(:mod:`fpga.top`): ``cfg_i``/``cfg_o``, ``start``, ``done``, ``busy`` and memory ports.

Memory layout of one unit (32-bit words, signed values sign-extended; the unit reads the low
``in_bits``): input vector ``t`` is ``2L`` words at ``src + 2L·t`` — lanes ``a[0..L-1]`` then
``b[0..L-1]``; output vector ``g`` (the sum over ``acc_len`` consecutive inputs, wrapping in
``acc_bits``, sign-extended to 32 bits) is ``L`` words at ``dst + L·g``.

Configuration (:data:`SMOKE_LAYOUT`, 3 words): ``src``, ``dst`` (24-bit word addresses),
``n_in`` (input vectors), ``acc_len`` (inputs per output; 0 acts as 1). ``n_in`` should be a
multiple of ``acc_len``; a trailing partial group produces no output. The MAC is reset at every
start.

Performance counters (``PERF + i``): 0 cycles from start to done, 1 cycles the MAC waited for an
input vector (memory-starved), 2 cycles an output waited for the memory writer, 3 output vectors
written. Latency per vector: ``2L`` memory reads at one every 2 cycles (the read port's rate).
"""

from __future__ import annotations

from amaranth import Module, ResetInserter, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from fpga.bridge import MEM_REQ
from hw.config import ConfigStore, UnitKind
from hw.net import CONFIG_RING
from hw.smoke import MacParams, MacPipeline

__all__ = ["SMOKE_LAYOUT", "SMOKE_COUNTERS", "SmokeUnit", "SmokeSystem", "smoke_ident",
           "decode_ident", "DESIGN_SMOKE", "DESIGN_FABRIC", "DESIGN_KERNEL"]

SMOKE_LAYOUT = data.StructLayout({
    "src": unsigned(24),
    "dst": unsigned(24),
    "n_in": unsigned(16),
    "acc_len": unsigned(16),
})
SMOKE_COUNTERS = ("cycles", "input_starved", "output_stalled", "outputs")

#: ``ident`` design kinds reported by the bridge's INFO command (bits 31..24).
DESIGN_SMOKE = 1
DESIGN_FABRIC = 2
DESIGN_KERNEL = 3      # fpga.fabric_duc.KernelSystem: the fabric with real AGCUs


def smoke_ident(lanes, units, in_bits):
    """INFO ``ident`` of a smoke system: kind | lanes << 16 | units << 8 | in_bits."""
    return (DESIGN_SMOKE << 24) | (lanes << 16) | (units << 8) | in_bits


def decode_ident(ident):
    return {"kind": ident >> 24, "lanes": (ident >> 16) & 0xFF, "units": (ident >> 8) & 0xFF,
            "in_bits": ident & 0xFF}


class SmokeUnit(wiring.Component):
    """One MAC unit with its ring stop (``unit`` id) and two memory ports (``rd_*`` reads inputs,
    ``wr_*`` writes outputs). See the module docstring."""

    def __init__(self, unit, params=None):
        self.unit = unit
        self.mac_params = p = params if params is not None else MacParams()
        if p.acc_bits > 32:
            raise ValueError(f"SmokeUnit: acc_bits = {p.acc_bits}: must be <= 32 (one memory word)")
        super().__init__({
            "cfg_i": In(CONFIG_RING),
            "cfg_o": Out(CONFIG_RING),
            "start": In(1),
            "done": Out(1),
            "busy": Out(1),
            "rd_req": Out(stream.Signature(MEM_REQ)),
            "rd_rsp": In(stream.Signature(unsigned(32))),
            "wr_req": Out(stream.Signature(MEM_REQ)),
            "wr_rsp": In(stream.Signature(unsigned(32))),
        })

    def elaborate(self, platform):
        p = self.mac_params
        L = p.lanes
        m = Module()
        m.submodules.cs = cs = ConfigStore(self.unit, UnitKind.SMOKE, SMOKE_LAYOUT, n_counters=4)
        wiring.connect(m, wiring.flipped(self.cfg_i), cs.ring_i)
        wiring.connect(m, cs.ring_o, wiring.flipped(self.cfg_o))
        cfg = cs.config
        go = Signal()
        m.d.comb += go.eq(cs.start | self.start)
        m.submodules.mac = mac = ResetInserter({"sync": go})(MacPipeline(p))
        m.d.comb += mac.acc_len.eq(cfg.acc_len)

        running = Signal()
        done = Signal()
        m.d.comb += [self.done.eq(done), self.busy.eq(running), cs.busy.eq(running),
                     cs.done.eq(done)]

        # reader: issue 2L·n_in reads, gather 2L words into one MAC input vector
        words_per_vec = 2 * L
        r_addr = Signal(24)
        r_left = Signal(16 + words_per_vec.bit_length())
        vec = Signal(data.ArrayLayout(unsigned(32), words_per_vec))
        k = Signal(range(words_per_vec + 1))
        pushed = Signal(16)
        gcnt = Signal(16)
        groups = Signal(16)
        m.d.comb += [self.rd_req.valid.eq(running & (r_left != 0)),
                     self.rd_req.payload.addr.eq(r_addr), self.rd_req.payload.we.eq(0)]
        with m.If(self.rd_req.valid & self.rd_req.ready):
            m.d.sync += [r_addr.eq(r_addr + 1), r_left.eq(r_left - 1)]
        m.d.comb += self.rd_rsp.ready.eq(k != words_per_vec)
        with m.If(self.rd_rsp.valid & self.rd_rsp.ready):
            m.d.sync += [vec[k].eq(self.rd_rsp.payload), k.eq(k + 1)]
        m.d.comb += mac.i.valid.eq(k == words_per_vec)
        for lane in range(L):
            m.d.comb += [mac.i.payload.a[lane].eq(vec[lane][:p.in_bits]),
                         mac.i.payload.b[lane].eq(vec[L + lane][:p.in_bits])]
        acc_len = Signal(16)
        m.d.comb += acc_len.eq(cfg.acc_len | (cfg.acc_len == 0))
        with m.If(mac.i.valid & mac.i.ready):
            m.d.sync += [k.eq(0), pushed.eq(pushed + 1)]
            with m.If(gcnt + 1 == acc_len):
                m.d.sync += [gcnt.eq(0), groups.eq(groups + 1)]
            with m.Else():
                m.d.sync += gcnt.eq(gcnt + 1)

        # writer: one MAC output vector → L memory writes
        out = Signal(data.ArrayLayout(unsigned(32), L))
        j = Signal(range(L + 1))
        written = Signal(16)
        w_addr = Signal(24)
        m.d.comb += mac.o.ready.eq(j == L)
        with m.If(mac.o.valid & mac.o.ready):
            m.d.sync += j.eq(0)
            for lane in range(L):
                m.d.sync += out[lane].eq(mac.o.payload[lane].as_signed())
        m.d.comb += [self.wr_req.valid.eq(j != L), self.wr_req.payload.we.eq(1),
                     self.wr_req.payload.addr.eq(w_addr), self.wr_req.payload.data.eq(out[j])]
        with m.If(self.wr_req.valid & self.wr_req.ready):
            m.d.sync += [j.eq(j + 1), w_addr.eq(w_addr + 1)]
            with m.If(j == L - 1):
                m.d.sync += written.eq(written + 1)
        m.d.comb += self.wr_rsp.ready.eq(1)

        # performance counters
        ctr = [Signal(32, name=f"ctr_{n}") for n in SMOKE_COUNTERS]
        for i, c in enumerate(ctr):
            m.d.comb += cs.counters[i].eq(c)
        with m.If(running):
            m.d.sync += ctr[0].eq(ctr[0] + 1)
            with m.If(mac.i.ready & ~mac.i.valid & (pushed != cfg.n_in)):
                m.d.sync += ctr[1].eq(ctr[1] + 1)
        with m.If(mac.o.valid & ~mac.o.ready):
            m.d.sync += ctr[2].eq(ctr[2] + 1)
        m.d.sync += ctr[3].eq(written)

        # control
        finished = (pushed == cfg.n_in) & (written == groups) & (j == L) & ~mac.o.valid
        with m.If(running & finished):
            m.d.sync += [running.eq(0), done.eq(1)]
        with m.If(cs.clear):
            m.d.sync += [c.eq(0) for c in ctr[:3]]
        with m.If(go):
            m.d.sync += [running.eq(1), done.eq(0), r_addr.eq(cfg.src), w_addr.eq(cfg.dst),
                         r_left.eq(cfg.n_in * words_per_vec), k.eq(0), j.eq(L), pushed.eq(0),
                         gcnt.eq(0), groups.eq(0), written.eq(0)]
            m.d.sync += [c.eq(0) for c in ctr[:3]]
        return m


class SmokeSystem(wiring.Component):
    """``units`` :class:`SmokeUnit` (ids ``first_unit``, ``first_unit + 1``, ...) on one ring;
    ``mem_req[2u]``/``mem_rsp[2u]`` is unit ``u``'s reader, ``[2u + 1]`` its writer. ``done`` when
    every unit is done, ``busy`` while any runs."""

    def __init__(self, params=None, units=2, first_unit=1):
        if not 1 <= units <= 16:
            raise ValueError(f"SmokeSystem: units = {units}: must be in 1..16")
        self.mac_params = params if params is not None else MacParams()
        self.n_units = units
        self.first_unit = first_unit
        self.ident = smoke_ident(self.mac_params.lanes, units, self.mac_params.in_bits)
        super().__init__({
            "cfg_i": In(CONFIG_RING),
            "cfg_o": Out(CONFIG_RING),
            "start": In(1),
            "done": Out(1),
            "busy": Out(1),
            "mem_req": Out(stream.Signature(MEM_REQ)).array(2 * units),
            "mem_rsp": In(stream.Signature(unsigned(32))).array(2 * units),
        })

    @property
    def unit_ids(self):
        return list(range(self.first_unit, self.first_unit + self.n_units))

    def elaborate(self, platform):
        m = Module()
        units = [SmokeUnit(u, self.mac_params) for u in self.unit_ids]
        prev = wiring.flipped(self.cfg_i)
        for i, u in enumerate(units):
            m.submodules[f"unit{i}"] = u
            wiring.connect(m, prev, u.cfg_i)
            prev = u.cfg_o
            m.d.comb += u.start.eq(self.start)
            wiring.connect(m, u.rd_req, wiring.flipped(self.mem_req[2 * i]))
            wiring.connect(m, wiring.flipped(self.mem_rsp[2 * i]), u.rd_rsp)
            wiring.connect(m, u.wr_req, wiring.flipped(self.mem_req[2 * i + 1]))
            wiring.connect(m, wiring.flipped(self.mem_rsp[2 * i + 1]), u.wr_rsp)
        wiring.connect(m, prev, wiring.flipped(self.cfg_o))
        done = units[0].done
        busy = units[0].busy
        for u in units[1:]:
            done = done & u.done
            busy = busy | u.busy
        m.d.comb += [self.done.eq(done), self.busy.eq(busy)]
        return m
