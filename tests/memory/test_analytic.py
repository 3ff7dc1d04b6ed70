"""The analytic memory model: consistency properties (its accuracy against the RTL is measured by
scripts/bench_memory.py, which reports the error)."""

import pytest

from hw.params import DRAMParams, load
from memory.analytic import Pattern, addresses, estimate, estimate_copy, unloaded_latency


@pytest.mark.parametrize("preset", ["tiny", "hbm3", "ddr5"])
def test_sequential_is_bus_bound_and_beats_random(preset):
    p = DRAMParams.from_dict(preset)
    seq = estimate(p, Pattern("sequential", requesters=p.channels, outstanding=64), 50_000)
    rnd = estimate(p, Pattern("random", requesters=p.channels, outstanding=64), 50_000)
    assert seq.bound == "bus"
    assert 0.85 < seq.fraction_of_peak <= 1.0
    assert rnd.fraction_of_peak <= seq.fraction_of_peak
    assert rnd.row_hit_rate < seq.row_hit_rate


def test_concurrency_and_requester_bounds():
    p = DRAMParams.from_dict("hbm3")
    one = estimate(p, Pattern("sequential", requesters=1, outstanding=64), 20_000)
    assert one.bound == "requesters"          # one request per cycle = 64 of 256 B/cycle
    assert one.fraction_of_peak == pytest.approx(0.25, rel=0.01)
    few = estimate(p, Pattern("sequential", requesters=8, outstanding=1), 20_000)
    assert few.bound == "concurrency"
    assert few.fraction_of_peak == pytest.approx(8 * 64 / few.unloaded_latency / 256, rel=0.02)
    fracs = [estimate(p, Pattern("random", requesters=8, outstanding=o), 20_000).fraction_of_peak
             for o in (1, 2, 4, 8, 32)]
    assert fracs == sorted(fracs)


def test_in_order_is_not_faster_than_fr_fcfs():
    p = DRAMParams.from_dict("ddr5")
    for kind in ("random", "strided"):
        pat = Pattern(kind, stride=3, requesters=2, outstanding=32)
        assert estimate(p, pat, 20_000, policy="in-order").cycles >= estimate(p, pat, 20_000).cycles


def test_large_sizes_and_real_depth():
    p = DRAMParams.from_dict("hbm3")
    # 64 GiB of sequential reads on a real-depth (16384 rows) stack: statistics from a window
    n = (64 << 30) // p.access_bytes
    e = estimate(p, Pattern("sequential", requesters=8, outstanding=32), n, rows=16384)
    assert e.requests == n and e.cycles > n * p.burst_length / p.channels
    assert addresses(p, Pattern("random"), 1000, rows=16384).max() < 16384 * p.banks * p.cols * 8


def test_copy_estimate_tracks_ddr_bandwidth():
    mem = load("sim").memory
    nbytes = 1 << 20
    cycles, d = estimate_copy(mem, nbytes)
    ideal = nbytes / mem.ddr.peak_bytes_per_cycle
    assert ideal <= cycles <= 1.2 * ideal
    assert d["blocks"] == nbytes // mem.dma_block_bytes


def test_unloaded_latency_formula():
    p = DRAMParams.from_dict("tiny")
    # the RTL's measured latencies (tests/memory/test_dram_amsim.py)
    assert unloaded_latency(p, hit_rate=1.0) == 1 + p.tCL + p.burst_length
    assert unloaded_latency(p, hit_rate=0.0) == 1 + p.tCL + p.burst_length + p.tRCD + p.tRP


def test_pattern_errors():
    with pytest.raises(ValueError, match="Pattern kind = 'zigzag'"):
        Pattern("zigzag")
    with pytest.raises(ValueError, match=r"write_frac = 2: must be in \[0, 1\]"):
        Pattern(write_frac=2)


def test_agcu_estimate_is_littles_law():
    from memory.analytic import estimate_agcu
    p = DRAMParams.from_dict("hbm3")
    rates = [estimate_agcu(p, 8, o, 2) for o in (1, 2, 4, 8, 16, 32)]
    assert rates == sorted(rates) and rates[-1] == 1.0      # enough requests in flight: 1 vector/cycle
    assert rates[0] == pytest.approx(2 / (1 + unloaded_latency(p, 1 - 1 / p.cols) + 2 + 2))
