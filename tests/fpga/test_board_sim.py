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
