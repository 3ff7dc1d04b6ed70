"""hw.arith under Verilator (the main level): hundreds of thousands of vectors per op, bit-exact
against hw.numerics, under random backpressure.

Every op goes through :class:`hw.arith.ArithStream` (all blocks behind one valid/ready stream with
an op select, pipelined with the same single ``en`` a PCU uses) inside the free-running harness
(:mod:`tb.harness`): operands are preloaded into an HDL-side memory, results dumped in bulk, and
compared with ``np.testing.assert_array_equal`` on the uint32 encodings. Ops of a group are
randomly interleaved, so a result that came out of the wrong block, or one cycle early or late,
fails. One Verilator build (default latencies) serves the default tests; a second one (every cut
point registered) checks the deepest pipelines. ``RDU_SEED`` reproduces a run.
"""

import functools

import numpy as np
import pytest

from hw.arith import ArithStream, Cast, FixedMul, FPAdd, FPCompare, FPExp2, FPMul, FPRecip
from tb import freerun, runner
from tb.harness import StreamHarness
from tests.hw.test_arith_vectors import assert_bits_equal, mixed, reference_mixed

pytestmark = pytest.mark.verilator

Op = ArithStream.Op
DEPTH = 1 << 20        # harness memories: words per simulation run
MAX = 9                # ArithStream(9): every block at its maximum latency

#: group → [(ops, vectors per op)]; each group is one simulation run of the default build
GROUPS = {
    "add_sub": [([Op.ADD, Op.SUB], 200_000)],
    "mul_compare": [([Op.MUL], 200_000), ([Op.MAX, Op.MIN, Op.LT, Op.EQ], 100_000)],
    "tail_cast_fixed": [([Op.EXP2, Op.RECIP, Op.FP32_FROM_INT, Op.INT_FROM_FP32,
                          Op.BF16_FROM_FP32, Op.FP32_FROM_BF16, Op.FTZ, Op.FIXED_MUL], 100_000)],
}


@functools.lru_cache(maxsize=None)
def _harness(latency):
    dut = ArithStream(latency)
    h = StreamHarness(dut, DEPTH, DEPTH)
    tag = {None: "default", 0: "comb", MAX: "max"}[latency]
    return h, freerun.design_for(h, f"arith_{tag}"), dut.depth


def _vectors(spec, rng):
    parts = [mixed(ops, n, rng) for ops, n in spec]
    order = rng.permutation(sum(len(p[0]) for p in parts))
    return tuple(np.concatenate([p[k] for p in parts])[order] for k in range(4))


def _run(latency, spec, seed, pause_src, pause_sink):
    h, design, depth = _harness(latency)
    rng = np.random.default_rng(seed)
    ops, a, b, frac = _vectors(spec, rng)
    words = ArithStream.pack(a, b, ops, frac)
    r = freerun.run(design, h, words, len(words), seed=seed, pause_src=pause_src,
                    pause_sink=pause_sink)
    got = np.asarray(r.outputs, np.uint64).astype(np.uint32)
    names = [Op(int(o)).name for o in ops]
    assert_bits_equal(names, got, reference_mixed(ops, a, b, frac), a, b, frac,
                      f"ArithStream(latency={latency}) under Verilator, seed {seed}")
    counts = {Op(int(v)).name: int(np.sum(ops == v)) for v in np.unique(ops)}
    print(f"verified bit-exact: {counts} (seed {seed}, {r.cycles} cycles, depth {depth})")
    return r, len(words), depth


@pytest.mark.parametrize("lat", [None, 0, MAX], ids=["default", "comb", "max"])
def test_arith_stream_lint(lat):
    runner.lint(_harness(lat)[1])


def test_blocks_lint_every_latency():
    """Each block alone at every latency the Amaranth-simulator tests simulate."""
    for cls in (FPAdd, FPMul, FPExp2, FPRecip, Cast, FixedMul):
        for lat in range(cls.max_latency() + 1):
            runner.lint(runner.Design.from_component(cls(lat), f"{cls.__name__.lower()}_l{lat}"))
    runner.lint(runner.Design.from_component(FPCompare(), "fpcompare"))
    runner.lint(runner.Design.from_component(Cast(0, ops=["FTZ"]), "cast_ftz_only"))
    runner.lint(runner.Design.from_component(Cast(1, ops=["FTZ", "BF16_FROM_FP32"]), "cast_sub"))


@pytest.mark.parametrize("group", list(GROUPS))
def test_bit_exact_random_backpressure(group):
    seed = runner.seed_from_env()
    rng = np.random.default_rng(seed ^ 0x5EED)
    _run(None, GROUPS[group], seed, int(rng.integers(30, 140)), int(rng.integers(30, 140)))


def test_full_rate_one_result_per_cycle():
    """No pauses: every op interleaved, one word per cycle through the whole pipeline."""
    seed = runner.seed_from_env()
    r, n, depth = _run(None, [(list(Op), 4_000)], seed, 0, 0)
    assert r.cycles <= n + depth + 16, (r.cycles, n)


def test_deepest_pipelines():
    """Every cut point registered (second build): all ops interleaved, random backpressure."""
    seed = runner.seed_from_env()
    _run(MAX, [(list(Op), 20_000)], seed, 90, 110)


@pytest.mark.slow
@pytest.mark.parametrize("op", list(Op), ids=lambda o: o.name)
def test_million_vectors_per_op(op):
    seed = runner.seed_from_env()
    for chunk in range(2):
        _run(None, [([op], 500_000)], seed + chunk, 64, 64)


@pytest.mark.slow
@pytest.mark.parametrize("lat", [0, MAX], ids=["comb", "max"])
def test_other_latencies_long(lat):
    seed = runner.seed_from_env()
    _run(lat, [(list(Op), 60_000)], seed, 100, 100)
