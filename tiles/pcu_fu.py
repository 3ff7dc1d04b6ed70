"""One PCU functional unit (one lane of one stage) and small pipeline helpers.

:class:`LaneFU` computes ``o = op(a, b, c)`` for every opcode of the operator classes built into its
stage (:data:`tiles.pcu_isa.OP_CLASS`). Its latency is fixed per stage (:func:`stage_latency`): the
slowest built class sets it and faster results are delayed to match, so a stage is a fixed-length
pipeline that advances every cycle (the PCU never stalls its datapath; it gates *issue* instead).

Bit-exact models: integer and fixed-point ops are :mod:`hw.numerics` (``wrap``, ``saturate``,
``fixed_mul``); fp32 ops, casts, exp2 and reciprocal are the :mod:`hw.arith` blocks, which are
bit-exact to :mod:`hw.numerics`. The Python model of a whole stage is :func:`tiles.pcu_model.fu`.
"""

from __future__ import annotations

from amaranth import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .pcu_isa import Op

__all__ = ["LaneFU", "stage_latency", "fp_latencies", "delay"]

INT_MAX = (1 << 31) - 1
INT_MIN = -(1 << 31)


def fp_latencies():
    """Latencies the PCU instantiates the :mod:`hw.arith` blocks with (their defaults,
    ``hw.arith.LATENCY``)."""
    from hw import arith
    lat = arith.LATENCY
    return {"FPAdd": lat["add"], "FPMul": lat["mul"], "Cast": lat["cast"],
            "FPExp2": lat["exp2"], "FPRecip": lat["recip"]}


def stage_latency(classes):
    """Cycles from a stage's operands to its result, for a stage built with ``classes``."""
    d = 1
    if "fp32" in classes or "cast" in classes or "tail" in classes:
        lat = fp_latencies()
        if "fp32" in classes:
            d = max(d, lat["FPMul"] + lat["FPAdd"], 1)
        if "cast" in classes:
            d = max(d, lat["Cast"])
        if "tail" in classes:
            d = max(d, lat["FPExp2"], lat["FPRecip"])
    return d


def delay(m, sig, n, name=None):
    """``sig`` delayed by ``n`` cycles (registers in the sync domain; ``n = 0`` returns ``sig``)."""
    cur = sig
    for i in range(n):
        nxt = Signal.like(sig, name=f"{name or 'dly'}_{i}")
        m.d.sync += nxt.eq(cur)
        cur = nxt
    return cur


def _sat32(m, x, name):
    r = Signal(32, name=name)
    m.d.comb += r.eq(Mux(x > INT_MAX, Const(INT_MAX, 32),
                         Mux(x < INT_MIN, Const(INT_MIN & 0xFFFFFFFF, 32), x[:32])))
    return r


class LaneFU(wiring.Component):
    """Functional unit of one (stage, lane).

    Ports: ``a``, ``b``, ``c`` (32-bit operands), ``op`` (:class:`Op`), ``frac`` (fixed-point
    fraction bits), ``o`` (result, ``latency`` cycles after the operands). Opcodes whose class is not
    built return 0 (the assembler never emits them).

    Parameters: ``classes`` (operator classes built), ``latency`` (>= :func:`stage_latency`),
    ``comb`` (latency 0: every block combinational).
    """

    def __init__(self, classes, latency=None, comb=False):
        self.classes = tuple(classes)
        #: combinational: every block with latency 0 and no delays (the scan carry unit)
        self.comb = comb
        self.latency = 0 if comb else stage_latency(self.classes) if latency is None else latency
        if not comb and self.latency < stage_latency(self.classes):
            raise ValueError(f"LaneFU: latency {self.latency} < {stage_latency(self.classes)} "
                             f"needed by {self.classes}")
        super().__init__({
            "a": In(32), "b": In(32), "c": In(32), "op": In(6), "frac": In(5),
            "o": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        D = self.latency
        op, a, b, c = self.op, self.a, self.b, self.c
        sa, sb = a.as_signed(), b.as_signed()
        results = []   # (set of ops, signal valid D cycles after the operands)

        # ---- integer and fixed point (combinational, then delayed) ------------------------
        ir = Signal(32, name="int_r")
        prod = Signal(signed(64), name="prod")
        m.d.comb += prod.eq(sa * sb)
        sum_s = Signal(signed(34))
        dif_s = Signal(signed(34))
        m.d.comb += [sum_s.eq(sa + sb), dif_s.eq(sa - sb)]
        sh = b[:5]
        int_ops = {
            Op.PASS: a, Op.ADD: (a + b)[:32], Op.SUB: (a - b)[:32], Op.MUL: prod[:32],
            Op.MULADD: (prod + c)[:32], Op.MIN: Mux(sa < sb, a, b), Op.MAX: Mux(sa < sb, b, a),
            Op.LT: (sa < sb), Op.EQ: (a == b), Op.SEL: Mux(c != 0, a, b),
            Op.AND: a & b, Op.OR: a | b, Op.XOR: a ^ b, Op.SHL: (a << sh)[:32],
            Op.SHR: (sa >> sh)[:32], Op.SHRL: (a >> sh)[:32],
            Op.ADDS: _sat32(m, sum_s, "adds"), Op.SUBS: _sat32(m, dif_s, "subs"),
        }
        if "fixed" in self.classes:
            rnd = Signal(32)
            m.d.comb += rnd.eq((Const(1, 33) << self.frac)[1:33])
            q = Signal(signed(65))
            m.d.comb += q.eq((prod + rnd) >> self.frac)
            int_ops[Op.FXMUL] = _sat32(m, q, "fx")
        with m.Switch(op):
            for o, v in int_ops.items():
                with m.Case(o):
                    m.d.comb += ir.eq(v)
        results.append((set(int_ops), delay(m, ir, D, "int_d")))

        # ---- fp32: multiplier then adder (unfused FMA), comparator -----------------------
        if "fp32" in self.classes or "cast" in self.classes or "tail" in self.classes:
            from hw import arith
            lat = fp_latencies()
            if self.comb:
                lat = {k: 0 for k in lat}
        if "fp32" in self.classes:
            lm, la = lat["FPMul"], lat["FPAdd"]
            m.submodules.fmul = fmul = arith.FPMul(lm)
            m.submodules.fadd = fadd = arith.FPAdd(la)
            m.submodules.fcmp = fcmp = arith.FPCompare()
            m.d.comb += [fmul.a.eq(a), fmul.b.eq(b), fmul.en.eq(1), fadd.en.eq(1)]
            op_m = delay(m, op, lm, "op_m")
            a_m = delay(m, a, lm, "a_m")
            b_m = delay(m, b, lm, "b_m")
            c_m = delay(m, c, lm, "c_m")
            is_fma = op_m == Op.FMA
            m.d.comb += [
                fadd.a.eq(Mux(is_fma, fmul.o, a_m)),
                fadd.b.eq(Mux(is_fma, c_m, Mux(op_m == Op.FSUB, b_m ^ (1 << 31), b_m))),
            ]
            fa = delay(m, fadd.o, D - lm - la, "fadd_d")
            fm = delay(m, fmul.o, D - lm, "fmul_d")
            m.d.comb += [fcmp.a.eq(a), fcmp.b.eq(b)]
            cr = Signal(32, name="cmp_r")
            with m.Switch(op):
                with m.Case(Op.FMAX):
                    m.d.comb += cr.eq(fcmp.max)
                with m.Case(Op.FMIN):
                    m.d.comb += cr.eq(fcmp.min)
                with m.Case(Op.FLT):
                    m.d.comb += cr.eq(fcmp.lt)
                with m.Case(Op.FEQ):
                    m.d.comb += cr.eq(fcmp.eq)
            results += [({Op.FADD, Op.FSUB, Op.FMA}, fa), ({Op.FMUL}, fm),
                        ({Op.FMAX, Op.FMIN, Op.FLT, Op.FEQ}, delay(m, cr, D, "cmp_d"))]
        if "cast" in self.classes:
            lc = lat["Cast"]
            m.submodules.cast = cast = arith.Cast(lc)
            co = arith.Cast.Op
            sel = {Op.I2F: co.FP32_FROM_INT, Op.F2I: co.INT_FROM_FP32,
                   Op.F2BF: co.BF16_FROM_FP32, Op.BF2F: co.FP32_FROM_BF16, Op.FTZ: co.FTZ}
            with m.Switch(op):
                for o, v in sel.items():
                    with m.Case(o):
                        m.d.comb += cast.op.eq(v)
            m.d.comb += [cast.a.eq(a), cast.en.eq(1)]
            results.append((set(sel), delay(m, cast.o, D - lc, "cast_d")))
        if "tail" in self.classes:
            le, lr = lat["FPExp2"], lat["FPRecip"]
            m.submodules.exp2 = ex = arith.FPExp2(le)
            m.submodules.recip = rc = arith.FPRecip(lr)
            m.d.comb += [ex.a.eq(a), ex.en.eq(1), rc.a.eq(a), rc.en.eq(1)]
            results += [({Op.EXP2}, delay(m, ex.o, D - le, "exp2_d")),
                        ({Op.RECIP}, delay(m, rc.o, D - lr, "recip_d"))]

        # ---- result select (the opcode delayed with the data) ------------------------------
        op_d = delay(m, op, D, "op_d")
        with m.Switch(op_d):
            for ops, sig in results:
                with m.Case(*ops):
                    m.d.comb += self.o.eq(sig)
        return m
