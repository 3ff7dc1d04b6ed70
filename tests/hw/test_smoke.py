"""End-to-end smoke: Amaranth → Verilog → lint → cocotb + Verilator with random backpressure."""

import numpy as np
import pytest

from hw.golden import mac_lanes
from hw.smoke import MacParams, MacPipeline
from tb import env, freerun, runner
from tb.harness import StreamHarness
from tb.stream import pack_lanes, unpack_rows

pytestmark = pytest.mark.verilator

PARAMS = [MacParams(lanes=4), MacParams(lanes=8, in_bits=8, acc_bits=20), MacParams(lanes=1)]


def _design(p):
    return runner.Design.from_component(MacPipeline(p), f"mac_l{p.lanes}_i{p.in_bits}_a{p.acc_bits}")


@pytest.mark.parametrize("p", PARAMS, ids=lambda p: f"L{p.lanes}i{p.in_bits}a{p.acc_bits}")
def test_mac_lint(p):
    runner.lint(_design(p))


@pytest.mark.parametrize("p", PARAMS, ids=lambda p: f"L{p.lanes}i{p.in_bits}a{p.acc_bits}")
@pytest.mark.parametrize("pause", [(0.0, 0.0), (0.3, 0.5)], ids=["full-rate", "backpressure"])
def test_mac_driven(p, pause):
    seed = runner.seed_from_env()
    runner.simulate(_design(p), "tb.cocotb_mac", seed=seed, env=env.encode(
        lanes=p.lanes, in_bits=p.in_bits, acc_bits=p.acc_bits, seed=seed,
        pause_src=pause[0], pause_sink=pause[1], groups=[[1, 20], [4, 64], [7, 70]]))


def test_mac_freerun_backpressure():
    p = MacParams(lanes=4)
    h = StreamHarness(MacPipeline(p), 2048, 512, passthrough=("acc_len",))
    design = freerun.design_for(h, "mac_harness")
    seed = runner.seed_from_env()
    rng = np.random.default_rng(seed)
    a = rng.integers(-32768, 32768, (2000, 4))
    b = rng.integers(-32768, 32768, (2000, 4))
    words = [pack_lanes(list(a[t]) + list(b[t]), 16) for t in range(len(a))]
    r = freerun.run(design, h, words, 400, seed=seed, pause_src=100, pause_sink=100,
                    passthrough={"acc_len": 5})
    np.testing.assert_array_equal(unpack_rows(r.outputs, 32, 4, signed=True), mac_lanes(a, b, 5))
    assert r.cycles > 2000  # random pauses on both sides cost cycles


def test_harness_watchdog_names_the_stalled_side():
    """A DUT that never becomes ready must trip the watchdog with a message, not hang."""
    from amaranth import Module
    from amaranth.lib import stream, wiring
    from amaranth.lib.wiring import In, Out

    class Stuck(wiring.Component):
        i: In(stream.Signature(8))
        o: Out(stream.Signature(8))

        def elaborate(self, platform):
            return Module()   # ready and valid stay low forever

    h = StreamHarness(Stuck(), 16, 16, watchdog=200)
    with pytest.raises(runner.SimulationFailed, match=r"watchdog: .*stalled on the DUT's input"):
        freerun.run(freerun.design_for(h, "stuck_harness"), h, [1, 2, 3], 3)


def test_verilog_cache_hits_misses_and_matches(tmp_path, monkeypatch):
    """cached_design: a second request with the same key does not elaborate again and gives the
    same text; another key (other parameters) is a miss."""
    monkeypatch.setenv("RDU_CACHE", str(tmp_path))
    made = []

    def make(p):
        def f():
            made.append(p.lanes)
            return MacPipeline(p)
        return f

    p2, p4 = MacParams(lanes=2), MacParams(lanes=4)
    a = runner.cached_design("mac_cached", {"lanes": 2}, make(p2), generator=MacPipeline)
    b = runner.cached_design("mac_cached", {"lanes": 2}, make(p2), generator=MacPipeline)
    c = runner.cached_design("mac_cached", {"lanes": 4}, make(p4), generator=MacPipeline)
    assert made == [2, 4]
    assert a.verilog == b.verilog == runner.Design.from_component(MacPipeline(p2),
                                                                  "mac_cached").verilog
    assert a.ports == b.ports and a.digest() == b.digest()
    assert c.verilog != a.verilog
    assert len(list((tmp_path / "verilog").glob("mac_cached-*/mac_cached.v"))) == 2


def test_build_cache_reuses(tmp_path, monkeypatch):
    monkeypatch.setenv("RDU_CACHE", str(tmp_path))
    d = _design(MacParams(lanes=2))
    assert not runner.build(d).cached
    assert runner.build(d).cached
