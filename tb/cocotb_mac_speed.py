"""cocotb module for bench_simulators: the MAC pipeline driven from Python every cycle."""

import json
import time

import cocotb
from cocotb.utils import get_sim_time

from tb import env
from tb.clock import reset, start_clock
from tb.stream import StreamSink, StreamSource, pack_lanes


@cocotb.test()
async def mac_driven_speed(dut):
    args = env.decode()
    lanes, n, acc_len = args["lanes"], args["vectors"], args["acc_len"]
    clk = start_clock(dut)
    src = StreamSource(dut, "i", clk)
    snk = StreamSink(dut, "o", clk)
    await reset(dut)
    dut.acc_len.value = acc_len
    words = [pack_lanes([t % 1000 + l for l in range(2 * lanes)], 16) for t in range(n)]
    c0 = get_sim_time("ns")
    t0 = time.perf_counter()
    src.send(words)
    await snk.wait_for(n // acc_len)
    wall = time.perf_counter() - t0
    cycles = int((get_sim_time("ns") - c0) // 10)
    with open(args["result"], "w") as f:
        json.dump({"cycles": cycles, "wall_s": wall}, f)
