"""FPGA builds per board with the open toolchain: resources, Fmax and build time.

Each board's default configuration (its preset and design, :mod:`fpga.boards`) goes through
``fpga.build.build``: yosys synthesis, nextpnr place and route (``--timing-allow-fail`` so a miss is
reported, not hidden), pack. ``quick`` synthesises only (no place and route: minutes → tens of
seconds per board). Columns: LUT / FF / BRAM / DSP used (nextpnr; yosys counts in quick mode),
their share of the device, achieved Fmax of the design clock against its target, and the time per
step. Times are wall seconds on a shared machine: indicative only.

Run standalone: ``python -m scripts.bench_fpga [--quick] [--fabric] [board ...]`` (``--fabric``
adds a synthesis of the ULX3S kernel design: the ``fpga`` preset's fabric with real AGCUs).
"""

from __future__ import annotations

import json
import sys
import time

TITLE = "FPGA builds: resources, Fmax and build time per board (yosys + nextpnr, YoWASP)"

BOARDS = ("ulx3s", "orangecrab", "icebreaker")


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


def run(quick=False, boards=BOARDS, out_root="build/fpga", fabric=False):
    """``fabric``: also synthesise the ULX3S kernel design (the ``fpga`` preset's fabric with
    real AGCUs; yosys only, a few minutes)."""
    from fpga.build import BuildFailed, DoesNotFit, ToolMissing, build
    rows, notes = [], []
    from fpga.boards import BOARDS as ALL
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
                 "place and route with nextpnr, seed 1; Fmax of the design clock from nextpnr's "
                 "report; target = the board's clock (ULX3S: fpga preset 50 MHz via PLL)")
    notes.append("design: each board's default (rdu fpga boards): the smoke MAC system; "
                 "--fabric adds a synthesis of the ULX3S kernel design (the fpga preset's fabric)")
    return {"rows": rows, "notes": notes}


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    res = run(quick="--quick" in sys.argv, boards=tuple(args) or BOARDS,
              fabric="--fabric" in sys.argv)
    from scripts.bench import print_table
    print_table(TITLE, res["rows"], res["notes"])
    print(json.dumps(res, indent=2))
