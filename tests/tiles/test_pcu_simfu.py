"""The behavioural functional unit (tiles.pcu_simfu) against the gate-level one and the model.

Both implementations of :class:`tiles.pcu_fu.LaneFU` run under Verilator on the same vectors —
the corner-case classes of ``tests/hw/test_arith_vectors.py`` for every fp32 / cast / tail /
fixed-point op, FMA with cancelling addends, the integer ops on random words and edges, and
every one of the 64 opcode values (unknown or not-built opcodes must give 0) — interleaved at
random under random backpressure (:class:`tb.fu_stream.FUStream` in the free-running harness),
and each result is compared bit for bit with :func:`tiles.pcu_model.fu` (hw.numerics). Three
unit shapes: a stage unit with every class (pipelined, the ``sim`` PCU's), the combinational
unit with every class (the scan carry unit; the accumulator's fp32 unit is the same function),
and an integer-only unit with spare latency (operand registers, the ``fpga`` preset's).

Also here: the C header is generated from hw.numerics (not copied), the C++ compiles without
warnings, the SystemVerilog passes ``verilator --lint-only -Wall`` with the project's waivers, and
the arithmetic mode reaches every cache key.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess

import numpy as np
import pytest

from hw import numerics as nx
from hw.arith import ArithStream
from tb import freerun, runner
from tb.fu_stream import FUStream
from tb.harness import StreamHarness
from tests.hw.test_arith_vectors import SPECIALS, assert_bits_equal, reference, vectors
from tiles import pcu_model, pcu_simfu
from tiles.pcu_fu import LaneFU, stage_latency
from tiles.pcu_isa import MUL_OPS, OP_CLASS, Op

ALL = ("int", "shift", "fixed", "fp32", "cast", "tail")
DEPTH = 1 << 20

#: unit shape → (classes, latency, comb)
SHAPES = {
    "stage": (ALL, None, False),
    "carry": (ALL, None, True),
    "int_spare": (("int",), 3, False),
}
MODES = ("gates", "behavioural")

AO = ArithStream.Op
#: the hw.arith vector classes of each FU opcode that computes the same hw.numerics function
ARITH_OP = {Op.FADD: AO.ADD, Op.FSUB: AO.SUB, Op.FMUL: AO.MUL, Op.FMAX: AO.MAX,
            Op.FMIN: AO.MIN, Op.FLT: AO.LT, Op.FEQ: AO.EQ, Op.EXP2: AO.EXP2, Op.RECIP: AO.RECIP,
            Op.I2F: AO.FP32_FROM_INT, Op.F2I: AO.INT_FROM_FP32, Op.F2BF: AO.BF16_FROM_FP32,
            Op.BF2F: AO.FP32_FROM_BF16, Op.FTZ: AO.FTZ, Op.FXMUL: AO.FIXED_MUL}

INT_EDGES = np.array([0, 1, 2, 31, 32, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFF,
                      0xFFFFFFFE, 0x00010000, 0xFFFF0000], np.uint32)


def _u32(x):
    return np.asarray(x, np.int64).astype(np.uint32)


def _uniform(rng, n):
    return rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)


def _int_words(rng, n):
    x = _uniform(rng, n)
    pick = rng.random(n) < 0.3
    x[pick] = INT_EDGES[rng.integers(0, len(INT_EDGES), int(pick.sum()))]
    small = rng.random(n) < 0.2
    x[small] = _u32(rng.integers(-40, 40, int(small.sum())))
    return x


def _fma_vectors(rng, n):
    """fma: products from the multiply classes; addends of every kind, a third of them the
    negated product ± a few ulp (cancellation, exact zeros)."""
    a, b, _ = vectors(AO.MUL, n, rng)
    c = vectors(AO.ADD, n, rng)[1]
    prod = nx.bits(nx.fp32_mul(nx.from_bits(a), nx.from_bits(b)))
    near = _u32((prod.astype(np.int64) ^ (1 << 31)) + rng.integers(-3, 4, n))
    c = np.where(rng.random(n) < 0.35, near, c)
    return a, b, c


def op_vectors(op, n, rng):
    """``(a, b, c, frac)`` for FU opcode ``op`` (any of the 64 values)."""
    frac = rng.integers(0, 32, n).astype(np.uint32)
    if op in ARITH_OP:
        a, b, f = vectors(ARITH_OP[op], n, rng)
        c = _uniform(rng, n)
        if op == Op.FXMUL:
            frac = f
    elif op == Op.FMA:
        a, b, c = _fma_vectors(rng, n)
    elif op in (Op.SHL, Op.SHR, Op.SHRL):
        a, b, c = _int_words(rng, n), _uniform(rng, n), _uniform(rng, n)
        b[: n // 2] = rng.integers(0, 40, n // 2)
    else:   # integer ops and opcode values that are not opcodes
        a, b, c = _int_words(rng, n), _int_words(rng, n), _int_words(rng, n)
        c[rng.random(n) < 0.5] = 0              # sel: both arms
        eq = rng.random(n) < 0.1
        b[eq] = a[eq]                           # eq / sub / min: equal operands
        fp = rng.random(n) < 0.2                # fp32 encodings as words too
        a[fp] = SPECIALS[rng.integers(0, len(SPECIALS), int(fp.sum()))]
    return a, b, c, frac


def expected(ops, a, b, c, frac, classes, mul=True):
    """What a unit built with ``classes`` returns: :func:`tiles.pcu_model.fu`, or 0 for opcode
    values that are no opcode or whose class is not built (``int`` is always built)."""
    built = set(classes) | {"int"}
    out = np.zeros(len(a), np.uint32)
    for v in np.unique(ops):
        try:
            op = Op(int(v))
        except ValueError:
            continue
        if OP_CLASS[op] not in built or (not mul and op in MUL_OPS):
            continue
        for f in (np.unique(frac) if op == Op.FXMUL else [0]):
            s = (ops == v) & ((frac == f) if op == Op.FXMUL else True)
            out[s] = np.asarray(pcu_model.fu(op, a[s], b[s], c[s], int(f)), np.uint32)
    return out


def mixed(n_per_op, rng, opcodes=range(64)):
    parts = [(np.full(n_per_op, v, np.uint32),) + op_vectors(v, n_per_op, rng) for v in opcodes]
    order = rng.permutation(n_per_op * len(parts))
    return tuple(np.concatenate([p[k] for p in parts])[order] for k in range(5))


@functools.lru_cache(maxsize=None)
def _harness(shape, mode):
    classes, latency, comb = SHAPES[shape]
    dut = FUStream(classes, latency, comb=comb)
    h = StreamHarness(dut, DEPTH, DEPTH)
    d = runner.Design.from_component(h, f"fu_{shape}_{mode}", sources=(freerun.VERILOG_SOURCE,),
                                     arith=mode)
    return h, d


def _run(shape, mode, n_per_op, seed, pause, opcodes=range(64)):
    h, d = _harness(shape, mode)
    classes = SHAPES[shape][0]
    rng = np.random.default_rng(seed)
    ops, a, b, c, frac = mixed(n_per_op, rng, opcodes)
    words = FUStream.pack(ops, a, b, c, frac)
    r = freerun.run(d, h, words, len(words), seed=seed, pause_src=pause, pause_sink=pause)
    got = np.asarray(r.outputs, np.uint64).astype(np.uint32)
    names = [Op(int(v)).name if int(v) in Op._value2member_map_ else f"op{int(v)}" for v in ops]
    assert_bits_equal(names, got, expected(ops, a, b, c, frac, classes), a, b, frac,
                      f"LaneFU{classes} {shape} ({mode}) under Verilator, seed {seed}")
    print(f"{shape}/{mode}: {len(words)} vectors bit-exact ({r.cycles} cycles, seed {seed})")
    return got


# ---- generation -------------------------------------------------------------------------------

def test_header_is_generated_from_numerics_and_the_isa():
    text = pcu_simfu.header()

    def table(name):
        m = re.search(rf"{name}\[(\d+)\] = \{{(.*?)\}};", text, re.S)
        values = [int(v) for v in m.group(2).replace("\n", " ").split(",")]
        assert len(values) == int(m.group(1))
        return tuple(values)
    assert table("rdu_exp2_table") == nx.EXP2_TABLE
    assert table("rdu_recip_table") == nx.RECIP_TABLE
    for op in Op:
        assert f"#define RDU_OP_{op.name} {op.value}\n" in text
    classes = table("rdu_op_class")
    assert [classes[op] for op in Op] == [pcu_simfu.CLASS_BITS[OP_CLASS[op]] for op in Op]
    assert sum(1 for v in classes if v) == len(Op)
    assert f"RDU_FP32_CANONICAL_NAN {nx.FP32_CANONICAL_NAN:#010x}u" in text


def test_cpp_compiles_without_warnings(tmp_path):
    cxx = shutil.which("c++") or shutil.which("g++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    (tmp_path / pcu_simfu.HEADER).write_text(pcu_simfu.header())
    r = subprocess.run([cxx, "-std=c++20", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Wconversion",
                        "-Werror", f"-I{tmp_path}", "-c", str(pcu_simfu.CPP_SOURCE), "-o",
                        str(tmp_path / "fu.o")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_platform_chooses_the_implementation():
    """Gates unless the platform asks for behavioural: FPGA and Amaranth-simulator builds
    (no such platform) never see the behavioural unit, nor does ``rdu gen`` / ``rdu lint``."""
    from hw.generate import SimPlatform, to_verilog
    fu = LaneFU(ALL)
    assert pcu_simfu.MODULE not in to_verilog(fu, "fu_default")
    assert pcu_simfu.MODULE not in to_verilog(fu, "fu_gates", platform=SimPlatform("gates"))
    plat = SimPlatform("behavioural")
    text = to_verilog(fu, "fu_beh", platform=plat)
    assert pcu_simfu.MODULE in text and "fpadd" not in text.lower()
    assert plat.sources == [str(pcu_simfu.SV_SOURCE), str(pcu_simfu.CPP_SOURCE)]
    assert plat.files == {pcu_simfu.HEADER: pcu_simfu.header()}
    with pytest.raises(ValueError, match="arith 'fast': allowed: gates, behavioural"):
        SimPlatform("fast")


def test_arith_mode_choice(monkeypatch):
    monkeypatch.delenv("RDU_ARITH", raising=False)
    assert runner.arith_mode() == "behavioural"
    assert runner.arith_mode("gates") == "gates"
    monkeypatch.setenv("RDU_ARITH", "gates")
    assert runner.arith_mode() == "gates"
    assert runner.arith_mode("behavioural") == "behavioural"
    monkeypatch.setenv("RDU_ARITH", "fast")
    with pytest.raises(ValueError, match=r"^RDU_ARITH='fast': allowed: gates, behavioural$"):
        runner.arith_mode()
    with pytest.raises(ValueError, match=r"^--arith 'x': allowed: gates, behavioural$"):
        runner.arith_mode("x")


def test_mode_is_in_the_cache_keys(monkeypatch, tmp_path):
    """Design.digest (the Verilator build) and cached_design (the Verilog) differ by mode, and a
    cached behavioural design brings its sources and generated header back."""
    monkeypatch.setenv("RDU_CACHE", str(tmp_path))
    fu = lambda: LaneFU(("int", "fp32"))       # noqa: E731
    g = runner.Design.from_component(fu(), "fu_key", arith="gates")
    b = runner.Design.from_component(fu(), "fu_key", arith="behavioural")
    assert g.arith == "gates" and b.arith == "behavioural"
    assert g.digest() != b.digest()
    assert not g.files and str(pcu_simfu.CPP_SOURCE) in b.sources
    assert b.cpp_sources() == (str(pcu_simfu.CPP_SOURCE),)
    assert b.hdl_sources() == (str(pcu_simfu.SV_SOURCE),)
    made = []

    def make():
        made.append(1)
        return fu()
    cg = runner.cached_design("fu_c", {"k": 1}, make, generator=LaneFU, arith="gates")
    cb = runner.cached_design("fu_c", {"k": 1}, make, generator=LaneFU, arith="behavioural")
    cb2 = runner.cached_design("fu_c", {"k": 1}, make, generator=LaneFU, arith="behavioural")
    assert len(made) == 2                       # the second behavioural one came from the cache
    assert pcu_simfu.MODULE not in cg.verilog and pcu_simfu.MODULE in cb.verilog
    assert cb2 == cb and cb2.digest() == cb.digest() != cg.digest()
    # without functional units a design is the same in both modes (one Verilator build)
    from hw.smoke import MacParams, MacPipeline
    mac = [runner.Design.from_component(MacPipeline(MacParams(lanes=1)), "mac", arith=m)
           for m in MODES]
    assert mac[0] == mac[1] and mac[1].arith == "gates" and mac[0].digest() == mac[1].digest()


# ---- lint -------------------------------------------------------------------------------------

@pytest.mark.verilator
def test_behavioural_unit_lints():
    """The module in each of its three shapes (combinational, pipelined, late operands) passes
    ``verilator --lint-only -Wall`` with the project's waivers (:data:`tb.runner.LINT_WAIVERS`)."""
    for name, fu in (("comb", LaneFU(ALL, comb=True)), ("pipe", LaneFU(ALL)),
                     ("late", LaneFU(("int",), 3, late=True))):
        runner.lint(runner.Design.from_component(fu, f"fu_lint_{name}", arith="behavioural"))


# ---- bit-exact under Verilator ------------------------------------------------------------------

@pytest.mark.verilator
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_bit_exact_every_opcode(shape, mode):
    """Every one of the 64 opcode values, interleaved, under random backpressure; the gate and
    the behavioural unit must both equal the model."""
    seed = runner.seed_from_env()
    n = 6_000 if shape == "stage" else 3_000
    _run(shape, mode, n, seed, int(np.random.default_rng(seed).integers(30, 120)))


@pytest.mark.verilator
def test_gates_and_behavioural_agree_word_for_word():
    """The same vectors through both builds of the stage unit: identical outputs (not only both
    equal to the model: also where the model was not consulted)."""
    seed = runner.seed_from_env()
    outs = [_run("stage", mode, 1_000, seed, 64) for mode in MODES]
    np.testing.assert_array_equal(outs[0], outs[1])


def test_fixed_and_fp_vectors_share_the_arith_reference():
    """The FU opcodes tested with hw.arith's vector classes compute the same hw.numerics function
    as the hw.arith op they borrow the classes of (so the corner cases mean the same here)."""
    rng = np.random.default_rng(5)
    for op, aop in ARITH_OP.items():
        a, b, c, frac = op_vectors(op, 500, rng)
        ops = np.full(len(a), op.value, np.uint32)
        np.testing.assert_array_equal(expected(ops, a, b, c, frac, ALL),
                                      reference(aop, a, b, frac), err_msg=op.name)


@pytest.mark.slow
@pytest.mark.verilator
@pytest.mark.parametrize("mode", MODES)
def test_million_vectors_per_fp_op(mode):
    """The long run: 1M vectors for every fp32 / cast / tail / fixed-point op (about 16M in all,
    in runs of one op each) on the stage unit."""
    seed = runner.seed_from_env()
    for op in list(ARITH_OP) + [Op.FMA]:
        for chunk in range(2):
            _run("stage", mode, 500_000, seed + chunk, 64, opcodes=[op.value])
