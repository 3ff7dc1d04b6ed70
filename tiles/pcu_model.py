"""Python model of a configured PCU, iteration by iteration (no timing).

:func:`run` executes an :class:`~tiles.pcu_asm.Assembled` program on input streams and returns the
output streams — the same words the RTL produces, computed with :mod:`hw.numerics` for every
operation. It is the reference the RTL tests also check against (besides ``hw.golden``), and the
quick way to debug a fragment without building a simulator. :func:`fu` is the model of one stage's
functional units.

Streams are lists of numpy ``uint32`` arrays (vectors: shape ``(L,)``; scalars: 0-d) or 2-d arrays.
"""

from __future__ import annotations

import numpy as np

from hw import numerics as nx

from .pcu_isa import AccOp, Mask, Neg, Op, OutSrc, Src, when_decode, when_eval

__all__ = ["fu", "run", "ModelResult"]

U32 = np.uint32


# Lane words (uint32) ↔ what the numerics functions take, short because every opcode uses them:
# signed integers (_s) and back (_u), fp32 values (_f) and back (_b).
_s, _u, _f, _b = nx.wrap, nx.int_words, nx.from_bits, nx.bits


def fu(op, a, b, c, frac=0):
    """``op(a, b, c)`` on uint32 lane arrays, bit-exact to the RTL's :class:`LaneFU`."""
    op = Op(op)
    sa, sb, sc = _s(a), _s(b), _s(c)
    if op in (Op.NOP, Op.PASS):
        return np.asarray(a, U32)
    if op == Op.ADD:
        return _u(sa + sb)
    if op == Op.SUB:
        return _u(sa - sb)
    if op == Op.MUL:
        return _u(nx.int_mul(sa, sb))
    if op == Op.MULADD:
        return _u(nx.int_mul(sa, sb) + sc)
    if op == Op.MIN:
        return np.where(sa < sb, a, b).astype(U32)
    if op == Op.MAX:
        return np.where(sa < sb, b, a).astype(U32)
    if op == Op.LT:
        return (sa < sb).astype(U32)
    if op == Op.EQ:
        return (np.asarray(a) == np.asarray(b)).astype(U32)
    if op == Op.SEL:
        return np.where(np.asarray(c) != 0, a, b).astype(U32)
    if op == Op.AND:
        return (np.asarray(a, U32) & np.asarray(b, U32)).astype(U32)
    if op == Op.OR:
        return (np.asarray(a, U32) | np.asarray(b, U32)).astype(U32)
    if op == Op.XOR:
        return (np.asarray(a, U32) ^ np.asarray(b, U32)).astype(U32)
    if op == Op.SHL:
        return _u(nx.int_shl(sa, sb & 31))
    if op == Op.SHR:
        return _u(nx.int_shr(sa, sb & 31))
    if op == Op.SHRL:
        return _u(nx.int_shr(sa, sb & 31, arithmetic=False))
    if op == Op.ADDS:
        return _u(nx.int_add(sa, sb, sat=True))
    if op == Op.SUBS:
        return _u(nx.int_sub(sa, sb, sat=True))
    if op == Op.FXMUL:
        return _u(nx.fixed_mul(sa, sb, frac))
    if op == Op.FADD:
        return _b(nx.fp32_add(_f(a), _f(b)))
    if op == Op.FSUB:
        return _b(nx.fp32_sub(_f(a), _f(b)))
    if op == Op.FMUL:
        return _b(nx.fp32_mul(_f(a), _f(b)))
    if op == Op.FMA:
        return _b(nx.fp32_muladd(_f(a), _f(b), _f(c)))
    if op == Op.FMAX:
        return _b(nx.fp32_max(_f(a), _f(b)))
    if op == Op.FMIN:
        return _b(nx.fp32_min(_f(a), _f(b)))
    if op == Op.FLT:
        return nx.fp32_lt(_f(a), _f(b)).astype(U32)
    if op == Op.FEQ:
        return nx.fp32_eq(_f(a), _f(b)).astype(U32)
    if op == Op.I2F:
        return _b(nx.fp32_from_int(sa))
    if op == Op.F2I:
        return _u(nx.int_from_fp32(_f(a)))
    if op == Op.F2BF:
        return nx.bf16_from_fp32(_f(a)).astype(U32)
    if op == Op.BF2F:
        return _b(nx.fp32_from_bf16(np.asarray(a, U32) & 0xFFFF))
    if op == Op.FTZ:
        return _b(nx.ftz(_f(a)))
    if op == Op.EXP2:
        return _b(nx.exp2(_f(a)))
    if op == Op.RECIP:
        return _b(nx.reciprocal(_f(a)))
    raise ValueError(f"fu: op {op!r} has no model")


class ModelResult:
    def __init__(self, vec_out, scal_out, ctrl_out, iterations):
        self.vec_out = vec_out
        self.scal_out = scal_out
        self.ctrl_out = ctrl_out
        self.iterations = iterations


def acc_restart(code, counters, at_start, at_last):
    """Whether the accumulator restarts from ``init`` on an iteration: ``wrap<j>`` → the first
    iteration of each block of counter j (counters 0..j at their start), ``every`` → always, a
    counter predicate → where it holds."""
    kind, j = when_decode(code, counters)
    if kind == "wrap":
        return all(at_start[:j + 1])
    return when_eval(code, counters, at_start, at_last)


def run(asm, vec_in=None, scal_in=None, args=None, max_iterations=1_000_000):
    """Execute ``asm`` (an :class:`Assembled`) until the run ends; return a :class:`ModelResult`.

    ``vec_in``: {port: (T, L) array of words}; ``scal_in``: {port: (T,) array}; ``args``: list of
    argument register values. Raises ``ValueError`` if an input runs dry (the RTL would wait).
    """
    isa, cfg = asm.isa, asm.config
    p = isa.params
    L, R, C, S = p.lanes, p.regs, p.counters, p.stages
    lanes = np.arange(L)
    vq = {k: [np.asarray(v, np.int64).astype(np.uint64).astype(U32) for v in np.asarray(x)]
          for k, x in (vec_in or {}).items()}
    sq = {k: [U32(int(v) & 0xFFFFFFFF) for v in np.asarray(x).reshape(-1)]
          for k, x in (scal_in or {}).items()}
    args = list(args or []) + [0] * p.args
    ctr = cfg["counters"]
    counts = [c["count"] if not c["count_arg"] else args[c["count_arg"] - 1] & (
        (1 << p.counter_bits) - 1) for c in ctr]
    idx = [0] * C
    mask_cb = (1 << p.counter_bits) - 1
    vout = {k: [] for k in range(p.vec_out)}
    sout = {k: [] for k in range(p.scal_out)}
    cout = {k: 0 for k in range(p.ctrl_out)}
    stat = np.zeros((S, L), U32)
    acc = np.zeros(L, U32)
    carry = U32(0)
    stat_cfg = cfg.get("stat", {"en": 0})
    loads_left = S if stat_cfg["en"] else 0
    it = 0

    def head(q, k, what):
        if k not in q or not q[k]:
            raise ValueError(f"model: {what}{k} ran dry at iteration {it}")
        return q[k][0]

    while True:
        if loads_left:
            w = head(vq, stat_cfg["vec"], "vec")
            stat[S - loads_left] = w
            vq[stat_cfg["vec"]].pop(0)
            loads_left -= 1
            continue
        last = [counts[c] != 0 and idx[c] == counts[c] - 1 for c in range(C)]
        start = [idx[c] == 0 for c in range(C)]
        wraps, firsts = [], []
        w, f = True, True
        for c in range(C):
            w = w and last[c]
            f = f and start[c]
            wraps.append(w)
            firsts.append(f)

        def when(code):
            return when_eval(code, C, start, last)
        vals = [(ctr[c]["start"] + idx[c] * ctr[c]["stride"]) & mask_cb for c in range(C)]

        def inputs(q, conf, what):
            heads, pops = {}, []
            for k, pc in enumerate(conf):
                if not pc["when"]:
                    continue
                on = when(pc["when"])
                if pc["skip"] and not on:
                    heads[k] = pc["init"]
                    continue
                heads[k] = head(q, k, what)
                if on:
                    pops.append(k)
            return heads, pops
        vheads, vpops = inputs(vq, cfg["vin"], "vec")
        vheads = {k: (np.full(L, v, U32) if np.ndim(v) == 0 else v) for k, v in vheads.items()}
        sheads, spops = inputs(sq, cfg.get("sin", []), "scal")
        regs = np.zeros((R, L), U32)
        for k in range(min(R, p.vec_in)):
            if k in vheads:
                regs[k] = vheads[k]
            elif stat_cfg["en"] and stat_cfg["vec"] == k and k in vq and vq[k]:
                regs[k] = vq[k][0]
        for s in range(isa.n_stages):
            sc = cfg["stages"][s]
            if sc["op"] == Op.NOP:
                continue
            d = 1 << sc["dist"]

            def operand(o):
                kind, ix = Src(o["kind"]), o["idx"]
                row = regs[ix] if ix < R else np.zeros(L, U32)
                if kind == Src.ZERO:
                    return np.zeros(L, U32)
                if kind == Src.REG:
                    return row.copy()
                if kind == Src.VEC:
                    return np.asarray(vheads[ix], U32)
                if kind == Src.SCAL:
                    return np.full(L, sheads[ix], U32)
                if kind == Src.CTR:
                    return ((vals[ix] + lanes * ctr[ix]["lane_stride"]) & mask_cb).astype(U32)
                if kind == Src.CONST:
                    return np.asarray(sc["const"], U32)
                if kind == Src.ARG:
                    return np.full(L, args[ix] & 0xFFFFFFFF, U32)
                if kind == Src.LANE:
                    return lanes.astype(U32)
                if kind == Src.TREE:
                    return row[(lanes + d) % L]
                if kind == Src.BFLY:
                    return row[lanes ^ d]
                if kind == Src.SHIFT:
                    return np.where(lanes >= d, row[(lanes - d) % L], 0).astype(U32)
                if kind == Src.CARRY:
                    first = firsts[cfg["carry"]["lvl"]]
                    return np.full(L, cfg["carry"]["init"] if first else carry, U32)
                if kind == Src.BVEC:
                    return np.full(L, vheads[ix][sc["lane"]], U32)
                if kind == Src.BREG:
                    return np.full(L, row[sc["lane"]], U32)
                if kind == Src.STAT:
                    return stat[s].copy()
                raise ValueError(kind)
            a, b, c = operand(sc["a"]), operand(sc["b"]), operand(sc["c"])
            bit = ((lanes >> sc["dist"]) & 1) == 1
            if sc["neg"] == Neg.FP:
                a = np.where(bit, a ^ U32(0x80000000), a).astype(U32)
            elif sc["neg"] == Neg.INT:
                a = np.where(bit, _u(-_s(a)), a).astype(U32)
            r = fu(sc["op"], a, b, c, sc["frac"])
            on = {Mask.ALL: np.ones(L, bool), Mask.GE: lanes >= d, Mask.BIT: bit}[Mask(sc["mask"])]
            regs[sc["dst"]] = np.where(on, r, regs[sc["dst"]])
            if any(o["kind"] == Src.CARRY for o in (sc["a"], sc["b"], sc["c"])):
                carry = regs[sc["dst"]][L - 1]
        ac = cfg["acc"]
        acc_prev = acc
        if ac["op"] != AccOp.NONE:
            first = acc_restart(ac["when"], C, start, last)
            base = np.full(L, ac["init"], U32) if first else acc
            acc_prev = base.copy()
            x = regs[ac["reg"]]
            y = regs[(ac["reg"] + 1) % R]
            acc = {AccOp.ADD: lambda: _u(_s(base) + _s(x)),
                   AccOp.MAX: lambda: np.where(_s(base) < _s(x), x, base).astype(U32),
                   AccOp.FADD: lambda: _b(nx.fp32_add(_f(base), _f(x))),
                   AccOp.FMAX: lambda: _b(nx.fp32_max(_f(base), _f(x))),
                   AccOp.MULADD: lambda: _u(nx.int_mul(_s(base), _s(x)) + _s(y)),
                   AccOp.FMA: lambda: _b(nx.fp32_muladd(_f(base), _f(x), _f(y)))}[AccOp(ac["op"])]()

        def src(o):
            return {OutSrc.REG: lambda: regs[o["reg"]], OutSrc.ACC: lambda: acc,
                    OutSrc.ACC_PREV: lambda: acc_prev}[OutSrc(o["src"])]()
        for k, o in enumerate(cfg["vout"]):
            if when(o["when"]):
                vout[k].append(np.asarray(src(o), U32).copy())
        for k, o in enumerate(cfg.get("sout", [])):
            if when(o["when"]):
                sout[k].append(U32(src(o)[o["lane"]]))
        for k, w_ in enumerate(cfg.get("cout", [])):
            if when(w_):
                cout[k] += 1
        for k in vpops:
            vq[k].pop(0)
        for k in spops:
            sq[k].pop(0)
        it += 1
        if stat_cfg["en"] and wraps[stat_cfg["lvl"]]:
            loads_left = S
        for c in range(C):
            if c == 0 or wraps[c - 1]:
                idx[c] = 0 if last[c] else idx[c] + 1
        if wraps[C - 1] or it >= max_iterations:
            break
    if stat_cfg["en"] and wraps[stat_cfg["lvl"]]:
        pass  # the RTL stops before loading weights for a block that never comes
    return ModelResult({k: np.array(v, U32).reshape(-1, L) for k, v in vout.items()},
                       {k: np.array(v, U32) for k, v in sout.items()}, cout, it)
