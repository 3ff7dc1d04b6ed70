"""The AGCU's DRAM port on board memory (fpga.memory.DRAMPortAdapter + OnChipMemory), Amaranth
simulator: random masked writes and reads from two ports at once under random backpressure on
the read responses; every read returns the last write's data (per-word masks honoured), every
write is acknowledged exactly once on ``wdone``."""

import numpy as np
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from fpga.memory import DRAMPortAdapter, OnChipMemory
from memory.dram import PortSpec
from tb import amsim
from tb.stream import PauseGenerator

W = 4                      # words per access (a 4-lane vector)
SPEC = PortSpec(4 * W)
ACCESSES = 16              # per port; port p owns accesses p·ACCESSES ...


class Rig(wiring.Component):
    def __init__(self, n):
        self.n = n
        super().__init__({"dram": In(SPEC.signature).array(n)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = OnChipMemory(2 * ACCESSES * W, ports=self.n)
        for i in range(self.n):
            ad = m.submodules[f"ad{i}"] = DRAMPortAdapter(SPEC)
            wiring.connect(m, wiring.flipped(self.dram[i]), ad.dram)
            wiring.connect(m, ad.mem_req, mem.req[i])
            wiring.connect(m, mem.rsp[i], ad.mem_rsp)
        return m


def _program(rng, port, n_ops):
    """Random requests for one port and the responses a correct memory gives (reads in order)."""
    model = np.zeros((ACCESSES, W), np.uint64)
    reqs, expect = [], []
    for tag in range(n_ops):
        a = int(rng.integers(ACCESSES))
        if rng.random() < 0.5:
            data = rng.integers(0, 1 << 32, W, dtype=np.uint64)
            mask = int(rng.integers(0, 1 << W))
            for w in range(W):
                if mask >> w & 1:
                    model[a, w] = data[w]
            word = sum(int(d) << (32 * k) for k, d in enumerate(data))
            reqs.append({"addr": port * ACCESSES + a, "write": 1, "tag": tag & 0xFF,
                         "mask": mask, "data": word})
        else:
            reqs.append({"addr": port * ACCESSES + a, "write": 0, "tag": tag & 0xFF, "mask": 0,
                         "data": 0})
            expect.append((tag & 0xFF, sum(int(d) << (32 * k) for k, d in enumerate(model[a]))))
    return reqs, expect


def _pack(r):
    return SPEC.req_layout.const(r).as_value().value


def test_adapter_random_traffic_two_ports():
    rng = np.random.default_rng(7)
    rig = Rig(2)
    progs = [_program(rng, p, 120) for p in range(2)]
    got = [[], []]
    wdone = [0, 0]
    testbenches = []
    for p in range(2):
        reqs, expect = progs[p]
        testbenches.append(amsim.source(rig.dram[p].req, [_pack(r) for r in reqs],
                                    PauseGenerator(0.3, 10 + p)))
        testbenches.append(amsim.sink(rig.dram[p].resp, len(expect), got[p],
                                  PauseGenerator(0.4, 20 + p)))

    writes = [sum(r["write"] for r in progs[p][0]) for p in range(2)]

    async def count_wdone(ctx):
        async for _, _, *w in ctx.tick().sample(*(rig.dram[p].wdone for p in range(2))):
            for p in range(2):
                wdone[p] += w[p]

    async def drain(ctx):
        # the run ends once every write is acknowledged (the watchdog fails it otherwise)
        while wdone != writes:
            await ctx.tick()
        await ctx.tick().repeat(20)          # and no stray acknowledgement follows

    amsim.run(rig, *testbenches, drain, processes=[count_wdone], deadline_cycles=20_000,
              what="DRAMPortAdapter")
    for p in range(2):
        reqs, expect = progs[p]
        tags = [(v & 0xFF, v >> 8) for v in got[p]]
        assert tags == expect, f"port {p}: read data differs from the last writes"
        assert wdone[p] == writes[p], f"port {p}: {wdone[p]} wdone pulses for {writes[p]} writes"


def test_board_params_replace_hbm_with_board_memory():
    import pytest

    from fpga.fabric_duc import board_params
    from hw.params import ConfigError, load
    p = board_params(load("small"), 16384)
    assert p.memory.hbm.capacity_bytes == 16384 * 4
    assert p.memory.hbm.access_bytes == 4 * p.lanes            # one vector per access
    assert p.pcu == load("small").pcu
    with pytest.raises(ConfigError, match=r"^board memory: mem_words = 3000: must be a power of "
                                          r"two >= 1024"):
        board_params(load("small"), 3000)


def test_kernel_ident_tells_configurations_apart():
    """The board's ident is a CRC of the whole configuration (not its name): op classes or memory
    size differing is enough to refuse a host's job, renaming is not."""
    from fpga.fabric_duc import board_params, kernel_ident
    from fpga.smoke import DESIGN_KERNEL, decode_ident
    from hw.params import load
    small = board_params(load("small"), 16384)
    idents = {kernel_ident(small),
              kernel_ident(small.replace(pcu=small.pcu.replace(op_classes=("int",)))),
              kernel_ident(small.replace(pcu=small.pcu.replace(tail=False))),
              kernel_ident(board_params(load("small"), 32768))}
    assert len(idents) == 4
    assert kernel_ident(small.replace(name="renamed")) == kernel_ident(small)
    assert all(decode_ident(i)["kind"] == DESIGN_KERNEL for i in idents)
