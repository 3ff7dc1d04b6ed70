"""Critical paths of a *placed* ECP5 design, grouped by the units they start and end in.

nextpnr prints only an Fmax estimate after placement (``--no-route``) and writes no critical
path; routing the fabric on the ECP5-85F takes about another 10 minutes (docs/fpga.md), so this
module gives the long paths of a placement without routing it. :func:`analyze` reads the placed
netlist that ``nextpnr-ecp5 --no-route --write placed.json`` writes (``rdu fpga build
--place-only``) and runs a static timing analysis on it:

* **wires** — nextpnr-ecp5's own placement-time delay model: a connection from ``(x0, y0)`` to
  ``(x1, y1)`` costs ``wire_ns · (3 + max(dx − 5, 0) + max(dy − 5, 0) + 2·(min(dx, 5) +
  min(dy, 5)))``, carry chains and a LUT or flip-flop feeding a LUT or flip-flop in its own
  tile are free;
* **cells** — fixed delays: ``lut_ns`` per LUT (also from a carry cell's inputs), 0.06 ns per
  carry bit, 0.3 ns from carry in to a sum output, 0.25 ns for a wide-function mux, 4.5 ns
  through an unregistered multiplier, clock to Q 0.5 ns, setup 0.1 ns. Block RAM outputs and
  flip-flops start paths; flip-flop data, enable and reset inputs, block RAM and multiplier inputs
  end them. Paths from or to pins are left out, as in nextpnr's Fmax.

With the defaults (``wire_ns = 0.08``, ``lut_ns = 0.45``) the worst path of the ``fpga`` preset's
fabric came out within 1 ns of nextpnr's own Fmax estimate on two placements (29.5 vs 29.8 ns,
32.5 vs 33.3 ns): good for ranking paths and comparing two placements of the same design, not a
signoff number.

Every cell is attributed to a *unit*: the first component of its output net's hierarchical
name that names a unit instance (``pcu_0_0``, ``sw_1_1``, ``agcu_2``, ``dram0``, ``mem``,
``bridge`` ...). After yosys's LUT mapping an intermediate net often carries the name of a
neighbouring signal, so the unit of a path's middle cells is approximate; its start and end
flip-flops keep their register names.

CLI: ``rdu fpga paths PLACED.json [--period NS] [--top N] [--json]``.
"""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

__all__ = ["analyze", "format_paths", "unit_of_net", "DEFAULT_WIRE_NS", "DEFAULT_LUT_NS"]

DEFAULT_WIRE_NS = 0.08
DEFAULT_LUT_NS = 0.45
CARRY_NS = 0.06
CARRY_SUM_NS = 0.3
MUX_NS = 0.25
MULT_NS = 4.5
CLK_TO_Q_NS = 0.5
SETUP_NS = 0.1
_LUT_IN = ("A", "B", "C", "D")
_CLOCKS = ("CLK", "CLKA", "CLKB", "CLKI", "WCK")
# wrapper levels that are not units themselves
_WRAPPERS = {"system", "duc", "fabric", "mesh", "top"}
_UNIT_RE = re.compile(r"^(?:[a-z]+_\d+(?:_\d+)*|[a-z]+\d+|mem|bridge)$")


def unit_of_net(name):
    """The unit a hierarchical net name belongs to, e.g. ``system.duc.fabric.mesh.sw_1_1.
    vec_E0_buf.skid_valid`` → ``sw_1_1``; a name outside any unit gives its first component."""
    parts = name.lstrip("\\").split(".")
    for p in parts[:-1]:
        if p in _WRAPPERS:
            continue
        if _UNIT_RE.match(p):
            return p
        break
    return parts[0] if len(parts) > 1 else "(top)"


class _Netlist:
    def __init__(self, module):
        self.cells = module["cells"]
        self.loc = {}
        for cn, c in self.cells.items():
            bel = c.get("attributes", {}).get("NEXTPNR_BEL")
            mt = re.match(r"X(\d+)/Y(\d+)", bel or "")
            if mt:
                self.loc[cn] = (int(mt.group(1)), int(mt.group(2)))
        if self.cells and not self.loc:
            raise ValueError("the netlist has no placement (no NEXTPNR_BEL attributes): write "
                             "it with nextpnr's --write after placing (rdu fpga build "
                             "--place-only)")
        self.driver = {}
        self.inputs = collections.defaultdict(list)
        for cn, c in self.cells.items():
            dirs = c.get("port_directions", {})
            for port, bits in c["connections"].items():
                for i, b in enumerate(bits):
                    if not isinstance(b, int):
                        continue
                    pn = port if len(bits) == 1 else f"{port}{i}"
                    if dirs.get(port) == "output":
                        self.driver[b] = (cn, pn)
                    else:
                        self.inputs[cn].append((pn, b))
        self.name = {}
        for name, n in module["netnames"].items():
            hidden = bool(n.get("hide_name"))
            for b in n["bits"]:
                if isinstance(b, int) and (b not in self.name or (self.name[b][1] and not hidden)):
                    self.name[b] = (name.lstrip("\\"), hidden)

    def cell_name(self, cn):
        c = self.cells[cn]
        for port, bits in c["connections"].items():
            if (c.get("port_directions", {}).get(port) == "output" and bits
                    and isinstance(bits[0], int) and bits[0] in self.name):
                return self.name[bits[0]][0]
        return cn


def _arc(cell, ip, op, lut_ns):
    """Delay from input ``ip`` to output ``op`` of a combinational cell, or ``None``."""
    t = cell["type"]
    if t == "TRELLIS_COMB":
        lut = ip in _LUT_IN
        if op == "FCO":
            return CARRY_NS if ip == "FCI" else (lut_ns if lut else None)
        if op == "OFX":
            return MUX_NS if ip in ("FXA", "FXB", "M", "F1") else (lut_ns + MUX_NS if lut
                                                                   else None)
        if op == "F":
            return CARRY_SUM_NS if ip == "FCI" else (lut_ns if lut else None)
        return None
    if t == "MULT18X18D" and op.startswith("P") and ip[:1] in "AB" and ip[1:].isdigit():
        return MULT_NS
    return None


def _comb_out(cell, op):
    t = cell["type"]
    if t == "TRELLIS_COMB":
        return op in ("F", "FCO", "OFX")
    # yosys maps ECP5 multipliers without the DSP's own registers: A/B → P is combinational
    return t == "MULT18X18D" and op.startswith("P")


def analyze(placed, period_ns=None, top=10, wire_ns=DEFAULT_WIRE_NS, lut_ns=DEFAULT_LUT_NS):
    """Static timing of the placed netlist ``placed`` (a path or the parsed JSON).

    Returns ``{worst_ns, fmax_mhz, period_ns, threshold_ns, endpoints, over, pairs, paths,
    model}``: ``over`` counts the endpoints whose arrival exceeds ``threshold_ns`` (``period_ns``;
    without a period, 80 % of the worst arrival); ``pairs`` lists ``{start, end, over,
    worst_ns}`` per (start unit, end unit) of those endpoints, worst first;
    ``paths`` the worst path of each of the ``top`` worst pairs, as cells ``{x, y, type, port,
    net, unit, at_ns}``. Raises ``ValueError`` for a netlist without placement or without a top
    module, ``FileNotFoundError`` for a missing file."""
    if not isinstance(placed, dict):
        p = Path(placed)
        if not p.exists():
            raise FileNotFoundError(f"placed netlist {p} not found (write it with rdu fpga "
                                    f"build --place-only, or nextpnr --no-route --write)")
        placed = json.loads(p.read_text())
    mods = placed.get("modules", {})
    tops = [m for m in mods.values() if m.get("attributes", {}).get("top")] or list(mods.values())
    if not tops:
        raise ValueError("the netlist has no modules")
    nl = _Netlist(tops[0])
    cells = nl.cells

    def wire(dcell, dport, scell, sport):
        if (dport == "FCO" and sport == "FCI") or sport in ("FXA", "FXB"):
            return 0.0
        a, b = nl.loc.get(dcell), nl.loc.get(scell)
        if a is None or b is None:
            return 0.0
        dx, dy = abs(a[0] - b[0]), abs(a[1] - b[1])
        if dx == 0 and dy == 0 and (sport in _LUT_IN or (dport == "F" and sport == "DI")):
            return 0.0
        return wire_ns * (3 + max(dx - 5, 0) + max(dy - 5, 0) + 2 * (min(dx, 5) + min(dy, 5)))

    # arrival at every cell output: iterative depth-first, combinational loops cut
    memo = {}

    def arrival(key):
        stack, on = [key], {key}
        while stack:
            k = stack[-1]
            if k in memo:
                stack.pop()
                on.discard(k)
                continue
            cn, op = k
            cell = cells[cn]
            if cn.startswith("$PACKER_") or cell["type"] == "TRELLIS_IO" or (
                    cell["type"] == "TRELLIS_COMB" and not nl.inputs[cn]):
                # constants start no path; pins are not in the clock's Fmax (nextpnr reports
                # them apart, as <async>)
                memo[k] = (float("-inf"), None)
            elif not _comb_out(cell, op):
                memo[k] = (CLK_TO_Q_NS, None)
            else:
                pending, best = False, (float("-inf"), None)
                for ip, b in nl.inputs[cn]:
                    d = _arc(cell, ip, op, lut_ns)
                    if d is None or b not in nl.driver:
                        continue
                    src = nl.driver[b]
                    if src not in memo:
                        if src not in on:
                            stack.append(src)
                            on.add(src)
                            pending = True
                        continue
                    t = memo[src][0] + wire(src[0], src[1], cn, ip) + d
                    if t > best[0]:
                        best = (t, src)
                if pending:
                    continue
                memo[k] = best
            stack.pop()
            on.discard(k)
        return memo[key][0]

    ends = []
    for cn, cell in cells.items():
        t = cell["type"]
        for ip, b in nl.inputs[cn]:
            if b not in nl.driver or ip in _CLOCKS or t == "TRELLIS_IO":
                continue
            if t == "TRELLIS_COMB" and not (ip.startswith("WAD") or ip in ("WRE", "WD", "WD0",
                                                                          "WD1")):
                continue
            if t == "MULT18X18D" and ip[:1] in "AB" and ip[1:].isdigit():
                continue                        # through to P (see _comb_out)
            src = nl.driver[b]
            at = arrival(src)
            if at == float("-inf"):
                continue
            ends.append((at + wire(src[0], src[1], cn, ip) + SETUP_NS, cn, ip, src))
    ends.sort(key=lambda e: -e[0])
    if not ends:
        raise ValueError("the netlist has no register-to-register path")
    worst = ends[0][0]
    # endpoints grouped into unit pairs: those over the period, or (no period given) within 80 %
    # of the worst; at least the worst one
    over = float(period_ns) if period_ns is not None else 0.8 * worst

    def trace(src):
        path, k = [], src
        while k is not None:
            path.append(k)
            k = memo[k][1] if k in memo else None
        return path[::-1]

    def unit(cn):
        return unit_of_net(nl.cell_name(cn))

    pairs, worst_end = {}, {}
    for i, (at, cn, ip, src) in enumerate(ends):
        if at <= over and i:
            break
        key = (unit(trace(src)[0][0]), unit(cn))
        e = pairs.setdefault(key, {"start": key[0], "end": key[1], "over": 0,
                                   "worst_ns": round(at, 2)})
        e["over"] += at > over
        worst_end.setdefault(key, (at, cn, ip, src))
    ranked = sorted(pairs.values(), key=lambda e: -e["worst_ns"])
    paths = []
    for e in ranked[:top]:
        at, cn, ip, src = worst_end[(e["start"], e["end"])]
        steps = []
        for k in trace(src):
            x, y = nl.loc.get(k[0], (None, None))
            steps.append({"x": x, "y": y, "type": cells[k[0]]["type"], "port": k[1],
                          "net": nl.cell_name(k[0]), "unit": unit(k[0]),
                          "at_ns": round(memo[k][0], 2)})
        x, y = nl.loc.get(cn, (None, None))
        steps.append({"x": x, "y": y, "type": cells[cn]["type"], "port": ip,
                      "net": nl.cell_name(cn), "unit": unit(cn), "at_ns": round(at, 2)})
        paths.append({"start": e["start"], "end": e["end"], "delay_ns": round(at, 2),
                      "cells": steps})
    return {"worst_ns": round(worst, 2), "fmax_mhz": round(1000.0 / worst, 1),
            "period_ns": period_ns, "threshold_ns": round(over, 2), "endpoints": len(ends),
            "over": sum(1 for e in ends if e[0] > over), "pairs": ranked,
            "paths": paths, "model": {"wire_ns": wire_ns, "lut_ns": lut_ns}}


def format_paths(r, pairs=20, cells=True):
    """Plain-text summary of an :func:`analyze` result."""
    lines = [f"worst path {r['worst_ns']:.2f} ns ({r['fmax_mhz']} MHz, placement estimate); "
             f"{r['over']} of {r['endpoints']} endpoints over {r['threshold_ns']:g} ns",
             "", f"{'start unit':<16} {'end unit':<16} {'over':>8} {'worst ns':>9}"]
    for e in r["pairs"][:pairs]:
        lines.append(f"{e['start']:<16} {e['end']:<16} {e['over']:>8} {e['worst_ns']:>9.2f}")
    if cells:
        for p in r["paths"]:
            lines += ["", f"{p['delay_ns']:.2f} ns  {p['start']} -> {p['end']}  "
                          f"({len(p['cells'])} cells)"]
            for c in p["cells"]:
                if c["port"] == "FCO" and c is not p["cells"][-1]:
                    continue                     # carry bits: one line per chain is enough
                lines.append(f"   {c['at_ns']:6.2f}  X{c['x']}/Y{c['y']:<4} {c['type'][:12]:<12} "
                             f"{c['port']:<4} {c['net'][:100]}")
    return "\n".join(lines)
