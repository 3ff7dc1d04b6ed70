"""The board path under Verilator: system top + UART model + the real host code (cocotb_board.py).

All tests share one Verilator build (the default :func:`fpga.top.sim_design`: smoke system, 4 lanes,
2 units, 4096 words, UART at clock/8).
"""

import pytest

from fpga.top import SIM_DIVISOR, sim_design
from tb import env, runner

pytestmark = pytest.mark.verilator

ARGS = {"divisor": SIM_DIVISOR, "lanes": 4, "units": 2, "mem_words": 4096}


@pytest.fixture(scope="module")
def design():
    return sim_design()


def test_board_top_lint(design):
    runner.lint(design)


def _run(design, testcase, **extra):
    seed = runner.seed_from_env()
    runner.simulate(design, "tests.fpga.cocotb_board", testcase=testcase, seed=seed,
                    env=env.encode(**ARGS, **extra))


def test_bridge_memory_and_ring(design):
    _run(design, "bridge_memory_and_ring")


def test_kernels_bit_exact(design):
    _run(design, "kernels_bit_exact",
         kernels=[["gemm", {"M": 4, "N": 8, "K": 8}], ["conv1d", {"n": 29, "taps": 5}]])


def test_corrupted_frames_give_clear_errors(design):
    _run(design, "corrupted_frames_give_clear_errors")


def test_baud_mismatch_tolerated(design):
    _run(design, "baud_mismatch_tolerated")


def test_fabric_behind_the_bridge():
    """Integration with the fabric generator (hw.fabric, test units): configuration, data and
    counters through the UART bridge, data in and out through the AGCU slots."""
    from fpga.bridge import BridgeParams
    from fpga.fabric_duc import FabricSystem
    from fpga.top import SIM_CLK_HZ, SystemTop
    from hw.fabric import test_factory
    from hw.params import load
    duc = FabricSystem(load("tiny"), factory=test_factory)
    top = SystemTop(duc, BridgeParams(clk_hz=SIM_CLK_HZ, baud=SIM_CLK_HZ // SIM_DIVISOR,
                                      mem_words=1024, timeout_cycles=4000, max_payload=256))
    design = runner.Design.from_component(top, "rdu_board_fabric_sim")
    runner.lint(design)
    seed = runner.seed_from_env()
    runner.simulate(design, "tests.fpga.cocotb_board", testcase="fabric_traffic", seed=seed,
                    env=env.encode(divisor=SIM_DIVISOR, config="tiny", count=12))


#: The kernel design's configuration and board memory in the simulated board test.
KERNEL_CONFIG = "small"
KERNEL_MEM_WORDS = 16384


def test_compiler_kernels_through_the_bridge():
    """``rdu fpga run``'s flow in simulation: GEMM (int16 and bf16) and a prefix scan compiled by
    the kernel compiler run on the fabric with real AGCUs behind the UART bridge, bit-exact."""
    from fpga.top import kernel_system
    from hw.params import load
    top, _ = kernel_system(load(KERNEL_CONFIG), KERNEL_MEM_WORDS, timeout_cycles=4000,
                           max_payload=1024)
    design = runner.Design.from_component(top, f"rdu_board_kernel_{KERNEL_CONFIG}")
    runner.lint(design)
    seed = runner.seed_from_env()
    runner.simulate(design, "tests.fpga.cocotb_board", testcase="compiler_kernels", seed=seed,
                    env=env.encode(divisor=SIM_DIVISOR, config=KERNEL_CONFIG,
                                   mem_words=KERNEL_MEM_WORDS,
                                   kernels=[["gemm", "int16", {"M": 8, "N": 8, "K": 8}],
                                            ["gemm", "bf16", {"M": 8, "N": 12, "K": 8}],
                                            ["scan", None, {"n": 64}]]))
