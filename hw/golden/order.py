"""Evaluation orders of the PCU, as numpy code.

A floating-point reduction or scan is only bit-exact against the hardware when it adds in the
hardware's order. These helpers *are* those orders; every golden kernel that reduces or scans goes
through them, and each takes the lane count ``lanes`` of the PCU it models. ``lanes=1`` is the plain
sequential order.

Reduction (``reduce``), the baseline Plasticine reduction tree plus accumulator:
    the axis is cut into groups of ``lanes`` elements (the last group padded with the identity);
    each group is reduced by a pairwise tree — level ``k`` combines lanes ``i`` and ``i + 2**k`` for
    ``i`` a multiple of ``2**(k+1)`` — and the group results are folded into an accumulator in order:
    ``acc = op(acc, tree(group_g))``, with ``acc`` starting at the identity.

Scan (``scan``), the ``scan`` extension (Kogge-Stone with a carry register):
    within a group of ``lanes``, for ``d = 1, 2, 4, ...``: ``y[i] = op(y[i-d], y[i])`` for ``i >= d``;
    then every lane combines with the carry: ``out[i] = op(carry, y[i])`` and the carry becomes
    ``out[lanes-1]``. The carry starts at the identity.

The fp32 identity of addition is ``-0.0`` (``x + -0 == x`` for every ``x``, zeros included), so
padding and initial accumulators never change a result.
"""

from __future__ import annotations

import numpy as np

from hw import numerics as nx

__all__ = ["Dtype", "check_lanes", "reduce_add", "reduce_max", "tree", "scan_add", "scan_pairs",
           "add_op", "mul_op"]


def check_lanes(lanes):
    """``lanes`` must be a power of two in 1..64 (1 = sequential)."""
    if isinstance(lanes, bool) or not isinstance(lanes, (int, np.integer)) or lanes < 1 \
            or lanes > 64 or lanes & (lanes - 1):
        raise ValueError(f"lanes = {lanes!r}: must be a power of two in 1..64 (1 = sequential order)")
    return int(lanes)


class Dtype:
    """Arithmetic of one golden dtype: ``add``, ``mul``, additive identity, numpy storage type."""

    def __init__(self, name):
        if name not in ("fp32", "int32"):
            raise ValueError(f"dtype = {name!r}: must be one of 'fp32', 'int32'")
        self.name = name
        if name == "fp32":
            self.np = np.float32
            self.add = nx.fp32_add
            self.mul = nx.fp32_mul
            self.zero = np.float32(-0.0)
        else:
            self.np = np.int64
            self.add = lambda a, b: nx.int_add(a, b, 32)
            self.mul = lambda a, b: nx.int_mul(a, b, 32)
            self.zero = np.int64(0)

    def cast(self, x):
        return nx.fp32(x) if self.name == "fp32" else nx.wrap(np.asarray(x, np.int64), 32)


def add_op(dtype):
    return Dtype(dtype).add


def mul_op(dtype):
    return Dtype(dtype).mul


def tree(x, op):
    """Pairwise tree over the last axis (length a power of two): lanes ``i`` and ``i + 2**k``."""
    n = x.shape[-1]
    while n > 1:
        x = op(x[..., 0::2], x[..., 1::2])
        n //= 2
    return x[..., 0]


def _groups(x, lanes, identity):
    n = x.shape[-1]
    g = -(-n // lanes) if n else 1
    pad = g * lanes - n
    if pad:
        x = np.concatenate([x, np.full(x.shape[:-1] + (pad,), identity, dtype=x.dtype)], axis=-1)
    return x.reshape(x.shape[:-1] + (g, lanes))


def _reduce(x, lanes, op, identity):
    lanes = check_lanes(lanes)
    x = np.asarray(x)
    groups = _groups(x, lanes, identity)
    acc = np.full(x.shape[:-1], identity, dtype=x.dtype)
    for g in range(groups.shape[-2]):
        acc = op(acc, tree(groups[..., g, :], op))
    return acc


def reduce_add(x, lanes, dtype="fp32"):
    """Sum over the last axis in the PCU's reduction order (see module docstring)."""
    d = Dtype(dtype)
    return _reduce(d.cast(x).astype(d.np), lanes, d.add, d.zero)


def reduce_max(x, lanes):
    """fp32 maximum over the last axis in the reduction order (max is order-independent but NaN and
    signed-zero rules follow :func:`hw.numerics.fp32_max`)."""
    return _reduce(nx.fp32(x), lanes, nx.fp32_max, np.float32(-np.inf))


def scan_add(x, lanes, dtype="fp32"):
    """Inclusive prefix sum over the last axis in the ``scan`` extension's order."""
    lanes = check_lanes(lanes)
    d = Dtype(dtype)
    x = d.cast(x).astype(d.np)
    n = x.shape[-1]
    groups = _groups(x, lanes, d.zero)
    out = np.empty_like(groups)
    carry = np.full(x.shape[:-1], d.zero, dtype=d.np)
    for g in range(groups.shape[-2]):
        y = groups[..., g, :].copy()
        dist = 1
        while dist < lanes:
            y[..., dist:] = d.add(y[..., :-dist], y[..., dist:])
            dist *= 2
        y = d.add(carry[..., None], y)
        out[..., g, :] = y
        carry = y[..., -1]
    return out.reshape(x.shape[:-1] + (-1,))[..., :n]


def scan_pairs(a, b, lanes, h0=None):
    """Inclusive scan of ``h_t = a_t·h_{t-1} + b_t`` over the last axis (fp32), in the ``scan``
    extension's order with the pair operator ``(a1,b1)∘(a2,b2) = (a1·a2, a2·b1 + b2)``.

    Within a group of ``lanes`` (Kogge-Stone), for ``d = 1, 2, ...`` and ``i >= d``:
    ``A[i] = A[i-d]·A[i]``; ``B[i] = A[i]·B[i-d] + B[i]`` (using the *old* ``A[i]``). Then
    ``h[i] = A[i]·carry + B[i]`` and ``carry = h[lanes-1]``. ``carry`` starts at ``h0`` (default
    ``-0.0``). Padding pairs are the identity ``(1, -0)``. Products and sums are separately rounded.
    """
    lanes = check_lanes(lanes)
    a = nx.fp32(a)
    b = nx.fp32(b)
    a, b = np.broadcast_arrays(a, b)
    n = a.shape[-1]
    A = _groups(np.ascontiguousarray(a), lanes, np.float32(1.0))
    B = _groups(np.ascontiguousarray(b), lanes, np.float32(-0.0))
    out = np.empty_like(B)
    carry = np.full(a.shape[:-1], np.float32(-0.0) if h0 is None else h0, dtype=np.float32)
    carry = nx.fp32(carry)
    for g in range(A.shape[-2]):
        ga = A[..., g, :].copy()
        gb = B[..., g, :].copy()
        dist = 1
        while dist < lanes:
            new_b = nx.fp32_add(nx.fp32_mul(ga[..., dist:], gb[..., :-dist]), gb[..., dist:])
            new_a = nx.fp32_mul(ga[..., :-dist], ga[..., dist:])
            ga[..., dist:] = new_a
            gb[..., dist:] = new_b
            dist *= 2
        h = nx.fp32_add(nx.fp32_mul(ga, carry[..., None]), gb)
        out[..., g, :] = h
        carry = h[..., -1]
    return out.reshape(a.shape[:-1] + (-1,))[..., :n]
