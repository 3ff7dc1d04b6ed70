"""PCU RTL under cocotb + Verilator: lint, and every kernel fragment bit-exact under random
backpressure — one Verilator build per parameter set, all fragments of a set in one simulation."""

import numpy as np
import pytest

from tb import pcu_jobs, pcu_sets, runner
from tiles.pcu_isa import PERF_NAMES

pytestmark = pytest.mark.verilator


@pytest.fixture(scope="module")
def designs():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = pcu_jobs.design(pcu_sets.params(name), name)
        return cache[name]
    return get


@pytest.mark.parametrize("name", list(pcu_sets.SETS))
def test_pcu_lint(designs, name):
    runner.lint(designs(name))


@pytest.mark.parametrize("name", list(pcu_sets.SETS))
def test_pcu_fragments(designs, name):
    seed = runner.seed_from_env()
    p, frags = pcu_sets.fragments(name, seed)
    jobs = [pcu_jobs.job(p, f, perf=True) for f in frags]
    perf = pcu_jobs.run_jobs(designs(name), p, jobs, pause=(0.3, 0.3), seed=seed)
    for f in frags:
        got = dict(zip(PERF_NAMES, perf[f.name]))
        asm = f.assemble(p)
        assert got["active"] == f.iterations, (f.name, got)
        assert got["loads"] == f.loads, (f.name, got)
        assert got["fu_ops"] == f.iterations * asm.ops_per_iter, (f.name, got)
        assert got["cycles"] >= f.iterations + f.loads, (f.name, got)


def test_pcu_watchdog_names_the_stalled_stream(designs):
    """Two tokens for three token-gated blocks: the run must stop with a message naming the
    output that did not complete (not hang)."""
    p = pcu_sets.params("tiny")
    f = pcu_sets.tokens_fragment(p, np.random.default_rng(1))
    f.ctrl_in = {0: 2}
    job = pcu_jobs.job(p, f, timeout_cycles=3000)
    with pytest.raises(runner.SimulationFailed, match=r"watchdog: job 'map_int_tokens' stalled .*"
                                                      r"vec_out\[0\] produced 8 of 12"):
        pcu_jobs.run_jobs(designs("tiny"), p, [job], seed=1)
