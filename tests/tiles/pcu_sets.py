"""Parameter sets and job lists of the PCU RTL tests (shared by the tests and the benchmark)."""

from __future__ import annotations

import numpy as np

from hw import numerics as nx
from hw.params import load
from hw.params.pcu import PCUParams
from tb.golden import kernels as gk
from tiles import pcu_programs as pp
from tiles.pcu_asm import Counter, Credit, Out

#: name → PCUParams: the two presets and a 4-lane, 5-stage set with every extension but tail
#: (deep enough for the linear-recurrence scan) and two vector outputs.
SETS = {
    "tiny": lambda: load("tiny").pcu,
    "sim": lambda: load("sim").pcu,
    "quad": lambda: PCUParams(lanes=4, stages=5, regs=4, counters=2, vec_in=2, vec_out=2,
                              scal_in=1, scal_out=1, ctrl_in=1, ctrl_out=1, args=2,
                              op_classes=("int", "fp32"), systolic=True, butterfly=True,
                              scan=True),
}


def params(name):
    return SETS[name]()


def _f32(rng, *shape, scale=1.0):
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    # sprinkle signed zeros and the occasional large value (rounding corners)
    flat = x.reshape(-1)
    if flat.size > 4:
        flat[0] = -0.0
        flat[1] = 0.0
        flat[2] = 3.0e38
    return x


def tokens_fragment(p, rng):
    """map_int in 3 blocks of 4 iterations, each block gated by a token on ctrl_in[0] (credit)
    and announcing its end with a token on ctrl_out[0]."""
    L = p.lanes
    a = rng.integers(-1000, 1000, (12, L))
    b = rng.integers(-1000, 1000, (12, L))
    f = pp.map_int(p, a, b, 5)
    f.name = "map_int_tokens"
    f.program.counters = [Counter(4), Counter(3)]
    f.program.ctrl_in = {0: Credit(level=0, init=0)}
    f.program.ctrl_out = {0: "wrap0"}
    f.ctrl_in = {0: 3}
    f.ctrl_out = {0: 3}
    return f


def fragments(name, seed):
    """The fragments the RTL test runs on parameter set ``name`` (one simulation)."""
    p = params(name)
    rng = np.random.default_rng(seed)
    L = p.lanes
    i16 = lambda *s: rng.integers(-32768, 32768, s)
    out = []
    if name == "tiny":
        again = pp.map_int(p, rng.integers(-2**31, 2**31, (24, L)),
                           rng.integers(-2**31, 2**31, (24, L)), 777)
        again.name, again.reload = "map_int_new_args", False   # same program: only arg0 changes
        out += [
            pp.map_int(p, rng.integers(-2**31, 2**31, (24, L)), rng.integers(-2**31, 2**31, (24, L)),
                       -123456),
            again,
            pp.map_fixed(p, rng.integers(-2**24, 2**24, (16, L)), rng.integers(-2**24, 2**24, (16, L)),
                         13, rng.integers(-2**31, 2**31, 16)),
            pp.counter_ramp(p, 5, 3),
            pp.dot(p, rng.integers(-2**15, 2**15, (4, 18)), rng.integers(-2**15, 2**15, (4, 18)),
                   "int32"),
            pp.fold(p, rng.integers(-2**31, 2**31, (3, 9)), "max"),
            pp.fold(p, rng.integers(-2**31, 2**31, (3, 9)), "add"),
            pp.gemm_simd(p, i16(5, 3), i16(3, 6), "int16"),
            pp.prefix_sum_baseline(p, rng.integers(-2**31, 2**31, (3, 17)), "int32"),
            tokens_fragment(p, rng),
        ]
    elif name == "sim":
        x = _f32(rng, 3, 16, scale=4.0)
        m = nx.fp32(x.max(axis=1))
        a, b = _f32(rng, 6, 8), _f32(rng, 8, 16)
        part = gk.gemm(a[:, :4], b[:4], "bf16")
        re, im = _f32(rng, 6, L // 2), _f32(rng, 6, L // 2)
        fr, fi = pp.fft_level_golden(re, im, 2, L // 2)
        out += [
            pp.map_fp32(p, _f32(rng, 12, L), 1.5, -0.25),
            pp.map_int(p, rng.integers(-2**31, 2**31, (8, L)), rng.integers(-2**31, 2**31, (8, L)),
                       99),
            pp.dot(p, _f32(rng, 4, 20), _f32(rng, 4, 20), "fp32"),
            pp.fold(p, _f32(rng, 3, 20), "fmax"),
            pp.fold(p, _f32(rng, 3, 20), "fadd"),
            pp.gemm_systolic(p, i16(10, 4), i16(4, 16), "int16"),
            pp.gemm_systolic(p, a[:, :4], b[:4], "bf16"),
            pp.gemm_systolic(p, a[:, 4:], b[4:], "bf16", psum=part),
            pp.gemm_simd(p, a, b[:, :8], "bf16"),
            pp.prefix_sum(p, _f32(rng, 2, 29)),
            pp.prefix_sum(p, rng.integers(-2**31, 2**31, (2, 29)), "int32"),
            pp.prefix_sum_baseline(p, _f32(rng, 3, 17)),
            pp.linear_scan_baseline(p, _f32(rng, 3, 17), _f32(rng, 3, 17), 0.5),
            pp.fft_level(p, re, im, 2),
            pp.fft_level(p, fr, fi, 1),
            *pp.fft_level_baseline(p, re, im, 2),     # same bits without the butterfly network
            pp.softmax_exp(p, x, m),
            pp.exp2_map(p, _f32(rng, 4, L, scale=20.0)),
            pp.recip_map(p, _f32(rng, 9, scale=100.0)),
            pp.softmax_scale(p, _f32(rng, 2, 16), _f32(rng, 2)),
        ]
    elif name == "quad":
        out += [
            pp.linear_scan(p, _f32(rng, 23), _f32(rng, 23), 0.25),
            pp.linear_scan_baseline(p, _f32(rng, 2, 23), _f32(rng, 2, 23), 0.25),
            pp.prefix_sum(p, rng.integers(-2**31, 2**31, (2, 13)), "int32"),
            pp.gemm_systolic(p, _f32(rng, 7, 3), _f32(rng, 3, 8), "fp32"),
            pp.fft_level(p, _f32(rng, 5, 2), _f32(rng, 5, 2), 1),
            pp.dot(p, _f32(rng, 3, 9), _f32(rng, 3, 9), "fp32"),
            tokens_fragment(p, rng),
        ]
    return p, out
