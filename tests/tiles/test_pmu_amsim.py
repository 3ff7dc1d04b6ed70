"""PMU under the Amaranth simulator: the address pipeline and bank mapping against their Python
twins, and a small whole-PMU scenario run (the fast level; the cocotb + Verilator tests in
``test_pmu.py`` cover every mode at the presets' sizes)."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth import Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.config import AddressMap, Packet, responses
from hw.params.pmu import PMUParams
from tb import amsim
from tb.pmu_scenarios import Builder, random_steps
from tb.stream import PauseGenerator, unpack_rows
from tiles import pmu_asm
from tiles.pmu import PMU
from tiles.pmu_addr import AddrGen, bank_map
from tiles.pmu_layout import Mode, Sync, pipe_layout
from tiles.pmu_model import map_address, pipe_vectors

SMALL = PMUParams(banks=4, words_per_bank=64, counters=3, args=2, buffers=3, scal_in=2,
                  vec_in=2, addr_stages=1)


# ------------------------------------------------------------------------------------------
# Address generator vs its twin
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", [
    dict(counters=[[3, 5], [2, -7], [2, 100]], bitrev=0, passes=2),
    dict(counters=[[8, 1]], bitrev=3, passes=1),
    dict(counters=[[4, "arg:1"], [1, 0], [3, 16]], bitrev=0, passes=3, base_arg=0),
    dict(counters=[[1, 0]], bitrev=0, passes=4),
])
def test_addrgen_matches_model(case):
    p = SMALL
    L = 4
    prog = {"mode": "strided",
            "read": {"counters": case["counters"], "passes": case["passes"], "base": 8,
                     "bitrev": case["bitrev"], "base_arg": case.get("base_arg")},
            "allow_conflicts": True}
    desc = pmu_asm.assemble(prog, p, L)
    rd = desc["read"]
    args = [40, 3]
    gen = AddrGen(p, L)
    expect = [(o, b, f, la, fi) for _, f, la, fi, o, b in
              pipe_vectors(p, L, rd, Sync.PASS, 2, 128, args)]
    got = []
    pause = PauseGenerator(0.4, 3)

    async def testbench(ctx):
        ctx.set(gen.cfg, pipe_layout(p, L).const(rd))
        ctx.set(gen.rotate, 1)
        ctx.set(gen.nbuf, 2)
        ctx.set(gen.region, 128)
        for i, a in enumerate(args):
            ctx.set(gen.args[i], a)
        ctx.set(gen.start, 1)
        await ctx.tick()
        ctx.set(gen.start, 0)
        for _ in range(400):
            ready = not pause()
            ctx.set(gen.o.ready, ready)
            _, _, valid, pl = await ctx.tick().sample(gen.o.valid, gen.o.payload)
            if ready and valid:
                got.append((pl.off, pl.base, pl.first, pl.last, pl.final))
            if not ctx.get(gen.busy) and not ctx.get(gen.o.valid):
                break
    amsim.run(gen, testbench, what="AddrGen")
    mask = (1 << p.addr_width) - 1
    assert [(o & mask, b & mask, int(f), int(la), int(fi)) for o, b, f, la, fi in got] == \
        [(o & mask, b & mask, int(f), int(la), int(fi)) for o, b, f, la, fi in expect]


# ------------------------------------------------------------------------------------------
# Bank mapping vs its twin (exhaustive over small addresses)
# ------------------------------------------------------------------------------------------

class _MapDut(wiring.Component):
    def __init__(self, p, write):
        self.p = p
        self.write = write
        super().__init__({"addr": In(unsigned(p.addr_width)), "lane": In(1), "mode": In(2),
                          "k": In(5), "s": In(5), "bank": Out(8), "off": Out(24), "act": Out(1)})

    def elaborate(self, platform):
        m = Module()
        for lane in range(2):
            b, o, a, _ = bank_map(m, self.p, 2, self.addr, lane, self.mode, self.k, self.s,
                                  self.write, f"l{lane}")
            with m.If(self.lane == lane):
                m.d.comb += [self.bank.eq(b), self.off.eq(o), self.act.eq(a)]
        return m


@pytest.mark.parametrize("mode,k,s", [(Mode.STRIDED, 0, 0), (Mode.STRIDED, 2, 0),
                                      (Mode.SKEWED, 0, 3), (Mode.SKEWED, 1, 5),
                                      (Mode.DUPLICATE, 0, 0)])
def test_bank_map_matches_model_and_is_a_bijection(mode, k, s):
    p = PMUParams(banks=4, words_per_bank=16)
    dut = _MapDut(p, write=False)
    seen = {}

    async def testbench(ctx):
        ctx.set(dut.mode, mode)
        ctx.set(dut.k, k)
        ctx.set(dut.s, s)
        for a in range(p.size_words + 8):
            for lane in range(2):
                ctx.set(dut.addr, a)
                ctx.set(dut.lane, lane)
                await ctx.delay(1e-9)
                got = (ctx.get(dut.bank), ctx.get(dut.off), ctx.get(dut.act))
                bank, off, act = map_address(p, a, lane, mode, k, s, False)
                assert got[2] == act, a
                if act:
                    assert got[:2] == (bank, off), (a, lane)
                    if lane == 0:
                        seen.setdefault((bank, off), []).append(a)
    sim = amsim.Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    if mode != Mode.DUPLICATE:
        assert len(seen) == p.size_words and all(len(v) == 1 for v in seen.values())


# ------------------------------------------------------------------------------------------
# The whole PMU on scenario steps (shared with the cocotb tests)
# ------------------------------------------------------------------------------------------

def run_steps(params, lanes, data, pause=0.3, seed=1, deadline=200_000):
    """Execute scenario steps (:class:`Builder.dump`) on the PMU under the Amaranth simulator.
    Returns ``[(reads, perf, tokens)]`` per step."""
    dut = PMU(params, lanes, unit_id=3)
    steps = data["steps"]
    names = data["perf_names"]
    streams = {}
    for st in steps:
        for name, items in st["streams"].items():
            streams.setdefault(name, []).extend(items)
    testbenches = []
    for i, (name, items) in enumerate(sorted(streams.items())):
        kind, j = name.split("__")
        port = getattr(dut, kind)[int(j)]
        testbenches.append(amsim.source(port, items, PauseGenerator(pause, seed + 10 + i)))
    reads = {}
    results = []
    n_expect = {}
    for st in steps:
        if st["read_port"] is not None:
            n_expect[st["read_port"]] = n_expect.get(st["read_port"], 0) + len(st["expect_reads"])
    for j, n in n_expect.items():
        reads[j] = []
        testbenches.append(amsim.sink(dut.vec_out[j], n, reads[j],
                                      PauseGenerator(pause, seed + 50 + j)))
    state = {"loops": {}, "tokens": {}, "finished": False}
    ring_out = []

    async def ring_sink(ctx):
        ctx.set(dut.cfg_o.ready, 1)
        while not state["finished"]:
            _, _, valid, pl = await ctx.tick().sample(dut.cfg_o.valid,
                                                      dut.cfg_o.payload.as_value())
            if valid:
                ring_out.append(pl)

    async def tokens(ctx):
        pend = {}
        while not state["finished"]:
            for j in range(params.ctrl_out):
                ctx.set(dut.ctrl_out[j].ready, 1)
            for j in range(params.ctrl_in):
                ctx.set(dut.ctrl_in[j].valid, pend.get(j, 0) > 0)
            sampled = await ctx.tick().sample(
                *[dut.ctrl_out[j].valid for j in range(params.ctrl_out)],
                *[dut.ctrl_out[j].payload for j in range(params.ctrl_out)],
                *[dut.ctrl_in[j].ready for j in range(params.ctrl_in)])
            vals = sampled[2:]
            nout = params.ctrl_out
            for j in range(params.ctrl_in):
                if pend.get(j, 0) > 0 and vals[2 * nout + j]:
                    pend[j] -= 1
            for j in range(nout):
                if vals[j]:
                    state["tokens"].setdefault(f"ctrl_out__{j}", []).append(int(vals[nout + j]))
                    loop = state["loops"].get(f"ctrl_out__{j}")
                    if loop:
                        k = int(loop.split("__")[1])
                        pend[k] = pend.get(k, 0) + 1

    async def send(ctx, packets):
        for pk in packets:
            ctx.set(dut.cfg_i.payload.as_value(), pk.encode())
            ctx.set(dut.cfg_i.valid, 1)
            while True:
                _, _, rdy = await ctx.tick().sample(dut.cfg_i.ready)
                if rdy:
                    break
        ctx.set(dut.cfg_i.valid, 0)

    async def control(ctx):
        for st in steps:
            state["loops"] = dict(st["loops"])
            state["tokens"] = {}
            pk = [Packet.write(3, AddressMap.CONFIG + w, v) for w, v in enumerate(st["config"])]
            pk += [Packet.write(3, AddressMap.ARG + i, v) for i, v in enumerate(st["args"])]
            pk += [Packet.write(3, AddressMap.CONTROL, AddressMap.CLEAR),
                   Packet.write(3, AddressMap.CONTROL, AddressMap.START)]
            await send(ctx, pk)
            await ctx.tick().repeat(3)
            await ctx.tick().until(dut.done)
            await ctx.tick().repeat(4)
            n0 = len(ring_out)
            rd = [Packet.read(3, AddressMap.PERF + i) for i in range(len(names))]
            await send(ctx, rd)
            while len(ring_out) < n0 + len(rd):
                await ctx.tick()
            vals = responses(rd, ring_out[n0:])
            results.append((dict(zip(names, vals)), dict(state["tokens"])))
        state["finished"] = True

    amsim.run(dut, control, ring_sink, tokens, *testbenches, deadline_cycles=deadline, what="PMU")
    out = []
    pos = {j: 0 for j in reads}
    for st, (perf, toks) in zip(steps, results):
        j = st["read_port"]
        n = len(st["expect_reads"])
        got = reads[j][pos[j]: pos[j] + n] if j is not None else []
        if j is not None:
            pos[j] += n
        out.append((got, perf, toks))
    return out


def check_steps(data, results, lanes):
    for st, (got, perf, toks) in zip(data["steps"], results):
        label = st["label"]
        exp = unpack_rows(st["expect_reads"], 32, lanes)
        act = unpack_rows(got, 32, lanes)
        assert act.shape == exp.shape, f"{label}: {len(got)} read vectors, expected {len(exp)}"
        if len(exp):
            bad = np.argwhere((act != exp).any(axis=1))
            assert not len(bad), (f"{label}: read vector {bad[0][0]} differs: expected "
                                  f"{exp[bad[0][0]].tolist()}, got {act[bad[0][0]].tolist()}")
        for k, v in st["expect_perf"].items():
            assert perf[k] == v, f"{label}: perf counter {k} = {perf[k]}, model says {v}"
        assert toks == st["expect_tokens"], f"{label}: tokens {toks}, expected {st['expect_tokens']}"
        if st["high_water_max"] is not None:
            assert 0 < perf["high_water"] <= st["high_water_max"] or not st["writes"], \
                f"{label}: high-water {perf['high_water']} outside 1..{st['high_water_max']}"


def test_pmu_small_random_scenarios():
    """Every mode on a 4-bank, 64-word PMU under the Amaranth simulator, with backpressure."""
    b = random_steps(Builder(SMALL, 4, seed=7))
    data = b.dump()
    check_steps(data, run_steps(SMALL, 4, data, pause=0.3, seed=7), 4)


def test_pmu_tokens_loopback():
    """N-buffering with the fill and free events taken from tokens: write-done tokens looped back
    as fill tokens, read-done tokens as free tokens (a producer / consumer acknowledging)."""
    b = Builder(SMALL, 4, seed=3)
    prog = {"mode": "strided", "buffers": 2, "region": 32,
            "write": {"counters": [[8, 4]], "passes": 4},
            "read": {"counters": [[8, 4]], "passes": 4},
            "fill_in": 0, "free_in": 1, "write_done_out": 0, "read_done_out": 1}
    b.step(prog, label="token loopback", loops=[(0, 0), (1, 1)])
    data = b.dump()
    res = run_steps(SMALL, 4, data, pause=0.2, seed=3)
    check_steps(data, res, 4)
    assert res[0][2]["ctrl_out__0"] == [0, 0, 0, 1]       # last token carries payload 1
