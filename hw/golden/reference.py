"""float64 mathematical references for the golden kernels.

These are written independently of :mod:`hw.golden.kernels` (numpy's own FFT, direct sums,
sequential loops, textbook softmax attention) and answer "how far is the golden model — and so the
hardware — from the mathematical result?". They are never expected to match bit for bit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gemm", "dot", "softmax", "sdpa", "fft", "hyena_conv", "hyena_conv_direct",
           "prefix_sum", "linear_scan", "selective_scan"]


def _f64(x):
    return np.asarray(x, np.float64)


def gemm(a, b):
    return _f64(a) @ _f64(b)


def dot(a, b):
    return np.sum(_f64(a) * _f64(b), axis=-1)


def softmax(x):
    x = _f64(x)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sdpa(q, k, v):
    q, k, v = _f64(q), _f64(k), _f64(v)
    return softmax(q @ k.T / np.sqrt(q.shape[1])) @ v


def fft(x):
    return np.fft.fft(np.asarray(x, np.complex128), axis=-1)


def hyena_conv(u, k, d):
    """Reference through numpy's real FFT in float64."""
    u, k = _f64(u), _f64(k)
    n = u.shape[-1]
    y = np.fft.irfft(np.fft.rfft(u, 2 * n) * np.fft.rfft(k, 2 * n), 2 * n)[..., :n]
    d = _f64(d)
    return y + (d[..., None] if d.ndim == 1 else d) * u


def hyena_conv_direct(u, k, d):
    """Causal direct convolution ``y_t = Σ_{s<=t} k_s·u_{t-s} + d·u_t`` (no FFT at all)."""
    u, k = _f64(u), _f64(k)
    n = u.shape[-1]
    y = np.zeros_like(u)
    for t in range(n):
        y[..., t] = np.sum(k[..., : t + 1] * u[..., t::-1], axis=-1)
    d = _f64(d)
    return y + (d[..., None] if d.ndim == 1 else d) * u


def prefix_sum(x):
    return np.cumsum(_f64(x), axis=-1)


def linear_scan(a, b):
    """Sequential loop ``h_t = a_t·h_{t-1} + b_t`` from ``h_{-1} = 0``."""
    a, b = _f64(a), _f64(b)
    h = np.zeros(a.shape[:-1])
    out = np.empty_like(b)
    for t in range(a.shape[-1]):
        h = a[..., t] * h + b[..., t]
        out[..., t] = h
    return out


def selective_scan(a_bar, bx, c, d, x):
    a_bar, bx, c, d, x = map(_f64, (a_bar, bx, c, d, x))
    t_len, dch, s = a_bar.shape
    h = np.zeros((dch, s))
    y = np.empty((t_len, dch))
    for t in range(t_len):
        h = a_bar[t] * h + bx[t]
        y[t] = h @ c[t] + d * x[t]
    return y
