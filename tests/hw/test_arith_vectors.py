"""Test vectors and bit-exact references for hw.arith (shared by the Amaranth-sim and Verilator
tests), and tests that each vector class really exercises what it is named after.

:func:`vectors` returns operands for one :class:`hw.arith.ArithStream.Op`, drawn evenly from that
op's vector classes (:data:`CLASSES`); :func:`reference` is the :mod:`hw.numerics` result as
``uint32`` encodings (``LT`` / ``EQ``: 0 or 1; ``INT_FROM_FP32`` / ``FIXED_MUL``: the two's
complement bits).
"""

from __future__ import annotations

import numpy as np
import pytest

from hw import numerics as nx
from hw.arith import ArithStream

Op = ArithStream.Op

SPECIALS = np.array([
    0x00000000, 0x80000000,                 # ±0
    0x7F800000, 0xFF800000,                 # ±inf
    0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFFFFFFF, 0x7FBFFFFF,   # NaNs (quiet, signalling)
    0x00000001, 0x807FFFFF, 0x00400000,     # subnormals
    0x00800000, 0x80800000, 0x00800001,     # min normal
    0x7F7FFFFF, 0xFF7FFFFF, 0x7F7FFFFE,     # ±FLT_MAX
    0x3F800000, 0xBF800000, 0x3F7FFFFF,     # ±1, 1 - ulp
    0x4B000000, 0x4F000000, 0xCF000000,     # 2**23, ±2**31
], dtype=np.uint32)


# ---------------------------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------------------------

def _u32(x):
    return np.asarray(x, np.int64).astype(np.uint32)


def enc(sign, exp, mant):
    """fp32 encodings from fields (arrays)."""
    return _u32((np.asarray(sign, np.int64) << 31) | (np.asarray(exp, np.int64) << 23)
                | np.asarray(mant, np.int64))


def uniform(rng, n):
    return rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)


def normal(rng, n, emin=1, emax=254):
    return enc(rng.integers(0, 2, n), rng.integers(emin, emax + 1, n), rng.integers(0, 1 << 23, n))


def special(rng, n):
    sub = enc(rng.integers(0, 2, n), 0, rng.integers(1, 1 << 23, n))          # random subnormals
    nan = enc(rng.integers(0, 2, n), 255, rng.integers(1, 1 << 23, n))        # random NaN payloads
    pick = rng.integers(0, len(SPECIALS) + 2, n)
    out = SPECIALS[np.minimum(pick, len(SPECIALS) - 1)].copy()
    out[pick == len(SPECIALS)] = sub[pick == len(SPECIALS)]
    out[pick == len(SPECIALS) + 1] = nan[pick == len(SPECIALS) + 1]
    return out


def subnormal(rng, n):
    return enc(rng.integers(0, 2, n), 0, rng.integers(0, 1 << 23, n))


def _exp(u):
    return (u.astype(np.int64) >> 23) & 0xFF


def _f32_exact(x):
    """float64 values that are exactly representable → fp32 encodings (asserts exactness)."""
    x = np.asarray(x, np.float64)
    f = x.astype(np.float32)
    assert np.array_equal(f.astype(np.float64), x, equal_nan=True)
    return nx.bits(f)


def _mix(*arrays):
    return np.concatenate(arrays)


# ---------------------------------------------------------------------------------------------
# vector classes: name → fn(rng, n) -> (a, b, frac)
# ---------------------------------------------------------------------------------------------

def _pairs(fn):
    def g(rng, n):
        a, b = fn(rng, n)
        return _u32(a), _u32(b), np.zeros(n, np.uint32)
    return g


def _one(fn):
    def g(rng, n):
        return _u32(fn(rng, n)), uniform(rng, n), np.zeros(n, np.uint32)
    return g


def _add_exp_diff(rng, n):
    a = normal(rng, n, 42, 254)
    d = rng.integers(0, 41, n)
    b = enc(rng.integers(0, 2, n), _exp(a) - d, rng.integers(0, 1 << 23, n))
    return a, b


def _add_cancel(rng, n):
    a = normal(rng, n, 30, 254)
    k = rng.integers(-4, 5, n)
    low = rng.integers(0, 24, n)
    near = a.astype(np.int64) + k                                     # a ± few ulp
    chopped = a.astype(np.int64) ^ rng.integers(0, 1 << 23, n) & ((1 << low) - 1)
    b = np.where(rng.random(n) < 0.5, near, chopped) ^ (1 << 31)      # opposite sign
    return a, b


def _add_ties(rng, n):
    # a + (2j+1)·2**(ea-151): exactly (j + 1/2) ulp of a away from a → a rounding tie
    # (unless the sum changes binade); plus same-exponent pairs whose carry-out sum is a tie.
    h = n // 2
    a = normal(rng, h, 180, 250)
    j = rng.integers(0, 1 << 10, h)
    b = (2 * j + 1) * np.exp2(_exp(a) - 151.0) * np.where(rng.random(h) < 0.5, 1.0, -1.0)
    a2 = normal(rng, n - h, 1, 253)
    b2 = enc(a2 >> 31, _exp(a2), rng.integers(0, 1 << 23, n - h))
    return _mix(a, a2), _mix(_f32_exact(b), b2)


def _add_tiny(rng, n):
    # operands near 2**-126: sums below it flush to a signed zero, some land on it exactly
    a = normal(rng, n, 1, 3)
    b = enc(rng.integers(0, 2, n), rng.integers(1, 4, n), rng.integers(0, 1 << 23, n))
    return a, b


def _add_overflow(rng, n):
    s = rng.integers(0, 2, n)
    return enc(s, rng.integers(250, 255, n), rng.integers(0, 1 << 23, n)), \
        enc(s ^ (rng.random(n) < 0.1), rng.integers(250, 255, n), rng.integers(0, 1 << 23, n))


def _with_special(rng, n):
    a, b = special(rng, n), np.where(rng.random(n) < 0.5, special(rng, n), normal(rng, n))
    swap = rng.random(n) < 0.5
    return np.where(swap, b, a), np.where(swap, a, b)


def _mul_normal(rng, n):
    ea = rng.integers(1, 255, n)
    eb = np.clip(rng.integers(128, 381, n) - ea, 1, 254)
    return enc(rng.integers(0, 2, n), ea, rng.integers(0, 1 << 23, n)), \
        enc(rng.integers(0, 2, n), eb, rng.integers(0, 1 << 23, n))


def _mul_ties(rng, n):
    # odd k of w bits times odd a of 25 - w bits: a product of 24 or 25 significant bits; when it
    # has 25 its last bit is 1 — exactly half an ulp → a rounding tie (about half of the vectors)
    w = rng.integers(2, 9, n)
    k = (1 << (w - 1)) | rng.integers(0, 1 << 7, n) & ((1 << (w - 1)) - 1) | 1
    odd_a = (1 << (24 - w)) | rng.integers(0, 1 << 22, n) & ((1 << (24 - w)) - 1) | 1
    ea, eb = rng.integers(-60, 40, n), rng.integers(-40, 40, n)
    sa, sb = np.where(rng.random(n) < 0.5, 1, -1), np.where(rng.random(n) < 0.5, 1, -1)
    return (_f32_exact(sa * odd_a * np.exp2(ea.astype(np.float64))),
            _f32_exact(sb * k * np.exp2(eb.astype(np.float64))))


def _mul_near(target):
    def g(rng, n):
        # b = fp32(target / a): products within an ulp or so of target, both sides
        a = normal(rng, n, 64, 190)
        fa = nx.from_bits(a).astype(np.float64)
        with np.errstate(over="ignore"):
            b = nx.bits((target / fa).astype(np.float32))
        b = _u32(b.astype(np.int64) + rng.integers(-2, 3, n))
        return a, b
    return g


def _mul_exp_edge(lo, hi):
    def g(rng, n):
        # exponent sums so that the product exponent is in lo..hi (before normalisation)
        ea = rng.integers(1, 255, n)
        eb = np.clip(rng.integers(lo, hi + 1, n) + 127 - ea, 1, 254)
        return enc(rng.integers(0, 2, n), ea, rng.integers(0, 1 << 23, n)), \
            enc(rng.integers(0, 2, n), eb, rng.integers(0, 1 << 23, n))
    return g


def _cmp_close(rng, n):
    a = normal(rng, n)
    k = rng.integers(-2, 3, n)
    b = a.astype(np.int64) + k
    b = np.where(rng.random(n) < 0.3, b ^ (1 << 31), b)
    return a, b


def _cmp_equal(rng, n):
    a = np.where(rng.random(n) < 0.5, normal(rng, n), special(rng, n))
    zeros = rng.random(n) < 0.3
    b = np.where(zeros, enc(rng.integers(0, 2, n), 0, rng.integers(0, 2, n) * rng.integers(0, 1 << 23, n)), a)
    a = np.where(zeros, enc(rng.integers(0, 2, n), 0, rng.integers(0, 2, n) * rng.integers(0, 1 << 23, n)), a)
    return a, b


def _exp2_range(rng, n):
    return nx.bits(nx.fp32(rng.uniform(-130.0, 130.0, n)))


def _exp2_integers(rng, n):
    x = rng.integers(-130, 131, n).astype(np.float64)
    ulp = rng.integers(-3, 4, n)
    u = nx.bits(x.astype(np.float32)).astype(np.int64)
    return np.where((x != 0) & (rng.random(n) < 0.5), u + ulp, u)


def _exp2_edges(rng, n):
    # around -126 (biased exponent 133, significand 0x7C0000) and 128 (exponent 134), both signs
    s = rng.integers(0, 2, n)
    e = rng.integers(132, 136, n)
    m = np.where(rng.random(n) < 0.5, 0x7C0000 + rng.integers(-3, 4, n), rng.integers(0, 4, n) +
                 np.where(rng.random(n) < 0.5, 0, (1 << 23) - 4))
    return enc(s, e, np.clip(m, 0, (1 << 23) - 1))


def _exp2_small(rng, n):
    return normal(rng, n, 60, 128)


def _recip_pow2(rng, n):
    return enc(rng.integers(0, 2, n), rng.integers(1, 255, n), 0)


def _recip_edges(rng, n):
    m = np.where(rng.random(n) < 0.5, rng.integers(0, 1 << 23, n), rng.integers(0, 4, n))
    return enc(rng.integers(0, 2, n), rng.integers(250, 255, n), m)


def _i2f_small(rng, n):
    bits_ = rng.integers(0, 33, n)
    v = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.int64) & ((1 << bits_) - 1)
    return np.where(rng.random(n) < 0.5, v, -v)


def _i2f_ties(rng, n):
    # 25..31 significant bits ending in 1 followed by zeros just below the 24-bit boundary: ties
    width = rng.integers(25, 32, n)
    top = rng.integers(0, 1 << 23, n) | (1 << 23)               # 24 significant bits
    drop = width - 24
    v = (top << drop) | (1 << (drop - 1))                        # exactly half an ulp
    v = np.where(rng.random(n) < 0.3, v + rng.integers(-1, 2, n), v)
    v = np.where(rng.random(n) < 0.5, v, -v)
    return np.clip(v, -(1 << 31), (1 << 31) - 1)


def _i2f_edges(rng, n):
    edges = np.array([0, 1, -1, (1 << 31) - 1, -(1 << 31), -(1 << 31) + 1, 1 << 24, (1 << 24) + 1,
                      (1 << 24) + 3, -(1 << 24) - 1, 0x7FFFFFC0, 0x7FFFFF80, 0x7FFFFFBF], np.int64)
    return edges[rng.integers(0, len(edges), n)]


def _f2i_range(rng, n):
    return enc(rng.integers(0, 2, n), rng.integers(100, 170, n), rng.integers(0, 1 << 23, n))


def _f2i_edges(rng, n):
    m = np.where(rng.random(n) < 0.5, rng.integers(0, 4, n), (1 << 23) - rng.integers(1, 5, n))
    return enc(rng.integers(0, 2, n), rng.integers(125, 160, n), m)


def _bf16_ties(rng, n):
    low = np.array([0x7FFF, 0x8000, 0x8001, 0x0000, 0xFFFF, 0x0001], np.int64)
    hi = np.where(rng.random(n) < 0.9, normal(rng, n), special(rng, n)).astype(np.int64) >> 16
    return (hi << 16) | low[rng.integers(0, len(low), n)]


def _bf16_big(rng, n):
    return enc(rng.integers(0, 2, n), 254, (1 << 23) - rng.integers(0, 1 << 16, n))


def _bf16_inputs(rng, n):
    h = np.where(rng.random(n) < 0.5, uniform(rng, n) & 0xFFFF, special(rng, n) >> 16)
    h = np.where(rng.random(n) < 0.2, rng.integers(0, 0x80, n) | (rng.integers(0, 2, n) << 15), h)
    return uniform(rng, n) & 0xFFFF0000 | h                       # garbage above bit 16


def _fixed(rng, n, kind):
    frac = rng.integers(0, 32, n)
    if kind == "uniform":
        a, b = uniform(rng, n), uniform(rng, n)
    elif kind == "small":
        a, b = rng.integers(-(1 << 16), 1 << 16, n), rng.integers(-(1 << 16), 1 << 16, n)
    elif kind == "ties":
        # a·2**(frac-1) with odd a: the dropped bits are exactly one half
        frac = rng.integers(1, 32, n)
        a = 2 * rng.integers(-(1 << 20), 1 << 20, n) + 1
        b = np.where(rng.random(n) < 0.5, 1, -1) << (frac - 1)
        b = np.clip(b, -(1 << 31), (1 << 31) - 1)
    elif kind == "edges":
        ed = np.array([0, 1, -1, (1 << 31) - 1, -(1 << 31), 1 << 16, -(1 << 16), 3, -3], np.int64)
        a, b = ed[rng.integers(0, len(ed), n)], ed[rng.integers(0, len(ed), n)]
        r = rng.random(n) < 0.5
        a = np.where(r, uniform(rng, n).astype(np.int64), a)
    elif kind == "saturation":
        # |a·b| around 2**(31 + frac)
        bits_a = rng.integers(1, 32, n)
        a = rng.integers(0, 1 << 31, n) >> (31 - bits_a) | (1 << (bits_a - 1))
        target = 31 + frac
        b = np.clip(np.ldexp(1.0, target) / a, 1, 2**31 - 1).astype(np.int64) + rng.integers(-1, 2, n)
        a = np.where(rng.random(n) < 0.5, a, -a)
        b = np.where(rng.random(n) < 0.5, b, -b)
    return _u32(a), _u32(b), _u32(frac)


_ADD = {
    "uniform": _pairs(lambda r, n: (uniform(r, n), uniform(r, n))),
    "normal": _pairs(lambda r, n: (normal(r, n), normal(r, n))),
    "exp_diff_0_40": _pairs(_add_exp_diff),
    "cancellation": _pairs(_add_cancel),
    "ties": _pairs(_add_ties),
    "tiny": _pairs(_add_tiny),
    "overflow": _pairs(_add_overflow),
    "specials": _pairs(_with_special),
    "subnormal": _pairs(lambda r, n: (subnormal(r, n), np.where(r.random(n) < 0.5, subnormal(r, n),
                                                                  normal(r, n, 1, 30)))),
}


def _flip_b(classes):
    # SUB gets the ADD classes with b's sign flipped, so the hardware's flip restores each class
    def wrap(fn):
        def g(rng, n):
            a, b, f = fn(rng, n)
            return a, b ^ np.uint32(1 << 31), f
        return g
    return {k: wrap(v) for k, v in classes.items()}


_MUL = {
    "uniform": _pairs(lambda r, n: (uniform(r, n), uniform(r, n))),
    "normal": _pairs(_mul_normal),
    "ties": _pairs(_mul_ties),
    "near_min_normal": _pairs(_mul_near(2.0 ** -126)),
    "exp_near_min_normal": _pairs(_mul_exp_edge(-2, 2)),
    "near_flt_max": _pairs(_mul_near(float(np.finfo(np.float32).max))),
    "near_overflow": _pairs(_mul_near(2.0 ** 128)),
    "exp_near_max": _pairs(_mul_exp_edge(252, 256)),
    "specials": _pairs(_with_special),
    "subnormal": _pairs(lambda r, n: (subnormal(r, n), normal(r, n))),
}

_CMP = {
    "uniform": _pairs(lambda r, n: (uniform(r, n), uniform(r, n))),
    "normal": _pairs(lambda r, n: (normal(r, n), normal(r, n))),
    "close": _pairs(_cmp_close),
    "equal_and_zeros": _pairs(_cmp_equal),
    "specials": _pairs(_with_special),
}

_EXP2 = {
    "uniform": _one(uniform),
    "range": _one(_exp2_range),
    "integers": _one(_exp2_integers),
    "edges": _one(_exp2_edges),
    "small": _one(_exp2_small),
    "specials": _one(special),
}

_RECIP = {
    "uniform": _one(uniform),
    "normal": _one(normal),
    "pow2": _one(_recip_pow2),
    "edges": _one(_recip_edges),
    "specials": _one(special),
}

#: op → {class name → generator(rng, n) -> (a, b, frac)}
CLASSES = {
    Op.ADD: _ADD,
    Op.SUB: _flip_b(_ADD),
    Op.MUL: _MUL,
    Op.MAX: _CMP, Op.MIN: _CMP, Op.LT: _CMP, Op.EQ: _CMP,
    Op.EXP2: _EXP2,
    Op.RECIP: _RECIP,
    Op.FP32_FROM_INT: {"uniform": _one(uniform), "small": _one(_i2f_small), "ties": _one(_i2f_ties),
                       "edges": _one(_i2f_edges)},
    Op.INT_FROM_FP32: {"uniform": _one(uniform), "range": _one(_f2i_range),
                       "edges": _one(_f2i_edges), "specials": _one(special)},
    Op.BF16_FROM_FP32: {"uniform": _one(uniform), "ties": _one(_bf16_ties), "big": _one(_bf16_big),
                        "specials": _one(special)},
    Op.FP32_FROM_BF16: {"uniform": _one(uniform), "bf16": _one(_bf16_inputs)},
    Op.FTZ: {"uniform": _one(uniform), "specials": _one(special), "subnormal": _one(subnormal)},
    Op.FIXED_MUL: {k: (lambda kind: lambda r, n: _fixed(r, n, kind))(k)
                   for k in ("uniform", "small", "ties", "edges", "saturation")},
}


def vectors(op, n, rng, classes=None):
    """``n`` operand triples ``(a, b, frac)`` (``uint32`` arrays) for ``op``, split evenly over its
    vector classes (or the named ``classes``)."""
    table = CLASSES[op]
    names = list(classes or table)
    parts = [table[c](rng, n // len(names) + (i < n % len(names))) for i, c in enumerate(names)]
    return tuple(np.concatenate([p[k] for p in parts]).astype(np.uint32) for k in range(3))


def mixed(ops, n_per_op, rng):
    """Vectors for several ops, randomly interleaved: ``(op, a, b, frac)`` arrays."""
    ops_, a, b, f = [], [], [], []
    for op in ops:
        x, y, z = vectors(op, n_per_op, rng)
        ops_.append(np.full(len(x), op.value, np.uint32))
        a.append(x), b.append(y), f.append(z)
    order = rng.permutation(sum(len(x) for x in a))
    return tuple(np.concatenate(v)[order] for v in (ops_, a, b, f))


# ---------------------------------------------------------------------------------------------
# references
# ---------------------------------------------------------------------------------------------

def _fixed_ref(a, b, frac):
    a = np.asarray(a, np.uint32).view(np.int32).astype(np.int64)
    b = np.asarray(b, np.uint32).view(np.int32).astype(np.int64)
    frac = np.asarray(frac, np.int64)
    out = np.zeros(len(a), np.int64)
    for k in np.unique(frac):
        sel = frac == k
        out[sel] = nx.fixed_mul(a[sel], b[sel], int(k))
    return out


def reference(op, a, b, frac):
    """The :mod:`hw.numerics` result of ``op`` as ``uint32`` encodings."""
    op = op if isinstance(op, Op) else Op(int(op))
    a = np.asarray(a, np.uint32)
    b = np.asarray(b, np.uint32)
    fa, fb = nx.from_bits(a), nx.from_bits(b)
    if op == Op.ADD:
        r = nx.bits(nx.fp32_add(fa, fb))
    elif op == Op.SUB:
        r = nx.bits(nx.fp32_sub(fa, fb))
    elif op == Op.MUL:
        r = nx.bits(nx.fp32_mul(fa, fb))
    elif op == Op.MAX:
        r = nx.bits(nx.fp32_max(fa, fb))
    elif op == Op.MIN:
        r = nx.bits(nx.fp32_min(fa, fb))
    elif op == Op.LT:
        r = nx.fp32_lt(fa, fb)
    elif op == Op.EQ:
        r = nx.fp32_eq(fa, fb)
    elif op == Op.EXP2:
        r = nx.bits(nx.exp2(fa))
    elif op == Op.RECIP:
        r = nx.bits(nx.reciprocal(fa))
    elif op == Op.FP32_FROM_INT:
        r = nx.bits(nx.fp32_from_int(a.view(np.int32)))
    elif op == Op.INT_FROM_FP32:
        r = nx.int_from_fp32(fa)
    elif op == Op.BF16_FROM_FP32:
        r = nx.bf16_from_fp32(fa)
    elif op == Op.FP32_FROM_BF16:
        r = nx.bits(nx.fp32_from_bf16((a & 0xFFFF).astype(np.uint16)))
    elif op == Op.FTZ:
        r = nx.bits(nx.ftz(fa))
    elif op == Op.FIXED_MUL:
        r = _fixed_ref(a, b, frac)
    return _u32(r).reshape(a.shape)


def reference_mixed(ops, a, b, frac):
    out = np.zeros(len(a), np.uint32)
    for v in np.unique(ops):
        sel = ops == v
        out[sel] = reference(v, a[sel], b[sel], frac[sel])
    return out


def assert_bits_equal(op_names, got, exp, a, b, frac, what):
    """``np.testing.assert_array_equal`` on uint32 bit patterns, after listing the first
    mismatches with their operands in hex (the message says which op failed)."""
    got = np.asarray(got, np.uint32)
    exp = np.asarray(exp, np.uint32)
    bad = np.nonzero(got != exp)[0]
    if len(bad):
        lines = [f"{what}: {len(bad)} of {len(got)} results differ from hw.numerics; first:"]
        for i in bad[:8]:
            lines.append(f"  {op_names[i]:>15} a={int(a[i]):08x} b={int(b[i]):08x} "
                         f"frac={int(frac[i])}: rtl={int(got[i]):08x} numerics={int(exp[i]):08x}")
        print("\n".join(lines))
        np.testing.assert_array_equal(got, exp, err_msg="\n".join(lines))


# ---------------------------------------------------------------------------------------------
# the vector classes hit what they are named after
# ---------------------------------------------------------------------------------------------

def _exact_sum_is_tie(a, b):
    from fractions import Fraction
    fa, fb = Fraction(float(nx.from_bits([a])[0])), Fraction(float(nx.from_bits([b])[0]))
    s = abs(fa + fb)
    if s == 0:
        return False
    e = s.numerator.bit_length() - s.denominator.bit_length()
    while Fraction(2) ** e > s:
        e -= 1
    while Fraction(2) ** (e + 1) <= s:
        e += 1
    ulp = Fraction(2) ** (e - 23)
    return (s / ulp) - int(s / ulp) == Fraction(1, 2)


def test_add_tie_class_produces_exact_ties():
    rng = np.random.default_rng(3)
    a, b, _ = CLASSES[Op.ADD]["ties"](rng, 200)
    ties = sum(_exact_sum_is_tie(x, y) for x, y in zip(a, b))
    assert ties > 100, ties


def test_mul_tie_class_produces_exact_ties():
    rng = np.random.default_rng(4)
    a, b, _ = CLASSES[Op.MUL]["ties"](rng, 400)
    fa = nx.from_bits(a).astype(np.float64)
    fb = nx.from_bits(b).astype(np.float64)
    p = fa * fb                                    # exact in float64
    m, _e = np.frexp(np.abs(p))                    # p = m · 2**e, m in [0.5, 1)
    scaled = m * 2.0 ** 25                         # 24 bits + one more
    ties = np.sum(scaled == np.floor(scaled)) - np.sum((scaled / 2) == np.floor(scaled / 2))
    assert ties > 100, ties


def test_cancellation_class_cancels():
    rng = np.random.default_rng(5)
    a, b, _ = CLASSES[Op.ADD]["cancellation"](rng, 400)
    fa, fb = nx.from_bits(a).astype(np.float64), nx.from_bits(b).astype(np.float64)
    s = np.abs(fa + fb)
    with np.errstate(divide="ignore"):
        lost = np.log2(np.abs(fa) / s)
    assert np.mean(lost > 8) > 0.3 and np.any(s == 0)


def test_near_min_normal_class_straddles_the_flush_boundary():
    rng = np.random.default_rng(6)
    a, b, _ = CLASSES[Op.MUL]["near_min_normal"](rng, 400)
    p = np.abs(nx.from_bits(a).astype(np.float64) * nx.from_bits(b).astype(np.float64))
    assert np.sum(p < 2.0 ** -126) > 50 and np.sum(p >= 2.0 ** -126) > 50


def test_near_overflow_class_straddles_inf():
    rng = np.random.default_rng(7)
    a, b, _ = CLASSES[Op.MUL]["near_overflow"](rng, 400)
    r = reference(Op.MUL, a, b, 0)
    inf = (r & 0x7FFFFFFF) == 0x7F800000
    assert 50 < np.sum(inf) < 350


def test_fixed_tie_class_has_half_remainders():
    rng = np.random.default_rng(8)
    a, b, f = CLASSES[Op.FIXED_MUL]["ties"](rng, 300)
    p = a.view(np.int32).astype(object) * b.view(np.int32).astype(object)
    half = [int(x) % (1 << int(k)) == 1 << (int(k) - 1) for x, k in zip(p, f)]
    assert sum(half) > 250


def test_exp_diff_class_covers_0_to_40():
    rng = np.random.default_rng(9)
    a, b, _ = CLASSES[Op.ADD]["exp_diff_0_40"](rng, 2000)
    d = set((_exp(a) - _exp(b)).tolist())
    assert d == set(range(41))


@pytest.mark.parametrize("op", list(Op), ids=lambda o: o.name)
def test_every_class_generates_the_requested_count(op):
    rng = np.random.default_rng(10)
    a, b, f = vectors(op, 97, rng)
    assert len(a) == len(b) == len(f) == 97
    assert reference(op, a, b, f).dtype == np.uint32
