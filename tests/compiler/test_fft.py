"""FFT and Hyena mappings (``compiler/fft.py``) at model level (no Verilator, seconds).

* every size class (n = 2, n < L, n = L, 2L, 8L, 64 ..) on the ``small`` and ``sim`` presets, with
  the butterfly network and without (baseline, also on a fabric built with ``butterfly: false``),
  bit-exact against ``hw.golden`` and bit-identical to each other — the whole plan (AGCU walks over
  the HBM image, PMU programs on :class:`tiles.pmu_model.PMUModel`, PCU programs on
  :mod:`tiles.pcu_model`) runs in Python;
* the PMU reorders are conflict-free (no fallback to bank conflicts) and the phases respect the
  fabric's units;
* errors: non-power-of-two sizes (request layer), a transform larger than a PMU, HBM capacity,
  the butterfly mapping on a fabric without the extension, too few units, too few lanes.

RTL runs are in ``test_fft_rtl.py``. ``RDU_SEED`` reruns a seed (printed on failure).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from compiler import fft
from compiler.graph import MappingError
from compiler.requests import (KernelRequest, RequestError, expected, float64_reference,
                               make_inputs)
from hw.golden import error_report
from hw.params import load
from tb.run import bits_equal

SEED = int(os.environ.get("RDU_SEED") or np.random.SeedSequence().entropy % 10_000)


def _run(req, params, inputs, **options):
    c = fft.compile(req, params, inputs, **options)
    y = c.output(fft.model_run(c.plan))
    exp = expected(req, inputs, c.golden_lanes)
    assert bits_equal(y, exp), (f"{req.kernel} n={req.shape['n']} {params.name} {options}: not "
                                f"bit-exact to hw.golden (seed {SEED})")
    return c, y


CASES = {
    "small": [("fft", 2), ("fft", 4), ("fft", 8), ("fft", 32), ("fft", 64),
              ("hyena", 1), ("hyena", 2), ("hyena", 4), ("hyena", 16)],
    "sim": [("fft", 2), ("fft", 4), ("fft", 8), ("fft", 16), ("fft", 64), ("fft", 256),
            ("hyena", 1), ("hyena", 4), ("hyena", 8), ("hyena", 32)],
}


@pytest.mark.parametrize("preset,kernel,n", [(p, k, n) for p, cs in CASES.items()
                                              for k, n in cs],
                         ids=lambda v: str(v))
def test_model_butterfly_and_baseline_bit_exact(preset, kernel, n):
    params = load(preset)
    req = KernelRequest.make(kernel, n=n)
    inputs = make_inputs(req, SEED + n)
    ext, y_ext = _run(req, params, inputs)
    base, y_base = _run(req, params, inputs, baseline=True)
    assert bits_equal(y_ext, y_base), "baseline and butterfly mappings differ"
    assert ext.useful_ops == base.useful_ops > 0
    assert "butterfly" in ext.notes and "baseline" in base.notes
    # the baseline never uses the butterfly network: it assembles on a PCU without it
    hon = params.replace(pcu=params.pcu.replace(butterfly=False))
    _, y_hon = _run(req, hon, inputs, baseline=True)
    assert bits_equal(y_hon, y_ext)


def test_useful_ops_and_peak():
    p = load("sim")
    req = KernelRequest.make("fft", n=64)
    c = fft.compile(req, p, make_inputs(req, 0))
    assert c.useful_ops == 5 * 64 * 6
    assert c.peak_ops_per_cycle == p.lanes * p.pcu.stages * c.units["pcu"]
    req = KernelRequest.make("hyena", n=16)
    c = fft.compile(req, p, make_inputs(req, 0))
    assert c.useful_ops == 3 * 5 * 32 * 5 + 6 * 32 + 3 * 16


@pytest.mark.parametrize("preset", ["small", "sim"])
@pytest.mark.parametrize("baseline", [False, True])
def test_reorders_conflict_free_and_phases_fit(preset, baseline):
    p = load(preset)
    for kernel, n in (("fft", 256), ("hyena", 64)):
        req = KernelRequest.make(kernel, n=n)
        c = fft.compile(req, p, make_inputs(req, 1), baseline=baseline)
        fp = c.plan
        fmap_units = {"pcu": 0, "pmu": 0}
        for u in fft.fabric_map(p).units:
            fmap_units[u.kind] += 1
        for g in fp.graphs:
            kinds = [nd.kind for nd in g.nodes.values()]
            assert kinds.count("pcu") <= fmap_units["pcu"]
            assert kinds.count("pmu") <= fmap_units["pmu"]
            assert kinds.count("agcu") <= p.agcu.count
            for nd in g.nodes.values():
                if nd.kind == "pmu":
                    assert not nd.program.allow_conflicts, f"{g.name}: {nd.program.name}"
        assert len(c.job.phases) == len(fp.graphs) == len(fp.phase_ops)


def test_butterfly_uses_fewer_units_per_level():
    p = load("sim")
    req = KernelRequest.make("fft", n=1024)
    inputs = make_inputs(req, 0)
    ext = fft.compile(req, p, inputs)
    base = fft.compile(req, p, inputs, baseline=True)
    # the butterfly mapping runs two cross-vector levels per reorder on 8 lanes
    assert sum(o.count("reorder") for ops in ext.plan.phase_ops for o in ops) == 5
    assert sum(o.count("2 PMU + 2 PCU") for ops in base.plan.phase_ops for o in ops) == 10


def test_twiddle_vectors_match_the_golden_table():
    sp = fft.Space(4)
    lay = fft.natural(sp, 2)
    T = fft.twiddle_vectors(sp, lay, 3)
    w = np.asarray(__import__("hw.numerics", fromlist=["x"]).twiddles(16))
    idx = lay.index(sp)
    e, q = idx & 1, idx >> 1
    bottom = (q >> 3) & 1
    j = q & 7
    want = np.where(bottom == 1, w.real[j], np.where(e == 1, w.imag[j], -w.imag[j]))
    np.testing.assert_array_equal(T, want.astype(np.float32))


# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset,n,baseline", [
    ("small", 3, False), ("small", 3, True), ("small", 5, False), ("sim", 200, False),
    pytest.param("small", 200, False, marks=pytest.mark.slow),
    pytest.param("small", 200, True, marks=pytest.mark.slow),
    pytest.param("sim", 1000, False, marks=pytest.mark.slow),
], ids=lambda v: str(v))
def test_hyena_any_n_bit_exact(preset, n, baseline):
    """Hyena of any length: u and k zero-padded to the power of two >= 2n (the golden pads
    alike), the output cropped to n; bit-exact on the Python models, error against float64
    within what the same FFT length gives."""
    params = load(preset)
    req = KernelRequest.make("hyena", n=n)
    inputs = make_inputs(req, SEED + n)
    c, y = _run(req, params, inputs, baseline=baseline)
    assert y.shape == (n,)
    assert f"hyena {'baseline' if baseline else 'butterfly'}" in c.notes
    err = error_report(y, float64_reference(req, inputs))
    assert err.max_rel < 1e-5, err


# Errors
# ---------------------------------------------------------------------------------------------

def test_request_rejects_non_power_of_two_fft():
    with pytest.raises(RequestError, match=r"fft: n = 12: must be a power of two .*e\.g\. 8 or 16"):
        KernelRequest.make("fft", n=12)
    assert KernelRequest.make("hyena", n=24).shape == {"n": 24}      # zero-padded: any n


def test_transform_larger_than_a_pmu():
    p = load("small")
    req = KernelRequest.make("fft", n=2048)
    with pytest.raises(MappingError, match=r"fft: a transform of 4096 words \(2048 points with "
                                           r"padding\) does not fit a PMU of 2048 words \(4 banks "
                                           r"x 512\); limit n <= 1024 points"):
        fft.compile(req, p, make_inputs(req, 0))
    for n in (1024, 513):       # 2048 points (513: zero-padded to the power of two >= 2n)
        req = KernelRequest.make("hyena", n=n)
        with pytest.raises(MappingError) as e:
            fft.compile(req, p, make_inputs(req, 0))
        assert str(e.value) == (f"hyena: n = {n} is zero-padded to a 2048-point FFT (4096 words), "
                                f"which does not fit a PMU of 2048 words (4 banks x 512) on "
                                f"'small'; limit n <= 512")


def test_hbm_capacity():
    p = load("small")
    hbm = p.memory.hbm.replace(rows=4)               # 16 KiB
    p = p.replace(memory=p.memory.replace(hbm=hbm))
    req = KernelRequest.make("fft", n=512)
    with pytest.raises(MappingError, match=r"^fft: n = 512: needs \d+ bytes of HBM \(x 4096 B, "
                                           r"y 4096 B, .*\); the 'small' HBM has 16384 bytes "
                                           r"\(memory.hbm rows x banks x row_bytes x channels\)"):
        fft.compile(req, p, make_inputs(req, 0))


def test_butterfly_mapping_needs_the_extension():
    p = load("small")
    p = p.replace(pcu=p.pcu.replace(butterfly=False))
    req = KernelRequest.make("fft", n=16)
    with pytest.raises(MappingError, match=r"fft: the butterfly mapping needs the PCU's butterfly "
                                           r"extension \(pcu.butterfly = false on 'small'\); "
                                           r"use --baseline"):
        fft.compile(req, p, make_inputs(req, 0))


def test_too_few_units():
    p = load("small")
    req = KernelRequest.make("fft", n=16)
    with pytest.raises(MappingError, match=r"fft: step '2 PMU \+ 2 PCU DIF h=8 \(\+twiddles\)' "
                                           r"needs 2 PCUs, 2 PMUs and 3 AGCUs; the fabric 'small' "
                                           r"has 2 PCUs, 1 PMUs, 4 AGCUs"):
        fft.compile(req, p, make_inputs(req, 0), baseline=True, max_units={"pmu": 1})


def test_needs_four_lanes():
    s = load("small")
    p = s.replace(lanes=2, pcu=s.pcu.replace(lanes=2), pmu=s.pmu.replace(banks=2))
    req = KernelRequest.make("fft", n=4)
    with pytest.raises(MappingError, match=r"lanes = \d+: the FFT mapping needs a power of two"):
        fft.compile(req, p, make_inputs(req, 0))
