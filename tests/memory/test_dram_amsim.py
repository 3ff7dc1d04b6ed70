"""DRAM model under the Amaranth simulator: documented latencies and a write/read round trip."""

from amaranth.sim import Simulator

from hw.params import DRAMParams
from memory.dram import DRAM


def _run(p, script):
    dut = DRAM(p, 1, "hbm", backend="amaranth")
    port = dut.ports[0]
    log = []

    async def testbench(ctx):
        await ctx.tick().repeat(3)
        now = 3
        for addr, write, data in script:
            ctx.set(port.req.payload.addr, addr)
            ctx.set(port.req.payload.write, write)
            ctx.set(port.req.payload.tag, 7)
            ctx.set(port.req.payload.mask, -1)
            ctx.set(port.req.payload.data, data)
            ctx.set(port.req.valid, 1)
            ctx.set(port.resp.ready, 1)
            while True:
                _, _, ready = await ctx.tick().sample(port.req.ready)
                now += 1
                if ready:
                    break
            t0 = now
            ctx.set(port.req.valid, 0)
            for _ in range(200):
                _, _, rv, rd, wd = await ctx.tick().sample(port.resp.valid, port.resp.payload.data,
                                                           port.wdone)
                now += 1
                if (write and wd) or (not write and rv):
                    log.append((now - t0, rd))
                    break
            else:
                raise AssertionError(f"no completion for access {addr:#x} (write={write})")
            await ctx.tick().repeat(p.tRAS + p.tRP + 4)   # let the bank settle
            now += p.tRAS + p.tRP + 4

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return log


def test_latencies_and_round_trip():
    p = DRAMParams.from_dict("tiny").replace(tREFI=0)
    row_stride = p.channels * p.cols * p.banks      # same bank, next row
    script = [(5, 1, 0x1234_5678 << 64),             # write to a closed bank
              (5, 0, 0),                            # row hit
              (5 + row_stride, 0, 0),               # same bank, another row: conflict
              (5 + p.cols, 0, 0)]                   # another (closed) bank
    log = _run(p, script)
    BL = p.burst_length
    # cycles from the request handshake to the response (documented in memory.dram)
    assert log[1][0] == 1 + p.tCL + BL, log
    assert log[2][0] == 1 + p.tRP + p.tRCD + p.tCL + BL, log
    assert log[3][0] == 1 + p.tRCD + p.tCL + BL, log
    assert log[1][1] == 0x1234_5678 << 64           # read back what was written
    assert log[2][1] == 0 and log[3][1] == 0
