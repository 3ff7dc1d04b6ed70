"""Functional-unit arithmetic: fp32 add / mul / compare, exp2, reciprocal, casts, fixed-point mul.

Every block is a ``wiring.Component`` whose output is, bit for bit, the :mod:`hw.numerics` function
named in its docstring (fp32 round-to-nearest-even, flush-to-zero of inputs and results, canonical
NaN ``0x7FC00000``, signed zeros as IEEE says). The PCU instantiates one of each enabled op class in
every (stage, lane) functional unit.

Pipelining
    ``latency`` is the number of pipeline register stages inside a block (``0`` = purely
    combinational). All registers advance only in cycles where ``en`` is high, so a unit stalls its
    whole pipeline with one enable: the output ``o`` equals the function of the inputs that were
    presented ``latency`` enabled clock edges ago (with ``latency = 0``, of the current inputs;
    ``en`` is then unused). Throughput is one result per enabled cycle for every block. Inputs
    and outputs are not registered at the block boundary: the ``latency`` registers sit at internal
    cut points chosen to balance the logic on either side (listed per class; the caller's own
    pipeline registers feed the inputs and take the output). Datapath registers have no reset.

Tables
    :class:`FPExp2` and :class:`FPRecip` hold their interpolation tables (derived from
    :data:`hw.numerics.EXP2_TABLE` / :data:`hw.numerics.RECIP_TABLE`: base value and difference to
    the next entry, one word per segment) in an ``amaranth.lib.memory.Memory`` ROM. When the first
    cut point is registered (``latency >= 1``) the ROM has a *synchronous* read port (enabled by
    ``en``) — its address register is that cut, and the ROM can map to block RAM; with
    ``latency = 0`` it is read combinationally (LUT ROM).

Multipliers are ``*`` of at most 24-bit operands so yosys maps them to ECP5 ``MULT18X18D`` blocks
(:class:`FixedMul` splits its 32×32 product into four 17×17 partial products).

:class:`ArithStream` puts every block behind one valid/ready stream (with an op select); the tests
and the benchmark use it, and it shows how to drive the ``en`` of a pipelined block from a stream.
"""

from __future__ import annotations

import operator
import types

import numpy as np
from amaranth import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, enum, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from hw import numerics
from hw.util import CheckedComponent

__all__ = ["LATENCY", "FPAdd", "FPMul", "FPCompare", "FPExp2", "FPRecip", "Cast", "FixedMul",
           "ArithStream", "lzc"]

#: Default ``latency`` of each block (number of internal register stages). ``compare`` is
#: combinational.
LATENCY = {"add": 2, "mul": 2, "exp2": 2, "recip": 2, "cast": 1, "fixed_mul": 2, "compare": 0}

_NAN = numerics.FP32_CANONICAL_NAN
_INF = 0x7F800000


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

class _Pipe:
    """Walks the potential cut points of a datapath in order; registers (gated by ``en``) the
    values passed at the cut points selected for the block's latency, passes them through
    combinationally at the others."""

    def __init__(self, m, en, cuts, n_points):
        self.m, self.en, self.cuts, self.n_points = m, en, frozenset(cuts), n_points
        self.index = 0

    def registered(self):
        """Whether the next cut point is registered."""
        return self.index in self.cuts

    def cut(self, name, **values):
        idx = self.index
        self.index += 1
        if idx not in self.cuts:
            return types.SimpleNamespace(**values)
        out = {}
        for k, v in values.items():
            v = Value.cast(v)
            r = Signal(v.shape(), name=f"{name}_{k}", reset_less=True)
            self.m.d.sync += r.eq(Mux(self.en, v, r))
            out[k] = r
        return types.SimpleNamespace(**out)

    def done(self):
        assert self.index == self.n_points, (self.index, self.n_points)


def lzc(m, x, name="lzc"):
    """Leading-zero count of ``x`` (MSB first) as a balanced tree. Returns ``(count, zero)``:
    ``count`` in ``0..len(x)-1`` for non-zero ``x``; ``zero`` is high when ``x == 0`` (``count``
    is then unspecified)."""
    x = Value.cast(x)
    n = len(x)
    width = 1
    while width < n:
        width *= 2
    padded = Cat(Const(0, width - n), x) if width > n else x   # zeros below the LSB

    def rec(v):
        if len(v) == 1:
            return Const(0, 0), ~v[0]
        half = len(v) // 2
        c_hi, z_hi = rec(v[half:])
        c_lo, z_lo = rec(v[:half])
        count = Mux(z_hi, Cat(c_lo, Const(1, 1)), Cat(c_hi, Const(0, 1)))
        return count, z_hi & z_lo

    count, zero = rec(padded)
    c = Signal(range(max(width, 2)), name=f"{name}_count")
    z = Signal(name=f"{name}_zero")
    m.d.comb += [c.eq(count), z.eq(zero)]
    return c, z


def _below(amount, width):
    """Thermometer mask: bit ``j`` set iff ``j < amount`` (a constant shift, not comparators)."""
    return ~(Const((1 << width) - 1, width) << amount)[0:width]


class _Unpacked:
    """Fields of an fp32 word after flush-to-zero of subnormal inputs."""

    def __init__(self, m, x, name):
        self.s = Signal(name=f"{name}_s")
        self.e = Signal(8, name=f"{name}_e")
        self.f = Signal(23, name=f"{name}_f")
        self.zero = Signal(name=f"{name}_zero")      # ±0 or a flushed subnormal
        self.inf = Signal(name=f"{name}_inf")
        self.nan = Signal(name=f"{name}_nan")
        self.word = Signal(32, name=f"{name}_ftz")   # the flushed encoding (NaNs not canonical)
        m.d.comb += [
            self.s.eq(x[31]), self.e.eq(x[23:31]),
            self.zero.eq(self.e == 0),
            self.f.eq(Mux(self.zero, 0, x[0:23])),
            self.inf.eq((self.e == 0xFF) & (x[0:23] == 0)),
            self.nan.eq((self.e == 0xFF) & (x[0:23] != 0)),
            self.word.eq(Cat(self.f, self.e, self.s)),
        ]

    @property
    def sig(self):
        """24-bit significand with the hidden bit (0 for zero)."""
        return Cat(self.f, ~self.zero)


class _Pipelined(CheckedComponent):
    """Common ``latency`` validation. Subclasses set ``_CUTS`` (latency → registered cut points)
    and ``_POINTS`` (number of potential cut points)."""

    _CUTS = {0: ()}
    _POINTS = 0

    @classmethod
    def max_latency(cls):
        return max(cls._CUTS)

    @classmethod
    def check_latency(cls, latency):
        """Raise a one-line ``ValueError`` unless ``latency`` is supported by this block."""
        try:
            ok = not isinstance(latency, bool) and operator.index(latency) in cls._CUTS
        except TypeError:
            ok = False
        if not ok:
            raise ValueError(f"{cls.__name__}: latency = {latency!r}: must be an integer in "
                             f"0..{cls.max_latency()}")

    @classmethod
    def check_arguments(cls, latency, **_):
        cls.check_latency(latency)

    def __init__(self, latency, members):
        self._latency = operator.index(latency)
        super().__init__({**members, "en": In(1)})

    @property
    def latency(self):
        """Number of pipeline register stages (enabled cycles from inputs to ``o``)."""
        return self._latency

    def _pipe(self, m):
        return _Pipe(m, self.en, self._CUTS[self._latency], self._POINTS)


def _round_pack(sign, mant, exp8, rup):
    """``Cat(mant, exp) + rup`` with the sign on top: a carry out of the significand bumps the
    exponent (and 254 → 255 with a zero significand is the infinity encoding)."""
    return Cat((Cat(mant, exp8) + rup)[0:31], sign)


# ---------------------------------------------------------------------------------------------
# fp32 add
# ---------------------------------------------------------------------------------------------

class FPAdd(_Pipelined):
    """fp32 addition ``o = numerics.fp32_add(a, b)`` (subtract by flipping ``b``'s sign bit).

    RNE, flush-to-zero of subnormal inputs and of results below ``2**-126`` (to a zero with the
    sign of the exact result), canonical NaN, ``x + (-x) = +0``, ``-0 + -0 = -0``, overflow to ±inf.

    Datapath: unpack + order by magnitude | align the smaller significand (guard, round, sticky)
    | 28-bit add/subtract | leading-zero count + normalise | round + special cases.
    Cut points (0..3) are between these five steps; ``latency`` registers them as follows:
    1 → after the add; 2 (default) → after align and after normalise
    (``align | add+normalise | round``); 3 → after align, add and normalise; 4 → all.

    Ports: ``a``, ``b``: In(32); ``o``: Out(32); ``en``: In(1). Throughput 1/cycle.
    """

    _CUTS = {0: (), 1: (2,), 2: (1, 3), 3: (1, 2, 3), 4: (0, 1, 2, 3)}
    _POINTS = 4

    def __init__(self, latency=LATENCY["add"]):
        super().__init__(latency, {"a": In(32), "b": In(32), "o": Out(32)})

    def elaborate(self, platform):
        m = Module()
        p = self._pipe(m)
        ua, ub = _Unpacked(m, self.a, "a"), _Unpacked(m, self.b, "b")

        # 1. specials, order by magnitude (on the flushed encodings), exponent difference
        nan = ua.nan | ub.nan | (ua.inf & ub.inf & (ua.s != ub.s))
        inf = ua.inf | ub.inf
        inf_s = Mux(ua.inf, ua.s, ub.s)
        swap = Signal()
        m.d.comb += swap.eq(ub.word[0:31] > ua.word[0:31])
        big = Mux(swap, ub.word, ua.word)
        small = Mux(swap, ua.word, ub.word)
        e_big, e_small = big[23:31], small[23:31]
        s1 = p.cut("s1", nan=nan, inf=inf, inf_s=inf_s, zero_s=ua.s & ub.s, sign=big[31],
                   sub=big[31] ^ small[31], e=e_big,
                   sig_big=Cat(big[0:23], e_big != 0), sig_small=Cat(small[0:23], e_small != 0),
                   d=e_big - e_small)

        # 2. align: shift the small significand (plus guard/round/sticky positions) right by d;
        #    bits shifted past the round position are ORed into the sticky bit.
        sh = Signal(5)
        m.d.comb += sh.eq(Mux(s1.d > 27, 27, s1.d[0:5]))
        shifted = Signal(27)
        m.d.comb += shifted.eq(Cat(Const(0, 3), s1.sig_small) >> sh)
        # sticky: the significand bits j with j + 3 < sh (a thermometer mask, no second shifter)
        lost = Cat(*[sh > j + 3 for j in range(24)])
        aligned = Cat(shifted[0] | ((s1.sig_small & lost) != 0), shifted[1:27])
        s2 = p.cut("s2", nan=s1.nan, inf=s1.inf, inf_s=s1.inf_s, zero_s=s1.zero_s, sign=s1.sign,
                   sub=s1.sub, e=s1.e, big=Cat(Const(0, 3), s1.sig_big), small=aligned)

        # 3. add or subtract (|big| >= |small|, so the difference is not negative)
        total = Signal(28)
        raw = Signal(28)   # one adder: big + ~small + 1 subtracts (its carry out is dropped)
        m.d.comb += [raw.eq(s2.big + (s2.small ^ s2.sub.replicate(27)) + s2.sub),
                     total.eq(Cat(raw[0:27], raw[27] & ~s2.sub))]
        s3 = p.cut("s3", nan=s2.nan, inf=s2.inf, inf_s=s2.inf_s, zero_s=s2.zero_s, sign=s2.sign,
                   e=s2.e, total=total)

        # 4. normalise: a carry shifts right by one (keeping sticky), cancellation shifts left
        lz, is_zero = lzc(m, s3.total[0:27], "add_lz")
        norm = Signal(27)
        exp = Signal(signed(10))
        with m.If(s3.total[27]):
            m.d.comb += [norm.eq(Cat(s3.total[0] | s3.total[1], s3.total[2:28])),
                         exp.eq(s3.e + 1)]
        with m.Else():
            m.d.comb += [norm.eq(s3.total[0:27] << lz), exp.eq(s3.e - lz)]
        s4 = p.cut("s4", nan=s3.nan, inf=s3.inf, inf_s=s3.inf_s, zero_s=s3.zero_s, sign=s3.sign,
                   zero=is_zero & ~s3.total[27], norm=norm, exp=exp)

        # 5. round to nearest even; tiny (exact, so no rounding interplay) → signed zero
        n = s4.norm
        rup = n[2] & (n[1] | n[0] | n[3])
        with m.If(s4.nan):
            m.d.comb += self.o.eq(_NAN)
        with m.Elif(s4.inf):
            m.d.comb += self.o.eq(Cat(Const(_INF, 31), s4.inf_s))
        with m.Elif(s4.zero):
            m.d.comb += self.o.eq(Cat(Const(0, 31), s4.zero_s))
        with m.Elif(s4.exp <= 0):
            m.d.comb += self.o.eq(Cat(Const(0, 31), s4.sign))
        with m.Elif(s4.exp >= 255):
            m.d.comb += self.o.eq(Cat(Const(_INF, 31), s4.sign))
        with m.Else():
            m.d.comb += self.o.eq(_round_pack(s4.sign, n[3:26], s4.exp[0:8], rup))
        p.done()
        return m


# ---------------------------------------------------------------------------------------------
# fp32 mul
# ---------------------------------------------------------------------------------------------

class FPMul(_Pipelined):
    """fp32 multiplication ``o = numerics.fp32_mul(a, b)``.

    RNE, flush-to-zero of subnormal inputs; tininess is detected *before* rounding: a product whose
    exact magnitude is below ``2**-126`` becomes a zero with sign ``sa ^ sb`` (even if it would
    round up to ``2**-126``); overflow → ±inf; NaN, ``0 · inf`` → canonical NaN.

    Datapath: unpack + exponent sum | 24×24 significand product (one ``*``, DSP blocks) |
    normalise (1-bit shift) + tiny/overflow detection | round + special cases.
    Cut points 0..2 sit between these steps; latency 1 → after the product; 2 (default) → after
    the product and after normalise; 3 → all three.

    Ports: ``a``, ``b``: In(32); ``o``: Out(32); ``en``: In(1). Throughput 1/cycle.
    """

    _CUTS = {0: (), 1: (1,), 2: (1, 2), 3: (0, 1, 2)}
    _POINTS = 3

    def __init__(self, latency=LATENCY["mul"]):
        super().__init__(latency, {"a": In(32), "b": In(32), "o": Out(32)})

    def elaborate(self, platform):
        m = Module()
        p = self._pipe(m)
        ua, ub = _Unpacked(m, self.a, "a"), _Unpacked(m, self.b, "b")
        nan = ua.nan | ub.nan | (ua.inf & ub.zero) | (ub.inf & ua.zero)
        s0 = p.cut("s0", nan=nan, inf=ua.inf | ub.inf, zero=ua.zero | ub.zero, sign=ua.s ^ ub.s,
                   exp=ua.e + ub.e - 127, sig_a=ua.sig, sig_b=ub.sig)

        prod = Signal(48)
        m.d.comb += prod.eq(s0.sig_a * s0.sig_b)
        s1 = p.cut("s1", nan=s0.nan, inf=s0.inf, zero=s0.zero, sign=s0.sign, exp=s0.exp,
                   prod=prod)

        # product in [2**46, 2**48): normalise by one position if bit 47 is set
        hi = s1.prod[47]
        sig = Mux(hi, s1.prod[24:48], s1.prod[23:47])
        guard = Mux(hi, s1.prod[23], s1.prod[22])
        sticky = Mux(hi, s1.prod[0:23] != 0, s1.prod[0:22] != 0)
        exp = Signal(signed(11))
        m.d.comb += exp.eq(s1.exp + hi)
        s2 = p.cut("s2", nan=s1.nan, inf=s1.inf, zero=s1.zero, sign=s1.sign, sig=sig,
                   rup=guard & (sticky | sig[0]), tiny=exp <= 0, ovf=exp >= 255, exp8=exp[0:8])

        with m.If(s2.nan):
            m.d.comb += self.o.eq(_NAN)
        with m.Elif(s2.inf):
            m.d.comb += self.o.eq(Cat(Const(_INF, 31), s2.sign))
        with m.Elif(s2.zero | s2.tiny):
            m.d.comb += self.o.eq(Cat(Const(0, 31), s2.sign))
        with m.Elif(s2.ovf):
            m.d.comb += self.o.eq(Cat(Const(_INF, 31), s2.sign))
        with m.Else():
            m.d.comb += self.o.eq(_round_pack(s2.sign, s2.sig[0:23], s2.exp8, s2.rup))
        p.done()
        return m


# ---------------------------------------------------------------------------------------------
# fp32 compare
# ---------------------------------------------------------------------------------------------

class FPCompare(wiring.Component):
    """fp32 comparisons, combinational (latency 0), on flushed inputs:
    * ``max`` = :func:`numerics.fp32_max`, ``min`` = :func:`numerics.fp32_min` (IEEE 754-2019
      ``maximum`` / ``minimum``: canonical NaN if either is NaN, ``max(+0, -0) = +0``,
      ``min(+0, -0) = -0``; a subnormal operand is returned as its flushed zero);
    * ``lt`` = :func:`numerics.fp32_lt`, ``eq`` = :func:`numerics.fp32_eq` (IEEE: ``-0 == +0``,
      NaN compares false).

    Ports: ``a``, ``b``: In(32); ``max``, ``min``: Out(32); ``lt``, ``eq``: Out(1).
    """

    latency = 0

    def __init__(self):
        super().__init__({"a": In(32), "b": In(32), "max": Out(32), "min": Out(32),
                          "lt": Out(1), "eq": Out(1)})

    def elaborate(self, platform):
        m = Module()
        a, b = self.a, self.b
        ua, ub = _Unpacked(m, a, "a"), _Unpacked(m, b, "b")
        nan = ua.nan | ub.nan
        both_zero = ua.zero & ub.zero
        # Magnitudes compared on the raw encodings: flushing changes the order only when both
        # are zero/subnormal (then they are equal). One comparator + one equality serve all.
        lt_mag, eq_mag = Signal(), Signal()
        m.d.comb += [lt_mag.eq((a[0:31] < b[0:31]) & ~both_zero),
                     eq_mag.eq((a[0:31] == b[0:31]) | both_zero)]
        # a >= b in the total order of flushed values (-0 just below +0)
        a_ge_b = Signal()
        m.d.comb += a_ge_b.eq(Mux(ua.s != ub.s, ub.s, Mux(ua.s, lt_mag | eq_mag, ~lt_mag)))

        def select(take_a):
            # the chosen operand, flushed; canonical NaN if either is NaN
            return Mux(nan, _NAN, Mux(take_a, ua.word, ub.word))

        m.d.comb += [
            self.max.eq(select(a_ge_b)),
            self.min.eq(select(~a_ge_b)),
            self.lt.eq(~nan & ~a_ge_b & ~both_zero),
            self.eq.eq(~nan & ((eq_mag & (ua.s == ub.s)) | both_zero)),
        ]
        return m


# ---------------------------------------------------------------------------------------------
# exp2 and reciprocal (table + linear interpolation)
# ---------------------------------------------------------------------------------------------

def _exp2_rom():
    t = numerics.EXP2_TABLE
    # word = (T[k] - 2**23) | (T[k+1] - T[k]) << 23      (23 + 17 bits)
    return [(t[k] - (1 << 23)) | ((t[k + 1] - t[k]) << 23) for k in range(len(t) - 1)]


def _recip_rom():
    r = numerics.RECIP_TABLE
    # word = (R[k] - 2**23) | (R[k] - R[k+1]) << 24      (24 + 16 bits)
    return [(r[k] - (1 << 23)) | ((r[k] - r[k + 1]) << 24) for k in range(len(r) - 1)]


def _rom(m, pipe, name, init, width, addr):
    """A ROM read at the first cut point: synchronous (enabled by ``en``) if that cut point is
    registered, else combinational. Returns the data word; advances ``pipe`` past that point only
    for the ROM (the caller cuts its other signals at the same point)."""
    rom = memory.Memory(shape=unsigned(width), depth=len(init), init=init)
    m.submodules[name] = rom
    if pipe.registered():
        rp = rom.read_port(domain="sync")
        m.d.comb += rp.en.eq(pipe.en)
    else:
        rp = rom.read_port(domain="comb")
    m.d.comb += rp.addr.eq(addr)
    return rp.data


class FPExp2(_Pipelined):
    """``o = numerics.exp2(a)``: ``2**a`` by table lookup + linear interpolation.

    The steps of the :func:`numerics.exp2` docstring: ``xf = floor(a · 2**23)`` from the
    significand by a shift (rounding toward -inf for negative inputs: ``~mag`` when bits were
    shifted out, else ``-mag``), ``i = xf >> 23``, ``k = xf[16:23]``, ``t = xf[0:16]``,
    ``m = T[k] + ((D[k] · t) >> 16)`` with ``D[k] = T[k+1] - T[k]`` (a 17×16 multiply), result
    ``((i + 127) << 23) | (m - 2**23)``; NaN → canonical NaN, ``a >= 128`` → +inf,
    ``a < -126`` → +0. The 128-word ROM holds ``(T[k] - 2**23, D[k])`` from
    :data:`numerics.EXP2_TABLE` (see the module docstring for its read port).

    Datapath: unpack + fixed-point conversion | ROM read | multiply | add + assemble.
    Cut points 0..2; latency 1 → ROM address (synchronous ROM); 2 (default) → ROM address and
    product; 3 → also the ROM output.

    Ports: ``a``: In(32); ``o``: Out(32); ``en``: In(1). Throughput 1/cycle.
    """

    _CUTS = {0: (), 1: (0,), 2: (0, 2), 3: (0, 1, 2)}
    _POINTS = 3

    def __init__(self, latency=LATENCY["exp2"]):
        super().__init__(latency, {"a": In(32), "o": Out(32)})

    def elaborate(self, platform):
        m = Module()
        p = self._pipe(m)
        u = _Unpacked(m, self.a, "a")
        sig = u.sig
        # |x| · 2**23 = sig · 2**(e - 127) = (sig << 7) >> (134 - e): one right shifter (the
        # shift is 1..7 for e = 127..133; 31 clears everything for e < 103).
        rs = Signal(5)
        m.d.comb += rs.eq(Mux(u.e < 103, 31, (134 - u.e)[0:5]))
        mag = Signal(32)
        m.d.comb += mag.eq(Cat(Const(0, 7), sig) >> rs)
        # bits shifted out: significand bits j with j + 7 < rs (thermometer mask)
        inexact = (sig & Cat(*[rs > j + 7 for j in range(24)])) != 0
        # xf = floor(x · 2**23): mag, or -mag (exact) / ~mag = -mag - 1 (inexact) when negative
        xf = Signal(32)
        m.d.comb += xf.eq((mag ^ u.s.replicate(32)) + (u.s & ~inexact))
        big = ~u.s & (u.e >= 134)                                    # a >= 128 (and +inf)
        small = u.s & ((u.e > 133) | ((u.e == 133) & (u.f > 0x7C0000)))  # a < -126 (and -inf)

        table = _rom(m, p, "exp2_rom", _exp2_rom(), 40, xf[16:23])
        s0 = p.cut("s0", nan=u.nan, big=big, small=small, i=xf[23:32], t=xf[0:16])
        s1 = p.cut("s1", nan=s0.nan, big=s0.big, small=s0.small, i=s0.i, t=s0.t,
                   base=table[0:23], diff=table[23:40])
        prod = Signal(33)
        m.d.comb += prod.eq(s1.diff * s1.t)
        s2 = p.cut("s2", nan=s1.nan, big=s1.big, small=s1.small, i=s1.i, base=s1.base,
                   step=prod[16:33])
        mant = (s2.base + s2.step)[0:23]
        with m.If(s2.nan):
            m.d.comb += self.o.eq(_NAN)
        with m.Elif(s2.big):
            m.d.comb += self.o.eq(_INF)
        with m.Elif(s2.small):
            m.d.comb += self.o.eq(0)
        with m.Else():
            m.d.comb += self.o.eq(Cat(mant, (s2.i + 127)[0:8], Const(0, 1)))
        p.done()
        return m


class FPRecip(_Pipelined):
    """``o = numerics.reciprocal(a)``: ``1/a`` by table lookup + linear interpolation.

    The steps of the :func:`numerics.reciprocal` docstring: ``k = f >> 15``, ``t = f & 0x7FFF``,
    ``r = R[k] - ((D[k] · t) >> 15)`` with ``D[k] = R[k] - R[k+1]`` (a 16×15 multiply); exponent
    field ``254 - e`` when ``r == 2**24`` (significand 0), else ``253 - e`` (significand
    ``r - 2**23``); a field ``<= 0`` flushes to a signed zero; ±0 → ±inf, ±inf → ±0, NaN →
    canonical NaN. The 256-word ROM holds ``(R[k] - 2**23, D[k])`` from
    :data:`numerics.RECIP_TABLE`.

    Datapath: unpack | ROM read | multiply | subtract + exponent + special cases.
    Cut points 0..2; latency 1 → ROM address (synchronous ROM); 2 (default) → ROM address and
    product; 3 → also the ROM output.

    Ports: ``a``: In(32); ``o``: Out(32); ``en``: In(1). Throughput 1/cycle.
    """

    _CUTS = {0: (), 1: (0,), 2: (0, 2), 3: (0, 1, 2)}
    _POINTS = 3

    def __init__(self, latency=LATENCY["recip"]):
        super().__init__(latency, {"a": In(32), "o": Out(32)})

    def elaborate(self, platform):
        m = Module()
        p = self._pipe(m)
        u = _Unpacked(m, self.a, "a")
        table = _rom(m, p, "recip_rom", _recip_rom(), 40, u.f[15:23])
        s0 = p.cut("s0", s=u.s, e=u.e, zero=u.zero, inf=u.inf, nan=u.nan, t=u.f[0:15])
        s1 = p.cut("s1", s=s0.s, e=s0.e, zero=s0.zero, inf=s0.inf, nan=s0.nan, t=s0.t,
                   base=table[0:24], diff=table[24:40])
        prod = Signal(31)
        m.d.comb += prod.eq(s1.diff * s1.t)
        s2 = p.cut("s2", s=s1.s, e=s1.e, zero=s1.zero, inf=s1.inf, nan=s1.nan, base=s1.base,
                   step=prod[15:31])
        r = Signal(24)   # r - 2**23; bit 23 set only for r == 2**24 (significand 0 then)
        m.d.comb += r.eq(s2.base - s2.step)
        exp = Signal(signed(10))
        m.d.comb += exp.eq(253 - s2.e + r[23])
        with m.If(s2.nan):
            m.d.comb += self.o.eq(_NAN)
        with m.Elif(s2.zero):
            m.d.comb += self.o.eq(Cat(Const(_INF, 31), s2.s))
        with m.Elif(s2.inf | (exp <= 0)):
            m.d.comb += self.o.eq(Cat(Const(0, 31), s2.s))
        with m.Else():
            m.d.comb += self.o.eq(Cat(r[0:23], exp[0:8], s2.s))
        p.done()
        return m


# ---------------------------------------------------------------------------------------------
# casts
# ---------------------------------------------------------------------------------------------

class Cast(_Pipelined):
    """Format conversions, selected at run time by ``op`` (a :class:`Cast.Op`):
    * ``FP32_FROM_INT`` — :func:`numerics.fp32_from_int`: int32 → fp32, RNE;
    * ``INT_FROM_FP32`` — :func:`numerics.int_from_fp32`: truncate toward zero, saturate, NaN → 0;
    * ``BF16_FROM_FP32`` — :func:`numerics.bf16_from_fp32`, RNE then FTZ, NaN → ``0x7FC0``;
      the bf16 encoding is in ``o[0:16]``, ``o[16:32] = 0``;
    * ``FP32_FROM_BF16`` — :func:`numerics.fp32_from_bf16` of ``a[0:16]`` (``a[16:32]`` ignored);
    * ``FTZ`` — :func:`numerics.ftz`: flush subnormals to signed zero, canonicalise NaN.

    ``ops`` (generator parameter, default all) lists the ops built in hardware (members or names);
    an ``op`` that is not built (or not a member) gives ``o = 0``.

    Datapath: decode (absolute value + leading-zero count / shift amount) | shift (left for
    int → fp, right for fp → int) | round / negate / saturate / select. The bf16 and FTZ results
    are formed in the first step and carried along. Cut points 0..1; latency 1 (default) → after
    the shift; 2 → both. ``op`` is pipelined with the data.

    Ports: ``op``: In(Cast.Op); ``a``: In(32); ``o``: Out(32); ``en``: In(1). Throughput 1/cycle.
    """

    class Op(enum.Enum, shape=3):
        FP32_FROM_INT = 0
        INT_FROM_FP32 = 1
        BF16_FROM_FP32 = 2
        FP32_FROM_BF16 = 3
        FTZ = 4

    _CUTS = {0: (), 1: (1,), 2: (0, 1)}
    _POINTS = 2

    @classmethod
    def check_arguments(cls, latency, ops):
        cls._resolve_ops(ops)
        cls.check_latency(latency)

    @staticmethod
    def _resolve_ops(ops):
        """The set of :class:`Cast.Op` that ``ops`` names (members or names; ``None``: all)."""
        given = ops
        if ops is None:
            ops = tuple(Cast.Op)
        try:
            ops = tuple(ops) if not isinstance(ops, (str, Cast.Op)) else (ops,)
        except TypeError:
            raise ValueError(f"Cast: ops = {given!r}: must be a list of Cast.Op members or names") \
                from None
        allowed = ", ".join(o.name for o in Cast.Op)
        resolved = []
        for op in ops:
            if isinstance(op, Cast.Op):
                resolved.append(op)
            elif isinstance(op, str) and op.upper() in Cast.Op.__members__:
                resolved.append(Cast.Op[op.upper()])
            else:
                raise ValueError(f"Cast: ops contains {op!r}: unknown cast op; allowed: {allowed}")
        if not resolved:
            raise ValueError(f"Cast: ops = {given!r}: must name at least one of {allowed}")
        return frozenset(resolved)

    def __init__(self, latency=LATENCY["cast"], ops=None):
        self.ops = self._resolve_ops(ops)
        super().__init__(latency, {"op": In(Cast.Op), "a": In(32), "o": Out(32)})

    def elaborate(self, platform):
        m = Module()
        p = self._pipe(m)
        Op = Cast.Op
        op = Signal(3)
        m.d.comb += op.eq(self.op.as_value())
        has = self.ops.__contains__
        a = self.a
        u = _Unpacked(m, a, "a")

        # shared datapath word x, shift amount sh and flags, selected by op
        x = Signal(32)
        sh = Signal(5)
        sign = Signal()
        zero = Signal()      # result 0 (int → fp of 0; fp → int of |a| < 1 or NaN)
        sat = Signal()       # fp → int saturation
        with m.Switch(op):
            if has(Op.FP32_FROM_INT):
                with m.Case(Op.FP32_FROM_INT):
                    absv = Signal(32)
                    m.d.comb += absv.eq((a ^ a[31].replicate(32)) + a[31])
                    lz, is_zero = lzc(m, absv, "i2f_lz")
                    # normalising is a left shift by lz: done by the shared right shifter on
                    # the bit-reversed word (reversal is wiring)
                    m.d.comb += [x.eq(absv[::-1]), sh.eq(lz), sign.eq(a[31]), zero.eq(is_zero)]
            if has(Op.INT_FROM_FP32):
                with m.Case(Op.INT_FROM_FP32):
                    # |x| = sig · 2**(e - 150); in range e = 127..157: (sig << 7) >> (157 - e)
                    m.d.comb += [x.eq(Cat(Const(0, 7), u.sig)), sh.eq((157 - u.e)[0:5]),
                                 sign.eq(u.s), zero.eq(u.nan | (u.e < 127)),
                                 sat.eq(~u.nan & (u.e >= 158))]
            if has(Op.BF16_FROM_FP32):
                with m.Case(Op.BF16_FROM_FP32):
                    r = Signal(16)
                    m.d.comb += r.eq((u.word + 0x7FFF + u.word[16])[16:32])
                    m.d.comb += x.eq(Mux(u.nan, numerics.BF16_CANONICAL_NAN,
                                         Mux(r[7:15] == 0, Cat(Const(0, 15), r[15]), r)))
            if has(Op.FP32_FROM_BF16):
                with m.Case(Op.FP32_FROM_BF16):
                    e = a[7:15]
                    m.d.comb += x.eq(Mux((e == 0xFF) & (a[0:7] != 0), _NAN,
                                         Mux(e == 0, Cat(Const(0, 31), a[15]),
                                             Cat(Const(0, 16), a[0:16]))))
            if has(Op.FTZ):
                with m.Case(Op.FTZ):
                    m.d.comb += x.eq(Mux(u.nan, _NAN, u.word))
        s0 = p.cut("s0", op=op, x=x, sh=sh, sign=sign, zero=zero, sat=sat)

        # one right shifter for both int conversions (sh = 0 for the other ops)
        shifted = Signal(32)
        m.d.comb += shifted.eq(s0.x >> s0.sh)
        s1 = p.cut("s1", op=s0.op, x=shifted, sh=s0.sh, sign=s0.sign, zero=s0.zero, sat=s0.sat)

        n = s1.x
        with m.Switch(s1.op):
            if has(Op.FP32_FROM_INT):
                with m.Case(Op.FP32_FROM_INT):
                    # un-reverse: normalised word, MSB at bit 31; exponent 158 - sh
                    nr = s1.x[::-1]
                    rup = nr[7] & ((nr[0:7] != 0) | nr[8])
                    exp = Signal(8)
                    m.d.comb += exp.eq(158 - s1.sh)
                    m.d.comb += self.o.eq(Mux(s1.zero, 0,
                                              _round_pack(s1.sign, nr[8:31], exp, rup)))
            if has(Op.INT_FROM_FP32):
                with m.Case(Op.INT_FROM_FP32):
                    with m.If(s1.zero):
                        m.d.comb += self.o.eq(0)
                    with m.Elif(s1.sat):
                        m.d.comb += self.o.eq(Mux(s1.sign, 0x80000000, 0x7FFFFFFF))
                    with m.Else():
                        m.d.comb += self.o.eq((n ^ s1.sign.replicate(32)) + s1.sign)
            for simple in (Op.BF16_FROM_FP32, Op.FP32_FROM_BF16, Op.FTZ):
                if has(simple):
                    with m.Case(simple):
                        m.d.comb += self.o.eq(n)
            with m.Default():
                m.d.comb += self.o.eq(0)
        p.done()
        return m


# ---------------------------------------------------------------------------------------------
# fixed-point multiply
# ---------------------------------------------------------------------------------------------

class FixedMul(_Pipelined):
    """Qm.n multiply ``o = numerics.fixed_mul(a, b, frac)`` with a run-time ``frac`` (0..31):
    exact 64-bit product of the signed 32-bit ``a``, ``b``, plus ``2**(frac-1)`` (round half up;
    nothing for ``frac = 0``), arithmetic shift right by ``frac``, saturation to int32.

    The product is four 17×17 partial products (16-bit halves; the high halves signed) so each maps
    to one DSP block. Datapath: partial products (+ rounding constant, middle sum) | 64-bit sum |
    shift + overflow detection | saturate.
    Cut points 0..2; latency 1 → after the sum; 2 (default) → after the partial products and
    after the sum; 3 → all.

    Ports: ``a``, ``b``: In(signed(32)); ``frac``: In(5); ``o``: Out(signed(32)); ``en``: In(1).
    Throughput 1/cycle.
    """

    _CUTS = {0: (), 1: (1,), 2: (0, 1), 3: (0, 1, 2)}
    _POINTS = 3

    def __init__(self, latency=LATENCY["fixed_mul"]):
        super().__init__(latency, {"a": In(signed(32)), "b": In(signed(32)), "frac": In(5),
                                   "o": Out(signed(32))})

    def elaborate(self, platform):
        m = Module()
        p = self._pipe(m)
        a, b = self.a, self.b
        a_lo, a_hi = a[0:16], a[16:32].as_signed()
        b_lo, b_hi = b[0:16], b[16:32].as_signed()
        hh, hl, lh, ll = (Signal(signed(32), name="pp_hh"), Signal(signed(33), name="pp_hl"),
                          Signal(signed(33), name="pp_lh"), Signal(32, name="pp_ll"))
        m.d.comb += [hh.eq(a_hi * b_hi), hl.eq(a_hi * b_lo), lh.eq(a_lo * b_hi),
                     ll.eq(a_lo * b_lo)]
        # The rounding constant 2**(frac-1) (0 for frac 0) joins the low partial product and its
        # carry the middle sum, so the 64-bit sum below has two operands (one carry chain;
        # yosys would otherwise build a multi-operand adder out of LUTs).
        rnd = Signal(31)
        m.d.comb += rnd.eq((Const(1, 1) << self.frac)[1:32])
        ll_r = Signal(33)
        mid = Signal(signed(35))
        m.d.comb += [ll_r.eq(ll + rnd), mid.eq(hl + lh + (ll_r[32] << 16))]
        s0 = p.cut("s0", hh=hh, mid=mid, low=ll_r[0:32], frac=self.frac)

        total = Signal(signed(64))
        m.d.comb += total.eq(Cat(s0.low, s0.hh) + (s0.mid << 16))
        s1 = p.cut("s1", total=total, frac=s0.frac)

        # Only the low 32 bits of total >> frac are kept; the result saturates unless every bit
        # from position 31 + frac up equals the sign: z marks bits that differ from the sign,
        # a thermometer mask selects positions >= 31 + frac (no 64-bit shifter needed).
        t = s1.total
        neg = t[63]
        low = Signal(32)
        m.d.comb += low.eq((t[0:63] >> s1.frac)[0:32])   # bit i + frac <= 62: no sign fill
        z = t[31:64] ^ neg.replicate(33)
        ovf = (z & ~_below(s1.frac, 33)) != 0
        s2 = p.cut("s2", low=low, ovf=ovf, neg=neg)

        with m.If(s2.ovf):
            m.d.comb += self.o.eq(Mux(s2.neg, -(1 << 31), (1 << 31) - 1))
        with m.Else():
            m.d.comb += self.o.eq(s2.low)
        p.done()
        return m


# ---------------------------------------------------------------------------------------------
# every block behind one stream (tests, benchmarks)
# ---------------------------------------------------------------------------------------------

class ArithStream(CheckedComponent):
    """All arithmetic blocks behind one valid/ready stream, selected per word by ``op``.

    Input payload (:attr:`LAYOUT`): ``a`` (bits 0..31), ``b`` (32..63), ``op`` (64..67, an
    :class:`ArithStream.Op`), ``frac`` (68..72, for ``FIXED_MUL``). Output: the 32-bit result
    (``LT``/``EQ``: 0 or 1). Every block sees every word; block outputs are delayed (with ``en``)
    to the largest latency ``D`` and selected by the op travelling down the pipeline. The pipeline
    advances (``en``) when its last stage is empty or the sink takes it — the same single enable a
    PCU uses — so latency is ``D`` cycles and throughput one word per cycle under any
    backpressure. ``latency``: ``None`` (the :data:`LATENCY` defaults), an int for every block, or
    a dict overriding some of the :data:`LATENCY` keys.
    """

    class Op(enum.Enum, shape=4):
        ADD = 0
        SUB = 1
        MUL = 2
        MAX = 3
        MIN = 4
        LT = 5
        EQ = 6
        EXP2 = 7
        RECIP = 8
        FP32_FROM_INT = 9
        INT_FROM_FP32 = 10
        BF16_FROM_FP32 = 11
        FP32_FROM_BF16 = 12
        FTZ = 13
        FIXED_MUL = 14

    LAYOUT = data.StructLayout({"a": 32, "b": 32, "op": 4, "frac": 5})

    _BLOCKS = {"add": FPAdd, "mul": FPMul, "exp2": FPExp2, "recip": FPRecip, "cast": Cast,
               "fixed_mul": FixedMul}

    @classmethod
    def check_arguments(cls, latency):
        cls._latencies(latency)

    @classmethod
    def _latencies(cls, latency):
        """``{block key: latency}`` that the ``latency`` argument asks for (validated)."""
        lat = {k: v for k, v in LATENCY.items() if k in cls._BLOCKS}
        if isinstance(latency, int) and not isinstance(latency, bool):
            lat = {k: min(latency, block.max_latency()) for k, block in cls._BLOCKS.items()}
        elif isinstance(latency, dict):
            unknown = sorted(set(latency) - set(cls._BLOCKS))
            if unknown:
                raise ValueError(f"ArithStream: latency keys {unknown}: allowed keys are "
                                 f"{', '.join(cls._BLOCKS)}")
            lat.update(latency)
        elif latency is not None:
            raise ValueError(f"ArithStream: latency = {latency!r}: must be None, an int or a dict")
        for k, block in cls._BLOCKS.items():
            block.check_latency(lat[k])
        return lat

    def __init__(self, latency=None):
        lat = self._latencies(latency)
        self.blocks = {k: block(lat[k]) for k, block in self._BLOCKS.items()}
        self.depth = max(b.latency for b in self.blocks.values())
        super().__init__({"i": In(stream.Signature(self.LAYOUT)),
                          "o": Out(stream.Signature(32))})

    @classmethod
    def pack(cls, a, b, op, frac=0):
        """Payload integer(s) for :attr:`i` (numpy arrays or ints)."""
        a = np.asarray(a, np.uint64) & np.uint64(0xFFFFFFFF)
        b = np.asarray(b, np.uint64) & np.uint64(0xFFFFFFFF)
        op = np.asarray(int(op.value) if isinstance(op, cls.Op) else op, np.uint64)
        frac = np.asarray(frac, np.uint64)
        return [int(a_) | (int(b_) << 32) | (int(o_) << 64) | (int(f_) << 68)
                for a_, b_, o_, f_ in zip(*np.broadcast_arrays(a, b, op, frac))]

    def elaborate(self, platform):
        m = Module()
        Op = ArithStream.Op
        for name, blk in self.blocks.items():
            m.submodules[name] = blk
        m.submodules.cmp = cmp = FPCompare()
        D = self.depth
        en = Signal()
        payload = self.i.payload
        op = payload.op
        a, b = payload.a, payload.b
        bl = self.blocks
        cast_op = Signal(Cast.Op)
        with m.Switch(op):
            for name in ("FP32_FROM_INT", "INT_FROM_FP32", "BF16_FROM_FP32", "FP32_FROM_BF16",
                         "FTZ"):
                with m.Case(Op[name]):
                    m.d.comb += cast_op.eq(Cast.Op[name])
        m.d.comb += [
            bl["add"].a.eq(a), bl["add"].b.eq(Cat(b[0:31], b[31] ^ (op == Op.SUB))),
            bl["mul"].a.eq(a), bl["mul"].b.eq(b),
            bl["exp2"].a.eq(a), bl["recip"].a.eq(a),
            bl["cast"].a.eq(a), bl["cast"].op.eq(cast_op),
            bl["fixed_mul"].a.eq(a), bl["fixed_mul"].b.eq(b), bl["fixed_mul"].frac.eq(payload.frac),
            cmp.a.eq(a), cmp.b.eq(b),
        ]
        for blk in bl.values():
            m.d.comb += blk.en.eq(en)

        def delay(value, n, name):
            for j in range(n):
                r = Signal(Value.cast(value).shape(), name=f"{name}_d{j}", reset_less=True)
                m.d.sync += r.eq(Mux(en, value, r))
                value = r
            return value

        # compare is combinational: register its (select-reduced) result like any other
        cmp_out = Signal(32)
        with m.Switch(op):
            with m.Case(Op.MAX):
                m.d.comb += cmp_out.eq(cmp.max)
            with m.Case(Op.MIN):
                m.d.comb += cmp_out.eq(cmp.min)
            with m.Case(Op.LT):
                m.d.comb += cmp_out.eq(cmp.lt)
            with m.Default():
                m.d.comb += cmp_out.eq(cmp.eq)
        outs = {k: delay(blk.o, D - blk.latency, k) for k, blk in bl.items()}
        outs["cmp"] = delay(cmp_out, D, "cmp")

        # valid / op travel with the data
        valid, op_d = self.i.valid, op
        for j in range(D):
            v = Signal(name=f"valid_d{j}")
            o_ = Signal(4, name=f"op_d{j}", reset_less=True)
            m.d.sync += [v.eq(Mux(en, valid, v)), o_.eq(Mux(en, op_d, o_))]
            valid, op_d = v, o_
        m.d.comb += [en.eq(~valid | self.o.ready), self.i.ready.eq(en), self.o.valid.eq(valid)]
        with m.Switch(op_d):
            with m.Case(Op.ADD, Op.SUB):
                m.d.comb += self.o.payload.eq(outs["add"])
            with m.Case(Op.MUL):
                m.d.comb += self.o.payload.eq(outs["mul"])
            with m.Case(Op.MAX, Op.MIN, Op.LT, Op.EQ):
                m.d.comb += self.o.payload.eq(outs["cmp"])
            with m.Case(Op.EXP2):
                m.d.comb += self.o.payload.eq(outs["exp2"])
            with m.Case(Op.RECIP):
                m.d.comb += self.o.payload.eq(outs["recip"])
            with m.Case(Op.FIXED_MUL):
                m.d.comb += self.o.payload.eq(outs["fixed_mul"])
            with m.Default():
                m.d.comb += self.o.payload.eq(outs["cast"])
        return m
