"""Memory system benchmark: sustained DRAM bandwidth per access pattern, DDR ↔ HBM copy time,
AGCU streaming rate, and the analytic model's error against the RTL.

Everything is measured on the RTL (``memory.system.MemorySystem`` under Verilator) with HDL-side
traffic: traffic generators (``memory.traffic``), the DMA and an AGCU whose output is always
accepted; Python only configures units over the ring and waits for their ``done`` flags
(``tb/cocotb_memory.py``). Full run: the ``sim`` preset's memories (HBM3-like + DDR5-like, 2 MiB
each simulated); ``--quick``: small memories (2-channel / 1-channel tiny DRAMs).

Definitions
-----------
* fraction of peak = bytes moved ÷ (cycles × ``channels × bytes_per_cycle``), cycles from the
  traffic generators' start to their last completion (fill and drain included).
* "sequential" uses one generator per channel, generator ``k`` taking every ``H``-th access
  (the collective stream is sequential); "strided s" likewise with the collective stream
  ``0, s, 2s, ...`` (accesses); "random" draws uniform addresses over the whole memory.
* copy ratio = DMA copy cycles ÷ (bytes ÷ DDR peak bytes per cycle); also against the DDR's
  measured sequential-read bandwidth.
* analytic error = (model bandwidth − RTL bandwidth) ÷ RTL bandwidth (``memory.analytic``).
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

from hw.backdoor import VERILOG_SOURCE
from hw.params import AGCUParams, DRAMParams, MemoryParams, load
from memory import analytic
from memory.agcu import agcu_program, tensor_loops
from memory.analytic import Pattern
from memory.dma import dma_program
from memory.system import MemorySystem
from memory.traffic import tg_config
from scripts.bench import cli
from tb import env, runner

TITLE = "Memory system: sustained bandwidth, DDR->HBM copy, AGCU rate, analytic model vs RTL"


def _systems(quick):
    if quick:
        tiny = DRAMParams.from_dict("tiny")
        mem = MemoryParams(
            hbm=tiny.replace(channels=2, refresh="per-bank", tRFCpb=12),
            ddr=tiny.replace(kind="ddr", channels=1, bytes_per_cycle=16, burst_length=8, rows=32,
                             tRCD=6, tCL=6, tRP=6, tRAS=14, tWR=6, tREFI=700, tRFC=30),
            dma_outstanding=16)
        lanes = 4
        agcu = AGCUParams(count=1, outstanding=8, burst_words=16)
    else:
        p = load("sim")
        mem, lanes = p.memory, p.lanes
        agcu = p.agcu.replace(count=1)
    h = max(4, mem.hbm.channels)
    d = max(2, mem.ddr.channels)
    return mem, agcu, lanes, h, d


def _design(mem, agcu, lanes, h, d, quick):
    ms = MemorySystem(mem, agcu, lanes, hbm_tgs=h, ddr_tgs=d, tg_outstanding=32)
    top = "memsys_bench_quick" if quick else "memsys_bench"
    return ms, runner.Design.from_component(ms, top, sources=(VERILOG_SOURCE,))


def _plan(mem, agcu, lanes, h, d, quick):
    hb, db = mem.hbm, mem.ddr
    scale = 1 if quick else 4
    n_h = 8192 * scale * max(1, hb.channels // 2)      # HBM requests per pattern
    n_d = 2048 * scale
    span_h, span_d = hb.accesses - 1, db.accesses - 1
    steps, meta = [], []

    def hbm_run(name, kind, stride=1, op="read", tgs=None, policy="preset", frac=128):
        tgs = h if tgs is None else tgs
        cfgs = {}
        for k in range(tgs):
            if kind == "random":
                cfgs[k] = tg_config("random", op, span=span_h, count=n_h // tgs, seed=17 + k,
                                    write_frac=frac)
            else:
                cfgs[k] = tg_config("strided", op, start=k * stride, stride=tgs * stride,
                                    span=span_h, count=n_h // tgs, seed=17 + k, write_frac=frac)
        steps.append({"kind": "traffic", "policy": policy, "tgs": cfgs})
        meta.append({"case": name, "tier": "hbm", "kind": kind, "stride": stride, "op": op,
                     "requesters": tgs, "policy": policy, "requests": (n_h // tgs) * tgs})

    def ddr_run(name, kind, op="read"):
        cfgs = {}
        for k in range(d):
            if kind == "random":
                cfgs[h + k] = tg_config("random", op, span=span_d, count=n_d // d, seed=29 + k)
            else:
                cfgs[h + k] = tg_config("strided", op, start=k, stride=d, span=span_d,
                                        count=n_d // d, seed=29 + k)
        steps.append({"kind": "traffic", "tgs": cfgs})
        meta.append({"case": name, "tier": "ddr", "kind": kind, "stride": 1, "op": op,
                     "requesters": d, "policy": "preset", "requests": (n_d // d) * d})

    hbm_run("hbm sequential read", "sequential")
    hbm_run("hbm sequential write", "sequential", op="write")
    hbm_run("hbm sequential 50% writes", "sequential", op="mixed")
    for s in (2, 9, 64):
        hbm_run(f"hbm strided {s} read", "strided", stride=s)
    hbm_run("hbm random read", "random")
    hbm_run("hbm random 50% writes", "random", op="mixed")
    hbm_run("hbm sequential read, 1 requester", "sequential", tgs=1)
    hbm_run("hbm sequential read, in-order", "sequential", policy="in-order")
    hbm_run("hbm random read, in-order", "random", policy="in-order")
    ddr_run("ddr sequential read", "sequential")
    ddr_run("ddr sequential write", "sequential", op="write")
    ddr_run("ddr random read", "random")
    copy_bytes = db.capacity_bytes // 2
    for direction in ("ddr->hbm", "hbm->ddr"):
        steps.append({"kind": "dma", "program": dma_program(mem, direction, src=0, dst=0,
                                                            nbytes=copy_bytes)})
        meta.append({"case": f"dma {direction}", "bytes": copy_bytes, "direction": direction})
    vbytes = 4 * lanes
    vpa = hb.access_bytes // vbytes
    rows = min(hb.capacity_bytes // 2, 256 << 10) // (vbytes * 64)
    loops = tensor_loops((rows, 64 * lanes), lanes)
    for burst, out in sorted({(vpa, agcu.outstanding), (vpa, 1), (vpa, max(1, agcu.outstanding // 2)),
                              (1, agcu.outstanding)}, reverse=True):
        steps.append({"kind": "agcu", "program": agcu_program(agcu, lanes, hb, mode="load", base=0,
                                                              loops=loops, burst=burst,
                                                              outstanding=out)})
        meta.append({"case": f"agcu load, burst {burst}, {out} outstanding", "vectors": rows * 64,
                     "outstanding": out, "burst": burst})
    return steps, meta


def _analytic_pattern(m):
    wf = {"read": 0.0, "write": 1.0, "mixed": 0.5}[m["op"]]
    kind = m["kind"]
    return Pattern(kind if kind != "strided" else "strided", stride=m["stride"], write_frac=wf,
                   requesters=m["requesters"], outstanding=32)


def run(quick=False):
    mem, agcu, lanes, h, d = _systems(quick)
    ms, design = _design(mem, agcu, lanes, h, d, quick)
    steps, meta = _plan(mem, agcu, lanes, h, d, quick)
    with tempfile.TemporaryDirectory(prefix="rdu-bench-mem-") as tmp:
        tmp = Path(tmp)
        result = tmp / "result.json"
        runner.simulate(design, "tb.cocotb_memory", seed=1, plusargs=[f"+rdu_mem_dir={tmp}"],
                        test_dir=tmp / "sim",
                        env=env.encode(info=ms.info(), dir=str(tmp), plan=steps,
                                       result=str(result)))
        res = json.loads(result.read_text())
    rows, errors, notes = [], [], []
    ddr_seq_bpc = None
    for m, r in zip(meta, res):
        if "tgs" in r:
            tier = getattr(mem, m["tier"])
            tgs = list(r["tgs"].values())
            cycles = max(t["cycles"] for t in tgs)
            reqs = sum(t["issued"] for t in tgs)
            nbytes = reqs * tier.access_bytes
            bpc = nbytes / cycles
            reads = sum(t["reads"] for t in tgs)
            lat = sum(t["latency_sum"] for t in tgs) / reads if reads else None
            dram = r[m["tier"]]
            cas = dram["reads"] + dram["writes"]
            hit = 1 - dram["activates"] / cas if cas else None
            est = analytic.estimate(tier, _analytic_pattern(m), reqs,
                                    policy=None if m["policy"] == "preset" else m["policy"])
            err = (est.bytes_per_cycle - bpc) / bpc
            errors.append(abs(err))
            if m["case"] == "ddr sequential read":
                ddr_seq_bpc = bpc
            rows.append({"case": m["case"], "requests": reqs, "cycles": cycles,
                         "GB/s": round(bpc * tier.clock_mhz / 1000, 1),
                         "frac_peak": round(bpc / tier.peak_bytes_per_cycle, 4),
                         "row_hit": round(hit, 3) if hit is not None else None,
                         "lat_avg": round(lat, 1) if lat is not None else None,
                         "refreshes": dram["refreshes"],
                         "model_frac": round(est.fraction_of_peak, 4),
                         "model_err_%": round(100 * err, 1), "model_bound": est.bound})
        elif "dma" in r:
            c = r["dma"]
            cycles = c["cycles"]
            ideal = m["bytes"] / mem.ddr.peak_bytes_per_cycle
            est_cycles, _ = analytic.estimate_copy(mem, m["bytes"], m["direction"])
            err = (cycles and (est_cycles - cycles) / cycles)
            errors.append(abs(err))
            row = {"case": m["case"], "requests": c["reads"] + c["writes"], "cycles": cycles,
                   "GB/s": round(m["bytes"] / cycles * mem.ddr.clock_mhz / 1000, 1),
                   "copy/(bytes/ddr_peak)": round(cycles / ideal, 4),
                   "model_err_%": round(100 * err, 1)}
            if ddr_seq_bpc:
                row["copy/(bytes/ddr_seq)"] = round(cycles / (m["bytes"] / ddr_seq_bpc), 4)
            rows.append(row)
        else:
            c = r["agcu"]
            vpc = c["vectors"] / c["cycles"]
            est = analytic.estimate_agcu(mem.hbm, lanes, m["outstanding"], m["burst"])
            err = (est - vpc) / vpc
            errors.append(abs(err))
            rows.append({"case": m["case"], "requests": c["requests"], "cycles": c["cycles"],
                         "GB/s": round(vpc * 4 * lanes * mem.hbm.clock_mhz / 1000, 1),
                         "vectors/cycle": round(vpc, 3),
                         "lat_avg": round(c["latency_sum"] / max(1, c["responses"]), 1),
                         "model_err_%": round(100 * err, 1)})
    seq = next(r for r in rows if r["case"] == "hbm sequential read")
    cp = next(r for r in rows if r["case"] == "dma ddr->hbm")
    notes.append(f"HBM sequential read: {100 * seq['frac_peak']:.1f}% of peak "
                 f"(target >= 90%; SN40L reports > 85% HBM utilization)")
    notes.append(f"DDR->HBM copy: {cp['copy/(bytes/ddr_peak)']:.3f} x bytes/DDR-peak-bandwidth"
                 + (f", {cp['copy/(bytes/ddr_seq)']:.3f} x bytes/DDR-sequential-read-bandwidth"
                    if "copy/(bytes/ddr_seq)" in cp else "") + " (target within 5%)")
    notes.append(f"analytic model vs RTL: mean |error| {100 * statistics.mean(errors):.1f}%, "
                 f"max {100 * max(errors):.1f}% over {len(errors)} cases")
    cfg = "quick (tiny memories)" if quick else "sim preset (HBM3-like + DDR5-like)"
    notes.append(f"memories: {cfg}; hbm {mem.hbm.channels} ch x {mem.hbm.bytes_per_cycle} B/cycle "
                 f"@ {mem.hbm.clock_mhz:g} MHz = {mem.hbm.peak_gbps:g} GB/s peak; ddr "
                 f"{mem.ddr.channels} ch x {mem.ddr.bytes_per_cycle} B/cycle @ "
                 f"{mem.ddr.clock_mhz:g} MHz = {mem.ddr.peak_gbps:g} GB/s peak")
    return {"rows": rows, "notes": notes,
            "summary": {"hbm_seq_frac": seq["frac_peak"],
                        "copy_vs_ddr_peak": cp["copy/(bytes/ddr_peak)"],
                        "analytic_mean_abs_err": statistics.mean(errors),
                        "analytic_max_abs_err": max(errors)}}


if __name__ == "__main__":
    raise SystemExit(cli(__name__))
