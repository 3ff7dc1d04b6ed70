"""cocotb: a DRAM model alone, random traffic from every port against the reference memory."""

import os
from pathlib import Path

import numpy as np

import cocotb
from cocotb.triggers import ClockCycles, with_timeout

from hw.params import DRAMParams
from memory.dram import port_spec
from memory.host import DRAMImage
from memory.testbench import DRAMPortDriver, ReferenceMemory, Request, pulse
from tb import env
from tb.clock import reset, start_clock
from tb.stream import PauseGenerator


@cocotb.test()
async def dram_random_traffic(dut):
    args = env.decode()
    p = DRAMParams.from_dict(args["dram"])
    spec = port_spec(p)
    seed = int(args["seed"])
    rng = np.random.default_rng(seed)
    clk = start_clock(dut)
    d = Path(args["dir"])
    img = DRAMImage(p, args["name"])
    img.bytes[:] = rng.integers(0, 256, img.bytes.size, dtype=np.uint8)
    img.write_files(d)
    dut.load.value = 0
    dut.dump.value = 0
    await reset(dut)
    await pulse(dut, "load", clk)
    n_ports = args["ports"]
    drivers = [DRAMPortDriver(dut, f"ports__{i}", clk, spec, outstanding=args["outstanding"],
                              pause=PauseGenerator(args["pause"], seed + 10 * i),
                              resp_pause=PauseGenerator(args["pause"], seed + 10 * i + 1))
               for i in range(n_ports)]
    words = spec.data_bytes // 4
    hot = rng.integers(0, p.accesses, args["hot"])
    for drv in drivers:
        reqs = []
        for _ in range(args["n"]):
            a = int(rng.choice(hot)) if rng.random() < 0.6 else int(rng.integers(0, p.accesses))
            if rng.random() < 0.5:
                reqs.append(Request(a, True, list(rng.integers(0, 1 << 32, words, dtype=np.uint64)),
                                    list(rng.random(words) < 0.7)))
            else:
                reqs.append(Request(a, False))
        drv.submit(reqs)
    for drv in drivers:
        await with_timeout(drv.wait_idle(), 200 * args["n"] * n_ports + 20000, "ns")
    await ClockCycles(clk, 5)
    errs = [e for drv in drivers for e in drv.errors]
    assert not errs, errs[:5]
    ref = ReferenceMemory(img.words(), words, p.accesses)
    errs = ref.check([drv.log for drv in drivers])
    if errs:
        allr = sorted((r for drv in drivers for r in drv.log), key=lambda r: r.accepted)
        a0 = int(errs[0].split("access ")[1].split(" ")[0], 16)
        for r in allr:
            if r.addr == a0:
                dut._log.warning(f"{r.port} cyc {r.accepted} w={r.write} mask={r.mask} data={[hex(x) for x in (r.data or [])]} res={[hex(x) for x in (r.result or [])]}")
        dut._log.warning("init " + str([hex(x) for x in img.words()[a0*16:a0*16+16]]))
    assert not errs, f"{len(errs)} mismatches: " + "; ".join(errs[:5])
    await pulse(dut, "dump", clk)
    await ClockCycles(clk, 2)
    out = DRAMImage.from_dump(p, args["name"], d)
    exp = DRAMImage(p, args["name"], ref.mem.view(np.uint8))
    assert out == exp, "final image: " + out.diff(exp)
    dut._log.info(f"cycles {cocotb.utils.get_sim_time('ns') // 10}")
