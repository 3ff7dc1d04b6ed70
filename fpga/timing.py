"""Per-unit timing on an FPGA: place and route one fabric unit alone and report its Fmax and
critical paths.

Synthesis, placement and routing of a whole fabric on the ECP5-85F take about 21 minutes
(docs/fpga.md); one unit alone routes in minutes and gives its own critical path. A unit's paths
are all still there inside the fabric, placed less compactly, so the fabric's Fmax is at most the
slowest unit's. Paths between units are not measured by this module (:mod:`fpga.paths` and the
full build measure them).

:class:`Probe` wraps a unit so that every port is registered on both sides and the design needs
three pins: the inputs are a shift register fed from ``si``, the outputs are captured into a
second shift register that drains to ``so`` (``cap`` loads it). Nothing is constant, so yosys
keeps all of the unit's logic, and every path measured starts and ends inside the unit or at its
port registers. Cost: about one FF and one LUT per port bit.

:func:`unit_timing` runs yosys ``synth_ecp5`` and nextpnr-ecp5 (the PyPI tools, as
:func:`fpga.build.build`) and returns a report: resources, Fmax and the ``paths`` worst
critical paths, each as its endpoints, logic levels and the slowest nets. CLI: ``rdu fpga
timing --unit pcu --config configs/fpga.yaml``; ``python -m scripts.bench_fpga --units`` prints
the table for every unit kind.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from amaranth import Cat, Elaboratable, Module, Signal, Value
from amaranth.back import rtlil
from amaranth.lib import wiring

from fpga.boards import board as get_board
from fpga.bridge import BridgeParams, HostBridge
from fpga.build import BuildFailed, _run, find_tool, synth_ecp5_run, synth_stats
from fpga.fabric_duc import board_params
from fpga.memory import DRAMPortAdapter, OnChipMemory
from hw.params import ConfigError
from interconnect.fabric import default_factory
from interconnect.floorplan import FabricMap
from interconnect.switch import Switch
from memory.agcu import AGCU
from memory.chip import AGCU_UNIT_PORTS
from memory.dram import port_spec

UNITS = ("pcu", "pmu", "switch", "agcu", "dram", "memory", "bridge")


def _flat_ports(component):
    """``(path, flow_is_in, value)`` for every port bit-vector of ``component``."""
    for path, member, value in component.signature.flatten(component):
        yield "_".join(map(str, path)), member.flow == wiring.In, value


class Probe(Elaboratable):
    """``unit`` with registered, serially loaded inputs and serially drained outputs.

    Ports: ``si`` (serial input), ``cap`` (capture the outputs), ``so`` (serial output). The
    register chains add one register stage before and after the unit; everything else is the
    unit's own logic.
    """

    def __init__(self, unit):
        self.unit = unit
        self.si = Signal()
        self.cap = Signal()
        self.so = Signal()
        ports = list(_flat_ports(unit))
        self.in_bits = sum(len(Value.cast(v)) for _, i, v in ports if i)
        self.out_bits = sum(len(Value.cast(v)) for _, i, v in ports if not i)

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = u = self.unit
        ins = [(n, Value.cast(v)) for n, i, v in _flat_ports(u) if i]
        outs = [(n, Value.cast(v)) for n, i, v in _flat_ports(u) if not i]
        # inputs: one shift register from si through every input bit
        prev = self.si
        for name, v in ins:
            r = Signal(len(v), name=f"in_{name}")
            m.d.sync += r.eq(Cat(prev, r[:-1]) if len(v) > 1 else prev)
            m.d.comb += v.eq(r)
            prev = r[-1]
        # outputs: captured in parallel, drained serially
        prev = self.si
        for name, v in outs:
            r = Signal(len(v), name=f"out_{name}")
            with m.If(self.cap):
                m.d.sync += r.eq(v)
            with m.Else():
                m.d.sync += r.eq(Cat(prev, r[:-1]) if len(v) > 1 else prev)
            prev = r[-1]
        m.d.sync += self.so.eq(prev)
        return m


def unit_of(params, kind, mem_words=4096):
    """One unit of the fabric ``params`` as a board's kernel design instantiates it: ``pcu``,
    ``pmu``, ``switch`` (the switch with the most ports), ``agcu`` (on the board memory),
    ``dram`` (the AGCU's board-memory adapter), ``memory`` (the ``mem_words``-word on-chip memory
    with a port per AGCU and one for the bridge) or ``bridge`` (the UART host bridge)."""
    if kind not in UNITS:
        raise ConfigError(f"--unit {kind!r}: must be one of {', '.join(UNITS)}")
    p = board_params(params, mem_words)
    if kind == "memory":
        return OnChipMemory(mem_words, ports=p.agcu.count + 1)
    if kind == "bridge":
        return HostBridge(BridgeParams(clk_hz=int(p.clock_mhz * 1e6), baud=1_000_000,
                                       mem_words=mem_words))
    if kind == "dram":
        return DRAMPortAdapter(port_spec(p.memory.hbm))
    if kind == "agcu":
        return AGCU(p.agcu, p.lanes, 1, dram=p.memory.hbm)
    fmap = FabricMap(p, unit_ports=AGCU_UNIT_PORTS, agcu_stops=True)   # as agcu_fabric's
    if kind == "switch":
        s = max(fmap.switches, key=lambda s: sum(len(s.spec.inputs(n)) for n, _ in s.spec.links))
        return Switch(s.spec, s.id)
    site = next(u for u in fmap.units if u.kind == kind)
    return default_factory(site, p)


def _paths(report):
    """The register-to-register critical paths of a nextpnr ``--report`` JSON, summarised:
    ``{start, end, delay_ns, levels, logic_ns, route_ns, cells, worst_nets}``."""
    out = []
    for cp in report.get("critical_paths", []):
        segs = cp.get("path", [])
        if any("$tr_io" in s[e]["cell"] for s in segs for e in ("from", "to")):
            continue                      # from or to a probe pin
        logic = sum(s.get("delay", 0) for s in segs if s.get("type") in ("logic", "clk-to-q",
                                                                         "setup"))
        route = sum(s.get("delay", 0) for s in segs if s.get("type") == "routing")
        cells = [s["to"]["cell"] for s in segs if s.get("type") == "logic"]
        nets = sorted(((s.get("delay", 0), s.get("net", "")) for s in segs
                       if s.get("type") == "routing"), reverse=True)[:4]
        first = segs[0]["from"]["cell"] if segs else ""
        last = segs[-1]["to"]["cell"] if segs else ""
        out.append({"start": first, "end": last,
                    "delay_ns": round(logic + route, 2), "levels": len(cells),
                    "logic_ns": round(logic, 2), "route_ns": round(route, 2),
                    "cells": cells,
                    "worst_nets": [(round(d, 2), n) for d, n in nets]})
    return out


def unit_timing(params, kind, board="ulx3s", freq_mhz=None, out=None, seed=1, log=None):
    """Synthesise, place and route unit ``kind`` of ``params`` alone in a :class:`Probe` on the
    FPGA of ``board`` (an ECP5 board; default the ULX3S's 85F) at ``freq_mhz`` (default
    ``params.clock_mhz``); return ``{unit, config, board, synth, fmax_mhz, target_mhz, paths,
    times, work}``. ``paths``: nextpnr's critical paths between the unit's registers (paths from
    or to the probe's pins are left out: they are not the unit's). ``out`` keeps the work files
    (yosys and nextpnr logs, nextpnr's report JSON). Raises :class:`fpga.build.ToolMissing`,
    :class:`fpga.build.BuildFailed`, or :class:`hw.params.ConfigError` for an unknown unit or a
    board that is not an ECP5."""
    say = log or (lambda s: None)
    b = get_board(board)
    if b.family != "ecp5":
        raise ConfigError(f"--board {board!r}: unit timing runs on ECP5 boards (ulx3s, "
                          f"orangecrab); {board} is an {b.family}")
    unit = unit_of(params, kind, b.mem_words)
    freq = float(freq_mhz or params.clock_mhz)
    yosys, pnr = find_tool("yosys"), find_tool("nextpnr-ecp5")
    out = Path(out) if out else Path(tempfile.mkdtemp(prefix=f"rdu-timing-{kind}-"))
    out.mkdir(parents=True, exist_ok=True)
    probe = Probe(unit)
    name = f"probe_{kind}"
    t0 = time.perf_counter()
    (out / f"{name}.il").write_text(rtlil.convert(probe, name=name, ports=[
        probe.si, probe.cap, probe.so]))
    times = {"elaborate_s": round(time.perf_counter() - t0, 1)}
    (out / f"{name}.ys").write_text(
        f"read_rtlil {name}.il\nsynth_ecp5 -top {name}\n"
        f"tee -q -o {name}.stat.json stat -json\nwrite_json {name}.json\n")
    say(f"{kind}: yosys synth_ecp5 ({probe.in_bits} input, {probe.out_bits} output bits) ...")
    wall, rc, text, fallback = synth_ecp5_run(yosys, f"{name}.ys", name, out, f"{name}.rpt",
                                              say=lambda s: say(f"{kind}: {s}"))
    times["yosys_s"] = round(wall, 1)
    if rc:
        raise BuildFailed(f"yosys on the {kind} exited with {rc}; log {out / (name + '.rpt')}:\n"
                          + "\n".join(text.splitlines()[-20:]))
    stats = synth_stats(out / f"{name}.stat.json", "ecp5")
    platform = b.make_platform()
    (out / f"{name}.lpf").write_text(f'FREQUENCY PORT "clk" {freq} MHZ;\n')
    cmd = [pnr, platform._nextpnr_device_options[platform.device], "--package",
           platform._nextpnr_package_options[platform.package].upper(), "--speed",
           str(platform.speed), "--json", f"{name}.json", "--lpf", f"{name}.lpf",
           "--lpf-allow-unconstrained", "--report", f"{name}.report.json",
           "--timing-allow-fail", "--seed", str(seed), "--log", f"{name}.tim", "--quiet"]
    say(f"{kind}: nextpnr-ecp5 ({b.device}) ...")
    wall, rc, text = _run(cmd, out, out / "nextpnr.log", "nextpnr")
    times["nextpnr_s"] = round(wall, 1)
    if rc:
        tim = out / f"{name}.tim"
        full = text + (tim.read_text(errors="replace") if tim.exists() else "")
        raise BuildFailed(f"nextpnr on the {kind} exited with {rc}:\n" + "\n".join(
            full.splitlines()[-20:]))
    rep = json.loads((out / f"{name}.report.json").read_text())
    clk = next(iter(rep.get("fmax", {}).values()), {})
    return {"unit": kind, "config": params.name, "board": b.name, "device": b.device,
            "synth": stats, "synth_fallback": fallback,
            "probe_bits": probe.in_bits + probe.out_bits,
            "fmax_mhz": round(clk.get("achieved", 0.0), 1), "target_mhz": freq,
            "paths": _paths(rep), "times": times, "work": str(out)}


def format_timing(r, paths=3):
    """Plain-text summary of one :func:`unit_timing` report."""
    s = r["synth"]
    lines = [f"{r['unit']} ({r['config']}): Fmax {r['fmax_mhz']} MHz (target {r['target_mhz']:g})"
             f", {s.get('LUT', 0)} LUT, {s.get('FF', 0)} FF, {s.get('DSP', 0)} DSP,"
             f" {s.get('BRAM', 0)} BRAM (probe registers: {r['probe_bits']} bits)"]
    for p in r["paths"][:paths]:
        lines.append(f"  {p['delay_ns']:.2f} ns = logic {p['logic_ns']:.2f} + route "
                     f"{p['route_ns']:.2f}, {p['levels']} levels: {p['start']} -> {p['end']}")
        for d, n in p["worst_nets"][:3]:
            lines.append(f"      {d:.2f} ns  {n}")
    return "\n".join(lines)
