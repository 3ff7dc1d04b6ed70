"""`rdu gen CONFIG --unit memory` and lint of the generated memory systems."""

import pytest

from hw.params import load
from tb import runner

pytestmark = pytest.mark.verilator


def test_rdu_gen_memory_writes_verilog(tmp_path):
    from hw.cli import main
    assert main(["gen", "tiny", "--unit", "memory", "-o", str(tmp_path)]) == 0
    top = tmp_path / "rdu_memory_tiny.v"
    assert top.exists() and (tmp_path / "rdu_backdoor_mem.v").exists()
    text = top.read_text()
    assert "module rdu_memory_tiny" in text
    for name in ("hbm_ch0", "ddr_ch0"):                  # backing stores, one per channel
        assert f'"{name}"' in text


@pytest.mark.parametrize("config", ["tiny", "fpga"])
def test_lint_generated(config):
    from memory.system import generate
    runner.lint(generate(load(config)).design())


@pytest.mark.slow
@pytest.mark.parametrize("config", ["sim"])
def test_lint_generated_large(config):
    from memory.system import generate
    runner.lint(generate(load(config)).design())
