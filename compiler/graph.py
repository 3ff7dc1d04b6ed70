"""Dataflow graphs of logical units → placement → routes → one configuration phase.

A kernel mapping describes each phase as a :class:`Graph`: logical PCUs (a
:class:`tiles.pcu_asm.Program`), PMUs (a :mod:`tiles.pmu_asm` program), AGCU loads and stores (a
tensor walk in HBM), and connections between their ports. :func:`build_phase` then

1. **places** the logical units on the floorplan's sites (:func:`place`: AGCUs on edge slots, PCUs and
   PMUs on their checkerboard sites; greedy, each unit on the free site of its kind nearest — in
   Manhattan distance — to the units it talks to that are already placed);
2. **routes** every connection through the switches (:class:`interconnect.router.Router`:
   shortest paths, congestion-aware, per-link capacity; multicast when one output feeds several
   inputs);
3. **assembles** every unit's and switch's configuration into one :class:`hw.config.ConfigPackets`
   (:class:`interconnect.fabric_config.FabricConfig`: config words in ring order, a fence, argument
   registers, then start pulses) and selects the units whose ``done`` ends the phase.

Errors are one line naming the resource: not enough PCUs/PMUs/AGCUs for the graph (with the counts),
an unroutable connection (the router names it), an invalid program (the assembler names the field).
"""

from __future__ import annotations

import dataclasses

from hw.config import AddressMap, ConfigPackets, Op, Packet
from hw.params import ConfigError
from interconnect.fabric_config import FabricConfig
from interconnect.floorplan import FabricMap
from interconnect.router import Router
from memory.agcu import agcu_layout
from memory.chip import AGCU_UNIT_PORTS
from tiles import pcu_asm, pmu_asm
from tiles.pmu_layout import config_layout as pmu_layout

from .job import Phase

__all__ = ["MappingError", "Node", "Graph", "place", "build_phase", "fabric_map", "clear_before_start"]


class MappingError(ConfigError):
    """A kernel that cannot be mapped onto this fabric (one line naming the limit)."""


@dataclasses.dataclass
class Node:
    name: str
    kind: str                 # "pcu" | "pmu" | "agcu"
    program: object           # PCU Program, PMU program, or AGCU description
    args: dict = dataclasses.field(default_factory=dict)
    site: object = None       # set by place()


class Graph:
    """Logical units and their connections for one phase (see the module docstring)."""

    def __init__(self, name):
        self.name = name
        self.nodes = {}
        self.edges = []       # (src "unit.group[k]", dst "unit.group[k]")
        self.done = []
        self.useful_ops = 0
        self.ideal_cycles = 0
        self.pins = {}        # logical name -> site name (optional fixed placement)

    def _add(self, name, kind, program, args=None, pin=None):
        if name in self.nodes:
            raise MappingError(f"{self.name}: unit name {name!r} used twice")
        self.nodes[name] = Node(name, kind, program, dict(args or {}))
        if pin is not None:
            self.pins[name] = pin
        return name

    def pcu(self, name, program, args=None, pin=None):
        return self._add(name, "pcu", program, args, pin)

    def pmu(self, name, program, args=None, pin=None):
        return self._add(name, "pmu", program, args, pin)

    def agcu(self, name, description, args=None, pin=None):
        """``description``: an :func:`memory.agcu.agcu_program` result."""
        return self._add(name, "agcu", description, args, pin)

    def connect(self, src, dst):
        """``src``: ``"unit.vec_out[0]"`` (an output); ``dst``: ``"unit.vec_in[1]"`` (an input)."""
        for end in (src, dst):
            unit = end.split(".")[0]
            if unit not in self.nodes:
                raise MappingError(f"{self.name}: connection {src} -> {dst}: no unit {unit!r}")
        self.edges.append((src, dst))
        return self

    def finish_on(self, *names):
        """The phase is done when all these units are done."""
        self.done.extend(names)
        return self

    def neighbours(self, name):
        out = []
        for s, d in self.edges:
            su, du = s.split(".")[0], d.split(".")[0]
            if su == name:
                out.append(du)
            elif du == name:
                out.append(su)
        return out


def fabric_map(params):
    """The floorplan of the whole system (AGCUs as real ring stops without scalar ports)."""
    return FabricMap(params, AGCU_UNIT_PORTS, agcu_stops=True)


def _pos(site):
    return (site.row, site.col)


def place(graph, fmap):
    """Assign every node a free site of its kind (see the module docstring). Returns
    ``{node name: site}``; raises :class:`MappingError` naming the missing resource."""
    sites = {"pcu": [u for u in fmap.units if u.kind == "pcu"],
             "pmu": [u for u in fmap.units if u.kind == "pmu"],
             "agcu": list(fmap.agcus)}
    need = {k: sum(n.kind == k for n in graph.nodes.values()) for k in sites}
    for kind, n in need.items():
        if n > len(sites[kind]):
            raise MappingError(f"{graph.name}: needs {n} {kind.upper()}s, the fabric "
                               f"{fmap.params.name!r} has {len(sites[kind])} "
                               f"({fmap.rows}x{fmap.cols} grid, agcu.count = "
                               f"{fmap.params.agcu.count}); use a larger configuration or a "
                               f"smaller tile")
    free = {k: list(v) for k, v in sites.items()}
    placed = {}
    for name, pin in graph.pins.items():
        site = fmap.site(pin)
        node = graph.nodes[name]
        if site.kind != node.kind or site not in free[site.kind]:
            raise MappingError(f"{graph.name}: cannot pin {name} ({node.kind}) to {pin}")
        free[site.kind].remove(site)
        placed[name] = site
    order = list(graph.nodes)
    while len(placed) < len(order):
        # next: the unplaced node with most placed neighbours (AGCUs first at the start)
        def score(n):
            nb = [m for m in graph.neighbours(n) if m in placed]
            return (len(nb), graph.nodes[n].kind == "agcu", -order.index(n))
        name = max((n for n in order if n not in placed), key=score)
        node = graph.nodes[name]
        nbs = [placed[m] for m in graph.neighbours(name) if m in placed]

        def cost(site):
            r, c = _pos(site)
            return sum(abs(r - nr) + abs(c - nc) for nr, nc in map(_pos, nbs)), r, c
        site = min(free[node.kind], key=cost)
        free[node.kind].remove(site)
        placed[name] = site
    for name, site in placed.items():
        graph.nodes[name].site = site
    return placed


def _physical(end, placed):
    unit, port = end.split(".", 1)
    return f"{placed[unit].name}.{port}"


def build_phase(graph, params, fmap=None, timeout_cycles=None):
    """Place, route and assemble ``graph`` into a :class:`compiler.job.Phase`."""

    fmap = fmap or fabric_map(params)
    placed = place(graph, fmap)
    routing = Router(fmap).route([(_physical(s, placed), _physical(d, placed))
                                  for s, d in graph.edges])
    cfg = FabricConfig(fmap).routing(routing)
    args_bits = []
    for node in graph.nodes.values():
        site = node.site
        if node.kind == "pcu":
            asm = pcu_asm.assemble(params.pcu, node.program)
            cfg.set(site.id, asm.isa.layout, asm.config)
        elif node.kind == "pmu":
            cfg.set(site.id, pmu_layout(params.pmu, params.lanes),
                    pmu_asm.assemble(node.program, params.pmu, params.lanes))
        else:
            cfg.set(site.id, agcu_layout(params.agcu), node.program)
        for i, v in node.args.items():
            args_bits.append((site.id, i, v))
    cfg.done_mask([placed[n].id for n in graph.done])
    bits = cfg.load()
    for uid, i, v in args_bits:
        bits.arg(uid, i, int(v) & 0xFFFFFFFF)
    bits.extend(cfg.start([n.site.id for n in graph.nodes.values()]))
    units = {n.site.id: f"{n.name} ({n.site.name})" for n in graph.nodes.values()}
    return Phase(graph.name, bits, units=units, useful_ops=graph.useful_ops,
                 ideal_cycles=graph.ideal_cycles,
                 timeout_cycles=timeout_cycles or max(200_000, 20 * graph.ideal_cycles)), routing

def clear_before_start(phase):
    """Clear every unit's performance counters together with its start (per-phase counts)."""
    pk = []
    for pkt in phase.packets.packets:
        if (pkt.op == Op.WRITE and pkt.addr == AddressMap.CONTROL
                and pkt.data == AddressMap.START):
            pkt = Packet.write(pkt.unit, AddressMap.CONTROL, AddressMap.START | AddressMap.CLEAR)
        pk.append(pkt)
    phase.packets = ConfigPackets(pk)
    return phase
