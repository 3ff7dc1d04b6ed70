"""cocotb tests of the whole memory system (tests/memory/common.py: one Verilator build).

Each test is selected by name from tests/memory/test_memsys.py; parameters and the system
description come through ``tb.env``.
"""

from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import Combine, with_timeout

from memory.agcu import agcu_program, tensor_loops, vector_addresses
from memory.dma import dma_program
from memory.dram import port_spec
from memory.traffic import pattern_words, tg_config
from tb import env
from tb.memory import DRAMPortDriver, MemSysHost, ReferenceMemory, Request
from tb.stream import PauseGenerator, Scoreboard, StreamSink, StreamSource, pack_lanes, unpack_rows


def _setup(dut):
    args = env.decode()
    seed = int(args["seed"])
    host = MemSysHost(dut, args["info"], Path(args["dir"]),
                      ring_pause=(PauseGenerator(0.2, seed + 7), PauseGenerator(0.2, seed + 8)))
    return args, seed, np.random.default_rng(seed), host


def _random_images(host, rng):
    hbm, ddr = host.image("hbm"), host.image("ddr")
    hbm.bytes[:] = rng.integers(0, 256, hbm.bytes.size, dtype=np.uint8)
    ddr.bytes[:] = rng.integers(0, 256, ddr.bytes.size, dtype=np.uint8)
    return hbm, ddr


def _random_requests(rng, n, lo, hi, hot, words):
    reqs = []
    for _ in range(n):
        a = int(rng.choice(hot)) if rng.random() < 0.5 else int(rng.integers(lo, hi))
        if rng.random() < 0.5:
            reqs.append(Request(a, True, [int(x) for x in rng.integers(0, 1 << 32, words,
                                                                        dtype=np.uint64)],
                                [bool(x) for x in rng.random(words) < 0.75]))
        else:
            reqs.append(Request(a, False))
    return reqs


class AGCUPorts:
    """Fabric-side stream components of AGCU ``i`` with random backpressure."""

    def __init__(self, host, i, seed, pause):
        dut, clk = host.dut, host.clk
        self.sink = StreamSink(dut, f"agcu_vec_out__{i}", clk, PauseGenerator(pause, seed))
        self.src = StreamSource(dut, f"agcu_vec_in__{i}", clk, PauseGenerator(pause, seed + 1))


def _expected_vectors(img, base, loops, lanes):
    words = img.words()
    va = vector_addresses(base, loops)
    return np.stack([words[a * lanes:(a + 1) * lanes] for a in va]).astype(np.int64)


def _store_into(img, base, loops, lanes, vectors):
    words = img.words()
    for a, v in zip(vector_addresses(base, loops), vectors):
        words[a * lanes:(a + 1) * lanes] = v


# ------------------------------------------------------------------------------------------------

@cocotb.test()
async def random_traffic(dut):
    """Several requesters (2 raw HBM ports, 1 raw DDR port, an AGCU load, an AGCU store) with random
    backpressure; every read checked against the reference; final images checked; refresh ran."""
    args, seed, rng, host = _setup(dut)
    await host.start()
    if args.get("policy"):
        await host.set_policy("hbm", args["policy"])
        await host.set_policy("ddr", args["policy"])
    hbm, ddr = _random_images(host, rng)
    await host.load(hbm, ddr)
    clk, L = host.clk, host.lanes
    sh, sd = port_spec(host.mem.hbm), port_spec(host.mem.ddr)
    pause = args["pause"]
    drivers = [DRAMPortDriver(dut, f"hbm_test__{j}", clk, sh, 8, PauseGenerator(pause, seed + 10 * j),
                              PauseGenerator(pause, seed + 10 * j + 1)) for j in range(2)]
    drivers.append(DRAMPortDriver(dut, "ddr_test__0", clk, sd, 8, PauseGenerator(pause, seed + 30),
                                  PauseGenerator(pause, seed + 31)))
    n = args["n"]
    half = host.mem.hbm.accesses // 2
    hot_h = rng.integers(0, half, 24)
    hot_d = rng.integers(0, host.mem.ddr.accesses, 16)
    for j in range(2):
        drivers[j].submit(_random_requests(rng, n, 0, half, hot_h, sh.data_bytes // 4))
    drivers[2].submit(_random_requests(rng, n, 0, host.mem.ddr.accesses, hot_d, sd.data_bytes // 4))

    # AGCU 0 loads a tiled tensor from the upper half; AGCU 1 stores one there (disjoint).
    vpa = host.mem.hbm.access_bytes // (4 * L)
    base_ld = half * vpa + 64
    base_st = half * vpa + 4096
    loops = tensor_loops((16, 32), L, tile=(4, 16))
    ports = [AGCUPorts(host, i, seed + 40 + 2 * i, pause) for i in range(2)]
    await host.configure_agcu(0, agcu_program(host.agcu, L, host.mem.hbm, mode="load",
                                              base=base_ld, loops=loops))
    st_vectors = rng.integers(0, 1 << 32, (len(vector_addresses(0, loops)), L), dtype=np.uint64)
    await host.configure_agcu(1, agcu_program(host.agcu, L, host.mem.hbm, mode="store",
                                              base=base_st, loops=loops))
    ports[1].src.send(pack_lanes(v, 32) for v in st_vectors)
    await host.start_units(host.ids["agcu"][0], host.ids["agcu"][1])
    budget = 60 * n + 20_000
    await Combine(*[cocotb.start_soon(d.wait_idle(budget)) for d in drivers])
    await host.wait_agcu(0, budget)
    await host.wait_agcu(1, budget)
    errs = [e for d in drivers for e in d.errors]
    assert not errs, errs[:3]
    ref_h = ReferenceMemory(hbm.words(), sh.data_bytes // 4, host.mem.hbm.accesses)
    errs = ref_h.check([d.log for d in drivers[:2]])
    assert not errs, f"hbm: {len(errs)} bad reads: " + "; ".join(errs[:3])
    ref_d = ReferenceMemory(ddr.words(), sd.data_bytes // 4, host.mem.ddr.accesses)
    errs = ref_d.check([drivers[2].log])
    assert not errs, f"ddr: {len(errs)} bad reads: " + "; ".join(errs[:3])
    got = unpack_rows(ports[0].sink.items, 32, L)
    Scoreboard("agcu0 tiled load").check(_expected_vectors(hbm, base_ld, loops, L), got)

    out = await host.dump()
    exp_h = host.image("hbm")
    exp_h.bytes[:] = ref_h.mem.view(np.uint8)
    _store_into(exp_h, base_st, loops, L, st_vectors)
    assert out["hbm"] == exp_h, "hbm final image: " + out["hbm"].diff(exp_h)
    exp_d = host.image("ddr")
    exp_d.bytes[:] = ref_d.mem.view(np.uint8)
    assert out["ddr"] == exp_d, "ddr final image: " + out["ddr"].diff(exp_d)
    for tier in ("hbm", "ddr"):
        c, msg = await host.dram_status(tier)
        assert msg is None, msg
        assert c["refreshes"] > 0, f"{tier}: no refresh during {c['cycles']} cycles"
        dut._log.info(f"{tier}: {c}")


@cocotb.test()
async def agcu_patterns(dut):
    """AGCU loads and stores: tiled, strided, reversed, narrow bursts, one outstanding request,
    run-time base + control tokens, and read-after-write between two AGCUs."""
    args, seed, rng, host = _setup(dut)
    await host.start()
    hbm, ddr = _random_images(host, rng)
    await host.load(hbm, ddr)
    L = host.lanes
    pause = args["pause"]
    ports = [AGCUPorts(host, i, seed + 2 * i, pause) for i in range(2)]
    ref = hbm.copy()
    timeout = 40_000

    async def load(i, base, loops, **kw):
        await host.configure_agcu(i, agcu_program(host.agcu, L, host.mem.hbm, mode="load",
                                                  base=base, loops=loops, **kw))
        start = len(ports[i].sink.items)
        await host.start_units(host.ids["agcu"][i])
        await host.wait_agcu(i, timeout)
        return unpack_rows(ports[i].sink.items[start:], 32, L)

    async def store(i, base, loops, vectors, **kw):
        await host.configure_agcu(i, agcu_program(host.agcu, L, host.mem.hbm, mode="store",
                                                  base=base, loops=loops, **kw))
        ports[i].src.send(pack_lanes(v, 32) for v in vectors)
        await host.start_units(host.ids["agcu"][i])
        await host.wait_agcu(i, timeout)
        _store_into(ref, base, loops, L, vectors)

    cases = [
        ("tiled 32x64 / 8x16", 1000, tensor_loops((32, 64), L, tile=(8, 16)), {}),
        ("strided rows (every 3rd of 20)", 3000, tensor_loops((20, 16), L, strides=(48, 1)), {}),
        ("column of vectors, stride 7", 5000, [(40, 7)], {}),
        ("reversed rows", 7000, [(4, 1), (12, -16)], {}),
        ("burst 1, one outstanding", 8000, tensor_loops((8, 32), L), {"burst": 1, "outstanding": 1}),
        ("burst 2", 9000, tensor_loops((8, 32), L), {"burst": 2}),
    ]
    for k, (name, base, loops, kw) in enumerate(cases):
        got = await load(k % 2, base, loops, **kw)
        Scoreboard(f"load {name}").check(_expected_vectors(ref, base, loops, L), got)

    # Stores (partial accesses keep the neighbours' words: word masks), then read back by the
    # other AGCU without a dump in between (read after write through the DRAM).
    for k, (name, base, loops, kw) in enumerate(cases):
        n = len(vector_addresses(0, loops))
        vecs = rng.integers(0, 1 << 32, (n, L), dtype=np.uint64)
        await store(k % 2, base + 12000, loops, vecs, **kw)
        got = await load((k + 1) % 2, base + 12000, loops)
        Scoreboard(f"store then load {name}").check(vecs.astype(np.int64), got)

    # Run-time base (argument 0), start by a control token, completion token.
    loops = tensor_loops((4, 16), L)
    prog = agcu_program(host.agcu, L, host.mem.hbm, mode="load", base=16, loops=loops,
                        arg_base=True, ctrl_start=True, ctrl_done=True)
    await host.configure_agcu(0, prog, base_arg=25000)
    tok_src = StreamSource(dut, "agcu_ctrl_in__0", host.clk)
    tok_sink = StreamSink(dut, "agcu_ctrl_out__0", host.clk)
    start = len(ports[0].sink.items)
    tok_src.send([1])
    await host.wait_agcu(0, timeout)
    await with_timeout(tok_sink.wait_for(1), 1000, "ns")
    got = unpack_rows(ports[0].sink.items[start:], 32, L)
    Scoreboard("load with run-time base").check(_expected_vectors(ref, 25016, loops, L), got)

    out = await host.dump()
    assert out["hbm"] == ref, "hbm after stores: " + out["hbm"].diff(ref)


@cocotb.test()
async def dma_copies(dut):
    """DMA DDR → HBM (contiguous, 2-D strided) and HBM → DDR; the images are checked."""
    args, seed, rng, host = _setup(dut)
    await host.start()
    hbm, ddr = _random_images(host, rng)
    await host.load(hbm, ddr)
    mem = host.mem
    blk = mem.dma_block_bytes
    exp_h, exp_d = hbm.copy(), ddr.copy()
    jobs = [
        ("ddr->hbm", dict(src=0, dst=64 * blk, nbytes=96 * blk)),
        ("ddr->hbm", dict(src=200 * blk, dst=1000 * blk, rows=5, row_bytes=3 * blk,
                          src_pitch=7 * blk, dst_pitch=4 * blk)),
        ("hbm->ddr", dict(src=2000 * blk, dst=300 * blk, nbytes=40 * blk, outstanding=3)),
        ("hbm->ddr", dict(src=3000 * blk, dst=500 * blk, rows=3, row_bytes=2 * blk,
                          src_pitch=9 * blk, dst_pitch=2 * blk)),
    ]
    for direction, kw in jobs:
        prog = dma_program(mem, direction, **kw)
        c = await host.run_dma(prog)
        src, dst = (exp_d, exp_h) if direction == "ddr->hbm" else (exp_h, exp_d)
        rows = kw.get("rows", 1)
        rb = kw.get("row_bytes", kw.get("nbytes"))
        for r in range(rows):
            s = kw["src"] + r * kw.get("src_pitch", rb)
            d = kw["dst"] + r * kw.get("dst_pitch", rb)
            dst.write_bytes(d, src.read_bytes(s, rb))
        assert c["bytes"] == rows * rb, f"{direction}: counted {c['bytes']} bytes, moved {rows * rb}"
        dut._log.info(f"dma {direction} {rows}x{rb} bytes: {c}")
    out = await host.dump()
    assert out["hbm"] == exp_h, "hbm after DMA: " + out["hbm"].diff(exp_h)
    assert out["ddr"] == exp_d, "ddr after DMA: " + out["ddr"].diff(exp_d)


@cocotb.test()
async def traffic_selfcheck(dut):
    """HDL traffic generators write a pattern and read it back (checked in RTL) over many refresh
    intervals on both tiers, sequential, strided and random; the final images match the pattern."""
    args, seed, rng, host = _setup(dut)
    await host.start()
    mem = host.mem
    n_h = args["n"]
    span_h = (1 << (n_h - 1).bit_length()) - 1
    span_d = min(span_h, mem.ddr.accesses - 1) >> 1
    w = tg_config("sequential", "write", span=span_h, count=span_h + 1, seed=seed)
    wd = tg_config("sequential", "write", span=span_d, count=span_d + 1, seed=seed + 1)
    res = await host.run_traffic({0: w, 1: wd})
    reads = {
        "sequential": ("sequential", 1),
        "strided": ("strided", 5),
        "random": ("random", 1),
    }
    for name, (pat, stride) in reads.items():
        r = tg_config(pat, "read", span=span_h, stride=stride, count=n_h, seed=seed, check=True)
        rd = tg_config(pat, "read", span=span_d, stride=stride, count=n_h // 2, seed=seed + 1,
                       check=True)
        res = await host.run_traffic({0: r, 1: rd})
        for k, tier in ((0, "hbm"), (1, "ddr")):
            c = res[k]
            assert c["errors"] == 0, (f"{tier} {name} read-back: {c['errors']} wrong responses, "
                                      f"first at access {c['error_addr']:#x}")
            assert c["reads"] == c["issued"], f"{tier} {name}: {c['issued']} issued, {c['reads']} answered"
            dut._log.info(f"{tier} {name}: {c}")
    # Mixed random read/write traffic must not corrupt anything the pattern covers: writes use
    # the same pattern, so every check still holds.
    m = tg_config("random", "mixed", span=span_h, count=n_h, seed=seed, check=True, write_frac=100)
    c = (await host.run_traffic({0: m}))[0]
    assert c["errors"] == 0, f"hbm mixed: {c['errors']} wrong responses at {c['error_addr']:#x}"
    assert c["writes"] > 0 and c["reads"] > 0
    for tier in ("hbm", "ddr"):
        c, msg = await host.dram_status(tier)
        assert msg is None, msg
        p = getattr(mem, tier)
        expect = c["cycles"] // p.tREFI
        assert c["refreshes"] >= expect, (f"{tier}: {c['refreshes']} refreshes in {c['cycles']} "
                                          f"cycles, expected >= {expect}")
        dut._log.info(f"{tier} totals: {c}")
    out = await host.dump()
    for tier, span, s in (("hbm", span_h, seed), ("ddr", span_d, seed + 1)):
        p = getattr(mem, tier)
        aw = p.access_bytes // 4
        words = out[tier].words()
        for a in list(range(0, span + 1, max(1, span // 64))) + [span]:
            assert list(words[a * aw:(a + 1) * aw]) == pattern_words(a, s | 1, aw), \
                f"{tier}: access {a:#x} does not hold the written pattern"


@cocotb.test()
async def errors_and_watchdog(dut):
    """Out-of-range accesses are reported (DRAM status, AGCU status, `error`); a stalled AGCU is
    named by the watchdog."""
    args, seed, rng, host = _setup(dut)
    await host.start()
    L = host.lanes
    mem = host.mem
    sh = port_spec(mem.hbm)
    drv = DRAMPortDriver(dut, "hbm_test__1", host.clk, sh, 4)
    bad = mem.hbm.accesses + 5
    drv.submit([Request(bad, False)])
    await drv.wait_idle(1000)
    c, msg = await host.dram_status("hbm")
    assert msg == (f"hbm: 1 request(s) beyond the capacity; first: access index {bad:#x} from "
                   f"port 4 (hbm_test[1]); valid indices are 0..{mem.hbm.accesses - 1} "
                   f"({mem.hbm.capacity_bytes} bytes)"), msg
    assert int(dut.error.value) == 1

    # AGCU: a run-time base pushes the tensor past the end: the run stops with an error.
    from memory.agcu import AGCU_COUNTERS
    cap_v = mem.hbm.capacity_bytes // (4 * L)
    prog = agcu_program(host.agcu, L, mem.hbm, mode="load", base=0, loops=[(8, 1)], arg_base=True)
    await host.configure_agcu(0, prog, base_arg=cap_v - 3)
    sink = StreamSink(dut, "agcu_vec_out__0", host.clk)
    await host.start_units(host.ids["agcu"][0])
    await host.wait_agcu(0, 5000)
    c = await host.counters(host.ids["agcu"][0], AGCU_COUNTERS)
    assert c["status"] & 1 and c["error_addr"] == cap_v, c
    assert (int(dut.agcu_error.value) & 1) == 1
    assert len(sink.items) == 3, f"{len(sink.items)} vectors before the bad address, expected 3"

    # Watchdog: AGCU 1 loads with nobody accepting its output.
    prog = agcu_program(host.agcu, L, mem.hbm, mode="load", base=0, loops=[(64, 1)])
    await host.configure_agcu(1, prog)
    dut.agcu_vec_out__1__ready.value = 0
    await host.start_units(host.ids["agcu"][1])
    try:
        await host.wait_agcu(1, 2000)
    except AssertionError as e:
        msg = str(e)
    else:
        raise AssertionError("the watchdog did not fire")
    assert msg.startswith(f"watchdog: AGCU 1 (unit {host.ids['agcu'][1]}, load) not done after "
                          f"2000 cycles: 0 vectors moved"), msg
    assert "stalled on the fabric side" in msg

    # Watchdog of a raw DRAM port whose responses are never accepted (last: the stuck response
    # blocks its channel's response queue).
    drv2 = DRAMPortDriver(dut, "hbm_test__0", host.clk, sh, 4,
                          resp_pause=PauseGenerator(pattern=[True]))
    drv2.submit([Request(3, False)])
    try:
        await drv2.wait_idle(300)
    except AssertionError as e:
        msg = str(e)
    else:
        raise AssertionError("the port watchdog did not fire")
    assert msg == ("watchdog: DRAM port hbm_test__0: not idle after 300 cycles: 0 request(s) not "
                   "accepted, 1 read(s) unanswered (tags [0]), 0 write(s) not completed"), msg
