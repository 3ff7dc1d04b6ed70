"""Parameter sets and job lists of the PCU RTL tests (shared by the tests and the benchmark)."""

from __future__ import annotations

import numpy as np

from hw import numerics as nx
from hw.golden import kernels as gk
from hw.params import load
from hw.params.pcu import PCUParams
from tiles import pcu_programs as pp
from tiles.pcu_asm import Acc, Counter, Credit, In, Out, Program, Stage

#: name → PCUParams: three presets and a 4-lane, 5-stage set with every extension but tail
#: (deep enough for the linear-recurrence scan), three vector inputs and two vector outputs. The
#: `fpga` preset's PCU is integer-only (no shifter), 3 cycles per stage (`min_stage_latency`)
#: and without multipliers in the carry / accumulator loops (`loop_mul`).
SETS = {
    "tiny": lambda: load("tiny").pcu,
    "sim": lambda: load("sim").pcu,
    "fpga": lambda: load("fpga").pcu,
    "quad": lambda: PCUParams(lanes=4, stages=5, regs=4, counters=3, vec_in=3, vec_out=2,
                              scal_in=1, scal_out=1, ctrl_in=1, ctrl_out=1, args=2,
                              op_classes=("int", "shift", "fp32"), systolic=True,
                              butterfly=True, scan=True),
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


def predicated_fragment(p, rng, n0=3, n1=4):
    """Counter predicates on every kind of port (int32, any PCU with 3 stages, 2 counters, a
    scalar output and 2 control outputs), expected values from a plain numpy loop:

    * vec1 popped on ``notfirst1`` (``init`` 7 in the first block of counter 1), the last scalar
      input on
      ``last0`` (``init`` 100 elsewhere); neither is needed when its predicate is false;
    * ``r0 = vec0 + vec1 + scal1 + lane``; accumulator ``add`` restarting on ``first0``;
    * vec_out[0] = ``acc_prev`` on ``notfirst0``; scal_out[0] = lane 2 of r0 on ``first1``;
      ctrl_out[0] on ``last1``, ctrl_out[1] on ``notlast0``."""
    L = p.lanes
    sp = p.scal_in - 1
    t = n0 * n1
    x = rng.integers(-2**31, 2**31, (t, L))
    y = rng.integers(-2**31, 2**31, (n0 * (n1 - 1), L))
    sc = rng.integers(-2**31, 2**31, n1)
    prog = Program(name="predicated_int", counters=[Counter(n0), Counter(n1)],
                   vec_in={0: "every", 1: In("notfirst1", init=7)},
                   scal_in={sp: In("last0", init=100)},
                   stages=[Stage("add", a="vec0", b="vec1", dst="r0"),
                           Stage("add", a="r0", b=f"scal{sp}", dst="r1"),
                           Stage("add", a="r1", b="lane", dst="r0")],
                   acc=Acc("add", reg="r0", when="first0", init=5),
                   vec_out={0: Out(src="acc_prev", when="notfirst0")},
                   scal_out={0: Out(reg="r0", when="first1", lane=2)},
                   ctrl_out={0: "last1", 1: "notlast0"} if p.ctrl_out > 1 else {0: "last1"})
    m32 = lambda v: np.asarray(v, np.int64) & 0xFFFFFFFF
    vo, so = [], []
    acc = np.zeros(L, np.int64)
    yi = si = 0
    for j1 in range(n1):
        for j0 in range(n0):
            it = j1 * n0 + j0
            vv = y[yi] if j1 else np.full(L, 7)
            yi += 1 if j1 else 0
            ss = sc[si] if j0 == n0 - 1 else 100
            si += 1 if j0 == n0 - 1 else 0
            r0 = m32(m32(m32(x[it] + vv) + ss) + np.arange(L))
            base = np.full(L, 5) if j0 == 0 else acc
            if j0 != 0:
                vo.append(base)
            acc = m32(base + r0)
            if j1 == 0:
                so.append(r0[2])
    f = pp.Fragment("predicated_int", prog, {0: nx.int_words(x), 1: nx.int_words(y)},
                    {0: nx.int_words(np.array(vo))}, scal_in={sp: nx.int_words(sc)},
                    scal_out={0: nx.int_words(np.array(so))}, iterations=t,
                    ctrl_out={0: n0, 1: (n0 - 1) * n1} if p.ctrl_out > 1 else {0: n0})
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
            predicated_fragment(p, rng),
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
            pp.gemm_systolic_kchain(p, a, b[:, :12], "bf16"),
            pp.gemm_systolic_kchain(p, i16(3, 9), i16(9, 8), "int16"),
            pp.running_max(p, _f32(rng, 3, 3 * L)),
            predicated_fragment(p, rng, 2, 3),
        ]
    elif name == "fpga":
        out += [
            pp.counter_ramp(p, 5, 3),
            pp.dot(p, i16(4, 9), i16(4, 9), "int32"),
            pp.fold(p, rng.integers(-2**31, 2**31, (3, 9)), "max"),
            pp.fold(p, rng.integers(-2**31, 2**31, (3, 9)), "add"),
            pp.gemm_simd(p, i16(5, 3), i16(3, 6), "int16"),
            pp.gemm_systolic(p, i16(7, 2), i16(2, 6), "int16"),
            pp.gemm_systolic_kchain(p, i16(3, 7), i16(7, 5), "int16"),
            pp.prefix_sum(p, rng.integers(-2**31, 2**31, (2, 13)), "int32"),
            pp.prefix_sum_baseline(p, rng.integers(-2**31, 2**31, (2, 9)), "int32"),
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
            pp.gemm_systolic_kchain(p, _f32(rng, 6, 10), _f32(rng, 10, 5), "fp32"),
            pp.running_max(p, _f32(rng, 2, 3 * L)),
            predicated_fragment(p, rng),
        ]
    return p, out
