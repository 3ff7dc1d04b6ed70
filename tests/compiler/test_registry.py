"""The kernel registry and the mapping protocol: every kernel is declared once (shape arguments,
dtypes, options, inputs, golden, float64 reference, mapping), and an option a kernel does not
declare is a one-line request error naming the kernel and its options. No simulation."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from compiler import fft, gemm, registry, scan, sdpa
from compiler.kernel import check_options, compile_kernel
from compiler.protocol import KernelSpec, Option, RequestError
from compiler.requests import KERNELS, KernelRequest, expected, float64_reference, make_inputs
from hw.params import load
from tb.run import run_kernel

#: a small valid shape of every kernel
SMALL = {"gemm": {"M": 3, "N": 5, "K": 7}, "sdpa": {"n": 3, "d": 2},
         "sdpa_naive": {"n": 3, "d": 2}, "fft": {"n": 8}, "hyena": {"n": 8}, "scan": {"n": 9},
         "linear_scan": {"n": 9}, "mamba": {"T": 3, "D": 2, "S": 2}}


def test_every_kernel_is_declared_once_and_completely():
    assert list(KERNELS) == list(SMALL)
    families = {"gemm": gemm, "sdpa": sdpa, "sdpa_naive": sdpa, "fft": fft, "hyena": fft,
                "scan": scan, "linear_scan": scan, "mamba": scan}
    for name, spec in KERNELS.items():
        assert isinstance(spec, KernelSpec) and spec.name == name
        assert spec in families[name].SPECS and spec.mapping is families[name].compile
        assert set(spec.limits) == set(spec.dims) == set(spec.dim_help), name
        assert all(callable(f) for f in (spec.inputs, spec.golden, spec.reference,
                                         spec.input_words)), name
        names = [o.name for o in spec.options]
        assert len(names) == len(set(names)), name
        # every declared option is a keyword of the mapping function, and its default passes
        # its own check
        params = inspect.signature(spec.mapping).parameters
        for o in spec.options:
            assert o.name in params, f"{name}: option {o.name} is not a keyword of the mapping"
            assert o.check(name, o.default) == o.default
    assert registry.FAMILIES == ("compiler.gemm", "compiler.sdpa", "compiler.fft",
                                 "compiler.scan")


@pytest.mark.parametrize("kernel", list(SMALL))
def test_inputs_golden_and_reference_come_from_the_declaration(kernel):
    req = KernelRequest.make(kernel, **SMALL[kernel])
    inputs = make_inputs(req, 3)
    again = make_inputs(req, 3)
    assert all(np.array_equal(inputs[k], again[k]) for k in inputs)    # reproducible
    got = expected(req, inputs, 4, **({"reduce_lanes": 1} if kernel == "mamba" else {}))
    ref = float64_reference(req, inputs)
    assert np.shape(got) == np.shape(ref)
    assert np.allclose(np.asarray(got, np.complex128), np.asarray(ref, np.complex128),
                       rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("kernel", list(SMALL))
def test_declared_input_words_match_the_inputs(kernel):
    """``input_words`` (the capacity check before inputs are made) counts the words the
    inputs take: complex numbers two, every other element one."""
    req = KernelRequest.make(kernel, **SMALL[kernel])
    words = sum(np.size(v) * (2 if np.iscomplexobj(v) else 1)
                for v in make_inputs(req, 0).values())
    assert KERNELS[kernel].input_words(req.shape) == words


@pytest.mark.parametrize("kernel,option,msg", [
    ("gemm", "baseline", "gemm: --baseline is not an option of gemm; its options: --chains, "
                         "--mb, --g, --weights, --spread"),
    ("sdpa", "baseline", "sdpa: --baseline is not an option of sdpa; its options: "
                         "--fifo-depth, --stream-fifo, --mode"),
    ("fft", "chains", "fft: --chains is not an option of fft; its options: --baseline, "
                      "--max-units"),
])
def test_an_undeclared_option_is_a_request_error(kernel, option, msg):
    req = KernelRequest.make(kernel, **SMALL[kernel])
    with pytest.raises(RequestError) as e:
        check_options(req, {option: True})
    assert str(e.value) == msg
    with pytest.raises(RequestError, match=f"^{msg}$"):
        compile_kernel(req, load("small"), make_inputs(req, 0), **{option: True})

    class NoRun:        # the request fails before anything is compiled or run
        def run(self, *a, **k):
            raise AssertionError("ran")
    with pytest.raises(RequestError, match=f"^{msg}$"):
        run_kernel(req, load("small"), executor=NoRun(), **{option: True})


@pytest.mark.parametrize("kernel,options,msg", [
    ("gemm", {"chains": 0}, "gemm: --chains = 0: must be >= 1"),
    ("gemm", {"chains": "2"}, "gemm: --chains = '2': must be an integer"),
    ("gemm", {"weights": "dram"}, "gemm: --weights = 'dram': allowed: 'agcu', 'pmu'"),
    ("gemm", {"spread": 1}, "gemm: --spread = 1: must be true or false"),
    ("scan", {"carry": "both"}, "scan: --carry = 'both': allowed: 'scalar', 'vector'"),
    ("fft", {"max_units": {"pcu": 0}}, "fft: --max-units = {'pcu': 0}: expected unit counts >= 1 "
                                       "of pcu, pmu, agcu, e.g. pcu=2,pmu=3"),
    ("fft", {"max_units": "pcu=2,dsp=1"}, "fft: --max-units: 'dsp=1': expected KIND=N with KIND "
                                          "one of pcu, pmu, agcu and N >= 1, e.g. pcu=2,pmu=3"),
])
def test_option_values_are_checked(kernel, options, msg):
    req = KernelRequest.make(kernel, **SMALL[kernel])
    with pytest.raises(RequestError) as e:
        check_options(req, options)
    assert str(e.value) == msg


def test_checked_options_keep_only_what_was_given():
    fft_req = KernelRequest.make("fft", n=8)
    assert check_options(fft_req, {"baseline": False, "max_units": None}) == {"baseline": False}
    assert check_options(fft_req, {"max_units": "pcu=2,pmu=3"}) == \
        {"max_units": {"pcu": 2, "pmu": 3}}
    assert check_options(KernelRequest.make("gemm", **SMALL["gemm"]), {}) == {}


def test_an_option_reaches_the_mapping():
    """A declared option reaches the mapping: scan's ``baseline`` maps without the extension."""
    p = load("small")
    req = KernelRequest.make("scan", n=64)
    inputs = make_inputs(req, 0)
    ext = compile_kernel(req, p, inputs)
    base = compile_kernel(req, p, inputs, baseline=True)
    assert base.units["pcu"] + base.units["pmu"] > ext.units["pcu"] + ext.units["pmu"]


def test_option_declaration_help():
    o = Option("depth", int, None, "vectors", minimum=1)
    assert (o.flag, o.describe()) == ("--depth", "vectors (default: decided by the mapping)")
    assert Option("on", bool, True, "switch").describe() == "switch (default: on)"
