"""The fabric behind the host bridge on a board, two ways.

On a board the HBM model (a simulation model with backdoor stores) is replaced by the on-chip
memory of :mod:`fpga.memory`.

* :class:`KernelSystem` (``--design kernel``): the fabric with real AGCUs (``memory.agcu``)
  whose DRAM ports reach the on-chip memory through :class:`fpga.memory.DRAMPortAdapter` — what
  the kernel compiler's jobs run on (:mod:`fpga.executor`); see its docstring.
* :class:`FabricSystem` (``--design fabric`` / ``fabric-test``): each plain AGCU slot of the
  fabric gets a :class:`StreamPort`: a ring stop with the slot's floorplan id that
streams vectors from the on-chip memory into the slot (``agcu_vec_i[a]``) and writes the vectors
leaving the slot (``agcu_vec_o[a]``) back — the data path an AGCU provides, without its address
patterns, coalescing or tokens. The slot's scalar and control inputs are idle and its scalar and
control outputs are drained.

:class:`FabricSystem` has the "design under control" ports of :mod:`fpga.top`; its ring is
``cfg_i → fabric (ids 0..) → StreamPort(slot 0) → StreamPort(slot 1) ... → cfg_o``.

StreamPort configuration (:data:`STREAM_PORT_LAYOUT`, 3 words): ``rd_base`` / ``wr_base`` (word
addresses), ``rd_vectors`` (vectors to send into the fabric), ``wr_vectors`` (vectors expected
back). Vector ``t`` is ``L`` words at ``base + L·t``. Done when both counts are reached.
Counters: 0 cycles start → done, 1 vectors sent, 2 vectors received, 3 cycles the fabric refused
a vector (backpressure).
"""

from __future__ import annotations

import json
import zlib

from amaranth import Cat, Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from fpga.bridge import MEM_REQ
from fpga.memory import DRAMPortAdapter
from fpga.smoke import DESIGN_FABRIC, DESIGN_KERNEL
from hw.config import ConfigStore, UnitKind
from hw.net import CONFIG_RING, vector_signature
from hw.params import ConfigError, DRAMParams
from interconnect.fabric import Fabric
from memory.chip import agcu_fabric
from memory.dram import port_spec

__all__ = ["STREAM_PORT_LAYOUT", "STREAM_PORT_COUNTERS", "StreamPort", "FabricSystem",
           "fabric_ident", "KernelSystem", "board_params", "kernel_ident"]

STREAM_PORT_LAYOUT = data.StructLayout({
    "rd_base": unsigned(24),
    "wr_base": unsigned(24),
    "rd_vectors": unsigned(16),
    "wr_vectors": unsigned(16),
})
STREAM_PORT_COUNTERS = ("cycles", "sent", "received", "refused")


def fabric_ident(lanes, agcus, rows, cols):
    """INFO ``ident`` of a fabric system: 2 << 24 | lanes << 16 | agcus << 8 | rows << 4 | cols."""
    return (DESIGN_FABRIC << 24) | (lanes << 16) | (agcus << 8) | ((rows & 15) << 4) | (cols & 15)


class StreamPort(wiring.Component):
    """AGCU stand-in for one edge slot (module docstring): ring stop ``unit``, vector width
    ``lanes``; ``vec_o`` feeds the fabric, ``vec_i`` comes from it; ``rd_*`` / ``wr_*`` are its
    memory ports. Throughput: one word per memory access (a vector per ``L`` accesses)."""

    def __init__(self, unit, lanes):
        self.unit = unit
        self.lanes = lanes
        super().__init__({
            "cfg_i": In(CONFIG_RING), "cfg_o": Out(CONFIG_RING),
            "start": In(1), "done": Out(1), "busy": Out(1),
            "vec_o": Out(vector_signature(lanes)), "vec_i": In(vector_signature(lanes)),
            "rd_req": Out(stream.Signature(MEM_REQ)), "rd_rsp": In(stream.Signature(unsigned(32))),
            "wr_req": Out(stream.Signature(MEM_REQ)), "wr_rsp": In(stream.Signature(unsigned(32))),
        })

    def elaborate(self, platform):
        L = self.lanes
        m = Module()
        m.submodules.cs = cs = ConfigStore(self.unit, UnitKind.AGCU, STREAM_PORT_LAYOUT,
                                           n_counters=len(STREAM_PORT_COUNTERS))
        wiring.connect(m, wiring.flipped(self.cfg_i), cs.ring_i)
        wiring.connect(m, cs.ring_o, wiring.flipped(self.cfg_o))
        cfg = cs.config
        go = Signal()
        running = Signal()
        done = Signal()
        m.d.comb += [go.eq(cs.start | self.start), self.done.eq(done), self.busy.eq(running),
                     cs.done.eq(done), cs.busy.eq(running)]

        # memory → fabric
        r_addr = Signal(24)
        r_left = Signal(16 + L.bit_length())
        k = Signal(range(L + 1))
        sent = Signal(16)
        m.d.comb += [self.rd_req.valid.eq(running & (r_left != 0)),
                     self.rd_req.payload.addr.eq(r_addr), self.rd_req.payload.we.eq(0),
                     self.rd_rsp.ready.eq(k != L), self.vec_o.valid.eq(k == L)]
        with m.If(self.rd_req.valid & self.rd_req.ready):
            m.d.sync += [r_addr.eq(r_addr + 1), r_left.eq(r_left - 1)]
        with m.If(self.rd_rsp.valid & self.rd_rsp.ready):
            m.d.sync += [self.vec_o.payload[k].eq(self.rd_rsp.payload), k.eq(k + 1)]
        with m.If(self.vec_o.valid & self.vec_o.ready):
            m.d.sync += [k.eq(0), sent.eq(sent + 1)]

        # fabric → memory
        buf = Signal(data.ArrayLayout(unsigned(32), L))
        j = Signal(range(L + 1), init=L)
        w_addr = Signal(24)
        received = Signal(16)
        m.d.comb += self.vec_i.ready.eq(running & (j == L) & (received != cfg.wr_vectors))
        with m.If(self.vec_i.valid & self.vec_i.ready):
            m.d.sync += [buf.eq(self.vec_i.payload), j.eq(0)]
        m.d.comb += [self.wr_req.valid.eq(j != L), self.wr_req.payload.we.eq(1),
                     self.wr_req.payload.addr.eq(w_addr), self.wr_req.payload.data.eq(buf[j])]
        with m.If(self.wr_req.valid & self.wr_req.ready):
            m.d.sync += [j.eq(j + 1), w_addr.eq(w_addr + 1)]
            with m.If(j == L - 1):
                m.d.sync += received.eq(received + 1)
        m.d.comb += self.wr_rsp.ready.eq(1)

        ctr = [Signal(32, name=f"ctr_{n}") for n in STREAM_PORT_COUNTERS]
        for i, c in enumerate(ctr):
            m.d.comb += cs.counters[i].eq(c)
        m.d.sync += [ctr[1].eq(sent), ctr[2].eq(received)]
        with m.If(running):
            m.d.sync += ctr[0].eq(ctr[0] + 1)
        with m.If(self.vec_o.valid & ~self.vec_o.ready):
            m.d.sync += ctr[3].eq(ctr[3] + 1)
        with m.If(running & (sent == cfg.rd_vectors) & (received == cfg.wr_vectors) & (j == L)):
            m.d.sync += [running.eq(0), done.eq(1)]
        with m.If(cs.clear):
            m.d.sync += [ctr[0].eq(0), ctr[3].eq(0)]
        with m.If(go):
            m.d.sync += [running.eq(1), done.eq(0), r_addr.eq(cfg.rd_base), w_addr.eq(cfg.wr_base),
                         r_left.eq(cfg.rd_vectors * L), k.eq(0), j.eq(L), sent.eq(0),
                         received.eq(0), ctr[0].eq(0), ctr[3].eq(0)]
        return m


class FabricSystem(wiring.Component):
    """``interconnect.fabric.Fabric(params)`` (default unit factory: PCUs and PMUs from ``tiles``)
    with a
    :class:`StreamPort` on every plain AGCU slot; ``mem_req/mem_rsp[2a]`` is slot ``a``'s reader,
    ``[2a + 1]`` its writer."""

    def __init__(self, params, factory=None):
        self.params = params
        self.fabric = Fabric(params, factory=factory)
        if not self.fabric.plain_agcus:
            raise ValueError("FabricSystem: the fabric carries real AGCUs; use KernelSystem "
                             "(--design kernel), which connects their DRAM ports to the on-chip "
                             "memory")
        self.slots = list(self.fabric.plain_agcus)
        n = len(self.slots)
        self.ident = fabric_ident(params.lanes, n, params.rows, params.cols)
        super().__init__({
            "cfg_i": In(CONFIG_RING), "cfg_o": Out(CONFIG_RING),
            "start": In(1), "done": Out(1), "busy": Out(1),
            "mem_req": Out(stream.Signature(MEM_REQ)).array(2 * n),
            "mem_rsp": In(stream.Signature(unsigned(32))).array(2 * n),
        })

    @property
    def port_ids(self):
        """Ring ids of the stream ports (the AGCU slots' floorplan ids)."""
        return [s.id for s in self.slots]

    def elaborate(self, platform):
        m = Module()
        fab = self.fabric
        m.submodules.fabric = fab
        wiring.connect(m, wiring.flipped(self.cfg_i), fab.cfg_i)
        prev = fab.cfg_o
        done = fab.done
        busy = fab.busy
        for a, site in enumerate(self.slots):
            sp = StreamPort(site.id, self.params.lanes)
            m.submodules[f"port{a}"] = sp
            wiring.connect(m, prev, sp.cfg_i)
            prev = sp.cfg_o
            wiring.connect(m, sp.vec_o, fab.agcu_vec_i[a])
            wiring.connect(m, fab.agcu_vec_o[a], sp.vec_i)
            m.d.comb += [fab.agcu_scal_i[a].valid.eq(0), fab.agcu_ctrl_i[a].valid.eq(0),
                         fab.agcu_scal_o[a].ready.eq(1), fab.agcu_ctrl_o[a].ready.eq(1),
                         sp.start.eq(self.start)]
            wiring.connect(m, sp.rd_req, wiring.flipped(self.mem_req[2 * a]))
            wiring.connect(m, wiring.flipped(self.mem_rsp[2 * a]), sp.rd_rsp)
            wiring.connect(m, sp.wr_req, wiring.flipped(self.mem_req[2 * a + 1]))
            wiring.connect(m, wiring.flipped(self.mem_rsp[2 * a + 1]), sp.wr_rsp)
            done = done & sp.done
            busy = busy | sp.busy
        wiring.connect(m, prev, wiring.flipped(self.cfg_o))
        m.d.comb += [self.done.eq(done), self.busy.eq(busy)]
        return m


def board_params(params, mem_words):
    """``params`` with its HBM tier replaced by the board's on-chip memory of ``mem_words`` 32-bit
    words: one channel, one bank, one vector (``4·L`` bytes) per access. The kernel compiler
    compiles against these parameters, so its tensors are placed — and checked — within the
    board memory. ``mem_words`` must be a power of two of at least 1024 words."""
    if mem_words < 1024 or mem_words & (mem_words - 1):
        raise ConfigError(f"board memory: mem_words = {mem_words}: must be a power of two >= 1024 "
                          f"for the kernel design")
    row_bytes = 1024
    onchip = DRAMParams(kind="tiny", channels=1, banks=1, rows=mem_words * 4 // row_bytes,
                        row_bytes=row_bytes, bytes_per_cycle=4 * params.lanes, burst_length=1,
                        tREFI=0, clock_mhz=params.clock_mhz)
    return params.replace(memory=params.memory.replace(hbm=onchip))


def kernel_ident(params):
    """INFO ``ident`` of a :class:`KernelSystem`: ``3 << 24`` | a 24-bit CRC of the configuration
    (every parameter but its name, board memory included). The host compares it with the
    configuration it compiles for, so a job compiled for any other fabric (other op classes,
    extensions, link counts, memory size, ...) is refused before it is loaded."""
    d = params.to_dict()
    d.pop("name", None)
    crc = zlib.crc32(json.dumps(d, sort_keys=True).encode()) & 0xFFFFFF
    return (DESIGN_KERNEL << 24) | crc


class KernelSystem(wiring.Component):
    """The fabric with **real AGCUs** behind the host bridge: what the kernel compiler's jobs run
    on a board (``rdu fpga run KERNEL``).

    ``interconnect.fabric.Fabric(params)`` as in :class:`memory.chip.System` — PCUs, PMUs, switches
    and a
    :class:`memory.agcu.AGCU` in every edge slot — but each AGCU's DRAM port goes through a
    :class:`fpga.memory.DRAMPortAdapter` to the on-chip memory (``mem_req/mem_rsp[a]`` for AGCU
    ``a``) instead of the HBM model. ``params`` must come from :func:`board_params` (the AGCUs'
    DRAM geometry is the board memory's). The ring is the fabric's own (``cfg_i → units →
    cfg_o``), with the same unit ids as in ``System``, so a job compiled for these parameters
    runs unchanged: its configuration packets end with the broadcast START, the host polls ``done``.
    ``start`` (the bridge's START command) is not used by kernel jobs.
    """

    def __init__(self, params, factory=None):
        self.params = params
        self.spec = port_spec(params.memory.hbm)
        self.fabric = agcu_fabric(params, factory)
        self.fmap = self.fabric.fmap
        self.ident = kernel_ident(params)
        n = len(self.fmap.agcus)
        super().__init__({
            "cfg_i": In(CONFIG_RING), "cfg_o": Out(CONFIG_RING),
            "start": In(1), "done": Out(1), "busy": Out(1), "error": Out(1),
            "mem_req": Out(stream.Signature(MEM_REQ)).array(n),
            "mem_rsp": In(stream.Signature(unsigned(32))).array(n),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fabric = fab = self.fabric
        wiring.connect(m, wiring.flipped(self.cfg_i), fab.cfg_i)
        wiring.connect(m, fab.cfg_o, wiring.flipped(self.cfg_o))
        errors = []
        for a in self.fmap.agcus:
            ad = m.submodules[f"dram{a.index}"] = DRAMPortAdapter(self.spec)
            wiring.connect(m, getattr(fab, f"agcu{a.index}_dram"), ad.dram)
            wiring.connect(m, ad.mem_req, wiring.flipped(self.mem_req[a.index]))
            wiring.connect(m, wiring.flipped(self.mem_rsp[a.index]), ad.mem_rsp)
            errors.append(getattr(fab, f"agcu{a.index}_error"))
        m.d.comb += [self.done.eq(fab.done), self.busy.eq(fab.busy),
                     self.error.eq(Cat(*errors).any())]
        return m
