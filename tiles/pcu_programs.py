"""Kernel-fragment library: PCU programs for the pieces the compiler places on the fabric.

Every function takes the PCU's :class:`~hw.params.pcu.PCUParams` and the fragment's data and
returns a :class:`Fragment`: the :class:`~tiles.pcu_asm.Program`, the input streams it consumes, and
the output streams it must produce, computed by the fragment's golden function (``tb.golden`` or the
:mod:`hw.numerics` composition documented in the function). A fragment that does not fit the PCU
(too few stages, lanes, inputs, or an op class / extension missing) raises
:class:`~tiles.pcu_asm.AsmError` naming what is missing.

Stream formats: a *vector stream* is a ``(T, L)`` array of 32-bit words (int32 two's complement or
fp32 encodings); a *scalar stream* a ``(T,)`` array. Cycle costs are for one PCU at full rate
(``ii = 1``): one iteration per cycle plus the pipeline latency ``PCU(params).depth``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hw import numerics as nx
from tb.golden import kernels as gk
from tb.golden import order as go

from .pcu_asm import (Acc, AsmError, Carry, Counter, Out, Program, Stage, Stationary, assemble,
                      word)

__all__ = ["Fragment", "words", "fp_words", "map_int", "map_fixed", "map_fp32", "counter_ramp",
           "dot", "fold", "gemm_systolic", "gemm_simd", "prefix_sum", "prefix_sum_baseline",
           "linear_scan", "linear_scan_baseline", "fft_level", "fft_level_baseline",
           "softmax_max", "softmax_exp_sum", "softmax_scale", "exp2_map", "recip_map"]


def words(x):
    """Integers → uint32 words (two's complement)."""
    return (np.asarray(x, np.int64) & 0xFFFFFFFF).astype(np.uint32)


def fp_words(x):
    """fp32 values → their uint32 encodings (FTZ applied: the numerics input rule)."""
    return nx.bits(nx.fp32(x)).astype(np.uint32)


def _as_int(u):
    u = np.asarray(u, np.int64) & 0xFFFFFFFF
    return np.where(u >= 1 << 31, u - (1 << 32), u)


@dataclasses.dataclass
class Fragment:
    """A program plus its streams. ``vec_in``/``scal_in``: {port: words}; ``vec_out``/``scal_out``:
    {port: expected words}; ``args``: argument register values; ``iterations``: compute
    iterations; ``loads``: stationary-load iterations; ``useful_ops``: useful FU operations (MACs
    for GEMM) for utilization figures."""

    name: str
    program: Program
    vec_in: dict
    vec_out: dict
    scal_in: dict = dataclasses.field(default_factory=dict)
    scal_out: dict = dataclasses.field(default_factory=dict)
    args: list = dataclasses.field(default_factory=list)
    ctrl_in: dict = dataclasses.field(default_factory=dict)
    ctrl_out: dict = dataclasses.field(default_factory=dict)
    iterations: int = 0
    loads: int = 0
    useful_ops: int = 0

    def assemble(self, params):
        return assemble(params, self.program)


def _need(cond, msg):
    if not cond:
        raise AsmError(msg)


def _log2(n):
    return n.bit_length() - 1


# --------------------------------------------------------------------------------------------
# Elementwise maps
# --------------------------------------------------------------------------------------------

def map_int(params, a, b, bias, shift=3, lo=-1000):
    """``y = max((a·b + bias) >> shift, lo)`` elementwise (int32 wrap, arithmetic shift).

    Streams: vec0 = a, vec1 = b (``(T, L)`` int32), arg0 = bias; out vec0 = y. Stages 0..2.
    Cost: T cycles + latency. Golden: :mod:`hw.numerics` ``int_add(int_mul)``, ``int_shr``, max.
    """
    _need(params.stages >= 3, f"map_int: needs 3 stages, PCU has {params.stages}")
    a, b = np.asarray(a), np.asarray(b)
    t = a.shape[0]
    prog = Program(name="map_int", counters=[Counter(t)], vec_in={0: "every", 1: "every"},
                   stages=[Stage("muladd", a="vec0", b="vec1", c="arg0", dst="r0"),
                           Stage("shr", a="r0", b="const", const=shift, dst="r1"),
                           Stage("max", a="r1", b="const", const=lo, dst="r0")],
                   vec_out={0: Out(reg="r0")})
    y = nx.int_add(nx.int_mul(a, b), bias)
    y = np.maximum(nx.int_shr(y, shift), lo)
    return Fragment("map_int", prog, {0: words(a), 1: words(b)}, {0: words(y)}, args=[bias],
                    iterations=t, useful_ops=3 * a.size)


def map_fixed(params, x, w, frac, offset):
    """Fixed-point Q(31-frac).frac ``y = sat(fxmul(x, w) + offset)`` (round-half-up product,
    saturating add). Streams: vec0 = x, vec1 = w; scal0 = offset (popped every iteration); out
    vec0 = y. Golden: ``numerics.fixed_mul`` + ``int_add(sat=True)``."""
    _need(params.scal_in >= 1, "map_fixed: needs a scalar input")
    x, w = np.asarray(x), np.asarray(w)
    t = x.shape[0]
    prog = Program(name="map_fixed", counters=[Counter(t)],
                   vec_in={0: "every", 1: "every"}, scal_in={0: "every"},
                   stages=[Stage("fxmul", a="vec0", b="vec1", frac=frac, dst="r0"),
                           Stage("adds", a="r0", b="scal0", dst="r0")],
                   vec_out={0: Out(reg="r0")})
    off = np.asarray(offset)
    y = nx.int_add(nx.fixed_mul(x, w, frac), off[:, None], sat=True)
    return Fragment("map_fixed", prog, {0: words(x), 1: words(w)}, {0: words(y)},
                    scal_in={0: words(off)}, iterations=t, useful_ops=2 * x.size)


def map_fp32(params, x, a, b):
    """fp32 ``y = bf16_round(max(x·a + b, 0))`` as fp32: FMA (unfused), FMAX with +0, then
    F2BF/BF2F when stage 2 has casts (else stops after the max).
    Streams: vec0 = x; arg0 = a, arg1 = b (fp32 bits); out vec0 = y."""
    x = np.asarray(x, np.float32)
    t = x.shape[0]
    stages = [Stage("fma", a="vec0", b="arg0", c="arg1", dst="r0"),
              Stage("fmax", a="r0", b="const", const=0.0, dst="r0")]
    y = nx.fp32_max(nx.fp32_muladd(x, np.float32(a), np.float32(b)), np.float32(0.0))
    casts = params.stages >= 4 and "cast" in params.classes_of(2) and "cast" in params.classes_of(3)
    if casts:
        stages += [Stage("f2bf", a="r0", dst="r1"), Stage("bf2f", a="r1", dst="r0")]
        y = nx.fp32_from_bf16(nx.bf16_from_fp32(y))
    prog = Program(name="map_fp32", counters=[Counter(t)], vec_in={0: "every"}, stages=stages,
                   vec_out={0: Out(reg="r0")})
    return Fragment("map_fp32", prog, {0: fp_words(x)}, {0: fp_words(y)},
                    args=[word(np.float32(a)), word(np.float32(b))], iterations=t,
                    useful_ops=len(stages) * x.size)


def counter_ramp(params, n_inner, n_outer, stride=3, lane_stride=1, start=5):
    """No inputs: ``y[lane] = c0 + lane·lane_stride + 1000·c1`` from two counters (the counter
    chain and the lane view). Out vec0 per iteration; out scal0 = c1 on each wrap of counter 0.
    Exercises counters, ``when = wrap0`` outputs and input-free issue."""
    _need(params.counters >= 2, "counter_ramp: needs 2 counters")
    prog = Program(name="counter_ramp",
                   counters=[Counter(n_inner, stride=stride, start=start, lane_stride=lane_stride),
                             Counter(n_outer)],
                   stages=[Stage("mul", a="ctr1", b="const", const=1000, dst="r1"),
                           Stage("add", a="ctr0", b="r1", dst="r0")],
                   vec_out={0: Out(reg="r0")},
                   scal_out={0: Out(reg="r1", when="wrap0", lane=params.lanes - 1)}
                   if params.scal_out else {})
    mask = (1 << params.counter_bits) - 1
    c0 = (start + stride * np.arange(n_inner)) & mask
    rows, outer = [], []
    for j in range(n_outer):
        for i in range(n_inner):
            rows.append(((c0[i] + lane_stride * np.arange(params.lanes)) & mask) + 1000 * j)
        outer.append(1000 * j)
    frag = Fragment("counter_ramp", prog, {}, {0: words(np.array(rows))},
                    iterations=n_inner * n_outer)
    if params.scal_out:
        frag.scal_out = {0: words(np.array(outer))}
    return frag


# --------------------------------------------------------------------------------------------
# Dot products and folds (reduction tree + accumulator)
# --------------------------------------------------------------------------------------------

def _tree_stages(params, src_stage_ops, op, reg="r0"):
    lg = _log2(params.lanes)
    _need(params.stages >= len(src_stage_ops) + lg,
          f"needs {len(src_stage_ops)} + log2(L) = {len(src_stage_ops) + lg} stages, PCU has "
          f"{params.stages}")
    stages = list(src_stage_ops) + [Stage("nop")] * (params.stages - lg - len(src_stage_ops))
    stages += [Stage(op, a=reg, b=f"tree({reg})", dist=k, dst=reg) for k in range(lg)]
    return stages


def _pad_groups(x, lanes, fill):
    x = np.asarray(x)
    n = x.shape[-1]
    g = max(1, -(-n // lanes))
    pad = g * lanes - n
    if pad:
        x = np.concatenate([x, np.full(x.shape[:-1] + (pad,), fill, x.dtype)], axis=-1)
    return x.reshape(x.shape[:-1] + (g, lanes)), g


def dot(params, a, b, dtype="int32"):
    """Dot products of the rows of ``a`` and ``b`` (``(M, K)``): ``K/L`` vectors per row, lane
    products (stage 0), the reduction tree over the last log2 L stages, the accumulator folds the
    groups; one scalar per row on scal0 (``when = wrap0``).

    Padding: ``K`` is padded to a multiple of L with ``a = -0.0, b = 1`` (fp32: the product is the
    additive identity) or zeros (int32). Golden: :func:`tb.golden.dot` (tree + sequential fold).
    Cost: ``M·ceil(K/L)`` cycles + latency.
    """
    _need(params.scal_out >= 1, "dot: needs a scalar output")
    fp = dtype == "fp32"
    L = params.lanes
    if fp:
        a, b = nx.fp32(a), nx.fp32(b)
        ga, g = _pad_groups(a, L, np.float32(-0.0))
        gb, _ = _pad_groups(b, L, np.float32(1.0))
        enc = fp_words
    else:
        a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
        ga, g = _pad_groups(a, L, 0)
        gb, _ = _pad_groups(b, L, 0)
        enc = words
    m = a.shape[0]
    stages = _tree_stages(params, [Stage("fmul" if fp else "mul", a="vec0", b="vec1", dst="r0")],
                          "fadd" if fp else "add")
    prog = Program(name=f"dot_{dtype}", counters=[Counter(g), Counter(m)],
                   vec_in={0: "every", 1: "every"}, stages=stages,
                   acc=Acc("fadd" if fp else "add", reg="r0", when="wrap0",
                           init=-0.0 if fp else 0),
                   scal_out={0: Out(src="acc", when="wrap0")})
    y = gk.dot(a, b, L, dtype)
    return Fragment(f"dot_{dtype}", prog, {0: enc(ga.reshape(-1, L)), 1: enc(gb.reshape(-1, L))},
                    {}, scal_out={0: enc(y)}, iterations=m * g, useful_ops=2 * a.size)


def fold(params, x, op="fmax"):
    """Row folds of ``x`` (``(M, K)``): ``fmax`` (softmax's running max, identity -inf), ``fadd``
    (sum, identity -0.0), ``max`` / ``add`` (int32). Reduction tree + accumulator; scal0 per row.
    Golden: :func:`tb.golden.order.reduce_max` / ``reduce_add``."""
    _need(params.scal_out >= 1, "fold: needs a scalar output")
    L = params.lanes
    fp = op.startswith("f")
    ident = {"fmax": np.float32(-np.inf), "fadd": np.float32(-0.0), "add": 0,
             "max": -(1 << 31)}[op]
    if fp:
        x = nx.fp32(x)
        enc = fp_words
    else:
        x = np.asarray(x, np.int64)
        enc = words
    gx, g = _pad_groups(x, L, ident)
    stages = _tree_stages(params, [Stage("pass", a="vec0", dst="r0")], op)
    prog = Program(name=f"fold_{op}", counters=[Counter(g), Counter(x.shape[0])],
                   vec_in={0: "every"}, stages=stages,
                   acc=Acc(op, reg="r0", when="wrap0", init=ident if fp else int(ident)),
                   scal_out={0: Out(src="acc", when="wrap0")})
    if op == "fmax":
        y = go.reduce_max(x, L)
    elif op == "fadd":
        y = go.reduce_add(x, L)
    elif op == "add":
        y = go.reduce_add(x, L, "int32")
    else:
        y = x.max(axis=-1)
    return Fragment(f"fold_{op}", prog, {0: enc(gx.reshape(-1, L))}, {}, scal_out={0: enc(y)},
                    iterations=x.shape[0] * g, useful_ops=x.size)
