"""``rdu run``'s arguments come from the kernel registry: one sub-parser per kernel with its shape
arguments, dtypes and options (``rdu run KERNEL --help``); an option the kernel does not declare
is a one-line error (exit 2) naming the kernel and its options; only the declared, given options
reach ``run_kernel`` (and so result.json). No simulation."""

from __future__ import annotations

import pytest

from compiler.requests import KERNELS
from scripts import cli

GEMM = ["run", "gemm", "--M", "8", "--N", "8", "--K", "8"]


@pytest.fixture
def runs(monkeypatch):
    """The options each ``rdu run`` hands to ``run_kernel`` (which does not simulate here)."""
    seen = []

    def fake_run(req, params, seed, **kw):
        seen.append((req.kernel, {k: v for k, v in kw.items() if k not in
                                  ("out_dir", "waves", "waves_window")}))
        return {"passed": True, "kernel": req.kernel}
    monkeypatch.setattr(cli, "run_kernel", fake_run)
    monkeypatch.setattr(cli, "check_cache", lambda: None)
    monkeypatch.delenv("RDU_ARITH", raising=False)
    monkeypatch.delenv("RDU_SEED", raising=False)
    return seen


@pytest.mark.parametrize("argv,msg", [
    (GEMM + ["--baseline"], "gemm: --baseline is not an option of gemm; its options: --chains, "
                            "--mb, --g, --weights, --spread"),
    (["run", "sdpa", "--n", "8", "--d", "4", "--baseline"],
     "sdpa: --baseline is not an option of sdpa; its options: --fifo-depth, --stream-fifo, "
     "--mode"),
    (["run", "scan", "--n", "8", "--max-units", "2", "--chains", "2"],
     "scan: --chains is not an option of scan; its options: --baseline, --max-units, --carry"),
    (GEMM + ["--weights", "dram"], "gemm: --weights = 'dram': allowed: 'agcu', 'pmu'"),
    (["run", "fft", "--n", "8", "--max-units", "pcu"],
     "fft: --max-units: 'pcu': expected KIND=N with KIND one of pcu, pmu, agcu and N >= 1, e.g. "
     "pcu=2,pmu=3"),
])
def test_an_option_the_kernel_does_not_have_is_exit_2(capsys, runs, argv, msg):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"rdu: error: {msg}"
    assert runs == []


def test_only_declared_given_options_reach_the_run(capsys, runs):
    for argv in (GEMM, GEMM + ["--chains", "1", "--no-spread"],
                 ["run", "fft", "--n", "8", "--baseline", "--max-units", "pcu=2,pmu=3"],
                 ["run", "mamba", "--T", "4", "--D", "2", "--S", "2", "--no-baseline",
                  "--carry", "vector"]):
        assert cli.main(argv + ["--json"]) == 0
    assert runs == [("gemm", {}), ("gemm", {"chains": 1, "spread": False}),
                    ("fft", {"baseline": True, "max_units": {"pcu": 2, "pmu": 3}}),
                    ("mamba", {"baseline": False, "carry": "vector"})]
    capsys.readouterr()


def test_help_lists_every_kernel_with_its_shape_and_options(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for name, spec in KERNELS.items():
        assert f"{name} {' '.join('--' + d for d in spec.dims)} dtype {'|'.join(spec.dtypes)} " \
               f"options: {spec.describe_options()}" in out
    for kernel, has, hasnt in [("gemm", ["--M N", "--chains N", "--weights {agcu,pmu}",
                                         "--spread, --no-spread", "bf16, int16"],
                                ["--baseline", "--n ", "hbm"]),
                               ("scan", ["--baseline, --no-baseline", "--carry {scalar,vector}",
                                         "--max-units N", "fp32, int32"],
                                ["--chains", "--hbm-base", "--M"])]:
        with pytest.raises(SystemExit):
            cli.main(["run", kernel, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert all(h in out for h in has), out
        assert not any(h in out for h in hasnt), out
