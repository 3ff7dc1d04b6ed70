"""cocotb tests of hw.smoke.MacPipeline, driven from Python every cycle (random backpressure)."""

import cocotb
import numpy as np
from cocotb.triggers import with_timeout

from hw.golden import mac_lanes
from tb import env
from tb.clock import reset, start_clock
from tb.stream import PauseGenerator, Scoreboard, StreamSink, StreamSource, pack_lanes, unpack_rows


@cocotb.test()
async def mac_random_backpressure(dut):
    args = env.decode()
    lanes, in_bits, acc_bits = args["lanes"], args["in_bits"], args["acc_bits"]
    seed = int(args.get("seed", 1))
    rng = np.random.default_rng(seed)
    clk = start_clock(dut)
    src = StreamSource(dut, "i", clk, PauseGenerator(args["pause_src"], seed + 1))
    snk = StreamSink(dut, "o", clk, PauseGenerator(args["pause_sink"], seed + 2))
    await reset(dut)
    lo, hi = -(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1
    for acc_len, vectors in args["groups"]:
        dut.acc_len.value = acc_len
        # extremes first (saturation corners), then random values
        a = rng.integers(lo, hi + 1, (vectors, lanes))
        b = rng.integers(lo, hi + 1, (vectors, lanes))
        a[0], b[0] = lo, lo
        if vectors > 1:
            a[1], b[1] = hi, lo
        start = len(snk.items)
        src.send(pack_lanes(list(a[t]) + list(b[t]), in_bits) for t in range(vectors))
        await with_timeout(snk.wait_for(start + vectors // acc_len), 200 * vectors + 1000, "ns")
        await with_timeout(src.wait_idle(), 1000, "ns")
        got = unpack_rows(snk.items[start:], acc_bits, lanes, signed=True)
        Scoreboard(f"mac acc_len={acc_len}").check(mac_lanes(a, b, acc_len, acc_bits), got)
