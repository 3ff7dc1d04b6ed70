"""The Pattern Memory Unit (docs/architecture.md §3 PMU): banked on-chip memory with read and
write address pipelines, on the fabric's vector / scalar / control networks.

Structure (user documentation: ``docs/pmu.md``; configuration fields: :mod:`tiles.pmu_layout`)::
    vec_in[j] ─FIFO─┬─ write data ──────────┐
                    └─ scatter / gather addr │      write pipe: AddrGen → lanes → map → arbiter ─┐
    scal_in[j] ─FIFO── bases / vector addrs  │                                                  B banks
                                             └────  read pipe:  AddrGen → lanes → map → arbiter ─┘   │
                                                                 return crossbar → out FIFO → vec_out[port]
    ctrl_in  → fill / free tokens      ctrl_out ← write-done / read-done tokens
    cfg_i → ConfigStore (config, args, start, perf counters) → cfg_o

* **Storage**: ``banks`` × ``amaranth.lib.memory.Memory`` of ``words_per_bank`` words (one write
  port and one non-transparent read port each: block RAM on FPGAs).
* **Address pipelines** (:class:`AccessPipe`): a counter chain (:class:`tiles.pmu_addr.AddrGen`)
  gives ``off = Σ stride_i·c_i`` per vector; lane ``i`` accesses
  ``base + wrap(off + scalar + lane_off[i] | gathered[i])``; the bank mapping
  (:func:`tiles.pmu_addr.bank_map`) gives (bank, offset); the bank arbiter
  (:class:`tiles.pmu_addr.BankArbiter`) serves conflicting lanes over several cycles.
* **Synchronisation** (``sync``): none, per pass (N-buffering: N regions, a token counter), or per
  vector (FIFO). Tokens on the control network report and drive the same counters.

Latency: a write is committed ``addr_stages`` cycles after the counter chain emits its address;
read data is valid on ``vec_out`` ``addr_stages + 3`` cycles after it (bank read, return register,
output FIFO); from the START packet to the first read vector: ``addr_stages + 6`` cycles. Throughput: one write vector and one read vector per cycle when the lanes of each
vector hit distinct banks; a vector with bank conflicts takes as many cycles as its most-used bank
has lanes.
"""

from __future__ import annotations

from amaranth import Array, Cat, Module, Mux, ResetInserter, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.config import UNIT_ID_PORT, ConfigStore, UnitKind
from hw.generate import Generated, shared_unit
from hw.net import SCALAR, unit_members, vector_layout, vector_signature
from hw.params.base import ConfigError
from hw.params.pmu import PMUParams
from hw.stream import PipeReg, SkidBuffer, StreamFIFO
from hw.util import log2_exact

from .pmu_addr import AddrGen, BankArbiter, bank_map, lane_layout
from .pmu_layout import (
    PERF_COUNTERS,
    Mode,
    Sync,
    config_layout,
    pipe_layout,
    slot_bits,
    vecaddr_layout,
)

__all__ = ["PMU", "AccessPipe", "SlotCounters", "generate", "Mode", "Sync", "PERF_COUNTERS",
           "config_layout"]


class AccessPipe(wiring.Component):
    """One address pipeline (write or read) from counter chain to bank ports.

    Stages: :class:`AddrGen` (registered) → join with the optional input streams (``addr_s``
    per-vector scalar address, ``addr_v`` per-lane gather / scatter addresses, ``data`` write data)
    → lane adders (``base + wrap(off + scalar + lane_off[i] or addr_v[i])``) → bank mapping →
    :class:`BankArbiter`. ``params.addr_stages`` sets the registers between the counter chain and
    the arbiter: 1 (all combinational), 2 (a register after the lane adders), >= 3 (also one after
    the join, plus ``addr_stages - 3`` on the counter output).

    Gating at the arbiter input: a vector that starts a slot (``sync`` per vector: every vector;
    per pass: the first vector of a pass) enters only when ``slot_ok``; every vector needs
    ``room_ok`` (the read pipe's output reservation).
    """

    def __init__(self, params, lanes, write):
        self.params = params
        self.lanes = lanes
        self.write = write
        p = params
        members = {
            "cfg": In(pipe_layout(p, lanes)),
            "mode": In(2), "bank_shift": In(5), "skew_shift": In(5), "sync": In(2),
            "nbuf": In(unsigned(slot_bits(p, lanes))),
            "region": In(unsigned(p.addr_width)),
            "start": In(1),
            "slot_ok": In(1),
            "room_ok": In(1),
            "base_s": In(SCALAR),
            "addr_s": In(SCALAR),
            "addr_v": In(vector_signature(lanes)),
            "stall_in": Out(1), "stall_sync": Out(1), "stall_room": Out(1),
            "busy": Out(1),
        }
        if write:
            members["data"] = In(vector_signature(lanes))
        if p.args:
            members["args"] = In(data.ArrayLayout(unsigned(32), p.args))
        super().__init__(members)
        self.arbiter = BankArbiter(p, lanes, write)

    def elaborate(self, platform):
        p = self.params
        L = self.lanes
        aw = p.addr_width
        m = Module()
        cfg = self.cfg

        gen = AddrGen(p, L)
        m.submodules.gen = gen
        m.d.comb += [gen.cfg.eq(cfg), gen.rotate.eq(self.sync == Sync.PASS), gen.nbuf.eq(self.nbuf),
                     gen.region.eq(self.region), gen.start.eq(self.start)]
        if p.args:
            m.d.comb += gen.args.eq(self.args)
        wiring.connect(m, wiring.flipped(self.base_s), gen.base_s)

        def reg(name, layout, src, skid=False):
            r = SkidBuffer(layout) if skid else PipeReg(layout)
            m.submodules[name] = ResetInserter(self.start)(r)
            wiring.connect(m, src, r.i)
            return r.o

        # Extra latency registers on the counter output (addr_stages >= 4).
        g = gen.o
        for s in range(max(0, p.addr_stages - 3)):
            g = reg(f"xreg{s}", vecaddr_layout(p), g)

        # Join: counter address + optional scalar address + optional gather vector + write data.
        j0_layout = data.StructLayout({
            "off": unsigned(aw), "base": unsigned(aw),
            "vec": data.ArrayLayout(unsigned(aw), L),
            "first": 1, "last": 1, "final": 1,
            **({"data": data.ArrayLayout(unsigned(32), L)} if self.write else {})})
        j0 = stream.Signature(j0_layout).create(path=("j0",))
        need_s = cfg.addr_scalar != 0
        need_v = cfg.addr_vector != 0
        have = g.valid & (~need_s | self.addr_s.valid) & (~need_v | self.addr_v.valid)
        if self.write:
            have = have & self.data.valid
        fire = j0.valid & j0.ready
        m.d.comb += [
            j0.valid.eq(have),
            g.ready.eq(fire),
            self.addr_s.ready.eq(fire & need_s),
            self.addr_v.ready.eq(fire & need_v),
            j0.payload.off.eq(g.payload.off + Mux(need_s, self.addr_s.payload[:aw], 0)),
            j0.payload.base.eq(g.payload.base),
            j0.payload.first.eq(g.payload.first),
            j0.payload.last.eq(g.payload.last),
            j0.payload.final.eq(g.payload.final),
            self.stall_in.eq(g.valid & ~have),
        ]
        for i in range(L):
            m.d.comb += j0.payload.vec[i].eq(Mux(need_v, self.addr_v.payload[i][:aw],
                                                 cfg.lane_off[i]))
        if self.write:
            m.d.comb += [self.data.ready.eq(fire), j0.payload.data.eq(self.data.payload)]
        if p.addr_stages >= 3:
            j0 = reg("jreg", j0_layout, j0)

        # Lane adders: base + wrap(off + vec[i]).
        j1 = stream.Signature(lane_layout(p, L, self.write)).create(path=("j1",))
        wmask = Signal(aw)
        m.d.comb += wmask.eq(Mux(cfg.wrap == 0, (1 << aw) - 1, (1 << cfg.wrap) - 1))
        for i in range(L):
            x = Signal(aw, name=f"lane_x{i}")
            m.d.comb += [x.eq(j0.payload.off + j0.payload.vec[i]),
                         j1.payload.addr[i].eq(j0.payload.base + (x & wmask))]
        m.d.comb += [j1.valid.eq(j0.valid), j0.ready.eq(j1.ready),
                     j1.payload.first.eq(j0.payload.first), j1.payload.last.eq(j0.payload.last),
                     j1.payload.final.eq(j0.payload.final)]
        if self.write:
            m.d.comb += j1.payload.data.eq(j0.payload.data)
        if p.addr_stages >= 2:
            # a skid buffer: its ready to the lane adders, the generator and the write-data
            # FIFO is a register, so the arbiter's accept (slot counters, output-FIFO room)
            # does not run back through the whole address pipeline in one cycle
            j1 = reg("lreg", lane_layout(p, L, self.write), j1, skid=True)

        # Bank mapping, then the arbiter.
        arb = self.arbiter
        m.submodules.arb = arb
        mi = arb.i
        for i in range(L):
            bank, off, act, bcast = bank_map(m, p, L, j1.payload.addr[i], i, self.mode,
                                             self.bank_shift, self.skew_shift, self.write,
                                             f"map{i}")
            m.d.comb += [mi.payload.bank[i].eq(bank), mi.payload.off[i].eq(off),
                         mi.payload.act[i].eq(act)]
            if i == 0:
                m.d.comb += mi.payload.bcast.eq(bcast)
        m.d.comb += [mi.valid.eq(j1.valid), j1.ready.eq(mi.ready),
                     mi.payload.first.eq(j1.payload.first), mi.payload.last.eq(j1.payload.last),
                     mi.payload.final.eq(j1.payload.final)]
        if self.write:
            m.d.comb += mi.payload.data.eq(j1.payload.data)

        gated = (self.sync == Sync.VECTOR) | ((self.sync == Sync.PASS) & j1.payload.first)
        slot_ok = ~gated | self.slot_ok
        m.d.comb += [arb.accept_ok.eq(slot_ok & self.room_ok), arb.flush.eq(self.start)]
        arb_free = ~arb.busy | arb.complete
        m.d.comb += [
            self.stall_sync.eq(j1.valid & arb_free & ~slot_ok),
            self.stall_room.eq(j1.valid & arb_free & slot_ok & ~self.room_ok),
            self.busy.eq(gen.busy | g.valid | j0.valid | j1.valid | arb.busy),
        ]
        return m


class SlotCounters(wiring.Component):
    """The slot accounting of N-buffering and FIFO synchronisation (docs/pmu.md, *Synchronisation
    and the token protocol*): ``wcount`` ("held": slots written and not yet freed) and ``rcount``
    ("filled": slots readable), both cleared by ``start``.

    ``wslot`` / ``rslot``: the write / read pipeline finishes a slot this cycle; ``fill`` /
    ``free``: a slot is filled / freed (the pipelines' own ``wslot`` / ``rslot``, or control
    tokens). ``w_ok``: a new write slot may begin (``held`` stays below ``slots`` = N counting the
    one finishing now); ``r_ok``: a new read slot may begin (a filled slot besides the one
    finishing now). ``freed``: a free that counted (one arriving while nothing is held is
    ignored). ``filled`` saturates at the counter's range. Combinational outputs, registered
    counts; ``bits`` is the counters' width (:func:`tiles.pmu_layout.slot_bits`). Formally checked
    in ``tests/formal/test_pmu.py`` (docs/verification.md).
    """

    def __init__(self, bits):
        self.bits = bits
        super().__init__({
            "slots": In(bits), "start": In(1),
            "wslot": In(1), "rslot": In(1), "fill": In(1), "free": In(1),
            "w_ok": Out(1), "r_ok": Out(1), "freed": Out(1),
            "wcount": Out(bits), "rcount": Out(bits),
        })

    def elaborate(self, platform):
        m = Module()
        wcount, rcount = self.wcount, self.rcount
        fill, free, wslot, rslot = self.fill, self.free, self.wslot, self.rslot
        m.d.comb += self.freed.eq(free & ((wcount != 0) | wslot))
        m.d.sync += wcount.eq(wcount + wslot - self.freed)
        rmax = (1 << self.bits) - 1
        with m.If(~(fill & ~rslot & (rcount == rmax)) & ~(rslot & ~fill & (rcount == 0))):
            m.d.sync += rcount.eq(rcount + fill - rslot)
        m.d.comb += [self.w_ok.eq(wcount + wslot < self.slots), self.r_ok.eq(rcount > rslot)]
        with m.If(self.start):
            m.d.sync += [wcount.eq(0), rcount.eq(0)]
        return m


class PMU(wiring.Component):
    """Pattern Memory Unit (see the module docstring and ``docs/pmu.md``).

    Parameters
    ----------
    params : PMUParams
    lanes : int
        The fabric's vector width L (32-bit words). ``params.banks`` must be <= L; with fewer
        banks than lanes a vector takes at least L / banks cycles.
    unit_id : int or UNIT_ID_PORT
        Id of the unit's stop on the configuration ring; :data:`hw.config.UNIT_ID_PORT`: an input
        port ``unit_id`` (12 bits) instead (the module shared by the PMUs of a fabric,
        :func:`hw.generate.shared_unit`).

    Ports: :func:`hw.net.unit_members` with the counts from ``params``. Configuration
    (:func:`tiles.pmu_layout.config_layout`), argument registers (``params.args``) and the
    performance counters (:data:`tiles.pmu_layout.PERF_COUNTERS`) are reached through the
    unit's one :class:`hw.config.ConfigStore` on ``cfg_i`` / ``cfg_o``.
    """

    def __init__(self, params, lanes, unit_id=0):
        if not isinstance(params, PMUParams):
            raise TypeError(f"PMU: params must be PMUParams, not {type(params).__name__}")
        if not isinstance(lanes, int) or lanes < 1 or lanes & (lanes - 1):
            raise ConfigError(f"PMU: lanes = {lanes!r}: must be a power of two")
        if params.banks > lanes:
            raise ConfigError(f"pmu.banks = {params.banks}: must be <= lanes ({lanes})")
        self.params = params
        self.lanes = lanes
        if unit_id != UNIT_ID_PORT:
            self.unit_id = unit_id      # else the port of that name
        self.layout = config_layout(params, lanes)
        self.perf_names = PERF_COUNTERS if params.perf_counters else ()
        self.out_depth = max(4, params.fifo_depth) + 3
        p = params
        members = unit_members(lanes, p.vec_in, p.vec_out, p.scal_in, p.scal_out, p.ctrl_in,
                               p.ctrl_out)
        if unit_id == UNIT_ID_PORT:
            members["unit_id"] = In(12)
        super().__init__(members)

    def elaborate(self, platform):
        # In a design converted to Verilog: an instance of the one module of these parameters.
        shared = shared_unit(self, platform, (self.params, self.lanes),
                             lambda: PMU(self.params, self.lanes, UNIT_ID_PORT),
                             unit_id=self.unit_id)
        if shared is not None:
            return shared
        p = self.params
        L = self.lanes
        aw = p.addr_width
        sb = slot_bits(p, L)
        m = Module()

        id_port = not isinstance(self.unit_id, int)
        m.submodules.store = cs = ConfigStore(UNIT_ID_PORT if id_port else self.unit_id,
                                              UnitKind.PMU, self.layout, n_args=p.args,
                                              n_counters=len(self.perf_names))
        if id_port:
            m.d.comb += cs.unit_id.eq(self.unit_id)
        wiring.connect(m, wiring.flipped(self.cfg_i), cs.ring_i)
        wiring.connect(m, cs.ring_o, wiring.flipped(self.cfg_o))
        cfg = cs.config
        start = cs.start
        running = Signal()
        m.d.comb += [self.busy.eq(running), cs.busy.eq(running), cs.done.eq(self.done)]

        # ---- input FIFOs ----------------------------------------------------------------
        vq = []
        for j in range(p.vec_in):
            q = StreamFIFO(vector_layout(L), p.fifo_depth)
            m.submodules[f"vec_in_q{j}"] = q
            wiring.connect(m, wiring.flipped(self.vec_in[j]), q.i)
            vq.append(q.o)
        sq = []
        for j in range(p.scal_in):
            q = StreamFIFO(unsigned(32), p.fifo_depth)
            m.submodules[f"scal_in_q{j}"] = q
            wiring.connect(m, wiring.flipped(self.scal_in[j]), q.i)
            sq.append(q.o)
        readies = {id(s): [] for s in vq + sq}

        def select(sources, sel, offset, sink, name):
            """Connect ``sources[sel - offset]`` to ``sink`` (a stream with the sink's valid,
            payload inputs and ready output)."""
            for j, src in enumerate(sources):
                with m.If(sel == j + offset):
                    m.d.comb += [sink.valid.eq(src.valid), sink.payload.eq(src.payload)]
                chosen = Signal(name=f"{name}_sel{j}")
                m.d.comb += chosen.eq((sel == j + offset) & sink.ready)
                readies[id(src)].append(chosen)

        # ---- the two access pipelines ---------------------------------------------------
        wp = AccessPipe(p, L, write=True)
        rp = AccessPipe(p, L, write=False)
        m.submodules.wpipe = wp
        m.submodules.rpipe = rp
        for pipe, pc in ((wp, cfg.write), (rp, cfg.read)):
            m.d.comb += [pipe.cfg.eq(pc), pipe.mode.eq(cfg.mode), pipe.bank_shift.eq(cfg.bank_shift),
                         pipe.skew_shift.eq(cfg.skew_shift), pipe.sync.eq(cfg.sync),
                         pipe.nbuf.eq(cfg.slots), pipe.region.eq(cfg.region),
                         pipe.start.eq(start)]
            if p.args:
                m.d.comb += pipe.args.eq(cs.args)
            name = "wr" if pipe is wp else "rd"
            select(sq, pc.base_scalar, 1, pipe.base_s, f"{name}_base_s")
            select(sq, pc.addr_scalar, 1, pipe.addr_s, f"{name}_addr_s")
            select(vq, pc.addr_vector, 1, pipe.addr_v, f"{name}_addr_v")
        select(vq, cfg.write.port, 0, wp.data, "wr_data")

        # ---- banks ------------------------------------------------------------------------
        rdata = []
        for b in range(p.banks):
            mem = memory.Memory(shape=unsigned(p.word_bits), depth=p.words_per_bank, init=[])
            m.submodules[f"bank{b}"] = mem
            w = mem.write_port()
            r = mem.read_port()
            m.d.comb += [w.en.eq(wp.arbiter.en[b]), w.addr.eq(wp.arbiter.addr[b]),
                         w.data.eq(wp.arbiter.data[b][:p.word_bits]),
                         r.en.eq(rp.arbiter.en[b]), r.addr.eq(rp.arbiter.addr[b])]
            rdata.append(r.data)
        rdata = Array(rdata)

        # ---- read return: bank data → lanes → output FIFO → vec_out[port] ---------------
        outq = StreamFIFO(vector_layout(L), self.out_depth)
        m.submodules.out_q = ResetInserter(start)(outq)
        r_served = Signal(L)
        r_bank = Signal(data.ArrayLayout(unsigned(max(1, log2_exact(p.banks))), L))
        r_complete = Signal()
        m.d.sync += [r_served.eq(rp.arbiter.served), r_bank.eq(rp.arbiter.lane_bank),
                     r_complete.eq(rp.arbiter.complete)]
        hold = Signal(vector_layout(L))
        assembled = Signal(vector_layout(L))
        for i in range(L):
            m.d.comb += assembled[i].eq(Mux(r_served[i], rdata[r_bank[i]], hold[i]))
        m.d.comb += [outq.i.valid.eq(r_complete), outq.i.payload.eq(assembled)]
        with m.If(r_complete):
            m.d.sync += hold.eq(0)
        with m.Elif(r_served.any()):
            m.d.sync += hold.eq(assembled)
        for j in range(p.vec_out):
            sel = cfg.read.port == j
            m.d.comb += [self.vec_out[j].valid.eq(outq.o.valid & sel),
                         self.vec_out[j].payload.eq(outq.o.payload)]
            with m.If(sel):
                m.d.comb += outq.o.ready.eq(self.vec_out[j].ready)
        # Reservation: a read vector enters the arbiter only if the output FIFO will have room
        # for it (one slot of margin: the buffered FIFO can refuse a write for a cycle while its
        # output register refills).
        resv = Signal(range(self.out_depth + 1))
        m.d.sync += resv.eq(resv + rp.arbiter.accepted - r_complete)
        m.d.comb += rp.room_ok.eq(outq.level + resv < self.out_depth - 1)
        m.d.comb += wp.room_ok.eq(1)

        # ---- synchronisation: slot counters, tokens -------------------------------------
        is_vec = cfg.sync == Sync.VECTOR
        is_pass = cfg.sync == Sync.PASS
        wslot = Signal()
        rslot = Signal()
        m.d.comb += [wslot.eq(wp.arbiter.complete & (is_vec | (is_pass & wp.arbiter.last))),
                     rslot.eq(rp.arbiter.complete & (is_vec | (is_pass & rp.arbiter.last)))]
        tok_fill = Signal()
        tok_free = Signal()
        for j in range(p.ctrl_in):
            port = self.ctrl_in[j]
            is_fill = cfg.fill_in == j + 1
            is_free = cfg.free_in == j + 1
            m.d.comb += port.ready.eq(running & (is_fill | is_free))
            with m.If(port.valid & port.ready):
                with m.If(is_fill):
                    m.d.comb += tok_fill.eq(1)
                with m.If(is_free):
                    m.d.comb += tok_free.eq(1)
        m.submodules.slots = sc = SlotCounters(sb)
        freed = sc.freed
        m.d.comb += [sc.slots.eq(cfg.slots), sc.start.eq(start),
                     sc.wslot.eq(wslot), sc.rslot.eq(rslot),
                     sc.fill.eq(Mux(cfg.fill_in == 0, wslot, tok_fill)),
                     sc.free.eq(Mux(cfg.free_in == 0, rslot, tok_free)),
                     wp.slot_ok.eq(sc.w_ok), rp.slot_ok.eq(sc.r_ok)]

        # Occupancy of filled, not yet freed slots, in words; its maximum is the high-water mark.
        occ = Signal(32)
        high = Signal(32)
        slot_words = Mux(is_vec, L, cfg.region)
        occ_next = Signal(32)
        m.d.comb += occ_next.eq(occ + Mux(wslot, slot_words, 0) - Mux(freed, slot_words, 0))
        m.d.sync += occ.eq(Mux(is_vec | is_pass, occ_next, 0))
        with m.If(running & (occ > high)):
            m.d.sync += high.eq(occ)

        # Output tokens: one per finished write pass (wdone_out) / read pass (rdone_out); the
        # payload bit is 1 on the token of the final pass of the run.
        wpass = wp.arbiter.complete & wp.arbiter.last
        rpass = rp.arbiter.complete & rp.arbiter.last
        tokens_sent = Signal(range(p.ctrl_out + 2))
        sent_bits = []
        tok_pending_any = Signal()
        pend_any = []
        for j in range(p.ctrl_out):
            port = self.ctrl_out[j]
            pend = Signal(16, name=f"tok_pend{j}")
            fin = Signal(name=f"tok_final{j}")
            add_w = (cfg.wdone_out == j + 1) & wpass
            add_r = (cfg.rdone_out == j + 1) & rpass
            sent = port.valid & port.ready
            m.d.sync += pend.eq(pend + add_w + add_r - sent)
            with m.If((add_w & wp.arbiter.final) | (add_r & rp.arbiter.final)):
                m.d.sync += fin.eq(1)
            m.d.comb += [port.valid.eq(pend != 0), port.payload.eq(fin & (pend == 1))]
            sent_bits.append(sent)
            pend_any.append(pend != 0)
            with m.If(start):
                m.d.sync += [pend.eq(0), fin.eq(0)]
        m.d.comb += tok_pending_any.eq(Cat(*pend_any).any() if pend_any else 0)
        m.d.comb += tokens_sent.eq(sum(sent_bits) if sent_bits else 0)

        # ---- run control ------------------------------------------------------------------
        wr_fin = Signal()
        rd_fin = Signal()
        with m.If(wp.arbiter.complete & wp.arbiter.final):
            m.d.sync += wr_fin.eq(1)
        with m.If(rp.arbiter.complete & rp.arbiter.final):
            m.d.sync += rd_fin.eq(1)
        rd_drained = rd_fin & ~r_complete & (resv == 0) & (outq.level == 0)
        finished = ((~cfg.write.enable | wr_fin) & (~cfg.read.enable | rd_drained) &
                    ~tok_pending_any)
        with m.If(running & finished):
            m.d.sync += [running.eq(0), self.done.eq(1)]
        with m.If(start):
            m.d.sync += [running.eq(1), self.done.eq(0), wr_fin.eq(0), rd_fin.eq(0),
                         occ.eq(0), hold.eq(0), r_served.eq(0), r_complete.eq(0), resv.eq(0)]

        # ---- performance counters ---------------------------------------------------------
        if self.perf_names:
            events = {
                "cycles": running,
                "wr_vectors": wp.arbiter.complete,
                "rd_vectors": rp.arbiter.complete,
                "wr_conflicts": wp.arbiter.conflict,
                "rd_conflicts": rp.arbiter.conflict,
                "wr_stall_in": wp.stall_in,
                "rd_stall_in": rp.stall_in,
                "wr_stall_sync": wp.stall_sync,
                "rd_stall_sync": rp.stall_sync,
                "rd_stall_out": rp.stall_room,
                "oob": (Mux(wp.arbiter.accepted, wp.arbiter.oob, 0) +
                        Mux(rp.arbiter.accepted, rp.arbiter.oob, 0)),
                "tokens_in": (tok_fill.as_unsigned() + tok_free.as_unsigned()),
                "tokens_out": tokens_sent,
            }
            for k, name in enumerate(self.perf_names):
                if name == "high_water":
                    m.d.comb += cs.counters[k].eq(high)
                    with m.If(cs.clear):
                        m.d.sync += high.eq(0)
                    continue
                ctr = Signal(32, name=f"perf_{name}")
                m.d.sync += ctr.eq(ctr + events[name])
                with m.If(cs.clear):
                    m.d.sync += ctr.eq(0)
                m.d.comb += cs.counters[k].eq(ctr)

        # Unused inputs are never ready, unused outputs never valid.
        for s in vq + sq:
            rs = readies[id(s)]
            acc = 0
            for r in rs:
                acc = acc | r
            m.d.comb += s.ready.eq(acc)
        for j in range(p.scal_out):
            m.d.comb += self.scal_out[j].valid.eq(0)
        return m


def generate(fabric):
    """``rdu gen CONFIG --unit pmu``: the PMU of a fabric configuration."""
    return Generated(PMU(fabric.pmu, fabric.lanes), f"rdu_pmu_{fabric.name}")
