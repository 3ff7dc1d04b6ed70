"""Kernel-fragment library: PCU programs for the pieces the compiler places on the fabric.

Every function takes the PCU's :class:`~hw.params.pcu.PCUParams` and the fragment's data and
returns a :class:`Fragment`: the :class:`~tiles.pcu_asm.Program`, the input streams it consumes, and
the output streams it must produce, computed by the fragment's golden function (``hw.golden`` or the
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
from hw.golden import kernels as gk
from hw.golden import order as go
from hw.util import log2_exact

from .pcu_asm import (
    Acc,
    AsmError,
    Carry,
    Counter,
    In,
    Out,
    Program,
    Stage,
    Stationary,
    assemble,
    word,
)

__all__ = ["Fragment", "map_int", "map_fixed", "map_fp32", "counter_ramp",
           "dot", "fold", "running_max", "gemm_systolic", "gemm_systolic_kchain", "gemm_simd", "prefix_sum", "prefix_sum_baseline",
           "linear_scan", "linear_scan_baseline", "fft_level", "fft_level_golden", "interleave",
           "fft_level_baseline", "permute_lanes",
           "softmax_exp", "softmax_scale", "exp2_map", "recip_map"]


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
    #: False: the PCU already holds this program; only the argument registers are written
    reload: bool = True

    def assemble(self, params):
        return assemble(params, self.program)


def _need(cond, msg):
    if not cond:
        raise AsmError(msg)


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
    return Fragment("map_int", prog, {0: nx.int_words(a), 1: nx.int_words(b)},
                    {0: nx.int_words(y)}, args=[bias], iterations=t, useful_ops=3 * a.size)


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
    return Fragment("map_fixed", prog, {0: nx.int_words(x), 1: nx.int_words(w)},
                    {0: nx.int_words(y)}, scal_in={0: nx.int_words(off)}, iterations=t,
                    useful_ops=2 * x.size)


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
    return Fragment("map_fp32", prog, {0: nx.fp32_words(x)}, {0: nx.fp32_words(y)},
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
    frag = Fragment("counter_ramp", prog, {}, {0: nx.int_words(np.array(rows))},
                    iterations=n_inner * n_outer)
    if params.scal_out:
        frag.scal_out = {0: nx.int_words(np.array(outer))}
    return frag


# --------------------------------------------------------------------------------------------
# Dot products and folds (reduction tree + accumulator)
# --------------------------------------------------------------------------------------------

def _tree_stages(params, src_stage_ops, op, reg="r0"):
    lg = log2_exact(params.lanes)
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
    additive identity) or zeros (int32). Golden: :func:`hw.golden.dot` (tree + sequential fold).
    Cost: ``M·ceil(K/L)`` cycles + latency.
    """
    _need(params.scal_out >= 1, "dot: needs a scalar output")
    fp = dtype == "fp32"
    L = params.lanes
    if fp:
        a, b = nx.fp32(a), nx.fp32(b)
        ga, g = _pad_groups(a, L, np.float32(-0.0))
        gb, _ = _pad_groups(b, L, np.float32(1.0))
        enc = nx.fp32_words
    else:
        a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
        ga, g = _pad_groups(a, L, 0)
        gb, _ = _pad_groups(b, L, 0)
        enc = nx.int_words
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
    Golden: :func:`hw.golden.order.reduce_max` / ``reduce_add``."""
    _need(params.scal_out >= 1, "fold: needs a scalar output")
    L = params.lanes
    fp = op.startswith("f")
    ident = {"fmax": np.float32(-np.inf), "fadd": np.float32(-0.0), "add": 0,
             "max": -(1 << 31)}[op]
    if fp:
        x = nx.fp32(x)
        enc = nx.fp32_words
    else:
        x = np.asarray(x, np.int64)
        enc = nx.int_words
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


def running_max(params, x):
    """Lane-wise running maximum over the groups of each row of ``x`` (``(rows, G·L)``), the
    statistic of streaming softmax: per iteration (group g of a row) vec_out[0] = the maximum
    *before* this group (``Out(src="acc_prev")``: -inf on a row's first group) and vec_out[1] =
    the maximum *after* it (``Out(src="acc")``); an ``fmax`` accumulator restarting per row.
    Golden: sequential ``numerics.fp32_max`` per lane. Needs fp32 in the last stage and 2 vector
    outputs. Cost: rows·G cycles + latency."""
    L = params.lanes
    _need(params.vec_out >= 2, "running_max: needs 2 vector outputs")
    _need("fp32" in params.classes_of(params.stages - 1),
          "running_max: needs fp32 in the last stage (accumulator)")
    x = nx.fp32(np.atleast_2d(x))
    _need(x.shape[1] % L == 0, f"running_max: row length {x.shape[1]} must be a multiple of L = {L}")
    g = x.shape[1] // L
    xs = x.reshape(x.shape[0], g, L)
    before, after = [], []
    for r in range(x.shape[0]):
        cur = np.full(L, -np.inf, np.float32)
        for j in range(g):
            before.append(cur)
            cur = nx.fp32_max(cur, xs[r, j])
            after.append(cur)
    prog = Program(name="running_max", counters=[Counter(g), Counter(x.shape[0])],
                   vec_in={0: "every"}, stages=[Stage("pass", a="vec0", dst="r0")],
                   acc=Acc("fmax", reg="r0", when="wrap0", init=-np.inf),
                   vec_out={0: Out(src="acc_prev"), 1: Out(src="acc")})
    return Fragment("running_max", prog, {0: nx.fp32_words(xs.reshape(-1, L))},
                    {0: nx.fp32_words(np.array(before)), 1: nx.fp32_words(np.array(after))},
                    iterations=x.shape[0] * g, useful_ops=x.size)


# --------------------------------------------------------------------------------------------
# GEMM: systolic (weight-stationary) and the baseline SIMD form
# --------------------------------------------------------------------------------------------

_GEMM = {"int16": ("int32", "muladd", 0, 0, 1), "bf16": ("fp32", "fma", -0.0, -0.0, 1.0),
         "fp32": ("fp32", "fma", -0.0, -0.0, 1.0)}


def _gemm_prep(a, b, dtype, k_pad, n_pad):
    """Inputs as the hardware sees them (bf16-rounded for bf16) padded to ``k_pad`` × ``n_pad``:
    padded k use ``a = -0.0``/``b = 1`` (fp: the product is the additive identity) or 0 (int)."""
    if dtype not in _GEMM:
        raise AsmError(f"gemm: dtype = {dtype!r}: must be one of {', '.join(_GEMM)}")
    acc, _, _, apad, bpad = _GEMM[dtype]
    a, b = gk._gemm_inputs(a, b, dtype)
    m, k = a.shape
    n = b.shape[1]
    if acc == "fp32":
        ap = np.full((m, k_pad), np.float32(apad), np.float32)
        bp = np.zeros((k_pad, n_pad), np.float32)
        bp[k:, :] = np.float32(bpad)
    else:
        ap = np.zeros((m, k_pad), np.int64)
        bp = np.zeros((k_pad, n_pad), np.int64)
    ap[:, :k] = a
    bp[:k, :n] = b
    return ap, bp, (nx.fp32_words if acc == "fp32" else nx.int_words)


def _gemm_continue(c, a, b, dtype):
    """Continue a GEMM accumulation from partial sums ``c`` (``None``: the identity) over the
    columns of ``a`` / rows of ``b`` in order — :func:`hw.golden.gemm`'s order, so chaining K
    blocks gives exactly ``gemm`` of the whole K."""
    d = go.Dtype(_GEMM[dtype][0])
    if c is None:
        c = np.full((a.shape[0], b.shape[1]), d.zero, d.np)
    for kk in range(a.shape[1]):
        c = d.add(c, d.mul(a[:, kk, None], b[None, kk, :]))
    return c


def gemm_systolic(params, a, b, dtype="bf16", psum=None):
    """Weight-stationary systolic GEMM tile: ``C = psum + A·B`` with ``A`` ``(M, K)``,
    ``K <= min(S, L)``,
    ``B`` ``(K, N)`` (N padded to a multiple of L: ``N/L`` column tiles).

    Per column tile: S *load iterations* pop the rows of B (vec1: ``B[s, tile]``) into stage s's
    stationary registers; then M compute iterations each pop one A row (vec0, lanes 0..K-1) and, if
    ``psum`` is given, one partial-sum vector (vec1, after the weights). Stage s computes
    ``r0 = bvec0[s]·stat + (s == 0 ? psum : r0)`` — ``fma`` (fp32 accumulate of bf16/fp32 inputs,
    unfused: the bf16 product is exact) or ``muladd`` (int16 → int32 wrap) — so one output row
    of L partial sums leaves per cycle: L×S MACs per cycle in steady state. Out vec0: C rows.

    ``psum`` ``(M, N)`` chains K blocks longer than S; the golden is :func:`hw.golden.gemm`'s
    sequential order (``c = c + a[:, k]·b[k]`` from -0.0), continued from ``psum``.
    Cost: ``tiles·(S + M)`` issue cycles + latency.
    """
    S, L = params.stages, params.lanes
    _need(params.systolic, "gemm_systolic: needs the systolic extension (pcu.systolic)")
    a = np.asarray(a)
    b = np.asarray(b)
    kmax = min(S, L)      # an A row travels as one vector: at most L of its elements
    _need(a.shape[1] <= kmax, f"gemm_systolic: K = {a.shape[1]} exceeds min(stages, lanes) = "
                              f"{kmax}; chain K blocks through psum")
    m, n = a.shape[0], b.shape[1]
    tiles = max(1, -(-n // L))
    acc, op, ident, _, _ = _GEMM[dtype]
    ap, bp, enc = _gemm_prep(a, b, dtype, kmax, tiles * L)
    c = _gemm_continue(None if psum is None else np.asarray(psum), ap, bp, dtype)
    vec0, vec1 = [], []
    for t in range(tiles):
        cols = slice(t * L, (t + 1) * L)
        row = np.zeros((m, L), ap.dtype)
        row[:, :kmax] = ap
        vec0.append(enc(row))
        wts = np.zeros((S, L), bp.dtype)
        wts[:kmax] = bp[:, cols]
        vec1.append(enc(wts))
        if psum is not None:
            ps = np.zeros((m, tiles * L), ap.dtype)
            ps[:, :n] = np.asarray(psum)[:, :n]
            vec1.append(enc(ps[:, cols]))
    stages = []
    for s in range(kmax):
        c_src = ("vec1" if psum is not None else "const") if s == 0 else "r0"
        stages.append(Stage(op, a="bvec0", lane=s, b="stat", c=c_src, const=ident, dst="r0"))
    prog = Program(name=f"gemm_systolic_{dtype}", counters=[Counter(m), Counter(tiles)],
                   vec_in={0: "every", 1: "every" if psum is not None else "never"},
                   stationary=Stationary(vec=1, level=0), stages=stages,
                   vec_out={0: Out(reg="r0")})
    out = np.concatenate([enc(c[:, t * L:(t + 1) * L]) for t in range(tiles)])
    return Fragment(prog.name, prog, {0: np.concatenate(vec0), 1: np.concatenate(vec1)},
                    {0: out}, iterations=m * tiles, loads=S * tiles,
                    useful_ops=a.shape[0] * a.shape[1] * n)


def gemm_systolic_kchain(params, a, b, dtype="bf16"):
    """Systolic GEMM with ``K`` longer than the stages: ``K`` is cut into ``nk`` chunks of
    ``kc = min(S, L)`` (the last padded with identity products) and the partial sums of chunk q
    come back for chunk q+1 through a feedback loop (a PMU FIFO on the fabric). Counters
    ``[M, nk, tiles]``; per (tile, chunk) S load iterations pop that chunk's rows of B (vec1).

    * vec0: A rows (lanes 0..kc-1 = the chunk's k), popped every iteration;
    * vec2: partial sums, ``In("notfirst1", init=identity)`` — not needed in the first chunk,
      where stage 0 adds the identity (-0.0 / 0) instead;
    * vec_out[1]: partial sums, ``Out(when="notlast1")`` (→ the feedback loop → vec2);
    * vec_out[0]: C rows, ``Out(when="last1")`` (→ an AGCU store).

    In a test without the loop, vec2 is fed with exactly the stream vec_out[1] produces
    (``Fragment.vec_in[2] == Fragment.vec_out[1]``). Golden: :func:`hw.golden.gemm` (the k order
    is sequential, so chaining chunks gives the same bits). Needs systolic, 3 vector inputs, 2
    vector outputs, 3 counters. Cost: ``tiles·nk·(S + M)`` issue cycles + latency."""
    S, L = params.stages, params.lanes
    _need(params.systolic, "gemm_systolic_kchain: needs the systolic extension (pcu.systolic)")
    _need(params.vec_in >= 3 and params.vec_out >= 2 and params.counters >= 3,
          f"gemm_systolic_kchain: needs 3 vector inputs, 2 vector outputs and 3 counters (PCU has "
          f"{params.vec_in}, {params.vec_out}, {params.counters})")
    a, b = np.asarray(a), np.asarray(b)
    m, k = a.shape
    n = b.shape[1]
    kc = min(S, L)
    nk = max(1, -(-k // kc))
    tiles = max(1, -(-n // L))
    acc, op, ident, _, _ = _GEMM[dtype]
    ap, bp, enc = _gemm_prep(a, b, dtype, nk * kc, tiles * L)
    parts = []
    c = None
    for q in range(nk):
        c = _gemm_continue(c, ap[:, q * kc:(q + 1) * kc], bp[q * kc:(q + 1) * kc], dtype)
        parts.append(c)
    vec0, vec1, vec2, out1, out0 = [], [], [], [], []
    for t in range(tiles):
        cols = slice(t * L, (t + 1) * L)
        for q in range(nk):
            row = np.zeros((m, L), ap.dtype)
            row[:, :kc] = ap[:, q * kc:(q + 1) * kc]
            vec0.append(enc(row))
            wts = np.zeros((S, L), bp.dtype)
            wts[:kc] = bp[q * kc:(q + 1) * kc, cols]
            vec1.append(enc(wts))
            if q:
                vec2.append(enc(parts[q - 1][:, cols]))
            if q < nk - 1:
                out1.append(enc(parts[q][:, cols]))
        out0.append(enc(parts[-1][:, cols]))
    stages = [Stage(op, a="bvec0", lane=s, b="stat", c="vec2" if s == 0 else "r0", dst="r0")
              for s in range(kc)]
    prog = Program(name=f"gemm_systolic_kchain_{dtype}",
                   counters=[Counter(m), Counter(nk), Counter(tiles)],
                   vec_in={0: "every", 2: In("notfirst1", init=ident)},
                   stationary=Stationary(vec=1, level=0), stages=stages,
                   vec_out={0: Out(reg="r0", when="last1"), 1: Out(reg="r0", when="notlast1")})
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros((0, L), np.uint32)
    return Fragment(prog.name, prog, {0: cat(vec0), 1: cat(vec1), 2: cat(vec2)},
                    {0: cat(out0), 1: cat(out1)}, iterations=m * nk * tiles, loads=S * nk * tiles,
                    useful_ops=m * k * n)


def gemm_simd(params, a, b, dtype="bf16"):
    """The baseline GEMM without the systolic extension (same bits): lane n owns column n; per
    (row m, k) iteration, stage 0 multiplies the scalar ``a[m, k]`` (scal0) by the row
    ``B[k, tile]`` (vec0) and the per-lane accumulator adds it in k order from -0.0 / 0
    (``hw.golden.gemm`` order); out vec0 = one C row per ``K`` iterations. L MACs per cycle.
    Cost: ``tiles·M·K`` cycles + latency."""
    L = params.lanes
    _need(params.scal_in >= 1, "gemm_simd: needs a scalar input")
    a = np.asarray(a)
    b = np.asarray(b)
    m, k = a.shape
    n = b.shape[1]
    tiles = max(1, -(-n // L))
    acc, _, ident, _, _ = _GEMM[dtype]
    ap, bp, enc = _gemm_prep(a, b, dtype, k, tiles * L)
    c = _gemm_continue(None, ap, bp, dtype)
    fp = acc == "fp32"
    vec0, sc0 = [], []
    for t in range(tiles):
        for mm in range(m):
            vec0.append(enc(bp[:, t * L:(t + 1) * L]))
            sc0.append(enc(ap[mm]))
    prog = Program(name=f"gemm_simd_{dtype}", counters=[Counter(k), Counter(m * tiles)],
                   vec_in={0: "every"}, scal_in={0: "every"},
                   stages=[Stage("fmul" if fp else "mul", a="scal0", b="vec0", dst="r0")],
                   acc=Acc("fadd" if fp else "add", reg="r0", when="wrap0", init=ident),
                   vec_out={0: Out(src="acc", when="wrap0")})
    out = np.concatenate([enc(c[:, t * L:(t + 1) * L]) for t in range(tiles)])
    return Fragment(prog.name, prog, {0: np.concatenate(vec0)}, {0: out},
                    scal_in={0: np.concatenate(sc0)}, iterations=tiles * m * k,
                    useful_ops=m * k * n)


# --------------------------------------------------------------------------------------------
# Scans
# --------------------------------------------------------------------------------------------

def prefix_sum(params, x, dtype="fp32"):
    """Inclusive prefix sums of the rows of ``x`` (``(B, T)``) with the ``scan`` extension:
    stages 0..log2L-1 are Kogge-Stone steps ``r0 = shift(r0) + r0`` on lanes ``i >= 2**k`` (stage
    0 reads the input vector as r0); stage log2L adds the carry (lane L-1 of the previous group,
    -0.0 / 0 at the start of each row). Rows padded with the identity to a multiple of L.
    Streams: vec0 = groups of L; out vec0. Golden: :func:`hw.golden.prefix_sum` (``lanes = L``).
    Cost: ``B·T/L`` cycles + latency (the carry unit closes the loop in one cycle)."""
    L = params.lanes
    lg = log2_exact(L)
    _need(params.scan, "prefix_sum: needs the scan extension (pcu.scan); see "
                       "prefix_sum_baseline")
    _need(params.stages >= lg + 1, f"prefix_sum: needs log2(L) + 1 = {lg + 1} stages, PCU has "
                                   f"{params.stages}")
    fp = dtype == "fp32"
    x = nx.fp32(x) if fp else np.asarray(x, np.int64)
    x = np.atleast_2d(x)
    ident = np.float32(-0.0) if fp else 0
    gx, g = _pad_groups(x, L, ident)
    add = "fadd" if fp else "add"
    stages = [Stage(add, a="shift(r0)", b="r0", mask="ge", dist=k, dst="r0") for k in range(lg)]
    stages.append(Stage(add, a="carry", b="r0", dst="r0"))
    prog = Program(name=f"prefix_sum_{dtype}", counters=[Counter(g), Counter(x.shape[0])],
                   vec_in={0: "every"}, stages=stages, carry=Carry(init=ident, level=0),
                   vec_out={0: Out(reg="r0")})
    enc = nx.fp32_words if fp else nx.int_words
    y = gk.prefix_sum(gx.reshape(x.shape[0], -1), L, "fp32" if fp else "int32")
    return Fragment(prog.name, prog, {0: enc(gx.reshape(-1, L))}, {0: enc(y.reshape(-1, L))},
                    iterations=g * x.shape[0], useful_ops=x.size)


def prefix_sum_baseline(params, x, dtype="fp32"):
    """Prefix sums without the scan extension: the per-lane accumulator runs each row
    sequentially (lane j holds row j; vector t = element t of every row): ``acc = acc + x_t``,
    output every iteration. Golden: :func:`hw.golden.prefix_sum` with ``lanes = 1`` (sequential)
    — for int32 the same bits as :func:`prefix_sum`; for fp32 the sequential order. Cost: ``T``
    cycles per L rows (one row: T cycles, one lane busy)."""
    L = params.lanes
    fp = dtype == "fp32"
    x = nx.fp32(x) if fp else np.asarray(x, np.int64)
    x = np.atleast_2d(x)
    _need(x.shape[0] <= L, f"prefix_sum_baseline: {x.shape[0]} rows > {L} lanes")
    ident = np.float32(-0.0) if fp else 0
    t = x.shape[1]
    cols = np.full((t, L), ident, x.dtype)
    cols[:, :x.shape[0]] = x.T
    prog = Program(name=f"prefix_sum_baseline_{dtype}", counters=[Counter(t)], vec_in={0: "every"},
                   acc=Acc("fadd" if fp else "add", reg="r0", when="wrap0", init=ident),
                   vec_out={0: Out(src="acc")})
    y = gk.prefix_sum(cols.T, 1, "fp32" if fp else "int32").T
    enc = nx.fp32_words if fp else nx.int_words
    return Fragment(prog.name, prog, {0: enc(cols)}, {0: enc(y)}, iterations=t,
                    useful_ops=x.size)


def linear_scan(params, a, b, h0=-0.0):
    """``h_t = a_t·h_{t-1} + b_t`` (fp32) over a row with the ``scan`` extension: per group of L,
    log2 L Kogge-Stone pair steps of two stages each (``B = A·shift(B) + B`` then
    ``A = shift(A)·A``, lanes ``i >= 2**k``), then ``h = A·carry + B`` (stage 2·log2L).
    Streams: vec0 = a, vec1 = b (groups of L); out vec0 = h. Golden: :func:`hw.golden.linear_scan`
    (``lanes = L``). Needs ``2·log2(L) + 1`` stages. Cost: ``T/L`` cycles + latency."""
    L = params.lanes
    lg = log2_exact(L)
    _need(params.scan, "linear_scan: needs the scan extension (pcu.scan); see "
                       "linear_scan_baseline")
    _need(params.stages >= 2 * lg + 1, f"linear_scan: needs 2·log2(L) + 1 = {2 * lg + 1} stages, "
                                       f"PCU has {params.stages}")
    a, b = nx.fp32(a).reshape(-1), nx.fp32(b).reshape(-1)
    ga, g = _pad_groups(a, L, np.float32(1.0))
    gb, _ = _pad_groups(b, L, np.float32(-0.0))
    stages = []
    for k in range(lg):
        stages.append(Stage("fma", a="r0", b="shift(r1)", c="r1", mask="ge", dist=k, dst="r1"))
        stages.append(Stage("fmul", a="shift(r0)", b="r0", mask="ge", dist=k, dst="r0"))
    stages.append(Stage("fma", a="r0", b="carry", c="r1", dst="r1"))
    prog = Program(name="linear_scan", counters=[Counter(g)], vec_in={0: "every", 1: "every"},
                   stages=stages, carry=Carry(init=h0, level=0), vec_out={0: Out(reg="r1")})
    h = gk.linear_scan(ga.reshape(-1), gb.reshape(-1), L, h0=np.float32(h0))
    return Fragment("linear_scan", prog, {0: nx.fp32_words(ga), 1: nx.fp32_words(gb)},
                    {0: nx.fp32_words(h.reshape(-1, L))}, iterations=g, useful_ops=3 * a.size)


def linear_scan_baseline(params, a, b, h0=-0.0):
    """The linear recurrence without the scan extension: the per-lane accumulator in ``fma`` mode
    runs ``h = h·a_t + b_t`` sequentially, lane j = sequence j (vec0 = a_t, vec1 = b_t for every
    lane; out vec0 = h_t every iteration). Golden: :func:`hw.golden.linear_scan` with ``lanes = 1``
    (the sequential order). ``a``, ``b``: ``(rows <= L, T)``. Cost: T cycles per L sequences."""
    L = params.lanes
    _need("fp32" in params.classes_of(params.stages - 1),
          "linear_scan_baseline: needs fp32 in the last stage (accumulator)")
    _need(params.regs >= 2, "linear_scan_baseline: needs 2 registers")
    a, b = np.atleast_2d(nx.fp32(a)), np.atleast_2d(nx.fp32(b))
    _need(a.shape[0] <= L, f"linear_scan_baseline: {a.shape[0]} rows > {L} lanes")
    t = a.shape[1]
    ca = np.ones((t, L), np.float32)
    cb = np.full((t, L), np.float32(-0.0), np.float32)
    ca[:, :a.shape[0]] = a.T
    cb[:, :b.shape[0]] = b.T
    prog = Program(name="linear_scan_baseline", counters=[Counter(t)],
                   vec_in={0: "every", 1: "every"},
                   acc=Acc("fma", reg="r0", when="wrap0", init=h0), vec_out={0: Out(src="acc")})
    h = gk.linear_scan(ca.T, cb.T, 1, h0=np.float32(h0)).T
    return Fragment(prog.name, prog, {0: nx.fp32_words(ca), 1: nx.fp32_words(cb)},
                    {0: nx.fp32_words(h)}, iterations=t, useful_ops=2 * a.size)


# --------------------------------------------------------------------------------------------
# FFT: one radix-2 DIF level inside a vector (butterfly extension)
# --------------------------------------------------------------------------------------------

def interleave(re, im):
    """Complex data as the FFT fragments stream it: words ``[re0, im0, re1, im1, ...]``."""
    re, im = nx.fp32(re), nx.fp32(im)
    out = np.empty(re.shape[:-1] + (2 * re.shape[-1],), np.float32)
    out[..., 0::2] = re
    out[..., 1::2] = im
    return out


def fft_level_golden(re, im, h, n):
    """One radix-2 DIF level of span ``h`` over blocks of ``2h`` (the step of
    :func:`hw.golden.fft_dif_stages` for that ``h``, twiddles ``W_n^(j·n/2h)``), last axis."""
    w = nx.twiddles(n)
    wr, wi = nx.fp32(w.real), nx.fp32(w.imag)
    shape = re.shape[:-1] + (re.shape[-1] // (2 * h), 2, h)
    r, i = re.reshape(shape), im.reshape(shape)
    ar, ai, br, bi = r[..., 0, :], i[..., 0, :], r[..., 1, :], i[..., 1, :]
    sr, si = nx.fp32_add(ar, br), nx.fp32_add(ai, bi)
    dr, di = nx.fp32_sub(ar, br), nx.fp32_sub(ai, bi)
    tw = np.arange(h) * (n // (2 * h))
    pr, pi = gk._cmul(dr, di, wr[tw], wi[tw])
    return (np.stack([sr, pr], axis=-2).reshape(re.shape),
            np.stack([si, pi], axis=-2).reshape(im.shape))


def fft_level(params, re, im, h):
    """One DIF level of span ``h`` (complex points) on FFTs of length ``n = L/2`` that each fill
    one vector, complex-interleaved (:func:`interleave`), with the ``butterfly`` network:

    * stage 0: ``r0 = bfly(r0) + (±r0)`` at lane distance 2h (top lanes ``a + b``; bottom lanes,
      whose operand a is negated, ``a - b``);
    * stage 1: ``r2 = bfly(r0)`` at distance 1 (swap re/im of each point);
    * stage 2 (bottom lanes): ``r1 = r0 · wr``; stage 3 (bottom lanes): ``r0 = r2·(∓wi) + r1`` —
      the complex twiddle multiply with every product and sum rounded as in the golden.

    ``re``, ``im``: ``(B, L/2)`` (a batch of FFTs). Out vec0: interleaved result.
    Golden: :func:`fft_level_golden` (one step of :func:`hw.golden.fft_dif_stages`); running
    ``h = n/2, ..., 1`` gives ``fft_dif_stages`` exactly. Cost: B cycles + latency."""
    L = params.lanes
    n = L // 2
    _need(params.butterfly, "fft_level: needs the butterfly extension (pcu.butterfly)")
    _need(params.stages >= 4 and params.regs >= 3, "fft_level: needs 4 stages and 3 registers")
    _need(1 <= h <= n // 2 and h & (h - 1) == 0, f"fft_level: h = {h}: must be a power of two "
                                                 f"in 1..{n // 2} (n = L/2 = {n})")
    re, im = np.atleast_2d(nx.fp32(re)), np.atleast_2d(nx.fp32(im))
    _need(re.shape[-1] == n, f"fft_level: rows must have n = L/2 = {n} points")
    w = nx.twiddles(n)
    wr, wi = nx.fp32(w.real), nx.fp32(w.imag)
    c1 = np.zeros(L, np.float32)
    c2 = np.zeros(L, np.float32)
    for j in range(n):
        t = j % (2 * h)
        if t >= h:
            k = (t - h) * (n // (2 * h))
            c1[2 * j] = c1[2 * j + 1] = wr[k]
            c2[2 * j] = nx.fp32_neg(wi[k])
            c2[2 * j + 1] = wi[k]
    d = log2_exact(2 * h)
    stages = [Stage("fadd", a="r0", neg="fp", b="bfly(r0)", dist=d, dst="r0"),
              Stage("pass", a="bfly(r0)", dist=0, dst="r2"),
              Stage("fmul", a="r0", b="const", const=list(c1), mask="bit", dist=d, dst="r1"),
              Stage("fma", a="r2", b="const", c="r1", const=list(c2), mask="bit", dist=d,
                    dst="r0")]
    prog = Program(name=f"fft_level_h{h}", counters=[Counter(re.shape[0])], vec_in={0: "every"},
                   stages=stages, vec_out={0: Out(reg="r0")})
    yr, yi = fft_level_golden(re, im, h, n)
    return Fragment(prog.name, prog, {0: nx.fp32_words(interleave(re, im))},
                    {0: nx.fp32_words(interleave(yr, yi))}, iterations=re.shape[0],
                    useful_ops=re.shape[0] * n * 5)


# --------------------------------------------------------------------------------------------
# exp2 / reciprocal / softmax pieces (tail extension)
# --------------------------------------------------------------------------------------------

def _need_tail(params, what):
    _need(params.tail, f"{what}: needs the tail extension (pcu.tail): exp2 and reciprocal "
                       f"are table lookups that only the tail stage has")


def softmax_exp(params, x, m):
    """``p = exp2((x - m)·log2e)`` row-wise: stage 0 ``fsub`` (m from scal0, popped once per row),
    stage 1 ``fmul`` by LOG2E, tail ``exp2``. ``x``: ``(rows, K)`` (K a multiple of L), ``m``:
    ``(rows,)``. Out vec0 = p. Golden: the ``p`` of :func:`hw.golden.softmax`."""
    _need_tail(params, "softmax_exp")
    L = params.lanes
    x = nx.fp32(x)
    _need(x.shape[1] % L == 0, f"softmax_exp: K = {x.shape[1]} must be a multiple of L = {L}")
    g = x.shape[1] // L
    prog = Program(name="softmax_exp", counters=[Counter(g), Counter(x.shape[0])],
                   vec_in={0: "every"}, scal_in={0: "wrap0"},
                   stages=[Stage("fsub", a="vec0", b="scal0", dst="r0"),
                           Stage("fmul", a="r0", b="const", const=nx.LOG2E, dst="r0")],
                   tail=Stage("exp2", a="r0", dst="r0"), vec_out={0: Out(reg="r0")})
    p = nx.exp2(nx.fp32_mul(nx.fp32_sub(x, nx.fp32(m)[:, None]), nx.LOG2E))
    return Fragment("softmax_exp", prog, {0: nx.fp32_words(x.reshape(-1, L))},
                    {0: nx.fp32_words(p.reshape(-1, L))}, scal_in={0: nx.fp32_words(m)},
                    iterations=g * x.shape[0], useful_ops=3 * x.size)


def recip_map(params, s):
    """``1/s`` for a scalar stream (tail ``recip`` of scal0; out scal0). Golden:
    :func:`hw.numerics.reciprocal`."""
    _need_tail(params, "recip_map")
    _need(params.scal_in >= 1 and params.scal_out >= 1, "recip_map: needs scalar in and out")
    s = nx.fp32(s).reshape(-1)
    prog = Program(name="recip_map", counters=[Counter(len(s))], scal_in={0: "every"},
                   tail=Stage("recip", a="scal0", dst="r0"), scal_out={0: Out(reg="r0")})
    return Fragment("recip_map", prog, {}, {}, scal_in={0: nx.fp32_words(s)},
                    scal_out={0: nx.fp32_words(nx.reciprocal(s))}, iterations=len(s),
                    useful_ops=len(s))


def exp2_map(params, x):
    """Elementwise ``exp2`` (tail stage) and, in the same pass, ``int_from_fp32`` of the result
    would need a second tail op; this is the plain map. Out vec0. Golden: ``numerics.exp2``."""
    _need_tail(params, "exp2_map")
    L = params.lanes
    x = nx.fp32(x).reshape(-1, L)
    prog = Program(name="exp2_map", counters=[Counter(x.shape[0])], vec_in={0: "every"},
                   tail=Stage("exp2", a="vec0", dst="r0"), vec_out={0: Out(reg="r0")})
    return Fragment("exp2_map", prog, {0: nx.fp32_words(x)}, {0: nx.fp32_words(nx.exp2(x))},
                    iterations=x.shape[0], useful_ops=x.size)


def softmax_scale(params, p, r):
    """``y = p·r`` row-wise (r = 1/sum from scal0, popped once per row). Golden: the last step of
    :func:`hw.golden.softmax`."""
    L = params.lanes
    p = nx.fp32(p)
    g = p.shape[1] // L
    prog = Program(name="softmax_scale", counters=[Counter(g), Counter(p.shape[0])],
                   vec_in={0: "every"}, scal_in={0: "wrap0"},
                   stages=[Stage("fmul", a="vec0", b="scal0", dst="r0")],
                   vec_out={0: Out(reg="r0")})
    y = nx.fp32_mul(p, nx.fp32(r)[:, None])
    return Fragment("softmax_scale", prog, {0: nx.fp32_words(p.reshape(-1, L))},
                    {0: nx.fp32_words(y.reshape(-1, L))}, scal_in={0: nx.fp32_words(r)},
                    iterations=g * p.shape[0], useful_ops=p.size)


def permute_lanes(words_, dist):
    """Vector words with lane i replaced by lane ``i XOR dist`` — the partner-permuted copy a PMU
    delivers (duplication-mode gather) for :func:`fft_level_baseline`."""
    w = np.asarray(words_)
    return w[..., np.arange(w.shape[-1]) ^ dist]


def fft_level_baseline(params, re, im, h):
    """The DIF level of :func:`fft_level` *without* the butterfly network (same bits): two passes,
    each reading a vector and its lane-permuted copy (``permute_lanes``, supplied by a PMU):

    * pass 1 (vec0 = x, vec1 = x permuted by lane XOR 2h): ``r0 = x + xp``, ``r1 = xp - x``,
      ``y = sel(r0, r1, top-lane mask)`` — the butterfly sums and differences;
    * pass 2 (vec0 = y, vec1 = y permuted by lane XOR 1, i.e. re/im swapped):
      ``r1 = y·wr``, ``r0 = ysw·(∓wi) + r1``, ``out = sel(r0, y, bottom-lane mask)``.

    Returns ``[pass1, pass2]``; pass 2's input is pass 1's output. Cost: 2·B cycles and four input
    vectors per output vector, vs B cycles and one input vector with ``butterfly``."""
    L = params.lanes
    n = L // 2
    _need(params.stages >= 3 and params.regs >= 2, "fft_level_baseline: needs 3 stages, 2 registers")
    _need(1 <= h <= n // 2 and h & (h - 1) == 0, f"fft_level_baseline: h = {h}: must be a power "
                                                 f"of two in 1..{n // 2} (n = L/2 = {n})")
    re, im = np.atleast_2d(nx.fp32(re)), np.atleast_2d(nx.fp32(im))
    w = nx.twiddles(n)
    wr, wi = nx.fp32(w.real), nx.fp32(w.imag)
    c1 = np.zeros(L, np.float32)
    c2 = np.zeros(L, np.float32)
    top = np.zeros(L, np.int64)
    for j in range(n):
        t = j % (2 * h)
        if t >= h:
            k = (t - h) * (n // (2 * h))
            c1[2 * j] = c1[2 * j + 1] = wr[k]
            c2[2 * j] = nx.fp32_neg(wi[k])
            c2[2 * j + 1] = wi[k]
        else:
            top[2 * j] = top[2 * j + 1] = 1
    b = re.shape[0]
    x = nx.fp32_words(interleave(re, im))
    p1 = Program(name=f"fft_level_h{h}_base1", counters=[Counter(b)],
                 vec_in={0: "every", 1: "every"},
                 stages=[Stage("fadd", a="vec0", b="vec1", dst="r0"),
                         Stage("fsub", a="vec1", b="vec0", dst="r1"),
                         Stage("sel", a="r0", b="r1", c="const", const=[int(v) for v in top],
                               dst="r0")],
                 vec_out={0: Out(reg="r0")})
    # pass-1 result: the golden butterfly sums/differences (the twiddle step with W = 1 is not
    # applied to the differences yet)
    shape = re.shape[:-1] + (n // (2 * h), 2, h)
    r, i = re.reshape(shape), im.reshape(shape)
    sr, si = nx.fp32_add(r[..., 0, :], r[..., 1, :]), nx.fp32_add(i[..., 0, :], i[..., 1, :])
    dr, di = nx.fp32_sub(r[..., 0, :], r[..., 1, :]), nx.fp32_sub(i[..., 0, :], i[..., 1, :])
    yr = np.stack([sr, dr], axis=-2).reshape(re.shape)
    yi = np.stack([si, di], axis=-2).reshape(im.shape)
    y = nx.fp32_words(interleave(yr, yi))
    p2 = Program(name=f"fft_level_h{h}_base2", counters=[Counter(b)],
                 vec_in={0: "every", 1: "every"},
                 stages=[Stage("fmul", a="vec0", b="const", const=list(c1), dst="r1"),
                         Stage("fma", a="vec1", b="const", c="r1", const=list(c2), dst="r0"),
                         Stage("sel", a="vec0", b="r0", c="const", const=[int(v) for v in top],
                               dst="r0")],
                 vec_out={0: Out(reg="r0")})
    gr, gi = fft_level_golden(re, im, h, n)
    return [Fragment(p1.name, p1, {0: x, 1: permute_lanes(x, 2 * h)}, {0: y}, iterations=b,
                     useful_ops=b * L),
            Fragment(p2.name, p2, {0: y, 1: permute_lanes(y, 1)},
                     {0: nx.fp32_words(interleave(gr, gi))}, iterations=b, useful_ops=b * n * 4)]
