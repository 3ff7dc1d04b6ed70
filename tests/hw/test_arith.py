# amaranth: UnusedElaboratable=no
"""hw.arith under the Amaranth simulator (the fast level): every block, every vector class, at
latency 0 and the default latency (a few hundred vectors per op) and at every other supported
latency (fewer), with ``en`` dropped at random; parameter errors; the stream wrapper under random
backpressure. The Verilator level (hundreds of thousands of vectors per op) is
``test_arith_verilator.py``."""

import numpy as np
import pytest
from amaranth import Module, Signal, Value
from amaranth.sim import Simulator

from hw import arith, numerics
from hw.arith import LATENCY, ArithStream, Cast, FixedMul, FPAdd, FPCompare, FPExp2, FPMul, FPRecip
from tb import amsim
from tb.stream import PauseGenerator
from tests.hw.test_arith_vectors import (
    assert_bits_equal,
    mixed,
    reference,
    reference_mixed,
    vectors,
)

Op = ArithStream.Op

#: block class → (LATENCY key, ArithStream ops it implements)
BLOCKS = {
    FPAdd: ("add", [Op.ADD]),
    FPMul: ("mul", [Op.MUL]),
    FPExp2: ("exp2", [Op.EXP2]),
    FPRecip: ("recip", [Op.RECIP]),
    Cast: ("cast", [Op.FP32_FROM_INT, Op.INT_FROM_FP32, Op.BF16_FROM_FP32, Op.FP32_FROM_BF16,
                    Op.FTZ]),
    FixedMul: ("fixed_mul", [Op.FIXED_MUL]),
}


def _drive(dut, inputs, outputs, latency, seed, p_en=0.7):
    """Simulate a block: each cycle ``en`` is high with probability ``p_en``; an input vector is
    presented (and taken) in enabled cycles, random garbage in the others. After every clock edge
    the outputs are recorded with the index of the vector they must show (``latency`` enabled
    edges after it was taken), so stalled cycles check that outputs hold. Returns
    ``(index, {output: values})``."""
    rng = np.random.default_rng(seed)
    n = len(next(iter(inputs.values())))
    ports = {k: Value.cast(getattr(dut, k)) for k in inputs}   # enum views as plain values
    signed_ports = {k for k, p in ports.items() if p.shape().signed}

    def value(k, v):
        v = int(v) & ((1 << len(ports[k])) - 1)
        if k in signed_ports and v >> (len(ports[k]) - 1):
            v -= 1 << len(ports[k])
        return v

    idx, got = [], {o: [] for o in outputs}

    async def testbench(ctx):
        if latency == 0:
            for i in range(n):
                if hasattr(dut, "en"):   # ignored by combinational blocks; FPCompare has none
                    ctx.set(dut.en, int(rng.random() < p_en))
                for k, arr in inputs.items():
                    ctx.set(ports[k], value(k, arr[i]))
                idx.append(i)
                for o in outputs:
                    got[o].append(ctx.get(getattr(dut, o)))
            return
        taken = 0
        while taken < n - 1 + latency:
            en = rng.random() < p_en
            ctx.set(dut.en, int(en))
            for k, arr in inputs.items():
                v = arr[taken] if en and taken < n else rng.integers(0, 1 << 32)
                ctx.set(ports[k], value(k, v))
            await ctx.tick()
            taken += en
            shown = taken - latency
            if 0 <= shown < n:
                idx.append(shown)
                for o in outputs:
                    got[o].append(ctx.get(getattr(dut, o)))

    sim = Simulator(dut)
    if latency:
        sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return np.array(idx), {o: np.array(v, np.int64) for o, v in got.items()}


def _check_block(cls, latency, n, seed):
    key, ops = BLOCKS[cls]
    rng = np.random.default_rng(seed)
    for op in ops:
        a, b, frac = vectors(op, n, rng)
        dut = cls(latency)
        inputs = {"a": a}
        if cls in (FPAdd, FPMul, FixedMul):
            inputs["b"] = b
        if cls is FixedMul:
            inputs["frac"] = frac
        if cls is Cast:
            inputs["op"] = np.full(n, Cast.Op[op.name].value)
        idx, got = _drive(dut, inputs, ["o"], latency, seed + 1)
        assert len(idx) >= n and set(idx.tolist()) == set(range(n))
        exp = reference(op, a, b, frac)[idx]
        assert_bits_equal([op.name] * len(idx), got["o"].astype(np.uint32), exp, a[idx], b[idx],
                          frac[idx], f"{cls.__name__}(latency={latency})")


@pytest.mark.parametrize("latency", ["zero", "default"])
@pytest.mark.parametrize("cls", list(BLOCKS), ids=lambda c: c.__name__)
def test_block_matches_numerics(cls, latency):
    lat = 0 if latency == "zero" else LATENCY[BLOCKS[cls][0]]
    _check_block(cls, lat, 400, seed=11 + lat)


@pytest.mark.parametrize("cls", list(BLOCKS), ids=lambda c: c.__name__)
def test_block_every_latency(cls):
    for lat in range(1, cls.max_latency() + 1):
        if lat != LATENCY[BLOCKS[cls][0]]:
            _check_block(cls, lat, 120, seed=100 + lat)


def test_compare_matches_numerics():
    rng = np.random.default_rng(21)
    for op in (Op.MAX, Op.MIN, Op.LT, Op.EQ):   # each op's classes; all four outputs checked
        a, b, frac = vectors(op, 300, rng)
        idx, got = _drive(FPCompare(), {"a": a, "b": b}, ["max", "min", "lt", "eq"], 0, 1)
        for o, ref_op in (("max", Op.MAX), ("min", Op.MIN), ("lt", Op.LT), ("eq", Op.EQ)):
            assert_bits_equal([ref_op.name] * len(a), got[o].astype(np.uint32),
                              reference(ref_op, a, b, frac), a, b, frac, f"FPCompare.{o}")


def test_stall_holds_output():
    """With ``en`` low the pipeline neither advances nor loses its contents."""
    dut = FPAdd(2)
    one, two = 0x3F800000, 0x40000000
    seen = []

    async def testbench(ctx):
        ctx.set(dut.en, 1)
        ctx.set(dut.a, one)
        ctx.set(dut.b, one)
        await ctx.tick()
        ctx.set(dut.a, two)
        ctx.set(dut.b, two)
        await ctx.tick()
        seen.append(ctx.get(dut.o))              # 1 + 1 after two enabled edges
        ctx.set(dut.en, 0)
        ctx.set(dut.a, 0x7FC00000)
        for _ in range(5):
            await ctx.tick()
            seen.append(ctx.get(dut.o))          # held
        ctx.set(dut.en, 1)
        await ctx.tick()
        seen.append(ctx.get(dut.o))              # 2 + 2
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert seen == [0x40000000] * 6 + [0x40800000]


# ---------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, bad, maximum", [
    (FPAdd, -1, 4), (FPAdd, 5, 4), (FPMul, 4, 3), (FPExp2, 4, 3), (FPRecip, -2, 3),
    (Cast, 3, 2), (FixedMul, 7, 3), (FPAdd, 1.5, 4), (FPMul, True, 3), (FixedMul, "2", 3)])
def test_bad_latency_message(cls, bad, maximum):
    with pytest.raises(ValueError) as e:
        cls(bad)
    msg = str(e.value)
    assert msg == f"{cls.__name__}: latency = {bad!r}: must be an integer in 0..{maximum}"
    assert "\n" not in msg


def test_cast_unknown_op_message():
    with pytest.raises(ValueError, match=r"^Cast: ops contains 'FP16_FROM_FP32': unknown cast op; "
                                         r"allowed: FP32_FROM_INT, INT_FROM_FP32, BF16_FROM_FP32, "
                                         r"FP32_FROM_BF16, FTZ$"):
        Cast(ops=["FTZ", "FP16_FROM_FP32"])
    with pytest.raises(ValueError, match=r"^Cast: ops contains 7: unknown cast op; allowed: "):
        Cast(ops=[7])
    with pytest.raises(ValueError, match=r"^Cast: ops = \[\]: must name at least one of "):
        Cast(ops=[])


def test_arith_stream_bad_latency_key():
    with pytest.raises(ValueError, match=r"^ArithStream: latency keys \['div'\]: allowed keys are "
                                         r"add, mul, exp2, recip, cast, fixed_mul$"):
        ArithStream({"div": 1})
    with pytest.raises(ValueError, match=r"^FPMul: latency = 9: must be an integer in 0\.\.3$"):
        ArithStream({"mul": 9})


def test_defaults_and_api():
    assert set(LATENCY) >= {"add", "mul", "exp2", "recip", "cast", "fixed_mul"}
    for cls, (key, _) in BLOCKS.items():
        assert cls().latency == LATENCY[key]
        assert 0 <= LATENCY[key] <= cls.max_latency()
    assert FPCompare.latency == 0
    assert [o.name for o in Cast.Op] == ["FP32_FROM_INT", "INT_FROM_FP32", "BF16_FROM_FP32",
                                         "FP32_FROM_BF16", "FTZ"]
    assert set(Cast(ops=["ftz", Cast.Op.FP32_FROM_INT]).ops) == {Cast.Op.FTZ, Cast.Op.FP32_FROM_INT}


def test_cast_subset_and_invalid_op_give_zero():
    """Ops left out of ``ops`` (and op codes 5..7) produce 0; the built ones still work."""
    dut = Cast(0, ops=["FTZ"])
    x = np.array([0x00000001, 0x3F800000, 0x7F800001, 0xC0000000], np.uint32)
    got = {}

    async def testbench(ctx):
        for op in (0, 1, 2, 3, 4, 5, 6, 7):
            ctx.set(Value.cast(dut.op), op)
            got[op] = []
            for v in x:
                ctx.set(dut.a, int(v))
                got[op].append(ctx.get(dut.o))
    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    assert got[Cast.Op.FTZ.value] == [int(v) for v in numerics.bits(numerics.ftz(
        numerics.from_bits(x)))]
    assert all(got[op] == [0] * 4 for op in (0, 1, 2, 3, 5, 6, 7))


def test_roms_derive_from_numerics_tables():
    t, r = numerics.EXP2_TABLE, numerics.RECIP_TABLE
    for k, w in enumerate(arith._exp2_rom()):
        assert (w & ((1 << 23) - 1)) + (1 << 23) == t[k]
        assert (w & ((1 << 23) - 1)) + (w >> 23) + (1 << 23) == t[k + 1]
    for k, w in enumerate(arith._recip_rom()):
        assert (w & ((1 << 24) - 1)) + (1 << 23) == r[k]
        assert (w & ((1 << 24) - 1)) - (w >> 24) + (1 << 23) == r[k + 1]


@pytest.mark.parametrize("x", [0, 1, 0x80000000, 0x0001FFFF, 0x7FFFFFFF, 0x00400000])
def test_lzc(x):
    m = Module()
    s = Signal(32)
    c, z = arith.lzc(m, s)
    res = []

    async def testbench(ctx):
        ctx.set(s, x)
        res.append((ctx.get(c), ctx.get(z)))
    sim = Simulator(m)
    sim.add_testbench(testbench)
    sim.run()
    assert res[0][1] == (x == 0)
    if x:
        assert res[0][0] == 32 - x.bit_length()


# ---------------------------------------------------------------------------------------------
# the stream wrapper (also what the Verilator tests drive)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("latency", [0, None, 9], ids=["comb", "default", "max"])
def test_arith_stream_backpressure(latency):
    rng = np.random.default_rng(31)
    ops, a, b, f = mixed(list(Op), 30, rng)
    dut = ArithStream(latency)
    words = ArithStream.pack(a, b, ops, f)
    got = []
    top = Module()                    # latency 0 has no registers: give the simulator a clock domain
    top.submodules.dut = dut
    top.d.sync += Signal(name="tick").eq(1)
    amsim.run(top, amsim.source(dut.i, words, PauseGenerator(0.3, 1)),
              amsim.sink(dut.o, len(words), got, PauseGenerator(0.4, 2)),
              deadline_cycles=20 * len(words), what="ArithStream")
    names = [Op(int(o)).name for o in ops]
    assert_bits_equal(names, np.array(got, np.uint32), reference_mixed(ops, a, b, f), a, b, f,
                      f"ArithStream(latency={latency})")
