"""SDPA mappings (``compiler/sdpa.py``): streaming and naive forms.

* model level (no Verilator, seconds): the mapping's PCU programs run on the Python PCU model
  (:func:`compiler.sdpa.model`) are bit-exact to ``hw.golden.sdpa_streaming / sdpa_naive`` with
  ``lanes=L`` over many shapes and seeds, on the ``small`` and ``sim`` PCUs;
* errors: every limit is one line naming it;
* RTL (``verilator``): ``run_kernel`` on the ``small`` System (several phases through HBM) —
  bit-exact, buffer high-water reported; ``sim`` runs (one phase, the benchmark's fabric) are
  ``slow`` (the ``sim`` System build alone takes tens of minutes of CPU).

Seeds: ``RDU_SEED`` (printed) varies the inputs of the random-shape tests.
"""

import os

import numpy as np
import pytest

from compiler import sdpa
from compiler.graph import MappingError
from compiler.requests import KernelRequest, make_inputs
from hw import golden as g
from hw.params import load
from tb.run import bits_equal, run_kernel

SEED = int(os.environ.get("RDU_SEED") or "7", 0)
GOLDEN = {"streaming": g.sdpa_streaming, "naive": g.sdpa_naive}


def _inputs(n, d, seed, scale=1.0):
    rng = np.random.default_rng([seed, n, d])
    return [(rng.standard_normal((n, d)) * s).astype(np.float32) for s in (scale, 1.0, 1.0)]


def test_print_seed():
    print(f"\nsdpa tests: RDU_SEED={SEED}")


@pytest.mark.parametrize("config", ["small", "sim"])
@pytest.mark.parametrize("form", ["streaming", "naive"])
def test_model_bit_exact_shapes(config, form):
    """n = 1, small odd n, n > L; d = 1, odd, L - 1, L — on the mapping's programs (PCU model)."""
    p = load(config)
    L = p.lanes
    for n, d in [(1, 1), (1, L), (3, 3), (7, L - 1), (2 * L + 1, L), (L + 3, 1), (13, 5 % L + 1)]:
        q, k, v = _inputs(n, d, SEED)
        out = sdpa.model(p, q, k, v, form)
        exp = GOLDEN[form](q, k, v, lanes=L)
        assert bits_equal(out, exp), (config, form, n, d, np.abs(out - exp).max())


def test_model_large_scores_and_monotone_keys():
    """Nearly one-hot attention (large scores) and keys whose score grows with j (the running max
    changes at every key: the streaming form rescales every time)."""
    p = load("sim")
    L = p.lanes
    q, k, v = _inputs(9, 6, SEED, scale=30.0)
    for form in GOLDEN:
        assert bits_equal(sdpa.model(p, q, k, v, form), GOLDEN[form](q, k, v, lanes=L))
    n, d = 16, 4
    q = np.ones((3, d), np.float32)
    k = (np.linspace(-4, 4, n)[:, None] * np.ones((1, d))).astype(np.float32)
    v = _inputs(n, d, SEED)[2]
    q = np.concatenate([q, np.zeros((n - 3, d), np.float32)])
    for form in GOLDEN:
        assert bits_equal(sdpa.model(p, q, k, v, form), GOLDEN[form](q, k, v, lanes=L))


def test_streaming_and_naive_programs_use_the_documented_units():
    p = load("sim")
    for kernel, pcus in (("sdpa", 5), ("sdpa_naive", 6)):
        for d, extra in ((3, 0), (p.lanes, 1)):
            req = KernelRequest.make(kernel, n=6, d=d)
            c = sdpa.compile(req, p, make_inputs(req, 0))
            assert c.units == {"pcu": pcus + extra, "pmu": 1, "agcu": 4}, c.units
            assert len(c.job.phases) == 1
            assert c.buffer_reads == ("fifo0.high_water",) and c.buffer_sum
    # small (2 PCUs): several phases, streams cut by a boundary go through HBM
    p = load("small")
    req = KernelRequest.make("sdpa", n=6, d=3)
    c = sdpa.compile(req, p, make_inputs(req, 0))
    assert len(c.job.phases) == 3 and "score+fifo0+max | out | norm+scale" in c.notes


def test_errors():
    sim, small = load("sim"), load("small")
    q, k, v = _inputs(4, 9, 0)
    with pytest.raises(MappingError, match=r"^sdpa: d = 9 exceeds the lane count L = 8 of 'sim': "
                                           r"this mapping holds a q / k / v row in one vector"):
        sdpa.build(sim, q, k, v)
    q, k, v = _inputs(4, 3, 0)
    narrow = small.replace(name="narrow", pcu=small.pcu.replace(vec_in=2))
    with pytest.raises(MappingError, match=r"^sdpa: needs 3 vector inputs per PCU \(p, running max, "
                                           r"v\); 'narrow' has pcu.vec_in = 2 "
                                           r"\(needs pcu.vec_in >= 3\)$"):
        sdpa.build(narrow, q, k, v)
    with pytest.raises(MappingError, match=r"^sdpa_naive: needs the tail extension .*; 'tiny' has "
                                           r"pcu.tail = false \(needs pcu.tail: true\)$"):
        sdpa.build(load("tiny"), q, k, v, "naive")
    with pytest.raises(MappingError, match=r"^sdpa: form = 'fast': must be 'streaming' or "
                                           r"'naive'$"):
        sdpa.build(sim, q, k, v, "fast")
    with pytest.raises(MappingError, match=r"^sdpa_naive: fifo_depth = 3 vectors: the row FIFO "
                                           r"must hold a whole score row \(n = 4 vectors\)"):
        sdpa.build(sim, q, k, v, "naive", fifo_depth=3)
    # the naive form's O(n) buffer runs out of PMUs
    q, k, v = _inputs(1100, 2, 0)
    with pytest.raises(MappingError, match=r"^sdpa_naive: n = 1100: the score row \(1100 vectors "
                                           r"of 4 words\) needs 3 PMU FIFOs of 512 vectors; "
                                           r"'small' has 2 PMUs"):
        sdpa.build(small, q, k, v, "naive")
    # on small the streams between phases go through HBM: n^2 vectors each
    q, k, v = _inputs(300, 2, 0)
    req = KernelRequest.make("sdpa", n=300, d=2)
    with pytest.raises(MappingError, match=r"^sdpa: HBM tensor 'scratch:max.vec_out\[\d\]' "
                                           r"\(1440000 bytes\) does not fit: the 'small' HBM model "
                                           r"has 262144 bytes \(256 KiB\), 19200 already used by "
                                           r"4 tensors"):
        sdpa.compile(req, small, {"q": q, "k": k, "v": v})
    with pytest.raises(MappingError, match=r"^sdpa: kernel 'gemm' is not an SDPA kernel$"):
        sdpa.compile(KernelRequest.make("gemm", M=1, N=1, K=1), sim, {})


# ---------------------------------------------------------------------------------------------
# RTL
# ---------------------------------------------------------------------------------------------

def _run(config, kernel, n, d, seed):
    r = run_kernel(KernelRequest.make(kernel, n=n, d=d), load(config), seed=seed)
    assert r["passed"], r["mismatch"]
    assert r["max_rel_err_vs_float64"] < 1e-4
    return r


@pytest.mark.verilator
@pytest.mark.parametrize("kernel, n, d", [
    ("sdpa", 1, 4), ("sdpa", 5, 3), ("sdpa", 9, 1),
    ("sdpa_naive", 1, 1), ("sdpa_naive", 6, 4), ("sdpa_naive", 7, 3),
])
def test_rtl_small(kernel, n, d):
    r = _run("small", kernel, n, d, SEED + n)
    assert r["phases"] >= 3
    assert r["cycles"] >= n * n


@pytest.mark.verilator
@pytest.mark.slow
@pytest.mark.parametrize("kernel, n, d", [("sdpa", 11, 8), ("sdpa_naive", 20, 5),
                                          ("sdpa", 40, 7), ("sdpa_naive", 40, 8)])
def test_rtl_sim(kernel, n, d):
    r = _run("sim", kernel, n, d, SEED)
    assert r["phases"] == 1
    L = load("sim").lanes
    # one score per L-word vector: the naive row FIFO holds about a whole row, the streaming FIFO
    # a few vectors
    if kernel == "sdpa_naive":
        assert (n - 2) * L <= r["buffer_high_water_words"] <= (n + 8) * L
    else:
        assert r["buffer_high_water_words"] <= 8 * L
