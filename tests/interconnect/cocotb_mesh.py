"""cocotb tests of a fabric of test units: random route sets, reconfigured through the ring.

Parameters (tb.env): ``params`` (FabricParams mapping), ``seed``, ``scenarios``, ``flows``,
``count`` ([lo, hi]), ``pause`` ([lo, hi] in 1/256), ``ring_pause`` (probability).
"""

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, First, RisingEdge

from hw.config import AddressMap, ConfigPackets
from hw.params import FabricParams
from interconnect.floorplan import NET_SHORT, FabricMap
from interconnect.router import trace
from tb import env
from tb.clock import reset, start_clock
from tb.mesh_traffic import random_plan
from tb.ring import RingDriver
from tb.stream import PauseGenerator, Scoreboard, StreamSink, StreamSource


class MeshTestbench:
    """The fabric, its ring driver and host stream drivers on every plain AGCU slot port."""

    def __init__(self, dut, args):
        self.dut = dut
        self.args = args
        self.params = FabricParams.from_dict(args["params"])
        self.fm = FabricMap(self.params)
        self.seed = int(args["seed"])
        self.rng = np.random.default_rng(self.seed)
        self.clk = start_clock(dut)
        rp = float(args.get("ring_pause", 0.0))
        self.ring = RingDriver(dut, self.clk, pause=(PauseGenerator(rp, self.seed + 11),
                                                     PauseGenerator(rp, self.seed + 12)))
        self.src = {}
        self.snk = {}
        for a in self.fm.agcus:
            for net in ("vector", "scalar", "control"):
                s = NET_SHORT[net]
                self.src[(net, a.index)] = StreamSource(dut, f"agcu_{s}_i__{a.index}", self.clk)
                self.snk[(net, a.index)] = StreamSink(dut, f"agcu_{s}_o__{a.index}", self.clk)
        self.cycle = 0

    async def run_plan(self, plan, n, check_readback=False, timeout=None, sabotage=None):
        dut = self.dut
        fc = plan.config()
        await self.ring.run(fc.load())
        self.load_cycles = self.ring.cycles
        if check_readback:
            await self.readback(plan, fc)
        exp = plan.expected()
        if sabotage:
            exp = sabotage(plan, fc, exp)
            await self.ring.run(fc.load())
        host_base = {k: len(s.items) for k, s in self.snk.items()}
        for key, s in self.snk.items():
            s.pause = PauseGenerator(0.0)
        for net, slot, _, pause in plan.host_sinks():
            self.snk[(net, slot)].pause = PauseGenerator(pause / 256, int(self.rng.integers(1 << 30)))
        start = fc.start()
        start.read(self.fm.ring[-1], AddressMap.IDENT)   # fence: every unit has started
        await self.ring.run(start)
        for net, slot, words, pause in plan.host_sources():
            src = self.src[(net, slot)]
            src.pause = PauseGenerator(pause / 256, int(self.rng.integers(1 << 30)))
            src.send(words)
        from cocotb.utils import get_sim_time
        t0 = get_sim_time("ns")
        longest = max([f.count for f in plan.flows] + [1])
        limit = timeout or (longest * 12 + 2000)
        stalled = None
        if not int(dut.done.value):
            await First(RisingEdge(dut.done), ClockCycles(self.clk, limit))
            if not int(dut.done.value):
                stalled = f"fabric done not raised after {limit} cycles"
        if stalled is None:
            for net, slot, words, _ in plan.host_sinks():
                s = self.snk[(net, slot)]
                want = host_base[(net, slot)] + len(words)
                for _ in range(limit // 16):
                    if len(s.items) >= want:
                        break
                    await ClockCycles(self.clk, 16)
                if len(s.items) < want:
                    stalled = f"host sink agcu_{slot} ({net}) got {len(s.items) - host_base[(net, slot)]}" \
                              f" of {len(words)} words"
                    break
        self.run_cycles = int(get_sim_time("ns") - t0) // 10
        await ClockCycles(self.clk, 30)     # let any duplicated word show up
        if stalled:
            stalled += "; " + "; ".join(await self.stall_report(plan, fc))
        problems = await self.check_counters(plan, exp)
        for net, slot, words, _ in plan.host_sinks():
            got = self.snk[(net, slot)].items[host_base[(net, slot)]:]
            try:
                Scoreboard(f"host sink agcu_{slot}.{net}").check(words, got)
            except AssertionError as e:
                problems.append(str(e))
        for net, slot, words, _ in plan.host_sources():
            if self.src[(net, slot)].pending:
                problems.append(f"host source agcu_{slot} ({net}): {self.src[(net, slot)].pending} "
                                f"words never accepted")
        if stalled or problems:
            head = f"scenario {n} (seed {self.seed}): " + (f"watchdog: {stalled}; " if stalled else "")
            raise AssertionError(head + "; ".join(problems[:6]) +
                                 (f" (+{len(problems) - 6} more)" if len(problems) > 6 else ""))

    async def check_counters(self, plan, exp):
        bits = ConfigPackets()
        for uid, name, _, _ in exp:
            bits.read(uid, AddressMap.PERF + plan.counter_index(uid, name))
        data = await self.ring.run(bits)
        problems = []
        for (uid, name, want, what), got in zip(exp, data):
            if got != want:
                site = self.fm.unit(uid)
                group, rest = name.split("[", 1)
                route = self.route_to(plan, site, group, int(rest.split("]")[0]))
                problems.append(f"{site.name}.{name} = {got}, expected {want} ({what}) "
                                f"[route {route}]")
        return problems

    async def stall_report(self, plan, fc):
        """Every configured port of every test unit that is short of its configured count."""
        from tb.testunit import counter_names
        reads = []
        bits = ConfigPackets()
        for site in self.fm.units:
            if site.id not in fc.stops:
                continue
            _, desc = fc.stops[site.id]
            names = counter_names(dict(site.ports))
            for group, items in desc.items():
                for k, cfg in enumerate(items):
                    if cfg["mode"] == 0 or (group.endswith("_in") and cfg["mode"] != 1):
                        continue
                    name = f"{group}[{k}]." + ("received" if group.endswith("_in") else "sent")
                    reads.append((site, group, k, name, cfg["count"]))
                    bits.read(site.id, AddressMap.PERF + names.index(name))
        data = await self.ring.run(bits)
        out = []
        for (site, group, k, name, want), got in zip(reads, data):
            if got < want:
                out.append(f"stalled: {site.name}.{name} = {got} of {want} "
                           f"[route {self.route_to(plan, site, group, k)}]")
        return out or ["no test-unit port is short of its count"]

    def route_to(self, plan, site, group, k):
        for r in plan.routing.routes:
            e = r.connection.dst if group.endswith("_in") else r.connection.src
            if e.unit == site.id and e.group == group and e.index == k:
                return str(r)
        return "none"

    async def readback(self, plan, fc):
        data = await self.ring.run(fc.readback())
        fc.check(data)
        selects = fc.selects(data)
        got = trace(self.fm, selects)
        want = {}
        for s, d in plan.connections:
            want.setdefault(s, set()).add(d)
        assert got == want, f"switch configs read back route {got} instead of {want}"
        ids = await self.ring.run(fc.identity())
        fc.check_identity(ids)


async def _setup(dut):
    args = env.decode()
    mesh = MeshTestbench(dut, args)
    await reset(dut)
    return mesh, args


@cocotb.test()
async def random_route_sets(dut):
    """Many random route sets, each with random data and random backpressure, reconfigured through
    the ring in one simulation; the first one is read back and checked word by word."""
    mesh, args = await _setup(dut)
    for n in range(int(args["scenarios"])):
        plan = random_plan(mesh.fm, mesh.rng, flows=int(args["flows"]), count=tuple(args["count"]),
                           pause=tuple(args["pause"]))
        assert plan.flows, "no routable flow generated"
        await mesh.run_plan(plan, n, check_readback=(n == 0))
        dut._log.info(f"scenario {n}: {len(plan.flows)} flows, {len(plan.connections)} connections "
                      f"({sum(len(f.dests) > 1 for f in plan.flows)} multicast, "
                      f"{sum(len(c) > 1 for f in plan.flows for c in f.dests)} pass-through, "
                      f"{len(plan.host_sources())} host sources, {len(plan.host_sinks())} host "
                      f"sinks), {plan.routing.links_used} links; load {mesh.load_cycles} cycles, "
                      f"run {mesh.run_cycles} cycles")


@cocotb.test()
async def watchdog_names_the_stalled_stream(dut):
    """A sink told to expect more words than its source sends must stall the fabric's done; the
    watchdog then names that sink, its route and the counts."""
    mesh, args = await _setup(dut)
    plan = random_plan(mesh.fm, mesh.rng, flows=3, count=(10, 20), pause=(0, 0), host=False)
    victim = {}

    def sabotage(plan, fc, exp):
        from tb.mesh_traffic import unit_description
        from tb.testunit import config_layout
        st = plan.unit_settings()
        for uid, ports in st.items():
            for key, s in ports.items():
                if s.get("mode") == 1 and key[0].endswith("_in"):
                    victim["name"] = (f"{mesh.fm.unit(uid).name}.{key[0]}[{key[1]}].received = "
                                      f"{s['count']} of {s['count'] + 5}")
                    s["count"] += 5
                    site = mesh.fm.unit(uid)
                    fc.set(uid, config_layout(dict(site.ports)),
                           unit_description(dict(site.ports), ports))
                    return exp
        raise AssertionError("plan has no test-unit sink")
    try:
        await mesh.run_plan(plan, 0, timeout=600, sabotage=sabotage)
    except AssertionError as e:
        msg = str(e)
        assert "watchdog: fabric done not raised after 600 cycles" in msg, msg
        assert victim["name"] in msg and "route" in msg, msg
    else:
        raise AssertionError("the sabotaged plan completed: the watchdog cannot fire")
