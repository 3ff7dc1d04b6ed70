"""FPGA builds per board with the open toolchain: resources, Fmax and build time.

Each board's default configuration (its preset and design, :mod:`fpga.boards`) goes through
``fpga.build.build``: yosys synthesis, nextpnr place and route (``--timing-allow-fail`` so a miss is
reported, not hidden), pack. ``quick`` synthesises only (no place and route: minutes → tens of
seconds per board). Columns: LUT / FF / BRAM / DSP used (nextpnr; yosys counts in quick mode),
their share of the device, achieved Fmax of the design clock against its target, and the time per
step. Times are wall seconds on a shared machine: indicative only.

Run standalone: ``python -m scripts.bench_fpga [--quick] [--fabric] [board ...]`` or
``python -m scripts.bench_fpga --units [unit ...]`` (``--fabric`` adds a synthesis of the ULX3S
kernel design: the ``fpga`` preset's fabric with real AGCUs; ``--units`` instead places and routes
each unit kind of the ``fpga`` preset (or those named) alone on the ULX3S's 85F,
:mod:`fpga.timing`: Fmax, resources and the worst path of every unit).
"""

from __future__ import annotations

import time

from fpga.boards import BOARDS as ALL
from fpga.build import BuildFailed, DoesNotFit, ToolMissing, build
from fpga.timing import UNITS, unit_timing
from hw.params import load
from scripts.bench import Option, cli

TITLE = ("FPGA builds: resources, Fmax and build time per board (--units: per unit of the fpga "
         "preset; yosys + nextpnr, YoWASP)")

BOARDS = ("ulx3s", "orangecrab", "icebreaker")
OPTIONS = (
    Option("boards", "boards to build", positional=True, choices=tuple(ALL)),
    Option("fabric", "also synthesise the ULX3S kernel design (the fpga preset's fabric)",
           switch=True),
    Option("units", "instead of the boards: place and route each unit of the fpga preset alone "
           "on the ULX3S's 85F (the units named, or all)", many=True, choices=UNITS),
)


def _row(r):
    row = {"board": r["board"], "device": r["device"], "config": r["config"],
           "design": r["design"], "clock_mhz": r["clock_mhz"]}
    res = r.get("resources")
    if res:
        for k in ("LUT", "FF", "BRAM", "DSP"):
            if k in res:
                row[k] = res[k]["used"]
                row[f"{k}_%"] = round(100 * res[k]["used"] / res[k]["available"], 1)
    else:
        for k in ("LUT", "FF", "BRAM", "DSP"):
            row[k] = r["synth"].get(k)
    for clk, v in r.get("fmax", {}).items():
        row["fmax_mhz"] = v["achieved_mhz"]
        row["target_mhz"] = v["target_mhz"]
        row["timing_met"] = v["achieved_mhz"] >= v["target_mhz"]
    for k, v in r["times"].items():
        row[k] = v
    return row


def run(quick=False, boards=BOARDS, out_root="build/fpga", fabric=False, units=None):
    """Build ``boards``; ``fabric``: also synthesise the ULX3S kernel design (the ``fpga``
    preset's fabric with real AGCUs; yosys only, a few minutes). ``units`` (a sequence, empty for
    every unit): instead, :func:`run_units` on those units (``quick`` does not apply)."""
    if units is not None:
        return run_units(units=tuple(units) or None)
    rows, notes = [], []
    jobs = [(b, ALL[b].design, quick) for b in boards]
    if fabric:
        jobs.append(("ulx3s", "kernel", True))
    for b, design, synth_only in jobs:
        t0 = time.perf_counter()
        try:
            r = build(b, out=f"{out_root}/{b}-{design}", synth_only=synth_only, design=design)
            rows.append(_row(r))
        except (DoesNotFit, BuildFailed, ToolMissing) as e:
            rows.append({"board": b, "design": design, "error": str(e).splitlines()[0],
                         "total_s": round(time.perf_counter() - t0, 1)})
    notes.append("quick: synthesis only (yosys cell counts, no Fmax)" if quick else
                 "place and route with nextpnr (seed 1; the ULX3S fabric: static placer, seed 2, "
                 "router2 on the saved placement); Fmax of the design clock from nextpnr's "
                 "report; target = the board's clock (ULX3S: fpga preset 50 MHz via PLL)")
    notes.append("design: each board's default (rdu fpga boards): the ULX3S the fpga preset's "
                 "fabric with real AGCUs, the others the smoke MAC system")
    return {"rows": rows, "notes": notes}


def run_units(config="fpga", board="ulx3s", units=None, out_root="build/fpga/units"):
    """Every unit kind of ``config`` placed and routed alone (:func:`fpga.timing.unit_timing`):
    one row per unit with its resources, Fmax against the preset's clock and its worst
    register-to-register path (delay, logic levels, start and end registers)."""
    params = load(config)
    rows = []
    for u in units or UNITS:
        t0 = time.perf_counter()
        try:
            r = unit_timing(params, u, board=board, out=f"{out_root}/{u}")
        except (BuildFailed, ToolMissing) as e:
            rows.append({"unit": u, "error": str(e).splitlines()[0],
                         "total_s": round(time.perf_counter() - t0, 1)})
            continue
        row = {"unit": u, "config": r["config"], "board": r["board"]}
        row.update({k: r["synth"].get(k) for k in ("LUT", "FF", "BRAM", "DSP")})
        row.update(fmax_mhz=r["fmax_mhz"], target_mhz=r["target_mhz"],
                   timing_met=r["fmax_mhz"] >= r["target_mhz"])
        if r["paths"]:
            p = r["paths"][0]
            row.update(path_ns=p["delay_ns"], levels=p["levels"], route_ns=p["route_ns"],
                       path=f"{p['start']} -> {p['end']}")
        row.update(r["times"])
        rows.append(row)
    notes = [f"each unit of the {config} preset alone on the {board}'s FPGA, every port "
             "registered (fpga.timing.Probe), nextpnr seed 1; the fabric's own Fmax is at most "
             "the slowest unit's (paths between units are not measured)"]
    return {"rows": rows, "notes": notes}


if __name__ == "__main__":
    raise SystemExit(cli(__name__))
