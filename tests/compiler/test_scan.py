"""Scan kernels (``compiler/scan.py``): prefix sum (fp32, int32), linear recurrence, Mamba — with
the ``scan`` extension and without it (baseline), bit-exact against ``hw.golden`` and against each
other.

* model level (no Verilator, seconds): every mapping on the ``small`` and ``sim`` presets at many
  shapes (n = 1, n < L, n not a multiple of L, odd T / D / S), the spill path (phases cut small on
  purpose), both carry paths of the baseline, a fabric built without the scan extension, and the
  errors (HBM capacity, missing extension, missing ports) with their messages;
* RTL (``verilator``): the same mappings on the ``small`` System (the e2e preset; several kernels
  per simulation process: their jobs are merged into one) and a few on ``sim``.

Seeds: ``RDU_SEED`` (printed by the RTL runner) reruns a case; the model tests use it too.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from compiler import scan
from compiler.graph import MappingError
from compiler.job import Job
from compiler.requests import KernelRequest, expected, make_inputs
from hw.params import load
from memory.host import DRAMImage
from tb.executor import SimExecutor
from tb.run import EXECUTORS, bits_equal

SEED = int(os.environ.get("RDU_SEED") or "2718", 0)

#: (kernel, dims, dtype) exercised at model level on both presets
MODEL_CASES = [
    ("scan", {"n": 1}, "fp32"), ("scan", {"n": 3}, "fp32"), ("scan", {"n": 37}, "fp32"),
    ("scan", {"n": 64}, "fp32"), ("scan", {"n": 203}, "fp32"),
    ("scan", {"n": 1}, "int32"), ("scan", {"n": 5}, "int32"), ("scan", {"n": 61}, "int32"),
    ("linear_scan", {"n": 1}, None), ("linear_scan", {"n": 6}, None),
    ("linear_scan", {"n": 37}, None), ("linear_scan", {"n": 128}, None),
    ("mamba", {"T": 1, "D": 1, "S": 1}, None), ("mamba", {"T": 9, "D": 3, "S": 5}, None),
    ("mamba", {"T": 17, "D": 1, "S": 3}, None), ("mamba", {"T": 8, "D": 2, "S": 2}, None),
]


def _id(case):
    k, dims, dt = case
    return f"{k}-{'x'.join(f'{a}{b}' for a, b in dims.items())}{'-' + dt if dt else ''}"


def _check(req, params, inputs, compiled, outs):
    out = compiled.output(outs)
    exp = expected(req, inputs, compiled.golden_lanes, **compiled.golden_options)
    assert bits_equal(out, exp), f"{req.kernel} {req.label}: not bit-exact to hw.golden"
    return out


def _model(req, params, inputs, **options):
    c = scan.compile(req, params, inputs, **options)
    return c, _check(req, params, inputs, c, scan.run_model(c.job, params))


@pytest.mark.parametrize("preset", ["small", "sim"])
@pytest.mark.parametrize("case", MODEL_CASES, ids=_id)
def test_model_extension_and_baseline_same_bits(preset, case):
    kernel, dims, dtype = case
    params = load(preset)
    req = KernelRequest.make(kernel, dtype, **dims)
    inputs = make_inputs(req, SEED)
    ext, y_ext = _model(req, params, inputs)
    base, y_base = _model(req, params, inputs, baseline=True)
    assert bits_equal(y_ext, y_base), "baseline and extension differ"
    assert ext.golden_lanes == base.golden_lanes == params.lanes
    assert ext.useful_ops == base.useful_ops > 0
    if kernel == "mamba":
        assert ext.golden_options == {"reduce_lanes": 1}


@pytest.mark.parametrize("preset", ["small", "sim"])
@pytest.mark.parametrize("carry", ["scalar", "vector"])
@pytest.mark.parametrize("case", [("scan", {"n": 45}, "fp32"), ("scan", {"n": 45}, "int32"),
                                  ("linear_scan", {"n": 45}, None),
                                  ("mamba", {"T": 7, "D": 2, "S": 3}, None)], ids=_id)
def test_model_baseline_carry_paths(preset, carry, case):
    kernel, dims, dtype = case
    params = load(preset)
    req = KernelRequest.make(kernel, dtype, **dims)
    inputs = make_inputs(req, SEED + 1)
    c, _ = _model(req, params, inputs, baseline=True, carry=carry)
    names = [n for g in c.job.graphs for n in g.nodes]
    if carry == "vector" and kernel != "scan":
        assert "bcast" in names          # the carry broadcast by the reduction tree
    if carry == "scalar":
        assert "bcast" not in names


@pytest.mark.parametrize("max_units", [1, 2, 3])
def test_model_spill_path(max_units):
    """Phases of at most ``max_units`` units: every stream between them goes through HBM."""
    params = load("sim")
    for kernel, dims, dtype in [("scan", {"n": 77}, "fp32"), ("linear_scan", {"n": 50}, None),
                                ("mamba", {"T": 11, "D": 2, "S": 3}, None)]:
        req = KernelRequest.make(kernel, dtype, **dims)
        inputs = make_inputs(req, SEED + max_units)
        c, _ = _model(req, params, inputs, baseline=True, max_units=max_units)
        assert all(sum(n.kind != "agcu" for n in g.nodes.values()) <= max_units
                   for g in c.job.graphs)
        assert len(c.job.phases) > 1


def test_model_baseline_on_a_fabric_without_the_scan_extension():
    params = load("small")
    noscan = params.replace(pcu=params.pcu.replace(scan=False))
    for kernel, dims, dtype in [("scan", {"n": 30}, "fp32"), ("linear_scan", {"n": 30}, None),
                                ("mamba", {"T": 5, "D": 2, "S": 3}, None)]:
        req = KernelRequest.make(kernel, dtype, **dims)
        inputs = make_inputs(req, SEED)
        _, y0 = _model(req, params, inputs)
        _, y1 = _model(req, noscan, inputs, baseline=True)
        assert bits_equal(y0, y1)
        with pytest.raises(MappingError, match=rf"^{kernel}: the scan mapping needs the scan "
                                               r"extension \(pcu.scan = false on 'small'\); "
                                               r"use --baseline$"):
            scan.compile(req, noscan, inputs)


def test_mapping_shapes_and_figures():
    """Structure of the mappings on ``sim``: the extension scan is one PCU and one phase; the
    baseline one phase with a level (PMU + PCU) per log2 L; figures of merit as documented."""
    params = load("sim")
    L = params.lanes
    req = KernelRequest.make("scan", "fp32", n=100)
    inputs = make_inputs(req, SEED)
    ext = scan.compile(req, params, inputs)
    base = scan.compile(req, params, inputs, baseline=True)
    assert len(ext.job.phases) == 1 and ext.units == {"pcu": 1, "pmu": 0, "agcu": 2}
    assert len(base.job.phases) == 1 and base.units["pmu"] == 3
    assert ext.useful_ops == 100 and ext.peak_ops_per_cycle == L
    assert base.peak_ops_per_cycle == L * base.units["pcu"]
    assert base.buffer_reads and base.stall_reads
    req = KernelRequest.make("mamba", None, T=10, D=3, S=4)
    m = scan.compile(req, params, make_inputs(req, SEED))
    assert m.useful_ops == 2 * 10 * 3 * 4 + 10 * 3 and len(m.job.phases) == 2


def test_row_shape_splits_long_rows():
    assert scan._row_shape(100, 65535) == (100,)
    g0, g1 = scan._row_shape(200_001, 65535)
    assert g0 <= 65535 and g1 <= 65535 and g0 * g1 >= 200_001 and g0 * g1 - 200_001 < g1


def test_model_long_row_two_counters():
    """A row longer than the counters (forced small ``cmax`` through a narrow-counter fabric):
    the carry restarts only at the row start (counter 1 level)."""
    params = load("small")
    narrow = params.replace(pcu=params.pcu.replace(counter_bits=4))
    for kernel, dtype in (("scan", "fp32"), ("linear_scan", None)):
        req = KernelRequest.make(kernel, dtype, n=200)      # 50 groups > 15
        inputs = make_inputs(req, SEED)
        for bl in (False, True):
            c, _ = _model(req, narrow, inputs, baseline=bl)
            assert len(c.job.phases[0].packets.packets) > 0


def test_errors():
    small = load("small")
    req = KernelRequest.make("scan", "fp32", n=1 << 20)
    with pytest.raises(MappingError, match=r"^scan: needs \d+ bytes of HBM \(x 419\d+ B, y "
                                           r"419\d+ B\); the 'small' HBM has 262144 bytes"):
        scan.compile(req, small, make_inputs(req, 0))
    req = KernelRequest.make("mamba", None, T=4096, D=8, S=16)
    with pytest.raises(MappingError, match=r"^mamba: needs \d+ bytes of HBM \(a_bar 2097152 B, "):
        scan.compile(req, small, {k: np.zeros(v.shape, v.dtype) for k, v in
                                  make_inputs(KernelRequest.make("mamba", None, T=4096, D=8,
                                                                 S=16), 0).items()})
    req = KernelRequest.make("linear_scan", None, n=20)
    inputs = make_inputs(req, 0)
    one_out = small.replace(pcu=small.pcu.replace(vec_out=1))
    with pytest.raises(MappingError, match=r"^linear_scan: the pair scan needs 5 stages; chaining "
                                           r"PCUs of 4 stages needs 2 vector inputs and outputs "
                                           r"\(the PCU has 3 / 1\)$"):
        scan.compile(req, one_out, inputs)
    two_in = small.replace(pcu=small.pcu.replace(vec_in=2))
    with pytest.raises(MappingError, match=r"^linear_scan baseline: a level needs 3 vector inputs "
                                           r"\(A, B, B shifted\), the PCU has 2$"):
        scan.compile(req, two_in, inputs, baseline=True)
    with pytest.raises(MappingError, match=r"^linear_scan: carry = 'both': allowed: 'scalar', "
                                           r"'vector'"):
        scan.compile(req, small, inputs, baseline=True, carry="both")
    req = KernelRequest.make("scan", "fp32", n=20)
    one_agcu = small.replace(agcu=small.agcu.replace(count=1))
    with pytest.raises(MappingError, match=r"^scan: unit scan \(pcu\) cannot be mapped in a phase "
                                           r"of its own on 'small': scan\[0\]: needs 2 AGCUs, "
                                           r"the fabric 'small' has 1"):
        scan.compile(req, one_agcu, make_inputs(req, 0))


# ------------------------------------------------------------------------------------------------
# RTL
# ------------------------------------------------------------------------------------------------

def _merged_run(params, items, seed):
    """Run several compiled kernels in one simulation: their HBM regions are disjoint
    (``hbm_base``), their phases run one after the other. ``items``: (req, inputs, options).
    Returns per item (compiled, output, phase cycles)."""
    compiled, base = [], 0
    for req, inputs, opts in items:
        c = scan.compile(req, params, inputs, hbm_base=base, **opts)
        base = c.job.hbm_top
        compiled.append(c)
    image = DRAMImage(params.memory.hbm, "hbm")
    for c in compiled:
        image.bytes |= c.job.hbm.bytes
    phases, outputs = [], {}
    for i, c in enumerate(compiled):
        phases += c.job.phases
        outputs.update({f"{i}.{k}": v for k, v in c.job.outputs.items()})
    key = (params.name, repr(params.to_dict()))
    ex = EXECUTORS.setdefault(key, SimExecutor(params))
    r = ex.run(Job(phases, image, outputs), seed=seed)
    res, k = [], 0
    for i, ((req, inputs, _), c) in enumerate(zip(items, compiled)):
        outs = {name.split(".", 1)[1]: v for name, v in r.outputs.items()
                if name.startswith(f"{i}.")}
        n = len(c.job.phases)
        res.append((c, _check(req, params, inputs, c, outs), r.phase_cycles[k:k + n]))
        k += n
    return res


def _pairs(cases, seed):
    items = []
    for kernel, dims, dtype in cases:
        req = KernelRequest.make(kernel, dtype, **dims)
        inputs = make_inputs(req, seed)
        items += [(req, inputs, {}), (req, inputs, {"baseline": True})]
    return items


def _assert_pairs_equal(res):
    for (c0, y0, cyc0), (c1, y1, cyc1) in zip(res[0::2], res[1::2]):
        assert bits_equal(y0, y1), f"{c0.notes}: baseline and extension differ"
        assert sum(cyc1) > sum(cyc0) > 0, (c0.notes, cyc0, c1.notes, cyc1)


@pytest.mark.verilator
def test_rtl_small_scans():
    params = load("small")
    res = _merged_run(params, _pairs([("scan", {"n": 1}, "fp32"), ("scan", {"n": 37}, "fp32"),
                                      ("scan", {"n": 3}, "int32"), ("scan", {"n": 61}, "int32"),
                                      ("linear_scan", {"n": 2}, None),
                                      ("linear_scan", {"n": 45}, None)], SEED), SEED)
    _assert_pairs_equal(res)


@pytest.mark.verilator
def test_rtl_small_mamba_and_carry_paths():
    params = load("small")
    items = _pairs([("mamba", {"T": 9, "D": 3, "S": 5}, None),
                    ("mamba", {"T": 1, "D": 1, "S": 1}, None)], SEED + 1)
    req = KernelRequest.make("scan", "fp32", n=29)
    inputs = make_inputs(req, SEED + 1)
    items.append((req, inputs, {"baseline": True, "carry": "vector"}))
    req = KernelRequest.make("linear_scan", None, n=29)
    inputs = make_inputs(req, SEED + 1)
    items.append((req, inputs, {"baseline": True, "carry": "vector"}))
    res = _merged_run(params, items, SEED + 1)
    _assert_pairs_equal(res[:4])


@pytest.mark.slow         # needs the System build of the 'sim' preset (tens of CPU minutes)
@pytest.mark.verilator
def test_rtl_sim_scans():
    params = load("sim")
    res = _merged_run(params, _pairs([("scan", {"n": 100}, "fp32"),
                                      ("linear_scan", {"n": 77}, None),
                                      ("mamba", {"T": 11, "D": 3, "S": 3}, None)], SEED + 2),
                      SEED + 2)
    _assert_pairs_equal(res)


@pytest.mark.slow
@pytest.mark.verilator
@pytest.mark.parametrize("preset", ["small", "sim"])
def test_rtl_sweep(preset):
    params = load(preset)
    cases = [("scan", {"n": n}, dt) for n in (2, 8, 31, 250) for dt in ("fp32", "int32")]
    cases += [("linear_scan", {"n": n}, None) for n in (3, 16, 99, 300)]
    cases += [("mamba", {"T": t, "D": d, "S": s}, None) for t, d, s in ((3, 5, 7), (33, 2, 4),
                                                                      (16, 3, 1))]
    for seed in (SEED + 10, SEED + 11):
        _assert_pairs_equal(_merged_run(params, _pairs(cases, seed), seed))


@pytest.mark.verilator
def test_rtl_run_kernel_cli_path():
    """``rdu run`` goes through tb.run.run_kernel: result dictionary, bit-exact."""
    from tb.run import run_kernel
    params = load("small")
    req = KernelRequest.make("mamba", None, T=5, D=2, S=3)
    r = run_kernel(req, params, seed=SEED, baseline=True)
    assert r["passed"] and r["bit_exact"] and r["golden_options"] == {"reduce_lanes": 1}
    assert r["phases"] == len(r["phase_cycles"]) > 1 and r["utilization"] > 0
