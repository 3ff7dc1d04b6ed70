"""scripts/readme_figures.py on small fake benchmark results and a fake JUnit XML: the rows it
can compute are rewritten, the others kept (marked when their results are missing), the run is
idempotent, and the README's real section has the markers and the rows the generator knows."""

from __future__ import annotations

import json
import os

import pytest

from hw.arith import LATENCY
from scripts import readme_figures as rf

TABLE = """\
| what | figure | command |
|---|---|---|
| regression time | `make test`: 1 tests in 1 min | `make test` |
| Verilator vs Amaranth simulator (MAC pipeline) | old speed | `rdu bench simulators --quick` |
| fp32 arithmetic blocks, ECP5 | old area | `rdu bench arith` |
| PCU systolic GEMM (`sim` PCU) | old pcu | `rdu bench pcu` |
| PCU extensions on/off (`sim` PCU) | old ext | `rdu bench pcu` |
| PMU | old pmu | `rdu bench pmu` |
| switch mesh | old mesh | `rdu bench interconnect` |
| HBM model | old hbm | `rdu bench memory` |
| GEMM on the `sim` fabric (4×4, L = 8; 4 PCUs in 2 chains) | old gemm | `rdu bench gemm` |
| SDPA on `sim` (d = 8) | old sdpa | `python -m scripts.bench_sdpa --n 64` |
| fusion GEMM → softmax → GEMM on `sim` | old fusion | `python -m scripts.bench_sdpa --m 256` |
| kernel suite, `small` fabric | 9/9 kernels bit-exact | `make sim` |
| extensions at kernel level, `sim` | old sim ext | `rdu bench fft scan --quick` |
| extensions at kernel level, `small` | old small | `rdu bench fft scan --quick --config small` |
| FPGA (smoke design behind the UART bridge) | old fpga | `rdu bench fpga` |
"""

README = f"""# project

intro

## Measured figures

<!-- figures:begin: generated -->
Hand-written paragraph (2026-01-01).

{TABLE}<!-- figures:end -->

Per-unit tables: the documents.
"""


def _results():
    lat = LATENCY
    sim_speed = [
        {"simulator": "amaranth", "testbench": "driven", "cycles_per_s": 5512, "vs_amaranth": 1.0},
        {"simulator": "amaranth", "testbench": "free-running", "cycles_per_s": 7600,
         "vs_amaranth": 1.0},
        {"simulator": "verilator", "testbench": "driven", "cycles_per_s": 72300,
         "vs_amaranth": 13.1},
        {"simulator": "verilator", "testbench": "free-running", "cycles_per_s": 904000,
         "vs_amaranth": 118.9}]

    def block(name, latency, lut4_eq, ff, mult=0, bram=0):
        return {"block": name, "latency": latency, "LUT4": lut4_eq, "CCU2C": 0, "mux": 0,
                "FF": ff, "MULT18X18D": mult, "DP16KD": bram, "LUT4_eq": lut4_eq, "other": "",
                "yosys_s": 1.0}
    arith = [block("FPCompare", 0, 50, 0), block("FPAdd", 0, 700, 10),
             block("FPAdd", lat["add"], 792, 107), block("FPMul", lat["mul"], 308, 90, mult=4),
             block("FPExp2", lat["exp2"], 458, 60, bram=2),
             block("FPRecip", lat["recip"], 108, 40, bram=2)]
    pcu = []
    for dtype, steady in (("bf16", 1.0), ("int16", 0.998)):
        for m, util in ((64, 0.9), (256, 0.946)):
            pcu.append({"benchmark": "gemm systolic", "config": f"sim {dtype} M={m} K=8 N=16",
                        "metric": "whole-run MAC utilization", "value": util, "detail": ""})
        pcu.append({"benchmark": "gemm systolic", "config": f"sim {dtype}",
                    "metric": "steady-state MAC utilization", "value": steady, "detail": ""})
        pcu.append({"benchmark": "gemm SIMD baseline", "config": f"sim {dtype} M=64",
                    "metric": "whole-run MAC utilization (of L·S)", "value": 0.24, "detail": ""})
    pcu += [{"benchmark": "scan: prefix sum", "config": f"sim {dt} T=1024, one sequence",
             "metric": "speedup scan on / off", "value": 7.01, "detail": ""}
            for dt in ("fp32", "int32")]
    pcu += [{"benchmark": "fft: DIF level in-vector", "config": "sim fp32, 256 FFTs of 4 points",
             "metric": "speedup butterfly on / off", "value": 2.0, "detail": ""},
            {"benchmark": "scan: linear recurrence", "config": "quad fp32 T=1024, one sequence",
             "metric": "speedup scan on / off", "value": 3.75, "detail": ""}]

    def sustained(case, value, wr=0, rd=0):
        return {"benchmark": "sustained", "config": "sim", "case": case, "value": value,
                "unit": "vectors/cycle",
                "detail": f"wr 512 rd 0 vectors / 520 cycles; conflicts wr {wr} rd {rd}"}
    pmu = [sustained("strided write, stride 1", 0.985), sustained("fifo (depth 16 vectors)", 0.99),
           sustained("strided column read, stride = row pitch (conflicts)", 0.125, rd=448),
           sustained("duplicate: table write (broadcast)", 0.125)]
    pmu += [{"benchmark": "producer/consumer", "config": "sim", "case": f"{case}, N={n}",
             "value": cyc, "unit": "cycles", "detail": ""}
            for case in ("full rate", "25% pauses") for n, cyc in ((1, 279), (2, 159), (3, 153))]
    pmu += [{"benchmark": "area synth_ecp5", "config": "fpga",
             "case": "PMU 2 banks x 1024 x 32 bit (8 KiB), 2 lanes", "value": v, "unit": u,
             "detail": ""} for u, v in (("LUT4", 3239), ("FF", 900), ("DP16KD", 2))]
    interconnect = [
        {"benchmark": "latency per hop", "config": "sim (test units)", "metric": "cycles / link",
         "value": 1.0, "detail": "fit"},
        {"benchmark": "throughput per link", "config": "sim vector", "metric": "words / cycle",
         "value": 1.0, "detail": "3999 words over 6 links, sink ready 100% of cycles"},
        {"benchmark": "throughput per link", "config": "sim vector", "metric": "words / cycle",
         "value": 0.5, "detail": "3999 words over 6 links, sink ready 50% of cycles"},
        {"benchmark": "config-load cycles", "config": "sim (PCU/PMU, model)", "metric": "cycles",
         "value": 453, "detail": "411 packets + 26 stops + 16 (model fitted ...)"}]
    memory = {"rows": [{"case": "hbm sequential read"}], "notes": [],
              "summary": {"hbm_seq_frac": 0.968, "copy_vs_ddr_peak": 1.017,
                          "analytic_mean_abs_err": 0.024, "analytic_max_abs_err": 0.087}}

    def gemm_row(shape, dtype, cycles, ideal, util, util_cfg, exact=True, config="sim"):
        return {"config": config, "shape": shape, "dtype": dtype, "bit_exact": exact,
                "cycles": cycles, "ideal": ideal, "mac_util": util, "util_incl_config": util_cfg}
    gemm = [gemm_row("256x256x256", "bf16", 141309, 131072, 0.928, 0.913),
            gemm_row("256x256x256", "int16", 141309, 131072, 0.928, 0.913),
            gemm_row("64x64x64", "bf16", 2400, 2048, 0.85, 0.7),
            gemm_row("64x64x64", "bf16", 19054, 16384, 0.86, 0.8, config="small")]
    sdpa = [{"bench": "sdpa", "form": form, "N": n, "d": 8, "cycles": cyc, "bit_exact": True,
             "pairs_per_cycle": round(n * n / cyc, 4), "buffer_hw_words": hw}
            for n, cyc_s, cyc_n, hw_n in ((64, 4500, 4400, 544), (1024, 1115000, 1111700, 8224))
            for form, cyc, hw in (("streaming", cyc_s, 32), ("naive", cyc_n, hw_n))]
    sdpa += [{"bench": "fusion", "M": m, "ratio": r, "bit_exact": True}
             for m, r in ((256, 1.95), (1024, 2.73))]

    def ext(kernel, size, speedup, **kw):
        base = {"kernel": kernel, "mapping": "baseline", "speedup": speedup, "bit_exact": True,
                "same_bits": True, **kw}
        return [{**base, "mapping": "butterfly" if kernel in ("fft", "hyena") else "scan ext",
                 "speedup": None}, base]
    fft = ext("fft", 64, 1.75, n=64, config="sim") + ext("hyena", 32, 1.67, n=32, config="sim")
    scan = (ext("scan", 512, 2.51, shape="512", dtype="fp32")
            + ext("mamba", 0, 1.69, shape="32x2x4", dtype="fp32")
            + [{"kernel": "scan", "shape": "256", "dtype": "fp32", "speedup": 3.0,
                "mapping": "baseline small / small scan:false", "bit_exact": True,
                "same_bits": True}])
    fpga = [{"board": "ulx3s", "device": "LFE5U-85F", "design": "kernel", "LUT": 41456,
             "fmax_mhz": 50.26, "target_mhz": 50.0},
            {"board": "orangecrab", "device": "LFE5U-25F", "design": "smoke", "LUT": 4944,
             "fmax_mhz": 96.31, "target_mhz": 48.0},
            {"board": "icebreaker", "device": "iCE40UP5K", "design": "smoke", "LUT": 3547,
             "fmax_mhz": 25.62, "target_mhz": 12.0}]

    def res(rows, quick=False, **options):
        return {"rows": rows, "notes": [], "wall_s": 1.0, "quick": quick, "options": options}
    return {"simulators": res(sim_speed, quick=True), "arith": res(arith), "pcu": res(pcu),
            "pmu": res(pmu), "interconnect": res(interconnect),
            "memory": {**memory, "quick": False, "options": {}}, "gemm": res(gemm, config=None),
            "sdpa": res(sdpa, config="sim"), "fft": res(fft, quick=True, config="sim"),
            "scan": res(scan, quick=True, config="sim"), "fpga": res(fpga, boards=["ulx3s"])}


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="3" tests="1059"
 time="963.86" timestamp="2026-12-04T10:00:00.000000+00:00" hostname="h"/></testsuites>
"""


@pytest.fixture
def inputs(tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    for name, res in _results().items():
        (bench / f"{name}.json").write_text(json.dumps(res))
    # a failed benchmark counts as missing, and so does one that does not say how it was run
    (bench / "arith.json").write_text(json.dumps({"rows": [], "notes": ["FAILED: x"],
                                                  "error": "x"}))
    (bench / "fpga.json").write_text(json.dumps({"rows": [{"board": "ulx3s"}], "notes": []}))
    day = 1_796_256_000          # 2026-12-03 00:00 UTC
    for p in bench.iterdir():
        os.utime(p, (day, day))
    xml = tmp_path / "test-results.xml"
    xml.write_text(JUNIT)
    readme = tmp_path / "README.md"
    readme.write_text(README)
    return readme, bench, xml


def _table(text):
    rows = {}
    for line in text.split("<!-- figures:begin")[1].split(rf.END)[0].splitlines():
        if line.startswith("| ") and not line.startswith("| what "):
            what, figure, command = [c.strip() for c in line.strip("|").split(" | ")]
            rows[what] = (figure, command)
    return rows


def test_generator_rewrites_the_table(inputs):
    readme, bench, xml = inputs
    assert rf.main(["--readme", str(readme), "--bench", str(bench), "--tests", str(xml)]) == 0
    text = readme.read_text()
    rows = _table(text)
    assert rows["regression time"] == (
        "`make test`: 1059 tests in 16.1 min (2026-12-04): 1055 passed, 1 failed, 3 skipped",
        "`make test`")
    assert rows["Verilator vs Amaranth simulator (MAC pipeline)"] == (
        "driven 72k vs 5.5k cycles/s (13×); free-running 904k vs 7.6k cycles/s (119×)",
        "`rdu bench simulators --quick`")
    # a failed benchmark: the old figure stays, marked
    assert rows["fp32 arithmetic blocks, ECP5"] == (f"old area {rf.STALE}", "`rdu bench arith`")
    assert rows["PCU systolic GEMM (`sim` PCU)"][0] == (
        "steady state **1.000 (bf16) / 0.998 (int16)** of L×S MACs/cycle (target 0.95); "
        "whole run 0.946 (M = 256); SIMD baseline 0.240")
    assert rows["PCU extensions on/off (`sim` PCU)"][0] == (
        "prefix sum 7.01×, linear recurrence 3.75×, FFT level 2.00×")
    assert rows["PMU"][0] == (
        "0.98–0.99 vectors/cycle in every conflict-free mode (2 modes), 0 conflicts; "
        "producer/consumer N = 1/2/3: 279/159/153 cycles; `fpga` PMU (2 lanes, 2 banks) "
        "3239 LUT4 + 2 DP16KD")
    assert rows["switch mesh"][0] == (
        "1 cycle/hop (sim (test units)), 1 word/cycle/link (sink always ready); "
        "config load 453 cycles (sim (PCU/PMU, model), 411 packets)")
    assert rows["HBM model"] == (
        ("sequential read **96.8 %** of peak (target 90 %); DDR → HBM copy **1.017 ×** bytes ÷ "
         "DDR bandwidth (target within 5 %); analytic model vs RTL mean 2.4 %, max 8.7 %"),
        "`rdu bench memory`")
    assert rows["GEMM on the `sim` fabric (4×4, L = 8; 4 PCUs in 2 chains)"][0] == (
        "256³ bf16 and int16: 141 309 cycles, ideal 131 072: **92.8 %** MAC utilization of the "
        "PCUs used (target 90 %; 91.3 % counting the ring configuration); 64³ bf16 85.0 %; "
        "all bit-exact")
    assert rows["SDPA on `sim` (d = 8)"] == (
        ("buffer high-water, streaming: **32 words at every N = 64 … 1024**; naive: 544 → 8224 "
         "words (N = 64 … 1024); throughput at N = 1024: 0.94 pairs/cycle streaming, 0.94 naive "
         "(naive/streaming cycles 0.997); all bit-exact"), "`rdu bench sdpa`")
    assert rows["fusion GEMM → softmax → GEMM on `sim`"][0] == (
        "fused vs per-op through HBM: **1.95× / 2.73×** at M = 256 / 1024 (SN40L: 2–13×); "
        "all bit-exact")
    assert rows["extensions at kernel level, `sim`"] == (
        ("FFT 64 1.75×, Hyena 32 1.67×, scan 512 2.51×, Mamba 32x2x4 1.69× (baseline cycles ÷ "
         "extension cycles; SSM-RDU at chip level: Hyena 1.95×, Mamba 1.75×); same output bits"),
        "`rdu bench fft scan --quick`")
    # measured on sim only: the small row is not re-measured
    assert rows["extensions at kernel level, `small`"] == (
        f"old small {rf.STALE}", "`rdu bench fft scan --quick --config small`")
    assert rows["FPGA (smoke design behind the UART bridge)"] == (
        f"old fpga {rf.STALE}", "`rdu bench fpga`")
    # rows without a benchmark are kept as they are
    assert rows["kernel suite, `small` fabric"] == ("9/9 kernels bit-exact", "`make sim`")
    assert "Hand-written paragraph" not in text
    flat = " ".join(text.split())
    assert "measured 2026-12-03" in flat and "the last `make test` (2026-12-04)" in flat
    assert text.startswith("# project\n\nintro\n") and text.endswith(
        "<!-- figures:end -->\n\nPer-unit tables: the documents.\n")
    # the same inputs give the same README, and --check says so
    assert rf.main(["--readme", str(readme), "--bench", str(bench), "--tests", str(xml),
                    "--check"]) == 0
    assert readme.read_text() == text


def test_missing_results_keep_every_row(tmp_path, inputs):
    readme, _, _ = inputs
    args = ["--readme", str(readme), "--bench", str(tmp_path / "none"),
            "--tests", str(tmp_path / "none.xml")]
    assert rf.main([*args, "--check"]) == 1
    assert readme.read_text() == README
    assert rf.main(args) == 0
    once = readme.read_text()
    rows = _table(once)
    assert rows["HBM model"] == (f"old hbm {rf.STALE}", "`rdu bench memory`")
    assert rows["regression time"][0] == f"`make test`: 1 tests in 1 min {rf.STALE}"
    assert rows["kernel suite, `small` fabric"] == ("9/9 kernels bit-exact", "`make sim`")
    assert rf.main(args) == 0
    assert readme.read_text() == once          # marked once


def test_fpga_smoke_boards():
    fig = next(f for f in rf.FIGURES if f.benches == ("fpga",))
    assert fig.make(_results()) == (
        "OrangeCrab 4944 LUT, 96.3 MHz (target 48); iCEBreaker 3547 LC, 25.6 MHz (target 12)")


def test_not_bit_exact_is_said():
    res = _results()
    res["gemm"]["rows"][1]["bit_exact"] = False
    fig = next(f for f in rf.FIGURES if f.benches == ("gemm",))
    assert fig.make(res).endswith("**1 of 3 runs NOT bit-exact**")


def test_no_markers_is_an_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(TABLE)
    assert rf.main(["--readme", str(readme), "--bench", str(tmp_path)]) == 2
    assert readme.read_text() == TABLE


def test_the_readme_has_the_section_and_its_rows():
    text = (rf.ROOT / "README.md").read_text()
    assert rf.BEGIN.search(text) and rf.END in text
    rows = _table(text)
    assert "regression time" in rows
    missing = [f.what for f in rf.FIGURES if f.what not in rows]
    assert not missing, f"rows the generator knows but the README lacks: {missing}"


def test_the_transcript_quotes_the_last_run():
    text = ("```console\n$ make test\n2 workers [1059 items]\n...\n"
            "================ "
            "1059 passed, 11 warnings in 963.86s (0:16:03) =================\n```\n")
    t = {"tests": 1093, "failures": 2, "errors": 0, "skipped": 1, "seconds": 1271.96, "date": None}
    out = rf.transcript(text, t)
    assert "2 workers [1093 items]\n" in out
    line = next(x for x in out.splitlines() if x.startswith("="))
    assert line.strip("= ") == "2 failed, 1090 passed, 1 skipped in 1271.96s (0:21:12)"
    assert len(line) == 80
    assert rf.transcript(text, None) == text
