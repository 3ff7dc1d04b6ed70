"""Tests of the numerics contract (``hw/numerics.py``, docs/architecture.md §4).

Every function is checked against an *independent* reference written here from the specification:
exact rational arithmetic (``fractions.Fraction``) plus a hand-written round-to-nearest-even to
binary32 / bf16, Python's unbounded integers for the integer and fixed-point rules, and Python re-
implementations of the documented table algorithms of ``exp2`` / ``reciprocal``. No reference below
calls numpy floating-point arithmetic on the values under test.
"""

from __future__ import annotations

import math
import os
import struct
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hw import numerics as nx

#: Random seed: ``RDU_SEED`` if set (as for the simulation tests), else a fixed default.
SEED = int(os.environ.get("RDU_SEED") or "20240613", 0)
HYP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAN = 0x7FC00000
INF = 0x7F800000
SIGN = 0x80000000
FLT_MAX = 0x7F7FFFFF
MIN_NORMAL = 0x00800000
TWO = Fraction(2)


# --------------------------------------------------------------------------------------------
# Independent references (pure Python, exact)
# --------------------------------------------------------------------------------------------

def f32_bits(x: float) -> int:
    """Python float → binary32 encoding, via ``struct`` (only used on exactly representable values
    or to build inputs)."""
    return struct.unpack("<I", struct.pack("<f", x))[0]


def bits_f32(u: int) -> float:
    return struct.unpack("<f", struct.pack("<I", u))[0]


def classify(u: int):
    """binary32 encoding → ('nan'|'inf'|'zero', sign) or ('fin', sign, exact Fraction).
    Subnormal encodings are read as zeros of the same sign (flush-to-zero on input)."""
    s = u >> 31
    e = (u >> 23) & 0xFF
    m = u & 0x7FFFFF
    if e == 0xFF:
        return ("nan", s) if m else ("inf", s)
    if e == 0:
        return ("zero", s)
    return ("fin", s, Fraction((m | 1 << 23) * (-1 if s else 1)) * TWO ** (e - 150))


def value(u: int) -> Fraction:
    c = classify(u)
    assert c[0] in ("fin", "zero")
    return c[2] if c[0] == "fin" else Fraction(0)


def _floor_log2(a: Fraction) -> int:
    e = a.numerator.bit_length() - a.denominator.bit_length()
    while TWO ** e > a:
        e -= 1
    while TWO ** (e + 1) <= a:
        e += 1
    return e


def _rne(q: Fraction) -> int:
    n = q.numerator // q.denominator
    r = q - n
    if r > Fraction(1, 2) or (r == Fraction(1, 2) and n & 1):
        n += 1
    return n


def round_binary(q: Fraction, mant_bits=23, tiny_before=True):
    """Nonzero exact value → (sign, biased exponent, fraction field) of a binary format with 8
    exponent bits, by round-to-nearest-even; overflow → inf; results below 2**-126 → signed zero.

    ``tiny_before``: tininess detected on the exact value (the fp32 operators' rule). Otherwise the
    value is first rounded on the IEEE subnormal grid and the rounded result is flushed if it is
    subnormal (the rule of :func:`hw.numerics.fp32` — "RNE, then flush")."""
    s = 1 if q < 0 else 0
    a = abs(q)
    if tiny_before and a < TWO ** -126:
        return s, 0, 0
    e = max(_floor_log2(a), -126)
    sig = _rne(a / TWO ** (e - mant_bits))
    if sig == 1 << (mant_bits + 1):
        sig >>= 1
        e += 1
    if sig < 1 << mant_bits:  # subnormal on the IEEE grid (only when not tiny_before) → flush
        return s, 0, 0
    if e > 127:
        return s, 0xFF, 0
    return s, e + 127, sig - (1 << mant_bits)


def enc32(q: Fraction, tiny_before=True) -> int:
    s, e, m = round_binary(q, 23, tiny_before)
    return (s << 31) | (e << 23) | m


def ref_add(ua: int, ub: int) -> int:
    a, b = classify(ua), classify(ub)
    if a[0] == "nan" or b[0] == "nan":
        return NAN
    if a[0] == "inf" and b[0] == "inf":
        return NAN if a[1] != b[1] else (a[1] << 31) | INF
    if a[0] == "inf" or b[0] == "inf":
        return ((a if a[0] == "inf" else b)[1] << 31) | INF
    if a[0] == "zero" and b[0] == "zero":
        return (a[1] & b[1]) << 31          # -0 + -0 = -0, every other pair of zeros = +0
    q = value(ua) + value(ub)
    if q == 0:
        return 0                            # x + (-x) = +0 under round-to-nearest
    return enc32(q)


def ref_mul(ua: int, ub: int) -> int:
    a, b = classify(ua), classify(ub)
    if a[0] == "nan" or b[0] == "nan":
        return NAN
    s = a[1] ^ b[1]
    if {a[0], b[0]} == {"inf", "zero"}:
        return NAN
    if "inf" in (a[0], b[0]):
        return (s << 31) | INF
    if "zero" in (a[0], b[0]):
        return s << 31
    return enc32(value(ua) * value(ub))


def _order_key(u):
    c = classify(u)
    if c[0] == "inf":
        return (Fraction(-1 if c[1] else 1) * 10 ** 40, 0)
    if c[0] == "zero":
        return (Fraction(0), -1 if c[1] else 0)      # -0 just below +0
    return (c[2], 0)


def _canon_in(u):
    """Flush-to-zero on input, canonical NaN: the encoding an operator sees."""
    c = classify(u)
    if c[0] == "nan":
        return NAN
    if c[0] == "zero":
        return (c[1] << 31)
    return u


def ref_max(ua, ub):
    if classify(ua)[0] == "nan" or classify(ub)[0] == "nan":
        return NAN
    ua, ub = _canon_in(ua), _canon_in(ub)
    return ua if _order_key(ua) >= _order_key(ub) else ub


def ref_min(ua, ub):
    if classify(ua)[0] == "nan" or classify(ub)[0] == "nan":
        return NAN
    ua, ub = _canon_in(ua), _canon_in(ub)
    return ua if _order_key(ua) <= _order_key(ub) else ub


def ref_cmp(ua, ub):
    """(a < b, a == b) under IEEE rules after FTZ: NaN unordered, -0 == +0."""
    if classify(ua)[0] == "nan" or classify(ub)[0] == "nan":
        return 0, 0
    ka, kb = _order_key(ua)[0], _order_key(ub)[0]
    return int(ka < kb), int(ka == kb)


def b(x):
    """Encodings of an array of fp32 values as Python ints."""
    return [int(v) for v in np.atleast_1d(nx.bits(x)).ravel()]


def as_f32(us):
    return nx.from_bits(np.asarray(us, np.uint64))


# --------------------------------------------------------------------------------------------
# Input generators: random encodings plus the extremes the contract talks about
# --------------------------------------------------------------------------------------------

SPECIALS = [
    0x00000000, 0x80000000,                      # ±0
    0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00400000,   # subnormals (must flush)
    0x00800000, 0x80800000, 0x00800001, 0x00FFFFFF,               # around 2**-126
    0x3F800000, 0xBF800000, 0x3F7FFFFF, 0x3F800001, 0x40000000,
    0x7F7FFFFF, 0xFF7FFFFF, 0x7F7FFFFE, 0x7F000000, 0x7E800000,   # near FLT_MAX
    0x7F800000, 0xFF800000,                      # ±inf
    0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FBFFFFF, 0xFFFFFFFF,   # NaNs (any payload)
    0x1F800000, 0x20000000, 0x1F000000, 0x5F800000, 0x5F000000,   # 2**-64, 2**-63, 2**63 ...
]


def random_pairs(rng, n):
    """``n`` pairs of encodings: uniform bits, near-cancelling sums, products near 2**-126 and near
    FLT_MAX, sums near 2**-126, and every pair of SPECIALS."""
    q = n // 6
    ua = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    ub = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    # near-cancellation: b ≈ -a (same exponent, a few ulps apart)
    s = slice(q, 2 * q)
    ub[s] = ua[s] ^ SIGN ^ rng.integers(0, 8, q, dtype=np.uint64)
    # products whose exponent lands around -126 and around +127
    ea = rng.integers(1, 255, 2 * q, dtype=np.uint64)
    target = np.concatenate([np.full(q, -126), np.full(q, 127)])
    eb = np.clip(target - (ea.astype(np.int64) - 127) + 127 + rng.integers(-2, 2, 2 * q), 1, 254)
    s = slice(2 * q, 4 * q)
    ua[s] = (ua[s] & 0x807FFFFF) | (ea << 23)
    ub[s] = (ub[s] & 0x807FFFFF) | (eb.astype(np.uint64) << 23)
    # sums of small opposite-sign normals: exact results below 2**-126 (must flush)
    s = slice(4 * q, 5 * q)
    ua[s] = (ua[s] & 0x807FFFFF) | (rng.integers(1, 3, q, dtype=np.uint64) << 23)
    ub[s] = ((ua[s] ^ SIGN) & 0xFF800000) | (ub[s] & 0x7FFFFF)
    sp = np.asarray(SPECIALS, np.uint64)
    ga, gb = np.meshgrid(sp, sp)
    ua = np.concatenate([ua, ga.ravel()])
    ub = np.concatenate([ub, gb.ravel()])
    return ua.astype(np.uint32), ub.astype(np.uint32)


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(SEED)
    print(f"numerics random seed = {SEED}")
    return random_pairs(rng, 3000)


fp32_bits_st = st.integers(0, (1 << 32) - 1) | st.sampled_from(SPECIALS)


# --------------------------------------------------------------------------------------------
# fp32 add / sub / mul / muladd against exact arithmetic
# --------------------------------------------------------------------------------------------

def _check_binary(op, ref, ua, ub):
    got = b(op(as_f32(ua), as_f32(ub)))
    bad = [(hex(x), hex(y), hex(g), hex(ref(x, y)))
           for x, y, g in zip(map(int, ua), map(int, ub), got) if g != ref(x, y)]
    assert not bad, f"{len(bad)} mismatches (a, b, got, want), first: {bad[:5]}"


def test_fp32_add_matches_exact_rne(pairs):
    ua, ub = pairs
    _check_binary(nx.fp32_add, ref_add, ua, ub)


def test_fp32_sub_matches_exact_rne(pairs):
    ua, ub = pairs
    _check_binary(nx.fp32_sub, lambda x, y: ref_add(x, y ^ SIGN if classify(y)[0] != "nan" else y),
                  ua, ub)


def test_fp32_mul_matches_exact_rne(pairs):
    ua, ub = pairs
    _check_binary(nx.fp32_mul, ref_mul, ua, ub)


def test_generators_reach_the_extremes(pairs):
    """The random pairs really exercise overflow, tiny products, tiny sums and rounding up to
    2**-126 (otherwise the comparisons above would prove little)."""
    ua, ub = (list(map(int, x)) for x in pairs)
    mul = [ref_mul(x, y) for x, y in zip(ua, ub)]
    add = [ref_add(x, y) for x, y in zip(ua, ub)]
    fin = [(x, y) for x, y in zip(ua, ub) if classify(x)[0] == classify(y)[0] == "fin"]
    prods = [abs(value(x) * value(y)) for x, y in fin]
    sums = [abs(value(x) + value(y)) for x, y in fin]
    lim = TWO ** -126
    assert sum(1 for p in prods if 0 < p < lim) > 100                          # flushed products
    assert sum(1 for p in prods if p >= lim and p < lim * (1 + TWO ** -20)) >= 1  # just normal
    assert sum(1 for p in prods if p > value(FLT_MAX)) > 100                   # overflow → inf
    assert sum(1 for s_ in sums if 0 < s_ < lim) > 100                         # tiny sums
    assert sum(1 for s_ in sums if s_ == 0) > 10                               # exact cancellation
    assert sum(1 for r in mul if r & 0x7FFFFFFF == INF) > 100
    assert sum(1 for r in add if r == NAN) > 10


@HYP
@given(fp32_bits_st, fp32_bits_st)
def test_fp32_add_mul_hypothesis(ua, ub):
    a, b_ = as_f32([ua]), as_f32([ub])
    assert b(nx.fp32_add(a, b_)) == [ref_add(ua, ub)]
    assert b(nx.fp32_mul(a, b_)) == [ref_mul(ua, ub)]
    # commutativity is bit-exact
    assert b(nx.fp32_add(b_, a)) == [ref_add(ua, ub)]
    assert b(nx.fp32_mul(b_, a)) == [ref_mul(ua, ub)]


def test_fp32_muladd_is_unfused(pairs):
    ua, ub = pairs
    rng = np.random.default_rng(SEED + 1)
    uc = rng.integers(0, 1 << 32, len(ua), dtype=np.uint64).astype(np.uint32)
    got = b(nx.fp32_muladd(as_f32(ua), as_f32(ub), as_f32(uc)))
    want = [ref_add(ref_mul(int(x), int(y)), int(z)) for x, y, z in zip(ua, ub, uc)]
    assert got == want
    # a case where fusing would differ: (1 + 2**-23)**2 - (1 + 2**-22) = 2**-46 exactly if fused
    x = as_f32([0x3F800001])
    c = nx.fp32_neg(as_f32([0x3F800002]))
    assert b(nx.fp32_muladd(x, x, c)) == [0]


@pytest.mark.parametrize("a, b_, want", [
    (0x7F800000, 0xFF800000, NAN),           # inf - inf
    (0xFF800000, 0x7F800000, NAN),
    (0x7F800000, 0x7F800000, 0x7F800000),
    (0x7F800000, 0xFF7FFFFF, 0x7F800000),    # inf + finite
    (0x3FC00000, 0xBFC00000, 0x00000000),    # x + (-x) = +0
    (0xBFC00000, 0x3FC00000, 0x00000000),
    (0x80000000, 0x80000000, 0x80000000),    # -0 + -0 = -0
    (0x00000000, 0x80000000, 0x00000000),    # +0 + -0 = +0
    (0x80000000, 0x00000000, 0x00000000),
    (0x3F800000, 0x80000000, 0x3F800000),    # -0 is the additive identity
    (0x00000001, 0x00000000, 0x00000000),    # subnormal input reads as 0
    (0x807FFFFF, 0x80000000, 0x80000000),    # subnormal -x + -0 = -0
    (0x00400000, 0x3F800000, 0x3F800000),
    (0x00C00000, 0x80800000, 0x00000000),    # 1.5·2**-126 - 2**-126 = 2**-127: flushed, +
    (0x80C00000, 0x00800000, 0x80000000),    # ... and with the sign of the exact result
    (0x00800001, 0x80800000, 0x00000000),    # difference of one subnormal ulp → 0
    (0x7F7FFFFF, 0x7F7FFFFF, 0x7F800000),    # overflow → inf
    (0x7F7FFFFF, 0x73000000, 0x7F800000),    # FLT_MAX + half ulp (tie, odd) → inf
    (0x7F7FFFFF, 0x72FFFFFF, 0x7F7FFFFF),    # FLT_MAX + just under half ulp → FLT_MAX
    (0x4B800000, 0x3F800000, 0x4B800000),    # 2**24 + 1: tie → even (2**24)
    (0x4B800001, 0x3F800000, 0x4B800002),    # (2**24 + 2) + 1: tie → even (2**24 + 4)
    (0x7FC00001, 0x3F800000, NAN),           # NaN payloads are canonicalised
    (0xFFFFFFFF, 0x7F800000, NAN),
])
def test_fp32_add_special_cases(a, b_, want):
    assert ref_add(a, b_) == want            # the reference agrees with the hand-written table
    assert b(nx.fp32_add(as_f32([a]), as_f32([b_]))) == [want]


@pytest.mark.parametrize("a, b_, want", [
    (0x00000000, 0x7F800000, NAN),           # 0 · inf
    (0xFF800000, 0x80000000, NAN),
    (0x00000001, 0x7F800000, NAN),           # subnormal reads as 0: 0 · inf
    (0x7F800000, 0xBF800000, 0xFF800000),
    (0x80000000, 0x3F800000, 0x80000000),    # -0 · 1 = -0
    (0x80000000, 0x80000000, 0x00000000),
    (0x3F800000, 0x807FFFFF, 0x80000000),    # 1 · (-subnormal) = -0
    (0x20000000, 0x20000000, 0x00800000),    # 2**-63 · 2**-63 = 2**-126: normal, kept
    (0x1F800000, 0x20000000, 0x00000000),    # 2**-64 · 2**-63 = 2**-127: flushed
    (0x9F800000, 0x20000000, 0x80000000),    # ... to -0 when negative
    # (1 - 2**-24) · 2**-126 rounds up to 2**-126 but is tiny before rounding → flushed
    (0x3F7FFFFF, 0x00800000, 0x00000000),
    (0xBF7FFFFF, 0x00800000, 0x80000000),
    (0x3F800001, 0x00800000, 0x00800001),
    (0x5F800000, 0x5F800000, 0x7F800000),    # 2**64 · 2**64 → inf
    (0x5F7FFFFF, 0x5F800000, 0x7F7FFFFF),    # just below FLT_MAX... · 2**64: exact
    (0x7F7FFFFF, 0x3F800001, 0x7F800000),    # FLT_MAX · (1 + ulp) → inf
    (0x7F7FFFFF, 0xBF800001, 0xFF800000),
    (0x3F800001, 0x3F800001, 0x3F800002),    # (1 + 2**-23)**2 = 1 + 2**-22 + 2**-46 → RNE
    (0x7FC00001, 0x00000000, NAN),
])
def test_fp32_mul_special_cases(a, b_, want):
    assert ref_mul(a, b_) == want
    assert b(nx.fp32_mul(as_f32([a]), as_f32([b_]))) == [want]


def test_fp32_ops_shapes_and_broadcasting():
    a = np.float32([[1.0], [2.0]])
    r = nx.fp32_add(a, np.float32([1.0, 2.0, 3.0]))
    assert r.shape == (2, 3) and r.dtype == np.float32
    assert np.shape(nx.fp32_add(1.0, 2.0)) == ()
    assert nx.fp32_add(1.0, 2.0) == 3.0
    assert np.shape(nx.fp32_mul(np.float32(3.0), [1.0, 2.0])) == (2,)
    assert np.shape(nx.fp32_max(1.0, 2.0)) == ()
    assert nx.fp32_lt([1.0, 2.0], 1.5).dtype == np.int64
    # inputs are not modified
    x = np.float32([1e-40, np.nan])
    before = nx.bits(x).copy()
    nx.fp32_add(x, x)
    nx.fp32_mul(x, x)
    nx.ftz(x)
    nx.fp32_neg(x)
    np.testing.assert_array_equal(nx.bits(x), before)


# --------------------------------------------------------------------------------------------
# max / min / compare / neg / abs
# --------------------------------------------------------------------------------------------

def test_fp32_max_min_against_reference(pairs):
    ua, ub = pairs
    _check_binary(nx.fp32_max, ref_max, ua, ub)
    _check_binary(nx.fp32_min, ref_min, ua, ub)


@pytest.mark.parametrize("a, b_, mx, mn", [
    (0x00000000, 0x80000000, 0x00000000, 0x80000000),   # max(+0,-0)=+0, min=-0
    (0x80000000, 0x00000000, 0x00000000, 0x80000000),
    (0x80000000, 0x80000000, 0x80000000, 0x80000000),
    (0x00000001, 0x80000000, 0x00000000, 0x80000000),   # subnormal = +0
    (0x80000001, 0x00000000, 0x00000000, 0x80000000),   # -subnormal = -0
    (0x7FC00000, 0x3F800000, NAN, NAN),                 # NaN wins (IEEE 754-2019 maximum)
    (0x3F800000, 0xFFFFFFFF, NAN, NAN),
    (0x7F800001, 0xFF800000, NAN, NAN),
    (0xFF800000, 0x7F800000, 0x7F800000, 0xFF800000),
    (0xFF800000, 0xFF7FFFFF, 0xFF7FFFFF, 0xFF800000),
    (0xBF800000, 0xC0000000, 0xBF800000, 0xC0000000),
    (0x3F800000, 0x3F800001, 0x3F800001, 0x3F800000),
])
def test_fp32_max_min_special_cases(a, b_, mx, mn):
    assert b(nx.fp32_max(as_f32([a]), as_f32([b_]))) == [mx]
    assert b(nx.fp32_min(as_f32([a]), as_f32([b_]))) == [mn]


def test_fp32_compare_against_reference(pairs):
    ua, ub = pairs
    lt = nx.fp32_lt(as_f32(ua), as_f32(ub))
    eq = nx.fp32_eq(as_f32(ua), as_f32(ub))
    assert lt.dtype == np.int64 and eq.dtype == np.int64
    want = [ref_cmp(int(x), int(y)) for x, y in zip(ua, ub)]
    assert list(map(int, lt)) == [w[0] for w in want]
    assert list(map(int, eq)) == [w[1] for w in want]


@pytest.mark.parametrize("a, b_, lt, eq", [
    (0x80000000, 0x00000000, 0, 1),     # -0 == +0, not <
    (0x00000001, 0x00000000, 0, 1),     # subnormal == 0 after FTZ
    (0x80000001, 0x00000001, 0, 1),
    (0x7FC00000, 0x7FC00000, 0, 0),     # NaN unordered, not even equal to itself
    (0x7FC00000, 0x3F800000, 0, 0),
    (0x3F800000, 0x7FC00000, 0, 0),
    (0xFF800000, 0xFF7FFFFF, 1, 0),
    (0x7F800000, 0x7F800000, 0, 1),
])
def test_fp32_compare_special_cases(a, b_, lt, eq):
    assert int(nx.fp32_lt(as_f32([a]), as_f32([b_]))[0]) == lt
    assert int(nx.fp32_eq(as_f32([a]), as_f32([b_]))[0]) == eq


def test_fp32_neg_abs_bitwise(pairs):
    ua = np.concatenate(pairs)
    neg = b(nx.fp32_neg(as_f32(ua)))
    ab = b(nx.fp32_abs(as_f32(ua)))
    for u, n_, a_ in zip(map(int, ua), neg, ab):
        c = _canon_in(u)
        if c == NAN:
            assert n_ == NAN and a_ == NAN
        else:
            assert n_ == c ^ SIGN
            assert a_ == c & 0x7FFFFFFF
    assert b(nx.fp32_neg(0.0)) == [SIGN]
    assert b(nx.fp32_neg(-0.0)) == [0]
    assert np.shape(nx.fp32_neg(np.float32(2.0))) == ()


# --------------------------------------------------------------------------------------------
# Encodings, fp32(), ftz, canonical NaN
# --------------------------------------------------------------------------------------------

def test_bits_from_bits_roundtrip():
    rng = np.random.default_rng(SEED + 2)
    u = rng.integers(0, 1 << 32, 1000, dtype=np.uint64).astype(np.uint32)
    np.testing.assert_array_equal(nx.bits(nx.from_bits(u)), u)   # NaN payloads survive too
    assert nx.bits(np.float32(1.0)) == 0x3F800000
    assert nx.from_bits(0xC0000000) == -2.0
    assert nx.bits([1.0, -0.0]).dtype == np.uint32


def test_ftz_and_canonical_nan(pairs):
    ua = np.concatenate(pairs)
    f = b(nx.ftz(as_f32(ua)))
    c = b(nx.canonical_nan(as_f32(ua)))
    for u, fu, cu in zip(map(int, ua), f, c):
        kind = classify(u)[0]
        assert fu == _canon_in(u)
        assert cu == (NAN if kind == "nan" else u)       # canonical_nan keeps subnormals
    assert np.shape(nx.ftz(np.float32(1e-40))) == ()
    assert b(nx.ftz(np.float32(-1e-40))) == [SIGN]


@HYP
@given(st.floats(allow_nan=False, allow_infinity=True, width=64))
def test_fp32_conversion_rounds_then_flushes(x):
    got = b(nx.fp32(x))[0]
    if math.isinf(x):
        assert got == (SIGN if x < 0 else 0) | INF
    elif x == 0:
        assert got == (SIGN if math.copysign(1, x) < 0 else 0)
    else:
        assert got == enc32(Fraction(x), tiny_before=False)


@pytest.mark.parametrize("x, want", [
    (1.0 + 2.0 ** -24, 0x3F800000),                # tie → even
    (1.0 + 3 * 2.0 ** -24, 0x3F800002),            # tie → even (up)
    (1.0 + 2.0 ** -24 + 2.0 ** -40, 0x3F800001),   # above the tie → up
    (2.0 ** -126 * (1 - 2.0 ** -30), 0x00800000),  # rounds (on the subnormal grid) up to normal
    (2.0 ** -127, 0x00000000),                     # subnormal → +0
    (-2.0 ** -140, 0x80000000),                    # → -0
    (3.5e38, 0x7F800000),                          # overflow → inf
    (-3.5e38, 0xFF800000),
    (float.fromhex("0x1.fffffefffffffp+127"), 0x7F7FFFFF),   # just below the overflow tie
    (float.fromhex("0x1.ffffffp+127"), 0x7F800000),          # the tie itself → inf (even)
    (float("nan"), NAN),
])
def test_fp32_conversion_cases(x, want):
    assert b(nx.fp32(x)) == [want]


def test_fp32_conversion_of_huge_values_does_not_warn():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert b(nx.fp32(1e300)) == [INF]
        assert b(nx.fp32_add(1e300, 1.0)) == [INF]
        assert b(nx.fp32_mul(-1e300, 1.0)) == [SIGN | INF]
        assert b(nx.fp32(np.float32(np.nan))) == [NAN]
        assert b(nx.fp32(bits_f32(0x7F800001))) == [NAN]
        assert b(nx.bf16_round(as_f32([0xFFC00001]))) == [NAN]


# --------------------------------------------------------------------------------------------
# bf16
# --------------------------------------------------------------------------------------------

def ref_bf16(u: int) -> int:
    c = classify(u)
    if c[0] == "nan":
        return 0x7FC0
    if c[0] == "inf":
        return (c[1] << 15) | 0x7F80
    if c[0] == "zero":
        return c[1] << 15
    s, e, m = round_binary(c[2], 7)
    return (s << 15) | (e << 7) | m


def test_bf16_from_fp32_against_reference(pairs):
    ua = np.concatenate(pairs)
    # and every tie: low 16 bits exactly 0x8000
    rng = np.random.default_rng(SEED + 3)
    ties = (rng.integers(0, 1 << 16, 2000, dtype=np.uint64) << 16) | 0x8000
    near = ties + rng.integers(-2, 3, 2000).astype(np.int64).astype(np.uint64)
    ua = np.concatenate([ua, ties.astype(np.uint32), (near & 0xFFFFFFFF).astype(np.uint32)])
    got = nx.bf16_from_fp32(as_f32(ua))
    assert got.dtype == np.uint16
    want = [ref_bf16(int(u)) for u in ua]
    assert list(map(int, got)) == want


@pytest.mark.parametrize("u, want", [
    (0x3F808000, 0x3F80),    # 1 + 2**-8: tie, lower neighbour even → down
    (0x3F818000, 0x3F82),    # tie, lower neighbour odd → up
    (0x3F808001, 0x3F81),    # above the tie → up
    (0x3F807FFF, 0x3F80),    # below the tie → down
    (0xBF818000, 0xBF82),    # negative ties are symmetric
    (0xBF808000, 0xBF80),
    (0x3FFF8000, 0x4000),    # carry into the exponent
    (0x7F7F8000, 0x7F80),    # rounds up to +inf
    (0xFF7F8000, 0xFF80),
    (0x7F7F7FFF, 0x7F7F),    # largest bf16
    (0x7F800000, 0x7F80),
    (0xFF800000, 0xFF80),
    (0x7F800001, 0x7FC0),    # NaN → canonical bf16 NaN (no rounding into inf)
    (0xFFFFFFFF, 0x7FC0),
    (0x00000001, 0x0000),    # subnormal → +0
    (0x807FFFFF, 0x8000),    # -subnormal → -0
    (0x00800000, 0x0080),    # 2**-126 stays normal
    (0x80000000, 0x8000),
])
def test_bf16_rounding_cases(u, want):
    assert ref_bf16(u) == want
    assert int(nx.bf16_from_fp32(as_f32([u]))[0]) == want


def test_fp32_from_bf16_exhaustive():
    h = np.arange(1 << 16, dtype=np.uint32)
    got = nx.bits(nx.fp32_from_bf16(h.astype(np.uint16)))
    e = (h >> 7) & 0xFF
    m = h & 0x7F
    want = h << 16
    want = np.where(e == 0, (h & 0x8000) << 16, want)          # subnormal bf16 → signed zero
    want = np.where((e == 0xFF) & (m != 0), NAN, want)          # NaN → canonical
    np.testing.assert_array_equal(got, want.astype(np.uint32))


def test_bf16_round_trip_and_idempotence(pairs):
    ua = np.concatenate(pairs)
    x = as_f32(ua)
    r = nx.bf16_round(x)
    np.testing.assert_array_equal(nx.bits(r), nx.bits(nx.fp32_from_bf16(nx.bf16_from_fp32(x))))
    np.testing.assert_array_equal(nx.bits(nx.bf16_round(r)), nx.bits(r))
    assert np.all(nx.bits(r) & 0xFFFF == 0)
    # every bf16 value survives the round trip exactly
    h = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    f = nx.fp32_from_bf16(h)
    back = nx.bf16_from_fp32(f)
    finite_normal = ((h.astype(np.uint32) >> 7) & 0xFF) % 255 != 0
    np.testing.assert_array_equal(back[finite_normal], h[finite_normal])


def test_bf16_products_are_exact_in_fp32():
    """docs/architecture.md §4: a bf16×bf16 product is exact in fp32 (8 + 8 significand bits
    <= 24)."""
    rng = np.random.default_rng(SEED + 4)
    ha = rng.integers(0, 1 << 16, 3000).astype(np.uint16)
    hb = rng.integers(0, 1 << 16, 3000).astype(np.uint16)
    a, b_ = nx.fp32_from_bf16(ha), nx.fp32_from_bf16(hb)
    p = nx.fp32_mul(a, b_)
    checked = 0
    for ua, ub, up in zip(b(a), b(b_), b(p)):
        ca, cb = classify(ua), classify(ub)
        if ca[0] == cb[0] == "fin":
            exact = ca[2] * cb[2]
            if TWO ** -126 <= abs(exact) <= value(FLT_MAX):
                assert value(up) == exact
                checked += 1
    assert checked > 1000


# --------------------------------------------------------------------------------------------
# int <-> fp32 casts
# --------------------------------------------------------------------------------------------

INT32_EDGES = [0, 1, -1, 2**24, 2**24 + 1, 2**24 + 2, 2**24 + 3, -(2**24 + 1), 2**25 + 2,
               2**31 - 1, -2**31, 2**31 - 64, 2**31 - 65, 2**31 - 128, 2**31 - 192, 123456789]


@HYP
@given(st.integers(-2**31, 2**31 - 1) | st.sampled_from(INT32_EDGES))
def test_fp32_from_int_rounds_to_nearest_even(i):
    got = b(nx.fp32_from_int(np.int64(i)))[0]
    assert got == (0 if i == 0 else enc32(Fraction(i)))


def test_fp32_from_int_cases():
    got = nx.fp32_from_int(np.array([2**24 + 1, 2**24 + 3, 2**31 - 1, -2**31, -(2**24 + 1)]))
    np.testing.assert_array_equal(got, np.float32([2**24, 2**24 + 4, 2**31, -2**31, -2**24]))
    assert got.dtype == np.float32
    assert nx.fp32_from_int(2**32 + 5) == 5.0           # operand is a 32-bit word (wraps)


def ref_int_from_fp32(u):
    c = classify(u)
    if c[0] == "nan" or c[0] == "zero":
        return 0
    if c[0] == "inf":
        return -2**31 if c[1] else 2**31 - 1
    v = c[2]
    t = math.floor(v) if v >= 0 else -math.floor(-v)    # truncate toward zero
    return max(-2**31, min(2**31 - 1, t))


def test_int_from_fp32_against_reference(pairs):
    ua = np.concatenate(pairs)
    extra = [f32_bits(x) for x in (0.5, -0.5, 0.999999, -0.999999, 1.5, -1.5, 2.5, -2.5,
                                   2147483520.0, 2147483648.0, -2147483648.0, -2147483904.0,
                                   3e9, -3e9, 1e-30)]
    ua = np.concatenate([ua, np.asarray(extra, np.uint32)])
    got = nx.int_from_fp32(as_f32(ua))
    assert got.dtype == np.int64
    assert list(map(int, got)) == [ref_int_from_fp32(int(u)) for u in ua]


@pytest.mark.parametrize("x, want", [
    (1.9, 1), (-1.9, -1), (-0.5, 0), (2147483520.0, 2147483520), (2147483648.0, 2**31 - 1),
    (-2147483648.0, -2**31), (-1e10, -2**31), (float("inf"), 2**31 - 1),
    (float("-inf"), -2**31), (float("nan"), 0), (1e-40, 0),
])
def test_int_from_fp32_cases(x, want):
    assert int(nx.int_from_fp32(np.float32(x))) == want


# --------------------------------------------------------------------------------------------
# Integers
# --------------------------------------------------------------------------------------------

def py_wrap(x, bits, signed=True):
    u = x % (1 << bits)
    return u - (1 << bits) if signed and u >= 1 << (bits - 1) else u


def py_sat(x, bits, signed=True):
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return max(lo, min(hi, x))


@HYP
@given(st.integers(1, 63), st.lists(st.integers(-2**62, 2**62), min_size=1, max_size=8),
       st.booleans())
def test_wrap_and_saturate(bits, xs, signed):
    np.testing.assert_array_equal(nx.wrap(xs, bits, signed), [py_wrap(x, bits, signed) for x in xs])
    np.testing.assert_array_equal(nx.saturate(xs, bits, signed),
                                  [py_sat(x, bits, signed) for x in xs])


def test_wrap_saturate_edges():
    assert list(nx.wrap([127, 128, -129, 255, 256], 8)) == [127, -128, 127, -1, 0]
    assert list(nx.wrap([255, 256, -1], 8, signed=False)) == [255, 0, 255]
    assert list(nx.saturate([127, 128, -129], 8)) == [127, 127, -128]
    assert list(nx.wrap([2**31, -2**31 - 1], 32)) == [-2**31, 2**31 - 1]
    assert list(nx.wrap([-1, 1], 1)) == [-1, -1]
    assert list(nx.wrap([2**63 - 1], 64)) == [2**63 - 1]
    for bad in (0, 65, -1, 2.0):
        with pytest.raises(ValueError, match=rf"bits = {bad!r}: must be an integer in 1\.\.64"):
            nx.wrap([1], bad)


INT32 = st.integers(-2**31, 2**31 - 1)


@HYP
@given(INT32, INT32, st.sampled_from([8, 16, 32]))
def test_int_arith(a, b_, bits):
    a, b_ = py_wrap(a, bits), py_wrap(b_, bits)
    assert int(nx.int_add(a, b_, bits)) == py_wrap(a + b_, bits)
    assert int(nx.int_sub(a, b_, bits)) == py_wrap(a - b_, bits)
    assert int(nx.int_mul(a, b_, bits)) == py_wrap(a * b_, bits)
    assert int(nx.int_add(a, b_, bits, sat=True)) == py_sat(a + b_, bits)
    assert int(nx.int_sub(a, b_, bits, sat=True)) == py_sat(a - b_, bits)
    assert int(nx.int_mul(a, b_, bits, sat=True)) == py_sat(a * b_, bits)


def test_int_arith_extremes():
    mn, mx = -2**31, 2**31 - 1
    assert int(nx.int_add(mx, 1)) == mn
    assert int(nx.int_add(mx, 1, sat=True)) == mx
    assert int(nx.int_sub(mn, 1)) == mx
    assert int(nx.int_sub(mn, 1, sat=True)) == mn
    assert int(nx.int_mul(mn, -1)) == mn
    assert int(nx.int_mul(mn, -1, sat=True)) == mx
    assert int(nx.int_mul(mn, mn, sat=True)) == mx
    assert int(nx.int_mul(mn, mn)) == 0
    with pytest.raises(ValueError, match="bits = 33: int_mul supports operands of at most 32 bits"):
        nx.int_mul(1, 1, 33)


@HYP
@given(INT32, st.integers(-40, 80))
def test_int_shifts(a, s):
    sh = s % 32
    u = a % (1 << 32)
    assert int(nx.int_shl(a, s)) == py_wrap(u << sh, 32)
    assert int(nx.int_shr(a, s)) == a >> sh                         # arithmetic: floor
    assert int(nx.int_shr(a, s, arithmetic=False)) == py_wrap(u >> sh, 32)


# --------------------------------------------------------------------------------------------
# Fixed point
# --------------------------------------------------------------------------------------------

def ref_fixed_mul(a, b_, n, bits):
    p = a * b_
    if n:
        p = (p + (1 << (n - 1))) >> n        # Python >> is floor: round half up
    return py_sat(p, bits)


@HYP
@given(st.sampled_from([8, 16, 24, 32]), st.data())
def test_fixed_mul_against_python_ints(bits, data):
    n = data.draw(st.integers(0, bits - 1))
    word = st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    a, b_ = data.draw(word), data.draw(word)
    assert int(nx.fixed_mul(a, b_, n, bits)) == ref_fixed_mul(a, b_, n, bits)
    # and the same through exact rationals: round(a·b/2**n) with ties toward +inf, saturated
    q = Fraction(a * b_, 1 << n)
    assert ref_fixed_mul(a, b_, n, bits) == py_sat(math.floor(q + Fraction(1, 2)), bits)


@pytest.mark.parametrize("a, b_, n, bits, want", [
    (3, 1, 1, 32, 2),          # 1.5 → 2 (tie up)
    (-3, 1, 1, 32, -1),        # -1.5 → -1 (tie toward +inf, not away from zero)
    (1, 1, 1, 32, 1),          # 0.5 → 1
    (-1, 1, 1, 32, 0),         # -0.5 → 0
    (5, 1, 2, 32, 1),          # 1.25 → 1
    (6, 1, 2, 32, 2),          # 1.5 → 2
    (-6, 1, 2, 32, -1),        # -1.5 → -1
    (-7, 1, 2, 32, -2),        # -1.75 → -2
    (1 << 15, 1 << 15, 15, 16, 32767),                  # 1.0 · 1.0 in Q0.15 saturates
    (-(1 << 15), -(1 << 15), 15, 16, 32767),            # (-1)·(-1) saturates
    (-(1 << 15), 1 << 14, 15, 16, -(1 << 14)),          # -1 · 0.5 = -0.5 exactly
    (2**31 - 1, 2**31 - 1, 0, 32, 2**31 - 1),           # integer multiply saturates
    (-2**31, 2**31 - 1, 0, 32, -2**31),
    (-2**31, -2**31, 31, 32, 2**31 - 1),                # (-1)·(-1) in Q0.31
    (3 << 16, 5 << 15, 16, 32, 491520),                 # 3 · 2.5 = 7.5 in Q15.16
])
def test_fixed_mul_cases(a, b_, n, bits, want):
    assert int(nx.fixed_mul(a, b_, n, bits)) == want


def test_fixed_mul_errors_and_conversions():
    with pytest.raises(ValueError, match=r"frac_bits = 32: must be in 0\.\.31 for 32-bit words"):
        nx.fixed_mul(1, 1, 32)
    with pytest.raises(ValueError, match=r"frac_bits = -1: must be in 0\.\.15 for 16-bit words"):
        nx.fixed_mul(1, 1, -1, 16)
    with pytest.raises(ValueError, match="bits = 40: fixed_mul supports words of at most 32 bits"):
        nx.fixed_mul(1, 1, 4, 40)
    q = nx.to_fixed([0.5, -0.5, 1.25, -1.25, 0.75, 1e9, -1e9], 1, 8)
    assert list(q) == [1, -1, 3, -2, 2, 127, -128]     # round half up, saturate
    x = np.array([-3.25, -1.0, 0.0, 0.123, 7.5])
    np.testing.assert_array_equal(nx.from_fixed(nx.to_fixed(x, 16), 16),
                                  np.floor(x * 65536 + 0.5) / 65536)


# --------------------------------------------------------------------------------------------
# exp2 and reciprocal
# --------------------------------------------------------------------------------------------

def test_tables():
    assert len(nx.EXP2_TABLE) == 2**nx.EXP2_SEGMENT_BITS + 1
    assert len(nx.RECIP_TABLE) == 2**nx.RECIP_SEGMENT_BITS + 1
    assert nx.EXP2_TABLE[0] == 2**23 and nx.EXP2_TABLE[-1] == 2**24
    assert nx.RECIP_TABLE[0] == 2**24 and nx.RECIP_TABLE[-1] == 2**23
    for k, t in enumerate(nx.EXP2_TABLE):
        exact = 2.0 ** (k / 128 + 23)
        assert abs(t - exact) <= 0.5
    for k, t in enumerate(nx.RECIP_TABLE):
        exact = Fraction(2**24) / (1 + Fraction(k, 256))
        assert abs(t - exact) <= Fraction(1, 2)
    assert all(x < y for x, y in zip(nx.EXP2_TABLE, nx.EXP2_TABLE[1:]))
    assert all(x > y for x, y in zip(nx.RECIP_TABLE, nx.RECIP_TABLE[1:]))
    assert nx.bits(nx.LOG2E) == enc32(Fraction(math.log2(math.e)))


def ref_exp2_bits(u: int) -> int:
    """The integer algorithm of the exp2 docstring, step by step, on exact rationals."""
    c = classify(u)
    if c[0] == "nan":
        return NAN
    if c[0] == "inf":
        return 0 if c[1] else INF
    x = value(u)
    if x >= 128:
        return INF
    if x < -126:
        return 0
    xf = math.floor(x * 2**23)
    i, f = xf >> 23, xf & (2**23 - 1)
    k, t = f >> 16, f & 0xFFFF
    T = nx.EXP2_TABLE
    m = T[k] + (((T[k + 1] - T[k]) * t) >> 16)
    assert 2**23 <= m < 2**24 and 1 <= i + 127 <= 254
    return ((i + 127) << 23) | (m - 2**23)


def ref_recip_bits(u: int) -> int:
    """The integer algorithm of the reciprocal docstring, step by step."""
    c = classify(u)
    s = c[1]
    if c[0] == "nan":
        return NAN
    if c[0] == "zero":
        return (s << 31) | INF
    if c[0] == "inf":
        return s << 31
    e, m = (u >> 23) & 0xFF, u & 0x7FFFFF
    k, t = m >> 15, m & 0x7FFF
    R = nx.RECIP_TABLE
    r = R[k] - (((R[k] - R[k + 1]) * t) >> 15)
    assert 2**23 < r <= 2**24
    if r == 2**24:
        assert m == 0
        ef, frac = 254 - e, 0
    else:
        ef, frac = 253 - e, r - 2**23
    if ef <= 0:
        return s << 31
    return (s << 31) | (ef << 23) | frac


def test_exp2_follows_documented_integer_algorithm(pairs):
    rng = np.random.default_rng(SEED + 5)
    xs = np.float32(np.concatenate([rng.uniform(-130, 130, 1500), rng.uniform(-1, 1, 500),
                                    rng.uniform(-1e-3, 1e-3, 200)]))
    ua = np.concatenate([nx.bits(xs), pairs[0]])
    got = b(nx.exp2(as_f32(ua)))
    assert got == [ref_exp2_bits(int(u)) for u in ua]


def test_reciprocal_follows_documented_integer_algorithm(pairs):
    ua = np.concatenate(pairs)
    got = b(nx.reciprocal(as_f32(ua)))
    assert got == [ref_recip_bits(int(u)) for u in ua]


def test_exp2_relative_error_bound():
    """Linear interpolation of 2**x on segments of 1/128: error <= h²·ln²2/8 ≈ 3.67e-6, plus table
    rounding, flooring of x to 2**-23 and truncation of the significand (each ~1e-7)."""
    rng = np.random.default_rng(SEED + 6)
    xs = np.float32(np.concatenate([
        rng.uniform(-126, 128, 200_000),
        rng.uniform(-1, 1, 100_000),
        rng.uniform(-2.0 ** -10, 2.0 ** -10, 20_000),
        np.arange(2**16) / 2**16 + 3.0,               # every table slope at fine resolution
    ]))
    y = nx.exp2(xs).astype(np.float64)
    ref = np.exp2(xs.astype(np.float64))
    rel = np.abs(y - ref) / ref
    print(f"exp2 max relative error {rel.max():.3e} at x = {xs[rel.argmax()]!r}")
    assert rel.max() < 4e-6
    assert np.all(np.isfinite(y))


def test_exp2_special_values():
    ints = np.arange(-126, 128, dtype=np.float32)
    np.testing.assert_array_equal(nx.exp2(ints), np.ldexp(np.float32(1), ints.astype(int)))
    cases = [
        (0.0, 1.0), (-0.0, 1.0), (128.0, np.inf), (127.99999, None), (1e30, np.inf),
        (np.inf, np.inf), (-np.inf, 0.0), (-126.0, 2.0 ** -126), (-126.00001, 0.0), (-1e30, 0.0),
        (0.5, None), (-125.99999, None),
    ]
    for x, want in cases:
        y = nx.exp2(np.float32(x))
        if want is None:
            assert np.isfinite(y) and y > 0
        else:
            assert nx.bits(y) == nx.bits(np.float32(want)), x
    assert nx.bits(nx.exp2(np.float32(np.nan))) == NAN
    assert nx.exp2(np.float32(1e-40)) == 1.0                # subnormal input reads as 0
    # tiny negative x: floor(x·2**23) = -1 → just below 1, never above
    assert nx.exp2(np.float32(-1e-30)) < 1.0
    assert nx.exp2(np.float32(1e-30)) == 1.0
    assert np.shape(nx.exp2(np.float32(1.0))) == ()
    assert nx.exp2(np.zeros((2, 3), np.float32)).shape == (2, 3)


def test_exp2_is_monotone_and_never_subnormal():
    rng = np.random.default_rng(SEED + 7)
    xs = np.sort(np.float32(np.concatenate([rng.uniform(-130, 130, 50_000),
                                            rng.uniform(-0.01, 0.01, 10_000)])))
    y = nx.exp2(xs)
    assert np.all(y[1:] >= y[:-1])
    u = nx.bits(y)
    zero_exp = ((u >> 23) & 0xFF) == 0
    assert np.all((u[zero_exp] & 0x7FFFFF) == 0)             # only exact zeros, no subnormals
    assert np.any(zero_exp) and np.any(np.isinf(y))


def test_reciprocal_relative_error_bound():
    """Linear interpolation of 1/(1+y) on segments of 1/256: error <= h²/4 ≈ 3.81e-6 relative, plus
    table rounding and truncation (~1e-7)."""
    m = np.arange(0, 2**23, 7, dtype=np.uint32)           # a dense sweep of every segment
    xs = nx.from_bits((np.uint32(127) << 23) | m)
    rng = np.random.default_rng(SEED + 8)
    rnd = nx.from_bits(rng.integers(0, 1 << 32, 300_000, dtype=np.uint64))
    rnd = nx.ftz(rnd)
    rnd = rnd[np.isfinite(rnd) & (rnd != 0)]
    xs = np.concatenate([xs, -xs[::5], rnd])
    y = nx.reciprocal(xs).astype(np.float64)
    ref = 1.0 / xs.astype(np.float64)
    normal = np.abs(ref) >= 2.0 ** -126
    rel = np.abs(y[normal] - ref[normal]) / np.abs(ref[normal])
    print(f"reciprocal max relative error {rel.max():.3e}")
    assert rel.max() < 4e-6
    # results that would be subnormal are flushed to a zero of the right sign
    assert np.all(y[~normal] == 0)
    assert np.all(np.signbit(y) == np.signbit(xs))


def test_reciprocal_special_values():
    k = np.arange(-126, 128)
    p = np.ldexp(np.float32(1), k).astype(np.float32)
    want = np.where(k <= 126, np.ldexp(np.float32(1), -k), 0.0).astype(np.float32)
    np.testing.assert_array_equal(nx.reciprocal(p), want)       # powers of two are exact
    np.testing.assert_array_equal(nx.reciprocal(-p), -want)
    assert nx.bits(nx.reciprocal(np.float32(2.0 ** 127))) == 0  # 2**-127 is subnormal → +0
    assert nx.bits(nx.reciprocal(np.float32(-2.0 ** 127))) == SIGN
    assert nx.bits(nx.reciprocal(np.float32(0.0))) == INF
    assert nx.bits(nx.reciprocal(np.float32(-0.0))) == SIGN | INF
    assert nx.bits(nx.reciprocal(np.float32(1e-40))) == INF       # subnormal reads as +0
    assert nx.bits(nx.reciprocal(np.float32(-1e-40))) == SIGN | INF
    assert nx.bits(nx.reciprocal(np.float32(np.inf))) == 0
    assert nx.bits(nx.reciprocal(np.float32(-np.inf))) == SIGN
    assert nx.bits(nx.reciprocal(np.float32(np.nan))) == NAN
    assert nx.bits(nx.reciprocal(bits_f32(0xFFFFFFFF))) == NAN
    assert nx.reciprocal(np.float32(np.finfo(np.float32).max)) == 0.0
    assert nx.reciprocal(np.float32(2.0 ** -126)) == np.float32(2.0 ** 126)
    assert np.shape(nx.reciprocal(np.float32(3.0))) == ()


# --------------------------------------------------------------------------------------------
# Twiddles and bit reversal
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 4, 6, 8, 12, 64, 1024, 4096])
@pytest.mark.parametrize("inverse", [False, True])
def test_twiddles(n, inverse):
    w = nx.twiddles(n, inverse=inverse)
    assert w.dtype == np.complex64 and w.shape == (n,)
    k = np.arange(n)
    sign = 1 if inverse else -1
    ref = np.exp(sign * 2j * np.pi * k / n)
    # each part is the float64 value rounded once to fp32: within half an ulp (<= 2**-25 on [-1, 1])
    assert np.max(np.abs(w.real - ref.real)) <= 2.0 ** -25
    assert np.max(np.abs(w.imag - ref.imag)) <= 2.0 ** -25
    assert w[0] == 1
    # exact at the quarter points
    for j, want in enumerate([1, sign * 1j, -1, -sign * 1j]):
        if (j * n) % 4 == 0:
            assert w[j * n // 4] == want
    # real and imaginary parts are fp32 values with FTZ (no subnormals)
    for part in (w.real, w.imag):
        np.testing.assert_array_equal(nx.bits(nx.ftz(part)), nx.bits(part))
    np.testing.assert_array_equal(nx.twiddles(n, inverse=not inverse), np.conj(w))


def test_twiddles_error():
    with pytest.raises(ValueError, match="twiddles: n = 0: must be >= 1"):
        nx.twiddles(0)


@pytest.mark.parametrize("n", [1, 2, 4, 8, 16, 256, 1024])
def test_bit_reverse_permutation(n):
    p = nx.bit_reverse_permutation(n)
    nb = n.bit_length() - 1
    want = [int(format(i, f"0{nb}b")[::-1], 2) if nb else 0 for i in range(n)]
    assert list(p) == want
    np.testing.assert_array_equal(p[p], np.arange(n))        # an involution


@pytest.mark.parametrize("n", [0, 3, 6, 12, -4])
def test_bit_reverse_permutation_errors(n):
    with pytest.raises(ValueError, match=rf"bit_reverse_permutation: n = {n}: must be a power of two"):
        nx.bit_reverse_permutation(n)
