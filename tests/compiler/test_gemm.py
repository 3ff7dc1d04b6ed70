"""GEMM mapping (compiler/gemm.py): planning and errors (no simulation), and GEMMs end to end on
the System RTL under Verilator — A and B in the HBM model, C back in HBM, bit-exact against
``hw.golden.gemm``. Several GEMMs share one simulation (one job, phases in sequence)."""

import os

import numpy as np
import pytest

from compiler import gemm
from compiler.graph import MappingError
from compiler.requests import KernelRequest, RequestError, make_inputs
from hw import golden
from hw.params import load
from tb.executor import SimExecutor
from tb.run import bits_equal, run_kernel

SEED = int(os.environ.get("RDU_SEED", np.random.SeedSequence().entropy % 10_000))

_EXEC = {}


def _executor(p):
    if p.name not in _EXEC:
        _EXEC[p.name] = SimExecutor(p)
    return _EXEC[p.name]


def _req(M, N, K, dtype="bf16"):
    return KernelRequest.make("gemm", dtype, M=M, N=N, K=K)


def _run_batch(p, shapes, seed, **options):
    """Run every (M, N, K, dtype) of ``shapes`` in one simulation; assert bit-exact results."""
    print(f"gemm batch on {p.name}: seed {seed} (rerun with RDU_SEED={seed})")
    cases = []
    for i, (M, N, K, dt) in enumerate(shapes):
        req = _req(M, N, K, dt)
        cases.append((req, make_inputs(req, seed + i)))
    job, plans, outs = gemm.batch(cases, p, **options)
    r = _executor(p).run(job, seed=seed)
    for (req, inp), pl, out, ph_reads in zip(cases, plans, outs, _split(r.reads, plans)):
        got = out(r.outputs)
        exp = golden.gemm(inp["a"], inp["b"], dtype=req.dtype)
        assert got.shape == exp.shape
        if not bits_equal(got, exp):
            bad = np.argwhere(got.view(np.uint32) != exp.view(np.uint32))
            i = tuple(bad[0])
            raise AssertionError(f"gemm {req.label} {req.dtype} ({pl.describe()}): {len(bad)} of "
                                 f"{exp.size} elements differ; first at {i}: got {got[i]!r}, "
                                 f"expected {exp[i]!r} (seed {seed})")
        # every chain PCU issued exactly its iterations and weight loads in every phase
        for reads in ph_reads:
            for label, v in reads.items():
                if label.endswith(".active"):
                    assert v == pl.iterations, (label, v, pl.iterations)
                if label.endswith(".loads"):
                    assert v == pl.stages * pl.g * pl.nkb, (label, v)
    return r, plans


def _split(reads, plans):
    out, i = [], 0
    for pl in plans:
        out.append(reads[i:i + pl.phases])
        i += pl.phases
    return out


# ---------------------------------------------------------------------------------------------
# Planning and errors (no simulation)
# ---------------------------------------------------------------------------------------------

def test_plan_256_on_sim_uses_two_chains():
    pl = gemm.plan(_req(256, 256, 256), load("sim"))
    assert (pl.chain, pl.chains, pl.nkb) == (2, 2, 32)
    assert pl.weights == "pmu"
    assert pl.units == {"pcu": 4, "pmu": 7, "agcu": 4}
    assert pl.mb * pl.g <= 1024          # the partial-sum FIFO fits one PMU
    assert pl.m_pad == 256 and pl.n_pad == 256 and pl.k_pad == 256
    # rows start on different HBM channels: pitch = an odd number of 64-byte accesses
    assert (pl.a_pitch * 4 // 64) % 2 == 1


def test_plan_small_is_one_single_pcu_chain():
    pl = gemm.plan(_req(20, 12, 9), load("small"))
    assert (pl.chain, pl.chains, pl.nkb, pl.weights) == (1, 1, 3, "agcu")
    assert pl.units == {"pcu": 1, "pmu": 2, "agcu": 3}
    # K <= L: no partial-sum feedback, chain as long as K needs
    pl = gemm.plan(_req(4, 4, 3), load("sim"))
    assert (pl.chain, pl.nkb) == (1, 1)
    pl = gemm.plan(_req(4, 20, 7), load("sim"))
    assert (pl.chain, pl.nkb, pl.chains) == (2, 1, 2)


def test_tiling_splits_large_shapes_into_phases():
    pl = gemm.plan(_req(600, 40, 40), load("small"))
    # small: 2 x 512-word A buffers in a 2048-word PMU, a 512-vector psum FIFO
    assert pl.mb * pl.g <= 512 and 2 * pl.mb * 4 <= 2048
    assert pl.m_pad >= 600 and pl.n_pad >= 40
    assert pl.phases == pl.n_mblocks * pl.n_groups > 1


def test_too_large_for_hbm():
    with pytest.raises(MappingError, match=r"gemm 4096x4096x4096: A, B and C .* need \d+ KiB of "
                                           r"HBM; the 'tiny' HBM of 'small' has 256 KiB"):
        gemm.plan(_req(4096, 4096, 4096), load("small"))


def test_bad_dtype():
    with pytest.raises(RequestError, match=r"gemm: --dtype 'fp16': allowed: bf16, int16"):
        _req(4, 4, 4, "fp16")
    req = KernelRequest("gemm", {"M": 4, "N": 4, "K": 4}, "fp32")
    with pytest.raises(MappingError, match=r"gemm: dtype 'fp32': this mapping supports bf16, int16"):
        gemm.plan(req, load("small"))


def test_fabric_limits_are_named():
    with pytest.raises(MappingError, match=r"gemm: needs the systolic PCU extension "
                                           r"\(pcu\.systolic = false in 'tiny'\)"):
        gemm.plan(_req(4, 4, 4), load("tiny"))
    with pytest.raises(MappingError, match=r"3 chain\(s\) of 2 PCU\(s\) with weights via PMU need "
                                           r"6 PCUs, 10 PMUs, 5 AGCUs; the fabric 'sim' has 8, 8, 4"):
        gemm.plan(_req(64, 64, 64), load("sim"), chains=3, weights="pmu")
    with pytest.raises(MappingError, match=r"gemm: mb = 5000: must be in 1\.\.512"):
        gemm.plan(_req(64, 64, 64), load("sim"), mb=5000)
    with pytest.raises(MappingError, match=r"gemm: g = 100: must be in 1\.\.16 \(the partial-sum "
                                           r"FIFO holds 1024 vectors = g x mb = g x 64\)"):
        gemm.plan(_req(64, 64, 64), load("sim"), mb=64, g=100)
    with pytest.raises(MappingError, match=r"weights = 'dram': allowed: 'agcu', 'pmu'"):
        gemm.plan(_req(4, 4, 4), load("sim"), weights="dram")


def test_request_limits():
    with pytest.raises(RequestError, match=r"gemm: M = 0: must be in 1\.\.4096"):
        _req(0, 4, 4)


# ---------------------------------------------------------------------------------------------
# On the RTL
# ---------------------------------------------------------------------------------------------

SMALL_SHAPES = [
    (1, 1, 1, "bf16"),        # the smallest
    (5, 6, 3, "bf16"),        # K < S: one K block, N not a multiple of L
    (7, 9, 13, "bf16"),       # odd everything, 4 K blocks with partial-sum feedback
    (3, 5, 16, "int16"),      # K = 4 L exactly
    (6, 5, 17, "int16"),      # K not a multiple of L or S
    (1, 1, 1, "int16"),
]


@pytest.mark.verilator
def test_gemm_small_bit_exact():
    _run_batch(load("small"), SMALL_SHAPES, SEED)


@pytest.mark.verilator
def test_gemm_small_m_blocks_and_groups():
    # forced tiling: 3 M blocks x 2 n-tile groups = 6 phases per GEMM
    _, plans = _run_batch(load("small"), [(9, 8, 6, "bf16"), (9, 8, 6, "int16")], SEED + 100,
                          mb=3, g=1)
    assert all(pl.phases == 6 for pl in plans)


@pytest.mark.slow         # needs the System build of the 'sim' preset (tens of CPU minutes)
@pytest.mark.verilator
def test_gemm_sim_two_chains_bit_exact():
    p = load("sim")
    _, plans = _run_batch(p, [(21, 40, 19, "bf16"), (10, 17, 8, "int16"), (3, 7, 5, "bf16")],
                          SEED + 200)
    assert plans[0].chains == 2 and plans[0].weights == "pmu"


@pytest.mark.slow         # needs the System build of the 'sim' preset (tens of CPU minutes)
@pytest.mark.verilator
def test_gemm_sim_weights_from_agcus():
    _, plans = _run_batch(load("sim"), [(12, 16, 24, "bf16"), (12, 16, 24, "int16")], SEED + 300,
                          chains=1, weights="agcu")
    assert plans[0].units == {"pcu": 2, "pmu": 2, "agcu": 4}


@pytest.mark.verilator
def test_run_kernel_reports_utilization():
    p = load("small")
    req = _req(16, 8, 12)
    res = run_kernel(req, p, seed=SEED)
    assert res["passed"], res["mismatch"]
    assert res["units"] == {"pcu": 1, "pmu": 2, "agcu": 3}
    assert 0 < res["utilization"] <= 1
    assert res["ideal_cycles"] == -(-16 * 8 * 12 // (p.lanes * p.pcu.stages))
    assert res["buffer_high_water_words"] > 0


@pytest.mark.slow
@pytest.mark.verilator
@pytest.mark.parametrize("cfg", ["small", "sim"])
def test_gemm_random_shapes_sweep(cfg):
    rng = np.random.default_rng(SEED)
    shapes = [(int(rng.integers(1, 40)), int(rng.integers(1, 40)), int(rng.integers(1, 70)),
               str(rng.choice(["bf16", "int16"]))) for _ in range(8)]
    _run_batch(load(cfg), shapes, SEED + 400)
