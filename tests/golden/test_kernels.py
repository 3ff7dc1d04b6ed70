"""Golden kernels (``hw/golden/kernels.py``) against independent references.

Two kinds of checks:

* **exactness / structure** — integer kernels against Python integer arithmetic; fp32 kernels against
  independent bit-exact formulations where one exists (numpy float32 loops, plain sequential loops
  with :mod:`hw.numerics` operators);
* **accuracy** — every fp32 kernel against a float64 mathematical reference
  (:mod:`hw.golden.reference`, ``np.fft``, direct convolution, sequential loops), computed on the
  *same* fp32 (or bf16-rounded) inputs, with an error bound derived from the kernel's arithmetic
  (standard forward error analysis, u = 2**-24) rather than from what happens to pass. Each accuracy
  test prints the golden model's error (``pytest -s`` to see it).
"""

from __future__ import annotations

import math
import os
import zlib

import numpy as np
import pytest

from hw import golden as g
from hw import numerics as nx
from hw.golden import reference as ref
from hw.util import log2_exact

#: Random seed: ``RDU_SEED`` if set (as for the simulation tests), else a fixed default.
SEED = int(os.environ.get("RDU_SEED") or "424242", 0)
U = 2.0 ** -24                  # unit roundoff of fp32 (round to nearest)
E_EXP2 = 4e-6                   # exp2 table bound (tests/hw/test_numerics.py)
E_RECIP = 4e-6                  # reciprocal table bound (tests/hw/test_numerics.py)


def gamma(n):
    """Higham's gamma_n = n·u / (1 - n·u): the bound on the relative error of n roundings."""
    return n * U / (1 - n * U)


def report(name, x, r, bound):
    """Print the golden model's error against the float64 reference and check it against the
    normwise ceiling implied by ``bound`` (a bound on |x - r|, elementwise or per row):
    ``max_rel = max|x - r| / max|r| <= max(bound) / max|r|``."""
    rep = g.error_report(x, r)
    ceiling = float(np.max(bound)) / float(np.max(np.abs(r)))
    print(f"\n[golden vs float64] {name}: {rep}  (bound: max_rel <= {ceiling:.3g})")
    assert rep.max_rel <= ceiling
    return rep


def rng_for(*key):
    """A generator per test case, reproducible from SEED (``RDU_SEED=... pytest`` replays)."""
    return np.random.default_rng([SEED, zlib.crc32(repr(key).encode())])


def test_print_seed():
    print(f"\ngolden kernel tests: RDU_SEED={SEED}")


def same_bits(x, y):
    np.testing.assert_array_equal(nx.bits(x), nx.bits(y))


def py_wrap32(v):
    return (v + 2**31) % 2**32 - 2**31


# ============================================================================================
# GEMM
# ============================================================================================

def test_gemm_int16_wraps_exactly_like_python_ints():
    rng = rng_for("gemm-int16")
    m, k, n = 7, 13, 9
    a = rng.integers(-32768, 32768, (m, k))
    b = rng.integers(-32768, 32768, (k, n))
    a[0, :] = -32768                       # extremes: (-32768)**2 = 2**30, 13 of them wrap
    b[:, 0] = -32768
    a[1, :] = 32767
    b[:, 1] = 32767
    c = g.gemm(a.astype(np.int16), b.astype(np.int16), dtype="int16")
    assert c.dtype == np.int64 and c.shape == (m, n)
    exact = [[sum(int(a[i, t]) * int(b[t, j]) for t in range(k)) for j in range(n)]
             for i in range(m)]
    want = [[py_wrap32(v) for v in row] for row in exact]
    assert c.tolist() == want
    wrapped = sum(v != py_wrap32(v) for row in exact for v in row)
    assert wrapped >= 3, "the test must actually exercise int32 wrap-around"
    assert c[0, 0] == py_wrap32(13 * 2**30)
    # any integer dtype is accepted if the values fit int16
    np.testing.assert_array_equal(g.gemm(a, b, dtype="int16"), c)


@pytest.mark.parametrize("dtype", ["bf16", "fp32"])
def test_gemm_float_accuracy_and_bit_exact_order(dtype):
    rng = rng_for("gemm", dtype)
    m, k, n = 12, 96, 10
    a = rng.standard_normal((m, k)) * 10.0 ** rng.integers(-3, 4, (m, 1))
    b = rng.standard_normal((k, n)) * 10.0 ** rng.integers(-3, 4, (1, n))
    c = g.gemm(a, b, dtype=dtype)
    assert c.dtype == np.float32 and c.shape == (m, n)
    ai, bi = ((nx.bf16_round(a), nx.bf16_round(b)) if dtype == "bf16" else (nx.fp32(a), nx.fp32(b)))
    if dtype == "bf16":
        assert np.all(nx.bits(ai) & 0xFFFF == 0)
    # independent bit-exact formulation: numpy float32, products then sequential sums from -0.0
    # (no subnormals arise at these magnitudes, so numpy's IEEE arithmetic equals FTZ here)
    cn = np.full((m, n), -0.0, np.float32)
    for t in range(k):
        cn = cn + ai[:, t, None] * bi[None, t, :]
    same_bits(c, cn)
    # accuracy: exact products (bf16) or one rounding each (fp32), K sequential additions
    r = ref.gemm(ai, bi)
    absr = ref.gemm(np.abs(ai), np.abs(bi))
    rounds = k - 1 if dtype == "bf16" else k
    bound = gamma(rounds) * absr
    err = np.abs(c.astype(np.float64) - r)
    assert np.all(err <= bound), f"max err/bound = {np.max(err / bound)}"
    report(f"gemm {dtype} {m}x{k}x{n}", c, r, bound)


def test_gemm_bf16_inputs_are_rounded_and_products_exact():
    x = np.array([[1.0 + 2.0 ** -9, 3.0]])          # 1 + 2**-9 rounds to 1.0 in bf16 (tie→even)
    y = np.array([[1.0], [1.0 + 2.0 ** -7]])        # 1 + 2**-7 is a bf16 value
    c = g.gemm(x, y, dtype="bf16")
    # 1·1 + 3·(1 + 2**-7) = 4 + 3·2**-7, exact in fp32 (no rounding anywhere)
    assert c[0, 0] == np.float32(4.0 + 3 * 2.0 ** -7)
    assert g.gemm(x, y, dtype="fp32")[0, 0] != c[0, 0]


def test_gemm_extremes_signed_zeros_and_overflow():
    nz = -0.0
    # -0 accumulator: all-(-0) products stay -0; a +0 product makes +0
    c = g.gemm(np.array([[nz, 1.0], [0.0, 0.0]]), np.array([[1.0], [nz]]), dtype="fp32")
    assert nx.bits(c[0, 0]) == 0x80000000 and nx.bits(c[1, 0]) == 0
    # K = 0: the identity
    c = g.gemm(np.zeros((2, 0)), np.zeros((0, 3)), dtype="bf16")
    assert c.shape == (2, 3) and np.all(c == 0)
    # overflow to inf, inf - inf = NaN (canonical)
    big = 3e38
    c = g.gemm(np.array([[big, big], [big, -big]]), np.array([[2.0], [2.0]]), dtype="fp32")
    assert c[0, 0] == np.inf and nx.bits(c[1, 0]) == nx.FP32_CANONICAL_NAN
    # subnormal inputs are flushed
    c = g.gemm(np.array([[1e-40]]), np.array([[1e30]]), dtype="fp32")
    assert c[0, 0] == 0.0
    # bf16 rounding of a huge value overflows to inf
    assert g.gemm(np.array([[3.4e38]]), np.array([[1.0]]), dtype="bf16")[0, 0] == np.inf


@pytest.mark.parametrize("a, b, dtype, message", [
    (np.ones((2, 3)), np.ones((3, 2)), "int8",
     "gemm: dtype = 'int8': must be one of int16, bf16, fp32"),
    (np.ones(3), np.ones((3, 2)), "bf16", "gemm: a: expected a 2-d array, got shape (3,)"),
    (np.ones((2, 3)), np.ones((3, 2, 1)), "fp32", "gemm: b: expected a 2-d array, got shape (3, 2, 1)"),
    (np.ones((2, 3)), np.ones((2, 3)), "fp32", "gemm: inner dimensions differ: a is (2, 3), b is (2, 3)"),
    (np.ones((2, 3)), np.ones((3, 2), int), "int16",
     "gemm: a has dtype float64; int16 gemm takes integer arrays"),
    (np.ones((2, 3), int), np.full((3, 2), 32768), "int16",
     "gemm: b has values outside int16 [-32768, 32767]"),
    (np.full((2, 3), -32769), np.ones((3, 2), int), "int16",
     "gemm: a has values outside int16 [-32768, 32767]"),
    (np.ones((2, 3)) + 1j, np.ones((3, 2)), "fp32",
     "gemm: a: dtype complex128 is not supported; expected a real (integer or floating-point) array"),
    (np.ones((2, 3)), np.array([["x", "y"]] * 3), "bf16",
     "gemm: b: dtype <U1 is not supported; expected a real (integer or floating-point) array"),
])
def test_gemm_errors(a, b, dtype, message):
    with pytest.raises(ValueError) as e:
        g.gemm(a, b, dtype=dtype)
    assert str(e.value) == message


# ============================================================================================
# dot
# ============================================================================================

@pytest.mark.parametrize("lanes", [1, 4, 16])
@pytest.mark.parametrize("n", [1, 7, 64, 333])
def test_dot_fp32_accuracy(lanes, n):
    rng = rng_for("dot", lanes, n)
    a = nx.fp32(rng.standard_normal((5, n)) * 10.0 ** rng.integers(-4, 5, (5, n)))
    b = nx.fp32(rng.standard_normal((5, n)))
    d = g.dot(a, b, lanes)
    assert d.shape == (5,) and d.dtype == np.float32
    groups = -(-n // lanes)
    # each product is rounded once, then passes log2(lanes) tree levels and `groups` accumulator
    # additions (the first of which adds -0.0, exact)
    bound = gamma(1 + log2_exact(lanes) + groups) * ref.dot(np.abs(a), np.abs(b))
    err = np.abs(d - ref.dot(a, b))
    assert np.all(err <= bound)
    if lanes == 1:
        # sequential order = the GEMM order
        same_bits(d, g.gemm(a, b.T, dtype="fp32").diagonal())
    if n == 333:
        report(f"dot lanes={lanes} n={n}", d, ref.dot(a, b), bound)


def test_dot_int32_wraps_and_errors():
    rng = rng_for("dot-int")
    a = rng.integers(-2**31, 2**31, (3, 20))
    b = rng.integers(-2**31, 2**31, (3, 20))
    for lanes in (1, 4, 32):
        d = g.dot(a, b, lanes, dtype="int32")
        want = [py_wrap32(sum(py_wrap32(int(x) * int(y)) for x, y in zip(r, s)))
                for r, s in zip(a, b)]
        assert d.tolist() == want
    with pytest.raises(ValueError, match=r"^dot: last axes differ: \(3,\) vs \(4,\)$"):
        g.dot(np.ones(3), np.ones(4), 4)
    with pytest.raises(ValueError, match=r"^dtype = 'bf16': must be one of 'fp32', 'int32'$"):
        g.dot(np.ones(3), np.ones(3), 4, dtype="bf16")
    with pytest.raises(ValueError, match=r"^lanes = 6: must be a power of two in 1\.\.64"):
        g.dot(np.ones(3), np.ones(3), 6)


# ============================================================================================
# softmax
# ============================================================================================

def softmax_bound(x, lanes):
    """Per-element absolute error bound of :func:`hw.golden.softmax` (x already fp32).

    p_i = exp2(fl(fl(x_i - m)·LOG2E)): the argument carries a relative error <= 3u (subtraction,
    LOG2E itself, product) plus the 2**-23 flooring inside exp2, so p_i is within
    E_EXP2 + ln2·(3u·|x_i - m|·log2e + 2**-23) of 2**((x_i-m)·log2 e) relatively. The sum s adds the
    p_j's relative errors (weighted by the softmax) and gamma(depth) for the reduction; reciprocal
    E_RECIP; final product u. Elements whose exact value is below 2**-126·2 may be flushed to 0.
    """
    x = x.astype(np.float64)
    n = x.shape[-1]
    m = x.max(axis=-1, keepdims=True)
    w = ref.softmax(x)
    dist = np.abs(x - m)
    eps_p = E_EXP2 + 3 * U * dist + math.log(2) * 2.0 ** -23
    eps_s = np.sum(w * eps_p, axis=-1, keepdims=True) + gamma(log2_exact(lanes) + -(-n // lanes))
    rel = (eps_p + eps_s + E_RECIP + U) * 1.001
    return w * rel + 2.0 ** -125


@pytest.mark.parametrize("lanes", [1, 8, 64])
@pytest.mark.parametrize("shape, scale", [((6, 100), 5.0), ((3, 17), 1.0), ((2, 1000), 30.0),
                                          ((4, 64), 1e4)])
def test_softmax_accuracy(lanes, shape, scale):
    rng = rng_for("softmax", lanes, shape, scale)
    x = nx.fp32(rng.standard_normal(shape) * scale)
    y = g.softmax(x, lanes)
    assert y.dtype == np.float32 and y.shape == shape
    r = ref.softmax(x)
    err = np.abs(y - r)
    bound = softmax_bound(x, lanes)
    assert np.all(err <= bound), f"max err/bound = {np.max(err / bound)}"
    rep = report(f"softmax lanes={lanes} shape={shape} scale={scale}", y, r, bound)
    # normwise: an entry at distance t = m - x from the max has weight <= e**-t·w_max, so its larger
    # argument error (3u·t) contributes at most 3u·w_max/e; what remains is
    # max_rel <= 2·E_EXP2 + E_RECIP + 3u·(D + 1/e) + gamma(depth) + ... (1.2e-5 + gamma(depth)), D the
    # softmax-weighted mean distance from the max
    x64 = x.astype(np.float64)
    dbar = np.max(np.sum(r * (x64.max(axis=-1, keepdims=True) - x64), axis=-1))
    depth = log2_exact(lanes) + -(-shape[-1] // lanes)
    ceiling = (2 * E_EXP2 + E_RECIP + 3 * U * (dbar + 1 / math.e) + gamma(depth)
               + 2 * math.log(2) * 2.0 ** -23 + U) * 1.01
    assert rep.max_rel <= ceiling
    assert np.all(np.abs(np.sum(y, axis=-1, dtype=np.float64) - 1) < 2e-5 + shape[-1] * U)


def test_softmax_special_rows():
    # uniform rows: p = exp2(0) = 1, s = n; exact when n is a power of two
    np.testing.assert_array_equal(g.softmax(np.full((2, 8), 3.5), 4), np.full((2, 8), 0.125))
    assert g.softmax(np.array([7.0]), 4)[0] == 1.0
    # signed zeros are equal inputs
    same_bits(g.softmax(np.array([-0.0, 0.0, -0.0, 0.0]), 2), np.full(4, 0.25, np.float32))
    # huge spreads: the small entries underflow to exactly 0, the max gets (almost) all the mass
    y = g.softmax(np.array([-1e30, 0.0, 1e30, -3e38]), 4)
    assert y[0] == 0 and y[1] == 0 and y[3] == 0 and abs(y[2] - 1) < 1e-5
    # inf / NaN propagate as IEEE arithmetic says
    assert np.all(np.isnan(g.softmax(np.array([1.0, np.nan, 2.0]), 2)))
    assert np.all(np.isnan(g.softmax(np.array([1.0, np.inf]), 2))[1:])
    # shift invariance is exact when the shift keeps every x - m exact
    x = np.array([[1.0, 2.0, 3.5, -4.0]])
    np.testing.assert_array_equal(g.softmax(x, 4), g.softmax(x + 1024.0, 4))


def test_softmax_errors():
    with pytest.raises(ValueError, match=r"^softmax: x must have a non-empty last axis, got shape \(0,\)$"):
        g.softmax(np.zeros(0), 4)
    with pytest.raises(ValueError, match=r"^softmax: x must have a non-empty last axis, got shape \(\)$"):
        g.softmax(1.0, 4)
    with pytest.raises(ValueError, match=r"^lanes = 12: must be a power of two"):
        g.softmax(np.ones(4), 12)


# ============================================================================================
# Scaled dot-product attention
# ============================================================================================

def sdpa_bound(q, k, v, form):
    """Per-element absolute error bound of sdpa_naive / sdpa_streaming (inputs already fp32).

    Scores: GEMM order, |Δs| <= gamma(d)·Σ|q||k|; scaled by the fp32 constant log2(e)/√d (2u:
    constant + product), so the base-2 exponent of weight j carries an absolute error
    A_j <= (Δs_j + 2u|s_j|)·log2e/√d + u·|s2_j - m| + 2**-23 (the subtraction, exp2's flooring).
    Weight relative error δ_j <= ln2·A_j + E_EXP2. The streaming form multiplies what it holds by
    c = exp2(m - m_new) at each of the U running-max updates; each c has its own exp2 error and
    the two products l·c, o·c are rounded separately: + U·(E_EXP2 + ln2·(u·J + 2**-23) + 2u),
    J the largest jump of the running max. Normalisation doubles the weight error; l and o add
    gamma(N) / gamma(N+1) (sequential; twice that for streaming's mul-add); reciprocal E_RECIP;
    final product u.
    """
    q64, k64, v64 = (x.astype(np.float64) for x in (q, k, v))
    d = q.shape[1]
    n = k.shape[0]
    s = q64 @ k64.T
    ds = gamma(d) * (np.abs(q64) @ np.abs(k64).T)
    c = math.log2(math.e) / math.sqrt(d)
    s2 = s * c
    m = s2.max(axis=1, keepdims=True)
    a = (ds + 2 * U * np.abs(s)) * c + U * np.abs(s2 - m) + 2.0 ** -23
    delta = (math.log(2) * a + E_EXP2).max(axis=1, keepdims=True)
    acc = gamma(n + 1)
    if form == "streaming":
        run = np.maximum.accumulate(s2, axis=1)
        jumps = np.diff(run, axis=1)
        updates = np.sum(jumps > 0, axis=1, keepdims=True)
        biggest = jumps.max(axis=1, keepdims=True, initial=0.0)
        delta = delta + updates * (E_EXP2 + math.log(2) * (U * biggest + 2.0 ** -23) + 2 * U)
        acc = gamma(2 * n + 1)
    w = ref.softmax(s / math.sqrt(d))
    scale = w @ np.abs(v64)
    return (2 * delta + 2 * acc + E_RECIP + U) * 1.01 * scale + 2.0 ** -120


def attention_inputs(rng, nq, nk, d, dv, qscale=1.0):
    q = nx.fp32(rng.standard_normal((nq, d)) * qscale)
    k = nx.fp32(rng.standard_normal((nk, d)))
    v = nx.fp32(rng.standard_normal((nk, dv)))
    return q, k, v


@pytest.mark.parametrize("nq, nk, d, dv, qscale", [
    (8, 40, 16, 8, 1.0), (5, 100, 64, 4, 1.0), (3, 17, 8, 5, 4.0), (4, 64, 32, 16, 0.01),
])
def test_sdpa_naive_and_streaming_accuracy(nq, nk, d, dv, qscale):
    rng = rng_for("sdpa", nq, nk, d)
    q, k, v = attention_inputs(rng, nq, nk, d, dv, qscale)
    r = ref.sdpa(q, k, v)
    outs = {}
    for form, fn in (("naive", g.sdpa_naive), ("streaming", g.sdpa_streaming)):
        o = fn(q, k, v)
        assert o.shape == (nq, dv) and o.dtype == np.float32
        err = np.abs(o - r)
        bound = sdpa_bound(q, k, v, form)
        assert np.all(err <= bound), f"{form}: max err/bound = {np.max(err / bound)}"
        report(f"sdpa_{form} q{nq} k{nk} d{d} dv{dv} qscale={qscale}", o, r, bound)
        outs[form] = o
    # same mathematics, different evaluation orders: both within their bounds, and they agree
    # bit for bit exactly when no running-max update happened (then every step is the same)
    np.testing.assert_allclose(outs["naive"], outs["streaming"], rtol=0,
                               atol=2 * np.max(sdpa_bound(q, k, v, "streaming")))


def test_sdpa_streaming_worst_case_rescaling_is_bounded():
    """Scores that increase with every key: the running max is updated N-1 times."""
    n, d = 64, 16
    rng = rng_for("sdpa-monotone")
    q = nx.fp32(np.ones((2, d)) / math.sqrt(d))
    base = rng.standard_normal((1, d))
    k = nx.fp32(np.linspace(-8, 8, n)[:, None] * np.ones((1, d)) / math.sqrt(d) + 1e-3 * base)
    v = nx.fp32(rng.standard_normal((n, 3)))
    r = ref.sdpa(q, k, v)
    errs, outs = {}, {}
    for form, fn in (("naive", g.sdpa_naive), ("streaming", g.sdpa_streaming)):
        o = fn(q, k, v)
        err = np.abs(o - r)
        bound = sdpa_bound(q, k, v, form)
        assert np.all(err <= bound)
        errs[form] = report(f"sdpa_{form} monotone scores n={n}", o, r, bound).max_rel
        outs[form] = o
    # exp2's interpolation error is one-sided (the chord lies above the convex 2**x), so the
    # N-1 rescalings drift in one direction instead of averaging out: up to ~(N-1)·E_EXP2 between
    # the first and the last key's weight. Still bounded, and far below bf16 resolution (2**-8).
    assert errs["naive"] < 1e-4
    assert errs["streaming"] < 2 * (n - 1) * E_EXP2
    # the two forms are different evaluation orders: here their bits differ
    assert np.mean(nx.bits(outs["naive"]) != nx.bits(outs["streaming"])) > 0.5


def test_sdpa_special_cases():
    rng = rng_for("sdpa-special")
    q, k, v = attention_inputs(rng, 3, 1, 8, 4)
    # one key: the weight is exactly 1, the output is v exactly
    for fn in (g.sdpa_naive, g.sdpa_streaming):
        np.testing.assert_array_equal(fn(q, k, v), np.repeat(v, 3, axis=0))
    # zero queries: uniform weights; 8 keys → exact average (power-of-two count)
    q0 = np.zeros((2, 8), np.float32)
    _, k8, v8 = attention_inputs(rng, 2, 8, 8, 4)
    v8 = nx.fp32(np.round(v8 * 64) / 64)           # short significands: sums are exact
    want = np.sum(v8.astype(np.float64), axis=0) / 8
    for fn in (g.sdpa_naive, g.sdpa_streaming):
        np.testing.assert_array_equal(fn(q0, k8, v8), np.tile(want.astype(np.float32), (2, 1)))
    # large magnitudes: nearly one-hot attention stays finite and accurate
    q, k, v = attention_inputs(rng, 4, 32, 16, 4, qscale=50.0)
    r = ref.sdpa(q, k, v)
    for form, fn in (("naive", g.sdpa_naive), ("streaming", g.sdpa_streaming)):
        o = fn(q, k, v)
        assert np.all(np.isfinite(o))
        assert np.all(np.abs(o - r) <= sdpa_bound(q, k, v, form))


@pytest.mark.parametrize("fn", [g.sdpa_naive, g.sdpa_streaming])
def test_sdpa_errors(fn):
    with pytest.raises(ValueError, match=r"^sdpa: q and k head dims differ: \(2, 3\) vs \(4, 2\)$"):
        fn(np.ones((2, 3)), np.ones((4, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"^sdpa: k and v lengths differ: \(4, 3\) vs \(5, 2\)$"):
        fn(np.ones((2, 3)), np.ones((4, 3)), np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"^sdpa: k and v must have at least one row$"):
        fn(np.ones((2, 3)), np.ones((0, 3)), np.ones((0, 2)))
    with pytest.raises(ValueError, match=r"^sdpa: q: expected a 2-d array, got shape \(3,\)$"):
        fn(np.ones(3), np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"^sdpa: v: dtype complex128 is not supported"):
        fn(np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 2)) * 1j)


def test_attention_scale():
    for d in (1, 2, 16, 64, 100):
        assert g.attention_scale(d) == np.float32(math.log2(math.e) / math.sqrt(d))


# ============================================================================================
# FFT
# ============================================================================================

def fft_eta():
    """Per-stage error of a radix-2 FFT (Higham, Accuracy and Stability, Thm 24.2):
    eta = mu + gamma_4·(√2 + mu), mu the twiddle error (each part within half an ulp: √2·2**-25)."""
    mu = math.sqrt(2) * 2.0 ** -25
    return mu + gamma(4) * (math.sqrt(2) + mu)


def fft_bound(stages):
    """||computed - exact||_2 / ||exact||_2 after ``stages`` butterfly (or twiddle) stages."""
    return stages * fft_eta() / (1 - stages * fft_eta())


def l2_rel(x, r):
    return np.linalg.norm(x - r, axis=-1) / np.linalg.norm(r, axis=-1)


def complex_inputs(rng, shape, scale=1.0):
    x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    x = x * scale
    return nx.fp32(x.real) + 1j * nx.fp32(x.imag)


@pytest.mark.parametrize("n", [2, 4, 8, 64, 1024, 4096])
def test_fft_accuracy(n):
    rng = rng_for("fft", n)
    x = complex_inputs(rng, (3, n), scale=10.0 ** rng.integers(-5, 6))
    y = g.fft(x)
    assert y.dtype == np.complex64 and y.shape == (3, n)
    r = np.fft.fft(x, axis=-1)
    bound = fft_bound(log2_exact(n))
    rel = l2_rel(y.astype(np.complex128), r)
    assert np.all(rel <= bound), (rel, bound)
    report(f"fft N={n}", y, r, bound * np.linalg.norm(r, axis=-1))
    # ifft: the same per-stage bound (the 1/N scale is exact)
    xi = g.ifft(x)
    ri = np.fft.ifft(x, axis=-1)
    assert np.all(l2_rel(xi.astype(np.complex128), ri) <= bound)
    report(f"ifft N={n}", xi, ri, bound * np.linalg.norm(ri, axis=-1))
    # round trip
    back = g.ifft(y)
    assert np.all(l2_rel(back.astype(np.complex128), x) <= 2.1 * bound)


def test_fft_real_input_orders_and_exact_cases():
    rng = rng_for("fft-misc")
    x = nx.fp32(rng.standard_normal((2, 32)))
    y = g.fft(x)
    np.testing.assert_array_equal(g.fft(x, order="bitrev"), y[..., nx.bit_reverse_permutation(32)])
    assert np.all(l2_rel(y.astype(np.complex128), np.fft.fft(x)) <= fft_bound(5))
    # the hardware's bit-reversed order feeds the inverse directly
    np.testing.assert_array_equal(g.ifft(g.fft(x, order="bitrev"), order="bitrev"), g.ifft(y))
    # a unit impulse transforms to all ones exactly; a constant to N·δ exactly
    delta = np.zeros(16)
    delta[0] = 1
    np.testing.assert_array_equal(g.fft(delta), np.ones(16, np.complex64))
    np.testing.assert_array_equal(g.fft(np.ones(16)), np.eye(1, 16, 0)[0] * 16)
    # batch dimensions
    assert g.fft(np.zeros((2, 3, 8))).shape == (2, 3, 8)


@pytest.mark.parametrize("n", [0, 1, 3, 12, 100, 1000])
def test_fft_rejects_lengths_that_are_not_powers_of_two(n):
    msg = rf"N = {n} is not a power of two in 2\.\.16777216; the radix-2 FFT needs N = 2\*\*k"
    with pytest.raises(ValueError, match=rf"^fft: {msg}$"):
        g.fft(np.ones(n))
    with pytest.raises(ValueError, match=rf"^ifft: {msg}$"):
        g.ifft(np.ones(n))
    with pytest.raises(ValueError, match=rf"^fft_four_step: {msg}$"):
        g.fft_four_step(np.ones(n), 2)


def test_fft_order_errors():
    with pytest.raises(ValueError, match=r"^fft: order = 'reversed': must be 'natural' or 'bitrev'$"):
        g.fft(np.ones(4), order="reversed")
    with pytest.raises(ValueError, match=r"^ifft: order = 'x': must be 'natural' or 'bitrev'$"):
        g.ifft(np.ones(4), order="x")


@pytest.mark.parametrize("n, lanes", [(16, 2), (64, 8), (256, 16), (1024, 32), (4096, 64),
                                      (32, 32)])
def test_fft_four_step_accuracy(n, lanes):
    rng = rng_for("four-step", n, lanes)
    x = complex_inputs(rng, (2, n))
    y = g.fft_four_step(x, lanes)
    assert y.dtype == np.complex64 and y.shape == (2, n)
    r = np.fft.fft(x, axis=-1)
    stages = log2_exact(n) + 1       # log2(N1) + log2(N2) butterfly stages + the twiddle multiply
    bound = fft_bound(stages)
    assert np.all(l2_rel(y.astype(np.complex128), r) <= bound)
    report(f"fft_four_step N={n} lanes={lanes}", y, r, bound * np.linalg.norm(r, axis=-1))
    if lanes == n:                   # N1 = 1: a single in-vector FFT, the same values as fft()
        np.testing.assert_array_equal(y, g.fft(x))


def test_fft_four_step_errors():
    with pytest.raises(ValueError, match=r"^fft_four_step: N = 16 with lanes = 32: needs 2 <= lanes <= N$"):
        g.fft_four_step(np.ones(16), 32)
    with pytest.raises(ValueError, match=r"^fft_four_step: N = 16 with lanes = 1: needs 2 <= lanes <= N$"):
        g.fft_four_step(np.ones(16), 1)
    with pytest.raises(ValueError, match=r"^lanes = 3: must be a power of two"):
        g.fft_four_step(np.ones(16), 3)


# ============================================================================================
# Hyena long convolution
# ============================================================================================

def hyena_bound(u, k, d, r):
    """Per-channel bound on ||y - r||_2 for :func:`hw.golden.hyena_conv`.

    y = IFFT(FFT(u)·FFT(k))/M with M = hyena_fft_points(N) (the smallest power of two >= 2N;
    the zero padding leaves the norms of u and k alone), L = log2 M and eta per FFT stage (see
    fft_eta):
    ||ΔU|| <= L·eta·√M·||u||, the same for K; |U_i| <= ||u||_1; the complex product adds
    √2·gamma_2; the inverse FFT adds L·eta·||P||; the 1/M scale is exact; + d·u adds 2u. So
    ||Δy|| <= (2L·eta + √2·gamma_2)·||u||_1·||k||_2 + L·eta·||k||_1·||u||_2 + 2u·(||y|| + ||d·u||).
    """
    L = log2_exact(g.hyena_fft_points(u.shape[-1]))
    eta = fft_eta()
    u2 = np.atleast_2d(u.astype(np.float64))
    k2 = np.atleast_2d(k.astype(np.float64))
    du = np.asarray(d, np.float64).reshape(-1, 1) * u2
    n1 = lambda x: np.sum(np.abs(x), axis=-1)  # noqa: E731
    n2 = lambda x: np.linalg.norm(x, axis=-1)  # noqa: E731
    return ((2 * L * eta + math.sqrt(2) * gamma(2)) * n1(u2) * n2(k2)
            + L * eta * n1(k2) * n2(u2) + 2 * U * (n2(np.atleast_2d(r)) + n2(du))) * 1.01


@pytest.mark.parametrize("shape", [(1,), (2,), (16,), (3, 64), (2, 512), (3,), (200,), (1000,),
                                   (2, 77)])
def test_hyena_conv_vs_direct_convolution(shape):
    """Any N (powers of two or not: zero-padded to the next power of two >= 2N) within the
    error bound of the FFTs against the direct convolution in float64."""
    rng = rng_for("hyena", shape)
    u = nx.fp32(rng.standard_normal(shape))
    k = nx.fp32(rng.standard_normal(shape) * np.exp(-np.arange(shape[-1]) / 50))
    d = nx.fp32(rng.standard_normal(shape[0]) if len(shape) == 2 else rng.standard_normal())
    y = g.hyena_conv(u, k, d)
    assert y.shape == shape and y.dtype == np.float32
    r = ref.hyena_conv_direct(u, k, d)
    # the FFT-based reference agrees with the direct one (a check of the references themselves)
    np.testing.assert_allclose(ref.hyena_conv(u, k, d), r, rtol=0, atol=1e-12 * np.abs(r).max())
    bound = hyena_bound(u, k, d, r)
    err = np.linalg.norm(np.atleast_2d(y - r), axis=-1)
    assert np.all(err <= bound), (err, bound)
    report(f"hyena_conv shape={shape}", y, r, bound)


def test_hyena_fft_points():
    assert [g.hyena_fft_points(n) for n in (1, 2, 3, 4, 5, 200, 256, 1000, 1024)] == \
        [2, 4, 8, 8, 16, 512, 512, 2048, 2048]


def test_hyena_conv_any_n_is_the_padded_power_of_two_conv():
    """N = 200 is the N = 256 convolution of the zero-padded inputs, cropped: the same FFT
    length (512), the same operations, so the same bits."""
    rng = rng_for("hyena-pad")
    u = nx.fp32(rng.standard_normal(200))
    k = nx.fp32(rng.standard_normal(200) / 15)
    y = g.hyena_conv(u, k, 0.5)
    pad = np.zeros(56, np.float32)
    y256 = g.hyena_conv(np.concatenate([u, pad]), np.concatenate([k, pad]), 0.5)
    np.testing.assert_array_equal(nx.bits(y), nx.bits(y256[:200]))


def test_hyena_conv_extremes():
    # k = unit impulse, d = 0: y ≈ u; k = 0: y = d·u exactly
    u = nx.fp32(np.linspace(-3, 3, 32))
    k = np.zeros(32, np.float32)
    np.testing.assert_array_equal(g.hyena_conv(u, k, 2.0), nx.fp32_mul(np.float32(2.0), u))
    k[0] = 1.0
    y = g.hyena_conv(u, k, 0.0)
    assert np.linalg.norm(y - u) <= hyena_bound(u, k, 0.0, u)[0]
    # large magnitudes stay finite and accurate relative to the output scale
    rng = rng_for("hyena-big")
    u = nx.fp32(rng.standard_normal(64) * 1e18)
    k = nx.fp32(rng.standard_normal(64) * 1e15)
    y = g.hyena_conv(u, k, 1.0)
    r = ref.hyena_conv_direct(u, k, 1.0)
    assert np.all(np.isfinite(y))
    bound = hyena_bound(u, k, 1.0, r)
    assert np.linalg.norm(y - r) <= bound[0]
    report("hyena_conv |u|~1e18 |k|~1e15", y, r, bound)


@pytest.mark.parametrize("u, k, d, message", [
    (np.ones(0), np.ones(0), 1.0, "hyena_conv: N = 0: must be >= 1"),
    (np.ones(8), np.ones(4), 1.0,
     "hyena_conv: u and k must have the same shape (N,) or (C, N); got (8,) and (4,)"),
    (np.ones((2, 2, 4)), np.ones((2, 2, 4)), 1.0,
     "hyena_conv: u and k must have the same shape (N,) or (C, N); got (2, 2, 4) and (2, 2, 4)"),
    (np.ones((2, 4)), np.ones((2, 4)), [1.0, 2.0, 3.0],
     "hyena_conv: d must be a scalar or one value per channel, shape (2,); got shape (3,)"),
    (np.ones((2, 4)), np.ones((2, 4)), np.ones((2, 1)),
     "hyena_conv: d must be a scalar or one value per channel, shape (2,); got shape (2, 1)"),
    (np.ones(4), np.ones(4), [1.0],
     "hyena_conv: d must be a scalar for a single channel u of shape (N,); got shape (1,)"),
])
def test_hyena_conv_errors(u, k, d, message):
    with pytest.raises(ValueError) as e:
        g.hyena_conv(u, k, d)
    assert str(e.value) == message


# ============================================================================================
# Scans
# ============================================================================================

@pytest.mark.parametrize("lanes", [1, 8, 64])
@pytest.mark.parametrize("n", [1, 10, 1000])
def test_prefix_sum_fp32_accuracy(lanes, n):
    rng = rng_for("prefix", lanes, n)
    x = nx.fp32(rng.standard_normal((4, n)) * 10.0 ** rng.integers(-3, 4, (4, n)))
    y = g.prefix_sum(x, lanes)
    assert y.shape == x.shape and y.dtype == np.float32
    r = ref.prefix_sum(x)
    # element i of group gi: log2(lanes) Kogge-Stone levels + one carry addition per group
    gi = np.arange(n) // lanes + 1
    lg = log2_exact(lanes)
    bound = np.array([gamma(lg + int(t) + 1) for t in gi]) * ref.prefix_sum(np.abs(x))
    assert np.all(np.abs(y - r) <= bound)
    if n == 1000:
        report(f"prefix_sum fp32 lanes={lanes} n={n}", y, r, bound)
    if lanes == 1:
        # numpy's float32 cumsum is the sequential order too
        same_bits(y, np.cumsum(x, axis=-1, dtype=np.float32))


def test_prefix_sum_int32_wraps_and_extremes():
    rng = rng_for("prefix-int")
    x = rng.integers(-2**31, 2**31, (3, 77))
    x[0] = 2**31 - 1
    for lanes in (1, 4, 16):
        y = g.prefix_sum(x, lanes, dtype="int32")
        want = (np.cumsum(x.astype(object), axis=-1) + 2**31) % 2**32 - 2**31
        assert y.tolist() == want.tolist()
    # fp32: inf then -inf gives NaN from there on; -0.0 inputs give -0.0 sums
    y = g.prefix_sum(np.array([1.0, np.inf, 2.0, -np.inf, 5.0]), 2)
    assert y[0] == 1 and y[1] == np.inf and y[2] == np.inf and np.all(np.isnan(y[3:]))
    assert np.all(nx.bits(g.prefix_sum(np.full(5, -0.0), 4)) == 0x80000000)
    # overflow to inf
    assert g.prefix_sum(np.array([3e38, 3e38, -3e38]), 4)[1] == np.inf


def seq_recurrence(a, b, h0=-0.0):
    """h_t = a_t·h_{t-1} + b_t with the numerics operators, one step at a time."""
    h = np.full(a.shape[:-1], h0, np.float32)
    out = np.empty(a.shape, np.float32)
    for t in range(a.shape[-1]):
        h = nx.fp32_add(nx.fp32_mul(a[..., t], h), b[..., t])
        out[..., t] = h
    return out


@pytest.mark.parametrize("lanes", [1, 4, 16, 64])
@pytest.mark.parametrize("n", [1, 9, 300])
def test_linear_scan_accuracy(lanes, n):
    rng = rng_for("lscan", lanes, n)
    a = nx.fp32(rng.uniform(-1, 1, (5, n)))
    a[0] = nx.fp32(rng.uniform(0.9, 1.0, n))              # long memory
    b = nx.fp32(rng.standard_normal((5, n)) * 10.0 ** rng.integers(-2, 3, (5, n)))
    y = g.linear_scan(a, b, lanes)
    assert y.shape == (5, n) and y.dtype == np.float32
    r = ref.linear_scan(a, b)
    # every term Π a_r · b_s is formed with at most 2(log2 L + groups) + 1 <= 2n + 1 roundings
    bound = gamma(2 * n + 2) * ref.linear_scan(np.abs(a), np.abs(b))
    assert np.all(np.abs(y - r) <= bound)
    if lanes == 1:
        same_bits(y, seq_recurrence(a, b))                  # the plain sequential recurrence
    if n == 300:
        report(f"linear_scan lanes={lanes} n={n}", y, r, bound)


def test_linear_scan_structure():
    rng = rng_for("lscan-structure")
    b = nx.fp32(rng.standard_normal((3, 50)))
    for lanes in (1, 2, 8, 32):
        # a = 1: a prefix sum, in the same order and bit for bit
        same_bits(g.linear_scan(np.ones((3, 50)), b, lanes), g.prefix_sum(b, lanes))
        # a = 0: no memory, h = b
        np.testing.assert_array_equal(g.linear_scan(np.zeros((3, 50)), b, lanes), b)
    # h0 is the initial state of the sequential recurrence
    a = nx.fp32(rng.uniform(-1, 1, (3, 20)))
    h0 = nx.fp32(rng.standard_normal(3))
    same_bits(g.linear_scan(a, b[:, :20], 1, h0=h0), seq_recurrence(a, b[:, :20], h0))
    r = h0[:, None].astype(np.float64) * np.cumprod(a.astype(np.float64), axis=-1) \
        + ref.linear_scan(a, b[:, :20])
    y = g.linear_scan(a, b[:, :20], 8, h0=h0)
    assert np.max(np.abs(y - r)) <= gamma(42) * np.max(
        np.abs(h0[:, None]) + ref.linear_scan(np.abs(a), np.abs(b[:, :20])))
    # lanes change the order (bits), not the mathematics
    a = nx.fp32(rng.uniform(0.5, 1.0, (3, 64)))
    bb = np.tile(b, 2)[:, :64]
    y1, y8 = g.linear_scan(a, bb, 1), g.linear_scan(a, bb, 8)
    assert np.any(nx.bits(y1) != nx.bits(y8))
    with pytest.raises(ValueError, match=r"^linear_scan: a and b must have the same shape, "
                                         r"got \(3,\) and \(4,\)$"):
        g.linear_scan(np.ones(3), np.ones(4), 4)


@pytest.mark.parametrize("lanes", [1, 4, 16])
@pytest.mark.parametrize("t, dch, s", [(1, 1, 1), (40, 3, 16), (100, 2, 5)])
def test_selective_scan_accuracy(lanes, t, dch, s):
    rng = rng_for("sscan", lanes, t, dch, s)
    a_bar = nx.fp32(rng.uniform(0.3, 1.0, (t, dch, s)))
    bx = nx.fp32(rng.standard_normal((t, dch, s)))
    c = nx.fp32(rng.standard_normal((t, s)))
    d = nx.fp32(rng.standard_normal(dch))
    x = nx.fp32(rng.standard_normal((t, dch)))
    y = g.selective_scan(a_bar, bx, c, d, x, lanes)
    assert y.shape == (t, dch) and y.dtype == np.float32
    r = ref.selective_scan(a_bar, bx, c, d, x)
    # state: gamma(2T+2) as for linear_scan; readout: one product + log2 L + groups additions;
    # skip term: one product + one addition
    habs = ref.selective_scan(np.abs(a_bar), np.abs(bx), np.abs(c), np.zeros(dch), np.zeros((t, dch)))
    groups = -(-s // lanes)
    bound = (gamma(2 * t + 2) + gamma(log2_exact(lanes) + groups + 1)) * habs * 1.01 \
        + gamma(2) * (np.abs(r) + np.abs(d * x))
    assert np.all(np.abs(y - r) <= bound)
    if t == 100:
        report(f"selective_scan lanes={lanes} T={t} D={dch} S={s}", y, r, bound)
    if lanes == 1:
        # plain loops with the numerics operators
        h = np.full((dch, s), -0.0, np.float32)
        want = np.empty((t, dch), np.float32)
        for tt in range(t):
            h = nx.fp32_add(nx.fp32_mul(a_bar[tt], h), bx[tt])
            acc = np.full(dch, -0.0, np.float32)
            for ss in range(s):
                acc = nx.fp32_add(acc, nx.fp32_mul(c[tt, ss], h[:, ss]))
            want[tt] = nx.fp32_add(acc, nx.fp32_mul(d, x[tt]))
        same_bits(y, want)


def test_selective_scan_errors():
    ok = dict(a_bar=np.ones((2, 3, 4)), bx=np.ones((2, 3, 4)), c=np.ones((2, 4)), d=np.ones(3),
              x=np.ones((2, 3)))
    g.selective_scan(**ok, lanes=4)
    with pytest.raises(ValueError, match=r"^selective_scan: a_bar and bx must both be \(T, D, S\), "
                                         r"got \(2, 3\) and \(2, 3, 4\)$"):
        g.selective_scan(**{**ok, "a_bar": np.ones((2, 3))}, lanes=4)
    with pytest.raises(ValueError, match=r"^selective_scan: expected c \(2, 4\), d \(3,\), "
                                         r"x \(2, 3\); got \(2, 4\), \(3,\), \(2, 2\)$"):
        g.selective_scan(**{**ok, "x": np.ones((2, 2))}, lanes=4)
    with pytest.raises(ValueError, match=r"^lanes = 5: must be a power of two"):
        g.selective_scan(**ok, lanes=5)


# ============================================================================================
# Smoke-block model and the error report
# ============================================================================================

def test_mac_lanes():
    rng = rng_for("mac")
    a = rng.integers(-2**15, 2**15, (12, 4))
    b = rng.integers(-2**15, 2**15, (12, 4))
    a[:4, 0] = b[:4, 0] = -2**15
    for width in (16, 32):
        got = g.mac_lanes(a, b, 4, width)
        mod = lambda v: (v + 2**(width - 1)) % 2**width - 2**(width - 1)  # noqa: E731
        want = [[mod(sum(mod(int(a[t, l]) * int(b[t, l])) for t in range(4 * i, 4 * i + 4)))
                 for l in range(4)] for i in range(3)]
        assert got.tolist() == want
    with pytest.raises(ValueError, match=r"^mac_lanes: T = 12 is not a multiple of acc_len = 5$"):
        g.mac_lanes(a, b, 5)
    with pytest.raises(ValueError, match=r"^mac_lanes: a and b must both be \(T, L\), "
                                         r"got \(12,\) and \(12,\)$"):
        g.mac_lanes(a[:, 0], b[:, 0], 4)


def test_error_report():
    rep = g.error_report(np.float32([1, 2, 3]), np.array([1.0, 2.0, 3.0]))
    assert rep.max_abs == 0 and rep.max_rel == 0 and rep.sqnr_db == math.inf
    rep = g.error_report(np.array([1.0, 2.0 + 1e-3]), np.array([1.0, 2.0]))
    assert rep.max_abs == pytest.approx(1e-3)
    assert rep.max_rel == pytest.approx(5e-4)
    assert rep.sqnr_db == pytest.approx(10 * math.log10(5 / 1e-6))
    assert "max_rel=0.0005" in str(rep) and set(rep.as_dict()) == {"max_abs", "max_rel", "sqnr_db"}
    assert g.error_report(np.array([np.nan]), np.array([1.0])).max_rel == math.inf
    assert g.error_report(np.array([1j]), np.array([0.0])).max_rel == math.inf
    c = g.error_report(np.array([1 + 1e-3j]), np.array([1.0 + 0j]))
    assert c.max_abs == pytest.approx(1e-3)
    with pytest.raises(ValueError, match=r"^error_report: shapes differ: \(3,\) vs \(4,\)$"):
        g.error_report(np.ones(3), np.ones(4))
