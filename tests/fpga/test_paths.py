"""Placed-netlist path analysis (``fpga.paths``, ``rdu fpga paths``, ``rdu fpga build
--place-only``): the delay arithmetic on a hand-made netlist, unit attribution, loops, errors,
and one real nextpnr placement compared with nextpnr's routed critical path.

The whole fabric's placement (``make fpga-paths``: ``rdu fpga build --board ulx3s --design kernel
--place-only``, 12-20 min; docs/fpga.md, "Timing analysis tools") is too slow for the test suite
and is not run here.
"""

import json

import pytest

from fpga.build import ROUTER2_CONGESTION_GROWTH, BuildFailed, build, find_tool
from fpga.paths import CLK_TO_Q_NS, SETUP_NS, analyze, format_paths, unit_of_net
from scripts.cli import main as rdu

LUT = 0.45
WIRE = 0.08


def _cell(kind, bel, conns, dirs, params=None):
    return {"type": kind, "attributes": {"NEXTPNR_BEL": bel}, "parameters": params or {},
            "connections": conns, "port_directions": dirs}


def _netlist(extra_cells=None, bel2="X20/Y1/SLICEA.K0", bel3="X20/Y1/SLICEA.FF0"):
    """ff0 (X1/Y1) → lut1 (same tile) → lut2 (X20/Y1) → ff3 (X20/Y1); net names in units."""
    ff_dirs = {"Q": "output", "DI": "input", "CLK": "input"}
    lut_dirs = {"A": "input", "F": "output"}
    cells = {
        "ff0": _cell("TRELLIS_FF", "X1/Y1/SLICEA.FF0", {"Q": [2], "DI": [5], "CLK": [9]},
                     ff_dirs),
        "lut1": _cell("TRELLIS_COMB", "X1/Y1/SLICEA.K0", {"A": [2], "F": [3]}, lut_dirs),
        "lut2": _cell("TRELLIS_COMB", bel2, {"A": [3], "F": [4]}, lut_dirs),
        "ff3": _cell("TRELLIS_FF", bel3, {"Q": [5], "DI": [4], "CLK": [9]},
                     ff_dirs),
    }
    cells.update(extra_cells or {})
    nets = {"system.duc.fabric.pcu_0_0.a": [2], "system.duc.fabric.pcu_0_0.b": [3],
            "system.duc.fabric.mesh.sw_1_1.c": [4], "system.duc.fabric.mesh.sw_1_1.q": [5],
            "clk": [9]}
    return {"modules": {"top": {"attributes": {"top": 1}, "cells": cells,
                                "netnames": {k: {"bits": v} for k, v in nets.items()}}}}


def test_delay_model_and_units():
    r = analyze(_netlist(), period_ns=3.0)
    # Q → A in the same tile: no wire; F → A over 19 columns: 3 + (19 - 5) + 2·5 = 27 units;
    # F → DI of the same slice: no wire
    want = CLK_TO_Q_NS + LUT + WIRE * 27 + LUT + SETUP_NS
    assert r["worst_ns"] == round(want, 2)
    assert r["fmax_mhz"] == round(1000 / want, 1)
    assert r["over"] == 1 and r["threshold_ns"] == 3.0
    assert r["pairs"] == [{"start": "pcu_0_0", "end": "sw_1_1", "over": 1,
                           "worst_ns": round(want, 2)}]
    cells = r["paths"][0]["cells"]
    assert [(c["x"], c["port"], c["unit"]) for c in cells] == [
        (1, "Q", "pcu_0_0"), (1, "F", "pcu_0_0"), (20, "F", "sw_1_1"), (20, "DI", "sw_1_1")]
    text = format_paths(r)
    assert "pcu_0_0" in text and "1 of 2 endpoints over 3 ns" in text
    # the second LUT and its flip-flop placed next to the first: the long wire is gone
    near = analyze(_netlist(bel2="X2/Y1/SLICEA.K0", bel3="X2/Y1/SLICEA.FF0"))
    assert near["worst_ns"] < r["worst_ns"] - 1.5


def test_combinational_loop_is_cut_and_constants_start_nothing():
    loop = {
        "la": _cell("TRELLIS_COMB", "X5/Y5/SLICEA.K0", {"A": [7], "F": [6]},
                    {"A": "input", "F": "output"}),
        "lb": _cell("TRELLIS_COMB", "X6/Y5/SLICEA.K0", {"A": [6], "F": [7]},
                    {"A": "input", "F": "output"}),
        "$PACKER_VCC": _cell("TRELLIS_COMB", "X9/Y9/SLICEA.K0", {"F": [8]}, {"F": "output"}),
        "ffc": _cell("TRELLIS_FF", "X90/Y90/SLICEA.FF0", {"Q": [10], "DI": [8], "CLK": [9]},
                     {"Q": "output", "DI": "input", "CLK": "input"}),
    }
    r = analyze(_netlist(loop))
    assert r["endpoints"] == 2                      # ff0.DI and ff3.DI; not the constant's


def test_unit_of_net():
    assert unit_of_net("system.duc.fabric.mesh.sw_1_1.vec_E0_buf.skid_valid") == "sw_1_1"
    assert unit_of_net("\\system.duc.fabric.pcu_0_0.stage0.s0_fu0.prod") == "pcu_0_0"
    assert unit_of_net("system.duc.dram3.busy") == "dram3"
    assert unit_of_net("system.mem.q_data") == "mem"
    assert unit_of_net("system.bridge.core.state") == "bridge"
    assert unit_of_net("led2.buf") == "led2"
    assert unit_of_net("clk") == "(top)"


def test_errors(tmp_path, capsys):
    unplaced = _netlist()
    for c in unplaced["modules"]["top"]["cells"].values():
        del c["attributes"]["NEXTPNR_BEL"]
    with pytest.raises(ValueError, match="no placement .*--place-only"):
        analyze(unplaced)
    with pytest.raises(FileNotFoundError, match="placed netlist .*nope.json not found"):
        analyze(tmp_path / "nope.json")
    (tmp_path / "u.json").write_text(json.dumps(unplaced))
    assert rdu(["fpga", "paths", str(tmp_path / "u.json")]) == 2
    assert "rdu: error: fpga paths: the netlist has no placement" in capsys.readouterr().err
    with pytest.raises(BuildFailed, match="--place-only: .* ECP5 netlists; the icebreaker is an "
                                          "ice40"):
        build("icebreaker", place_only=True, out=tmp_path / "ice")


def test_real_placement_against_routed_paths(tmp_path, capsys):
    """The board-memory adapter on the 25F: nextpnr places it (``--no-route --write``), the
    analysis of that placement is in the range of nextpnr's routed critical path."""
    import subprocess
    assert rdu(["fpga", "timing", "--unit", "dram", "--board", "orangecrab", "--config", "fpga",
                "--json", "-o", str(tmp_path)]) == 0
    routed = json.loads(capsys.readouterr().out)["paths"][0]["delay_ns"]
    subprocess.run([find_tool("nextpnr-ecp5"), "--25k", "--package", "CSFBGA285", "--json",
                    "probe_dram.json", "--lpf", "probe_dram.lpf", "--lpf-allow-unconstrained",
                    "--no-route", "--write", "placed.json", "--quiet"], cwd=tmp_path,
                   check=True, capture_output=True)
    assert rdu(["fpga", "paths", str(tmp_path / "placed.json"), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["endpoints"] > 50 and r["pairs"]
    assert 0.5 * routed < r["worst_ns"] < 2.0 * routed, (r["worst_ns"], routed)


def test_place_only_build_runs_nextpnr_without_routing(tmp_path, monkeypatch):
    """``build(place_only=True)``: nextpnr gets ``--no-route --write`` (and the placer timing
    weight when given, none by default for the smoke design), the report carries nextpnr's
    estimate and the path analysis. The tools are stubbed; the real runs are the test above and
    ``make fpga-paths``."""
    import fpga.build as fb
    cmds = []
    monkeypatch.setattr(fb, "find_tool", lambda name: name)
    monkeypatch.setattr(fb, "synth_ecp5_run", lambda *a, **k: (0.1, 0, "", None))
    monkeypatch.setattr(fb, "synth_stats", lambda *a: {"LUT": 10, "FF": 10, "BRAM": 0, "DSP": 0})

    def run(cmd, cwd, log, what, timeout=None):
        cmds.append(cmd)
        (cwd / cmd[cmd.index("--report") + 1]).write_text("{}")
        (cwd / cmd[cmd.index("--log") + 1]).write_text(
            "Info: Max frequency for clock '$glbnet$clk': 45.25 MHz (FAIL at 48.00 MHz)\n")
        (cwd / cmd[cmd.index("--write") + 1]).write_text(json.dumps(_netlist()))
        return 0.2, 0, ""
    monkeypatch.setattr(fb, "_run", run)
    for weight, placer, out in ((None, None, "a"), (7, None, "b"), (None, "static", "c")):
        r = build("orangecrab", place_only=True, timing_weight=weight, placer=placer,
                  out=tmp_path / out)
        cmd = cmds[-1]
        assert "--no-route" in cmd and "--textcfg" not in cmd
        assert ("--placer-heap-timingweight" in cmd) == (weight is not None)
        assert ("--placer" in cmd) == (placer is not None) and r.get("placer") == placer
        if placer:
            assert cmd[cmd.index("--placer") + 1] == placer
        if weight:
            assert cmd[cmd.index("--placer-heap-timingweight") + 1] == "7"
        assert r["fmax_estimate"] == {"mhz": 45.25, "target_mhz": 48.0}
        assert r["placed_paths"]["pairs"][0]["start"] == "pcu_0_0"
        assert "bitstream" not in r["outputs"] and r["outputs"]["placed"].endswith(
            "rdu_orangecrab.placed.json")
        assert "fmax after placement (nextpnr's estimate, not routed): 45.25 MHz" in \
            (tmp_path / out / "report.txt").read_text()


def test_placer_errors():
    """An unknown placer, or a timing weight for the static placer (it has none): one message
    each, before any tool runs."""
    from fpga.build import build
    with pytest.raises(BuildFailed, match="placer 'sa2': nextpnr's placers are heap, static"):
        build("ulx3s", placer="sa2")
    with pytest.raises(BuildFailed, match="timing weight: --placer-heap-timingweight is the "
                                          "heap placer's; the static placer has none"):
        build("ulx3s", placer="static", timing_weight=30)


def test_route_errors(tmp_path, capsys):
    """``rdu fpga route`` on a directory that is not a place-only build, a missing placed
    netlist, an unknown router, a congestion growth out of range or given to router1: one
    message each, naming what is wrong."""
    from fpga.build import route
    with pytest.raises(BuildFailed, match="no report.json; route a directory written by "
                                          "`rdu fpga build --place-only`"):
        route(tmp_path)
    (tmp_path / "report.json").write_text(json.dumps({"board": "ulx3s", "place_only": False,
                                                      "outputs": {}, "times": {}}))
    assert rdu(["fpga", "route", str(tmp_path)]) == 2
    assert "rdu: error: fpga route: " in (err := capsys.readouterr().err)
    assert "not a place-only build" in err
    (tmp_path / "report.json").write_text(json.dumps({
        "board": "ulx3s", "place_only": True, "times": {},
        "outputs": {"placed": str(tmp_path / "rdu_ulx3s.placed.json")}}))
    with pytest.raises(BuildFailed, match="placed netlist .*rdu_ulx3s.placed.json is missing"):
        route(tmp_path)
    with pytest.raises(BuildFailed, match="router 'router3': nextpnr's routers are router1, "
                                          "router2"):
        route(tmp_path, router="router3")
    with pytest.raises(BuildFailed, match="congestion growth: a router2 setting; router1 has "
                                          "none"):
        route(tmp_path, router="router1", congestion_growth=1.0)
    assert rdu(["fpga", "route", str(tmp_path), "--congestion-growth", "-1"]) == 2
    assert "congestion growth -1.0: must be a number in 0..100" in capsys.readouterr().err


def test_route_a_saved_placement(tmp_path, capsys):
    """A real nextpnr placement (the board-memory adapter on the OrangeCrab's 25F), saved with
    ``--no-route --write``, then routed by :func:`fpga.build.route`: nextpnr loads it without
    packing or placing it again (packing twice fails on the carry chains), uses the router
    written into the netlist's settings, and ecppack makes a bitstream; the routed Fmax joins the
    placement's report. Routing it again with router1 works too."""
    import subprocess

    from fpga.build import route
    assert rdu(["fpga", "timing", "--unit", "dram", "--board", "orangecrab", "--config", "fpga",
                "-o", str(tmp_path)]) == 0
    capsys.readouterr()
    subprocess.run([find_tool("nextpnr-ecp5"), "--25k", "--package", "CSFBGA285", "--json",
                    "probe_dram.json", "--lpf", "probe_dram.lpf", "--lpf-allow-unconstrained",
                    "--no-route", "--write", "probe_dram.placed.json", "--quiet"], cwd=tmp_path,
                   check=True, capture_output=True)
    (tmp_path / "report.json").write_text(json.dumps({
        "board": "orangecrab", "device": "LFE5U-25F", "config": "fpga", "design": "dram",
        "clock_mhz": 48.0, "baud": 1000000, "mem_words": 0, "place_only": True,
        "times": {"total_s": 1.0}, "fmax_estimate": {"mhz": 100.0, "target_mhz": 48.0},
        "outputs": {"placed": str(tmp_path / "probe_dram.placed.json")}}))
    assert rdu(["fpga", "route", str(tmp_path), "--router", "router2"]) == 0
    out = capsys.readouterr().out
    r = json.loads((tmp_path / "report.json").read_text())
    assert r["routed_from_placement"] and not r["place_only"] and r["router"] == "router2"
    assert r["router2_congestion_growth"] == ROUTER2_CONGESTION_GROWTH
    settings = json.loads((tmp_path / "probe_dram.toroute.json").read_text())["modules"]["top"][
        "settings"]
    assert settings["router"] == "router2"
    assert float(settings["router2/currCongWeightMult"]) == ROUTER2_CONGESTION_GROWTH
    assert "Running router2" in (tmp_path / "probe_dram.route.tim").read_text()
    (clk, f), = r["fmax"].items()
    assert f["achieved_mhz"] > 50 and r["timing_met"]
    assert f["target_mhz"] == 48.0         # the build's clock (--freq), not nextpnr's 12 MHz
    assert (tmp_path / "probe_dram.bit").stat().st_size > 100_000
    assert r["fmax_estimate"]["mhz"] == 100.0          # the placement's figures stay
    assert f"fmax {clk}: {f['achieved_mhz']} MHz" in out
    assert "fmax after placement (nextpnr's estimate): 100.0 MHz" in out
    assert r["times"]["total_s"] >= 1.0 + r["times"]["route_s"]
    r1 = route(tmp_path, router="router1")          # the same placement, the other router
    assert r1["router"] == "router1" and r1["fmax"] and (tmp_path / "probe_dram.bit").exists()
    assert "router2_congestion_growth" not in r1


def test_global_reset_keeps_only_flip_flop_loads():
    """keep_global_loads: on a DCCA-driven reset, LUT inputs move to the buffer's input and the
    flip-flops' LSR / CE stay on the global; a clock's DCCA (any clock-pin load) is untouched."""
    from fpga.build import keep_global_loads

    def cell(typ, **conn):
        dirs = {p: ("output" if p in ("Z", "Q", "CLKO") else "input") for p in conn}
        return {"type": typ, "connections": conn, "port_directions": dirs}
    cells = {"rst_buf": cell("DCCA", CLKI=[2], CE=["1"], CLKO=[3]),
             "clk_buf": cell("DCCA", CLKI=[4], CE=["1"], CLKO=[5]),
             "ff": cell("TRELLIS_FF", CLK=[5], LSR=[3], CE=[3], DI=[7], Q=[8]),
             "lut": cell("LUT4", A=[3], B=[8], C=[3], D=["0"], Z=[7]),
             "ram": cell("TRELLIS_DPR16X4", WCK=[5], WRE=[5], DI=[3, 8, 8, 8])}
    net = {"modules": {"top": {"cells": cells}}}
    assert keep_global_loads(net) == 3
    assert cells["lut"]["connections"] == {"A": [2], "B": [8], "C": [2], "D": ["0"], "Z": [7]}
    assert cells["ff"]["connections"]["LSR"] == [3] and cells["ff"]["connections"]["CE"] == [3]
    assert cells["ram"]["connections"]["DI"] == [2, 8, 8, 8]
    assert cells["ram"]["connections"]["WRE"] == [5]      # the clock net keeps every load
    assert keep_global_loads(net) == 0


def test_build_congestion_growth_needs_a_router2_build():
    from fpga.build import BuildFailed, build
    with pytest.raises(BuildFailed, match=r"congestion growth: a router2 setting, for a build "
                                          r"that routes with router2 on ECP5"):
        build("ulx3s", design="kernel", place_only=True, congestion_growth=0.5)
    with pytest.raises(BuildFailed, match=r"congestion growth: a router2 setting"):
        build("ulx3s", design="smoke", congestion_growth=0.5)


def test_router2_build_places_saves_and_routes(tmp_path):
    """`rdu fpga build --router router2` on ECP5 runs the two-step flow of the ULX3S fabric build
    (place, save the placement, route it with `route`): here on the OrangeCrab's smoke design.
    The report has the placement's estimate and the routed Fmax against the board's clock."""
    r = build("orangecrab", out=tmp_path, router="router2", congestion_growth=1.0)
    assert not r["place_only"] and r["routed_from_placement"] and r["router"] == "router2"
    assert r["router2_congestion_growth"] == 1.0 and r["seed"] == 1
    assert r["fmax_estimate"]["mhz"] > 0 and r["global_loads_moved"] == 0
    (clk, f), = r["fmax"].items()
    assert f["target_mhz"] == 48.0 and r["timing_met"] == (f["achieved_mhz"] >= 48.0)
    settings = json.loads((tmp_path / "rdu_orangecrab.toroute.json").read_text())["modules"][
        "top"]["settings"]
    assert float(settings["target_freq"]) == 48e6
    assert (tmp_path / "rdu_orangecrab.bit").stat().st_size > 100_000
    assert r["times"]["total_s"] >= r["times"]["nextpnr_s"] + r["times"]["route_s"]
