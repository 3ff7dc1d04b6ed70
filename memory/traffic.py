"""HDL-side traffic generator on a DRAM port: bandwidth benchmarks and long self-checking runs.

A :class:`TrafficGen` issues ``count`` requests (one per cycle at most) with a pattern —
sequential, strided or random (xorshift32) — over a power-of-two window of the address space,
reads, writes or a random mix, up to ``outstanding`` requests in flight. Write data is a function
of (address, seed) (:func:`pattern_words`), so a later read pass with ``check`` compares every
response against it in RTL: long runs need no Python per request. Configured through its
:class:`~hw.config.ConfigStore` (layout :data:`TG_CONFIG`, counters :data:`TG_COUNTERS`); started by
the ring's START pulse; ``done`` when every request completed.

Address of request ``i``: ``base + (off_i & span)`` with ``off_0 = start`` and ``off_{i+1} = off_i + 1``
(sequential), ``off_i + stride`` (strided) or the next xorshift32 state (random).

Traffic generators are test instrumentation: they identify on the ring as DRAM-kind units.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hw.config import ConfigStore, UnitKind
from hw.net import CONFIG_RING
from hw.params import ConfigError
from hw.util import bits_for, xorshift32_rtl

from .util import first_set

__all__ = ["TrafficGen", "TG_CONFIG", "TG_COUNTERS", "PATTERNS", "OPS", "pattern_words",
           "tg_config"]

PATTERNS = {"sequential": 0, "strided": 1, "random": 2}
OPS = {"read": 0, "write": 1, "mixed": 2}

TG_CONFIG = data.StructLayout({
    "pattern": unsigned(2),
    "op": unsigned(2),
    "check": unsigned(1),
    "write_frac": unsigned(8),     # mixed: a request is a write with probability write_frac/256
    "outstanding": unsigned(8),    # 0 = the generator's maximum
    "base": unsigned(32),          # access index of the window
    "start": unsigned(32),         # first offset in the window
    "stride": unsigned(32),        # accesses (strided pattern)
    "span": unsigned(32),          # window mask: 2^k - 1 accesses
    "count": unsigned(32),         # requests
    "seed": unsigned(32),
})

TG_COUNTERS = ("cycles", "issued", "reads", "writes", "latency_sum", "latency_max", "errors",
               "error_addr", "stall_cycles")

MUL = 0x9E3779B1
STEP = 0x85EBCA77


def pattern_words(addr, seed, words):
    """Write data of access ``addr``: word ``w`` = ``addr·0x9E3779B1 + seed + w·0x85EBCA77``
    (mod 2^32) — the RTL's formula."""
    h = (addr * MUL + seed) & 0xFFFFFFFF
    return [(h + w * STEP) & 0xFFFFFFFF for w in range(words)]


def tg_config(pattern="sequential", op="read", *, base=0, start=0, stride=1, span, count, seed=1,
              check=False, write_frac=128, outstanding=0):
    """A :data:`TG_CONFIG` description with the names checked (one-line errors)."""
    if pattern not in PATTERNS:
        raise ConfigError(f"traffic pattern = {pattern!r}: must be one of {', '.join(PATTERNS)}")
    if op not in OPS:
        raise ConfigError(f"traffic op = {op!r}: must be one of {', '.join(OPS)}")
    if span & (span + 1):
        raise ConfigError(f"traffic span = {span:#x}: must be 2^k - 1 (a window mask)")
    return {"pattern": PATTERNS[pattern], "op": OPS[op], "check": int(check),
            "write_frac": write_frac, "outstanding": outstanding, "base": base, "start": start,
            "stride": stride & 0xFFFFFFFF, "span": span, "count": count, "seed": seed | 1}


class TrafficGen(wiring.Component):
    """Traffic generator on one DRAM port (``dram``, :class:`memory.dram.PortSpec` ``spec``).

    ``max_outstanding`` (≤ 2^tag_bits) bounds requests in flight. Throughput: one request per
    cycle while the DRAM accepts and the outstanding limit allows.
    """

    def __init__(self, spec, unit_id, max_outstanding=32):
        self.spec = spec
        self.max_outstanding = min(max_outstanding, 1 << spec.tag_bits)
        self.cfg = ConfigStore(unit_id, UnitKind.DRAM, TG_CONFIG, n_counters=len(TG_COUNTERS))
        self.unit_id = unit_id
        super().__init__({
            "dram": Out(spec.signature),
            "cfg_i": In(CONFIG_RING),
            "cfg_o": Out(CONFIG_RING),
            "busy": Out(1),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        N = self.max_outstanding
        words = spec.data_bytes // 4
        m.submodules.cfg = cfg = self.cfg
        wiring.connect(m, wiring.flipped(self.cfg_i), cfg.ring_i)
        wiring.connect(m, cfg.ring_o, wiring.flipped(self.cfg_o))
        c = cfg.config
        cnt = {name: Signal(32, name=f"pc_{name}") for name in TG_COUNTERS}
        for k, name in enumerate(TG_COUNTERS):
            m.d.comb += cfg.counters[k].eq(cnt[name])

        running = Signal()
        done = Signal()
        m.d.comb += [self.busy.eq(running), self.done.eq(done), cfg.busy.eq(running),
                     cfg.done.eq(done)]
        now = Signal(32)
        m.d.sync += now.eq(now + 1)

        off = Signal(32)
        rng_a = Signal(32)
        rng_w = Signal(32)
        nxt_a = xorshift32_rtl(m, rng_a, "rnga")
        nxt_w = xorshift32_rtl(m, rng_w, "rngw")

        limit = Signal(range(N + 1))
        m.d.comb += limit.eq(Mux((c.outstanding == 0) | (c.outstanding > N), N, c.outstanding))
        tag_busy = Signal(N)
        wr_pending = Signal(range(N + 1))
        inflight = Signal(range(2 * N + 1))
        free_any, free_tag = first_set(m, ~tag_busy, N, "tag")
        tag_addr = Signal(data.ArrayLayout(unsigned(32), N))
        tag_time = Signal(data.ArrayLayout(unsigned(32), N))

        is_write = Signal()
        with m.Switch(c.op):
            with m.Case(OPS["read"]):
                m.d.comb += is_write.eq(0)
            with m.Case(OPS["write"]):
                m.d.comb += is_write.eq(1)
            with m.Default():
                m.d.comb += is_write.eq(rng_w[:8] < c.write_frac)
        addr = Signal(32)
        m.d.comb += addr.eq(c.base + (off & c.span))

        req = self.dram.req
        sent = req.valid & req.ready
        slot_free = ~req.valid | req.ready
        can = (running & (cnt["issued"] < c.count) & slot_free & (inflight < limit) &
               (is_write | free_any))
        h = Signal(32)
        m.d.comb += h.eq(addr * MUL + c.seed)
        wdata = Cat(*[(h + w * STEP)[:32] for w in range(words)])
        with m.If(sent):
            m.d.sync += req.valid.eq(0)
        with m.If(can):
            m.d.sync += [req.valid.eq(1), req.payload.addr.eq(addr), req.payload.write.eq(is_write),
                         req.payload.tag.eq(free_tag), req.payload.mask.eq(-1),
                         req.payload.data.eq(wdata), cnt["issued"].eq(cnt["issued"] + 1),
                         rng_w.eq(nxt_w)]
            with m.Switch(c.pattern):
                with m.Case(PATTERNS["sequential"]):
                    m.d.sync += off.eq(off + 1)
                with m.Case(PATTERNS["strided"]):
                    m.d.sync += off.eq(off + c.stride)
                with m.Default():
                    m.d.sync += [off.eq(nxt_a), rng_a.eq(nxt_a)]
            with m.If(~is_write):
                m.d.sync += [tag_addr[free_tag].eq(addr), tag_time[free_tag].eq(now)]
        with m.If(req.valid & ~req.ready):
            m.d.sync += cnt["stall_cycles"].eq(cnt["stall_cycles"] + 1)

        # Responses: free the tag, account latency, check data.
        resp = self.dram.resp
        m.d.comb += resp.ready.eq(1)
        got = resp.valid
        rtag = resp.payload.tag[: bits_for(N)] if N > 1 else Const(0, 1)
        raddr = Signal(32)
        m.d.comb += raddr.eq(tag_addr[rtag])
        lat = Signal(32)
        m.d.comb += lat.eq(now - tag_time[rtag])
        rh = Signal(32)
        m.d.comb += rh.eq(raddr * MUL + c.seed)
        expect = Cat(*[(rh + w * STEP)[:32] for w in range(words)])
        bad = got & c.check & (resp.payload.data != expect)

        alloc = Signal(N)
        with m.If(can & ~is_write):
            m.d.comb += alloc.eq(Const(1, N) << free_tag)
        release = Signal(N)
        with m.If(got):
            m.d.comb += release.eq(Const(1, N) << rtag)
        m.d.sync += tag_busy.eq((tag_busy & ~release) | alloc)
        wdone = self.dram.wdone
        m.d.sync += wr_pending.eq(wr_pending + (can & is_write) - wdone)
        m.d.sync += inflight.eq(inflight + can - got - wdone)

        # Run control.
        with m.If(cfg.clear):
            for s in cnt.values():
                m.d.sync += s.eq(0)
        with m.If(cfg.start):
            m.d.sync += [running.eq(1), done.eq(0), off.eq(c.start), rng_a.eq(c.seed | 1),
                         rng_w.eq((c.seed ^ 0x9E3779B9) | 1)]
            for name in TG_COUNTERS:
                m.d.sync += cnt[name].eq(0)
        with m.Elif(running):
            m.d.sync += cnt["cycles"].eq(cnt["cycles"] + 1)
            with m.If(got):
                m.d.sync += [cnt["reads"].eq(cnt["reads"] + 1),
                             cnt["latency_sum"].eq(cnt["latency_sum"] + lat)]
                with m.If(lat > cnt["latency_max"]):
                    m.d.sync += cnt["latency_max"].eq(lat)
            m.d.sync += cnt["writes"].eq(cnt["writes"] + wdone)
            with m.If(bad):
                m.d.sync += cnt["errors"].eq(cnt["errors"] + 1)
                with m.If(cnt["errors"] == 0):
                    m.d.sync += cnt["error_addr"].eq(raddr)
            with m.If((cnt["issued"] == c.count) & ~req.valid & (inflight == 0)):
                m.d.sync += [running.eq(0), done.eq(1)]
        return m
