"""Traffic plans for fabrics of :class:`~tb.testunit.TestUnit`: random route sets with
sources, multicast, pass-through chains and host (AGCU-port) endpoints, plus what every sink must
observe. Used by the mesh tests and ``scripts/bench_interconnect.py``.

A :class:`Plan` is built from :class:`Flow` objects. A flow has one source (a test-unit output in
source mode, or a plain AGCU slot driven by the host) and one or more destinations (test-unit inputs
in sink mode, or AGCU slots read by the host); a destination may be reached through a test unit in
pass-through mode. :meth:`Plan.config` assembles the whole fabric configuration (switches from the
router, every test unit, the ``done`` mask); :meth:`Plan.expected` says what each sink's counters
must read.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hw.net import NETWORKS, PORT_GROUPS
from interconnect.fabric_config import FabricConfig
from interconnect.router import Endpoint, RouteError, Router

from .testunit import (
    MODE_PASS,
    MODE_SINK,
    MODE_SOURCE,
    checksum,
    config_layout,
    counter_names,
    payloads,
)

__all__ = ["Flow", "Plan", "random_plan", "unit_description"]


def unit_description(ports, settings):
    """Config description of a test unit with ``ports`` from ``settings``
    (``{(group, k): {"mode", "seed", "count", "pause", "src"}}``); other ports are off."""
    desc = {}
    for net in NETWORKS:
        for group, is_in in zip(PORT_GROUPS[net], (True, False)):
            n = ports.get(group, 0)
            if not n:
                continue
            items = []
            for k in range(n):
                s = {"mode": 0, "seed": 0, "count": 0, "pause": 0}
                if not is_in:
                    s["src"] = 0
                s.update(settings.get((group, k), {}))
                items.append(s)
            desc[group] = items
    return desc


@dataclasses.dataclass
class Flow:
    """One data stream: ``src`` (Endpoint of an output), ``hops`` — for each destination the chain
    of endpoints ``[dst]`` or ``[pass_in, pass_out, ..., dst]`` — ``seed``, ``count``, source
    ``pause`` (/256) and sink pauses."""

    src: Endpoint
    dests: list
    seed: int
    count: int
    pause: int = 0
    sink_pause: int = 0


class Plan:
    """A set of flows on a fabric of test units (see the module docstring)."""

    def __init__(self, fmap, flows, routing):
        self.fmap = fmap
        self.flows = flows
        self.routing = routing

    @property
    def connections(self):
        return connections_of(self.flows)

    def host_sources(self):
        """``[(network, slot index, payloads)]`` the host drives into AGCU slots."""
        out = []
        for f in self.flows:
            site = self.fmap.unit(f.src.unit)
            if site.kind == "agcu":
                out.append((f.src.network, site.index,
                            payloads(f.src.network, f.seed, f.count, self.fmap.lanes), f.pause))
        return out

    def host_sinks(self):
        """``[(network, slot index, expected payloads)]`` the host collects from AGCU slots."""
        out = []
        for f in self.flows:
            for chain in f.dests:
                site = self.fmap.unit(chain[-1].unit)
                if site.kind == "agcu":
                    out.append((f.src.network, site.index,
                                payloads(f.src.network, f.seed, f.count, self.fmap.lanes),
                                f.sink_pause))
        return out

    def unit_settings(self):
        """``{unit id: {(group, k): settings}}`` for every test unit taking part."""
        st = {}
        for f in self.flows:
            site = self.fmap.unit(f.src.unit)
            if site.kind != "agcu":
                st.setdefault(site.id, {})[(f.src.group, f.src.index)] = dict(
                    mode=MODE_SOURCE, seed=f.seed, count=f.count, pause=f.pause)
            for chain in f.dests:
                for a, b in zip(chain[0:-1:2], chain[1:-1:2]):   # pass-through pairs
                    st.setdefault(a.unit, {})[(a.group, a.index)] = dict(mode=MODE_PASS)
                    st.setdefault(b.unit, {})[(b.group, b.index)] = dict(
                        mode=MODE_PASS, src=a.index, count=f.count)
                d = chain[-1]
                if self.fmap.unit(d.unit).kind != "agcu":
                    st.setdefault(d.unit, {})[(d.group, d.index)] = dict(
                        mode=MODE_SINK, seed=f.seed, count=f.count, pause=f.sink_pause)
        return st

    def config(self, all_units=True):
        """The :class:`FabricConfig`: switches, every test unit (``all_units``: also the idle ones,
        switched off) and the ``done`` mask over the units taking part."""
        fc = FabricConfig(self.fmap).routing(self.routing)
        st = self.unit_settings()
        for site in self.fmap.units:
            if site.id in st or all_units:
                ports = dict(site.ports)
                fc.set(site.id, config_layout(ports), unit_description(ports, st.get(site.id, {})))
        fc.done_mask(sorted(st))
        return fc

    def expected(self):
        """``[(unit id, counter name, value, what)]``: every counter the run must end with
        (received / errors / checksum at sinks, sent at sources and pass-throughs)."""
        exp = []
        lanes = self.fmap.lanes
        for f in self.flows:
            net = f.src.network
            words = payloads(net, f.seed, f.count, lanes)
            site = self.fmap.unit(f.src.unit)
            if site.kind != "agcu":
                exp.append((site.id, f"{f.src.group}[{f.src.index}].sent", f.count, f"{f.src}"))
            for chain in f.dests:
                for b in chain[1:-1:2]:
                    exp.append((b.unit, f"{b.group}[{b.index}].sent", f.count, f"{b} (pass)"))
                d = chain[-1]
                if self.fmap.unit(d.unit).kind == "agcu":
                    continue
                pre = f"{d.group}[{d.index}]"
                what = f"{d} (from {f.src})"
                exp += [(d.unit, f"{pre}.received", f.count, what),
                        (d.unit, f"{pre}.errors", 0, what),
                        (d.unit, f"{pre}.overflow", 0, what),
                        (d.unit, f"{pre}.checksum", checksum(net, words, lanes), what)]
        return exp

    def counter_index(self, unit, name):
        site = self.fmap.unit(unit)
        return counter_names(dict(site.ports)).index(name)

    def describe_route(self, dst):
        for r in self.routing.routes:
            if r.connection.dst == dst:
                return str(r)
        return str(dst)


def connections_of(flows):
    conns = []
    for f in flows:
        for chain in f.dests:
            prev = f.src
            for a, b in zip(chain[0:-1:2], chain[1:-1:2]):
                conns.append((prev, a))
                prev = b
            conns.append((prev, chain[-1]))
    return conns


def _ports(fmap, is_input, kinds):
    out = {net: [] for net in NETWORKS}
    for site in fmap.all_units:
        if site.kind not in kinds:
            continue
        for net in NETWORKS:
            g = PORT_GROUPS[net][0 if is_input else 1]
            for k in range(site.count(g)):
                out[net].append(Endpoint(site.id, g, k, site.port_name(g, k)))
    return out


def random_plan(fmap, rng, *, flows=8, count=(20, 120), pause=(0, 160), multicast=0.3,
                pass_through=0.25, host=True, networks=NETWORKS, max_tries=None):
    """A random, routable :class:`Plan` with up to ``flows`` flows on fabric ``fmap`` (all units
    test units, AGCU slots plain ports driven by the host when ``host``). ``rng``: a numpy
    ``Generator``. Flows that do not fit (capacity) are dropped and others tried."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    kinds = ("pcu", "pmu", "agcu") if host else ("pcu", "pmu")
    outs = _ports(fmap, False, kinds)
    ins = _ports(fmap, True, kinds)
    used = set()
    chosen = []
    router = Router(fmap)
    routing = router.route([])
    tries = 0
    max_tries = max_tries or flows * 4
    while len(chosen) < flows and tries < max_tries:
        tries += 1
        net = str(rng.choice([n for n in networks if outs[n] and ins[n]]))
        free_out = [e for e in outs[net] if e not in used]
        free_in = [e for e in ins[net] if e not in used]
        if not free_out or not free_in:
            continue
        src = free_out[rng.integers(len(free_out))]
        n_dst = 1 if rng.random() >= multicast else int(rng.integers(2, 4))
        dests = []
        taken = {src}
        for _ in range(n_dst):
            cand = [e for e in free_in if e not in taken]
            if not cand:
                break
            d = cand[rng.integers(len(cand))]
            taken.add(d)
            chain = [d]
            if rng.random() < pass_through and fmap.unit(d.unit).kind != "agcu":
                # use d's unit as a pass-through to a further destination
                g_out = PORT_GROUPS[net][1]
                site = fmap.unit(d.unit)
                pouts = [Endpoint(site.id, g_out, k, site.port_name(g_out, k))
                         for k in range(site.count(g_out))]
                pouts = [e for e in pouts if e not in used and e not in taken and e != src]
                cand2 = [e for e in free_in if e not in taken]
                if pouts and cand2:
                    po = pouts[rng.integers(len(pouts))]
                    d2 = cand2[rng.integers(len(cand2))]
                    taken |= {po, d2}
                    chain = [d, po, d2]
            dests.append(chain)
        if not dests:
            continue
        lo, hi = count
        flow = Flow(src, dests, seed=int(rng.integers(1, 1 << 32)),
                    count=int(rng.integers(lo, hi + 1)),
                    pause=int(rng.integers(pause[0], pause[1] + 1)),
                    sink_pause=int(rng.integers(pause[0], pause[1] + 1)))
        try:
            routing = router.route(connections_of(chosen + [flow]))
        except RouteError:
            continue
        chosen.append(flow)
        used |= taken
    return Plan(fmap, chosen, routing)
