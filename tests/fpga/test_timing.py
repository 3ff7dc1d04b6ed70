"""Per-unit FPGA timing (``fpga.timing``, ``rdu fpga timing``): the probe wrapper, its errors and
one real place and route of the smallest unit.

Timing of the big units (PCU, PMU: minutes each) is measured by ``python -m scripts.bench_fpga
--units`` (``make fpga-units``), not here.
"""

import json

import pytest
from amaranth.back import rtlil

from fpga.timing import UNITS, Probe, _paths, format_timing, unit_of, unit_timing
from hw.params import ConfigError, load
from scripts.cli import main as rdu


def _port_bits(unit, flow_in):
    from amaranth import Value
    from amaranth.lib import wiring
    return sum(len(Value.cast(v)) for _, mb, v in unit.signature.flatten(unit)
               if (mb.flow == wiring.In) == flow_in)


@pytest.mark.parametrize("kind", UNITS)
def test_probe_registers_every_port_of_every_unit(kind):
    params = load("fpga")
    unit = unit_of(params, kind)
    probe = Probe(unit)
    assert probe.in_bits == _port_bits(unit, True) > 0
    assert probe.out_bits == _port_bits(unit, False) > 0
    if kind in ("switch", "dram"):           # the small ones convert in well under a second
        text = rtlil.convert(probe, name="p", ports=[probe.si, probe.cap, probe.so])
        ports = [ln.split()[-1] for ln in text.split("module \\p\n")[1].split("\nend\n")[0]
                 .splitlines() if ln.startswith("  wire") and ("input" in ln or "output" in ln)]
        assert sorted(ports) == ["\\cap", "\\clk", "\\rst", "\\si", "\\so"]


def test_unit_and_board_errors(capsys):
    with pytest.raises(ConfigError, match=r"--unit 'alu': must be one of pcu, pmu, switch, agcu, "
                                          r"dram, memory, bridge"):
        unit_of(load("fpga"), "alu")
    with pytest.raises(ConfigError, match=r"--board 'icebreaker': unit timing runs on ECP5 "
                                          r"boards \(ulx3s, orangecrab\); icebreaker is an ice40"):
        unit_timing(load("tiny"), "dram", board="icebreaker")
    assert rdu(["fpga", "timing", "--unit", "pcu", "--board", "de10"]) == 2
    assert "--board 'de10': unknown board; allowed: ulx3s, orangecrab, icebreaker" in \
        capsys.readouterr().err


def test_critical_path_summary():
    ff, lut = "u.x_TRELLIS_FF_Q", "u.y_LUT4_Z"
    seg = lambda t, d, a, b, net="": {"type": t, "delay": d, "from": {"cell": a},
                                      "to": {"cell": b}, "net": net}
    rep = {"critical_paths": [
        {"path": [seg("clk-to-q", 0.5, ff, ff), seg("routing", 2.0, ff, lut, "n1"),
                  seg("logic", 0.25, lut, lut), seg("routing", 1.0, lut, "u.z_FF", "n2"),
                  seg("setup", 0.1, "u.z_FF", "u.z_FF")]},
        {"path": [seg("routing", 9.0, "cap$tr_io", ff, "cap")]}]}   # a probe pin: left out
    (p,) = _paths(rep)
    assert p["start"] == ff and p["end"] == "u.z_FF" and p["levels"] == 1
    assert p["delay_ns"] == 3.85 and p["logic_ns"] == 0.85 and p["route_ns"] == 3.0
    assert p["worst_nets"][0] == (2.0, "n1")


def test_adapter_place_and_route(tmp_path, capsys):
    """Real yosys + nextpnr-ecp5 on the smallest unit (the AGCU's board-memory adapter) on the
    OrangeCrab's 25F, through the CLI."""
    assert rdu(["fpga", "timing", "--unit", "dram", "--board", "orangecrab", "--config", "fpga",
                "--json", "-o", str(tmp_path)]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["unit"] == "dram" and r["config"] == "fpga" and r["device"] == "LFE5U-25F"
    assert r["synth"]["LUT"] > 20 and r["synth"]["FF"] > 20
    assert 20 < r["fmax_mhz"] < 1000 and r["target_mhz"] == 50
    assert r["paths"] and r["paths"][0]["delay_ns"] > 0
    assert r["paths"][0]["delay_ns"] <= 1000 / r["fmax_mhz"] + 0.5
    assert "dram (fpga): Fmax" in format_timing(r)
