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
    """Integration with the fabric generator (interconnect.fabric, test units): configuration, data
    and counters through the UART bridge, data in and out through the AGCU slots."""
    from fpga.bridge import BridgeParams
    from fpga.fabric_duc import FabricSystem
    from fpga.top import SIM_CLK_HZ, SystemTop
    from hw.params import load
    from tb.testunit import test_factory
    duc = FabricSystem(load("tiny"), factory=test_factory)
    top = SystemTop(duc, BridgeParams(clk_hz=SIM_CLK_HZ, baud=SIM_CLK_HZ // SIM_DIVISOR,
                                      mem_words=1024, timeout_cycles=4000, max_payload=256))
    design = runner.Design.from_component(top, "rdu_board_fabric_sim")
    runner.lint(design)
    seed = runner.seed_from_env()
    runner.simulate(design, "tests.fpga.cocotb_board", testcase="fabric_traffic", seed=seed,
                    env=env.encode(divisor=SIM_DIVISOR, config="tiny", count=12))



#: Board memory of the kernel design in the simulated board test.
KERNEL_MEM_WORDS = 16384


def kernel_params():
    """The `fpga` preset itself (the configuration the ULX3S bitstream is built from: 2x2 grid,
    2 lanes x 2 stages, integer PCUs with systolic and scan)."""
    from hw.params import load
    return load("fpga")


def test_compiler_kernels_through_the_bridge():
    """``rdu fpga run``'s flow in simulation: a GEMM and a prefix scan compiled by the kernel
    compiler for the `fpga` preset run on its fabric with real AGCUs behind the UART bridge,
    bit-exact: the ULX3S bitstream's design, driven by the host code a board run uses."""
    from fpga.top import kernel_system
    params = kernel_params()
    bridge = {"timeout_cycles": 4000, "max_payload": 1024}
    design = runner.cached_design(
        "rdu_board_kernel", {"params": params.to_dict(), "mem_words": KERNEL_MEM_WORDS, **bridge},
        lambda: kernel_system(params, KERNEL_MEM_WORDS, **bridge)[0], generator=kernel_system)
    runner.lint(design)
    seed = runner.seed_from_env()
    runner.simulate(design, "tests.fpga.cocotb_board", testcase="compiler_kernels", seed=seed,
                    env=env.encode(divisor=SIM_DIVISOR, params=params.to_dict(),
                                   mem_words=KERNEL_MEM_WORDS,
                                   kernels=[["gemm", "int16", {"M": 8, "N": 12, "K": 8}],
                                            ["scan", "int32", {"n": 64}]]))
