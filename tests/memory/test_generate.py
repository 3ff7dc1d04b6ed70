"""`rdu gen CONFIG --unit memory` and lint of the generated memory systems."""

import pytest

from hw.params import load
from tb import runner

pytestmark = pytest.mark.verilator


def test_rdu_gen_memory_emits_lint_clean_verilog(tmp_path):
    from hw.cli import main
    assert main(["gen", "tiny", "--unit", "memory", "-o", str(tmp_path)]) == 0
    top = tmp_path / "rdu_memory_tiny.v"
    backdoor = tmp_path / "rdu_backdoor_mem.v"
    assert top.exists() and backdoor.exists()
    text = top.read_text()
    for name in ("hbm_ch0", "ddr_ch0"):                  # backing stores, one per channel
        assert f'"{name}"' in text
    runner.lint(runner.Design(text, "rdu_memory_tiny", runner._ports_of(text, "rdu_memory_tiny"),
                              (str(backdoor),)))


def test_fpga_memory_system_is_the_tiny_one():
    """The fpga preset generates the same memory system as tiny (so the lint above covers it)."""
    t, f = load("tiny"), load("fpga")
    assert (f.memory, f.agcu, f.lanes) == (t.memory, t.agcu, t.lanes)


@pytest.mark.slow
@pytest.mark.parametrize("config", ["sim"])
def test_lint_generated_large(config):
    from memory.system import generate
    runner.lint(generate(load(config)).design())


@pytest.mark.slow
@pytest.mark.parametrize("quick", [True, False], ids=["quick", "full"])
def test_lint_bench_designs(quick):
    """The benchmark's systems (traffic generators on both tiers) are lint clean too."""
    from scripts import bench_memory as b
    mem, agcu, lanes, h, d = b._systems(quick)
    runner.lint(b._design(mem, agcu, lanes, h, d, quick)[1])
