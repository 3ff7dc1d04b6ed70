"""PMU address pipeline pieces: the counter chain (:class:`AddrGen`), lane addresses and the bank
mapping (:func:`bank_map`), and the bank arbiter (:class:`BankArbiter`).

Python twins (bit-exact, used by the reference model :mod:`tiles.pmu_model`):
:func:`tiles.pmu_model.chain_offsets`, :func:`tiles.pmu_model.map_address`.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.net import SCALAR
from hw.stream import payload_register
from hw.util import log2_exact

from .pmu_layout import Mode, pipe_layout, slot_bits, vecaddr_layout

__all__ = ["AddrGen", "bank_map", "BankArbiter", "lane_layout", "mapped_layout"]


def _arg_mux(m, args, n_args, sel, name):
    """``args[sel - 1]`` (0 when ``sel`` is 0 or out of range)."""
    v = Signal(32, name=name)
    if n_args:
        with m.Switch(sel):
            for k in range(n_args):
                with m.Case(k + 1):
                    m.d.comb += v.eq(args[k])
    return v


class AddrGen(wiring.Component):
    """The counter chain of one address pipeline: emits one vector address per cycle.

    For pass ``q`` of a run, the chain visits counters ``c_{C-1} … c_0`` (``c_0`` innermost,
    ``c_i`` in ``0 … count_i - 1``) and emits ``off = bitrev(Σ stride_i · c_i)`` (the low
    ``cfg.bitrev`` bits reversed) with ``base = cfg.base + arg + scalar + region(q)``, where
    ``region(q) = (q mod nbuf) · region`` when ``rotate`` (N-buffering) and 0 otherwise. Strides
    and the base are sampled at the start of each pass (argument registers may change between
    passes); a ``cfg.base_scalar`` base is popped from ``base_s`` at each pass start.

    The sum is kept incrementally (one adder per counter level, no multipliers). Throughput: one
    address per cycle; one idle cycle at the start of a run and at a pass start that waits for a
    scalar base. ``busy`` is high from ``start`` until the final pass (``cfg.passes``; 0 = never)
    has been emitted.
    """

    def __init__(self, params, lanes):
        self.params = params
        p = params
        members = {
            "cfg": In(pipe_layout(p, lanes)),
            "rotate": In(1),
            "nbuf": In(unsigned(slot_bits(p, lanes))),
            "region": In(unsigned(p.addr_width)),
            "start": In(1),
            "base_s": In(SCALAR),
            "o": Out(stream.Signature(vecaddr_layout(p))),
            "busy": Out(1),
        }
        if p.args:
            members["args"] = In(data.ArrayLayout(unsigned(32), p.args))
        super().__init__(members)

    def elaborate(self, platform):
        p = self.params
        m = Module()
        cfg = self.cfg
        aw = p.addr_width
        nc = p.counters
        args = self.args if p.args else None

        cnt = [Signal(p.counter_bits, name=f"cnt{i}") for i in range(nc)]
        acc = [Signal(aw, name=f"acc{i}") for i in range(nc)]
        stride = [Signal(aw, name=f"stride{i}") for i in range(nc)]
        base = Signal(aw)
        npass = Signal(32)
        ridx = Signal.like(self.nbuf)
        roff = Signal(aw)
        IDLE, LOAD, RUN = 0, 1, 2
        state = Signal(2)
        m.d.comb += self.busy.eq(state != IDLE)

        # Pass-start sampling: strides, base (+ argument, + scalar, + region of the pass).
        need_scalar = cfg.base_scalar != 0
        argb = _arg_mux(m, args, p.args, cfg.base_arg, "base_argv")
        strides_now = []
        for i in range(nc):
            c = cfg.counters[i]
            a = _arg_mux(m, args, p.args, c.arg, f"stride_arg{i}")
            s = Signal(aw, name=f"stride_now{i}")
            m.d.comb += s.eq(Mux(c.arg != 0, a[:aw], c.stride))
            strides_now.append(s)

        # Region of the next pass (N-buffering rotates through nbuf regions).
        ridx_next = Signal.like(ridx)
        roff_next = Signal(aw)
        m.d.comb += [ridx_next.eq(ridx + 1), roff_next.eq(roff + self.region)]
        with m.If(~self.rotate | (ridx + 1 >= self.nbuf)):
            m.d.comb += [ridx_next.eq(0), roff_next.eq(0)]

        # Chain: wrap_i = counter i is at its last value; the lowest non-wrapping level counts.
        wrap = [Signal(name=f"wrap{i}") for i in range(nc)]
        for i in range(nc):
            m.d.comb += wrap[i].eq(cnt[i] + 1 >= cfg.counters[i].count)
        carry = [Const(1)]
        for i in range(nc):
            carry.append(carry[-1] & wrap[i])
        last = carry[nc]
        next_acc = Signal(aw)
        for i in reversed(range(nc)):
            with m.If(carry[i] & ~wrap[i]):
                m.d.comb += next_acc.eq(acc[i] + stride[i])
        # (next_acc stays 0 when every level wraps: the pass ends.)
        first = Signal()
        m.d.comb += first.eq(Cat(*cnt) == 0)
        final = Signal()
        m.d.comb += final.eq(last & (cfg.passes != 0) & (npass + 1 == cfg.passes))

        # Bit reversal of the low cfg.bitrev bits of the offset.
        rev = Signal(aw)
        mask = Signal(aw)
        off = Signal(aw)
        shamt = Signal(range(aw + 1))
        m.d.comb += shamt.eq(aw - cfg.bitrev)
        m.d.comb += [
            mask.eq((Const(1, aw + 1) << cfg.bitrev) - 1),
            rev.eq(Cat(*[acc[0][aw - 1 - j] for j in range(aw)]) >> shamt),
            off.eq(Mux(cfg.bitrev == 0, acc[0], (acc[0] & ~mask) | (rev & mask))),
        ]

        def begin_pass(region_off, scalar):
            m.d.sync += base.eq(cfg.base + argb[:aw] + region_off + scalar)
            for i in range(nc):
                m.d.sync += stride[i].eq(strides_now[i])

        emit = Signal()
        with m.If(self.o.ready | ~self.o.valid):
            m.d.sync += self.o.valid.eq(0)
            with m.If(state == RUN):
                m.d.comb += emit.eq(1)
                m.d.sync += [
                    self.o.valid.eq(1),
                    self.o.payload.off.eq(off),
                    self.o.payload.base.eq(base),
                    self.o.payload.first.eq(first),
                    self.o.payload.last.eq(last),
                    self.o.payload.final.eq(final),
                ]
                for j in range(nc):
                    with m.If(carry[j]):
                        m.d.sync += [cnt[j].eq(Mux(wrap[j], 0, cnt[j] + 1)), acc[j].eq(next_acc)]
                with m.If(last):
                    m.d.sync += [npass.eq(npass + 1), ridx.eq(ridx_next), roff.eq(roff_next)]
                    with m.If(final):
                        m.d.sync += state.eq(IDLE)
                    with m.Elif(need_scalar):
                        m.d.sync += state.eq(LOAD)
                    with m.Else():
                        begin_pass(roff_next, 0)

        m.d.comb += self.base_s.ready.eq((state == LOAD) & need_scalar)
        with m.If((state == LOAD) & (~need_scalar | self.base_s.valid)):
            begin_pass(roff, Mux(need_scalar, self.base_s.payload[:aw], 0))
            m.d.sync += state.eq(RUN)

        with m.If(self.start):
            m.d.sync += [state.eq(Mux(cfg.enable, LOAD, IDLE)), npass.eq(0), ridx.eq(0),
                         roff.eq(0), self.o.valid.eq(0)]
            for i in range(nc):
                m.d.sync += [cnt[i].eq(0), acc[i].eq(0)]
        return m


def lane_layout(params, lanes, with_data):
    """Lane addresses of one vector (after the lane adders), with write data and flags."""
    fields = {"addr": data.ArrayLayout(unsigned(params.addr_width), lanes),
              "first": unsigned(1), "last": unsigned(1), "final": unsigned(1)}
    if with_data:
        fields["data"] = data.ArrayLayout(unsigned(32), lanes)
    return data.StructLayout(fields)


def mapped_layout(params, lanes, with_data):
    """One vector after the bank mapping: per lane bank, offset in the bank, in-range flag."""
    fields = {"bank": data.ArrayLayout(unsigned(max(1, log2_exact(params.banks))), lanes),
              "off": data.ArrayLayout(unsigned(max(1, log2_exact(params.words_per_bank))), lanes),
              "act": unsigned(lanes),
              "bcast": unsigned(1),
              "first": unsigned(1), "last": unsigned(1), "final": unsigned(1)}
    if with_data:
        fields["data"] = data.ArrayLayout(unsigned(32), lanes)
    return data.StructLayout(fields)


def bank_map(m, params, lanes, addr, lane, mode, k, p, write, name):
    """Combinational bank mapping of one lane address (Python twin:
    :func:`tiles.pmu_model.map_address`).

    * strided: ``bank = a[k : k+log2 B]``; offset = ``a`` without those bits;
    * skewed: ``bank = (a[k : k+log2 B] + a[p : p+log2 B]) mod B`` (needs ``p >= k + log2 B``);
    * duplicate: every bank holds a copy; offset = ``a``; a write goes to every bank
      (``bcast``), lane ``i`` reads bank ``i mod B``.

    ``act`` is 0 for an address outside the memory (``B·D`` words, or ``D`` in duplicate mode).
    Returns ``(bank, off, act, bcast)`` signals.
    """
    nb = params.banks
    lb = log2_exact(nb)
    ld = log2_exact(params.words_per_bank)
    ab = lb + ld
    bank = Signal(max(1, lb), name=f"{name}_bank")
    off = Signal(max(1, ld), name=f"{name}_off")
    act = Signal(name=f"{name}_act")
    dup = mode == Mode.DUPLICATE
    cap = Mux(dup, params.words_per_bank, params.size_words)
    m.d.comb += act.eq(addr < cap)
    low = addr[:ab]
    if lb:
        win = Signal(lb, name=f"{name}_win")
        skw = Signal(lb, name=f"{name}_skw")
        m.d.comb += [win.eq(low >> k), skw.eq(low >> p)]
        keep = Signal(ab, name=f"{name}_keep")
        m.d.comb += keep.eq((Const(1, ab + 1) << k) - 1)
        soff = Signal(ab, name=f"{name}_soff")
        m.d.comb += soff.eq((low & keep) | ((low >> (k + lb)) << k)[:ab])
        with m.If(dup):
            m.d.comb += [bank.eq(lane % nb), off.eq(low)]
        with m.Else():
            m.d.comb += [bank.eq(win + Mux(mode == Mode.SKEWED, skw, 0)), off.eq(soff)]
    else:
        m.d.comb += [bank.eq(0), off.eq(low)]
    bcast = Signal(name=f"{name}_bcast")
    m.d.comb += bcast.eq(dup & write)
    return bank, off, act, bcast


class BankArbiter(wiring.Component):
    """Serves the lanes of one vector on the banks, one access per bank per cycle.

    ``i`` takes a mapped vector (:func:`mapped_layout`); each cycle every bank serves the
    lowest-numbered pending lane that wants it (a broadcast lane wants every bank). A vector with
    no conflicts completes in the cycle after it was accepted; otherwise it needs as many cycles
    as the most-wanted bank has lanes (``conflict`` is high in each extra cycle). The next vector
    is accepted in the cycle the current one completes (throughput one vector per cycle), if
    ``accept_ok`` allows it (``i.payload.first`` is visible for N-buffer gating).

    Outputs per bank: ``en``, ``addr``, ``data``; per lane: ``served`` and ``lane_bank``;
    ``complete`` (+ the vector's ``last`` / ``final`` flags) in the cycle its last lanes are
    served; ``accepted`` with ``oob`` (lanes out of range) when a vector enters.
    """

    def __init__(self, params, lanes, write):
        self.params = params
        self.lanes = lanes
        self.write = write
        p = params
        lb = max(1, log2_exact(p.banks))
        ld = max(1, log2_exact(p.words_per_bank))
        members = {
            "i": In(stream.Signature(mapped_layout(p, lanes, write))),
            "accept_ok": In(1),
            "flush": In(1),
            "en": Out(p.banks),
            "addr": Out(data.ArrayLayout(unsigned(ld), p.banks)),
            "served": Out(lanes),
            "lane_bank": Out(data.ArrayLayout(unsigned(lb), lanes)),
            "complete": Out(1),
            "last": Out(1),
            "final": Out(1),
            "conflict": Out(1),
            "busy": Out(1),
            "accepted": Out(1),
            "oob": Out(range(lanes + 1)),
        }
        if write:
            members["data"] = Out(data.ArrayLayout(unsigned(32), p.banks))
        super().__init__(members)

    def elaborate(self, platform):
        p = self.params
        L = self.lanes
        m = Module()
        # the vector being served: a payload register (hw.stream.payload_register says why), loaded
        # only when a vector is taken; ``have`` and ``pend`` say whether it holds one
        cur_en = Signal()
        cur = data.View(mapped_layout(p, L, self.write),
                        payload_register(m, "cur", mapped_layout(p, L, self.write), cur_en,
                                         self.i.payload))
        have = Signal()
        pend = Signal(L)
        m.d.comb += self.busy.eq(have)

        grants = []
        for b in range(p.banks):
            cand = Signal(L, name=f"cand{b}")
            m.d.comb += cand.eq(Cat(*[pend[i] & (cur.bcast | (cur.bank[i] == b)) for i in range(L)]))
            grant = Signal(L, name=f"grant{b}")
            m.d.comb += grant.eq(cand & (~cand + 1)[:L])   # lowest set bit
            grants.append(grant)
            m.d.comb += self.en[b].eq(cand.any())
            m.d.comb += self.addr[b].eq(_and_or(grant, [cur.off[i] for i in range(L)]))
            if self.write:
                m.d.comb += self.data[b].eq(_and_or(grant, [cur.data[i] for i in range(L)]))
        served = Signal(L)
        m.d.comb += served.eq(_or_all(grants, L))
        rem = Signal(L)
        m.d.comb += rem.eq(pend & ~served)
        m.d.comb += [
            self.served.eq(served),
            self.complete.eq(have & (rem == 0)),
            self.last.eq(cur.last),
            self.final.eq(cur.final),
            self.conflict.eq(have & (rem != 0)),
        ]
        for i in range(L):
            m.d.comb += self.lane_bank[i].eq(cur.bank[i])

        m.d.comb += self.i.ready.eq((~have | (rem == 0)) & self.accept_ok)
        take = self.i.valid & self.i.ready
        m.d.comb += [self.accepted.eq(take),
                     self.oob.eq(sum(~self.i.payload.act[i] for i in range(L)))]
        m.d.comb += cur_en.eq(take)
        with m.If(take):
            m.d.sync += [have.eq(1), pend.eq(self.i.payload.act)]
        with m.Elif(rem == 0):
            m.d.sync += [have.eq(0), pend.eq(0)]
        with m.Else():
            m.d.sync += pend.eq(rem)
        with m.If(self.flush):
            m.d.sync += [have.eq(0), pend.eq(0)]
        return m


def _and_or(onehot, values):
    """``values[i]`` for the set bit of ``onehot`` (0 if none): an AND-OR multiplexer."""
    out = 0
    for i, v in enumerate(values):
        out = out | Mux(onehot[i], v, 0)
    return out


def _or_all(vals, width):
    out = Const(0, width)
    for v in vals:
        out = out | v
    return out
