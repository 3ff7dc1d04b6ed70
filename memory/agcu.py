"""AGCU — address generation and coalescing unit: moves tensors between DRAM (HBM) and the fabric.

An AGCU is a fabric unit on the grid's edge (docs/architecture.md §2). Its fabric side follows
:func:`hw.net.unit_members` — ``vec_in[0]`` / ``vec_out[0]`` (L × 32-bit vectors), ``ctrl_in[0]``
(a token may start a run), ``ctrl_out[0]`` (a token when a run completes), ``cfg_i``/``cfg_o``,
``busy``/``done`` — and its DRAM side is one DRAM port ``dram`` (:class:`memory.dram.PortSpec`
of its tier; see :mod:`memory.dram`).

Access pattern
--------------
The tensor is walked as a loop nest over **vectors** (L consecutive 32-bit words, ``4·L`` bytes,
aligned): vector address ``base + Σ_k i_k · stride_k`` for ``0 ≤ i_k < size_k``, loop 0 innermost
(sizes and signed strides in vectors; unused loops have size 1). :func:`tensor_loops` turns a
tensor shape, element strides and a tile shape into that nest; :func:`agcu_program` checks a
description against the unit and the memory (one-line errors naming the field).

* **Load** (``mode = 0``): DRAM → ``vec_out[0]`` in loop order.
* **Store** (``mode = 1``): ``vec_in[0]`` → DRAM, vector ``n`` of the stream to the ``n``-th address.

Coalescing: consecutive vector addresses that fall in one DRAM access (``access_bytes``) and
follow each other are merged into one request, up to ``burst`` vectors (a store writes them with a
word mask). Up to ``outstanding`` requests are in flight; read data returns in any order into a
reorder buffer (one access per slot, indexed by tag) and leaves in order.

Configuration (:func:`agcu_layout`, one :class:`~hw.config.ConfigStore`): ``mode``, ``arg_base``
(add argument register 0 — a run-time base in vectors — to ``base``), ``ctrl_start``,
``ctrl_done``, ``burst`` (0 = a whole access), ``outstanding`` (0 = the maximum), ``base``,
``dims[k].size`` / ``dims[k].stride``. Performance counters :data:`AGCU_COUNTERS`.

Latency: a load's first vector leaves ≈ DRAM read latency + 4 cycles after start; a store vector
enters through a skid buffer (1 cycle, registered ``ready``). Throughput: one
vector per cycle when the DRAM keeps up (``outstanding`` ≥ latency × access rate; each access
carries ``access_bytes / (4·L)`` vectors).

Errors: an address at or beyond the memory's capacity stops the run (``error`` output, ``status``
bit 0, ``error_addr`` = the vector address; the run then completes without the remaining
vectors). Configurations that can be checked in Python are rejected by :func:`agcu_program`.
"""

from __future__ import annotations

import numpy as np
from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hw.config import UNIT_ID_PORT, ConfigStore, UnitKind
from hw.generate import shared_unit
from hw.net import unit_members
from hw.params import AGCUParams, ConfigError, DRAMParams
from hw.stream import SkidBuffer
from hw.util import bits_for

from .dram import port_spec

__all__ = ["AGCU", "OutstandingTags", "agcu_layout", "agcu_program", "tensor_loops",
           "AGCU_COUNTERS", "LOAD", "STORE", "AGCUConfigError", "vector_addresses"]

LOAD = 0
STORE = 1

AGCU_COUNTERS = ("cycles", "vectors", "bytes", "requests", "fabric_stall", "dram_stall",
                 "latency_sum", "responses", "status", "error_addr")


class AGCUConfigError(ConfigError):
    """An AGCU configuration that cannot work (message: which field, what is allowed)."""


def agcu_layout(params):
    """The AGCU configuration layout for :class:`~hw.params.AGCUParams` ``params`` (used by the RTL
    and by :func:`agcu_program`)."""
    dim = data.StructLayout({"size": unsigned(params.counter_bits), "stride": signed(32)})
    return data.StructLayout({
        "mode": unsigned(1),
        "arg_base": unsigned(1),
        "ctrl_start": unsigned(1),
        "ctrl_done": unsigned(1),
        "burst": unsigned(8),
        "outstanding": unsigned(8),
        "base": unsigned(32),
        "dims": data.ArrayLayout(dim, params.counters),
    })


def _geometry(lanes, dram):
    vbytes = 4 * lanes
    if dram.access_bytes < vbytes:
        raise AGCUConfigError(
            f"AGCU: a vector of {lanes} lanes ({vbytes} bytes) is wider than one DRAM access "
            f"(burst_length x bytes_per_cycle = {dram.access_bytes} bytes); use a DRAM preset with "
            f"access_bytes >= 4 x lanes")
    return vbytes, dram.access_bytes // vbytes, dram.capacity_bytes // vbytes


def tensor_loops(shape, lanes, strides=None, tile=None):
    """Loop nest (``[(size, stride), ...]``, innermost first, in vectors) that walks a tensor tile
    by tile.

    ``shape``: tensor shape in 32-bit elements (row-major, last dimension contiguous);
    ``strides``: element strides (default: contiguous row-major); ``tile``: tile shape (default:
    the whole tensor). Tiles are visited in row-major order, each tile row-major inside. Loops of
    size 1 are dropped. Raises :class:`AGCUConfigError` if the last dimension is not contiguous
    or a tile does not divide the shape or rows are not whole vectors.
    """
    shape = tuple(int(s) for s in shape)
    n = len(shape)
    if n == 0 or any(s < 1 for s in shape):
        raise AGCUConfigError(f"tensor shape = {shape}: must have dimensions >= 1")
    if strides is None:
        strides = tuple(int(np.prod(shape[i + 1:])) for i in range(n))
    strides = tuple(int(s) for s in strides)
    tile = shape if tile is None else tuple(int(t) for t in tile)
    if len(strides) != n or len(tile) != n:
        raise AGCUConfigError(f"tensor strides {strides} / tile {tile}: must have {n} entries "
                              f"like shape {shape}")
    if strides[-1] != 1:
        raise AGCUConfigError(f"tensor strides[-1] = {strides[-1]}: the last dimension must be "
                              f"contiguous (1); the AGCU moves whole vectors")
    for d in range(n):
        if tile[d] < 1 or shape[d] % tile[d]:
            raise AGCUConfigError(f"tile[{d}] = {tile[d]}: must divide shape[{d}] = {shape[d]}")
    if tile[-1] % lanes:
        raise AGCUConfigError(f"tile[-1] = {tile[-1]}: must be a multiple of the lane count "
                              f"({lanes}); pad the tensor")
    for d in range(n - 1):
        if strides[d] % lanes:
            raise AGCUConfigError(f"tensor strides[{d}] = {strides[d]}: must be a multiple of the "
                                  f"lane count ({lanes}) so every row starts on a vector")
    loops = [(tile[-1] // lanes, 1)]
    for d in reversed(range(n - 1)):
        loops.append((tile[d], strides[d] // lanes))
    loops.append((shape[-1] // tile[-1], tile[-1] // lanes))
    for d in reversed(range(n - 1)):
        loops.append((shape[d] // tile[d], tile[d] * strides[d] // lanes))
    return [lp for lp in loops if lp[0] > 1] or [(1, 1)]


def vector_addresses(base, loops):
    """Vector addresses a loop nest visits, in order (numpy int64; the reference for tests)."""
    addrs = np.zeros(1, np.int64)
    for size, stride in loops:
        addrs = (np.arange(size, dtype=np.int64)[:, None] * int(stride) + addrs[None, :]).reshape(-1)
    addrs = addrs + int(base)
    return addrs


def agcu_program(params, lanes, dram, *, mode, base, loops, burst=None, outstanding=None,
                 arg_base=False, ctrl_start=False, ctrl_done=False):
    """Check and build an AGCU configuration (a description of :func:`agcu_layout`).

    ``mode``: ``"load"`` or ``"store"``; ``base``: vector address (byte address ÷ 4·lanes);
    ``loops``: ``[(size, stride), ...]`` innermost first (:func:`tensor_loops`); ``burst``: vectors
    per request (default: ``params.burst_words / lanes`` capped to one access); ``outstanding``:
    requests in flight (default: ``params.outstanding``). With ``arg_base`` the run-time base
    (argument 0) is added at start, so the bounds check covers ``base`` only as an offset.
    Raises :class:`AGCUConfigError` with one line naming the field and what is allowed.
    """
    vbytes, vpa, cap = _geometry(lanes, dram)
    if mode not in ("load", "store"):
        raise AGCUConfigError(f"agcu mode = {mode!r}: must be 'load' or 'store'")
    loops = [tuple(int(x) for x in lp) for lp in loops]
    if not 1 <= len(loops) <= params.counters:
        raise AGCUConfigError(f"agcu loops: {len(loops)} loops; this AGCU has counters = "
                              f"{params.counters} (agcu.counters): tile less deeply or "
                              f"raise counters")
    smax = (1 << params.counter_bits) - 1
    for k, (size, stride) in enumerate(loops):
        if not 1 <= size <= smax:
            raise AGCUConfigError(f"agcu loops[{k}].size = {size}: must be in 1..{smax} "
                                  f"(counter_bits = {params.counter_bits})")
        if not -(1 << 31) <= stride < (1 << 31):
            raise AGCUConfigError(f"agcu loops[{k}].stride = {stride}: must fit a signed 32-bit "
                                  f"number of vectors")
    if burst is None:
        burst = max(1, min(vpa, params.burst_words // lanes))
    if not 1 <= burst <= vpa:
        raise AGCUConfigError(f"agcu burst = {burst}: must be in 1..{vpa} vectors (one DRAM "
                              f"access of {dram.access_bytes} bytes holds {vpa} vectors)")
    if outstanding is None:
        outstanding = params.outstanding
    if not 1 <= outstanding <= params.outstanding:
        raise AGCUConfigError(f"agcu outstanding = {outstanding}: must be in "
                              f"1..{params.outstanding} (agcu.outstanding)")
    if not 0 <= base < (1 << 32):
        raise AGCUConfigError(f"agcu base = {base}: must be a vector address in 0..2^32-1")
    lo = base + sum(min(0, (s - 1) * st) for s, st in loops)
    hi = base + sum(max(0, (s - 1) * st) for s, st in loops)
    if not arg_base and (lo < 0 or hi >= cap):
        bad = lo if lo < 0 else hi
        raise AGCUConfigError(
            f"agcu tensor reaches vector address {bad} (byte {bad * vbytes:#x}), outside the "
            f"{dram.kind} memory of {cap} vectors ({dram.capacity_bytes} bytes)")
    dims = [{"size": s, "stride": st} for s, st in loops]
    dims += [{"size": 1, "stride": 0}] * (params.counters - len(dims))
    return {"mode": LOAD if mode == "load" else STORE, "arg_base": int(arg_base),
            "ctrl_start": int(ctrl_start), "ctrl_done": int(ctrl_done), "burst": burst,
            "outstanding": outstanding % 256, "base": base, "dims": dims}


class OutstandingTags(wiring.Component):
    """The tags of an AGCU's outstanding DRAM reads: ``n`` slots (the reorder buffer's rows) used
    in issue order.

    ``issue``: a read request takes slot ``tail`` (its tag; the caller issues only while
    ``count < n``). ``resp_valid`` / ``resp_tag``: a response; ``accept`` says it answers a read in
    flight whose response has not come yet, and only then is it recorded: a response with a tag
    that is not in flight (a stray or repeated one from a faulty memory) is ignored. ``arrived``:
    the oldest read (slot ``head``) has its response; ``pop``: its data has left (the caller pops
    only while ``arrived``). ``count``: reads in flight. One slot per read at a time, one
    response per read (formally checked: ``tests/formal/test_agcu.py``, docs/verification.md).
    Combinational outputs from registers; no latency of its own.
    """

    def __init__(self, n, tag_bits):
        self.n = n
        self.tag_bits = tag_bits
        super().__init__({
            "issue": In(1), "pop": In(1),
            "resp_valid": In(1), "resp_tag": In(tag_bits),
            "accept": Out(1), "arrived": Out(1),
            "tail": Out(range(n)), "head": Out(range(n)), "count": Out(range(n + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.n
        inflight = Signal(n)
        arrived = Signal(n)
        hit = Signal(n)         # one-hot of the response's tag (none if out of range)
        m.d.comb += hit.eq(Mux(self.resp_tag < n, Const(1, n) << self.resp_tag, 0))
        take = Signal(n)
        m.d.comb += [take.eq(Mux(self.resp_valid, hit & inflight & ~arrived, 0)),
                     self.accept.eq(take.any())]
        new = Signal(n)
        done = Signal(n)
        with m.If(self.issue):
            m.d.comb += new.eq(Const(1, n) << self.tail)
            m.d.sync += self.tail.eq(Mux(self.tail == n - 1, 0, self.tail + 1))
        with m.If(self.pop):
            m.d.comb += done.eq(Const(1, n) << self.head)
            m.d.sync += self.head.eq(Mux(self.head == n - 1, 0, self.head + 1))
        m.d.sync += [inflight.eq((inflight | new) & ~done), arrived.eq((arrived | take) & ~done),
                     self.count.eq(self.count + self.issue - self.pop)]
        m.d.comb += self.arrived.eq((self.count != 0) & (arrived >> self.head)[0])
        return m


class AGCU(wiring.Component):
    """Address generation and coalescing unit (see the module docstring).

    Parameters: ``params`` (:class:`~hw.params.AGCUParams`), ``lanes`` (fabric lanes L),
    ``unit_id`` (its ring id; :data:`hw.config.UNIT_ID_PORT`: an input port ``unit_id`` instead,
    the module shared by the AGCUs of a chip, :func:`hw.generate.shared_unit`), ``dram``
    (:class:`~hw.params.DRAMParams` of the memory it talks to: access size, capacity).

    Ports: :func:`hw.net.unit_members` with one ``vec_in``, ``vec_out``, ``ctrl_in``, ``ctrl_out``;
    ``dram`` (requester side of a DRAM port); ``error``; ``unit_id`` with ``UNIT_ID_PORT``.
    """

    def __init__(self, params=None, lanes=8, unit_id=0, *, dram=None):
        self.params = params = params if params is not None else AGCUParams()
        self.dram_params = dram = dram if dram is not None else DRAMParams()
        self.lanes = lanes
        self.vbytes, self.vpa, self.cap_vectors = _geometry(lanes, dram)
        self.spec = port_spec(dram)
        self.layout = agcu_layout(params)
        if unit_id != UNIT_ID_PORT:
            self.unit_id = unit_id      # else the port of that name
        members = unit_members(lanes, vec_in=1, vec_out=1, ctrl_in=1, ctrl_out=1)
        members["dram"] = Out(self.spec.signature)
        members["error"] = Out(1)
        if unit_id == UNIT_ID_PORT:
            members["unit_id"] = In(12)
        super().__init__(members)

    def elaborate(self, platform):
        # In a design converted to Verilog: an instance of the one module of these parameters.
        shared = shared_unit(self, platform, (self.params, self.lanes, self.dram_params),
                             lambda: AGCU(self.params, self.lanes, UNIT_ID_PORT,
                                          dram=self.dram_params),
                             unit_id=self.unit_id)
        if shared is not None:
            return shared
        m = Module()
        p = self.params
        K = p.counters
        N = p.outstanding
        VPA = self.vpa
        vbits = self.vbytes * 8
        sub_bits = max(1, (VPA - 1).bit_length())
        lg_vpa = (VPA - 1).bit_length()
        # The ring stop is built here, not in __init__: a unit replaced by a shared instance never
        # elaborates, and Amaranth warns about every elaboratable built but not elaborated.
        id_port = not isinstance(self.unit_id, int)
        m.submodules.cfg = cfg = ConfigStore(UNIT_ID_PORT if id_port else self.unit_id,
                                             UnitKind.AGCU, self.layout, n_args=p.args,
                                             n_counters=len(AGCU_COUNTERS))
        if id_port:
            m.d.comb += cfg.unit_id.eq(self.unit_id)
        wiring.connect(m, wiring.flipped(self.cfg_i), cfg.ring_i)
        wiring.connect(m, cfg.ring_o, wiring.flipped(self.cfg_o))
        c = cfg.config
        cnt = {name: Signal(32, name=f"pc_{name}") for name in AGCU_COUNTERS}
        for k, name in enumerate(AGCU_COUNTERS):
            m.d.comb += cfg.counters[k].eq(cnt[name])
        now = Signal(32)
        m.d.sync += now.eq(now + 1)

        running = Signal()
        done = Signal()
        error = Signal()
        m.d.comb += [self.busy.eq(running), self.done.eq(done), cfg.busy.eq(running),
                     cfg.done.eq(done), self.error.eq(error)]
        store = c.mode == STORE
        # Store vectors enter through a skid buffer: the AGCU's accept (address compares for
        # coalescing, issue credit) is deep, and with a registered ready it stays off the
        # switch's output register (+1 cycle of store latency).
        m.submodules.vin_skid = vin_skid = SkidBuffer(self.vec_in[0].payload.shape())
        wiring.connect(m, wiring.flipped(self.vec_in[0]), vin_skid.i)
        vin = vin_skid.o
        vout = self.vec_out[0]
        req = self.dram.req
        resp = self.dram.resp

        # ---- start ---------------------------------------------------------------------------
        cin = self.ctrl_in[0]
        m.d.comb += cin.ready.eq(c.ctrl_start & ~running)
        start = Signal()
        m.d.comb += start.eq(cfg.start | (cin.valid & cin.ready))
        base_eff = Signal(32)
        m.d.comb += base_eff.eq(c.base + Mux(c.arg_base, cfg.args[0], 0))

        # ---- address generator: one vector address per cycle ---------------------------------
        ag_valid = Signal()
        idx = [Signal(p.counter_bits, name=f"idx{k}") for k in range(K)]
        addr = [Signal(32, name=f"addr{k}") for k in range(K)]
        last_k = Signal(K)
        for k in range(K):
            m.d.comb += last_k[k].eq((idx[k] + 1 >= c.dims[k].size))
        ag_last = last_k.all()
        ag_addr = addr[0]
        ag_take = Signal()          # the current address is consumed this cycle
        inc_addr = Signal(32)
        lvl = Signal(range(K + 1))
        expr = Const(K, lvl.shape())
        for k in reversed(range(K)):
            expr = Mux(~last_k[k], k, expr)
        m.d.comb += lvl.eq(expr)
        stride_l = Signal(signed(32))
        with m.Switch(lvl):
            for k in range(K):
                with m.Case(k):
                    m.d.comb += [stride_l.eq(c.dims[k].stride), inc_addr.eq(addr[k] + c.dims[k].stride)]
        # The handshake logic below (accept, issue) sees only registers of the address side: the
        # range check is computed for the next address while it is formed (inc_addr is always
        # the next addr[0]: loop 0 is at or below the incremented level).
        in_range = Signal()
        with m.If(ag_take & ~ag_last):
            m.d.sync += in_range.eq(inc_addr < self.cap_vectors)
        with m.If(ag_take):
            with m.If(ag_last):
                m.d.sync += ag_valid.eq(0)
            with m.Else():
                for k in range(K):
                    with m.If(lvl == k):
                        m.d.sync += [idx[k].eq(idx[k] + 1), addr[k].eq(inc_addr)]
                    with m.Elif(lvl > k):
                        m.d.sync += [idx[k].eq(0), addr[k].eq(inc_addr)]

        # ---- coalescer: the open group --------------------------------------------------------
        g_valid = Signal()
        g_acc = Signal(32)
        g_first = Signal(sub_bits)
        g_count = Signal(range(VPA + 1))
        g_end = Signal(32)
        g_flush = Signal()          # the group holds the run's last vector: send it
        g_data = Signal(VPA * vbits)
        g_mask = Signal(VPA * self.lanes)
        # burst and limit are registered from the configuration (static during a run; a write
        # reaches them one cycle later, before any START the ring can deliver after it acts).
        burst = Signal(range(VPA + 1))
        m.d.sync += burst.eq(Mux((c.burst == 0) | (c.burst > VPA), VPA, c.burst))
        e_acc = Signal(32)
        e_sub = Signal(sub_bits)
        m.d.comb += [e_acc.eq(ag_addr >> lg_vpa), e_sub.eq(ag_addr[:lg_vpa] if lg_vpa else 0)]
        # The merge compares look only at the bits an address inside the memory can have: every
        # use of can_merge is gated by in_range, and g_acc / g_end come from in-range elements
        # (g_end <= capacity), so the truncated compares are exact and shallower.
        # The compares are made one cycle ahead, on the accept that makes the current element the
        # group's last and the next address current: `g_match` = the next address follows the
        # group (== g_end) in the same access (== g_acc); `g_full` = g_count >= burst.
        nb = min(32, bits_for(self.cap_vectors + 1))
        g_match = Signal()
        g_full = Signal()
        e_acc_next = Signal(32)
        m.d.comb += e_acc_next.eq(inc_addr >> lg_vpa)
        can_merge = g_valid & ~g_flush & g_match & ~g_full

        # Issue credit: a free request register and an outstanding slot.
        limit = Signal(range(N + 1))
        m.d.sync += limit.eq(Mux((c.outstanding == 0) | (c.outstanding > N), N, c.outstanding))
        # The outstanding reads: their tags, in-flight and arrived bits, the count.
        m.submodules.tags = tags = OutstandingTags(N, len(resp.payload.tag))
        rob_count = tags.count
        wr_pending = Signal(range(N + 2))
        # The request register is a skid buffer's output: its registered input ready stands for
        # "a request register is free", so the DRAM port's ready does not reach the accept logic
        # or the group registers' enables (same latency as a plain register).
        m.submodules.rq = rq = SkidBuffer(req.payload.shape())
        wiring.connect(m, rq.o, wiring.flipped(req))
        credit = Mux(store, wr_pending < limit, rob_count < limit)
        issue_ok = rq.i.ready & credit

        # An element is ready when the address is valid (and, for stores, its vector arrived).
        e_valid = running & ag_valid & in_range & Mux(store, vin.valid, 1)
        slot_ok = running & ag_valid & in_range & (can_merge | ~g_valid | (issue_ok & ~g_flush))
        accept = slot_ok & Mux(store, vin.valid, 1)
        close_old = accept & g_valid & ~can_merge
        flush_now = g_valid & g_flush & issue_ok
        issue = close_old | flush_now
        m.d.comb += [ag_take.eq(accept), vin.ready.eq(slot_ok & store)]

        # Bad address: stop generating, record the error.
        with m.If(running & ag_valid & ~in_range):
            m.d.sync += [ag_valid.eq(0), error.eq(1), cnt["error_addr"].eq(ag_addr),
                         g_flush.eq(g_valid)]

        vec_pos = Signal(VPA * vbits)
        if VPA > 1:
            m.d.comb += vec_pos.eq(vin.payload.as_value() << (e_sub * vbits))
        else:
            m.d.comb += vec_pos.eq(vin.payload.as_value())
        word_mask = (1 << self.lanes) - 1
        mask_pos = Signal(VPA * self.lanes)
        m.d.comb += mask_pos.eq(Const(word_mask, self.lanes) << (e_sub * self.lanes))

        with m.If(accept):
            with m.If(can_merge):
                m.d.sync += [g_count.eq(g_count + 1), g_end.eq(g_end + 1),
                             g_full.eq(g_count + 1 >= burst),
                             g_data.eq(g_data | vec_pos), g_mask.eq(g_mask | mask_pos)]
            with m.Else():
                m.d.sync += [g_valid.eq(1), g_acc.eq(e_acc), g_first.eq(e_sub), g_count.eq(1),
                             g_full.eq(burst == 1),          # burst >= 1
                             g_end.eq(ag_addr + 1), g_data.eq(vec_pos), g_mask.eq(mask_pos)]
            # either way g_end becomes ag_addr + 1 and g_acc becomes e_acc. Truncated to the
            # memory's address bits as before: the match is used only while the next address is
            # in range (< capacity < 2**nb), and g_end <= capacity.
            m.d.sync += [g_flush.eq(ag_last),
                         g_match.eq((inc_addr[:nb] == (ag_addr + 1)[:nb]) &
                                    (e_acc_next[:nb] == e_acc[:nb]))]
        with m.Elif(flush_now):
            m.d.sync += [g_valid.eq(0), g_flush.eq(0)]

        # ---- request register ---------------------------------------------------------------
        tail = tags.tail
        head = tags.head
        meta_first = Signal(data.ArrayLayout(unsigned(sub_bits), N))
        meta_count = Signal(data.ArrayLayout(unsigned(bits_for(VPA + 1)), N))
        meta_time = Signal(data.ArrayLayout(unsigned(32), N))
        m.d.comb += [rq.i.valid.eq(issue), rq.i.payload.addr.eq(g_acc),
                     rq.i.payload.write.eq(store), rq.i.payload.tag.eq(Mux(store, 0, tail)),
                     rq.i.payload.data.eq(g_data), rq.i.payload.mask.eq(g_mask)]
        with m.If(issue):
            with m.If(~store):
                m.d.sync += [meta_first[tail].eq(g_first), meta_count[tail].eq(g_count),
                             meta_time[tail].eq(now)]

        # ---- load: reorder buffer and output ---------------------------------------------------
        rob = memory.Memory(shape=unsigned(VPA * vbits), depth=max(N, 2), init=[])
        m.submodules.rob = rob
        wp = rob.write_port()
        rp = rob.read_port()
        rtag = resp.payload.tag[: bits_for(N)] if N > 1 else Const(0, 1)
        # every response is taken; only one answering an outstanding read is written
        m.d.comb += [resp.ready.eq(1), wp.addr.eq(rtag), wp.data.eq(resp.payload.data),
                     tags.resp_valid.eq(resp.valid), tags.resp_tag.eq(resp.payload.tag),
                     wp.en.eq(tags.accept)]

        s1_valid = Signal()
        s1_sel = Signal(sub_bits)
        k_out = Signal(range(VPA + 1))
        advance = ~s1_valid | vout.ready
        have = tags.arrived
        h_first = meta_first[head]
        h_count = meta_count[head]
        m.d.comb += [rp.addr.eq(head), rp.en.eq(advance)]
        with m.If(advance):
            m.d.sync += [s1_valid.eq(have), s1_sel.eq(h_first + k_out)]
        pop = advance & have & (k_out + 1 == h_count)
        with m.If(advance & have):
            m.d.sync += k_out.eq(Mux(k_out + 1 == h_count, 0, k_out + 1))
        m.d.comb += [tags.issue.eq(issue & ~store), tags.pop.eq(pop)]
        m.d.comb += [vout.valid.eq(s1_valid),
                     vout.payload.eq(rp.data.word_select(s1_sel, vbits) if VPA > 1 else rp.data)]
        m.d.sync += wr_pending.eq(wr_pending + (issue & store) - self.dram.wdone)

        # ---- completion, tokens, counters -----------------------------------------------------
        cout = self.ctrl_out[0]
        token = Signal()
        m.d.comb += [cout.valid.eq(token), cout.payload.eq(1)]
        with m.If(cout.valid & cout.ready):
            m.d.sync += token.eq(0)
        # (an idle request register means an empty skid slot too: the slot fills only behind a
        # stalled output)
        drained = ~ag_valid & ~g_valid & ~req.valid & Mux(store, wr_pending == 0,
                                                           (rob_count == 0) & ~s1_valid)
        # Counter events are registered and added one cycle later (outside the running test,
        # so the last cycle's events still count): the handshakes they sample come from the
        # switch and the DRAM port, and the adders stay off those paths.
        ev = {k: Signal(name=f"ev_{k}") for k in
              ("move", "request", "fabric_stall", "dram_stall", "response")}
        ev_lat = Signal(32)
        m.d.sync += [e.eq(0) for e in ev.values()] + [ev_lat.eq(0)]
        m.d.sync += [
            cnt["vectors"].eq(cnt["vectors"] + ev["move"]),
            cnt["bytes"].eq(cnt["bytes"] + Mux(ev["move"], self.vbytes, 0)),
            cnt["requests"].eq(cnt["requests"] + ev["request"]),
            cnt["fabric_stall"].eq(cnt["fabric_stall"] + ev["fabric_stall"]),
            cnt["dram_stall"].eq(cnt["dram_stall"] + ev["dram_stall"]),
            cnt["latency_sum"].eq(cnt["latency_sum"] + ev_lat),
            cnt["responses"].eq(cnt["responses"] + ev["response"]),
        ]
        with m.If(cfg.clear):
            for name, s in cnt.items():
                if name != "status":
                    m.d.sync += s.eq(0)
        with m.If(start & ~running):
            m.d.sync += [running.eq(1), done.eq(0), error.eq(0), ag_valid.eq(1),
                         g_valid.eq(0), g_flush.eq(0), k_out.eq(0)]
            m.d.sync += in_range.eq(base_eff < self.cap_vectors)
            for k in range(K):
                m.d.sync += [idx[k].eq(0), addr[k].eq(base_eff)]
        with m.Elif(running):
            with m.If(drained):
                m.d.sync += [running.eq(0), done.eq(1), token.eq(c.ctrl_done)]
            fabric_move = Mux(store, vin.valid & vin.ready, vout.valid & vout.ready)
            lat = Signal(32)
            m.d.comb += lat.eq(now - meta_time[rtag])
            m.d.sync += [
                cnt["cycles"].eq(cnt["cycles"] + 1),
                ev["move"].eq(fabric_move),
                ev["request"].eq(req.valid & req.ready),
                ev["fabric_stall"].eq(Mux(store, ag_valid & in_range & ~vin.valid,
                                          vout.valid & ~vout.ready)),
                ev["dram_stall"].eq((req.valid & ~req.ready) |
                                    (g_valid & ~credit & (g_flush | (e_valid & ~can_merge)))),
                ev_lat.eq(Mux(tags.accept, lat, 0)),
                ev["response"].eq(tags.accept),
            ]
        m.d.comb += cnt["status"].eq(Cat(error, store))
        return m
