"""Golden kernels: bit-exact numpy models of what the fabric computes.

Every function here uses :mod:`hw.numerics` for each arithmetic operation and
:mod:`hw.golden.order` for every reduction and scan, so its result is the exact bit pattern the RTL
must produce. Each has an independent float64 mathematical reference in :mod:`hw.golden.reference`
and tests that bound the golden model's error against it.

Conventions: fp32 tensors are ``np.float32`` arrays; complex tensors are ``np.complex64`` (real and
imaginary parts are separate fp32 values, each operation rounded on its own); integer results are
``np.int64`` arrays holding int32 values. Functions raise ``ValueError`` naming the argument and what
is allowed when a shape or dtype cannot be computed.
"""

from __future__ import annotations

import numpy as np

from hw import numerics as nx

from .order import Dtype, check_lanes, reduce_add, reduce_max, scan_add, scan_pairs

__all__ = [
    "GEMM_DTYPES", "gemm", "dot", "softmax", "attention_scale", "sdpa_naive", "sdpa_streaming",
    "fft", "ifft", "fft_four_step", "fft_dif_stages", "fft_dit_stages", "hyena_conv",
    "hyena_fft_points",
    "prefix_sum", "linear_scan", "selective_scan", "mac_lanes",
]

#: Input dtypes of :func:`gemm` and the accumulator each one uses.
GEMM_DTYPES = {"int16": "int32", "bf16": "fp32", "fp32": "fp32"}


def _matrix(name, x, ndim=2):
    x = np.asarray(x)
    if x.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {x.shape}")
    if x.dtype.kind not in "biuf":  # complex would silently lose its imaginary part
        raise ValueError(f"{name}: dtype {x.dtype} is not supported; expected a real (integer or "
                         f"floating-point) array")
    return x


def _gemm_inputs(a, b, dtype):
    if dtype not in GEMM_DTYPES:
        raise ValueError(f"gemm: dtype = {dtype!r}: must be one of {', '.join(GEMM_DTYPES)}")
    a = _matrix("gemm: a", a)
    b = _matrix("gemm: b", b)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"gemm: inner dimensions differ: a is {a.shape}, b is {b.shape}")
    if dtype == "int16":
        for name, x in (("a", a), ("b", b)):
            if not np.issubdtype(x.dtype, np.integer):
                raise ValueError(f"gemm: {name} has dtype {x.dtype}; int16 gemm takes integer arrays")
            if x.size and (x.min() < -32768 or x.max() > 32767):
                raise ValueError(f"gemm: {name} has values outside int16 [-32768, 32767]")
        return a.astype(np.int64), b.astype(np.int64)
    if dtype == "bf16":
        return nx.bf16_round(a), nx.bf16_round(b)
    return nx.fp32(a), nx.fp32(b)


def gemm(a, b, dtype="bf16"):
    """``C = A @ B`` as the systolic PCU computes it.

    ``dtype``: ``"int16"`` (int16 inputs, int32 wrapping accumulation), ``"bf16"`` (inputs rounded to
    bf16, exact fp32 products, fp32 accumulation) or ``"fp32"`` (fp32 products and accumulation).

    Order: weight-stationary systolic — partial sums flow down the stages, one ``k`` per stage and
    K-tiles chained — so every ``C[m, n]`` accumulates ``k = 0, 1, ..., K-1`` in sequence, starting
    from the identity (``-0.0``): ``c = fp32_add(c, fp32_mul(a[m,k], b[k,n]))``.
    """
    a, b = _gemm_inputs(a, b, dtype)
    m, k = a.shape
    n = b.shape[1]
    d = Dtype(GEMM_DTYPES[dtype])
    c = np.full((m, n), d.zero, dtype=d.np)
    for kk in range(k):
        c = d.add(c, d.mul(a[:, kk, None], b[None, kk, :]))
    return c


def dot(a, b, lanes, dtype="fp32"):
    """Dot product over the last axis: elementwise products, then the PCU reduction order
    (tree over each group of ``lanes``, groups folded into an accumulator). ``dtype``: ``"fp32"`` or
    ``"int32"`` (wrapping)."""
    d = Dtype(dtype)
    a = d.cast(a)
    b = d.cast(b)
    if a.shape[-1:] != b.shape[-1:]:
        raise ValueError(f"dot: last axes differ: {a.shape} vs {b.shape}")
    return reduce_add(d.mul(a, b), lanes, dtype)


def softmax(x, lanes):
    """Softmax over the last axis (fp32):
    ``m = max(x)``; ``p = exp2((x - m) · LOG2E)``; ``s = Σ p`` (reduction order); ``p · recip(s)``."""
    x = nx.fp32(x)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(f"softmax: x must have a non-empty last axis, got shape {x.shape}")
    m = reduce_max(x, lanes)
    p = nx.exp2(nx.fp32_mul(nx.fp32_sub(x, m[..., None]), nx.LOG2E))
    s = reduce_add(p, lanes)
    return nx.fp32_mul(p, nx.reciprocal(s)[..., None])


def attention_scale(d):
    """The fp32 constant scores are multiplied by: ``log2(e) / sqrt(d)`` rounded once."""
    return nx.fp32(np.log2(np.e) / np.sqrt(d))


def _sdpa_inputs(q, k, v):
    q = nx.fp32(_matrix("sdpa: q", q))
    k = nx.fp32(_matrix("sdpa: k", k))
    v = nx.fp32(_matrix("sdpa: v", v))
    if q.shape[1] != k.shape[1]:
        raise ValueError(f"sdpa: q and k head dims differ: {q.shape} vs {k.shape}")
    if k.shape[0] != v.shape[0]:
        raise ValueError(f"sdpa: k and v lengths differ: {k.shape} vs {v.shape}")
    if k.shape[0] == 0:
        raise ValueError("sdpa: k and v must have at least one row")
    return q, k, v


def _scores(q, k, lanes=None):
    """Q·Kᵀ · log2(e)/sqrt(d). ``lanes=None``: GEMM order (sequential over the head dimension);
    ``lanes=L``: each score is a :func:`dot` product in the PCU's reduction order (a tree over each
    group of L products, groups folded in order) — the order of a PCU whose lanes run along the
    head dimension. Rows are done in chunks to bound the temporary (nq × nk × d) products."""
    if lanes is None:
        s = gemm(q, k.T, dtype="fp32")
    else:
        check_lanes(lanes)
        s = np.empty((q.shape[0], k.shape[0]), np.float32)
        step = max(1, (1 << 22) // max(1, k.shape[0] * q.shape[1]))
        for i in range(0, q.shape[0], step):
            s[i:i + step] = dot(q[i:i + step, None, :], k[None, :, :], lanes)
    return nx.fp32_mul(s, attention_scale(q.shape[1]))


def sdpa_naive(q, k, v, lanes=None):
    """Scaled dot-product attention, the O(N)-buffer form: a whole score row is kept.

    ``s2 = (Q Kᵀ) · log2(e)/√d`` (GEMM order); ``m = max_j s2``; ``p_j = exp2(s2_j - m)``;
    ``l = Σ_j p_j`` and ``o = Σ_j p_j·v_j`` sequentially over ``j``; ``out = o · recip(l)``.

    ``lanes``: ``None`` (default) = scores in GEMM order; ``L`` = each score ``q_i·k_j`` is a dot
    product in the PCU reduction order over L lanes (:func:`dot`: tree over each group of L
    products, groups folded in order) — the variant computed by a PCU with its lanes along the
    head dimension (``compiler/sdpa.py``). Everything after the scores is the same.
    """
    q, k, v = _sdpa_inputs(q, k, v)
    s2 = _scores(q, k, lanes)
    m = reduce_max(s2, 1)
    p = nx.exp2(nx.fp32_sub(s2, m[:, None]))
    nq, dv = q.shape[0], v.shape[1]
    l = np.full(nq, -0.0, np.float32)
    o = np.full((nq, dv), -0.0, np.float32)
    for j in range(k.shape[0]):
        l = nx.fp32_add(l, p[:, j])
        o = nx.fp32_add(o, nx.fp32_mul(p[:, j, None], v[None, j, :]))
    return nx.fp32_mul(o, nx.reciprocal(l)[:, None])


def sdpa_streaming(q, k, v, lanes=None):
    """Scaled dot-product attention, the O(1)-buffer streaming form (running max, rescaled running
    sum and output, division deferred to the end). For each key ``j`` in order::

        m_new = max(m, s2_j)                  (m starts at -inf)
        c     = exp2(m - m_new)               (rescale of what was accumulated)
        p     = exp2(s2_j - m_new)
        l     = l·c + p                       (l, o start at -0.0; unfused mul-add)
        o     = o·c + p·v_j
        out   = o · recip(l)                  (after the last key)

    ``lanes``: as for :func:`sdpa_naive` (``None`` = scores in GEMM order, ``L`` = scores as
    PCU-order dot products over L lanes).
    """
    q, k, v = _sdpa_inputs(q, k, v)
    s2 = _scores(q, k, lanes)
    nq, dv = q.shape[0], v.shape[1]
    m = np.full(nq, -np.inf, np.float32)
    l = np.full(nq, -0.0, np.float32)
    o = np.full((nq, dv), -0.0, np.float32)
    for j in range(k.shape[0]):
        m_new = nx.fp32_max(m, s2[:, j])
        c = nx.exp2(nx.fp32_sub(m, m_new))
        p = nx.exp2(nx.fp32_sub(s2[:, j], m_new))
        l = nx.fp32_add(nx.fp32_mul(l, c), p)
        o = nx.fp32_add(nx.fp32_mul(o, c[:, None]), nx.fp32_mul(p[:, None], v[None, j, :]))
        m = m_new
    return nx.fp32_mul(o, nx.reciprocal(l)[:, None])


# --------------------------------------------------------------------------------------------
# FFT
# --------------------------------------------------------------------------------------------

def _check_pow2(name, n, maximum=1 << 24):
    if n < 2 or n & (n - 1) or n > maximum:
        raise ValueError(f"{name}: N = {n} is not a power of two in 2..{maximum}; "
                         f"the radix-2 FFT needs N = 2**k")


def _cmul(ar, ai, br, bi):
    """Complex multiply with each product and sum rounded: (ar·br - ai·bi, ar·bi + ai·br)."""
    re = nx.fp32_sub(nx.fp32_mul(ar, br), nx.fp32_mul(ai, bi))
    im = nx.fp32_add(nx.fp32_mul(ar, bi), nx.fp32_mul(ai, br))
    return re, im


def _split(x):
    """Complex (or real) array → (re, im) fp32 arrays."""
    x = np.asarray(x)
    im = nx.fp32(x.imag) if np.iscomplexobj(x) else np.zeros(x.shape, np.float32)
    return nx.fp32(x.real), im


def _pack(re, im):
    out = np.empty(re.shape, np.complex64)
    out.real = re
    out.imag = im
    return out


def fft_dif_stages(re, im, inverse=False):
    """Radix-2 decimation-in-frequency over the last axis: natural-order input, bit-reversed output.

    Stage spans ``h = N/2, N/4, ..., 1``; within each block of ``2h`` and for ``j < h``:
    ``x[j] = x[j] + x[j+h]``; ``x[j+h] = (x[j] - x[j+h]) · W_{2h}^j`` (full complex multiply, also
    when ``W = 1``). Twiddles come from :func:`hw.numerics.twiddles` (``W_{2h}^j = W_N^{j·N/2h}``).
    """
    n = re.shape[-1]
    _check_pow2("fft", n)
    w = nx.twiddles(n, inverse=inverse)
    wr, wi = nx.fp32(w.real), nx.fp32(w.imag)
    re, im = re.copy(), im.copy()
    h = n // 2
    while h >= 1:
        shape = re.shape[:-1] + (n // (2 * h), 2, h)
        r = re.reshape(shape)
        i = im.reshape(shape)
        ar, ai, br, bi = r[..., 0, :], i[..., 0, :], r[..., 1, :], i[..., 1, :]
        sr, si = nx.fp32_add(ar, br), nx.fp32_add(ai, bi)
        dr, di = nx.fp32_sub(ar, br), nx.fp32_sub(ai, bi)
        tw = np.arange(h) * (n // (2 * h))
        pr, pi = _cmul(dr, di, wr[tw], wi[tw])
        re = np.stack([sr, pr], axis=-2).reshape(re.shape)
        im = np.stack([si, pi], axis=-2).reshape(im.shape)
        h //= 2
    return re, im


def fft_dit_stages(re, im, inverse=False):
    """Radix-2 decimation-in-time over the last axis: bit-reversed input, natural-order output.

    Stage spans ``h = 1, 2, ..., N/2``; within each block of ``2h`` and for ``j < h``:
    ``t = x[j+h] · W_{2h}^j``; ``x[j] = x[j] + t``; ``x[j+h] = x[j] - t``.
    """
    n = re.shape[-1]
    _check_pow2("fft", n)
    w = nx.twiddles(n, inverse=inverse)
    wr, wi = nx.fp32(w.real), nx.fp32(w.imag)
    re, im = re.copy(), im.copy()
    h = 1
    while h < n:
        shape = re.shape[:-1] + (n // (2 * h), 2, h)
        r = re.reshape(shape)
        i = im.reshape(shape)
        ar, ai, br, bi = r[..., 0, :], i[..., 0, :], r[..., 1, :], i[..., 1, :]
        tw = np.arange(h) * (n // (2 * h))
        tr, ti = _cmul(br, bi, wr[tw], wi[tw])
        re = np.stack([nx.fp32_add(ar, tr), nx.fp32_sub(ar, tr)], axis=-2).reshape(re.shape)
        im = np.stack([nx.fp32_add(ai, ti), nx.fp32_sub(ai, ti)], axis=-2).reshape(im.shape)
        h *= 2
    return re, im


def fft(x, order="natural"):
    """Radix-2 complex FFT (fp32) over the last axis, as :func:`fft_dif_stages` computes it.

    ``order="natural"`` returns ``X[k]`` in natural order (the bit-reversed DIF output permuted,
    which is exact); ``order="bitrev"`` returns the hardware's bit-reversed order. ``N`` must be a
    power of two (a clear ``ValueError`` otherwise).
    """
    if order not in ("natural", "bitrev"):
        raise ValueError(f"fft: order = {order!r}: must be 'natural' or 'bitrev'")
    re, im = _split(x)
    _check_pow2("fft", re.shape[-1])
    re, im = fft_dif_stages(re, im)
    out = _pack(re, im)
    if order == "natural":
        out = out[..., nx.bit_reverse_permutation(out.shape[-1])]
    return out


def ifft(x, order="natural"):
    """Inverse radix-2 FFT (fp32) over the last axis: DIT with conjugate twiddles, then ``· 1/N``
    (a power of two: exact unless it underflows). ``order`` names the *input* order
    (``"bitrev"`` takes the DIF output directly, as the Hyena pipeline does)."""
    if order not in ("natural", "bitrev"):
        raise ValueError(f"ifft: order = {order!r}: must be 'natural' or 'bitrev'")
    x = np.asarray(x)
    n = x.shape[-1]
    _check_pow2("ifft", n)
    if order == "natural":
        x = x[..., nx.bit_reverse_permutation(n)]
    re, im = _split(x)
    re, im = fft_dit_stages(re, im, inverse=True)
    scale = np.float32(1.0 / n)
    return _pack(nx.fp32_mul(re, scale), nx.fp32_mul(im, scale))


def fft_four_step(x, lanes):
    """Four-step FFT for ``N = N1·lanes`` (N larger than the lane count), over the last axis.

    With ``N2 = lanes``, ``n = N2·n1 + n2`` and ``k = k1 + N1·k2``:

    1. ``N2`` column FFTs of length ``N1`` over ``n1`` (lane-parallel: lane ``n2`` owns a column);
    2. twiddle multiply by ``W_N^(n2·k1)`` (full complex multiply);
    3. ``N1`` row FFTs of length ``N2`` over ``n2`` (within a vector: the ``butterfly`` network);
    4. transpose to ``X[k1 + N1·k2]``.

    Sub-FFTs are :func:`fft_dif_stages`. ``N1 = 1`` reduces to a single in-vector FFT.
    """
    lanes = check_lanes(lanes)
    re, im = _split(x)
    n = re.shape[-1]
    _check_pow2("fft_four_step", n)
    if lanes < 2 or n < lanes:
        raise ValueError(f"fft_four_step: N = {n} with lanes = {lanes}: needs 2 <= lanes <= N")
    n2 = lanes
    n1 = n // n2
    batch = re.shape[:-1]
    r = re.reshape(batch + (n1, n2))
    i = im.reshape(batch + (n1, n2))
    # Step 1: column FFTs over n1 (move n1 to the last axis), bit-reversed k1 back to natural.
    if n1 > 1:
        cr, ci = fft_dif_stages(np.swapaxes(r, -1, -2).copy(), np.swapaxes(i, -1, -2).copy())
        perm = nx.bit_reverse_permutation(n1)
        cr, ci = cr[..., perm], ci[..., perm]                 # [..., n2, k1]
    else:
        cr, ci = np.swapaxes(r, -1, -2), np.swapaxes(i, -1, -2)
    # Step 2: twiddles W_N^(n2·k1).
    w = nx.twiddles(n)
    idx = (np.arange(n2)[:, None] * np.arange(n1)[None, :]) % n
    cr, ci = _cmul(cr, ci, nx.fp32(w.real)[idx], nx.fp32(w.imag)[idx])
    # Step 3: row FFTs over n2 for each k1 (n2 to the last axis).
    rr, ri = fft_dif_stages(np.swapaxes(cr, -1, -2).copy(), np.swapaxes(ci, -1, -2).copy())
    perm = nx.bit_reverse_permutation(n2)
    rr, ri = rr[..., perm], ri[..., perm]                       # [..., k1, k2]
    # Step 4: X[k1 + N1·k2] — k2 major.
    out = _pack(np.swapaxes(rr, -1, -2), np.swapaxes(ri, -1, -2))  # [..., k2, k1]
    return out.reshape(batch + (n,))


def hyena_fft_points(n):
    """The FFT length of a Hyena convolution of ``n`` points: the smallest power of two
    ``>= 2n`` (the zero padding makes the circular convolution a linear one for the first ``n``
    outputs)."""
    return 1 << (2 * int(n) - 1).bit_length()


def hyena_conv(u, k, d):
    """Hyena long convolution ``y = irfft(rfft(u, M)·rfft(k, M))[:N] + d·u`` via complex FFTs,
    ``M`` = :func:`hyena_fft_points` ``(N)`` (the smallest power of two ``>= 2N``; ``2N`` when
    ``N`` is a power of two). Any ``N >= 1``.

    ``u``, ``k``: real fp32 of shape ``(N,)`` or ``(C, N)`` (channels); ``d``: scalar or ``(C,)``.
    Steps (the fabric's order): zero-pad ``u`` and ``k`` to ``M``; DIF FFT of each (bit-reversed
    output); pointwise complex product; DIT inverse FFT straight from bit-reversed order, ``· 1/M``;
    real part of the first ``N``; ``+ d·u`` as ``fp32_add(conv, fp32_mul(d, u))``.
    """
    u = nx.fp32(u)
    k = nx.fp32(k)
    if u.shape != k.shape or u.ndim not in (1, 2):
        raise ValueError(f"hyena_conv: u and k must have the same shape (N,) or (C, N); "
                         f"got {u.shape} and {k.shape}")
    n = u.shape[-1]
    if n < 1:
        raise ValueError(f"hyena_conv: N = {n}: must be >= 1")
    m = hyena_fft_points(n)
    d = nx.fp32(d)
    if d.ndim > 1 or (d.ndim == 1 and (u.ndim != 2 or d.shape[0] != u.shape[0])):
        allowed = (f"a scalar or one value per channel, shape ({u.shape[0]},)" if u.ndim == 2
                   else "a scalar for a single channel u of shape (N,)")
        raise ValueError(f"hyena_conv: d must be {allowed}; got shape {d.shape}")
    pad = np.zeros(u.shape[:-1] + (m - n,), np.float32)
    zeros = np.zeros(u.shape[:-1] + (m,), np.float32)
    ur, ui = fft_dif_stages(np.concatenate([u, pad], -1), zeros)
    kr, ki = fft_dif_stages(np.concatenate([k, pad], -1), zeros)
    pr, pi = _cmul(ur, ui, kr, ki)
    yr, _ = fft_dit_stages(pr, pi, inverse=True)
    conv = nx.fp32_mul(yr[..., :n], np.float32(1.0 / m))
    dd = d[..., None] if d.ndim == 1 else d
    return nx.fp32_add(conv, nx.fp32_mul(dd, u))


# --------------------------------------------------------------------------------------------
# Scans
# --------------------------------------------------------------------------------------------

def prefix_sum(x, lanes, dtype="fp32"):
    """Inclusive prefix sum over the last axis in the ``scan`` extension's order
    (:func:`hw.golden.order.scan_add`). ``dtype``: ``"fp32"`` or ``"int32"`` (wrapping)."""
    return scan_add(x, lanes, dtype)


def linear_scan(a, b, lanes, h0=None):
    """``h_t = a_t·h_{t-1} + b_t`` over the last axis (fp32), evaluated with the associative pair
    operator in the order of the ``scan`` extension (:func:`hw.golden.order.scan_pairs`).
    ``lanes = 1`` is the sequential recurrence."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"linear_scan: a and b must have the same shape, got {a.shape} and {b.shape}")
    return scan_pairs(a, b, lanes, h0)


def selective_scan(a_bar, bx, c, d, x, lanes, reduce_lanes=None):
    """Mamba selective scan from discretized inputs (fp32).

    Shapes: ``a_bar``, ``bx``: ``(T, D, S)`` (time, channels, state); ``c``: ``(T, S)``;
    ``d``: ``(D,)``; ``x``: ``(T, D)``. Computes ``h_t = a_bar_t ⊙ h_{t-1} + bx_t`` along time
    (:func:`linear_scan` order with ``lanes``), then ``y_t = Σ_s c_t[s]·h_t[:, s]`` (reduction
    order with ``reduce_lanes``, default ``lanes``) and ``y = fp32_add(y, fp32_mul(d, x))``.
    Returns ``(T, D)``.

    ``reduce_lanes = 1`` is the order of a fabric that keeps the lanes along *time* (the scan
    mapping of ``compiler/scan.py``): the state sum is then a sequential accumulation
    ``((-0 + c_0·h_0) + c_1·h_1) + …`` over ``s = 0, 1, …, S-1`` (one vector per state, folded in a
    per-lane accumulator), followed by the ``d·x`` term as above.
    """
    a_bar = nx.fp32(a_bar)
    bx = nx.fp32(bx)
    c = nx.fp32(c)
    d = nx.fp32(d)
    x = nx.fp32(x)
    if a_bar.ndim != 3 or bx.shape != a_bar.shape:
        raise ValueError(f"selective_scan: a_bar and bx must both be (T, D, S), got {a_bar.shape} "
                         f"and {bx.shape}")
    t, dch, s = a_bar.shape
    if c.shape != (t, s) or d.shape != (dch,) or x.shape != (t, dch):
        raise ValueError(f"selective_scan: expected c {(t, s)}, d {(dch,)}, x {(t, dch)}; "
                         f"got {c.shape}, {d.shape}, {x.shape}")
    h = linear_scan(np.moveaxis(a_bar, 0, -1), np.moveaxis(bx, 0, -1), lanes)   # (D, S, T)
    h = np.moveaxis(h, -1, 0)                                                   # (T, D, S)
    y = reduce_add(nx.fp32_mul(c[:, None, :], h),
                   lanes if reduce_lanes is None else reduce_lanes)             # (T, D)
    return nx.fp32_add(y, nx.fp32_mul(d[None, :], x))


# --------------------------------------------------------------------------------------------
# Smoke block
# --------------------------------------------------------------------------------------------

def mac_lanes(a, b, acc_len, width=32):
    """Golden model of :class:`hw.smoke.MacPipeline`: per lane, sums of ``acc_len`` consecutive
    products, wrapping in ``width`` bits. ``a``, ``b``: ``(T, L)`` integer arrays with
    ``T`` a multiple of ``acc_len``; returns ``(T // acc_len, L)``."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"mac_lanes: a and b must both be (T, L), got {a.shape} and {b.shape}")
    if acc_len < 1 or a.shape[0] % acc_len:
        raise ValueError(f"mac_lanes: T = {a.shape[0]} is not a multiple of acc_len = {acc_len}")
    p = nx.wrap(a * b, width)
    return nx.wrap(p.reshape(-1, acc_len, a.shape[1]).sum(axis=1), width)
