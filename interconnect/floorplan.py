"""The floorplan of a fabric: where every unit, AGCU slot and switch sits, its configuration-ring id,
and exactly which switch port each unit port is wired to.

Everything here is pure Python computed from :class:`hw.params.FabricParams`; the RTL generator
(:mod:`interconnect.fabric`, :mod:`interconnect.mesh`), the router (:mod:`interconnect.router`) and
the compiler all read the same :class:`FabricMap`, so they cannot disagree.

Grid
----
Units form an ``R × C`` checkerboard (``unit_kind(r, c)``: PCU where ``r + c`` is even). Switch
``(i, j)`` sits at the grid corner above-left of unit ``(i, j)``: there are ``(R+1) × (C+1)``
switches. Switch ``(i, j)`` has a neighbour on side ``N`` = ``(i-1, j)``, ``S`` = ``(i+1, j)``,
``W`` = ``(i, j-1)``, ``E`` = ``(i, j+1)`` when it exists; on each side and network there are
``links(network)`` links in each direction.

Unit attachment (the "corner round-robin" scheme)
-------------------------------------------------
Unit ``(r, c)`` touches four switches: ``NW = (r, c)``, ``NE = (r, c+1)``, ``SE = (r+1, c+1)``,
``SW = (r+1, c)``. On every network,

* input port ``k`` (``vec_in[k]``, ``scal_in[k]``, ``ctrl_in[k]``) is driven by corner
  ``IN_CORNERS[k % 4]`` = ``NW, NE, SE, SW`` (clockwise from north-west);
* output port ``k`` (``vec_out[k]`` ...) feeds corner ``OUT_CORNERS[k % 4]`` = ``SE, SW, NW, NE``
  (clockwise from south-east).

So a PCU with 2 vector inputs and 1 vector output reads ``vec_in[0]`` from its NW switch,
``vec_in[1]`` from its NE switch and writes ``vec_out[0]`` to its SE switch.

AGCU slots sit on the top (switch row 0) and bottom (switch row R) edges, alternating top, bottom,
top, ...; the slots of one edge are spread evenly over its switches (slot ``k`` of ``n`` on an edge
attaches to switch column ``round((k + 0.5)·(C+1)/n - 0.5)``). Every port of an AGCU slot attaches to
that one edge switch. A slot has ``AGCU_PORTS`` ports per network (1 vector, 1 scalar, 1 control in
each direction); until the AGCU exists it is a plain stream port pair on the fabric top.

The unit-side ports of a switch (``U0, U1, ...`` per network and direction) are the unit ports
attached to it, in order of (unit id, port index).

Configuration-ring ids
----------------------
====================  ======================================================================
id                    what
====================  ======================================================================
``0``                 the fabric's own stop (kind FABRIC): ``done`` mask, run-cycle counters
``1 + r·C + c``       unit ``(r, c)`` (row-major)
``1 + R·C + a``       AGCU slot ``a`` (only a real AGCU has a stop; a plain slot's id is unused)
``1 + R·C + A + i·(C+1) + j``  switch ``(i, j)`` (row-major), ``A`` = number of AGCU slots
====================  ======================================================================

The ring visits the stops in id order (fabric stop first). Names: units ``pcu_r_c`` /
``pmu_r_c``, AGCU slots ``agcu_a``, switches ``sw_i_j``.
"""

from __future__ import annotations

import dataclasses
import functools

from amaranth import unsigned
from amaranth.lib import data

from hw.net import NETWORKS, PORT_GROUPS

__all__ = ["SIDES", "OPPOSITE", "IN_CORNERS", "OUT_CORNERS", "AGCU_PORTS", "NET_SHORT",
           "SwitchSpec", "UnitSite", "SwitchSite", "FabricMap", "FABRIC_ID"]

SIDES = ("N", "E", "S", "W")
OPPOSITE = {"N": "S", "S": "N", "E": "W", "W": "E"}
STEP = {"N": (-1, 0), "S": (1, 0), "E": (0, 1), "W": (0, -1)}
IN_CORNERS = ("NW", "NE", "SE", "SW")
OUT_CORNERS = ("SE", "SW", "NW", "NE")
CORNER_OFFSET = {"NW": (0, 0), "NE": (0, 1), "SE": (1, 1), "SW": (1, 0)}
NET_SHORT = {"vector": "vec", "scalar": "scal", "control": "ctrl"}
#: Ports of an AGCU slot on each network, per direction.
AGCU_PORTS = 1
#: Ring id of the fabric's own configuration stop.
FABRIC_ID = 0


@dataclasses.dataclass(frozen=True)
class SwitchSpec:
    """The ports of one switch.

    ``lanes``: vector width; ``links``: ``{network: links per direction}``; ``sides``: the sides
    that have a neighbour; ``unit_in`` / ``unit_out``: ``{network: number}`` of unit-side inputs
    (unit outputs entering the switch) and outputs (driving unit inputs); ``buffer_depth``: words
    per output buffer; ``uturn``: whether an output may select an input on its own side.

    Port names (per network): ``N0``, ``N1`` ... for links, ``U0``, ``U1`` ... for unit ports.
    Inputs are ordered sides N, E, S, W (links 0..n-1 each) then unit ports; a select value is
    ``1 + index`` in that order, ``0`` = output off.
    """

    lanes: int
    links: tuple            # ((network, n), ...)
    sides: tuple
    unit_in: tuple          # ((network, n), ...)
    unit_out: tuple
    buffer_depth: int = 2
    uturn: bool = False

    def n_links(self, network):
        return dict(self.links)[network]

    def inputs(self, network):
        """Input port names of ``network`` in select order."""
        n = self.n_links(network)
        return tuple(f"{d}{k}" for d in self.sides for k in range(n)) + \
            tuple(f"U{k}" for k in range(dict(self.unit_in)[network]))

    def outputs(self, network):
        n = self.n_links(network)
        return tuple(f"{d}{k}" for d in self.sides for k in range(n)) + \
            tuple(f"U{k}" for k in range(dict(self.unit_out)[network]))

    def allowed(self, network, out):
        """Input names that output ``out`` can select."""
        return tuple(i for i in self.inputs(network)
                     if self.uturn or out[0] == "U" or i[0] != out[0])

    def select_value(self, network, out, inp):
        """Config value that makes output ``out`` select input ``inp`` (``None`` → 0, off)."""
        if inp is None:
            return 0
        ins = self.inputs(network)
        if inp not in ins:
            raise ValueError(f"switch has no {network} input {inp!r}; inputs: {', '.join(ins)}")
        if inp not in self.allowed(network, out):
            raise ValueError(f"switch {network} output {out!r} cannot select input {inp!r} "
                             f"(a U-turn; enable switch.uturn)")
        return 1 + ins.index(inp)

    def select_bits(self, network):
        return max(1, len(self.inputs(network)).bit_length())

    @functools.cached_property
    def layout(self):
        """The switch's configuration layout (``amaranth.lib.data``): per network a struct with one
        select field per output (``0`` = off, ``1 + i`` = input ``i``)."""
        fields = {}
        for net in NETWORKS:
            outs = self.outputs(net)
            if outs:
                bits = self.select_bits(net)
                fields[net] = data.StructLayout({o: unsigned(bits) for o in outs})
        return data.StructLayout(fields)

    def describe(self, selects):
        """A config description for :attr:`layout` from ``{network: {out: input name}}``."""
        out = {}
        for net in NETWORKS:
            outs = self.outputs(net)
            if not outs:
                continue
            chosen = selects.get(net, {})
            unknown = set(chosen) - set(outs)
            if unknown:
                raise ValueError(f"switch has no {net} output {sorted(unknown)[0]!r}; outputs: "
                                 f"{', '.join(outs)}")
            out[net] = {o: self.select_value(net, o, chosen.get(o)) for o in outs}
        return out

    def decode(self, description):
        """Inverse of :meth:`describe`: ``{network: {out: input name}}`` for outputs that are on.
        Out-of-range or U-turn selects (which the hardware treats as off) are reported as
        ``ValueError``."""
        res = {}
        for net, outs in description.items():
            ins = self.inputs(net)
            sel = {}
            for o, v in outs.items():
                if v == 0:
                    continue
                if v > len(ins) or ins[v - 1] not in self.allowed(net, o):
                    raise ValueError(f"switch {net} output {o}: select {v} is not a legal input")
                sel[o] = ins[v - 1]
            res[net] = sel
        return res


@dataclasses.dataclass(frozen=True)
class UnitSite:
    """A unit or AGCU slot in the floorplan.

    ``id``: ring id; ``name``; ``kind`` (``"pcu"``, ``"pmu"``, ``"agcu"``); ``row``/``col``: grid
    position (for an AGCU slot: ``row`` is ``-1`` (top) or ``R`` (bottom), ``col`` its switch
    column); ``ports``: ``{group: count}`` for the six groups of :data:`hw.net.PORT_GROUPS`;
    ``index``: position among units (row-major) or the AGCU slot number.
    """

    id: int
    name: str
    kind: str
    row: int
    col: int
    index: int
    ports: tuple            # ((group, count), ...)

    def count(self, group):
        return dict(self.ports).get(group, 0)

    def port_name(self, group, k):
        return f"{self.name}.{group}[{k}]"


@dataclasses.dataclass(frozen=True)
class SwitchSite:
    id: int
    name: str
    row: int
    col: int
    spec: SwitchSpec


@dataclasses.dataclass(frozen=True)
class Attachment:
    """Unit port ``(unit, group, k)`` is wired to ``switch``'s unit-side port ``port`` (``U<n>``)."""

    unit: int
    group: str
    index: int
    network: str
    switch: int
    port: str


def _group_network(group):
    for net, (gi, go) in PORT_GROUPS.items():
        if group in (gi, go):
            return net, group == gi
    raise KeyError(group)


class FabricMap:
    """Floorplan of the fabric described by ``params`` (see the module docstring).

    ``unit_ports``: optional ``{kind: {group: count}}`` overriding the port counts taken from the
    parameters (``params.pcu``, ``params.pmu``; AGCU slots have :data:`AGCU_PORTS` per group).
    """

    def __init__(self, params, unit_ports=None, agcu_stops=False):
        self.params = p = params
        #: whether the AGCU slots are real units with ring stops (plain port pairs have none)
        self.agcu_stops = agcu_stops
        self.rows, self.cols = R, C = p.rows, p.cols
        self.lanes = p.lanes
        over = unit_ports or {}
        ports_of = {}
        for kind, sec in (("pcu", p.pcu), ("pmu", p.pmu)):
            ports_of[kind] = {g: getattr(sec, g) for gs in PORT_GROUPS.values() for g in gs}
        ports_of["agcu"] = {g: AGCU_PORTS for gs in PORT_GROUPS.values() for g in gs}
        for kind, d in over.items():
            ports_of[kind] = {**ports_of[kind], **d}
        self.ports_of = ports_of

        # Units (row-major), then AGCU slots, then switches.
        self.units = []
        for r in range(R):
            for c in range(C):
                kind = p.unit_kind(r, c)
                self.units.append(UnitSite(1 + r * C + c, f"{kind}_{r}_{c}", kind, r, c,
                                           r * C + c, tuple(ports_of[kind].items())))
        n_agcu = p.agcu.count
        self.agcus = []
        sides = [("top" if a % 2 == 0 else "bottom") for a in range(n_agcu)]
        for a in range(n_agcu):
            side = sides[a]
            same = [b for b in range(n_agcu) if sides[b] == side]
            k, n = same.index(a), len(same)
            col = min(C, max(0, round((k + 0.5) * (C + 1) / n - 0.5)))
            row = -1 if side == "top" else R
            self.agcus.append(UnitSite(1 + R * C + a, f"agcu_{a}", "agcu", row, col, a,
                                       tuple(ports_of["agcu"].items())))
        base = 1 + R * C + n_agcu
        self.n_ids = base + (R + 1) * (C + 1)

        # Attachments.
        attach = {}
        per_switch = {}   # (i, j) -> {(network, dir): [(unit id, group, k)]}
        for u in self.units:
            for group, n in u.ports:
                net, is_in = _group_network(group)
                for k in range(n):
                    corner = (IN_CORNERS if is_in else OUT_CORNERS)[k % 4]
                    di, dj = CORNER_OFFSET[corner]
                    sw = (u.row + di, u.col + dj)
                    per_switch.setdefault(sw, {}).setdefault((net, is_in), []).append(
                        (u.id, group, k))
        for a in self.agcus:
            sw = (0 if a.row < 0 else R, a.col)
            for group, n in a.ports:
                net, is_in = _group_network(group)
                for k in range(n):
                    per_switch.setdefault(sw, {}).setdefault((net, is_in), []).append(
                        (a.id, group, k))

        links = tuple((net, p.switch.links(net)) for net in NETWORKS)
        self.switches = []
        self._switch_at = {}
        for i in range(R + 1):
            for j in range(C + 1):
                sides_ = tuple(d for d in SIDES
                               if 0 <= i + STEP[d][0] <= R and 0 <= j + STEP[d][1] <= C)
                lists = per_switch.get((i, j), {})
                unit_in = []
                unit_out = []
                sid = base + i * (C + 1) + j
                for net in NETWORKS:
                    # a unit *input* is driven by a switch *output*
                    outs = sorted(lists.get((net, True), []))
                    ins = sorted(lists.get((net, False), []))
                    unit_out.append((net, len(outs)))
                    unit_in.append((net, len(ins)))
                    for n_, (uid, g, k) in enumerate(outs):
                        attach[(uid, g, k)] = Attachment(uid, g, k, net, sid, f"U{n_}")
                    for n_, (uid, g, k) in enumerate(ins):
                        attach[(uid, g, k)] = Attachment(uid, g, k, net, sid, f"U{n_}")
                spec = SwitchSpec(p.lanes, links, sides_, tuple(unit_in), tuple(unit_out),
                                  p.switch.buffer_depth, p.switch.uturn)
                site = SwitchSite(sid, f"sw_{i}_{j}", i, j, spec)
                self.switches.append(site)
                self._switch_at[(i, j)] = site
        self.attach = attach
        self._by_id = {s.id: s for s in self.units + self.agcus + self.switches}
        self._by_name = {s.name: s for s in self.units + self.agcus + self.switches}
        self._by_port = {(a.switch, a.network, a.port, _group_network(a.group)[1]): a
                         for a in attach.values()}

    # ---- look-ups ----------------------------------------------------------------------

    @property
    def ring(self):
        """Ring ids in ring order: the fabric stop, then units, AGCU slots (if they are real
        units, :attr:`agcu_stops`) and switches."""
        agcus = self.agcus if self.agcu_stops else []
        return [FABRIC_ID] + [s.id for s in self.units + agcus + self.switches]

    def site(self, ref):
        """A unit, AGCU slot or switch by name, id or the site itself (``KeyError`` naming it)."""
        if isinstance(ref, (UnitSite, SwitchSite)):
            return ref
        if isinstance(ref, str) and ref in self._by_name:
            return self._by_name[ref]
        if isinstance(ref, int) and ref in self._by_id:
            return self._by_id[ref]
        raise KeyError(f"no unit or switch {ref!r} in the {self.rows}x{self.cols} fabric "
                       f"{self.params.name!r} (units are named like pcu_0_0, pmu_0_1, agcu_0; "
                       f"switches sw_0_0)")

    def unit(self, ref):
        s = self.site(ref)
        if not isinstance(s, UnitSite):
            raise KeyError(f"{s.name} is a switch, not a unit")
        return s

    def unit_at(self, row, col):
        return self.units[row * self.cols + col]

    def switch_at(self, row, col):
        return self._switch_at[(row, col)]

    def switch(self, ref):
        s = self.site(ref)
        if not isinstance(s, SwitchSite):
            raise KeyError(f"{s.name} is a unit, not a switch")
        return s

    def neighbour(self, switch, side):
        """The switch on ``side`` of ``switch`` (or ``None`` at the edge)."""
        s = self.switch(switch)
        di, dj = STEP[side]
        return self._switch_at.get((s.row + di, s.col + dj))

    def attachment(self, unit, group, k):
        u = self.unit(unit)
        if not 0 <= k < u.count(group):
            raise KeyError(f"{u.port_name(group, k)} does not exist")
        return self.attach[(u.id, group, k)]

    def attached_unit_port(self, switch, network, port, unit_input):
        """The unit port on a switch's unit-side port: ``unit_input`` = the switch *output* that
        drives a unit input (True) or the switch *input* fed by a unit output (False)."""
        return self._by_port[(self.switch(switch).id, network, port, unit_input)]

    @property
    def all_units(self):
        """Units then AGCU slots (the members the fabric's ``done`` mask indexes, in id order)."""
        return self.units + self.agcus

    def done_bit(self, unit):
        """Bit of the fabric ``done_mask`` for ``unit`` (= its id - 1)."""
        return self.unit(unit).id - 1

    def summary(self):
        """A multi-line text floorplan (for docs and ``rdu`` output)."""
        R, C = self.rows, self.cols
        lines = []
        top = [a for a in self.agcus if a.row < 0]
        bot = [a for a in self.agcus if a.row >= 0]

        def agcu_line(slots):
            cells = [" " * 9] * (C + 1)
            for a in slots:
                cells[a.col] = f"{a.name:^9}"
            return "".join(cells).rstrip()
        if top:
            lines.append(agcu_line(top))
        for i in range(R + 1):
            lines.append("  ".join(f"{self.switch_at(i, j).name:<7}" for j in range(C + 1)).rstrip())
            if i < R:
                lines.append("    " + "  ".join(f"{self.unit_at(i, j).name:^7}"
                                                for j in range(C)).rstrip())
        if bot:
            lines.append(agcu_line(bot))
        return "\n".join(lines)
