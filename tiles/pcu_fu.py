"""One PCU functional unit (one lane of one stage) and small pipeline helpers.

:class:`LaneFU` computes ``o = op(a, b, c)`` for every opcode of the operator classes built into its
stage (:data:`tiles.pcu_isa.OP_CLASS`). Its latency is fixed per stage (:func:`stage_latency`): the
slowest built class sets it and faster results are delayed to match, so a stage is a fixed-length
pipeline that advances every cycle (the PCU never stalls its datapath; it gates *issue* instead).

Area: a stage runs one opcode at a time, so a unit shares everything it can between ops:

* **one multiplier** (a signed 32×32 product, four ``MULT18X18D`` on ECP5) for ``mul``,
  ``muladd``, ``fxmul`` and the significand product of ``fmul`` / ``fma``;
* **one 64-bit adder** after it (``muladd``'s ``+ c``, ``fxmul``'s rounding constant);
* **one 33-bit adder/subtractor** for ``add sub adds subs lt min max`` and, on order keys of the
  flushed fp32 encodings, ``flt fmin fmax`` (``feq`` / ``eq`` share one equality comparator);
* **one funnel shifter** for ``shl shr shrl`` and ``fxmul``'s rescale (only with the ``shift``
  or ``fixed`` class: it is about a third of an integer unit's LUTs);
* **one select** (``pass min max sel fmin fmax``) and one bitwise unit (``and or xor``).

fp32 add is :class:`hw.arith.FPAdd`; the fp32 multiply is the normalise/round datapath of
:class:`hw.arith.FPMul` fed by the shared product (same cut points, same bits); casts, exp2 and
reciprocal are the :mod:`hw.arith` blocks.

Bit-exact models: :func:`tiles.pcu_model.fu` (:mod:`hw.numerics` for every op).

Verilator simulation builds elaborate a behavioural model in its place (same ports, latency and
bits; one C function call per unit per cycle): :mod:`tiles.pcu_simfu`.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from hw import arith
from hw.util import CheckedComponent

from . import pcu_simfu
from .pcu_isa import Op

__all__ = ["LaneFU", "stage_latency", "fp_latencies", "delay"]

INT_MAX = (1 << 31) - 1
INT_MIN = -(1 << 31)
_NAN = 0x7FC00000
_INF = 0x7F800000


def fp_latencies():
    """Latencies the PCU instantiates the :mod:`hw.arith` blocks with (their defaults,
    ``hw.arith.LATENCY``)."""
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


class _Cut:
    """Registers ``values`` (a dict of Values) when ``on``, else passes them through."""

    def __init__(self, m, on):
        self.m, self.on = m, on

    def __call__(self, name, **values):
        out = {}
        for k, v in values.items():
            if self.on:
                r = Signal.like(v, name=f"{name}_{k}") if isinstance(v, Signal) else \
                    Signal(v.shape(), name=f"{name}_{k}")
                self.m.d.sync += r.eq(v)
                out[k] = r
            else:
                out[k] = v
        return type("CutValues", (), out)


class LaneFU(CheckedComponent):
    """Functional unit of one (stage, lane).

    Ports: ``a``, ``b``, ``c`` (32-bit operands), ``op`` (:class:`Op`), ``frac`` (fixed-point
    fraction bits), ``o`` (result, ``latency`` cycles after the operands). Opcodes whose class is not
    built return 0 (the assembler never emits them).

    Parameters: ``classes`` (operator classes built), ``mul`` (build the multiplier),
    ``latency`` (>= :func:`stage_latency`;
    spare latency first registers the operands, so the operand muxes in front and the multiplier
    are separate timing paths), ``comb`` (latency 0: every block combinational), ``late``
    (ports ``late``, ``carry``: operands replaced after the operand registers; outputs ``ra rb
    rc``: the registered operands; needs spare latency).

    Pipeline: with ``latency >= 2`` the operands and the shared product are registered after the
    first cycle (the multiplier's cycle); the integer / fixed-point / compare results are formed in
    the second cycle and delayed to ``latency``; the fp32 multiply normalises in the second cycle and
    rounds in the third, where the fp32 adder (``fadd fsub``, ``fma``'s sum) starts.

    Elaborated for a platform asking for behavioural arithmetic (a Verilator simulation build,
    :class:`hw.generate.SimPlatform`), the unit is :mod:`tiles.pcu_simfu`'s instead: the same
    ports, latency and results, one C function call per cycle.
    """

    @staticmethod
    def _latency(classes, latency, comb):
        return 0 if comb else stage_latency(classes) if latency is None else latency

    @classmethod
    def check_arguments(cls, classes, latency, comb, mul, late):
        need = stage_latency(tuple(classes))
        latency = cls._latency(tuple(classes), latency, comb)
        if not comb and latency < need:
            raise ValueError(f"LaneFU: latency {latency} < {need} needed by {tuple(classes)}")
        if late and (comb or latency <= need):
            raise ValueError("LaneFU: late operands need registered operands (a latency "
                             "above the classes' own)")

    def __init__(self, classes, latency=None, comb=False, mul=True, late=False):
        self.classes = tuple(classes)
        #: late operands: with registered operands (spare latency), ``late[k]`` replaces operand
        #: k (a, b, c) by the ``carry`` port *after* the operand registers, one cycle after the
        #: other operands were taken; ``ra rb rc`` are the registered operands after that
        #: replacement (the PCU's scan carry unit computes from them: tiles.pcu)
        self.has_late = late
        #: the shared multiplier is built (without it the ops of ``pcu_isa.MUL_OPS`` give wrong
        #: results: the scan carry unit of a PCU with ``loop_mul`` off, whose assembler never
        #: lets those ops reach it)
        self.mul = mul
        #: combinational: every block with latency 0 and no delays (the scan carry unit)
        self.comb = comb
        self.latency = self._latency(self.classes, latency, comb)
        members = {"a": In(32), "b": In(32), "c": In(32), "op": In(6), "frac": In(5),
                   "o": Out(32)}
        if late:
            members.update(late=In(3), carry=In(32), ra=Out(32), rb=Out(32), rc=Out(32))
        super().__init__(members)

    def elaborate(self, platform):
        if pcu_simfu.behavioural(platform):
            # Verilator simulation build: the behavioural unit (tiles.pcu_simfu)
            return pcu_simfu.instance(self, platform)
        m = Module()
        D = self.latency
        classes = self.classes
        fp = "fp32" in classes
        fixed = "fixed" in classes
        shift = "shift" in classes
        op, a, b, c, frac = self.op, self.a, self.b, self.c, self.frac
        if not self.comb and D > stage_latency(classes):
            # spare latency: register the operands first, so the operand muxes in front of the
            # unit and the multiplier behind it are separate timing paths (FPGA presets)
            regs = []
            for name, v in (("op", op), ("a", a), ("b", b), ("c", c), ("frac", frac)):
                r = Signal.like(v, name=f"in_{name}")
                m.d.sync += r.eq(v)
                regs.append(r)
            op, a, b, c, frac = regs
            D -= 1
            if self.has_late:
                a, b, c = (Mux(self.late[k], self.carry, x) for k, x in enumerate((a, b, c)))
                m.d.comb += [self.ra.eq(a), self.rb.eq(b), self.rc.eq(c)]
        if "fp32" in classes or "cast" in classes or "tail" in classes:
            lat = fp_latencies()
            if self.comb:
                lat = {k: 0 for k in lat}

        # ---- cycle 0: the shared multiplier -------------------------------------------------
        def unpack(x, name):
            e = x[23:31]
            zero = Signal(name=f"{name}_zero")
            m.d.comb += zero.eq(e == 0)
            return {"s": x[31], "e": e, "zero": zero,
                    "inf": (e == 0xFF) & (x[0:23] == 0), "nan": (e == 0xFF) & (x[0:23] != 0),
                    "sig": Cat(Mux(zero, 0, x[0:23]), ~zero)}

        is_fmul = Signal()
        if fp:
            m.d.comb += is_fmul.eq((op == Op.FMUL) | (op == Op.FMA))
            ua, ub = unpack(a, "ua"), unpack(b, "ub")
            ma = Mux(is_fmul, Cat(ua["sig"], Const(0, 8)), a)
            mb = Mux(is_fmul, Cat(ub["sig"], Const(0, 8)), b)
        else:
            ma, mb = a, b
        if fp or fixed:
            prod = Signal(signed(64), name="prod")
            if self.mul:
                m.d.comb += prod.eq(ma.as_signed() * mb.as_signed())
        else:
            # integer ops keep only the low 32 bits of a product (mul, muladd wrap): a narrower
            # multiplier and adder (fewer DSP partial products, a shorter carry chain)
            prod = Signal(32, name="prod")
            if self.mul:
                m.d.comb += prod.eq(ma * mb)
        split = not (fp or fixed) and self.mul and D >= 2 and not self.comb
        if split:
            # With the first cut registered, the cut takes the three 16x16 partial products of
            # the low 32 bits (one DSP each), not their sum: the adders that combine them run
            # in the next cycle beside the addend's, so the path into a multiplier and out of it
            # ends at the DSP (on a full FPGA the DSPs sit far from the unit's logic).
            #   a·b mod 2^32 = al·bl + ((ah·bl + al·bh) mod 2^16) << 16
            pll = Signal(32, name="p_ll")
            phl = Signal(16, name="p_hl")
            plh = Signal(16, name="p_lh")
            m.d.comb += [pll.eq(ma[:16] * mb[:16]), phl.eq(ma[16:] * mb[:16]),
                         plh.eq(ma[:16] * mb[16:])]

        # the first cut: operands, product (and the fp32 multiply's unpacked fields)
        cut1 = _Cut(m, D >= 2 and not self.comb)
        vals = {"op": op, "a": a, "b": b, "c": c, "frac": frac}
        if split:
            vals.update(pll=pll, phl=phl, plh=plh)
        else:
            vals["prod"] = prod
        if fp:
            mnan = ua["nan"] | ub["nan"] | (ua["inf"] & ub["zero"]) | (ub["inf"] & ua["zero"])
            vals.update(mnan=mnan, minf=ua["inf"] | ub["inf"], mzero=ua["zero"] | ub["zero"],
                        msign=ua["s"] ^ ub["s"],
                        mexp=ua["e"] + ub["e"] - 127)
        s1 = cut1("s1", **vals)
        k1 = 1 if D >= 2 and not self.comb else 0     # cycles elapsed at s1

        # ---- integer, fixed point and fp32 compares (one cycle) ------------------------------
        op1, a1, b1, c1 = s1.op, s1.a, s1.b, s1.c
        fpcmp = Signal(name="fpcmp")
        ir = Signal(32, name="int_r")
        if fp:
            m.d.comb += fpcmp.eq((op1 == Op.FLT) | (op1 == Op.FEQ) | (op1 == Op.FMAX) |
                                 (op1 == Op.FMIN))
            za, zb = a1[23:31] == 0, b1[23:31] == 0
            fa = Cat(Mux(za, 0, a1[0:23]), a1[23:32])          # flushed encodings
            fb = Cat(Mux(zb, 0, b1[0:23]), b1[23:32])
            # order keys: a signed compare of the keys is the total order (-0 just below +0)
            # (a 31-bit constant mask, not `replicate(31)`: yosys writes a replicated bit as a
            # 31-term concatenation that Verilator evaluates bit by bit every cycle)
            ka = Cat(fa[0:31] ^ Mux(fa[31], Const(0x7FFFFFFF, 31), 0), fa[31])
            kb = Cat(fb[0:31] ^ Mux(fb[31], Const(0x7FFFFFFF, 31), 0), fb[31])
            nan = ((a1[23:31] == 0xFF) & (a1[0:23] != 0)) | ((b1[23:31] == 0xFF) & (b1[0:23] != 0))
            both_zero = (fa[0:31] == 0) & (fb[0:31] == 0)
            x = Mux(fpcmp, ka, a1)
            y = Mux(fpcmp, kb, b1)
            pa = Mux(fpcmp, fa, a1)
            pb = Mux(fpcmp, fb, b1)
        else:
            x, y, pa, pb = a1, b1, a1, b1
            nan = both_zero = Const(0)
        sub = Signal(name="sub")
        m.d.comb += sub.eq((op1 == Op.SUB) | (op1 == Op.SUBS) | (op1 == Op.LT) |
                           (op1 == Op.MIN) | (op1 == Op.MAX) | fpcmp)
        s33 = Signal(signed(33), name="addsub")
        m.d.comb += s33.eq(x.as_signed() + Mux(sub, ~y, y).as_signed() + sub)
        lt = s33[32]                                   # x < y (signed), exact in 33 bits
        eq = Signal(name="eq")
        m.d.comb += eq.eq(x == y)
        ovf = s33[32] != s33[31]
        sat_v = Mux(s33[32], Const(INT_MIN & 0xFFFFFFFF, 32), Const(INT_MAX, 32))
        add_r = Mux(((op1 == Op.ADDS) | (op1 == Op.SUBS)) & ovf, sat_v, s33[0:32])

        # select: pass / min / max / sel / fmin / fmax
        take_a = Signal(name="take_a")
        with m.Switch(op1):
            with m.Case(Op.MIN, Op.FMIN):
                m.d.comb += take_a.eq(lt)
            with m.Case(Op.MAX, Op.FMAX):
                m.d.comb += take_a.eq(~lt)
            with m.Case(Op.SEL):
                m.d.comb += take_a.eq(c1 != 0)
            with m.Default():
                m.d.comb += take_a.eq(1)
        pick_r = Mux(fpcmp & nan, Const(_NAN, 32), Mux(take_a, pa, pb))
        cmp_r = Signal(name="cmp_r")
        with m.Switch(op1):
            with m.Case(Op.LT):
                m.d.comb += cmp_r.eq(lt)
            with m.Case(Op.EQ):
                m.d.comb += cmp_r.eq(eq)
            with m.Case(Op.FLT):
                m.d.comb += cmp_r.eq(~nan & lt & ~both_zero)
            with m.Case(Op.FEQ):
                m.d.comb += cmp_r.eq(~nan & (eq | both_zero))
        logic_r = Signal(32, name="logic_r")
        with m.Switch(op1):
            with m.Case(Op.AND):
                m.d.comb += logic_r.eq(a1 & b1)
            with m.Case(Op.OR):
                m.d.comb += logic_r.eq(a1 | b1)
            with m.Default():
                m.d.comb += logic_r.eq(a1 ^ b1)

        # product + c (muladd) or + the rounding constant (fxmul); mul adds 0
        is_fx = (op1 == Op.FXMUL) if fixed else Const(0)
        addend = Signal(32, name="addend")
        with m.Switch(op1):
            with m.Case(Op.MULADD):
                m.d.comb += addend.eq(c1)
            if fixed:
                with m.Case(Op.FXMUL):
                    m.d.comb += addend.eq((Const(1, 33) << s1.frac)[1:33])
        sum64 = Signal(64, name="sum64")
        if split:
            # the low word of (al·bl + addend) + ((ah·bl + al·bh) << 16): two adders side by
            # side, then one 16-bit adder on the upper half
            low = Signal(33, name="low_sum")
            cross = Signal(16, name="cross_sum")
            m.d.comb += [low.eq(s1.pll + addend), cross.eq(s1.phl + s1.plh),
                         sum64.eq(Cat(low[:16], (low[16:32] + cross)[:16]))]
        else:
            m.d.comb += sum64.eq(s1.prod.as_unsigned() + addend)

        # one funnel shifter: out[i] = X[i + amount] for i < 32; built only for the `shift` and
        # `fixed` classes (it is about a third of an integer FU's LUTs on ECP5)
        # (the fill is a constant mask, not `replicate(31)`, which Verilator evaluates bit by bit)
        shift_r = Const(0, 32)
        if shift or fixed:
            window = Signal(63, name="sh_in")
            amount = Signal(5, name="sh_amt")
            if shift:
                is_shl = op1 == Op.SHL
                src = Mux(is_shl, Cat(*[a1[31 - i] for i in range(32)]), a1)
                fill = (op1 == Op.SHR) & a1[31]
                m.d.comb += [window.eq(Cat(src, Mux(fill, Const(0x7FFFFFFF, 31), 0))),
                             amount.eq(b1[0:5])]
            if fixed:
                with m.If(is_fx):
                    m.d.comb += [window.eq(sum64[0:63]), amount.eq(s1.frac)]
            shifted = Signal(32, name="shifted")
            m.d.comb += shifted.eq((window >> amount)[0:32])
            shift_r = shifted
            if shift:
                shift_r = Mux(is_shl, Cat(*[shifted[31 - i] for i in range(32)]), shifted)
        if fixed:
            # saturation: the result fits 32 bits iff sum64[31 + frac .. 63] are all equal
            sign = sum64[63]
            diff = sum64[31:63] ^ Mux(sign, Const(0xFFFFFFFF, 32), 0)
            keep = ~((Const(1, 33) << s1.frac)[0:32] - 1)[0:32]       # bits j >= frac
            fx_ovf = (diff & keep) != 0
            fx_r = Mux(fx_ovf, Mux(sign, Const(INT_MIN & 0xFFFFFFFF, 32), Const(INT_MAX, 32)),
                       shifted)
            shift_r = Mux(is_fx, fx_r, shift_r)

        fpo = lambda *ops: ops if fp else ()
        with m.Switch(op1):
            with m.Case(Op.PASS, Op.NOP, Op.MIN, Op.MAX, Op.SEL, *fpo(Op.FMIN, Op.FMAX)):
                m.d.comb += ir.eq(pick_r)
            with m.Case(Op.AND, Op.OR, Op.XOR):
                m.d.comb += ir.eq(logic_r)
            with m.Case(Op.ADD, Op.SUB, Op.ADDS, Op.SUBS):
                m.d.comb += ir.eq(add_r)
            with m.Case(Op.LT, Op.EQ, *fpo(Op.FLT, Op.FEQ)):
                m.d.comb += ir.eq(cmp_r)
            with m.Case(Op.MUL, Op.MULADD):
                m.d.comb += ir.eq(sum64[0:32])
            sh_ops = ((Op.SHL, Op.SHR, Op.SHRL) if shift else ()) + ((Op.FXMUL,) if fixed else ())
            if sh_ops:
                with m.Case(*sh_ops):
                    m.d.comb += ir.eq(shift_r)
        # the int result is the default of the final select (the other classes' ops are listed)
        results = [(None, delay(m, ir, D - k1, "int_d"))]

        # ---- fp32 multiply (the shared product) and add ---------------------------------------
        if fp:
            lm, la = lat["FPMul"], lat["FPAdd"]
            assert self.comb or lm == 2, "the shared-product fp32 multiply is built for latency 2"
            # normalise: product in [2**46, 2**48); shift by one if bit 47 is set
            p = s1.prod
            hi = p[47]
            msig = Mux(hi, p[24:48], p[23:47])
            guard = Mux(hi, p[23], p[22])
            sticky = Mux(hi, p[0:23] != 0, p[0:22] != 0)
            mexp = Signal(signed(11), name="fmul_exp")
            m.d.comb += mexp.eq(s1.mexp + hi)
            cut2 = _Cut(m, not self.comb)
            s2 = cut2("s2", nan=s1.mnan, inf=s1.minf, zero=s1.mzero, sign=s1.msign,
                      sig=msig, rup=guard & (sticky | msig[0]), tiny=mexp <= 0, ovf=mexp >= 255,
                      exp8=mexp[0:8])
            fmul_o = Signal(32, name="fmul_o")
            with m.If(s2.nan):
                m.d.comb += fmul_o.eq(_NAN)
            with m.Elif(s2.inf):
                m.d.comb += fmul_o.eq(Cat(Const(_INF, 31), s2.sign))
            with m.Elif(s2.zero | s2.tiny):
                m.d.comb += fmul_o.eq(Cat(Const(0, 31), s2.sign))
            with m.Elif(s2.ovf):
                m.d.comb += fmul_o.eq(Cat(Const(_INF, 31), s2.sign))
            with m.Else():
                m.d.comb += fmul_o.eq(Cat((Cat(s2.sig[0:23], s2.exp8) + s2.rup)[0:31], s2.sign))
            # operands delayed to the multiply's output (cycle lm)
            op_m = delay(m, s1.op, lm - k1, "op_m")
            b_m = delay(m, s1.b, lm - k1, "b_m")
            a_m = delay(m, s1.a, lm - k1, "a_m")
            c_m = delay(m, s1.c, lm - k1, "c_m")
            m.submodules.fadd = fadd = arith.FPAdd(la)
            is_fma = op_m == Op.FMA
            m.d.comb += [
                fadd.en.eq(1),
                fadd.a.eq(Mux(is_fma, fmul_o, a_m)),
                fadd.b.eq(Mux(is_fma, c_m, Mux(op_m == Op.FSUB, b_m ^ (1 << 31), b_m))),
            ]
            results += [({Op.FADD, Op.FSUB, Op.FMA}, delay(m, fadd.o, D - lm - la, "fadd_d")),
                        ({Op.FMUL}, delay(m, fmul_o, D - lm, "fmul_d"))]
        if "cast" in classes:
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
        if "tail" in classes:
            le, lr = lat["FPExp2"], lat["FPRecip"]
            m.submodules.exp2 = ex = arith.FPExp2(le)
            m.submodules.recip = rc = arith.FPRecip(lr)
            m.d.comb += [ex.a.eq(a), ex.en.eq(1), rc.a.eq(a), rc.en.eq(1)]
            results += [({Op.EXP2}, delay(m, ex.o, D - le, "exp2_d")),
                        ({Op.RECIP}, delay(m, rc.o, D - lr, "recip_d"))]

        # ---- result select (the opcode delayed with the data) ------------------------------
        if len(results) == 1:
            m.d.comb += self.o.eq(results[0][1])
        else:
            op_d = delay(m, s1.op, D - k1, "op_d")
            with m.Switch(op_d):
                for ops, sig in results[1:]:
                    with m.Case(*ops):
                        m.d.comb += self.o.eq(sig)
                with m.Default():
                    m.d.comb += self.o.eq(results[0][1])
        return m
