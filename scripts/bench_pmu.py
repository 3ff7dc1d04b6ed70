"""PMU benchmarks (``make bench`` / ``python -m scripts.bench pmu``).

* **Sustained vectors/cycle per mode** — the ``sim``-preset PMU (8 lanes, 8 banks) behind its
  HDL-side generators and sink (:class:`tb.pmu_top.PMUTestTop`; Python only configures
  through the ring and waits for ``done``), no backpressure. Rate = vectors moved on one side ÷
  the unit's busy cycles (its ``cycles`` counter, so fill and drain latency are included).
  Every run's read checksum and exact counters are checked against the reference model.
* **Producer / consumer, N = 1, 2, 3** — a producer writes 16-vector buffers, a consumer reads
  them (once, or twice: GEMM-style reuse), 8 passes; at full rate and with 25% random pauses on
  both streams. Cycles and the speed-up of N-buffering over N = 1.
* **Area** — yosys ``synth_ecp5`` of the generated PMU for the ``fpga`` and ``sim`` presets:
  LUT4, flip-flops, CCU2C carry cells, DP16KD block RAMs, distributed RAM.
"""

from __future__ import annotations

import time

from fpga.build import ecp5_area
from hw.params import load
from scripts.bench import cli
from tb.pmu_top import design_for, freerun_run, run_freerun
from tiles import pmu_programs as pp
from tiles.pmu import PMU
from tiles.pmu_model import PMUModel

TITLE = "PMU: sustained vectors/cycle per mode, N-buffered producer/consumer, area"


def _modes(p, lanes, vectors):
    """(label, [free-running runs]); the last run of each entry is the measured one."""
    v = vectors
    span = v * lanes
    model = PMUModel(p, lanes)
    rows = 8 * lanes
    cols = span // rows
    table = 256
    out = []

    def run(prog, label, **kw):
        return freerun_run(p, lanes, prog, label=label, model=model, **kw)

    lin = {"counters": [[v, lanes]]}
    out.append(("strided write, stride 1", [run({"write": lin}, "w")]))
    out.append(("strided read, stride 1", [run({"read": lin}, "r")]))
    out.append(("strided read + write, stride 1",
                [run({"write": {**lin, "base": span}, "read": lin}, "rw")]))
    k = 3
    pat = {"counters": [[8, 1], [v // 8, lanes * 8]], "lane_stride": 8}
    out.append((f"strided read + write, stride {1 << k} (bank_shift {k})",
                [run({"bank_shift": k, "write": pat}, "fill"),
                 run({"bank_shift": k, "write": {**pat, "base": span}, "read": pat}, "rw8")]))
    out.append(("strided column read, stride = row pitch (conflicts)",
                [run({"write": lin}, "fill"),
                 run({"allow_conflicts": True,
                      "read": {"counters": [[cols, 1], [rows // lanes, lanes * cols]],
                               "lane_stride": cols}}, "cols")]))
    tr = pp.transpose(p, lanes, rows, cols, buffers=0)
    out.append(("skewed transpose: write rows", [run(tr.replace(read=None), "tw")]))
    out.append(("skewed transpose: read columns", [run(tr.replace(write=None), "tr")]))
    g = pp.gather(p, lanes, table, v)
    out.append(("duplicate: table write (broadcast)", [run(g.replace(read=None, buffers=0,
                                                                     region=None), "tab")]))
    out.append(("duplicate: gather, random addresses",
                [run(g.replace(write=None, buffers=0, region=None), "gather",
                     gen={1: (v, 1)}, addr_mask=table - 1)]))
    out.append(("strided: gather, random addresses (bank conflicts)",
                [run({"allow_conflicts": True, "read": {"counters": [[v, 0]], "lane_stride": 0,
                                                        "addr_vector": 1}}, "sgather",
                     gen={1: (v, 1)}, addr_mask=p.size_words - 1)]))
    out.append(("fifo (depth 16 vectors)", [run(pp.fifo(p, lanes, 16, v), "fifo")]))
    out.append(("N-buffer N=2, 16-vector buffers",
                [run(pp.nbuffer(p, lanes, 16 * lanes, 2, v // 16), "nb2")]))
    return out


def sustained(quick):
    f = load("sim")
    p, lanes = f.pmu, f.lanes
    vectors = 128 if quick else 512          # two regions of this size fill the memory
    entries = _modes(p, lanes, vectors)
    runs = [r for _, rs in entries for r in rs]
    t0 = time.perf_counter()
    res = run_freerun(design_for(p, lanes, "pmu_top_sim"), p, lanes, runs, seed=1)
    wall = time.perf_counter() - t0
    rows = []
    i = 0
    for label, rs in entries:
        i += len(rs)
        r = res[i - 1]["perf"]
        cyc = r["cycles"]
        wr, rd = r["wr_vectors"], r["rd_vectors"]
        rows.append({"benchmark": "sustained", "config": "sim", "case": label,
                     "value": round(max(wr, rd) / cyc, 3) if cyc else None,
                     "unit": "vectors/cycle",
                     "detail": f"wr {wr} rd {rd} vectors / {cyc} cycles; conflicts wr "
                               f"{r['wr_conflicts']} rd {r['rd_conflicts']}"})
    sim_cycles = sum(x["perf"]["cycles"] for x in res)
    return rows, f"sustained runs: {sim_cycles} simulated cycles in {wall:.1f} s wall " \
                 f"(incl. simulator start)"


def producer_consumer(quick):
    f = load("sim")
    p, lanes = f.pmu, f.lanes
    passes = 8
    words = 16 * lanes
    cases = [("full rate", 0, 1), ("25% pauses", 64, 1), ("full rate, consumer reads twice", 0, 2)]
    if quick:
        cases = cases[:2]
    runs = []
    for case, pause, reads in cases:
        for n in (1, 2, 3):
            runs.append(freerun_run(p, lanes, pp.nbuffer(p, lanes, words, n, passes, reads=reads),
                                    label=f"{case}|{n}", pause_src=pause, pause_sink=pause))
    res = run_freerun(design_for(p, lanes, "pmu_top_sim"), p, lanes, runs, seed=3)
    rows = []
    base = {}
    for r in res:
        case, n = r["label"].split("|")
        cyc = r["perf"]["cycles"]
        base.setdefault(case, cyc)
        rows.append({"benchmark": "producer/consumer", "config": "sim",
                     "case": f"{case}, N={n}", "value": cyc, "unit": "cycles",
                     "detail": f"{base[case] / cyc:.2f}x vs N=1; high-water "
                               f"{r['perf']['high_water']} words; stalls wr_sync "
                               f"{r['perf']['wr_stall_sync']} rd_sync {r['perf']['rd_stall_sync']}"})
    return rows


def area(quick):
    rows = []
    for preset in (("fpga",) if quick else ("fpga", "sim")):
        f = load(preset)
        t0 = time.perf_counter()
        c = ecp5_area(PMU(f.pmu, f.lanes), f"pmu_area_{preset}")
        kb = f.pmu.size_bytes // 1024
        for unit, key in (("LUT4", "LUT4"), ("FF", "TRELLIS_FF"), ("DP16KD", "DP16KD")):
            rows.append({"benchmark": "area synth_ecp5", "config": preset,
                         "case": f"PMU {f.pmu.banks} banks x {f.pmu.words_per_bank} x "
                                 f"{f.pmu.word_bits} bit ({kb} KiB), {f.lanes} lanes",
                         "value": c[key], "unit": unit,
                         "detail": "" if unit != "LUT4" else
                         f"CCU2C {c['CCU2C']}, DPR16X4 {c['TRELLIS_DPR16X4']}, PFUMX {c['PFUMX']}, "
                         f"L6MUX21 {c['L6MUX21']}, MULT18X18D {c['MULT18X18D']} "
                         f"({time.perf_counter() - t0:.0f} s)"})
    return rows


def run(quick=False):
    rows, note = sustained(quick)
    rows += producer_consumer(quick)
    rows += area(quick)
    notes = [note,
             "config sim: 8 lanes, 8 banks x 1024 words, addr_stages 2; rows without a backpressure "
             "note run with always-valid sources and an always-ready sink",
             "vectors/cycle counts the busier side; runs include pipeline fill/drain "
             "(about addr_stages + 6 cycles), so long runs approach the steady-state rate",
             "skewed mode: element (r, c) in bank (c + r) mod B, rows and columns both "
             "conflict-free; strided column reads hit one bank (1/L vector per cycle)",
             "duplicate mode: table writes broadcast one word per cycle to every bank (1/L "
             "vector per cycle); gathers read L independent addresses per cycle"]
    return {"rows": rows, "notes": notes}


if __name__ == "__main__":
    raise SystemExit(cli(__name__))
