"""cocotb: PMU → PCU → PMU through the mesh of the real `tiny` fabric (tiles.pcu / tiles.pmu).

Host → AGCU slot 0 → PMU A (write, then read) → PCU (``y = max((x·x + bias) >> 3, lo)``) →
PMU B (write, then read) → AGCU slot 1 → host; compared bit-exactly with :mod:`hw.numerics`.
Everything — switches, PMU and PCU programs, argument register, ``done`` mask — is loaded through
the configuration ring; the run is repeated with a new bias written as an argument only.
"""

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, First, RisingEdge

from hw import numerics as nx
from hw.config import AddressMap, ConfigPackets, UnitKind
from hw.params import load
from interconnect.fabric_config import FabricConfig
from interconnect.floorplan import FabricMap
from interconnect.router import Router
from tb import env
from tb.clock import reset, start_clock
from tb.ring import RingDriver
from tb.stream import PauseGenerator, Scoreboard, StreamSink, StreamSource, pack_rows, unpack_rows


def kernel(x, bias, lo):
    y = nx.int_add(nx.int_mul(x, x), bias)
    return np.maximum(nx.int_shr(y, 3), lo)


@cocotb.test()
async def pmu_pcu_pmu(dut):
    from tiles import pmu_asm
    from tiles.pcu_asm import Counter, Out, Program, Stage, assemble
    from tiles.pmu_layout import config_layout as pmu_layout

    args = env.decode()
    seed = int(args["seed"])
    rng = np.random.default_rng(seed)
    params = load(args.get("config", "tiny"))
    L = params.lanes
    fm = FabricMap(params)
    clk = start_clock(dut)
    ring = RingDriver(dut, clk, pause=(PauseGenerator(0.2, seed + 1), PauseGenerator(0.2, seed + 2)))
    src = StreamSource(dut, "agcu_vec_i__0", clk, PauseGenerator(0.3, seed + 3))
    snk = StreamSink(dut, "agcu_vec_o__1", clk, PauseGenerator(0.3, seed + 4))
    await reset(dut)

    pmu_a, pcu, pmu_b = fm.unit("pmu_0_1"), fm.unit("pcu_1_1"), fm.unit("pmu_1_0")
    routing = Router(fm).route([("agcu_0.vec_out[0]", "pmu_0_1.vec_in[0]"),
                                ("pmu_0_1.vec_out[0]", "pcu_1_1.vec_in[0]"),
                                ("pcu_1_1.vec_out[0]", "pmu_1_0.vec_in[0]"),
                                ("pmu_1_0.vec_out[0]", "agcu_1.vec_in[0]")])
    T, lo = int(args.get("vectors", 24)), -1000
    prog = Program(name="square", counters=[Counter(T)], vec_in={0: "every"},
                   stages=[Stage("muladd", a="vec0", b="vec0", c="arg0", dst="r0"),
                           Stage("shr", a="r0", b="const", const=3, dst="r1"),
                           Stage("max", a="r1", b="const", const=lo, dst="r0")],
                   vec_out={0: Out(reg="r0")})
    asm = assemble(params.pcu, prog)
    buf = {"mode": "strided", "buffers": 1,
           "write": {"port": 0, "counters": [[T, L]], "lane_stride": 1},
           "read": {"port": 0, "counters": [[T, L]], "lane_stride": 1}}
    fc = FabricConfig(fm).routing(routing)
    for u in (pmu_a, pmu_b):
        fc.set(u.id, pmu_layout(params.pmu, L), pmu_asm.assemble(buf, params.pmu, L))
    fc.set(pcu.id, asm.isa.layout, asm.config)
    fc.done_mask([pmu_a, pcu, pmu_b])
    load_bits = fc.load()
    await ring.run(load_bits)
    dut._log.info(f"configuration: {len(load_bits)} packets in {ring.cycles} cycles")
    # read back every configuration word and the identities
    fc.check(await ring.run(fc.readback()))
    fc.check_identity(await ring.run(fc.identity()),
                      {"pcu": UnitKind.PCU, "pmu": UnitKind.PMU})

    for run, bias in enumerate((int(rng.integers(-5000, 5000)), int(rng.integers(-5000, 5000)))):
        x = rng.integers(-3000, 3000, (T, L))
        base = len(snk.items)
        bits = ConfigPackets().arg(pcu.id, 0, bias & 0xFFFFFFFF).clear_counters(pcu.id)
        bits.extend(fc.start([pmu_a, pcu, pmu_b]))
        bits.read(fm.ring[-1], AddressMap.IDENT)           # fence: all started
        await ring.run(bits)
        src.send(pack_rows(x, 32))
        limit = 40 * T + 2000
        if not int(dut.done.value):
            await First(RisingEdge(dut.done), ClockCycles(clk, limit))
        for _ in range(limit // 16):
            if len(snk.items) >= base + T:
                break
            await ClockCycles(clk, 16)
        if not int(dut.done.value) or len(snk.items) < base + T:
            # watchdog: say which unit has not finished
            st = await ring.run(ConfigPackets().read(pmu_a.id, AddressMap.CONTROL)
                                .read(pcu.id, AddressMap.CONTROL).read(pmu_b.id, AddressMap.CONTROL))
            names = [u.name for u in (pmu_a, pcu, pmu_b)]
            busy = [n for n, s in zip(names, st) if not s & 2]
            raise AssertionError(f"run {run}: watchdog after {limit} cycles: {len(snk.items) - base} "
                                 f"of {T} vectors reached the host; not done: {', '.join(busy)} "
                                 f"(PMU A source pending: {src.pending})")
        await ClockCycles(clk, 20)
        got = unpack_rows(snk.items[base:], 32, L, signed=True)
        Scoreboard(f"run {run}: PMU -> PCU -> PMU").check(kernel(x, bias, lo), got)
        assert len(snk.items) == base + T, "extra vectors after the kernel"
        # the PCU's 'active' counter: exactly T compute iterations
        active = (await ring.run(ConfigPackets().read(pcu.id, AddressMap.PERF + 1)))[0]
        assert active == T, f"run {run}: PCU active = {active}, expected {T}"
