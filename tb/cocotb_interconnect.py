"""cocotb side of ``scripts/bench_interconnect.py``: measurements on a fabric's RTL.

Jobs (``jobs`` in tb.env): ``config_load`` (a full-fabric configuration through the ring),
``latency`` (one word from an AGCU slot to another over routes of several lengths, timed at the
port handshakes), ``throughput`` (test-unit source → sink at full rate and under sink backpressure,
timed by the sink's first/last-word counters), ``speed`` (every unit streaming, Python asleep until
the fabric's ``done``). Results go to the JSON file ``result``.
"""

import json
import time

import cocotb
import numpy as np
from cocotb.triggers import First, RisingEdge, Timer

from hw.config import AddressMap, ConfigPackets
from hw.params import FabricParams, load
from interconnect.fabric_config import FabricConfig
from interconnect.floorplan import FabricMap
from interconnect.router import Endpoint, Router
from tb import env
from tb.clock import reset, start_clock
from tb.mesh_traffic import Flow, Plan, random_plan, unit_description
from tb.ring import RingDriver
from tb.testunit import config_layout, counter_names
from tiles.pcu_isa import Isa
from tiles.pmu_layout import config_layout as pmu_layout


def _params(args):
    p = args["params"]
    return load(p) if isinstance(p, str) else FabricParams.from_dict(p)


async def _fence_start(ring, fc, units):
    bits = fc.start(units)
    bits.read(fc.fmap.ring[-1], AddressMap.IDENT)
    await ring.run(bits)


async def config_load(dut, ring, fm, args, res):
    """Every stop configured: each unit with its full layout (test units: all ports off, or the
    real units' layouts given by ``unit_layouts``), every switch, the fabric stop."""
    fc = FabricConfig(fm).clear_switches()
    for site in fm.units:
        if args.get("real_units"):
            if site.kind == "pcu":
                layout = Isa(fm.params.pcu).layout
            else:
                layout = pmu_layout(fm.params.pmu, fm.lanes)
            fc.set(site.id, layout, 0)
        else:
            ports = dict(site.ports)
            fc.set(site.id, config_layout(ports), unit_description(ports, {}))
    bits = fc.load()
    await ring.run(bits)
    res["config_load"] = {"packets": len(bits), "cycles": ring.cycles, "stops": len(fm.ring),
                          "words": fc.words()}


async def latency(dut, ring, fm, args, res):
    """agcu_a.vec_out[0] → agcu_b.vec_in[0] for every pair; the word's cycles from the input
    handshake to the output handshake, with the output always ready."""
    out = []
    clk = dut.clk
    for a in fm.agcus:
        for b in fm.agcus:
            routing = Router(fm).route([(f"{a.name}.vec_out[0]", f"{b.name}.vec_in[0]")])
            fc = FabricConfig(fm).routing(routing)
            await ring.run(fc.load())
            vi = getattr(dut, f"agcu_vec_i__{a.index}__valid")
            pi = getattr(dut, f"agcu_vec_i__{a.index}__payload")
            ri = getattr(dut, f"agcu_vec_i__{a.index}__ready")
            vo = getattr(dut, f"agcu_vec_o__{b.index}__valid")
            ro = getattr(dut, f"agcu_vec_o__{b.index}__ready")
            ro.value = 1
            await RisingEdge(clk)
            vi.value = 1
            pi.value = 0x1234
            t = 0
            t_in = t_out = None
            while t_out is None and t < 200:
                await RisingEdge(clk)
                t += 1
                if t_in is None and int(ri.value):
                    t_in = t
                    vi.value = 0
                if int(vo.value):       # ready is high: the transfer happens at this edge
                    t_out = t
            ro.value = 0
            r = routing.routes[0]
            out.append({"from": a.name, "to": b.name, "links": r.links,
                        "switches": len(r.hops), "cycles": None if t_out is None else t_out - t_in})
    res["latency"] = out


async def throughput(dut, ring, fm, args, res):
    """pcu_0_0.vec_out[0] (and the scalar and control outputs) → the farthest unit's input, at full
    rate and with the sink ready half of the time."""
    n = int(args.get("words", 4000))
    src = fm.unit_at(0, 0)
    out = []
    for net, go, gi in (("vector", "vec_out", "vec_in"), ("scalar", "scal_out", "scal_in"),
                        ("control", "ctrl_out", "ctrl_in")):
        if not src.count(go):
            continue
        # the unit whose input port 0 is attached farthest from the source's output switch
        a = fm.switch(fm.attachment(src.id, go, 0).switch)

        def dist(u):
            b = fm.switch(fm.attachment(u.id, gi, 0).switch)
            return abs(a.row - b.row) + abs(a.col - b.col)
        far = max((u for u in fm.units if u.count(gi)), key=dist)
        for sink_pause in (0, 128):
            flow = Flow(_ep(src, go, 0), [[_ep(far, gi, 0)]],
                        seed=12345, count=n, pause=0, sink_pause=sink_pause)
            routing = Router(fm).route([(flow.src, flow.dests[0][0])])
            plan = Plan(fm, [flow], routing)
            fc = plan.config()
            await ring.run(fc.load())
            await _fence_start(ring, fc, [src, far])
            if not int(dut.done.value):
                await First(RisingEdge(dut.done), Timer((20 * n + 1000) * 10, "ns"))
            names = counter_names(dict(far.ports))
            bits = ConfigPackets()
            for c in ("received", "errors", "first", "last"):
                bits.read(far.id, AddressMap.PERF + names.index(f"{gi}[0].{c}"))
            got, errors, first, last = await ring.run(bits)
            assert got == n and errors == 0, f"throughput run lost data: {got}/{n}, {errors} errors"
            out.append({"network": net, "links": routing.routes[0].links, "words": n,
                        "sink_pause": sink_pause / 256,
                        "words_per_cycle": round((n - 1) / (last - first), 4)})
    res["throughput"] = out


def _ep(site, group, k):
    return Endpoint(site.id, group, k, site.port_name(group, k))


async def speed(dut, ring, fm, args, res):
    """Every test unit busy: a random routable plan with many flows of ``words`` words each; Python
    (including the ring driver) sleeps until ``done``."""
    rng = np.random.default_rng(int(args.get("seed", 1)))
    n = int(args.get("speed_words", 20000))
    plan = random_plan(fm, rng, flows=int(args.get("flows", 40)), count=(n, n),
                       pause=(0, int(args.get("pause", 0))), host=False, pass_through=0.0,
                       multicast=0.2, max_tries=400)
    fc = plan.config()
    await ring.run(fc.load())
    await _fence_start(ring, fc, sorted(plan.unit_settings()))
    ring.src.stop()
    ring.snk.stop()
    t0 = time.perf_counter()
    c0 = time.process_time()
    # a Timer, not ClockCycles (which wakes Python on every edge)
    await First(RisingEdge(dut.done), Timer(50 * n * 10, "ns"))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    ring.src.start()
    ring.snk.start()
    cycles = (await ring.run(ConfigPackets().read(0, AddressMap.PERF + 0)))[0]
    exp = plan.expected()
    bits = ConfigPackets()
    for uid, name, _, _ in exp:
        bits.read(uid, AddressMap.PERF + plan.counter_index(uid, name))
    got = await ring.run(bits)
    bad = [(uid, name, g, w) for (uid, name, w, _), g in zip(exp, got) if g != w]
    assert not bad, f"speed run: wrong counters {bad[:3]}"
    words = sum(f.count * len(f.dests) for f in plan.flows)
    res["speed"] = {"cycles": cycles, "wall_s": wall, "cycles_per_s": cycles / wall,
                    "cpu_s": cpu, "cycles_per_cpu_s": cycles / cpu,
                    "flows": len(plan.flows), "connections": len(plan.connections),
                    "links": plan.routing.links_used, "words_delivered": words,
                    "words_per_cycle": words / cycles}


JOBS = {"config_load": config_load, "latency": latency, "throughput": throughput, "speed": speed}


@cocotb.test()
async def measure(dut):
    args = env.decode()
    params = _params(args)
    fm = FabricMap(params)
    clk = start_clock(dut)
    ring = RingDriver(dut, clk)
    for a in fm.agcus:
        for s in ("vec", "scal", "ctrl"):
            for d, sig in (("i", "valid"), ("o", "ready")):
                h = getattr(dut, f"agcu_{s}_{d}__{a.index}__{sig}", None)
                if h is not None:
                    h.value = 0
    await reset(dut)
    res = {}
    for job in args["jobs"]:
        await JOBS[job](dut, ring, fm, args, res)
    with open(args["result"], "w") as f:
        json.dump(res, f)
