"""``python -m scripts.readme_figures`` (``make figures``): rewrite the README's measured figures
from the last benchmark and test runs.

README.md holds the "Measured figures" section between ``<!-- figures:begin ... -->`` and
``<!-- figures:end -->``: a paragraph saying where the figures come from, and a table of
``| what | figure | command |`` rows. This script rewrites that section:

* the row ``regression time`` from the last ``make test``'s JUnit XML
  (``build/test-results.xml``: tests, failures, errors, skipped, time, timestamp);
* each row listed in :data:`FIGURES` (matched by its ``what`` cell) from the benchmark results
  ``build/bench/<name>.json`` that ``make bench`` / ``rdu bench NAME`` write: the figure is
  computed from the result's rows, the command is the ``rdu bench`` command that produced them
  (with ``--quick`` / ``--config`` as recorded in the JSON);
* a row whose result is missing, failed, does not record how it was run (``quick``,
  ``options``), was measured on another configuration or lacks the rows the figure needs keeps its
  figure and command, marked :data:`STALE`; numbers are never made up;
* any other row (figures of ``make sim``, ``make fpga``, the tests) is kept as it is.

``--check`` reports whether the README is up to date without writing it (exit status 1 if not).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hw.arith import LATENCY

__all__ = ["FIGURES", "STALE", "Figure", "load_results", "load_tests", "main", "render",
           "rewrite"]

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BENCH_DIR = ROOT / "build" / "bench"
TEST_XML = ROOT / "build" / "test-results.xml"

BEGIN = re.compile(r"<!-- figures:begin.*?-->")
END = "<!-- figures:end -->"
STALE = "*(not re-measured)*"
TESTS_ROW = "regression time"
#: the configuration ``rdu bench`` gives the kernel benchmarks when none is named
DEFAULT_CONFIG = "sim"


@dataclass(frozen=True)
class Figure:
    """A table row computed from benchmark results: ``what`` is its first cell, ``benches`` the
    results it reads, ``make(results) -> str`` its figure (raising ``LookupError``,
    ``ValueError``, ``TypeError`` or ``ZeroDivisionError`` when the results lack what it needs),
    ``config`` the fabric configuration the results must have been measured on (None: any)."""

    what: str
    benches: tuple[str, ...]
    make: Callable[[dict], str]
    config: str | None = None


# ---- number formats ----------------------------------------------------------------------------

def _int(n):
    """141309 -> '141 309' (five digits and more grouped, as in the rest of the README)."""
    return f"{n:,}".replace(",", " ") if abs(n) >= 10_000 else str(n)


def _pct(x):
    return f"{100 * x:.1f} %"


def _times(x):
    return f"{x:.0f}×" if x >= 10 else f"{x:.1f}×"


def _rate(v):
    """Cycles per second, short: 904000 -> '904k', 5512 -> '5.5k'."""
    if v >= 1e6:
        return f"{v / 1e6:.1f}M"
    if v >= 1e4:
        return f"{v / 1e3:.0f}k"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:g}"


def _per_key(values, fmt):
    """One value if all are equal, else each with its key: '1.000' or '1.000 (bf16) / 0.998
    (int16)'."""
    if not values:
        raise LookupError("no values")
    if len(set(values.values())) == 1:
        return fmt.format(next(iter(values.values())))
    return " / ".join(f"{fmt.format(v)} ({k})" for k, v in values.items())


def _span(values, fmt):
    lo, hi = min(values), max(values)
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}–{fmt.format(hi)}"


def _exact(rows, key="bit_exact"):
    bad = [r for r in rows if not r[key]]
    return "all bit-exact" if not bad else f"**{len(bad)} of {len(rows)} runs NOT bit-exact**"


# ---- figures, one function per row -------------------------------------------------------------

def _sim_speed(res):
    speed = {(r["simulator"], r["testbench"]): r["cycles_per_s"]
             for r in res["simulators"]["rows"]}
    parts = []
    for style in ("driven", "free-running"):
        v, a = speed[("verilator", style)], speed[("amaranth", style)]
        parts.append(f"{style} {_rate(v)} vs {_rate(a)} cycles/s ({_times(v / a)})")
    return "; ".join(parts)


def _arith(res):
    rows = res["arith"]["rows"]
    parts = []
    for block, key in (("FPAdd", "add"), ("FPMul", "mul"), ("FPExp2", "exp2"),
                       ("FPRecip", "recip")):
        r = next(r for r in rows if r["block"] == block and r["latency"] == LATENCY[key])
        text = f"{block} {r['LUT4_eq']} LUT4-eq / {r['FF']} FF"
        if r["MULT18X18D"]:
            text += f" + {r['MULT18X18D']} DSP"
        if r["DP16KD"]:
            text += f" + {r['DP16KD']} BRAM"
        parts.append(text)
    return ", ".join(parts) + " (default latencies, each block synthesised alone)"


def _dtype(config):
    """'sim bf16 M=64 K=8 N=16' -> 'bf16'."""
    return config.split()[1]


def _pcu_gemm(res):
    rows = res["pcu"]["rows"]
    steady = {_dtype(r["config"]): r["value"] for r in rows
              if r["metric"] == "steady-state MAC utilization"}
    whole = [r for r in rows
             if r["benchmark"] == "gemm systolic" and r["metric"] == "whole-run MAC utilization"]
    m_of = {id(r): int(re.search(r"\bM=(\d+)", r["config"]).group(1)) for r in whole}
    m = max(m_of.values())
    whole_m = {_dtype(r["config"]): r["value"] for r in whole if m_of[id(r)] == m}
    simd = {_dtype(r["config"]): r["value"] for r in rows
            if r["benchmark"] == "gemm SIMD baseline"}
    return (f"steady state **{_per_key(steady, '{:.3f}')}** of L×S MACs/cycle (target 0.95); "
            f"whole run {_per_key(whole_m, '{:.3f}')} (M = {m}); "
            f"SIMD baseline {_per_key(simd, '{:.3f}')}")


def _pcu_extensions(res):
    rows = res["pcu"]["rows"]
    prefix = {_dtype(r["config"]): r["value"] for r in rows
              if r["benchmark"] == "scan: prefix sum"}
    linear = next(r["value"] for r in rows if r["benchmark"] == "scan: linear recurrence")
    fft = next(r["value"] for r in rows if r["benchmark"].startswith("fft: DIF level"))
    return (f"prefix sum {_per_key(prefix, '{:.2f}×')}, linear recurrence {linear:.2f}×, "
            f"FFT level {fft:.2f}×")


def _pmu(res):
    rows = res["pmu"]["rows"]
    # the modes that conflict by design (column reads, random strided gathers) or write one word
    # per cycle (table broadcast) say so in their label
    free = [r for r in rows if r["benchmark"] == "sustained"
            and not re.search(r"conflict|broadcast", r["case"])]
    conflicts = sum(int(n) for r in free
                    for n in re.search(r"conflicts wr (\d+) rd (\d+)", r["detail"]).groups())
    pc = {}
    for r in rows:
        m = re.fullmatch(r"full rate, N=(\d+)", r["case"])
        if r["benchmark"] == "producer/consumer" and m:
            pc[int(m.group(1))] = r["value"]
    area = {r["unit"]: r for r in rows
            if r["benchmark"] == "area synth_ecp5" and r["config"] == "fpga"}
    banks, lanes = re.search(r"PMU (\d+) banks.*?(\d+) lanes", area["LUT4"]["case"]).groups()
    ns = sorted(pc)
    return (f"{_span([r['value'] for r in free], '{:.2f}')} vectors/cycle in every conflict-free "
            f"mode ({len(free)} modes), {conflicts} conflicts; producer/consumer "
            f"N = {'/'.join(map(str, ns))}: {'/'.join(str(pc[n]) for n in ns)} cycles; "
            f"`fpga` PMU ({lanes} lanes, {banks} banks) {area['LUT4']['value']} LUT4 + "
            f"{area['DP16KD']['value']} DP16KD")


def _packets(detail):
    return re.search(r"(\d+) packets", detail).group(1)


def _interconnect(res):
    rows = res["interconnect"]["rows"]
    hop = next(r for r in rows if r["benchmark"] == "latency per hop")
    link = [r["value"] for r in rows
            if r["benchmark"] == "throughput per link" and "ready 100%" in r["detail"]]
    loads = [f"{r['value']} cycles ({r['config']}, {_packets(r['detail'])} packets)"
             for r in rows if r["benchmark"] == "config-load cycles"]
    if not loads:
        raise LookupError("no config-load rows")
    return (f"{hop['value']:g} cycle/hop ({hop['config']}), "
            f"{_span(link, '{:g}')} word/cycle/link (sink always ready); "
            f"config load {'; '.join(loads)}")


def _memory(res):
    s = res["memory"]["summary"]
    return (f"sequential read **{_pct(s['hbm_seq_frac'])}** of peak (target 90 %); "
            f"DDR → HBM copy **{s['copy_vs_ddr_peak']:.3f} ×** bytes ÷ DDR bandwidth "
            f"(target within 5 %); analytic model vs RTL mean {_pct(s['analytic_mean_abs_err'])}, "
            f"max {_pct(s['analytic_max_abs_err'])}")


def _shape(text):
    """'256x256x256' -> '256³'."""
    dims = text.split("x")
    return f"{dims[0]}³" if len(set(dims)) == 1 else text


def _volume(text):
    """The product of the dimensions of 'MxNxK'."""
    n = 1
    for d in text.split("x"):
        n *= int(d)
    return n


def _gemm(res):
    rows = [r for r in res["gemm"]["rows"] if r["config"] == "sim"]
    groups = {}
    for r in rows:
        key = (r["shape"], r["cycles"], r["ideal"], r["mac_util"], r["util_incl_config"])
        groups.setdefault(key, []).append(r["dtype"])
    if not groups:
        raise LookupError("no sim rows")
    order = sorted(groups, key=lambda k: -_volume(k[0]))
    (shape, cycles, ideal, util, util_cfg) = order[0]
    first = (f"{_shape(shape)} {' and '.join(groups[order[0]])}: {_int(cycles)} cycles, ideal "
             f"{_int(ideal)}: **{_pct(util)}** MAC utilization of the PCUs used (target 90 %; "
             f"{_pct(util_cfg)} counting the ring configuration)")
    parts = [first]
    parts += [f"{_shape(k[0])} {' and '.join(groups[k])} {_pct(k[3])}" for k in order[1:]]
    return "; ".join(parts + [_exact(rows)])


def _sdpa(res):
    rows = res["sdpa"]["rows"]
    st = {r["N"]: r for r in rows if r.get("form") == "streaming"}
    nv = {r["N"]: r for r in rows if r.get("form") == "naive"}
    both = sorted(set(st) & set(nv))
    if not both:
        raise LookupError("no N with both forms")
    ns = sorted(st)
    hw = {st[n]["buffer_hw_words"] for n in ns}
    stream = (f"**{_int(hw.pop())} words at every N = {ns[0]} … {ns[-1]}**" if len(hw) == 1 else
              f"{_int(st[ns[0]]['buffer_hw_words'])} → {_int(st[ns[-1]]['buffer_hw_words'])} "
              f"words (N = {ns[0]} … {ns[-1]})")
    big, lo, hi = both[-1], min(nv), max(nv)
    return (f"buffer high-water, streaming: {stream}; naive: "
            f"{_int(nv[lo]['buffer_hw_words'])} → {_int(nv[hi]['buffer_hw_words'])} words "
            f"(N = {lo} … {hi}); throughput at N = {big}: {st[big]['pairs_per_cycle']:.2f} "
            f"pairs/cycle streaming, {nv[big]['pairs_per_cycle']:.2f} naive (naive/streaming "
            f"cycles {nv[big]['cycles'] / st[big]['cycles']:.3f}); "
            f"{_exact(list(st.values()) + list(nv.values()))}")


def _fusion(res):
    rows = [r for r in res["sdpa"]["rows"] if r.get("bench") == "fusion"]
    if not rows:
        raise LookupError("no fusion rows")
    ratios = " / ".join(f"{r['ratio']:.2f}×" for r in rows)
    ms = " / ".join(str(r["M"]) for r in rows)
    return f"fused vs per-op through HBM: **{ratios}** at M = {ms} (SN40L: 2–13×); {_exact(rows)}"


_KERNELS = {"fft": "FFT", "hyena": "Hyena", "scan": "scan", "linear_scan": "linear scan",
            "mamba": "Mamba"}


def _extensions(res):
    fft, scan = res["fft"]["rows"], res["scan"]["rows"]
    parts = [f"{_KERNELS[r['kernel']]} {r['n']} {r['speedup']:.2f}×"
             for r in fft if r["speedup"] is not None]
    # the full run's extra rows compare 'small' with and without scan: not this figure
    runs = [r for r in scan if r["mapping"] in ("scan ext", "baseline")]
    for r in runs:
        if r["mapping"] == "baseline":
            dtype = "" if r["dtype"] in ("fp32", None) else f" {r['dtype']}"
            parts.append(f"{_KERNELS[r['kernel']]} {r['shape']}{dtype} {r['speedup']:.2f}×")
    if not parts:
        raise LookupError("no speed-ups")
    same = all(r["same_bits"] for r in fft + runs)
    exact = all(r["bit_exact"] for r in fft + runs)
    return (", ".join(parts) + " (baseline cycles ÷ extension cycles; SSM-RDU at chip level: "
            "Hyena 1.95×, Mamba 1.75×); "
            + ("same output bits" if same else "**outputs differ**")
            + ("" if exact else ", **not all bit-exact**"))


def _simspeed(res):
    rows = [r for r in res["simspeed"]["rows"] if r.get("mode") == "fast"
            and r.get("cycles_per_cpu_s")]
    if not rows:
        raise LookupError("no simulation-speed rows")
    parts = []
    for r in rows:
        ratio = f", {r['ratio']:.1f}× the gates/g++ baseline" if r.get("ratio") else ""
        parts.append(f"{r['target']} {_rate(r['cycles_per_cpu_s'])}{ratio}")
    builds = [f"{r['target']} {r['gen_cpu_s'] + r['verilate_cpu_s'] + r['cxx_cpu_s']:.0f} s"
              for r in rows if r["target"].startswith("system") and "cxx_cpu_s" in r]
    start = [r for r in res["simspeed"]["rows"] if r.get("target") == "startup"]
    return ("cycles per CPU second: " + "; ".join(parts)
            + (f"; cold build (CPU s, Verilog + Verilator + C++): {', '.join(builds)}"
               if builds else "")
            + (f"; cached `rdu run` start-up {start[0]['startup_cpu_s']:.1f} CPU s" if start
               else ""))


def _sweep(res):
    rows = {r["run"]: r for r in res["sweep"]["rows"]}
    one, two = rows["sweep, 1 worker"], rows["sweep, 2 workers"]
    serial = rows["serial loop (one process)"]
    over = rows["engine overhead per point (1 worker - serial)"]
    ratio = rows["speed-up 1 -> 2 workers"]["ratio"]
    return (f"{one['points']} points: 1 → 2 workers **{ratio:.2f}×** ({one['wall_s']:.0f} s → "
            f"{two['wall_s']:.0f} s); serial loop {serial['wall_s']:.0f} s; engine overhead "
            f"{over['per_point_s']:.2f} s per point (1 worker − serial, cluster start "
            f"{one['cluster_start_s']:.1f} s included)")


_BOARDS = {"ulx3s": "ULX3S", "orangecrab": "OrangeCrab", "icebreaker": "iCEBreaker"}


def _fpga_smoke(res):
    rows = [r for r in res["fpga"]["rows"] if r.get("design") == "smoke" and "fmax_mhz" in r]
    if not rows:
        raise LookupError("no placed-and-routed smoke design")
    parts = []
    for r in rows:
        cells = "LC" if "ice40" in r["device"].lower() else "LUT"
        parts.append(f"{_BOARDS.get(r['board'], r['board'])} {r['LUT']} {cells}, "
                     f"{r['fmax_mhz']:.1f} MHz (target {r['target_mhz']:g})")
    return "; ".join(parts)


#: The rows computed from benchmark results, by their ``what`` cell in the README.
FIGURES = (
    Figure("Verilator vs Amaranth simulator (MAC pipeline)", ("simulators",), _sim_speed),
    Figure("simulation speed (behavioural FUs, clang)", ("simspeed",), _simspeed),
    Figure("fp32 arithmetic blocks, ECP5", ("arith",), _arith),
    Figure("PCU systolic GEMM (`sim` PCU)", ("pcu",), _pcu_gemm),
    Figure("PCU extensions on/off (`sim` PCU)", ("pcu",), _pcu_extensions),
    Figure("PMU", ("pmu",), _pmu),
    Figure("switch mesh", ("interconnect",), _interconnect),
    Figure("HBM model", ("memory",), _memory),
    Figure("GEMM on the `sim` fabric (4×4, L = 8; 4 PCUs in 2 chains)", ("gemm",), _gemm),
    Figure("SDPA on `sim` (d = 8)", ("sdpa",), _sdpa, config="sim"),
    Figure("fusion GEMM → softmax → GEMM on `sim`", ("sdpa",), _fusion, config="sim"),
    Figure("extensions at kernel level, `sim`", ("fft", "scan"), _extensions, config="sim"),
    Figure("extensions at kernel level, `small`", ("fft", "scan"), _extensions, config="small"),
    Figure("FPGA (smoke design behind the UART bridge)", ("fpga",), _fpga_smoke),
    Figure("sweep engine on Dask (`small`, RTL points)", ("sweep",), _sweep),
)


# ---- inputs ------------------------------------------------------------------------------------

def load_results(bench_dir=BENCH_DIR):
    """{name: result} of every ``<name>.json`` in ``bench_dir`` that did not fail and records how
    it was run (``quick``, ``options``), each with ``_date`` (the file's modification day, UTC)
    added."""
    out = {}
    for path in sorted(Path(bench_dir).glob("*.json")):
        if path.name == "results.json":
            continue
        try:
            res = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(res, dict) or res.get("error") or not res.get("rows"):
            continue
        if "quick" not in res or "options" not in res:
            continue        # written before bench.main recorded them: the command is unknown
        res["_date"] = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).date()
        out[path.stem] = res
    return out


def load_tests(xml=TEST_XML):
    """The summary of a pytest JUnit XML file: tests, failures, errors, skipped, seconds and the
    day it started; None if there is no readable file."""
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if not suites:
        return None
    s = {k: sum(int(x.get(k, 0)) for x in suites)
         for k in ("tests", "failures", "errors", "skipped")}
    s["seconds"] = sum(float(x.get("time", 0)) for x in suites)
    stamp = suites[0].get("timestamp")
    s["date"] = dt.datetime.fromisoformat(stamp).date() if stamp else None
    return s


# ---- the section -------------------------------------------------------------------------------

def _tests_figure(t):
    passed = t["tests"] - t["failures"] - t["errors"] - t["skipped"]
    parts = [f"{passed} passed"] + [f"{t[k]} {word}" for k, word in
                                    (("failures", "failed"), ("errors", "errors"),
                                     ("skipped", "skipped")) if t[k]]
    when = f" ({t['date']})" if t["date"] else ""
    return (f"`make test`: {t['tests']} tests in {t['seconds'] / 60:.1f} min{when}: "
            f"{', '.join(parts)}")


def _config(res):
    return res["options"].get("config")


def _command(fig, results):
    """The ``rdu bench`` command(s) that produced ``results`` for ``fig``."""
    groups = {}
    for name in fig.benches:
        res = results[name]
        config = _config(res)
        key = (bool(res.get("quick")), None if config in (None, DEFAULT_CONFIG) else config)
        groups.setdefault(key, []).append(name)
    cmds = []
    for (quick, config), names in groups.items():
        cmds.append(f"rdu bench {' '.join(names)}" + (" --quick" if quick else "")
                    + (f" --config {config}" if config else ""))
    return "; ".join(f"`{c}`" for c in cmds)


def _compute(fig, results):
    """(figure, command) from ``results``, or None if they cannot give this row."""
    if any(name not in results for name in fig.benches):
        return None
    if fig.config and any((_config(results[n]) or DEFAULT_CONFIG) != fig.config
                          for n in fig.benches):
        return None
    try:
        return fig.make(results), _command(fig, results)
    except (LookupError, ValueError, TypeError, ZeroDivisionError, AttributeError):
        return None


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _row(cells):
    return "| " + " | ".join(cells) + " |"


def _stale(cell):
    return cell if cell.endswith(STALE) else f"{cell} {STALE}"


def render(table, results, tests):
    """The section's paragraph and ``table`` (its lines) rewritten from ``results``
    (:func:`load_results`) and ``tests`` (:func:`load_tests`); returns (text, {what: state})
    with state 'updated', 'stale' or 'kept'."""
    figures = {f.what: f for f in FIGURES}
    lines, states, used = list(table[:2]), {}, set()     # the header and the |---| row
    for line in table[2:]:
        cells = _cells(line)
        if len(cells) != 3:
            lines.append(line)
            continue
        what = cells[0]
        if what == TESTS_ROW:
            if tests:
                cells[1:] = [_tests_figure(tests), "`make test`"]
                states[what] = "updated"
            else:
                cells[1] = _stale(cells[1])
                states[what] = "stale"
        elif what in figures:
            fig = figures[what]
            got = _compute(fig, results)
            if got:
                cells[1:] = list(got)
                used.update(fig.benches)
                states[what] = "updated"
            else:
                cells[1] = _stale(cells[1])
                states[what] = "stale"
        else:
            states[what] = "kept"
        lines.append(_row(cells) if states.get(what) != "kept" else line)
    dates = sorted({results[n]["_date"] for n in used})
    when = ("none found" if not dates else f"measured {dates[0]}" if len(dates) == 1 else
            f"measured {dates[0]} to {dates[-1]}")
    tested = f"the last `make test` ({tests['date']})" if tests else \
        "the last `make test` (no `build/test-results.xml`)"
    para = (f"Written by `python -m scripts.readme_figures` (`make figures`) from the benchmark "
            f"results in `build/bench/` (`make bench`, `rdu bench NAME`; {when}) and "
            f"from {tested}. Ratios come from one run; absolute times vary with the machine and "
            f"its load. Kernel figures come from RTL runs under Verilator checked bit for bit "
            f"(a figure says so when a run was not bit-exact). Rows marked {STALE} keep a figure "
            f"from an earlier run; rows with other commands are quoted from the documents.")
    return _wrap(para) + "\n\n" + "\n".join(lines), states


def _wrap(text, width=100):
    out, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join(out + [line])


#: The lines of the README's ``make test`` transcript that quote the last run: pytest-xdist's
#: "2 workers [N items]" and pytest's closing summary.
WORKERS = re.compile(r"^(\d+ workers) \[\d+ items\]$", re.M)
SUMMARY = re.compile(r"^=+ \d+ passed.* in [\d.]+s \([\d:]+\) =+$", re.M)


def _summary(t):
    """pytest's closing line for the run ``t`` (JUnit XML has no warning count, so none)."""
    passed = t["tests"] - t["failures"] - t["errors"] - t["skipped"]
    parts = [f"{t['failures']} failed"] * bool(t["failures"]) + [f"{passed} passed"]
    parts += [f"{t['skipped']} skipped"] * bool(t["skipped"])
    parts += [f"{t['errors']} errors"] * bool(t["errors"])
    s = round(t["seconds"])
    clock = f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    text = f" {', '.join(parts)} in {t['seconds']:.2f}s ({clock}) "
    left = (80 - len(text)) // 2
    return "=" * left + text + "=" * (80 - len(text) - left)


def transcript(readme_text, tests):
    """``readme_text`` with the ``make test`` transcript's item count and closing line taken from
    the last run ``tests`` (unchanged without one)."""
    if not tests:
        return readme_text
    text = WORKERS.sub(lambda m: f"{m.group(1)} [{tests['tests']} items]", readme_text)
    return SUMMARY.sub(lambda m: _summary(tests), text)


def rewrite(readme_text, results, tests):
    """``readme_text`` with its figures section and the ``make test`` transcript rewritten;
    returns (text, {what: state}). Raises ValueError if the markers or the table are missing."""
    begin = BEGIN.search(readme_text)
    end = readme_text.find(END, begin.end() if begin else 0)
    if not begin or end < 0:
        raise ValueError(f"README has no '<!-- figures:begin -->' ... '{END}' section")
    body = readme_text[begin.end():end].strip("\n").split("\n")
    table = [line for line in body if line.lstrip().startswith("|")]
    if not table:
        raise ValueError("the figures section has no table")
    section, states = render(table, results, tests)
    text = (readme_text[:begin.end()] + "\n" + section + "\n" + readme_text[end:])
    return transcript(text, tests), states


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m scripts.readme_figures",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--readme", default=str(README), help="the README to rewrite")
    ap.add_argument("--bench", default=str(BENCH_DIR), help="directory of <name>.json results")
    ap.add_argument("--tests", default=str(TEST_XML), help="JUnit XML of the last make test")
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if the README is not up to date")
    a = ap.parse_args(argv)
    path = Path(a.readme)
    old = path.read_text()
    try:
        new, states = rewrite(old, load_results(a.bench), load_tests(a.tests))
    except ValueError as e:
        print(f"readme_figures: {path}: {e}", file=sys.stderr)
        return 2
    for what, state in states.items():
        print(f"{state:8} {what}", file=sys.stderr)
    if a.check:
        if new != old:
            print(f"readme_figures: {path} is not up to date", file=sys.stderr)
            return 1
        return 0
    if new != old:
        path.write_text(new)
        print(f"readme_figures: {path} rewritten", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
