"""The switch mesh: every switch of a floorplan, the links between them, and their ring stops.

:class:`Mesh` instantiates one :class:`~interconnect.switch.Switch` per grid corner of a
:class:`~interconnect.floorplan.FabricMap`, joins neighbouring switches with ``links(network)``
streams in each direction and chains their configuration stops in id order (``cfg_i`` → switches →
``cfg_o``). Its other ports are the unit ports, named after the unit::

    <unit>_vec_in   Out(vector).array(n)   drives the unit's vec_in[k]  (from its attached switch)
    <unit>_vec_out  In(vector).array(n)    takes the unit's vec_out[k]  (into its attached switch)
    ... likewise scal_in / scal_out / ctrl_in / ctrl_out

so the fabric connects ``mesh.pcu_0_0_vec_in[k]`` to ``pcu_0_0.vec_in[k]`` and so on. Latency: one
cycle per switch traversed (a route over ``h`` links crosses ``h + 1`` switches).
"""

from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.net import CONFIG_RING, NETWORKS, PORT_GROUPS, signature_of

from .floorplan import OPPOSITE, FabricMap
from .switch import Switch

__all__ = ["Mesh"]


class Mesh(wiring.Component):
    """All switches of ``fmap`` (a :class:`FabricMap`) with their links (see the module docstring)."""

    def __init__(self, fmap: FabricMap):
        self.fmap = fmap
        members = {"cfg_i": In(CONFIG_RING), "cfg_o": Out(CONFIG_RING)}
        for site in fmap.all_units:
            for net in NETWORKS:
                sig = signature_of(net, fmap.lanes)
                gi, go = PORT_GROUPS[net]
                if site.count(gi):
                    members[f"{site.name}_{gi}"] = Out(sig).array(site.count(gi))
                if site.count(go):
                    members[f"{site.name}_{go}"] = In(sig).array(site.count(go))
        super().__init__(members)
        self.switches = {s.id: Switch(s.spec, s.id) for s in fmap.switches}

    def unit_port(self, site, group, k):
        return getattr(self, f"{site.name}_{group}")[k]

    def elaborate(self, platform):
        m = Module()
        fm = self.fmap
        for s in fm.switches:
            m.submodules[s.name] = self.switches[s.id]
        # Configuration ring in id order.
        chain = [self.switches[s.id] for s in fm.switches]
        wiring.connect(m, wiring.flipped(self.cfg_i), chain[0].cfg_i)
        for a, b in zip(chain, chain[1:]):
            wiring.connect(m, a.cfg_o, b.cfg_i)
        wiring.connect(m, chain[-1].cfg_o, wiring.flipped(self.cfg_o))
        # Links: each switch's output on side d, link k → the neighbour's input on the opposite side.
        for s in fm.switches:
            sw = self.switches[s.id]
            for d in s.spec.sides:
                nb = fm.neighbour(s, d)
                for net in NETWORKS:
                    for k in range(s.spec.n_links(net)):
                        wiring.connect(m, sw.port(net, f"{d}{k}", False),
                                       self.switches[nb.id].port(net, f"{OPPOSITE[d]}{k}", True))
        # Unit ports.
        for site in fm.all_units:
            for net in NETWORKS:
                gi, go = PORT_GROUPS[net]
                for group, is_unit_input in ((gi, True), (go, False)):
                    for k in range(site.count(group)):
                        a = fm.attach[(site.id, group, k)]
                        sw = self.switches[a.switch]
                        ours = self.unit_port(site, group, k)
                        if is_unit_input:   # switch output U<n> drives the unit input
                            wiring.connect(m, sw.port(net, a.port, False), wiring.flipped(ours))
                        else:
                            wiring.connect(m, wiring.flipped(ours), sw.port(net, a.port, True))
        return m
