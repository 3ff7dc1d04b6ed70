"""FFT and Hyena on the RTL (``memory.chip.System`` under Verilator): tensors start in the HBM
model, AGCUs stream them through PMUs and PCUs, results return to HBM, bit-exact to ``hw.golden``.

Several kernels run in one simulation (:func:`compiler.fft.compile_many` merges their jobs), so
the ``small`` preset (the e2e preset, one System build shared with the other compiler tests)
covers every size class with and without the butterfly network in one process; ``run_kernel``
(what ``rdu run`` calls) is exercised once per kernel; a few cases run on ``sim``. Long sweeps are
``slow``. ``RDU_SEED`` reruns a seed.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from compiler import fft
from compiler.requests import KernelRequest, expected, make_inputs
from hw.params import load
from tb.run import _executor, bits_equal, run_kernel

SEED = int(os.environ.get("RDU_SEED") or np.random.SeedSequence().entropy % 10_000)


def _batch(params, cases, seed):
    """Run ``cases`` [(kernel, n, baseline)] in one simulation; check each; return
    {case: (output, cycles)}."""
    print(f"fft batch on {params.name}: seed {seed} (rerun with RDU_SEED={seed})")
    entries = []
    for i, (k, n, base) in enumerate(cases):
        req = KernelRequest.make(k, n=n)
        entries.append((req, make_inputs(req, seed + n), {"baseline": base}))
    job, res = fft.compile_many(entries, params)
    r = _executor(params).run(job, seed=seed)
    out = {}
    for case, (req, inputs, _), (c, first, count) in zip(cases, entries, res):
        y = c.output(r.outputs)
        assert bits_equal(y, expected(req, inputs, params.lanes)), \
            f"{case} on {params.name}: not bit-exact to hw.golden (seed {seed})"
        cycles = sum(r.phase_cycles[first:first + count])
        assert cycles > 0
        out[case] = (y, cycles)
    for (k, n, base), (y, _) in out.items():
        if base and (k, n, False) in out:
            assert bits_equal(y, out[(k, n, False)][0]), f"{k} n={n}: baseline != butterfly"
    return out


@pytest.mark.verilator
def test_small_fft_and_hyena_both_mappings():
    p = load("small")                       # L = 4: n = 2 (L/2), 4 (L), 8 (2L), 32 (8L), 64
    cases = [("fft", 2, False), ("fft", 2, True), ("fft", 4, False), ("fft", 8, False),
             ("fft", 8, True), ("fft", 32, False), ("fft", 64, False), ("fft", 64, True),
             ("hyena", 1, False), ("hyena", 4, False), ("hyena", 4, True), ("hyena", 16, False)]
    _batch(p, cases, SEED)


@pytest.mark.verilator
@pytest.mark.parametrize("kernel,n,baseline", [("fft", 16, False), ("hyena", 8, True),
                                               ("hyena", 200, False)])
def test_run_kernel_small(kernel, n, baseline):
    """The ``rdu run`` path: result dictionary, bit-exact, cycles and utilization reported.
    Hyena at n = 200: zero-padded to a 512-point FFT, bit-exact to the golden that pads alike."""
    p = load("small")
    req = KernelRequest.make(kernel, n=n)
    res = run_kernel(req, p, seed=SEED, baseline=baseline)
    assert res["passed"] and res["bit_exact"], res["mismatch"]
    assert res["cycles"] > 0 and res["phases"] >= 1
    assert 0 < res["utilization"] < 1
    assert res["options"] == {"baseline": baseline}
    assert ("baseline" in res["notes"]) == baseline


@pytest.mark.slow         # needs the System build of the 'sim' preset (tens of CPU minutes)
@pytest.mark.verilator
def test_sim_fft_and_hyena():
    p = load("sim")                         # L = 8: n = 4 < L, 64 = 8L
    _batch(p, [("fft", 4, False), ("fft", 64, False), ("fft", 64, True), ("hyena", 16, False)],
           SEED)


@pytest.mark.slow
@pytest.mark.verilator
@pytest.mark.parametrize("preset", ["small", "sim"])
def test_sweep(preset):
    p = load(preset)
    sizes = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    cases = [("fft", n, b) for n in sizes for b in (False, True)]
    cases += [("hyena", n, b) for n in (1, 2, 4, 8, 32, 128, 256) for b in (False, True)]
    _batch(p, cases, SEED)
