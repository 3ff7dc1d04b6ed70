"""Pipelines across phases and the GEMM → softmax → GEMM fusion kernel (``compiler/fusion.py``).

Model level (no Verilator): the decoder chain's programs on the Python PCU model are bit-exact to
the golden composition ``gemm(bf16) → softmax(lanes=L) → gemm(fp32)`` for fused and per-operator
pipelines; the partitioner's phases; errors. RTL: both forms on ``small`` (several phases, HBM
scratch between them), bit-exact.
"""

import os

import numpy as np
import pytest

from compiler import fusion as fu
from compiler.graph import MappingError
from hw import numerics as nx
from hw.params import load
from tb.executor import SimExecutor
from tb.run import _executor, bits_equal
from tiles import pmu_programs as pm
from tiles.pcu_asm import Counter, Out, Program, Stage

SEED = int(os.environ.get("RDU_SEED") or "11", 0)


def _decoder_inputs(m, k, n1, n2, seed):
    rng = np.random.default_rng([seed, m, k, n1, n2])
    return (rng.standard_normal((m, k)).astype(np.float32),
            rng.standard_normal((k, n1)).astype(np.float32),
            rng.standard_normal((n1, n2)).astype(np.float32))


@pytest.mark.parametrize("config", ["small", "sim"])
def test_decoder_model_bit_exact(config):
    p = load(config)
    L = p.lanes
    for m, k, n1, n2 in [(1, 1, 1, 1), (5, 3, 3, 2), (2 * L + 1, L, L, L), (9, L - 1, 2, L)]:
        x, w1, w2 = _decoder_inputs(m, k, n1, n2, SEED)
        exp = fu.decoder_golden(x, w1, w2, L)
        for fused in (True, False):
            pipe, ty = fu.decoder_pipeline(p, x, w1, w2, fused)
            out = nx.from_bits(fu.model_run(pipe, {"y": ty})["y"][:m, :n2])
            assert bits_equal(out, exp), (config, m, k, n1, n2, fused)


def test_decoder_phases():
    sim = load("sim")
    x, w1, w2 = _decoder_inputs(16, 8, 8, 8, 0)
    c = fu.compile_decoder(sim, x, w1, w2, fused=True)
    assert len(c.job.phases) == 1 and c.buffer_reads == ("fifo_p.high_water", "fifo_s.high_water")
    c = fu.compile_decoder(sim, x, w1, w2, fused=False)
    assert c.notes == ("per-op: 3 phase(s): g1_0+g1_1 | sm_max+sm_exp+sm_sum+sm_scale | "
                       "g2_0+g2_1")
    small = load("small")
    x, w1, w2 = _decoder_inputs(16, 4, 4, 4, 0)
    c = fu.compile_decoder(small, x, w1, w2, fused=True)
    assert c.notes == ("fused: 3 phase(s): g1_0+fifo_s+sm_max | sm_exp+sm_sum | "
                       "sm_scale+fifo_p+g2_0")


def test_linear_loops_and_agcu_order():
    assert fu.linear_loops(100, 65535) == [(100, 1)]
    assert fu.linear_loops(200 * 300, 255) == [(250, 1), (240, 250)]
    with pytest.raises(MappingError, match=r"a stream of 65537 vectors cannot be walked with AGCU "
                                           r"loops of at most 255 iterations"):
        fu.linear_loops(65537, 255)
    t = fu.Tensor("t", 0, 3)
    np.testing.assert_array_equal(fu._agcu_order(t, [(3, 1), (2, 0)]), [0, 1, 2, 0, 1, 2])


def test_errors():
    sim = load("sim")
    x, w1, w2 = _decoder_inputs(4, 9, 3, 3, 0)
    with pytest.raises(MappingError, match=r"^decoder: K = 9: must be in 1..8 \(one vector per row, "
                                           r"L = 8 on 'sim'\)"):
        fu.decoder_pipeline(sim, x, w1, w2)
    x, w1, w2 = _decoder_inputs(4, 3, 3, 3, 0)
    with pytest.raises(MappingError, match=r"^decoder: shapes X \(4, 3\), W1 \(3, 3\), W2 \(2, 3\) "
                                           r"do not chain$"):
        fu.decoder_pipeline(sim, x, w1, w2[:2])
    pipe, _ = fu.decoder_pipeline(sim, x, w1, w2)
    with pytest.raises(MappingError, match=r"^decoder: mode = 'lazy': must be 'fused' or "
                                           r"'per_op'$"):
        fu.partition(pipe, "lazy")
    # a unit that alone needs more AGCUs than the fabric has
    small = load("small")
    p = fu.Pipeline("wide", small)
    prog = Program(name="sum3", counters=[Counter(4)], vec_in={0: "every", 1: "every", 2: "every"},
                   stages=[Stage("fadd", a="vec0", b="vec1", dst="r0"),
                           Stage("fadd", a="r0", b="vec2", dst="r0")],
                   vec_out={0: Out(reg="r0"), 1: Out(reg="r0")})
    for i in range(3):
        p.load(f"ld{i}", p.tensor(f"t{i}", np.zeros((4, 4), np.float32)))
    p.pcu("add", prog)
    for i in range(3):
        p.connect(f"ld{i}", f"add.vec_in[{i}]", 4)
    for i in range(2):
        p.store(f"st{i}", p.tensor(f"o{i}", vectors=4))
        p.connect(f"add.vec_out[{i}]", f"st{i}", 4)
    # an output nobody consumes would stall the unit: refused before simulation
    q = fu.Pipeline("dangling", small)
    q.load("ld", q.tensor("t", np.zeros((4, 4), np.float32)))
    q.pcu("pass", Program(name="two_out", counters=[Counter(4)], vec_in={0: "every"},
                          stages=[Stage("fadd", a="vec0", b="vec0", dst="r0")],
                          vec_out={0: Out(reg="r0"), 1: Out(reg="r0")}))
    q.connect("ld", "pass.vec_in[0]", 4)
    q.store("st", q.tensor("o", vectors=4))
    q.connect("pass.vec_out[0]", "st", 4)
    with pytest.raises(MappingError, match=r"^dangling: pass.vec_out\[1\] is produced but not "
                                           r"connected \(it would fill and stall pass\)"):
        fu.partition(q)
    with pytest.raises(MappingError, match=r"^wide: unit 'add' alone needs 1 PCUs, 0 PMUs and 5 "
                                           r"AGCUs; the fabric 'small' has 2, 2 and 4 "
                                           r"\(agcu.count\)$"):
        fu.partition(p)
    with pytest.raises(MappingError, match=r"^wide: connection add.vec_out\[0\] -> ld0.vec_in\[0\] "
                                           r"goes backwards"):
        p.connect("add.vec_out[0]", "ld0.vec_in[0]", 4)
    with pytest.raises(MappingError, match=r"^wide: unit name 'add' used twice$"):
        p.pcu("add", prog)
    with pytest.raises(MappingError, match=r"^wide: HBM tensor 'huge' \(1048576 bytes\) does not "
                                           r"fit: the 'small' HBM model has 262144 bytes"):
        p.tensor("huge", vectors=65536)
    with pytest.raises(MappingError, match=r"^model_run: PMU buf: only FIFO PMUs are modelled$"):
        q = fu.Pipeline("m", small)
        q.load("ld", q.tensor("t", np.zeros((4, 4), np.float32)))
        q.pmu("buf", pm.tile_buffer(small.pmu, 4, 4, 4))
        q.connect("ld", "buf", 4)
        fu.model_run(q)


@pytest.mark.verilator
def test_decoder_rtl_small_fused_and_per_op():
    p = load("small")
    x, w1, w2 = _decoder_inputs(37, 4, 3, 4, SEED)
    exp = fu.decoder_golden(x, w1, w2, p.lanes)
    ex = _executor(p)
    assert isinstance(ex, SimExecutor)
    for fused in (True, False):
        c = fu.compile_decoder(p, x, w1, w2, fused=fused)
        r = ex.run(c.job, seed=SEED)
        out = c.output(r.outputs)
        assert bits_equal(out, exp), (fused, np.abs(out - exp).max())
        assert len(r.phase_cycles) == (3 if fused else 4)
