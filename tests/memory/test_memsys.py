"""The memory system under Verilator (one shared build, tests/memory/common.py) and lint."""

import pytest

from tb import env, runner

from . import common

pytestmark = pytest.mark.verilator


def _run(testcase, tmp_path, **args):
    seed = runner.seed_from_env(common.SEED)
    sysinfo = common.system().info()
    runner.simulate(common.design(), "tests.memory.cocotb_memsys", testcase=testcase, seed=seed,
                    plusargs=[f"+rdu_mem_dir={tmp_path}"], test_dir=tmp_path / "sim",
                    env=env.encode(seed=seed, info=sysinfo, dir=str(tmp_path), **args))


def test_lint_test_system():
    runner.lint(common.design())


@pytest.mark.parametrize("pause", [0.0, 0.4], ids=["full-rate", "backpressure"])
def test_random_traffic(tmp_path, pause):
    _run("random_traffic", tmp_path, pause=pause, n=300)


def test_random_traffic_in_order(tmp_path):
    _run("random_traffic", tmp_path, pause=0.3, n=150, policy="in-order")


def test_agcu_patterns(tmp_path):
    _run("agcu_patterns", tmp_path, pause=0.3)


def test_dma_copies(tmp_path):
    _run("dma_copies", tmp_path)


def test_traffic_selfcheck_and_refresh(tmp_path):
    _run("traffic_selfcheck", tmp_path, n=2048)


def test_errors_and_watchdog(tmp_path):
    _run("errors_and_watchdog", tmp_path)
