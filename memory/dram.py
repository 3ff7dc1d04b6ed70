"""DRAM model (HBM / DDR): channels, banks, row buffers, timing, refresh, a request queue with
FR-FCFS or in-order scheduling, and a backing store the testbench loads and dumps in bulk.

Everything here is synthesizable Amaranth and simulates under Verilator; timing is in controller
cycles (the design's one clock). Parameters: :class:`hw.params.DRAMParams`.

DRAM port (the requester side, :class:`PortSpec`)
-------------------------------------------------
A requester (AGCU, DMA, traffic generator, a cocotb driver) owns one port with three members:

``req``   stream, requester → DRAM: ``addr`` (access index: byte address ÷ ``access_bytes``),
          ``write``, ``tag`` (8 bits, returned with read data), ``mask`` (one bit per 32-bit word
          of the access; writes only), ``data`` (``access_bytes`` × 8 bits, word 0 in the low bits).
``resp``  stream, DRAM → requester: read data ``{tag, data}``. Responses may come back in any
          order (different channels, FR-FCFS); the tag says which request they answer.
``wdone`` number of this port's writes completed (in the backing store) this cycle.

Ordering rule: requests to the same address take effect in the order the DRAM accepted them (the
cycle of the ``req`` handshake; two requests to one address always go to one channel, which
accepts at most one request per cycle), whichever port they came from. A read returns the data
of the last write accepted before it. Requests to different addresses are reordered freely.
An address beyond the capacity wraps (modulo the capacity) and is recorded as an error (status
counters, ``error`` output).

Address map
-----------
access index → channel (low bits) → column → bank → row (high bits): sequential streams spread
across channels and stay in one row per bank for ``row_bytes / access_bytes`` accesses.

Channel timing model
--------------------
One command per cycle per channel: ACT (``tRCD`` before a column command, ``tRAS`` before PRE),
PRE (``tRP`` before ACT), RD/WR (one per ``burst_length`` cycles: the data bus carries one beat
of ``bytes_per_cycle`` bytes per cycle; read data is returned ``tCL + burst_length`` cycles
after RD; a write may be followed by PRE after ``tCL + burst_length + tWR``), REF. Open-page
policy: a row stays open until a request needs another row of that bank or refresh closes it.

Scheduling (per cycle, first match wins): (1) refresh that is due (PRE of a bank to refresh,
REF); (2) FR-FCFS: the oldest queued request whose row is open and whose timing allows a column
command; (3) the oldest request needing an ACT (bank closed) or a PRE (another row open and no
queued request hits that row); (4) per-bank refresh of an idle bank. In-order (or when the oldest
request waited ``starve_limit`` cycles) only the oldest request is considered. A request never
overtakes an older one to the same address when either is a write.

Refresh: ``all-bank`` — every ``tREFI`` the channel closes all banks and refreshes them together
(``tRFC``); ``per-bank`` — each bank must be refreshed once per ``tREFI``: idle banks are refreshed
(``tRFCpb``) whenever the command slot is free; a bank still owed at the end of its interval is
forced (its requests wait). Refresh costs time only: data lives in the backing store.

Latency of an isolated read, from the ``req`` handshake to ``resp`` valid (the port crossbar is
combinational): row hit ``1 + tCL + burst_length``; closed bank ``1 + tRCD + tCL + burst_length``;
another row open ``1 + tRP + tRCD + tCL + burst_length`` (tests/memory/test_dram_amsim.py).
"""

from __future__ import annotations

import dataclasses

from amaranth import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.backdoor import BackdoorMemory
from hw.config import ConfigStore, UnitKind
from hw.net import CONFIG_RING
from hw.stream import StreamFIFO
from hw.util import bits_for, log2_exact

from .util import RoundRobin, field, first_set, le_const, popcount

__all__ = ["TAG_BITS", "ADDR_BITS", "PortSpec", "port_spec", "DRAMChannel", "DRAM",
           "DRAM_CONFIG", "DRAM_COUNTERS", "POLICY_CODES"]

TAG_BITS = 8
ADDR_BITS = 32

#: Run-time policy override (config field ``policy``): 0 = the preset's policy.
POLICY_CODES = {"preset": 0, "fr-fcfs": 1, "in-order": 2}

#: The DRAM unit's configuration layout (its ConfigStore on the ring).
DRAM_CONFIG = data.StructLayout({"policy": unsigned(2)})

#: Performance counters of a DRAM unit (index = offset from ``AddressMap.PERF``), summed over
#: channels; cleared by the CLEAR control pulse.
DRAM_COUNTERS = ("cycles", "requests", "reads", "writes", "activates", "precharges", "refreshes",
                 "errors", "error_addr", "error_port", "busy_cycles")


@dataclasses.dataclass(frozen=True)
class PortSpec:
    """Shape of a DRAM port (see the module docstring). ``data_bytes`` = the tier's access size;
    ``channels`` bounds ``wdone``."""

    data_bytes: int
    channels: int = 1
    tag_bits: int = TAG_BITS
    addr_bits: int = ADDR_BITS

    @property
    def req_layout(self):
        return data.StructLayout({"addr": unsigned(self.addr_bits), "write": unsigned(1),
                                  "tag": unsigned(self.tag_bits),
                                  "mask": unsigned(self.data_bytes // 4),
                                  "data": unsigned(self.data_bytes * 8)})

    @property
    def resp_layout(self):
        return data.StructLayout({"tag": unsigned(self.tag_bits),
                                  "data": unsigned(self.data_bytes * 8)})

    @property
    def wdone_bits(self):
        return (self.channels).bit_length()

    @property
    def signature(self):
        """Requester-side signature (``req`` out, ``resp``/``wdone`` in)."""
        return wiring.Signature({
            "req": Out(stream.Signature(self.req_layout)),
            "resp": In(stream.Signature(self.resp_layout)),
            "wdone": In(unsigned(self.wdone_bits)),
        })


def port_spec(params):
    """The :class:`PortSpec` of a DRAM with :class:`~hw.params.DRAMParams` ``params``."""
    return PortSpec(params.access_bytes, params.channels)


class DRAMChannel(wiring.Component):
    """One DRAM channel: request queue, scheduler, bank state, refresh, data path and its backing
    store (``BackdoorMemory`` of ``bytes_per_cycle`` × 8 bits × ``beats_per_channel`` words named
    ``name``). See the module docstring for the timing model.

    Ports: ``req`` (channel-local access index ``la``, ``write``, ``port``, ``tag``, ``mask``,
    ``data``; accepted while the queue has room: 1 per cycle), ``resp`` (``port``, ``tag``,
    ``data``), ``wdone``/``wdone_port`` (a write finished), ``in_order`` (policy), ``ev`` (command
    events for the performance counters), ``idle``, ``load``/``dump`` (backing store).
    """

    def __init__(self, params, n_ports, name, backend="verilator"):
        p = self.p = params
        self.n_ports = n_ports
        self.Q = p.queue_depth
        self.B = p.banks
        self.BL = p.burst_length
        self.A = p.access_bytes
        self.beat_bits = p.bytes_per_cycle * 8
        self.words_per_beat = p.bytes_per_cycle // 4
        self.cbits = log2_exact(p.cols)
        self.bbits = log2_exact(p.banks)
        self.rbits = log2_exact(p.rows)
        self.la_bits = self.cbits + self.bbits + self.rbits
        self.pbits = bits_for(n_ports)
        self.slots = self.Q + 1
        # Enough response buffering to keep the data bus busy with back-to-back reads.
        self.resp_depth = max(2, -(-(p.tCL + self.BL) // self.BL) + 2)
        self.req_layout = data.StructLayout({
            "la": unsigned(self.la_bits), "write": unsigned(1), "port": unsigned(self.pbits),
            "tag": unsigned(TAG_BITS), "mask": unsigned(self.A // 4), "data": unsigned(self.A * 8)})
        self.resp_layout = data.StructLayout({
            "port": unsigned(self.pbits), "tag": unsigned(TAG_BITS), "data": unsigned(self.A * 8)})
        self.ev_layout = data.StructLayout({"rd": 1, "wr": 1, "act": 1, "pre": 1, "ref": 1})
        self.store = BackdoorMemory(self.beat_bits, p.beats_per_channel, name, backend)
        super().__init__({
            "req": In(stream.Signature(self.req_layout)),
            "resp": Out(stream.Signature(self.resp_layout)),
            "wdone": Out(1),
            "wdone_port": Out(unsigned(self.pbits)),
            "in_order": In(1),
            "ev": Out(self.ev_layout),
            "idle": Out(1),
            "load": In(1),
            "dump": In(1),
        })

    def elaborate(self, platform):
        p = self.p
        Q, B, BL = self.Q, self.B, self.BL
        m = Module()
        m.submodules.store = store = self.store
        m.d.comb += [store.load.eq(self.load), store.dump.eq(self.dump)]

        wbits = max(1, self.cbits)
        bbits = max(1, self.bbits)
        rbits = max(1, self.rbits)
        sbits = bits_for(self.slots)
        entry = data.StructLayout({"write": 1, "port": unsigned(self.pbits),
                                   "tag": unsigned(TAG_BITS), "bank": unsigned(bbits),
                                   "row": unsigned(rbits), "col": unsigned(wbits),
                                   "slot": unsigned(sbits)})
        tmax = max(p.tRCD, p.tRP, p.tRAS, p.tCL + BL + p.tWR, p.tRFC, p.tRFCpb, BL, 2)
        tw = tmax.bit_length()

        # ---- state ------------------------------------------------------------------------
        q = Signal(data.ArrayLayout(entry, Q), name="queue")
        count = Signal(range(Q + 1))
        bank_open = Signal(B)
        open_row = Signal(data.ArrayLayout(unsigned(rbits), B))
        t_act = Signal(data.ArrayLayout(unsigned(tw), B))   # 0: ACT / REF allowed
        t_cas = Signal(data.ArrayLayout(unsigned(tw), B))   # 0: RD / WR allowed
        t_pre = Signal(data.ArrayLayout(unsigned(tw), B))   # 0: PRE allowed
        t_bus = Signal(range(BL + 1))                       # 0: next column command allowed
        rforce = Signal(B)                                  # banks that must be refreshed now
        owed = Signal(B)                                    # per-bank: not yet refreshed this round
        now = Signal(16)
        m.d.sync += now.eq(now + 1)

        valid = Signal(Q)
        m.d.comb += valid.eq(Cat(*[count > i for i in range(Q)]))

        # ---- per-bank summaries -------------------------------------------------------------
        def bank_of(i):
            return q[i].bank[: self.bbits] if self.bbits else Const(0, 1)

        boh = []                # one-hot bank of each entry
        hit = Signal(Q)
        for i in range(Q):
            oh = Signal(B, name=f"boh{i}")
            m.d.comb += oh.eq(Cat(*[bank_of(i) == b for b in range(B)]) if B > 1 else 1)
            boh.append(oh)
            b = bank_of(i)
            m.d.comb += hit[i].eq((oh & bank_open).any() & (open_row[b] == q[i].row))
        queued = Signal(B)     # banks with a queued request
        hitq = Signal(B)       # banks with a queued request hitting the open row
        qacc = Const(0, B)
        hacc = Const(0, B)
        for i in range(Q):
            qacc = qacc | Mux(valid[i], boh[i], 0)
            hacc = hacc | Mux(valid[i] & hit[i], boh[i], 0)
        m.d.comb += [queued.eq(qacc), hitq.eq(hacc)]

        # ---- hazards: never overtake an older request to the same address if a write is involved
        blocked = Signal(Q)
        for i in range(Q):
            older = [valid[j] & (q[j].bank == q[i].bank) & (q[j].row == q[i].row) &
                     (q[j].col == q[i].col) & (q[j].write | q[i].write) for j in range(i)]
            m.d.comb += blocked[i].eq(Cat(*older).any() if older else 0)

        # ---- starvation guard / in-order ----------------------------------------------------
        head_wait = Signal(range(p.starve_limit + 1))
        head_only = Signal()
        m.d.comb += head_only.eq(self.in_order | (head_wait == p.starve_limit))
        consider = Signal(Q)
        m.d.comb += consider.eq(Mux(head_only, valid & 1, valid))

        # ---- read-response credit -------------------------------------------------------------
        m.submodules.resp_q = rq = StreamFIFO(data.StructLayout({
            "port": unsigned(self.pbits), "tag": unsigned(TAG_BITS), "ready_at": unsigned(16),
            "data": unsigned(self.A * 8)}), self.resp_depth)
        rd_inflight = Signal(range(4))
        rd_credit = Signal()
        m.d.comb += rd_credit.eq((rq.level + rd_inflight) < self.resp_depth)

        # ---- candidate commands ---------------------------------------------------------------
        t_act_zero = Signal(B)
        t_pre_zero = Signal(B)
        t_cas_zero = Signal(B)
        for b in range(B):
            m.d.comb += [t_act_zero[b].eq(t_act[b] == 0), t_pre_zero[b].eq(t_pre[b] == 0),
                         t_cas_zero[b].eq(t_cas[b] == 0)]
        cas_rdy = Signal(B)     # per bank: a column command may issue (timing, not refreshing)
        act_rdy = Signal(B)
        pre_rdy = Signal(B)
        m.d.comb += [cas_rdy.eq(t_cas_zero & ~rforce),
                     act_rdy.eq(~bank_open & t_act_zero & ~rforce),
                     pre_rdy.eq(bank_open & t_pre_zero & ~rforce & Mux(head_only, (1 << B) - 1, ~hitq))]
        bus_ok = Signal()
        m.d.comb += bus_ok.eq(t_bus == 0)
        cas_ok = Signal(Q)
        row_ok = Signal(Q)      # ACT or PRE for this request
        for i in range(Q):
            m.d.comb += cas_ok[i].eq(consider[i] & hit[i] & ~blocked[i] & (boh[i] & cas_rdy).any() &
                                     bus_ok & (q[i].write | rd_credit))
            m.d.comb += row_ok[i].eq(consider[i] & ((boh[i] & act_rdy).any() |
                                                    (~hit[i] & (boh[i] & pre_rdy).any())))
        cas_any, cas_idx = first_set(m, cas_ok, Q, "cas")
        cas = Signal(entry)
        m.d.comb += cas.eq(q[cas_idx])
        row_any, row_idx = first_set(m, row_ok, Q, "row")

        # Refresh candidates.
        per_bank = p.refresh == "per-bank"
        fpre_any, fpre_idx = first_set(m, rforce & bank_open & t_pre_zero, B, "fpre")
        if per_bank:
            fref_any, fref_idx = first_set(m, rforce & ~bank_open & t_act_zero, B, "fref")
            idle_owed = Signal(B)
            m.d.comb += idle_owed.eq(owed & ~rforce & ~queued)
            lpre_any, lpre_idx = first_set(m, idle_owed & bank_open & t_pre_zero, B, "lpre")
            lref_any, lref_idx = first_set(m, idle_owed & ~bank_open & t_act_zero, B, "lref")
        else:
            fref_any = Signal()
            m.d.comb += fref_any.eq((rforce != 0) & ((rforce & bank_open) == 0) &
                                    ((rforce & ~t_act_zero) == 0))
            fref_idx = Const(0, bbits)
            lpre_any = lref_any = Const(0, 1)
            lpre_idx = lref_idx = Const(0, bbits)

        # ---- command selection ---------------------------------------------------------------
        cmd_act = Signal()
        cmd_pre = Signal()
        cmd_ref = Signal()
        cmd_cas = Signal()
        cmd_bank = Signal(bbits)
        cmd_row = Signal(rbits)
        ref_mask = Signal(B)
        sel = Signal(entry)
        m.d.comb += sel.eq(q[row_idx])
        with m.If(fpre_any):
            m.d.comb += [cmd_pre.eq(1), cmd_bank.eq(fpre_idx)]
        with m.Elif(fref_any):
            m.d.comb += cmd_ref.eq(1)
            if per_bank:
                m.d.comb += [cmd_bank.eq(fref_idx), ref_mask.eq(Const(1, B) << fref_idx)]
            else:
                m.d.comb += ref_mask.eq(rforce)
        with m.Elif(cas_any):
            m.d.comb += cmd_cas.eq(1)
        with m.Elif(row_any):
            m.d.comb += [cmd_bank.eq(sel.bank), cmd_row.eq(sel.row)]
            with m.If(bank_open.bit_select(sel.bank[: self.bbits] if self.bbits else 0, 1)):
                m.d.comb += cmd_pre.eq(1)
            with m.Else():
                m.d.comb += cmd_act.eq(1)
        with m.Elif(lpre_any):
            m.d.comb += [cmd_pre.eq(1), cmd_bank.eq(lpre_idx)]
        with m.Elif(lref_any):
            m.d.comb += [cmd_ref.eq(1), cmd_bank.eq(lref_idx), ref_mask.eq(Const(1, B) << lref_idx)]
        m.d.sync += [self.ev.rd.eq(cmd_cas & ~cas.write),
                     self.ev.wr.eq(cmd_cas & cas.write),
                     self.ev.act.eq(cmd_act), self.ev.pre.eq(cmd_pre), self.ev.ref.eq(cmd_ref)]

        cas_bank = cas.bank[: self.bbits] if self.bbits else Const(0, 1)
        cmd_b = cmd_bank[: self.bbits] if self.bbits else Const(0, 1)

        # ---- bank timers ---------------------------------------------------------------------
        with m.If(t_bus != 0):
            m.d.sync += t_bus.eq(t_bus - 1)
        for b in range(B):
            for t in (t_act, t_cas, t_pre):
                with m.If(t[b] != 0):
                    m.d.sync += t[b].eq(t[b] - 1)
        with m.If(cmd_act):
            m.d.sync += [bank_open.bit_select(cmd_b, 1).eq(1), open_row[cmd_b].eq(cmd_row),
                         t_cas[cmd_b].eq(p.tRCD - 1), t_pre[cmd_b].eq(p.tRAS - 1)]
        with m.If(cmd_pre):
            m.d.sync += [bank_open.bit_select(cmd_b, 1).eq(0), t_act[cmd_b].eq(p.tRP - 1)]
        with m.If(cmd_cas):
            m.d.sync += t_bus.eq(BL - 1)
            rec = Mux(cas.write, p.tCL + BL + p.tWR - 1, BL - 1)
            with m.If(t_pre[cas_bank] < rec):
                m.d.sync += t_pre[cas_bank].eq(rec)
        trfc = (p.tRFCpb if per_bank else p.tRFC) - 1
        with m.If(cmd_ref):
            for b in range(B):
                with m.If(ref_mask[b]):
                    m.d.sync += t_act[b].eq(trfc)

        # ---- refresh scheduling ----------------------------------------------------------------
        if p.tREFI:
            rtimer = Signal(range(p.tREFI))
            tick = Signal()
            m.d.comb += tick.eq(rtimer == p.tREFI - 1)
            m.d.sync += rtimer.eq(Mux(tick, 0, rtimer + 1))
            all_banks = (1 << B) - 1
            done_mask = Mux(cmd_ref, ref_mask, 0)
            if per_bank:
                m.d.sync += [
                    rforce.eq(Mux(tick, rforce | owed, rforce) & ~done_mask),
                    owed.eq(Mux(tick, all_banks, owed) & ~done_mask),
                ]
            else:
                m.d.sync += rforce.eq(Mux(tick, all_banks, rforce & ~done_mask))

        # ---- queue: insert at the tail, remove the issued entry, keep age order ----------------
        slot_free = Signal(self.slots, init=(1 << self.slots) - 1)
        alloc_any, alloc_slot = first_set(m, slot_free, self.slots, "alloc")
        req = self.req.payload
        ins = Signal()
        m.d.comb += [self.req.ready.eq(count < Q), ins.eq(self.req.valid & self.req.ready)]
        new = Signal(entry)
        m.d.comb += [new.write.eq(req.write), new.port.eq(req.port), new.tag.eq(req.tag),
                     new.col.eq(field(req.la, 0, self.cbits)),
                     new.bank.eq(field(req.la, self.cbits, self.bbits)),
                     new.row.eq(field(req.la, self.cbits + self.bbits, self.rbits)),
                     new.slot.eq(alloc_slot)]
        rm = cmd_cas
        ins_pos = Signal(range(Q + 1))
        m.d.comb += ins_pos.eq(count - rm)
        qv = q.as_value()
        ew = entry.size
        for j in range(Q):
            cur = qv[j * ew:(j + 1) * ew]
            nxt = qv[(j + 1) * ew:(j + 2) * ew] if j + 1 < Q else Const(0, ew)
            shifted = Mux(rm & le_const(cas_idx, j), nxt, cur)
            m.d.sync += cur.eq(Mux(ins & (ins_pos == j), new.as_value(), shifted))
        m.d.sync += count.eq(count + ins - rm)

        with m.If(rm & (cas_idx == 0) | (count == 0)):
            m.d.sync += head_wait.eq(0)
        with m.Elif(head_wait != p.starve_limit):
            m.d.sync += head_wait.eq(head_wait + 1)

        # Write data: one small memory per beat, indexed by slot (written on arrival).
        beat_w = self.beat_bits + self.words_per_beat
        slot_mems = []
        cur_slot = Signal(sbits)
        for k in range(BL):
            mem = memory.Memory(shape=unsigned(beat_w), depth=self.slots, init=[])
            m.submodules[f"wdata{k}"] = mem
            wp = mem.write_port()
            rp = mem.read_port()
            m.d.comb += [
                wp.addr.eq(alloc_slot), wp.en.eq(ins & req.write),
                wp.data.eq(Cat(req.data[k * self.beat_bits:(k + 1) * self.beat_bits],
                               req.mask[k * self.words_per_beat:(k + 1) * self.words_per_beat])),
                rp.addr.eq(cur_slot),
            ]
            slot_mems.append(rp)

        # ---- data path: address stage (one beat per cycle) → capture stage ------------------
        b_active = Signal()
        b_write = Signal()
        b_k = Signal(range(BL))
        b_base = Signal(len(store.raddr))
        b_slot = Signal(sbits)
        b_port = Signal(self.pbits)
        b_tag = Signal(TAG_BITS)
        b_ready = Signal(16)
        c_valid = Signal()
        c_write = Signal()
        c_k = Signal(range(BL))
        c_addr = Signal(len(store.raddr))
        c_slot = Signal(sbits)
        c_port = Signal(self.pbits)
        c_tag = Signal(TAG_BITS)
        c_ready = Signal(16)

        la_cas = Signal(self.la_bits)
        m.d.comb += la_cas.eq(Cat(field(cas.col, 0, self.cbits) if self.cbits else Cat(),
                                  cas.bank[: self.bbits] if self.bbits else Cat(),
                                  cas.row[: self.rbits]))
        base_new = Signal(len(store.raddr))
        m.d.comb += base_new.eq(la_cas << log2_exact(BL))

        raddr = Signal(len(store.raddr))
        issue_k = Signal(range(BL))
        issuing = Signal()
        with m.If(cmd_cas):
            m.d.comb += [raddr.eq(base_new), issue_k.eq(0), issuing.eq(1), cur_slot.eq(cas.slot)]
            m.d.sync += [b_active.eq(BL > 1), b_write.eq(cas.write), b_k.eq(1 % BL),
                         b_base.eq(base_new), b_slot.eq(cas.slot), b_port.eq(cas.port),
                         b_tag.eq(cas.tag), b_ready.eq(now + p.tCL + BL)]
        with m.Elif(b_active):
            m.d.comb += [raddr.eq(b_base | b_k), issue_k.eq(b_k), issuing.eq(1),
                         cur_slot.eq(b_slot)]
            m.d.sync += b_k.eq(b_k + 1)
            with m.If(b_k == BL - 1):
                m.d.sync += b_active.eq(0)
        m.d.comb += store.raddr.eq(raddr)
        m.d.sync += [c_valid.eq(issuing), c_k.eq(issue_k), c_addr.eq(raddr)]
        with m.If(cmd_cas):
            m.d.sync += [c_write.eq(cas.write), c_slot.eq(cas.slot), c_port.eq(cas.port),
                         c_tag.eq(cas.tag), c_ready.eq(now + p.tCL + BL)]
        with m.Elif(b_active):
            m.d.sync += [c_write.eq(b_write), c_slot.eq(b_slot), c_port.eq(b_port),
                         c_tag.eq(b_tag), c_ready.eq(b_ready)]

        # Backing-store read data, with a bypass for a write to the same word in the same cycle.
        byp = Signal()
        byp_data = Signal(self.beat_bits)
        rdata = Signal(self.beat_bits)
        m.d.sync += [byp.eq(store.we & (store.waddr == store.raddr)), byp_data.eq(store.wdata)]
        m.d.comb += rdata.eq(Mux(byp, byp_data, store.rdata))

        # Capture: writes merge the slot's beat into the old word (word mask) and write it back.
        wbeat = Signal(beat_w)
        m.d.comb += wbeat.eq(slot_mems[0].data)
        for k in range(1, BL):
            with m.If(c_k == k):
                m.d.comb += wbeat.eq(slot_mems[k].data)
        merged = Signal(self.beat_bits)
        for w in range(self.words_per_beat):
            m.d.comb += merged[32 * w:32 * w + 32].eq(
                Mux(wbeat[self.beat_bits + w], wbeat[32 * w:32 * w + 32], rdata[32 * w:32 * w + 32]))
        m.d.comb += [store.we.eq(c_valid & c_write), store.waddr.eq(c_addr),
                     store.wdata.eq(merged)]
        last = c_valid & (c_k == BL - 1)
        m.d.sync += [self.wdone.eq(last & c_write), self.wdone_port.eq(c_port)]
        free_now = Signal(self.slots)
        with m.If(last & c_write):
            m.d.comb += free_now.eq(1 << c_slot)
        take = Signal(self.slots)
        with m.If(ins & req.write):
            m.d.comb += take.eq(1 << alloc_slot)
        m.d.sync += slot_free.eq((slot_free | free_now) & ~take)

        # Reads assemble the beats and enter the response FIFO with their release time.
        asm = Signal(self.A * 8)
        with m.If(c_valid & ~c_write):
            for k in range(BL):
                with m.If(c_k == k):
                    m.d.sync += asm[k * self.beat_bits:(k + 1) * self.beat_bits].eq(rdata)
        full = Signal(self.A * 8)
        m.d.comb += full.eq(asm)
        m.d.comb += full[(BL - 1) * self.beat_bits:].eq(rdata)
        push = last & ~c_write
        m.d.comb += [rq.i.valid.eq(push), rq.i.payload.port.eq(c_port), rq.i.payload.tag.eq(c_tag),
                     rq.i.payload.ready_at.eq(c_ready), rq.i.payload.data.eq(full)]
        start_rd = cmd_cas & ~cas.write
        m.d.sync += rd_inflight.eq(rd_inflight + start_rd - push)

        # Release a response once its data would have crossed the bus.
        ripe = Signal()
        diff = Signal(16)
        m.d.comb += diff.eq(now - rq.o.payload.ready_at)
        ok = rq.o.valid & (ripe | ~diff[15])
        m.d.comb += [self.resp.valid.eq(ok), self.resp.payload.port.eq(rq.o.payload.port),
                     self.resp.payload.tag.eq(rq.o.payload.tag),
                     self.resp.payload.data.eq(rq.o.payload.data),
                     rq.o.ready.eq(self.resp.ready & ok)]
        with m.If(rq.o.valid & rq.o.ready):
            m.d.sync += ripe.eq(0)
        with m.Elif(ok):
            m.d.sync += ripe.eq(1)

        m.d.comb += self.idle.eq((count == 0) & ~b_active & ~c_valid & ~rq.o.valid &
                                 (rd_inflight == 0))
        return m


class DRAM(wiring.Component):
    """A DRAM model: ``params.channels`` :class:`DRAMChannel` s behind a port crossbar, with a
    :class:`~hw.config.ConfigStore` (unit kind DRAM; layout :data:`DRAM_CONFIG`; counters
    :data:`DRAM_COUNTERS`).

    ``ports``: ``n_ports`` DRAM ports (:class:`PortSpec`, DRAM side). Requests are routed to the
    channel of their address; each channel accepts one request per cycle, chosen round-robin among
    the ports that want it. Responses return to their port round-robin among channels. ``name``
    prefixes the channels' backing stores (``<name>_ch<i>``). ``load``/``dump`` act on all of them.
    ``idle``: no request queued or in flight. ``error``: an out-of-range address was seen.
    """

    def __init__(self, params, n_ports, name, unit_id=0, backend="verilator"):
        if n_ports < 1:
            raise ValueError(f"DRAM {name}: n_ports = {n_ports}: must be >= 1")
        self.p = params
        self.n_ports = n_ports
        self.name = name
        self.spec = port_spec(params)
        self.channels = [DRAMChannel(params, n_ports, f"{name}_ch{c}", backend)
                         for c in range(params.channels)]
        self.cfg = ConfigStore(unit_id, UnitKind.DRAM, DRAM_CONFIG, n_counters=len(DRAM_COUNTERS))
        self.unit_id = unit_id
        super().__init__({
            "ports": In(self.spec.signature).array(n_ports),
            "cfg_i": In(CONFIG_RING),
            "cfg_o": Out(CONFIG_RING),
            "load": In(1),
            "dump": In(1),
            "idle": Out(1),
            "error": Out(1),
        })

    @property
    def store_names(self):
        return [c.store.name for c in self.channels]

    def elaborate(self, platform):
        p = self.p
        C = p.channels
        P = self.n_ports
        m = Module()
        m.submodules.cfg = cfg = self.cfg
        wiring.connect(m, wiring.flipped(self.cfg_i), cfg.ring_i)
        wiring.connect(m, cfg.ring_o, wiring.flipped(self.cfg_o))
        for c, ch in enumerate(self.channels):
            m.submodules[f"ch{c}"] = ch
            m.d.comb += [ch.load.eq(self.load), ch.dump.eq(self.dump)]

        in_order = Signal()
        default_io = int(p.policy == "in-order")
        m.d.comb += in_order.eq(Mux(cfg.config.policy == 0, default_io, cfg.config.policy == 2))
        for ch in self.channels:
            m.d.comb += ch.in_order.eq(in_order)

        chbits = log2_exact(C)
        la_bits = self.channels[0].la_bits
        total_bits = chbits + la_bits

        # ---- request crossbar ------------------------------------------------------------------
        port_ch = []
        oob = []
        for i in range(P):
            a = self.ports[i].req.payload.addr
            port_ch.append(field(a, 0, chbits) if chbits else Const(0, 1))
            bad = Signal(name=f"oob{i}")
            m.d.comb += bad.eq(a[total_bits:] != 0 if total_bits < len(a) else 0)
            oob.append(bad)
        accepted = [Signal(C, name=f"acc{i}") for i in range(P)]
        for c, ch in enumerate(self.channels):
            want = Signal(P, name=f"want{c}")
            m.d.comb += want.eq(Cat(*[self.ports[i].req.valid & (port_ch[i] == c) for i in range(P)]))
            rr = RoundRobin(m, want, P, f"rq{c}")
            m.d.comb += ch.req.valid.eq(rr.any)
            with m.Switch(rr.grant):
                for i in range(P):
                    with m.Case(i):
                        r = self.ports[i].req.payload
                        m.d.comb += [ch.req.payload.la.eq(r.addr[chbits:chbits + la_bits]),
                                     ch.req.payload.write.eq(r.write),
                                     ch.req.payload.port.eq(i), ch.req.payload.tag.eq(r.tag),
                                     ch.req.payload.mask.eq(r.mask), ch.req.payload.data.eq(r.data),
                                     accepted[i][c].eq(rr.any & ch.req.ready)]
            rr.advance(ch.req.valid & ch.req.ready)
        for i in range(P):
            m.d.comb += self.ports[i].req.ready.eq(accepted[i].any())

        # ---- response crossbar -----------------------------------------------------------------
        pbits = self.channels[0].pbits
        for i in range(P):
            port = self.ports[i]
            have = Signal(C, name=f"have{i}")
            m.d.comb += have.eq(Cat(*[ch.resp.valid & (ch.resp.payload.port == i)
                                      for ch in self.channels]))
            rr = RoundRobin(m, have, C, f"rs{i}")
            m.d.comb += port.resp.valid.eq(rr.any)
            with m.Switch(rr.grant):
                for c, ch in enumerate(self.channels):
                    with m.Case(c):
                        m.d.comb += [port.resp.payload.tag.eq(ch.resp.payload.tag),
                                     port.resp.payload.data.eq(ch.resp.payload.data)]
            rr.advance(port.resp.valid & port.resp.ready)
            for c, ch in enumerate(self.channels):
                with m.If(rr.any & (rr.grant == c) & port.resp.ready):
                    m.d.comb += ch.resp.ready.eq(1)
            m.d.comb += port.wdone.eq(popcount([ch.wdone & (ch.wdone_port == i)
                                                for ch in self.channels]))
        del pbits

        # ---- status, errors and performance counters ---------------------------------------------
        idle = Signal()
        m.d.comb += idle.eq(Cat(*[ch.idle for ch in self.channels]).all())
        m.d.comb += self.idle.eq(idle)
        cnt = {name: Signal(32, name=f"pc_{name}") for name in DRAM_COUNTERS}
        for k, name in enumerate(DRAM_COUNTERS):
            m.d.comb += cfg.counters[k].eq(cnt[name])
        reqs = [self.ports[i].req.valid & self.ports[i].req.ready for i in range(P)]
        bad = [reqs[i] & oob[i] for i in range(P)]
        any_bad, bad_idx = first_set(m, Cat(*bad), P, "bad")
        with m.If(cfg.clear):
            for s in cnt.values():
                m.d.sync += s.eq(0)
        with m.Else():
            evs = [ch.ev for ch in self.channels]
            m.d.sync += [
                cnt["cycles"].eq(cnt["cycles"] + 1),
                cnt["requests"].eq(cnt["requests"] + popcount(reqs)),
                cnt["reads"].eq(cnt["reads"] + popcount([e.rd for e in evs])),
                cnt["writes"].eq(cnt["writes"] + popcount([e.wr for e in evs])),
                cnt["activates"].eq(cnt["activates"] + popcount([e.act for e in evs])),
                cnt["precharges"].eq(cnt["precharges"] + popcount([e.pre for e in evs])),
                cnt["refreshes"].eq(cnt["refreshes"] + popcount([e.ref for e in evs])),
                cnt["errors"].eq(cnt["errors"] + popcount(bad)),
                cnt["busy_cycles"].eq(cnt["busy_cycles"] + ~idle),
            ]
            with m.If(any_bad & (cnt["errors"] == 0)):
                addr = Signal(ADDR_BITS)
                with m.Switch(bad_idx):
                    for i in range(P):
                        with m.Case(i):
                            m.d.comb += addr.eq(self.ports[i].req.payload.addr)
                m.d.sync += [cnt["error_addr"].eq(addr), cnt["error_port"].eq(bad_idx)]
        m.d.comb += self.error.eq(cnt["errors"] != 0)
        return m
