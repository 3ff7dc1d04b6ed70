"""PCU without Verilator: parameters, assembler errors, the Python model against hw.golden for every
fragment, FU opcodes under the Amaranth simulator, and Verilog generation."""

import subprocess
import sys

import numpy as np
import pytest

from hw import numerics as nx
from hw.golden import kernels as gk
from hw.params import ConfigError, load
from hw.params.pcu import PCUParams
from tb import amsim, pcu_sets
from tiles import pcu_model
from tiles import pcu_programs as pp
from tiles.pcu import PCU, generate
from tiles.pcu_asm import (
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
)
from tiles.pcu_fu import LaneFU
from tiles.pcu_isa import OP_CLASS, Isa, Op


def _check_model(p, f):
    r = pcu_model.run(f.assemble(p), f.vec_in, f.scal_in, f.args)
    for k, v in f.vec_out.items():
        np.testing.assert_array_equal(r.vec_out[k], np.asarray(v).reshape(-1, p.lanes))
    for k, v in f.scal_out.items():
        np.testing.assert_array_equal(r.scal_out[k], np.asarray(v).reshape(-1))
    for k, n in f.ctrl_out.items():
        assert r.ctrl_out[k] == n, (f.name, k)
    assert r.iterations == f.iterations
    return r


# ---- parameters --------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, msg", [
    ({"lanes": 3}, r"lanes = 3: must be a power of two in 2\.\.32"),
    ({"lanes": 64}, r"lanes = 64: must be a power of two"),
    ({"stage_op_classes": [["fp32"], ["int"], ["int"], ["int"]]},
     r"stage_op_classes\[0\].*must include 'int'"),
    ({"stage_op_classes": [["int"]]}, r"stage_op_classes.*one entry per stage \(4\)"),
    ({"scan": True, "lanes": 32, "stages": 4}, r"stages = 4: must be >= log2\(lanes\) = 5"),
    ({"op_classes": ["int", "quad"]}, r"op_classes.*distinct items from 'int', 'shift', 'fixed'"),
])
def test_params_rejected(kwargs, msg):
    with pytest.raises(ConfigError, match=msg):
        PCUParams.from_dict(kwargs)


def test_presets_load_and_describe():
    for name in ("tiny", "sim", "fpga", "plasticine"):
        p = load(name).pcu
        isa = Isa(p)
        assert isa.layout.size > 0
        assert len(isa.tree_stages()) == p.lanes.bit_length() - 1


# ---- assembler errors --------------------------------------------------------------------------

TINY = load("tiny").pcu
SIM = load("sim").pcu
NOMUL = SIM.replace(loop_mul=False)     # no multiplier in the carry / accumulator loops


@pytest.mark.parametrize("p, prog, msg", [
    (NOMUL, Program(counters=[Counter(4)], vec_in={0: "every"},
                    stages=[Stage("muladd", a="carry", b="vec0", c="vec0", dst="r0")],
                    carry=Carry(init=0)),
     r"stage 0 reads the carry with op 'muladd': the carry loop has no multiplier in this PCU "
     r"\(pcu.loop_mul = false\)"),
    (NOMUL, Program(counters=[Counter(4)], vec_in={0: "every"},
                    stages=[Stage("pass", a="vec0", dst="r0")], acc=Acc(op="muladd")),
     r"acc op 'muladd' multiplies in the accumulator loop, not built into this PCU "
     r"\(pcu.loop_mul = false\); allowed: add, max, fadd, fmax"),
    (TINY, Program(stages=[Stage("fmull", a="vec0")]),
     r"stage 0: op 'fmull' unknown \(did you mean 'fmul'\?\); allowed: nop, pass"),
    (TINY, Program(stages=[Stage("fadd", a="vec0", b="vec1")], vec_in={0: "every", 1: "every"}),
     r"stage 0: op 'fadd' needs the 'fp32' class, not built into this stage \(built: int, shift, fixed\)"),
    (TINY, Program(stages=[Stage("add", a="vec3")]),
     r"stage 0 operand a: 'vec3': this PCU has 2 vector inputs \(vec0\.\.vec1\)"),
    (TINY, Program(stages=[Stage("add", a="bfly(r0)")]),
     r"operand a: 'bfly\(r0\)' needs the butterfly extension, not built into this PCU "
     r"\(pcu.butterfly = false\)"),
    (TINY, Program(stages=[Stage("add", a="tree(r0)")]),
     r"stage 0 operand a: 'tree\(r0\)': the reduction tree reaches stages 1\.\.2 only"),
    (TINY, Program(stages=[Stage("add", a="r7")]),
     r"operand a: 'r7': this PCU has 3 registers \(r0\.\.r2\)"),
    (TINY, Program(stages=[Stage("add", a="foo(r1)")]), r"operand 'foo\(r1\)' not understood"),
    (TINY, Program(stages=[Stage("add")] * 4), r"4 stages; this PCU has 3"),
    (TINY, Program(stages=[Stage("add", a="vec0")]),
     r"stage 0 operand a reads vec0 but vec_in\[0\] is not popped"),
    (TINY, Program(vec_out={0: Out(when="wrap7")}),
     r"vec_out\[0\]: when = 'wrap7': allowed: never, every, done, wrap0\.\.wrap1"),
    (TINY, Program(stationary=Stationary(vec=1)), r"stationary loads need the systolic extension"),
    (TINY, Program(tail=Stage("exp2")), r"tail stage used; needs the tail extension"),
    (SIM, Program(stages=[Stage("exp2", a="vec0")], vec_in={0: "every"}),
     r"stage 0: op 'exp2' runs only in the tail stage"),
    (TINY, Program(acc=Acc("fadd")), r"acc op 'fadd' needs the 'fp32' class in the last stage"),
    (TINY, Program(scal_out={0: Out(src="acc")}), r"an output reads 'acc' but the program has no Acc"),
    (SIM, Program(stages=[Stage("add", a="carry"), Stage("add", a="carry")]),
     r"stages \[0, 1\] read the carry; only one stage may"),
    (SIM, Program(stages=[Stage("add", a="carry")], ii=0), r"ii = 0: must be in 1\.\.31"),
    (TINY, Program(counters=[Counter(1 << 16)]), r"counter 0: count = 65536: must fit 16 bits"),
    (TINY, Program(stages=[Stage("add", dist=2)]), r"stage 0: dist = 2: must be in 0\.\.1"),
    (TINY, Program(counters=[Counter(4)], vec_in={0: In("notfirst1", init=-0.0)}),
     r"vec_in\[0\]: when = 'notfirst1': counter 1 does not exist; the program has 1 counter "
     r"\(0\.\.0\)"),
    (SIM, Program(counters=[Counter(4), Counter(2)], vec_out={0: Out(when="last2")}),
     r"vec_out\[0\]: when = 'last2': counter 2 does not exist; the program has 2 counters"),
    (TINY, Program(scal_in={0: In("sometimes")}),
     r"scal_in\[0\]: when = 'sometimes': allowed: never, every, done, wrap0\.\.wrap1, first<j>, "
     r"last<j>, notfirst<j>, notlast<j> \(j in 0\.\.0\)"),
    (TINY, Program(vec_in={0: ("first0", 1)}), r"vec_in\[0\]: must be a when string or an In"),
    (TINY, Program(vec_in={0: In("first0", init="x")}), r"constant 'x': must be an int or a float"),
    (TINY, Program(vec_out={0: Out(src="acc_prev")}),
     r"an output reads 'acc_prev' but the program has no Acc"),
    (TINY, Program(vec_out={0: Out(src="acc_before")}),
     r"vec_out\[0\]: src 'acc_before' unknown .*allowed: reg, acc, acc_prev"),
])
def test_assembler_errors(p, prog, msg):
    with pytest.raises(AsmError, match=msg):
        assemble(p, prog)


def test_fragment_does_not_fit_is_a_clear_error():
    rng = np.random.default_rng(0)
    with pytest.raises(AsmError, match=r"linear_scan: needs 2·log2\(L\) \+ 1 = 7 stages, PCU has 4"):
        pp.linear_scan(SIM, rng.standard_normal(8), rng.standard_normal(8))
    with pytest.raises(AsmError, match=r"gemm_systolic: needs the systolic extension"):
        pp.gemm_systolic(TINY, np.ones((2, 2), np.int64), np.ones((2, 4), np.int64), "int16")
    with pytest.raises(AsmError, match=r"exp2_map: needs the tail extension"):
        pp.exp2_map(TINY, np.zeros(4))


def test_assembled_words_and_diff():
    rng = np.random.default_rng(0)
    f = pp.map_int(TINY, rng.integers(0, 9, (3, 4)), rng.integers(0, 9, (3, 4)), 5)
    a = f.assemble(TINY)
    assert len(a.words) == -(-Isa(TINY).layout.size // 32)
    assert len(a.writes(3)) == len(a.words) and all(w.unit == 3 for w in a.writes(3))
    g = pp.map_int(TINY, rng.integers(0, 9, (3, 4)), rng.integers(0, 9, (3, 4)), 5, shift=4)
    diff = g.assemble(TINY).diff_writes(3, a)
    assert 0 < len(diff) < len(a.words)


# ---- the Python model against hw.golden, every fragment of every RTL test ----------------------

@pytest.mark.parametrize("name", list(pcu_sets.SETS))
def test_model_matches_golden(name):
    p, frags = pcu_sets.fragments(name, 1234)
    for f in frags:
        _check_model(p, f)


def test_predicates_encode_and_evaluate():
    """when codes: the assembler's encoding, the ISA's decoding and evaluation agree."""
    from tiles.pcu_asm import parse_when
    from tiles.pcu_isa import WHEN_KINDS, when_decode, when_eval
    C = 3
    for kind in WHEN_KINDS:
        for j in range(C):
            code = parse_when(f"{kind}{j}", C)
            assert when_decode(code, C) == (kind, j)
    start, last = [True, False, True], [False, True, True]
    ev = lambda t: when_eval(parse_when(t, C), C, start, last)
    assert ev("first0") and not ev("first1") and ev("notfirst1") and ev("last2")
    assert not ev("notlast1") and not ev("wrap1") and ev("every") and not ev("never")
    assert parse_when("done", C) == parse_when("wrap2", C)


def test_predicated_inputs_need_no_data_when_false():
    """The model stops (runs dry) only where the RTL would wait: an input popped on notfirst1 is
    not needed in the first block, a skip input reads its init, and `In(wrap0, skip=True)` too."""
    p = TINY
    prog = Program(counters=[Counter(2), Counter(2)],
                   vec_in={0: In("notfirst1", init=-5), 1: In("wrap0", init=9, skip=True)},
                   stages=[Stage("add", a="vec0", b="vec1", dst="r0")],
                   vec_out={0: Out(reg="r0", when="every")})
    asm = assemble(p, prog)
    # notfirst1 = 2 + 3·C + 1 with C = 2 counters
    assert asm.config["vin"][0] == {"when": 2 + 3 * 2 + 1, "skip": 1, "init": (-5) & 0xFFFFFFFF}
    assert asm.config["vin"][1] == {"when": 2 + 0, "skip": 1, "init": 9}
    x = np.arange(8).reshape(2, 4)
    y = np.array([[100] * 4, [200] * 4])
    r = pcu_model.run(asm, {0: x, 1: y})
    # iterations (j0, j1): (0,0) (1,0) (0,1) (1,1); vec0 only from j1 = 1; vec1 only on j0 = 1
    want = np.array([[-5 + 9] * 4, [-5 + 100] * 4, list(x[0] + 9), list(x[1] + 200)])
    np.testing.assert_array_equal(r.vec_out[0], nx.int_words(want))
    with pytest.raises(ValueError, match="vec0 ran dry at iteration 3"):
        pcu_model.run(asm, {0: x[:1], 1: y})


def test_gemm_kchain_equals_full_gemm():
    rng = np.random.default_rng(9)
    for dtype, p in (("bf16", SIM), ("fp32", SIM), ("int16", SIM)):
        if dtype == "int16":
            a, b = rng.integers(-999, 999, (3, 13)), rng.integers(-999, 999, (13, 9))
        else:
            a, b = rng.standard_normal((3, 13)), rng.standard_normal((13, 9))
        f = pp.gemm_systolic_kchain(p, a, b, dtype)
        np.testing.assert_array_equal(f.vec_in[2], f.vec_out[1])   # the feedback loop
        enc = nx.int_words if dtype == "int16" else nx.fp32_words
        full = np.zeros((3, 16), np.float32 if dtype != "int16" else np.int64)
        full[:, :9] = gk.gemm(a, b, dtype)
        np.testing.assert_array_equal(f.vec_out[0], np.concatenate([enc(full[:, :8]),
                                                                    enc(full[:, 8:])]))
        r = _check_model(p, f)
        assert r.iterations == 3 * 4 * 2
    with pytest.raises(AsmError, match="gemm_systolic_kchain: needs 3 vector inputs"):
        pp.gemm_systolic_kchain(load("tiny").pcu.replace(systolic=True), a, b, "bf16")


def test_extension_on_and_off_give_the_same_bits():
    rng = np.random.default_rng(5)
    # GEMM: systolic (sim) vs SIMD baseline (tiny and sim)
    a, b = rng.integers(-32768, 32768, (6, 4)), rng.integers(-32768, 32768, (4, 8))
    sys_ = pp.gemm_systolic(SIM, a, b, "int16").vec_out[0]
    simd = pp.gemm_simd(SIM, a, b, "int16").vec_out[0]
    np.testing.assert_array_equal(sys_, simd)
    af, bf = rng.standard_normal((6, 4)), rng.standard_normal((4, 8))
    np.testing.assert_array_equal(pp.gemm_systolic(SIM, af, bf, "bf16").vec_out[0],
                                  pp.gemm_simd(SIM, af, bf, "bf16").vec_out[0])
    # int32 prefix sums: scan network vs sequential accumulator
    x = rng.integers(-2**31, 2**31, (1, 40))
    on = pp.prefix_sum(SIM, x, "int32").vec_out[0].reshape(-1)[:40]
    off = pp.prefix_sum_baseline(SIM, x, "int32").vec_out[0][:, 0]
    np.testing.assert_array_equal(on, off)


def test_fft_level_without_butterfly_gives_the_same_bits():
    import dataclasses
    off = dataclasses.replace(SIM, butterfly=False)
    rng = np.random.default_rng(8)
    L = SIM.lanes
    re, im = rng.standard_normal((4, L // 2)), rng.standard_normal((4, L // 2))
    for h in (2, 1):
        p1, p2 = pp.fft_level_baseline(off, re, im, h)
        _check_model(off, p1)
        _check_model(off, p2)
        np.testing.assert_array_equal(p2.vec_out[0], pp.fft_level(SIM, re, im, h).vec_out[0])
    with pytest.raises(AsmError, match="fft_level: needs the butterfly extension"):
        pp.fft_level(off, re, im, 1)


def test_fft_levels_compose_to_the_golden_fft():
    rng = np.random.default_rng(3)
    L = SIM.lanes
    re, im = rng.standard_normal((4, L // 2)), rng.standard_normal((4, L // 2))
    cur = nx.fp32_words(pp.interleave(re, im))
    h = L // 4
    while h >= 1:
        yr = nx.from_bits(cur[:, 0::2])
        yi = nx.from_bits(cur[:, 1::2])
        f = pp.fft_level(SIM, yr, yi, h)
        cur = _check_model(SIM, f).vec_out[0]
        h //= 2
    gr, gi = gk.fft_dif_stages(nx.fp32(re), nx.fp32(im))
    np.testing.assert_array_equal(cur, nx.fp32_words(pp.interleave(gr, gi)))


def test_gemm_k_chaining_equals_full_gemm():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((5, 8)), rng.standard_normal((8, 8))
    part = gk.gemm(a[:, :4], b[:4], "bf16")
    f = pp.gemm_systolic(SIM, a[:, 4:], b[4:], "bf16", psum=part)
    np.testing.assert_array_equal(f.vec_out[0], nx.fp32_words(gk.gemm(a, b, "bf16")))


def test_softmax_pieces_compose_to_the_golden_softmax():
    rng = np.random.default_rng(6)
    L = SIM.lanes
    x = nx.fp32(rng.standard_normal((3, 2 * L)) * 5)
    m = pcu_model.run(pp.fold(SIM, x, "fmax").assemble(SIM), {0: pp.fold(SIM, x, "fmax").vec_in[0]})
    mv = nx.from_bits(m.scal_out[0])
    e = pp.softmax_exp(SIM, x, mv)
    p = nx.from_bits(_check_model(SIM, e).vec_out[0]).reshape(3, -1)
    s = nx.from_bits(_check_model(SIM, pp.fold(SIM, p, "fadd")).scal_out[0])
    r = nx.from_bits(_check_model(SIM, pp.recip_map(SIM, s)).scal_out[0])
    y = _check_model(SIM, pp.softmax_scale(SIM, p, r)).vec_out[0]
    np.testing.assert_array_equal(y.reshape(3, -1), nx.fp32_words(gk.softmax(x, L)))


# ---- functional units under the Amaranth simulator ---------------------------------------------

@pytest.mark.parametrize("classes,latency", [(("int", "shift", "fixed"), None), (("int",), None),
                                             (("int", "fixed"), None), (("int", "shift"), None),
                                             (("int",), 3), (("int", "shift", "fixed"), 4)])
def test_lane_fu_int_ops_match_the_model(classes, latency):
    """Every integer / shift / fixed-point op of a unit built with ``classes`` (the funnel shifter
    exists with ``shift`` or ``fixed``, and serves both) equals the model, one op per cycle, also
    with spare latency (operand registers in front: ``PCUParams.min_stage_latency``)."""
    rng = np.random.default_rng(7)
    ops = [op for op, c in OP_CLASS.items() if c in classes and op != Op.NOP]
    vals = np.concatenate([rng.integers(0, 1 << 32, 40, dtype=np.uint64),
                           np.array([0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF], np.uint64)])
    cases = [(op, int(rng.choice(vals)), int(rng.choice(vals)), int(rng.choice(vals)),
              int(rng.integers(0, 31))) for op in ops for _ in range(12)]
    dut = LaneFU(classes, latency)
    D = dut.latency
    got = []

    async def testbench(ctx):
        for op, a, b, c, frac in cases + [cases[-1]] * (D - 1):
            ctx.set(dut.op, op)
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            ctx.set(dut.c, c)
            ctx.set(dut.frac, frac)
            await ctx.tick()
            got.append(ctx.get(dut.o))
    amsim.run(dut, testbench, what="LaneFU")
    for (op, a, b, c, frac), o in zip(cases, got[D - 1:]):
        want = int(pcu_model.fu(op, np.uint32(a), np.uint32(b), np.uint32(c), frac))
        assert o == want, f"{op.name}({a:#x}, {b:#x}, {c:#x}, frac={frac}): RTL {o:#x}, model {want:#x}"


def test_lane_fu_late_operands():
    """``late``: operand k is replaced by ``carry`` one cycle after the others were taken (after
    the operand registers), ``ra rb rc`` show the registered operands after the replacement; a
    unit without spare latency refuses late operands."""
    with pytest.raises(ValueError, match="late operands need registered operands"):
        LaneFU(("int",), 1, late=True)
    dut = LaneFU(("int",), 3, late=True)
    cases = [(Op.ADD, 0b001, 5, 7, 100), (Op.SUB, 0b010, 50, 9, 200), (Op.ADD, 0b011, 1, 2, 30),
             (Op.MAX, 0b000, 11, 4, 99)]
    got, regs = [], []

    async def testbench(ctx):
        for k, (op, _, a, b, _) in enumerate(cases + [cases[-1]] * 3):
            ctx.set(dut.op, op)
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            # the carry of iteration k arrives one cycle after its other operands
            ctx.set(dut.carry, cases[k - 1][4] if 0 < k <= len(cases) else 0)
            ctx.set(dut.late, cases[k - 1][1] if 0 < k <= len(cases) else 0)
            regs.append((ctx.get(dut.ra), ctx.get(dut.rb)))     # iteration k-1's operands
            await ctx.tick()
            got.append(ctx.get(dut.o))
    amsim.run(dut, testbench, what="LaneFU")
    want = [(100 + 7), (50 - 200) & 0xFFFFFFFF, (30 + 30), 11]
    assert got[2:6] == want, got
    assert regs[1:5] == [(100, 7), (50, 200), (30, 30), (11, 4)], regs


# ---- generation --------------------------------------------------------------------------------

def test_generate_and_cli(tmp_path):
    g = generate(load("tiny"))
    assert g.top == "rdu_pcu_tiny"
    assert isinstance(g.component, PCU)
    r = subprocess.run([sys.executable, "-m", "scripts.cli", "gen", "tiny", "--unit", "pcu", "-o",
                        str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    v = (tmp_path / "rdu_pcu_tiny.v").read_text()
    assert "module rdu_pcu_tiny" in v and "vec_in__0__payload" in v
    assert g.verilog() == v          # the CLI writes what the library generates


def test_pcu_rejects_bad_params():
    with pytest.raises(TypeError, match="PCU: params must be a PCUParams"):
        PCU({"lanes": 4})


def test_tiny_pcu_under_the_amaranth_simulator():
    """The whole tiny PCU in the Amaranth simulator: configure through the ring, run the counter
    chain (two counters, lane strides, a wrap0 scalar output), collect under backpressure."""
    from hw.config import ConfigPackets
    from tb.stream import PauseGenerator, unpack_rows
    p = TINY
    f = pp.counter_ramp(p, 3, 2, stride=2, lane_stride=5, start=1)
    bits = ConfigPackets(f.assemble(p).writes(0)).start(0)
    dut = PCU(p)
    got_v, got_s = [], []
    n_v, n_s = len(f.vec_out[0]), len(f.scal_out[0])
    amsim.run(dut, amsim.source(dut.cfg_i, bits.words()),
              amsim.sink(dut.vec_out[0], n_v, got_v, PauseGenerator(0.3, 1)),
              amsim.sink(dut.scal_out[0], n_s, got_s, PauseGenerator(0.3, 2)),
              deadline_cycles=2000, what="tiny PCU")
    np.testing.assert_array_equal(unpack_rows(got_v, 32, p.lanes), f.vec_out[0].astype(np.int64))
    np.testing.assert_array_equal(np.array(got_s), f.scal_out[0])
