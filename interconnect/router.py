"""The router: logical connections between unit ports → switch paths → switch configurations.

Given a :class:`~interconnect.floorplan.FabricMap` (placed units) and a list of logical connections
``(unit, port) → (unit, port)``, :meth:`Router.route` finds, per network, a path of switches for
each connection and returns a :class:`Routing` whose :meth:`~Routing.switch_configs` /
:meth:`~Routing.packets` load the switches through the configuration ring.

Model
-----
* A connection starts at a unit **output** port (``vec_out``/``scal_out``/``ctrl_out``), which is
  wired to a unit-side input ``U<n>`` of one switch, and ends at a unit **input** port, wired to a
  unit-side output of one switch (:mod:`interconnect.floorplan` says which).
* Every switch output port is a resource of **capacity one signal**: a directional output ``E1`` is
  one physical link to the east neighbour, so ``links(network)`` connections fit between two
  neighbours per direction. Connections with the same source form one **net**: a multicast tree
  whose branches share links (the switch forks a word to several outputs).
* Paths are **shortest** (one cost unit per link) unless links are congested: negotiated congestion
  (PathFinder: present-sharing and history costs, rip-up and reroute every net each iteration) moves
  nets to longer paths until no link carries two nets.

Errors (:class:`RouteError`, a ``ValueError``; every message names the connection):

* :class:`PortError` — a unit or port that does not exist, a source that is not an output, a
  destination that is not an input, networks that differ, an input driven twice;
* :class:`NoPathError` — no path exists even on an empty fabric (e.g. a network with 0 links
  between switches and the two ports on different switches);
* :class:`CapacityError` — paths exist one by one, but not all within the link capacity; names the
  overused links and the connections competing for them.

Example::
    fm = FabricMap(hw.params.load("tiny"))
    routing = Router(fm).route([("pcu_0_0.vec_out[0]", "pmu_0_1.vec_in[0]"),
                                ("agcu_0.scal_out[0]", "pcu_1_1.scal_in[1]")])
    routing.routes[0].hops        # [Hop(switch='sw_1_1', inp='U0', out='N0'), ...]
    bits = routing.packets()    # hw.config.ConfigPackets writing every switch's select layout
"""

from __future__ import annotations

import dataclasses
import heapq
import re
from collections import defaultdict

from hw.config import ConfigPackets
from hw.net import NETWORKS, PORT_GROUPS

from .floorplan import OPPOSITE, FabricMap, UnitSite

__all__ = ["RouteError", "PortError", "NoPathError", "CapacityError", "Endpoint", "Connection",
           "Hop", "Route", "Routing", "Router", "trace", "parse_endpoint"]


class RouteError(ValueError):
    """A routing request that cannot be satisfied (one line naming the connection)."""


class PortError(RouteError):
    pass


class NoPathError(RouteError):
    pass


class CapacityError(RouteError):
    pass


_GROUP_NET = {g: (net, i == 0) for net, gs in PORT_GROUPS.items() for i, g in enumerate(gs)}
_PORT_RE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*\.\s*([a-z_]+)\s*\[\s*(\d+)\s*\]\s*$")


@dataclasses.dataclass(frozen=True, order=True)
class Endpoint:
    """A unit port: ``unit`` (ring id), ``group`` (``vec_out`` ...), ``index``; ``name`` for
    messages (``pcu_0_0.vec_out[0]``)."""

    unit: int
    group: str
    index: int
    name: str = dataclasses.field(compare=False, default="")

    @property
    def network(self):
        return _GROUP_NET[self.group][0]

    @property
    def is_input(self):
        return _GROUP_NET[self.group][1]

    def __str__(self):
        return self.name


def parse_endpoint(fmap, spec, what="port"):
    """An :class:`Endpoint` from ``"unit.group[k]"``, ``(unit, group, k)`` (unit = name, id or
    site) or an :class:`Endpoint`. Raises :class:`PortError` naming what is wrong."""
    if isinstance(spec, Endpoint):
        unit, group, k = spec.unit, spec.group, spec.index
    elif isinstance(spec, str):
        mt = _PORT_RE.match(spec)
        if not mt:
            raise PortError(f"{what} {spec!r}: write ports as 'unit.group[k]', e.g. "
                            f"'pcu_0_0.vec_out[0]'")
        unit, group, k = mt.group(1), mt.group(2), int(mt.group(3))
    elif isinstance(spec, tuple) and len(spec) == 3:
        unit, group, k = spec
    else:
        raise PortError(f"{what} {spec!r}: must be 'unit.group[k]', (unit, group, k) or an Endpoint")
    try:
        site = fmap.unit(unit.name if isinstance(unit, UnitSite) else unit)
    except KeyError as e:
        raise PortError(f"{what} {_show(unit, group, k)}: {e.args[0]}") from None
    if group not in _GROUP_NET:
        raise PortError(f"{what} {site.name}.{group}[{k}]: no port group {group!r}; groups: "
                        f"{', '.join(_GROUP_NET)}")
    n = site.count(group)
    if not (isinstance(k, int) and 0 <= k < n):
        have = f"{group}[0..{n - 1}]" if n else f"no {group} ports"
        raise PortError(f"{what} {site.name}.{group}[{k}] does not exist ({site.name} has {have})")
    return Endpoint(site.id, group, k, site.port_name(group, k))


def _show(unit, group, k):
    u = unit.name if isinstance(unit, UnitSite) else unit
    return f"{u}.{group}[{k}]"


@dataclasses.dataclass(frozen=True)
class Connection:
    """A logical connection from a unit output ``src`` to a unit input ``dst``."""

    src: Endpoint
    dst: Endpoint

    @property
    def network(self):
        return self.src.network

    def __str__(self):
        return f"{self.src} -> {self.dst}"


@dataclasses.dataclass(frozen=True)
class Hop:
    """In switch ``switch`` (name; ``switch_id`` its ring id), output ``out`` selects input
    ``inp``."""

    switch: str
    switch_id: int
    inp: str
    out: str


@dataclasses.dataclass(frozen=True)
class Route:
    """The path of one connection: the switches it crosses, source side first."""

    connection: Connection
    hops: tuple

    @property
    def links(self):
        """Switch-to-switch links traversed (the cycle latency is ``links + 1``)."""
        return len(self.hops) - 1

    def __str__(self):
        return f"{self.connection}: " + " -> ".join(f"{h.switch}[{h.inp}>{h.out}]"
                                                     for h in self.hops)


class Routing:
    """The result of :meth:`Router.route`: routes and per-switch selects."""

    def __init__(self, fmap, routes, selects, iterations):
        self.fmap = fmap
        self.routes = routes
        #: ``{switch id: {network: {output: input}}}`` for the outputs in use.
        self.selects = selects
        self.iterations = iterations

    def route_of(self, src, dst):
        s = parse_endpoint(self.fmap, src)
        d = parse_endpoint(self.fmap, dst)
        for r in self.routes:
            if r.connection.src == s and r.connection.dst == d:
                return r
        raise KeyError(f"no route {s} -> {d}")

    def switch_configs(self, all_switches=True):
        """``{switch id: config description}`` for :attr:`SwitchSpec.layout` (unused outputs off).
        ``all_switches``: include switches with nothing selected (to clear a previous routing)."""
        out = {}
        for s in self.fmap.switches:
            sel = self.selects.get(s.id, {})
            if sel or all_switches:
                out[s.id] = s.spec.describe(sel)
        return out

    def packets(self, all_switches=True):
        """A :class:`hw.config.ConfigPackets` writing every switch's configuration."""
        bits = ConfigPackets()
        for sid, desc in self.switch_configs(all_switches).items():
            bits.config(sid, self.fmap.switch(sid).spec.layout, desc)
        return bits

    @property
    def links_used(self):
        return sum(r.links for r in self.routes)

    def __str__(self):
        return "\n".join(str(r) for r in self.routes)


def trace(fmap, selects):
    """Follow switch selects (``{switch id: {network: {out: inp}}}``) from every unit output:
    returns ``{source Endpoint: set of destination Endpoints}`` — what the hardware will deliver.
    A select that leads back into a switch input already reached (a loop) raises ``ValueError``."""
    result = {}
    for site in fmap.all_units:
        for net in NETWORKS:
            go = PORT_GROUPS[net][1]
            for k in range(site.count(go)):
                src = Endpoint(site.id, go, k, site.port_name(go, k))
                a = fmap.attach[(site.id, go, k)]
                reached = set()
                seen = set()
                frontier = [(a.switch, a.port)]
                while frontier:
                    sid, inp = frontier.pop()
                    if (sid, inp) in seen:
                        raise ValueError(f"switch selects loop: {fmap.switch(sid).name} input "
                                         f"{inp} is reached twice from {src}")
                    seen.add((sid, inp))
                    sw = fmap.switch(sid)
                    for out, i in selects.get(sid, {}).get(net, {}).items():
                        if i != inp:
                            continue
                        if out[0] == "U":
                            at = fmap.attached_unit_port(sid, net, out, True)
                            u = fmap.unit(at.unit)
                            reached.add(Endpoint(u.id, at.group, at.index,
                                                 u.port_name(at.group, at.index)))
                        else:
                            nb = fmap.neighbour(sw, out[0])
                            frontier.append((nb.id, OPPOSITE[out[0]] + out[1:]))
                if reached:
                    result[src] = reached
    return result


class Router:
    """Routes connections on the fabric ``fmap`` (a :class:`FabricMap` or parameters).

    ``max_iterations``: PathFinder iterations before giving up with :class:`CapacityError`.
    """

    def __init__(self, fmap, max_iterations=40):
        self.fmap = fmap if isinstance(fmap, FabricMap) else FabricMap(fmap)
        self.max_iterations = max_iterations
        self._adj = {}
        self._pos = {s.id: (s.row, s.col) for s in self.fmap.switches}

    # ---- requests ----------------------------------------------------------------------

    def connections(self, requests):
        """Validate ``requests`` (pairs ``(src, dst)`` or :class:`Connection`) into connections."""
        conns = []
        driven = {}
        for n, req in enumerate(requests):
            if isinstance(req, Connection):
                src, dst = req.src, req.dst
            else:
                try:
                    src, dst = req
                except (TypeError, ValueError):
                    raise PortError(f"connection {n}: {req!r}: must be a (source, destination) "
                                    f"pair") from None
            label = f"connection {n} ({_label(src)} -> {_label(dst)})"
            s = parse_endpoint(self.fmap, src, f"{label}: source")
            d = parse_endpoint(self.fmap, dst, f"{label}: destination")
            label = f"connection {n} ({s} -> {d})"
            if s.is_input:
                raise PortError(f"{label}: the source {s} is an input; a connection starts at an "
                                f"output port (vec_out, scal_out, ctrl_out)")
            if not d.is_input:
                raise PortError(f"{label}: the destination {d} is an output; a connection ends at "
                                f"an input port (vec_in, scal_in, ctrl_in)")
            if s.network != d.network:
                raise PortError(f"{label}: the source is on the {s.network} network, the "
                                f"destination on the {d.network} network")
            if d in driven:
                if driven[d][1] == s:
                    raise PortError(f"{label}: requested twice (also connection {driven[d][0]})")
                raise PortError(f"{label}: {d} is already driven by {driven[d][1]} "
                                f"(connection {driven[d][0]}); an input has one source")
            driven[d] = (n, s)
            conns.append(Connection(s, d))
        return conns

    # ---- routing -----------------------------------------------------------------------

    def route(self, requests):
        """Route ``requests``; returns a :class:`Routing` or raises :class:`RouteError`."""
        fm = self.fmap
        conns = self.connections(requests)
        nets = {}     # (network, src) -> [connection index]
        for i, c in enumerate(conns):
            nets.setdefault(c.src, []).append(i)
        order = list(nets)
        for src in order:
            for i in nets[src]:
                self._check_reachable(conns[i], i)
        hist = defaultdict(float)
        occ = defaultdict(int)
        owner = {}        # net -> (paths {conn index: [(sid, inp, out)]}, resources set)
        pres = 0.5
        for it in range(1, self.max_iterations + 1):
            for src in order:
                if src in owner:
                    for r in owner[src][1]:
                        occ[r] -= 1
                paths, res = self._route_net(src, [conns[i] for i in nets[src]], nets[src],
                                             occ, hist, pres)
                for r in res:
                    occ[r] += 1
                owner[src] = (paths, res)
            over = [r for r, n in occ.items() if n > 1]
            if not over:
                break
            for r in over:
                hist[r] += 1.0
            pres *= 1.8
        else:
            raise self._capacity_error(conns, nets, owner, occ)
        routes = [None] * len(conns)
        selects = {}
        for src, (paths, _) in owner.items():
            for i, path in paths.items():
                hops = tuple(Hop(fm.switch(sid).name, sid, inp, out) for sid, inp, out in path)
                routes[i] = Route(conns[i], hops)
                for sid, inp, out in path:
                    sel = selects.setdefault(sid, {}).setdefault(conns[i].network, {})
                    assert sel.get(out, inp) == inp
                    sel[out] = inp
        return Routing(fm, routes, selects, it)

    def _check_reachable(self, c, i):
        fm = self.fmap
        a = fm.attach[(c.src.unit, c.src.group, c.src.index)]
        b = fm.attach[(c.dst.unit, c.dst.group, c.dst.index)]
        if a.switch != b.switch and fm.params.switch.links(c.network) == 0:
            key = {"vector": "vec_links", "scalar": "scal_links", "control": "ctrl_links"}
            raise NoPathError(
                f"connection {i} ({c}): no path: the {c.network} network has no links between "
                f"switches (switch.{key[c.network]} = 0) and {c.src} is on "
                f"{fm.switch(a.switch).name} while {c.dst} is on {fm.switch(b.switch).name}")

    def _route_net(self, src, conns, idxs, occ, hist, pres):
        """Route one net (all connections from ``src``) as a tree; returns
        ``({conn index: path}, resources)``; a path is ``[(switch, input, output), ...]``."""
        fm = self.fmap
        net = src.network
        a = fm.attach[(src.unit, src.group, src.index)]
        # tree: node (switch, input) -> path from the source to reach it
        tree = {(a.switch, a.port): []}
        used = set()
        paths = {}
        start_sw = fm.switch(a.switch)

        def dist_hint(c):
            b = fm.switch(fm.attach[(c.dst.unit, c.dst.group, c.dst.index)].switch)
            return abs(b.row - start_sw.row) + abs(b.col - start_sw.col)
        for i, c in sorted(zip(idxs, conns), key=lambda ic: (dist_hint(ic[1]), ic[0])):
            b = fm.attach[(c.dst.unit, c.dst.group, c.dst.index)]
            target_res = (b.switch, net, b.port)
            path = self._dijkstra(net, tree, b.switch, used, occ, hist, pres)
            if path is None:
                # Only possible if every way out is blocked by this net's own tree: report as
                # capacity (the empty-fabric reachability was checked before).
                raise CapacityError(f"connection {i} ({c}): no free path from its net's tree")
            node_path, final_node = path
            # node_path: [(switch, input, output), ...] from a tree node to the target switch
            full = list(tree[node_path[0][:2]] if node_path else tree[final_node])
            for sid, inp, out in node_path:
                full.append((sid, inp, out))
                used.add((sid, net, out))
                nb = fm.neighbour(fm.switch(sid), out[0])
                nxt = (nb.id, OPPOSITE[out[0]] + out[1:])
                tree.setdefault(nxt, list(full))
            full.append((b.switch, final_node[1], b.port))
            used.add(target_res)
            paths[i] = full
        return paths, used

    def _adjacency(self, net):
        """``{(switch, input): [(output, resource, next node), ...]}`` over switch-to-switch links
        (cached per network), and ``{switch id: (row, col)}``."""
        if net not in self._adj:
            fm = self.fmap
            adj = {}
            for sw in fm.switches:
                spec = sw.spec
                outs = [o for o in spec.outputs(net) if o[0] != "U"]
                for inp in spec.inputs(net):
                    lst = []
                    for out in outs:
                        if not spec.uturn and out[0] == inp[0]:
                            continue
                        nb = fm.neighbour(sw, out[0])
                        lst.append((out, (sw.id, net, out), (nb.id, OPPOSITE[out[0]] + out[1:])))
                    adj[(sw.id, inp)] = lst
            self._adj[net] = adj
        return self._adj[net]

    def _dijkstra(self, net, tree, target_sw, used, occ, hist, pres):
        """A* from every tree node (cost 0) to any input of ``target_sw``; link cost
        ``(1 + history) · (1 + pres · occupancy)`` >= 1, so the Manhattan distance is admissible."""
        adj = self._adjacency(net)
        pos = self._pos
        tr, tc = pos[target_sw]
        dist = {}
        prev = {}
        heap = []
        for node in tree:
            dist[node] = 0.0
            r, c = pos[node[0]]
            heapq.heappush(heap, (abs(r - tr) + abs(c - tc), 0.0, node))
        while heap:
            _, d, node = heapq.heappop(heap)
            if d > dist.get(node, float("inf")):
                continue
            if node[0] == target_sw:
                steps = []
                cur = node
                while cur in prev:
                    p, out = prev[cur]
                    steps.append((p[0], p[1], out))
                    cur = p
                steps.reverse()
                return steps, node
            for out, r, nxt in adj[node]:
                if r in used:
                    continue
                nd = d + (1.0 + hist.get(r, 0.0)) * (1.0 + pres * occ.get(r, 0))
                if nd < dist.get(nxt, float("inf")):
                    dist[nxt] = nd
                    prev[nxt] = (node, out)
                    rr, cc = pos[nxt[0]]
                    heapq.heappush(heap, (nd + abs(rr - tr) + abs(cc - tc), nd, nxt))
        return None

    def _capacity_error(self, conns, nets, owner, occ):
        fm = self.fmap
        users = defaultdict(list)
        for src, (paths, _) in owner.items():
            for i, path in paths.items():
                for sid, _inp, out in path:
                    users[(sid, conns[i].network, out)].append(i)
        over = sorted(r for r, n in occ.items() if n > 1)
        sid, net, out = over[0]
        sw = fm.switch(sid)
        if out[0] == "U":
            where = f"{sw.name} unit port {out}"
        else:
            nb = fm.neighbour(sw, out[0])
            where = (f"{sw.name} -> {nb.name} ({net}, {fm.params.switch.links(net)} link(s) per "
                     f"direction)")
        names = sorted(set(users[over[0]]))
        listed = ", ".join(f"connection {i} ({conns[i]})" for i in names[:4])
        return CapacityError(f"capacity exceeded: {len(over)} link(s) still overused after "
                             f"{self.max_iterations} iterations; e.g. {where} is needed by "
                             f"{listed}")


def _label(x):
    if isinstance(x, tuple) and len(x) == 3:
        u = x[0].name if isinstance(x[0], UnitSite) else x[0]
        return f"{u}.{x[1]}[{x[2]}]"
    return str(x)
