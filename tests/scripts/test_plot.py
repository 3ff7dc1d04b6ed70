"""``rdu plot`` (scripts/plot.py) on small fake benchmark results shaped like the real rows of
scripts/bench_<name>.py: every figure is written as a non-empty PNG and SVG, a figure or panel
without its data is skipped with one line naming the JSON and key, a missing ``--bench``
directory is a one-line error with exit status 2."""

from __future__ import annotations

import json

import pytest

from scripts import cli, plot

GEMM = [
    {"config": "tiny", "shape": f"{n}x{n}x{n}", "dtype": dt, "bit_exact": True,
     "cycles": n ** 3 // 40 + 300, "ideal": n ** 3 // 48, "mac_util": round(0.3 + n / 400, 3),
     "config_cycles": 900, "phases": 1, "pcus": 2, "pmus": 2, "agcus": 2}
    for n in (16, 32, 64) for dt in ("bf16", "int16")
]
FFT = [
    {"config": "tiny", "kernel": k, "n": n, "mapping": m,
     "cycles": n * (6 if m == "baseline" else 3),
     "phases": 2, "cfg_cycles": 500, "pcu": 2, "pmu": 2, "util": 0.1 if m == "baseline" else 0.2,
     "speedup": 2.0 if m == "baseline" else None, "bit_exact": True, "same_bits": True}
    for k in ("fft", "hyena") for n in (32, 64) for m in ("butterfly", "baseline")
]
SCAN = [
    {"kernel": k, "shape": shape, "dtype": "fp32", "mapping": m,
     "cycles": 400 if m == "baseline" else 200, "phases": 1, "config": 700, "pcu": 1, "pmu": 1,
     "util": 0.4, "speedup": 2.0 if m == "baseline" else None, "bit_exact": True,
     "same_bits": True}
    for k, shape in (("scan", "256"), ("scan", "1024"), ("linear_scan", "256"),
                     ("mamba", "32x2x4")) for m in ("scan ext", "baseline")
] + [{"kernel": "scan", "shape": "256", "dtype": "fp32",
      "mapping": "baseline small / small scan:false", "cycles": "400 / 400", "phases": 1,
      "config": 700, "pcu": 1, "pmu": 1, "util": 0.3, "speedup": 1.9, "bit_exact": True,
      "same_bits": True}]
SDPA = [
    {"bench": "sdpa", "form": form, "N": n, "d": 4, "cycles": n * n + 50,
     "pairs_per_cycle": 0.95, "buffer_hw_words": 24 if form == "streaming" else 4 * n + 16,
     "buffer_hw_per_N": 1.0, "bit_exact": True, "phases": 1}
    for n in (64, 128, 256) for form in ("streaming", "naive")
] + [{"bench": "fusion", "M": 256, "K": 8, "N1": 8, "N2": 8, "fused_cycles": 900,
      "per_op_cycles": 2500, "ratio": 2.78, "bit_exact": True}]
PCU = [
    {"benchmark": "gemm systolic", "config": "sim bf16", "metric": "steady-state MAC utilization",
     "value": 0.97, "detail": ""},
    {"benchmark": "scan: prefix sum", "config": "sim fp32 T=1024, one sequence",
     "metric": "speedup scan on / off", "value": 3.1, "detail": ""},
    {"benchmark": "fft: DIF level in-vector", "config": "sim fp32, 256 FFTs of 4 points",
     "metric": "speedup butterfly on / off", "value": 4.0, "detail": ""},
    {"benchmark": "area synth_ecp5", "config": "tiny PCU, baseline", "metric": "LUT4 / FF / DSP",
     "value": 5000, "detail": ""},
    {"benchmark": "area synth_ecp5", "config": "tiny PCU, systolic", "metric": "LUT4 / FF / DSP",
     "value": 5600, "detail": ""},
]
PMU = [{"benchmark": "area synth_ecp5", "config": "fpga", "case": "PMU 4 banks", "value": v,
        "unit": u, "detail": ""} for u, v in (("LUT4", 1200), ("FF", 800), ("DP16KD", 4))]
INTERCONNECT = [{"benchmark": "area synth_ecp5 (one switch)", "config": "tiny", "metric": "LUT4",
                 "value": 700, "detail": ""},
                {"benchmark": "latency per hop", "config": "tiny (test units)",
                 "metric": "cycles / link", "value": 1.0, "detail": ""}]
ARITH = [{"block": b, "latency": 2, "LUT4": v, "CCU2C": 10, "mux": 3, "FF": 50, "MULT18X18D": 1,
          "DP16KD": 0, "LUT4_eq": v + 20, "other": "", "yosys_s": 1.0}
         for b, v in (("FPAdd", 400), ("FPMul", 150))]
ALL = {"gemm": GEMM, "fft": FFT, "scan": SCAN, "sdpa": SDPA, "pcu": PCU, "pmu": PMU,
       "interconnect": INTERCONNECT, "arith": ARITH}
FIGURES = ("utilization", "sdpa_buffer", "speedups", "area", "roofline_tiny")


def _write(d, benches, options=None):
    d.mkdir(parents=True, exist_ok=True)
    for name, rows in benches.items():
        res = {"rows": rows, "notes": [], "wall_s": 1.0, "quick": True,
               "options": options or ({"config": "tiny"} if name in ("fft", "scan") else {})}
        (d / f"{name}.json").write_text(json.dumps(res))
    return d


def _run(tmp_path, capsys, bench_dir, *extra):
    out = tmp_path / "plots"
    status = cli.main(["plot", "--bench", str(bench_dir), "-o", str(out), *extra])
    text = capsys.readouterr()
    return status, out, text.out.splitlines(), text.err


def test_every_figure_png_and_svg(tmp_path, capsys):
    status, out, lines, _ = _run(tmp_path, capsys, _write(tmp_path / "bench", ALL))
    assert status == 0
    expected = [out / f"{stem}.{fmt}" for stem in FIGURES for fmt in plot.FORMATS]
    assert lines == [f"wrote {p}" for p in expected]
    for p in expected:
        assert p.stat().st_size > 1000, p
    assert (out / "area.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (out / "roofline_tiny.svg").read_bytes()[:2000]


def test_missing_results_are_skipped_one_line_each(tmp_path, capsys):
    d = _write(tmp_path / "bench", {"gemm": GEMM, "pmu": PMU,
                                    "sdpa": [{k: v for k, v in r.items() if k != "buffer_hw_words"}
                                             for r in SDPA]})
    status, out, lines, _ = _run(tmp_path, capsys, d)
    assert status == 0
    skips = [x for x in lines if x.startswith("skip")]
    assert f"skip utilization panel fft: {d / 'fft.json'} missing" in skips
    assert f"skip utilization panel scan: {d / 'scan.json'} missing" in skips
    assert f"skip sdpa_buffer: {d / 'sdpa.json'}: rows lack key 'buffer_hw_words'" in skips
    assert any(x.startswith("skip speedups: fft: ") and "fft.json missing" in x for x in skips)
    assert f"skip area part pcu: {d / 'pcu.json'} missing" in skips
    assert f"skip roofline kernels scan: {d / 'scan.json'} missing" in skips
    for stem in ("utilization", "area", "roofline_tiny"):
        assert (out / f"{stem}.png").stat().st_size > 0
        assert (out / f"{stem}.svg").stat().st_size > 0
    assert not (out / "speedups.png").exists() and not (out / "sdpa_buffer.svg").exists()


def test_failed_benchmark_and_missing_key(tmp_path, capsys):
    d = _write(tmp_path / "bench", {"gemm": [{k: v for k, v in r.items() if k != "cycles"}
                                             for r in GEMM]})
    (d / "fft.json").write_text(json.dumps({"rows": [], "notes": [], "error": "boom"}))
    status, out, lines, _ = _run(tmp_path, capsys, d)
    assert status == 0
    roof = [x for x in lines if x.startswith("skip roofline:")]
    assert len(roof) == 1
    assert f"{d / 'gemm.json'}: rows lack key 'cycles'" in roof[0]
    assert f"{d / 'fft.json'}: the benchmark failed (boom)" in roof[0]
    assert (out / "utilization.png").exists()     # gemm's utilization needs no cycles


def test_unknown_config_skips_its_roofline(tmp_path, capsys):
    rows = [dict(r, config="no_such_preset") for r in GEMM]
    status, out, lines, _ = _run(tmp_path, capsys, _write(tmp_path / "bench", {"gemm": rows}))
    assert status == 0
    assert any(x.startswith("skip roofline_no_such_preset: config 'no_such_preset'")
               for x in lines)
    assert not list(out.glob("roofline*"))


def test_only_some_figures_in_one_format(tmp_path, capsys):
    status, out, lines, _ = _run(tmp_path, capsys, _write(tmp_path / "bench", ALL),
                                 "--only", "sdpa_buffer", "area", "--format", "svg")
    assert status == 0
    assert lines == [f"wrote {out / 'sdpa_buffer.svg'}", f"wrote {out / 'area.svg'}"]


@pytest.mark.parametrize("flags, message", [
    (("--only", "areas"), "--only areas: no such figure; figures: utilization, sdpa_buffer, "
                          "speedups, area, roofline"),
    (("--format", "pdf"), "--format pdf: allowed: png, svg"),
])
def test_unknown_figure_or_format_is_an_error(tmp_path, capsys, flags, message):
    status, out, lines, err = _run(tmp_path, capsys, _write(tmp_path / "bench", ALL), *flags)
    assert status == 2
    assert err.strip() == f"rdu: error: {message}"
    assert lines == [] and not out.exists()


def test_missing_bench_dir_is_an_error(tmp_path, capsys):
    status, out, lines, err = _run(tmp_path, capsys, tmp_path / "nope")
    assert status == 2
    assert err.strip() == f"rdu: error: --bench {tmp_path / 'nope'}: no such directory " \
                          f"(run `rdu bench` first)"
    assert lines == [] and not out.exists()


@pytest.mark.parametrize("kernel, shape, ops, nbytes", [
    ("gemm", {"M": 2, "N": 3, "K": 4}, 24, 2 * (8 + 12) + 4 * 6),
    ("fft", {"n": 8}, 120, 128),
    ("scan", {"n": 10}, 10, 80),
    ("mamba", {"T": 2, "D": 1, "S": 1}, 6, 4 * (4 + 2 + 4 + 1)),
])
def test_work(kernel, shape, ops, nbytes):
    assert plot.work(kernel, shape) == (ops, nbytes)
