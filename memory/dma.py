"""DMA engine: copies whole tensors between the DDR tier and the HBM tier (SN40L's model switching).

A :class:`DMA` owns one DRAM port on each tier (``hbm``, ``ddr``; :class:`memory.dram.PortSpec`)
and one :class:`~hw.config.ConfigStore` (layout :data:`DMA_CONFIG`, counters :data:`DMA_COUNTERS`).
It copies a 2-D region of *blocks* — ``rows`` × ``cols`` blocks, block ``(r, c)`` from
``src + r·src_stride + c`` to ``dst + r·dst_stride + c`` (block addresses) — in direction
``dir`` (0: DDR → HBM, 1: HBM → DDR). A block is ``max(hbm.access_bytes, ddr.access_bytes)`` bytes
(:attr:`hw.params.MemoryParams.dma_block_bytes`), so both tiers always move whole accesses.
A contiguous copy is ``rows = 1`` (or any factorisation).

Pipeline: the read engine allocates a block buffer slot (``outstanding`` ≤ ``dma_outstanding``)
and issues the block's source reads, one per cycle (tag = slot · reads-per-block + part); read
data lands in the slot in any order; the write engine writes completed slots in order, one
destination access per cycle. ``done`` when every write has completed in the destination.
Throughput: limited by the slower tier; with enough slots a copy runs at the source or destination
bandwidth (``scripts/bench_memory.py`` measures copy time against bytes ÷ DDR bandwidth).
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hw.config import ConfigStore, UnitKind
from hw.net import CONFIG_RING
from hw.params import ConfigError
from hw.util import bits_for

from .dram import port_spec

__all__ = ["DMA", "DMA_CONFIG", "DMA_COUNTERS", "DDR_TO_HBM", "HBM_TO_DDR", "dma_program",
           "DMAConfigError"]

DDR_TO_HBM = 0
HBM_TO_DDR = 1

DMA_CONFIG = data.StructLayout({
    "dir": unsigned(1),
    "outstanding": unsigned(8),      # 0 = the maximum
    "src": unsigned(32),             # block address
    "dst": unsigned(32),
    "rows": unsigned(32),
    "cols": unsigned(32),            # blocks per row
    "src_stride": unsigned(32),      # blocks between rows
    "dst_stride": unsigned(32),
})

DMA_COUNTERS = ("cycles", "bytes", "reads", "writes", "latency_sum", "read_stall", "write_stall")


class DMAConfigError(ConfigError):
    """A DMA configuration that cannot work."""


def dma_program(mem, direction, *, src, dst, nbytes=None, rows=1, row_bytes=None, src_pitch=None,
                dst_pitch=None, outstanding=0):
    """Check and build a :data:`DMA_CONFIG` description.

    ``mem``: :class:`~hw.params.MemoryParams`; ``direction``: ``"ddr->hbm"`` or ``"hbm->ddr"``;
    ``src``/``dst``: byte addresses in the source / destination tier; either ``nbytes``
    (contiguous) or ``rows`` × ``row_bytes`` with ``src_pitch``/``dst_pitch`` bytes between rows.
    Everything must be a multiple of the block size; regions must lie inside both tiers.
    """
    blk = mem.dma_block_bytes
    if direction not in ("ddr->hbm", "hbm->ddr"):
        raise DMAConfigError(f"dma direction = {direction!r}: must be 'ddr->hbm' or 'hbm->ddr'")
    s_tier, d_tier = ("ddr", "hbm") if direction == "ddr->hbm" else ("hbm", "ddr")
    if nbytes is not None:
        rows, row_bytes = 1, nbytes
    if row_bytes is None:
        raise DMAConfigError("dma: give nbytes, or rows and row_bytes")
    src_pitch = row_bytes if src_pitch is None else src_pitch
    dst_pitch = row_bytes if dst_pitch is None else dst_pitch
    for name, v in (("src", src), ("dst", dst), ("row_bytes", row_bytes),
                    ("src_pitch", src_pitch), ("dst_pitch", dst_pitch)):
        if v < 0 or v % blk:
            raise DMAConfigError(f"dma {name} = {v:#x}: must be a non-negative multiple of the "
                                 f"DMA block ({blk} bytes = max access of hbm and ddr)")
    if rows < 1 or row_bytes < blk:
        raise DMAConfigError(f"dma region {rows} x {row_bytes} bytes: must be at least one block "
                             f"({blk} bytes)")
    for name, tier, base, pitch in (("src", s_tier, src, src_pitch), ("dst", d_tier, dst, dst_pitch)):
        end = base + (rows - 1) * pitch + row_bytes
        cap = getattr(mem, tier).capacity_bytes
        if end > cap:
            raise DMAConfigError(f"dma {name} region [{base:#x}, {end:#x}) exceeds the {tier} "
                                 f"capacity ({cap:#x} bytes)")
    if not 0 <= outstanding <= mem.dma_outstanding:
        raise DMAConfigError(f"dma outstanding = {outstanding}: must be in 0..{mem.dma_outstanding}"
                             f" (0 = all)")
    return {"dir": DDR_TO_HBM if direction == "ddr->hbm" else HBM_TO_DDR,
            "outstanding": outstanding, "src": src // blk, "dst": dst // blk, "rows": rows,
            "cols": row_bytes // blk, "src_stride": src_pitch // blk,
            "dst_stride": dst_pitch // blk}


class DMA(wiring.Component):
    """DDR ↔ HBM copy engine (see the module docstring).

    Parameters: ``params`` (:class:`~hw.params.MemoryParams`), ``unit_id``.
    Ports: ``hbm``, ``ddr`` (requester sides of DRAM ports), ``cfg_i``/``cfg_o``, ``busy``, ``done``.
    """

    def __init__(self, params, unit_id=0):
        self.params = params
        self.spec_h = port_spec(params.hbm)
        self.spec_d = port_spec(params.ddr)
        self.block = params.dma_block_bytes
        self.unit_id = unit_id
        self.cfg = ConfigStore(unit_id, UnitKind.DMA, DMA_CONFIG, n_counters=len(DMA_COUNTERS))
        super().__init__({
            "hbm": Out(self.spec_h.signature),
            "ddr": Out(self.spec_d.signature),
            "cfg_i": In(CONFIG_RING),
            "cfg_o": Out(CONFIG_RING),
            "busy": Out(1),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        P = self.params
        S = P.dma_outstanding
        G = self.block
        Ah, Ad = P.hbm.access_bytes, P.ddr.access_bytes
        nh, nd = G // Ah, G // Ad          # accesses per block on each tier
        gran = min(Ah, Ad)
        m.submodules.cfg = cfg = self.cfg
        wiring.connect(m, wiring.flipped(self.cfg_i), cfg.ring_i)
        wiring.connect(m, cfg.ring_o, wiring.flipped(self.cfg_o))
        c = cfg.config
        cnt = {name: Signal(32, name=f"pc_{name}") for name in DMA_COUNTERS}
        for k, name in enumerate(DMA_COUNTERS):
            m.d.comb += cfg.counters[k].eq(cnt[name])
        running = Signal()
        done = Signal()
        m.d.comb += [self.busy.eq(running), self.done.eq(done), cfg.busy.eq(running),
                     cfg.done.eq(done)]
        now = Signal(32)
        m.d.sync += now.eq(now + 1)
        h2d = c.dir == HBM_TO_DDR
        n_rd = Mux(h2d, nh, nd)          # reads per block
        n_wr = Mux(h2d, nd, nh)          # writes per block
        sbits = bits_for(S)
        limit = Signal(range(S + 1))
        m.d.comb += limit.eq(Mux((c.outstanding == 0) | (c.outstanding > S), S, c.outstanding))

        # ---- block buffer ---------------------------------------------------------------------
        buf = memory.Memory(shape=unsigned(G * 8), depth=max(S, 2), init=[])
        m.submodules.buf = buf
        wp = buf.write_port(granularity=gran * 8)
        tail = Signal(sbits)
        head = Signal(sbits)
        head_next = Signal(sbits)
        rp = buf.read_port(transparent_for=(wp,))
        m.d.comb += rp.addr.eq(head_next)
        used = Signal(range(S + 1))
        arrived = Signal(data.ArrayLayout(unsigned(bits_for(max(nh, nd) + 1)), S))
        issue_t = Signal(data.ArrayLayout(unsigned(32), S))

        # ---- read engine: walk the blocks -----------------------------------------------------
        rows_left = Signal(32)
        col = Signal(32)
        row_src = Signal(32)
        row_dst = Signal(32)
        part = Signal(range(max(nh, nd) + 1))
        rd_busy = Signal()               # blocks remain to be read
        rd_valid = Signal()
        rd_addr = Signal(32)
        rd_tag = Signal(8)
        src_block = row_src + col
        # A new block needs a free slot; its parts go out one per cycle.
        want_rd = running & rd_busy & ((part != 0) | (used < limit))
        rd_accept = Signal()
        slot_free = ~rd_valid | rd_accept
        go = want_rd & slot_free
        with m.If(rd_accept):
            m.d.sync += rd_valid.eq(0)
        lg = {1: 0, 2: 1, 4: 2, 8: 3, 16: 4, 32: 5, 64: 6, 128: 7, 256: 8}
        alloc = go & (part == 0)
        with m.If(go):
            m.d.sync += [rd_valid.eq(1),
                         rd_addr.eq(Mux(h2d, (src_block << lg[nh]) | part, (src_block << lg[nd]) | part)),
                         rd_tag.eq(Mux(h2d, (tail << lg[nh]) | part, (tail << lg[nd]) | part))]
            with m.If(part == 0):
                m.d.sync += issue_t[tail].eq(now)
            with m.If(part + 1 == n_rd):
                m.d.sync += [part.eq(0), tail.eq(Mux(tail == S - 1, 0, tail + 1))]
                with m.If(col + 1 == c.cols):
                    m.d.sync += [col.eq(0), row_src.eq(row_src + c.src_stride),
                                 row_dst.eq(row_dst + c.dst_stride), rows_left.eq(rows_left - 1)]
                    with m.If(rows_left == 1):
                        m.d.sync += rd_busy.eq(0)
                with m.Else():
                    m.d.sync += col.eq(col + 1)
            with m.Else():
                m.d.sync += part.eq(part + 1)

        # Responses (from the source tier) land in their slot.
        got = Signal()
        rtag = Signal(8)
        rdata_h = self.hbm.resp.payload.data
        rdata_d = self.ddr.resp.payload.data
        m.d.comb += [self.hbm.resp.ready.eq(1), self.ddr.resp.ready.eq(1)]
        with m.If(h2d):
            m.d.comb += [got.eq(self.hbm.resp.valid), rtag.eq(self.hbm.resp.payload.tag)]
        with m.Else():
            m.d.comb += [got.eq(self.ddr.resp.valid), rtag.eq(self.ddr.resp.payload.tag)]
        r_slot = Signal(sbits)
        r_part = Signal(8)
        with m.If(h2d):
            m.d.comb += [r_slot.eq(rtag >> lg[nh]), r_part.eq(rtag & (nh - 1)),
                         wp.data.eq(Cat(*[rdata_h] * nh))]
            for k in range(nh):
                with m.If(got & (r_part == k)):
                    per = Ah // gran
                    m.d.comb += wp.en.eq(((1 << per) - 1) << (k * per))
        with m.Else():
            m.d.comb += [r_slot.eq(rtag >> lg[nd]), r_part.eq(rtag & (nd - 1)),
                         wp.data.eq(Cat(*[rdata_d] * nd))]
            for k in range(nd):
                with m.If(got & (r_part == k)):
                    per = Ad // gran
                    m.d.comb += wp.en.eq(((1 << per) - 1) << (k * per))
        m.d.comb += wp.addr.eq(r_slot)
        lat = Signal(32)
        m.d.comb += lat.eq(now - issue_t[r_slot])

        # ---- write engine: completed slots in order ------------------------------------------
        w_part = Signal(range(max(nh, nd) + 1))
        w_block = Signal(32)             # destination block of the head slot
        w_col = Signal(32)
        w_row_dst = Signal(32)
        # The buffer read port follows head_next and is transparent to the response writes, so
        # the head slot's data is on rp.data as soon as its last part has arrived.
        w_valid = (used != 0) & (arrived[head] == n_rd)
        wr_ready = Mux(h2d, self.ddr.req.ready, self.hbm.req.ready)
        w_fire = w_valid & wr_ready
        w_last = w_part + 1 == n_wr
        pop = w_fire & w_last
        m.d.comb += head_next.eq(Mux(pop, Mux(head == S - 1, 0, head + 1), head))
        with m.If(w_fire):
            m.d.sync += w_part.eq(Mux(w_last, 0, w_part + 1))
        with m.If(pop):
            m.d.sync += head.eq(head_next)
            with m.If(w_col + 1 == c.cols):
                m.d.sync += [w_col.eq(0), w_row_dst.eq(w_row_dst + c.dst_stride),
                             w_block.eq(w_row_dst + c.dst_stride)]
            with m.Else():
                m.d.sync += [w_col.eq(w_col + 1), w_block.eq(w_block + 1)]
        wr_pending = Signal(32)
        wdone = Mux(h2d, self.ddr.wdone, self.hbm.wdone)
        m.d.sync += wr_pending.eq(wr_pending + w_fire - wdone)

        # slot bookkeeping
        for s in range(S):
            with m.If(got & (r_slot == s)):
                m.d.sync += arrived[s].eq(arrived[s] + 1)
            with m.If(pop & (head == s)):
                m.d.sync += arrived[s].eq(0)
        m.d.sync += used.eq(used + alloc - pop)

        # ---- port multiplexing by direction -----------------------------------------------------
        hreq, dreq = self.hbm.req, self.ddr.req
        wdat_h = rp.data.word_select(w_part[: max(1, (nh - 1).bit_length())], Ah * 8) if nh > 1 \
            else rp.data[:Ah * 8]
        wdat_d = rp.data.word_select(w_part[: max(1, (nd - 1).bit_length())], Ad * 8) if nd > 1 \
            else rp.data[:Ad * 8]
        with m.If(h2d):
            m.d.comb += [hreq.valid.eq(rd_valid), hreq.payload.addr.eq(rd_addr),
                         hreq.payload.tag.eq(rd_tag), hreq.payload.write.eq(0),
                         rd_accept.eq(hreq.ready),
                         dreq.valid.eq(w_valid), dreq.payload.write.eq(1),
                         dreq.payload.addr.eq((w_block << lg[nd]) | w_part),
                         dreq.payload.mask.eq(-1), dreq.payload.data.eq(wdat_d)]
        with m.Else():
            m.d.comb += [dreq.valid.eq(rd_valid), dreq.payload.addr.eq(rd_addr),
                         dreq.payload.tag.eq(rd_tag), dreq.payload.write.eq(0),
                         rd_accept.eq(dreq.ready),
                         hreq.valid.eq(w_valid), hreq.payload.write.eq(1),
                         hreq.payload.addr.eq((w_block << lg[nh]) | w_part),
                         hreq.payload.mask.eq(-1), hreq.payload.data.eq(wdat_h)]

        # ---- run control and counters -----------------------------------------------------------
        with m.If(cfg.clear):
            for s in cnt.values():
                m.d.sync += s.eq(0)
        with m.If(cfg.start & ~running):
            m.d.sync += [running.eq(1), done.eq(0), rd_busy.eq((c.rows != 0) & (c.cols != 0)),
                         rows_left.eq(c.rows), col.eq(0), row_src.eq(c.src), row_dst.eq(c.dst),
                         part.eq(0), w_part.eq(0), w_col.eq(0), w_row_dst.eq(c.dst),
                         w_block.eq(c.dst)]
        with m.Elif(running):
            with m.If(~rd_busy & ~rd_valid & (used == 0) & (wr_pending == 0)):
                m.d.sync += [running.eq(0), done.eq(1)]
            m.d.sync += [
                cnt["cycles"].eq(cnt["cycles"] + 1),
                cnt["bytes"].eq(cnt["bytes"] + Mux(pop, G, 0)),
                cnt["reads"].eq(cnt["reads"] + (rd_valid & rd_accept)),
                cnt["writes"].eq(cnt["writes"] + w_fire),
                cnt["latency_sum"].eq(cnt["latency_sum"] + Mux(got, lat, 0)),
                cnt["read_stall"].eq(cnt["read_stall"] + (rd_valid & ~rd_accept)),
                cnt["write_stall"].eq(cnt["write_stall"] + (w_valid & ~wr_ready)),
            ]
        return m
