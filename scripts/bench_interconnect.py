"""Interconnect benchmarks: switch latency and link throughput, configuration-load time, switch
area, and the Verilator speed of the 4×4 ``sim`` fabric.

* **Latency per hop** — one word from AGCU slot ``a`` to AGCU slot ``b`` (plain stream ports of a
  fabric of test units) for every pair; cycles from the input handshake to the output handshake
  against the route's link count; the slope of the fit is the latency per hop.
* **Throughput per link** — a test-unit source at full rate to the farthest unit's sink, per
  network; words/cycle = (N-1) / (last - first word cycle) counted by the sink's RTL counters,
  with the sink always ready and ready half of the time.
* **Config-load cycles** — a full-fabric configuration (every unit, every switch, the fabric stop)
  sent through the ring and fenced (:meth:`interconnect.fabric_config.FabricConfig.load`), measured
  in RTL for
  ``tiny`` with the real PCUs/PMUs and ``sim`` with test units; for ``sim`` with the real units the
  word count comes from their layouts and the cycles from the fitted model
  ``cycles = packets + stops + c``.
* **Area** — yosys ``synth_ecp5`` of the busiest interior switch (``rdu gen CONFIG --unit switch``).
* **Simulation speed** — the 4×4 ``sim`` fabric (test units in every cell, lanes 8), random plan
  with every unit streaming; HDL-side traffic, Python and the ring driver asleep until ``done``;
  cycles/s = cycles (fabric stop counter) ÷ wall seconds. The detail also gives cycles per CPU
  second of the simulator process: on a shared machine the wall figure mostly measures the CPU
  share the process got (e.g. ~10k wall vs ~45k per CPU second with two cores and another heavy
  job), the CPU figure is the model's own speed. The model is compiled with ``-Os``
  (:data:`SPEED_CFLAGS`).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from fpga.build import ecp5_area
from hw.config import layout_words
from hw.net import NETWORKS
from hw.params import load
from interconnect.fabric import Fabric, generate
from interconnect.fabric_config import FabricConfig
from interconnect.floorplan import FabricMap
from interconnect.switch import Switch, typical_spec
from scripts.bench import cli
from tb import env, runner
from tb.testunit import test_factory
from tiles.pcu_isa import Isa
from tiles.pmu_layout import config_layout as pmu_layout

TITLE = "Interconnect: hop latency, link throughput, config-load cycles, switch area, fabric sim speed"
#: C++ flags of the test-unit fabric model (appended after tb.runner's ``-O2``; the last ``-O``
#: wins). The model is ~2 MB of straight-line code run once per cycle, so it is bound by instruction
#: fetch: ``-Os`` (Verilator's own default) ran the ``sim`` fabric ~1.08x faster per CPU second than
#: ``-O2`` (same Verilated model, 4 alternating runs each: 48k -> 52k cycles / CPU s).
SPEED_CFLAGS = ("-CFLAGS", "-Os")


def simulate(design, args, extra_args=()):
    """Run the cocotb interconnect jobs ``args["jobs"]`` on ``design``; returns their results."""
    with tempfile.TemporaryDirectory(prefix="rdu-bench-ic-") as tmp:
        out = Path(tmp) / "r.json"
        runner.simulate(design, "tb.cocotb_interconnect", seed=1,
                        env=env.encode(result=str(out), **args), extra_args=extra_args)
        return json.loads(out.read_text())


def fabric_of_test_units(params, top):
    """The :class:`Design` of ``params``' fabric with a test unit in every cell."""
    return runner.Design.from_component(Fabric(params, factory=test_factory), top)


def area(quick):
    rows = []
    for name in (("tiny",) if quick else ("tiny", "fpga", "sim")):
        p = load(name)
        spec = typical_spec(p)
        t0 = time.perf_counter()
        c = ecp5_area(Switch(spec, unit_id=1), f"sw_area_{name}")
        ports = {n: f"{len(spec.inputs(n))}x{len(spec.outputs(n))}" for n in NETWORKS}
        rows.append({"benchmark": "area synth_ecp5 (one switch)", "config": name,
                     "metric": "LUT4", "value": c["LUT4"],
                     "detail": f"FF {c['TRELLIS_FF']}, CCU2C {c['CCU2C']}, PFUMX {c['PFUMX']}, "
                               f"L6MUX21 {c['L6MUX21']}, DPR16X4 {c['TRELLIS_DPR16X4']}; "
                               f"lanes {p.lanes}, in x out ports: vector {ports['vector']}, "
                               f"scalar {ports['scalar']}, control {ports['control']}; "
                               f"{time.perf_counter() - t0:.0f} s"
                               + (f"; LUTs mapped by {c['lut_mapping']}" if "lut_mapping" in c
                                  else "")})
    return rows


def _fit(xs, ys):
    a, b = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)
    return float(a), float(b)


def rtl(quick):
    rows, notes = [], []
    name = "tiny" if quick else "sim"
    p = load(name)
    d = fabric_of_test_units(p, f"rdu_fabric_tu_{name}")
    t0 = time.perf_counter()
    words = 2000 if quick else 4000
    r = simulate(d, {"params": name, "jobs": ["config_load", "latency", "throughput", "speed"],
                      "words": words, "speed_words": 50_000 if quick else 100_000, "flows": 60,
                      "seed": 7}, extra_args=SPEED_CFLAGS)
    build_s = time.perf_counter() - t0
    lat = [x for x in r["latency"] if x["cycles"] is not None]
    per_hop, fixed = _fit([x["links"] for x in lat], [x["cycles"] for x in lat])
    rows.append({"benchmark": "latency per hop", "config": f"{name} (test units)",
                 "metric": "cycles / link", "value": round(per_hop, 3),
                 "detail": f"fit over {len(lat)} AGCU-to-AGCU routes of "
                           f"{min(x['links'] for x in lat)}..{max(x['links'] for x in lat)} links: "
                           f"cycles = {per_hop:.2f}·links + {fixed:.2f} (one registered hop per "
                           f"switch)"})
    for t in r["throughput"]:
        rows.append({"benchmark": "throughput per link", "config": f"{name} {t['network']}",
                     "metric": "words / cycle", "value": t["words_per_cycle"],
                     "detail": f"{t['words']} words over {t['links']} links, sink ready "
                               f"{100 - 100 * t['sink_pause']:.0f}% of cycles"})
    cl = r["config_load"]
    rows.append({"benchmark": "config-load cycles", "config": f"{name} (test units, RTL)",
                 "metric": "cycles", "value": cl["cycles"],
                 "detail": f"{cl['packets']} packets ({cl['words']} config words + fence), "
                           f"{cl['stops']} ring stops"})
    loads = [(cl["packets"], cl["stops"], cl["cycles"])]
    sp = r["speed"]
    rows.append({"benchmark": "Verilator speed, fabric free-running", "config": f"{name} 4x4 "
                 f"lanes {p.lanes}, test units" if not quick else f"{name}, test units",
                 "metric": "cycles / s", "value": round(sp["cycles_per_s"]),
                 "detail": f"{sp['cycles']} cycles in {sp['wall_s']:.2f} s wall, "
                           f"{sp['cpu_s']:.2f} s CPU ({sp['cycles_per_cpu_s'] / 1e3:.0f}k cycles / "
                           f"CPU s); {sp['flows']} flows, "
                           f"{sp['connections']} connections over {sp['links']} links, "
                           f"{sp['words_per_cycle']:.2f} words delivered / cycle; target >= 100k"})
    notes.append(f"{name} test-unit fabric: generate + build + run {build_s:.0f} s")

    # tiny with the real PCUs / PMUs: the smoke test's build (same design and flags → cached)
    try:
        dt = runner.Design.of(generate(load("tiny")))
        rt = simulate(dt, {"params": "tiny", "jobs": ["config_load"], "real_units": True},
                       extra_args=("-CFLAGS", "-O0"))
        c2 = rt["config_load"]
        rows.append({"benchmark": "config-load cycles", "config": "tiny (PCU/PMU, RTL)",
                     "metric": "cycles", "value": c2["cycles"],
                     "detail": f"{c2['packets']} packets ({c2['words']} config words + fence), "
                               f"{c2['stops']} ring stops"})
        loads.append((c2["packets"], c2["stops"], c2["cycles"]))
    except Exception as e:   # tiles not available
        notes.append(f"tiny with real units not measured: {e}")
    # sim with the real units: words from the layouts, cycles from the model
    try:
        ps = load("sim")
        fm = FabricMap(ps)
        fc = FabricConfig(fm).clear_switches()
        for site in fm.units:
            fc.set(site.id, Isa(ps.pcu).layout if site.kind == "pcu"
                   else pmu_layout(ps.pmu, ps.lanes), 0)
        packets = fc.words() + 1
        c = max(cyc - pk - st for pk, st, cyc in loads)
        rows.append({"benchmark": "config-load cycles", "config": "sim (PCU/PMU, model)",
                     "metric": "cycles", "value": packets + len(fm.ring) + c,
                     "detail": f"{packets} packets + {len(fm.ring)} stops + {c} (model fitted on "
                               f"the RTL measurements above: cycles = packets + stops + "
                               f"{c}); PCU {layout_words(Isa(ps.pcu).layout)} words, PMU "
                               f"{layout_words(pmu_layout(ps.pmu, ps.lanes))} words"})
    except ImportError as e:
        notes.append(f"sim with real units not estimated: {e}")
    return rows, notes


def run(quick=False):
    rows, notes = rtl(quick)
    rows += area(quick)
    notes.append("latency: cycles from the word's input handshake at one AGCU slot to its output "
                 "handshake at another; a route over h links crosses h + 1 registered switches")
    return {"rows": rows, "notes": notes}


if __name__ == "__main__":
    raise SystemExit(cli(__name__))
