"""The numerics contract: every number format the fabric computes with, defined once.

Both the RTL generators (``hw/arith.py`` and the units built on it) and the golden models
(``hw/golden``) import this module, so a format, a rounding rule or a lookup table exists exactly
once. The Python functions here are the *bit-exact reference semantics*; an RTL operator is correct
when it returns the same bits as the function named in its docstring for every input.

Formats and rules (docs/architecture.md §4):

integers
    Two's complement in ``bits`` bits. Every operator says whether it wraps (:func:`wrap`) or
    saturates (:func:`saturate`).

fixed point Qm.n
    A signed ``bits``-bit integer holding ``value · 2**n``. :func:`fixed_mul` forms the exact
    product, rescales it by ``2**-n`` with round-half-up (add ``2**(n-1)``, arithmetic shift right)
    and saturates to ``bits`` bits.

fp32
    IEEE-754 binary32, round-to-nearest-even, with flush-to-zero:

    * subnormal *inputs* are read as a zero of the same sign;
    * tininess is detected *before* rounding: a result whose exact magnitude is below ``2**-126``
      becomes a zero with the sign of the exact result (for additions the exact result of a tiny sum
      is always representable, so this only matters for products);
    * every NaN result is the canonical quiet NaN ``0x7FC00000``;
    * ``x + (-x)`` is ``+0``; ``-0 + -0`` is ``-0`` (so ``-0`` is the additive identity: accumulators
      and padding start from ``-0.0``);
    * ``max``/``min`` follow IEEE 754-2019 ``maximum``/``minimum``: NaN if either operand is NaN,
      ``max(+0, -0) = +0``, ``min(+0, -0) = -0``;
    * mul-add is *unfused*: ``a·b`` is rounded, then the sum is rounded. A bf16×bf16 product is exact
      in fp32, so for bf16 inputs fused and unfused are the same.

bf16
    The top 16 bits of an fp32; from fp32 by round-to-nearest-even (then flush-to-zero); to fp32 by
    appending 16 zero bits (then flush-to-zero).

casts
    int32 → fp32 rounds to nearest even; fp32 → int32 truncates toward zero and saturates, NaN → 0.

exp2 / reciprocal
    Piecewise-linear interpolation between entries of a table (:data:`EXP2_TABLE`,
    :data:`RECIP_TABLE`), computed entirely with integer operations that the RTL repeats step by step
    (see :func:`exp2` and :func:`reciprocal`).

All array functions accept numpy arrays (or scalars) and return numpy arrays; fp32 values travel as
``np.float32`` arrays (use :func:`bits` / :func:`from_bits` to see the encodings).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "WORD_BITS",
    "FP32_EXP_BITS", "FP32_MANT_BITS", "FP32_BIAS", "FP32_CANONICAL_NAN", "FP32_MIN_NORMAL",
    "BF16_CANONICAL_NAN",
    "wrap", "int_words", "saturate", "int_add", "int_sub", "int_mul", "int_shl", "int_shr",
    "fixed_mul", "to_fixed", "from_fixed",
    "bits", "from_bits", "ftz", "canonical_nan",
    "fp32", "fp32_words", "fp32_add", "fp32_sub", "fp32_mul", "fp32_muladd", "fp32_max", "fp32_min",
    "fp32_lt", "fp32_eq", "fp32_neg", "fp32_abs",
    "bf16_from_fp32", "fp32_from_bf16", "bf16_round",
    "fp32_from_int", "int_from_fp32",
    "EXP2_SEGMENT_BITS", "EXP2_FRAC_BITS", "EXP2_TABLE", "exp2",
    "RECIP_SEGMENT_BITS", "RECIP_TABLE", "reciprocal",
    "LOG2E", "twiddles", "bit_reverse_permutation",
]

WORD_BITS = 32

FP32_EXP_BITS = 8
FP32_MANT_BITS = 23
FP32_BIAS = 127
FP32_CANONICAL_NAN = 0x7FC00000
FP32_MIN_NORMAL = 2.0 ** -126
BF16_CANONICAL_NAN = 0x7FC0

_SIGN = np.uint32(0x80000000)
_EXP_MASK = np.uint32(0x7F800000)
_MANT_MASK = np.uint32(0x007FFFFF)


# --------------------------------------------------------------------------------------------
# Integers
# --------------------------------------------------------------------------------------------

def _check_bits(bits):
    if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 64:
        raise ValueError(f"bits = {bits!r}: must be an integer in 1..64")


def wrap(x, bits=32, signed=True):
    """Reduce integers modulo ``2**bits`` into the two's complement (or unsigned) range."""
    _check_bits(bits)
    x = np.asarray(x, dtype=np.int64)
    if bits == 64:
        return x if signed else x.astype(np.uint64)
    mask = np.int64((1 << bits) - 1)
    u = x & mask
    if signed:
        half = np.int64(1 << (bits - 1))
        u = np.where(u >= half, u - half - half, u)  # u - 2**bits without overflowing int64
    return u.astype(np.int64)


def int_words(x):
    """Integers → their 32-bit two's complement words as ``uint32`` (:func:`wrap` reads them
    back)."""
    return (np.asarray(x, np.int64) & 0xFFFFFFFF).astype(np.uint32)


def saturate(x, bits=32, signed=True):
    """Clamp integers to the representable range of a ``bits``-bit (signed) integer."""
    _check_bits(bits)
    lo, hi = ((-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1))
    return np.clip(np.asarray(x, dtype=np.int64), lo, hi).astype(np.int64)


def _int_result(x, bits, sat):
    return saturate(x, bits) if sat else wrap(x, bits)


def int_add(a, b, bits=32, sat=False):
    """``a + b`` in ``bits``-bit two's complement, wrapping (default) or saturating."""
    return _int_result(np.asarray(a, np.int64) + np.asarray(b, np.int64), bits, sat)


def int_sub(a, b, bits=32, sat=False):
    """``a - b`` in ``bits``-bit two's complement, wrapping (default) or saturating."""
    return _int_result(np.asarray(a, np.int64) - np.asarray(b, np.int64), bits, sat)


def int_mul(a, b, bits=32, sat=False):
    """Low ``bits`` bits of ``a · b`` (wrap) or the saturated product. Operands are ``bits``-bit
    signed integers, so the exact product fits in 64 bits for ``bits <= 32``."""
    if bits > 32:
        raise ValueError(f"bits = {bits}: int_mul supports operands of at most 32 bits")
    return _int_result(np.asarray(a, np.int64) * np.asarray(b, np.int64), bits, sat)


def int_shl(a, s, bits=32):
    """Logical shift left by ``s mod bits`` (wraps)."""
    s = np.asarray(s, np.int64) % bits
    return wrap(np.asarray(a, np.int64) << s, bits)


def int_shr(a, s, bits=32, arithmetic=True):
    """Shift right by ``s mod bits``: arithmetic (sign-filling, default) or logical."""
    s = np.asarray(s, np.int64) % bits
    a = np.asarray(a, np.int64)
    if arithmetic:
        return wrap(a >> s, bits)
    return wrap((a & np.int64((1 << bits) - 1)) >> s, bits)


# --------------------------------------------------------------------------------------------
# Fixed point
# --------------------------------------------------------------------------------------------

def fixed_mul(a, b, frac_bits, bits=32):
    """Qm.n multiply: ``saturate((a·b + 2**(n-1)) >> n)`` with ``n = frac_bits``.

    Round-half-up on the exact product (ties go towards +inf), arithmetic shift, then saturation to
    ``bits`` bits. ``frac_bits = 0`` is a saturating integer multiply.
    """
    if not 0 <= frac_bits < bits:
        raise ValueError(f"frac_bits = {frac_bits}: must be in 0..{bits - 1} for {bits}-bit words")
    if bits > 32:
        raise ValueError(f"bits = {bits}: fixed_mul supports words of at most 32 bits")
    p = np.asarray(a, np.int64) * np.asarray(b, np.int64)
    if frac_bits:
        p = (p + np.int64(1 << (frac_bits - 1))) >> np.int64(frac_bits)
    return saturate(p, bits)


def to_fixed(x, frac_bits, bits=32):
    """Real numbers → Qm.n integers (round-half-up, saturate)."""
    v = np.floor(np.asarray(x, np.float64) * (1 << frac_bits) + 0.5)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(v, lo, hi).astype(np.int64)


def from_fixed(q, frac_bits):
    """Qm.n integers → float64 values."""
    return np.asarray(q, np.float64) / (1 << frac_bits)


# --------------------------------------------------------------------------------------------
# fp32 helpers
# --------------------------------------------------------------------------------------------

def bits(x):
    """fp32 values → their ``uint32`` encodings."""
    return np.ascontiguousarray(np.asarray(x, np.float32)).view(np.uint32)


def from_bits(u):
    """``uint32`` encodings → fp32 values."""
    return np.ascontiguousarray(np.asarray(u, np.uint64).astype(np.uint32)).view(np.float32)


def fp32(x):
    """Any real values → fp32 by round-to-nearest-even, then flush-to-zero (the input rule)."""
    with np.errstate(over="ignore", invalid="ignore"):  # ±inf on overflow; NaN → canonical
        return ftz(np.asarray(x, np.float64).astype(np.float32))


def fp32_words(x):
    """Any real values → the ``uint32`` encodings of their fp32 values under the input rule
    (:func:`fp32`); :func:`from_bits` reads them back."""
    return bits(fp32(x))


def ftz(x):
    """Flush subnormals to a zero of the same sign; canonicalise NaNs."""
    u = bits(x).copy()
    sub = (u & _EXP_MASK) == 0
    u[sub] &= _SIGN
    nan = ((u & _EXP_MASK) == _EXP_MASK) & ((u & _MANT_MASK) != 0)
    u[nan] = FP32_CANONICAL_NAN
    return from_bits(u).reshape(np.shape(x))


def canonical_nan(x):
    """Replace every NaN by the canonical quiet NaN ``0x7FC00000``."""
    u = bits(x).copy()
    nan = ((u & _EXP_MASK) == _EXP_MASK) & ((u & _MANT_MASK) != 0)
    u[nan] = FP32_CANONICAL_NAN
    return from_bits(u).reshape(np.shape(x))


def _f32(x):
    with np.errstate(over="ignore", invalid="ignore"):  # ±inf on overflow; NaN → canonical
        return ftz(np.asarray(x, np.float32))


def _broadcast(*xs):
    return np.broadcast_arrays(*[np.atleast_1d(_f32(x)) for x in xs])


def _shape_like(out, *xs):
    shape = np.broadcast_shapes(*[np.shape(x) for x in xs])
    return out.reshape(shape)


def fp32_add(a, b):
    """IEEE binary32 addition, RNE, FTZ on inputs and result, canonical NaN.

    RTL: :class:`hw.arith.FPAdd`. A sum whose exact value is below ``2**-126`` in magnitude is
    always exactly representable as a subnormal, so rounding and flushing commute here.
    """
    a32, b32 = _broadcast(a, b)
    with np.errstate(all="ignore"):
        r = a32 + b32
    return _shape_like(ftz(r), a, b)


def fp32_sub(a, b):
    """``a - b`` = ``a + (-b)`` (sign flip of ``b`` is exact, also for zeros)."""
    return fp32_add(a, fp32_neg(b))


def fp32_mul(a, b):
    """IEEE binary32 multiplication, RNE, FTZ with tininess detected before rounding.

    The exact product of two fp32 values fits a float64 (24+24 < 53 significand bits), so it is
    formed exactly, flushed to a signed zero if its magnitude is below ``2**-126``, and otherwise
    rounded once to fp32 (overflow → ±inf). RTL: :class:`hw.arith.FPMul`.
    """
    a32, b32 = _broadcast(a, b)
    with np.errstate(all="ignore"):
        p = a32.astype(np.float64) * b32.astype(np.float64)
        tiny = np.abs(p) < FP32_MIN_NORMAL
        r = p.astype(np.float32)
    u = bits(r).copy()
    u[tiny] = (bits(a32)[tiny] ^ bits(b32)[tiny]) & _SIGN
    return _shape_like(canonical_nan(from_bits(u)), a, b)


def fp32_muladd(a, b, c):
    """Unfused ``a·b + c``: ``fp32_add(fp32_mul(a, b), c)``."""
    return fp32_add(fp32_mul(a, b), c)


def fp32_neg(a):
    """Sign flip (exact; NaN stays canonical)."""
    u = bits(_f32(a)).copy()
    nan = ((u & _EXP_MASK) == _EXP_MASK) & ((u & _MANT_MASK) != 0)
    u ^= _SIGN
    u[nan] = FP32_CANONICAL_NAN
    return from_bits(u).reshape(np.shape(a))


def fp32_abs(a):
    """Clear the sign bit (NaN stays canonical)."""
    u = bits(_f32(a)) & ~_SIGN
    return canonical_nan(from_bits(u)).reshape(np.shape(a))


def _is_nan(u):
    return ((u & _EXP_MASK) == _EXP_MASK) & ((u & _MANT_MASK) != 0)


def _total_key(u):
    # Monotone integer key for non-NaN fp32 encodings: -0 sorts just below +0.
    u = u.astype(np.int64)
    return np.where(u & 0x80000000, -(u & 0x7FFFFFFF) - 1, u)


def fp32_max(a, b):
    """IEEE 754-2019 ``maximum``: NaN if either is NaN; ``max(-0, +0) = +0``."""
    a32, b32 = _broadcast(a, b)
    ua, ub = bits(a32), bits(b32)
    r = np.where(_total_key(ua) >= _total_key(ub), ua, ub)
    r = np.where(_is_nan(ua) | _is_nan(ub), np.uint32(FP32_CANONICAL_NAN), r)
    return _shape_like(from_bits(r), a, b)


def fp32_min(a, b):
    """IEEE 754-2019 ``minimum``: NaN if either is NaN; ``min(-0, +0) = -0``."""
    a32, b32 = _broadcast(a, b)
    ua, ub = bits(a32), bits(b32)
    r = np.where(_total_key(ua) <= _total_key(ub), ua, ub)
    r = np.where(_is_nan(ua) | _is_nan(ub), np.uint32(FP32_CANONICAL_NAN), r)
    return _shape_like(from_bits(r), a, b)


def fp32_lt(a, b):
    """``a < b`` as IEEE compares (``-0 == +0``, NaN compares false). Returns 0/1 int64."""
    a32, b32 = _broadcast(a, b)
    return _shape_like((a32 < b32).astype(np.int64), a, b)


def fp32_eq(a, b):
    """``a == b`` as IEEE compares (``-0 == +0``, NaN compares false). Returns 0/1 int64."""
    a32, b32 = _broadcast(a, b)
    return _shape_like((a32 == b32).astype(np.int64), a, b)


# --------------------------------------------------------------------------------------------
# bf16 and casts
# --------------------------------------------------------------------------------------------

def bf16_from_fp32(x):
    """fp32 → bf16 encoding (``uint16``) by round-to-nearest-even, then flush-to-zero.

    Rounding is the integer rule ``(u + 0x7FFF + ((u >> 16) & 1)) >> 16`` on the fp32 encoding
    (it carries into the exponent, so large values round to ±inf). NaN → ``0x7FC0``.
    """
    u = bits(_f32(x)).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint32)
    r = np.where((r & 0x7F80) == 0, r & 0x8000, r)
    r = np.where(_is_nan(u.astype(np.uint32)), BF16_CANONICAL_NAN, r)
    return r.astype(np.uint16).reshape(np.shape(x))


def fp32_from_bf16(h):
    """bf16 encodings → fp32 values (exact; subnormal bf16 flushed to signed zero)."""
    u = np.asarray(h, np.uint32) << np.uint32(16)
    return ftz(from_bits(u)).reshape(np.shape(h))


def bf16_round(x):
    """Values → the nearest bf16 value, as fp32 (``fp32_from_bf16(bf16_from_fp32(x))``)."""
    return fp32_from_bf16(bf16_from_fp32(fp32(x)))


def fp32_from_int(i):
    """int32 → fp32, round-to-nearest-even (int32 is exact in float64: one rounding)."""
    return np.asarray(wrap(i, 32), np.float64).astype(np.float32).reshape(np.shape(i))


def int_from_fp32(x):
    """fp32 → int32: truncate toward zero, saturate to the int32 range, NaN → 0."""
    x32 = _f32(x).astype(np.float64)
    with np.errstate(invalid="ignore"):
        t = np.trunc(np.nan_to_num(x32, nan=0.0, posinf=2.0**40, neginf=-2.0**40))
    return saturate(np.clip(t, -2.0**40, 2.0**40).astype(np.int64), 32).reshape(np.shape(x))


# --------------------------------------------------------------------------------------------
# exp2 and reciprocal: table + linear interpolation, integer arithmetic only
# --------------------------------------------------------------------------------------------

#: Number of index bits for the exp2 table (``2**7 = 128`` segments over [0, 1)).
EXP2_SEGMENT_BITS = 7
#: Fraction bits of the fixed-point argument of exp2 (``x`` is floored to a multiple of ``2**-23``).
EXP2_FRAC_BITS = 23
#: ``EXP2_TABLE[k] = rint(2**(k/128) · 2**23)`` for ``k = 0..128``: significands in ``[2**23, 2**24]``.
EXP2_TABLE = tuple(int(v) for v in np.rint(np.exp2(np.arange(2**EXP2_SEGMENT_BITS + 1)
                                                      / 2**EXP2_SEGMENT_BITS) * 2.0**23))

#: Number of index bits for the reciprocal table (``2**8 = 256`` segments of the significand).
RECIP_SEGMENT_BITS = 8
#: ``RECIP_TABLE[k] = rint(2**24 / (1 + k/256))`` for ``k = 0..256``: values in ``[2**23, 2**24]``.
RECIP_TABLE = tuple(int(v) for v in np.rint(2.0**24 / (1.0 + np.arange(2**RECIP_SEGMENT_BITS + 1)
                                                       / 2**RECIP_SEGMENT_BITS)))

#: ``log2(e)`` rounded to fp32 (softmax computes ``exp(x) = exp2(x · LOG2E)``).
LOG2E = np.float32(math.log2(math.e))


def exp2(x):
    """``2**x`` for fp32 ``x``, by table + linear interpolation (RTL: :class:`hw.arith.FPExp2`).

    Integer algorithm (the RTL performs the same steps):

    1. NaN → NaN; ``x >= 128`` → +inf; ``x < -126`` → +0 (the result would be subnormal).
    2. ``xf = floor(x · 2**23)`` (exact from the encoding: a shift of the significand; fits 32 bits);
       ``i = xf >> 23`` (floor), ``f = xf & (2**23 - 1)``.
    3. ``k = f >> 16`` (7 index bits), ``t = f & 0xFFFF``;
       ``m = T[k] + (((T[k+1] - T[k]) · t) >> 16)``, a significand in ``[2**23, 2**24)``.
    4. Result encoding ``((i + 127) << 23) | (m - 2**23)``; the exponent is in 1..254.

    Relative error against ``2**x``: below ``4e-6`` (interpolation) — see the numerics tests.
    """
    u = bits(_f32(x)).astype(np.int64)
    sign = (u >> 31) & 1
    e = (u >> 23) & 0xFF
    mant = (u & 0x7FFFFF) | np.where(e == 0, 0, 1 << 23)
    # |x| = mant · 2**(e - 150); xf = floor(x · 2**23) = floor(±mant · 2**(e - 127)).
    sh = e - 127
    mag_fix = np.where(sh >= 0, mant << np.clip(sh, 0, 8), mant >> np.clip(-sh, 0, 63))
    exact = np.where(sh >= 0, True, (mant & ((np.int64(1) << np.clip(-sh, 0, 63)) - 1)) == 0)
    xf = np.where(sign == 1, -mag_fix - np.where(exact, 0, 1), mag_fix)
    i = xf >> EXP2_FRAC_BITS
    f = xf & ((1 << EXP2_FRAC_BITS) - 1)
    tb = EXP2_FRAC_BITS - EXP2_SEGMENT_BITS
    k = f >> tb
    t = f & ((1 << tb) - 1)
    table = np.asarray(EXP2_TABLE, np.int64)
    m = table[k] + (((table[k + 1] - table[k]) * t) >> tb)
    res = ((np.clip(i, -126, 127) + 127) << 23) | (m - (1 << 23))
    is_nan = (e == 255) & ((u & 0x7FFFFF) != 0)
    big = (sign == 0) & (e >= 134)  # x >= 128 = 2**7 (biased exponent 134)
    small = (sign == 1) & ((e > 133) | ((e == 133) & ((u & 0x7FFFFF) > (0x7C0000))))  # x < -126
    res = np.where(big, 0x7F800000, res)
    res = np.where(small, 0, res)
    res = np.where(is_nan, FP32_CANONICAL_NAN, res)
    return from_bits(res.astype(np.uint64)).reshape(np.shape(x))


def reciprocal(x):
    """``1/x`` for fp32 ``x``, by table + linear interpolation (RTL: :class:`hw.arith.FPRecip`).

    Integer algorithm (the RTL performs the same steps):

    1. NaN → NaN; ±0 → ±inf; ±inf → ±0.
    2. ``x = ±2**(e-127) · (1 + m/2**23)``; ``k = m >> 15`` (8 index bits), ``t = m & 0x7FFF``;
       ``r = R[k] - (((R[k] - R[k+1]) · t) >> 15)``, in ``(2**23, 2**24]``.
    3. ``r == 2**24`` (only when ``m == 0``): result exponent field ``254 - e``, significand 0;
       otherwise exponent field ``253 - e``, significand ``r - 2**23``.
    4. An exponent field ``<= 0`` flushes to a signed zero.

    Relative error against ``1/x``: below ``4e-6`` — see the numerics tests.
    """
    u = bits(_f32(x)).astype(np.int64)
    sign = (u >> 31) & 1
    e = (u >> 23) & 0xFF
    m = u & 0x7FFFFF
    tb = FP32_MANT_BITS - RECIP_SEGMENT_BITS
    k = m >> tb
    t = m & ((1 << tb) - 1)
    table = np.asarray(RECIP_TABLE, np.int64)
    r = table[k] - (((table[k] - table[np.minimum(k + 1, len(table) - 1)]) * t) >> tb)
    exact = r == (1 << 24)
    re = np.where(exact, 254 - e, 253 - e)
    rm = np.where(exact, 0, r - (1 << 23))
    res = (sign << 31) | (np.clip(re, 0, 255) << 23) | rm
    res = np.where(re <= 0, sign << 31, res)
    res = np.where(e == 0, (sign << 31) | 0x7F800000, res)        # ±0 → ±inf
    res = np.where((e == 255) & (m == 0), sign << 31, res)         # ±inf → ±0
    res = np.where((e == 255) & (m != 0), FP32_CANONICAL_NAN, res)  # NaN
    return from_bits(res.astype(np.uint64)).reshape(np.shape(x))


# --------------------------------------------------------------------------------------------
# FFT constants
# --------------------------------------------------------------------------------------------

def twiddles(n, inverse=False):
    """Twiddle factors ``W_n^k = exp(∓2πik/n)`` for ``k = 0..n-1`` as complex64.

    Computed in float64 and rounded once to fp32 (RNE). The RTL loads this table into a PMU; the
    golden FFT reads the same values.
    """
    if n < 1:
        raise ValueError(f"twiddles: n = {n}: must be >= 1")
    k = np.arange(n, dtype=np.float64)
    ang = 2.0 * np.pi * k / n
    sign = 1.0 if inverse else -1.0
    re = fp32(np.cos(ang))
    im = fp32(sign * np.sin(ang))
    # sin(pi) etc. are tiny non-zeros in float64; fp32 FTZ maps them to ±0 only if subnormal, so
    # snap exact-by-symmetry points to exact values for reproducibility across libms.
    q = (4 * np.arange(n)) % n == 0
    quarter = (4 * np.arange(n)) // n
    exact_re = np.array([1.0, 0.0, -1.0, 0.0], np.float32)[quarter % 4]
    exact_im = sign * np.array([0.0, 1.0, 0.0, -1.0], np.float32)[quarter % 4]
    re = np.where(q, exact_re, re).astype(np.float32)
    im = np.where(q, exact_im, im).astype(np.float32)
    return (re + 1j * im).astype(np.complex64)


def bit_reverse_permutation(n):
    """Indices ``p`` with ``p[i] = bitreverse(i)`` over ``log2(n)`` bits (``n`` a power of two)."""
    if n < 1 or n & (n - 1):
        raise ValueError(f"bit_reverse_permutation: n = {n}: must be a power of two")
    nb = n.bit_length() - 1
    idx = np.arange(n)
    rev = np.zeros(n, dtype=np.int64)
    for b in range(nb):
        rev |= ((idx >> b) & 1) << (nb - 1 - b)
    return rev
