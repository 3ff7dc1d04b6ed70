"""The fabric top level: an R×C checkerboard of units, a switch at every grid corner, AGCU slots on
the top and bottom edges, one configuration ring — all from one :class:`hw.params.FabricParams`.

Structure (see :mod:`interconnect.floorplan` for positions, attachment and ids)::
    cfg_i ─► fabric stop (id 0) ─► unit 1 ─► ... ─► unit R·C ─► [AGCUs] ─► switches ─► cfg_o

* Units come from a **factory**: ``factory(site, params) -> component or None`` is called for every
  unit site (``site.kind`` ``"pcu"`` / ``"pmu"``) and every AGCU slot (``"agcu"``). A unit must have
  the standard ports (:func:`hw.net.unit_members`) with the floorplan's port counts and ring id
  ``site.id``. ``None`` for an AGCU slot makes it a **plain port pair** on the fabric top:
  ``agcu_vec_i[a]`` / ``agcu_scal_i[a]`` / ``agcu_ctrl_i[a]`` enter the fabric at slot ``a`` (the
  slot's ``vec_out[0]`` etc. in the floorplan), ``agcu_vec_o[a]`` ... leave it (the slot's
  ``vec_in[0]``). A real AGCU component's non-standard members (its memory side) appear on the top
  as ``agcu<a>_<member>``.
* :func:`default_factory` builds :class:`tiles.pcu.PCU` / :class:`tiles.pmu.PMU`;
  :func:`tb.testunit.test_factory` builds traffic test units instead (mesh tests).
* **Fabric stop** (id 0, kind ``FABRIC``): config ``done_mask`` (bit ``b`` ↔ the unit or AGCU slot
  with id ``b + 1``); performance counters ``PERF + 0`` = cycles since the last start until ``done``,
  ``PERF + 1`` = cycles since reset.
* ``done`` (top port) = ``done_mask != 0`` and every selected unit's ``done`` (a plain AGCU slot
  counts as done); simulations wait on this one port. ``busy`` = any unit busy.
* **Registered boundary**: the fabric's reset is ``rst`` delayed by one register (its logic runs in
  a local clock domain on the same clock), and ``cfg_i`` / ``cfg_o`` and every plain AGCU port pass
  a :class:`hw.stream.SkidBuffer` (one cycle each way; inputs are not ready during the registered
  reset). Nothing inside depends combinationally on a top-level input: short paths on FPGAs, and
  under Verilator the design is not re-evaluated when the testbench drives an input (about 1.5x
  faster simulation).
* **Global reset net**: the registered reset reaches nearly every register of the fabric (22k on
  the `fpga` preset). When the platform offers a global buffer (``platform.global_buffer(m, sig,
  name)``, see :func:`global_net`; the ECP5 boards' ``DCCA``), the fabric's clock-domain reset is
  driven through it, onto the clock network, instead of through the general routing.
"""

from __future__ import annotations

from amaranth import ClockDomain, ClockSignal, DomainRenamer, Module, ResetSignal, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hw.config import ConfigStore, UnitKind
from hw.generate import Generated
from hw.net import CONFIG_RING, NETWORKS, PORT_GROUPS, signature_of
from hw.params import ConfigError
from hw.stream import SkidBuffer
from interconnect.floorplan import FABRIC_ID, NET_SHORT, FabricMap
from interconnect.mesh import Mesh
from tiles.pcu import PCU
from tiles.pmu import PMU

__all__ = ["Fabric", "fabric_layout", "global_net", "default_factory", "generate",
           "FABRIC_COUNTERS"]

FABRIC_COUNTERS = ("run_cycles", "cycles")


def fabric_layout(fmap):
    """Config layout of the fabric stop: ``done_mask`` with one bit per unit / AGCU slot."""
    return data.StructLayout({"done_mask": unsigned(len(fmap.all_units))})


def default_factory(site, params):
    """A :class:`tiles.pcu.PCU` or :class:`tiles.pmu.PMU` per unit site; AGCU slots are plain
    ports (the chip top, :mod:`memory.chip`, puts AGCUs there)."""
    if site.kind == "agcu":
        return None
    if site.kind == "pcu":
        return PCU(params.pcu, site.id)
    return PMU(params.pmu, params.lanes, site.id)


def _count(component, group):
    mem = component.signature.members
    if group not in mem:
        return 0
    dims = mem[group].dimensions
    return dims[0] if dims else 1


def global_net(m, platform, sig, name):
    """``sig`` through the platform's global buffer, if it has one, else ``sig`` itself.

    A platform offers one as a ``global_buffer(m, sig, name) -> Signal`` attribute (the ECP5
    boards of :mod:`fpga.boards` set it: a ``DCCA`` onto the clock network). nextpnr-ecp5 puts
    only clocks on global nets by itself, so a reset with tens of thousands of loads would
    otherwise take general routing on every slice of the die. In simulation (``platform`` is
    ``None``) nothing changes: zero latency, no extra logic."""
    buf = getattr(platform, "global_buffer", None)
    return sig if buf is None else buf(m, sig, name)


class Fabric(wiring.Component):
    """The whole fabric (see the module docstring). ``params``: :class:`FabricParams`;
    ``factory``: unit factory (default :func:`default_factory`); ``unit_ports``: optional
    per-kind port-count overrides for the floorplan (``{kind: {group: n}}``)."""

    def __init__(self, params, factory=None, unit_ports=None):
        self.params = params
        self.fmap = fm = FabricMap(params, unit_ports)
        factory = factory or default_factory
        self.units = {}
        for site in fm.all_units:
            comp = factory(site, params)
            if comp is None:
                if site.kind != "agcu":
                    raise ConfigError(f"fabric {params.name!r}: the unit factory returned nothing "
                                      f"for {site.name}; every PCU/PMU site needs a unit")
                continue
            for group, want in site.ports:
                have = _count(comp, group)
                if have != want:
                    raise ConfigError(
                        f"fabric {params.name!r}: {site.name} ({type(comp).__name__}) has {have} "
                        f"{group} port(s), the floorplan expects {want} "
                        f"({site.kind}.{group} in the fabric parameters)")
            for must in ("cfg_i", "cfg_o", "done", "busy"):
                if must not in comp.signature.members:
                    raise ConfigError(f"fabric {params.name!r}: {site.name} "
                                      f"({type(comp).__name__}) has no {must!r} port; units follow "
                                      f"hw.net.unit_members")
            self.units[site.id] = comp
        self.plain_agcus = [a for a in fm.agcus if a.id not in self.units]
        if self.plain_agcus and len(self.plain_agcus) != len(fm.agcus):
            raise ConfigError(f"fabric {params.name!r}: the factory built some AGCU slots but not "
                              f"others; build all or none")
        if fm.agcus and not self.plain_agcus:
            self.fmap = fm = FabricMap(params, unit_ports, agcu_stops=True)
        self.layout = fabric_layout(fm)
        members = {"cfg_i": In(CONFIG_RING), "cfg_o": Out(CONFIG_RING), "done": Out(1),
                   "busy": Out(1)}
        if self.plain_agcus:
            n = len(self.plain_agcus)
            for net in NETWORKS:
                sig = signature_of(net, params.lanes)
                members[f"agcu_{NET_SHORT[net]}_i"] = In(sig).array(n)
                members[f"agcu_{NET_SHORT[net]}_o"] = Out(sig).array(n)
        standard = {g for gs in PORT_GROUPS.values() for g in gs} | {"cfg_i", "cfg_o", "busy", "done"}
        self._extra = []
        for a in fm.agcus:
            comp = self.units.get(a.id)
            if comp is None:
                continue
            for name, member in comp.signature.members.items():
                if name not in standard:
                    members[f"agcu{a.index}_{name}"] = member
                    self._extra.append((a, name))
        super().__init__(members)
        self.mesh = Mesh(fm)

    def elaborate(self, platform):
        m = Module()
        fm = self.fmap
        # Registered reset: everything inside runs in a local domain on the same clock whose reset
        # is `rst` delayed by one register, and every top-level stream passes a skid buffer, so no
        # logic inside depends combinationally on a top-level input (short paths on FPGAs; under
        # Verilator nothing is re-evaluated when the testbench changes an input). Inputs are held
        # off (ready low) while the registered reset is active.
        m.domains.fabric = cd = ClockDomain("fabric", local=True)
        in_reset = Signal(init=1)
        m.d.sync += in_reset.eq(ResetSignal("sync", allow_reset_less=True))
        m.d.comb += [cd.clk.eq(ClockSignal("sync")),
                     cd.rst.eq(global_net(m, platform, in_reset, "fabric_rst"))]
        fab = DomainRenamer("fabric")

        def enter(name, top):
            buf = SkidBuffer(top.payload.shape())
            m.submodules[name] = fab(buf)
            m.d.comb += [buf.i.payload.eq(top.payload), buf.i.valid.eq(top.valid & ~in_reset),
                         top.ready.eq(buf.i.ready & ~in_reset)]
            return buf.o

        def leave(name, top):
            buf = SkidBuffer(top.payload.shape())
            m.submodules[name] = fab(buf)
            wiring.connect(m, buf.o, wiring.flipped(top))
            return buf.i

        m.submodules.mesh = fab(self.mesh)
        mesh = self.mesh
        stop = ConfigStore(FABRIC_ID, UnitKind.FABRIC, self.layout, n_counters=len(FABRIC_COUNTERS))
        m.submodules.fabric_stop = fab(stop)
        for site in fm.all_units:
            if site.id in self.units:
                m.submodules[site.name] = fab(self.units[site.id])
        # Ring: fabric stop, units and AGCUs in id order, then the mesh (switches).
        chain = [stop] + [self.units[s.id] for s in fm.all_units if s.id in self.units] + [mesh]

        def ring(c, end):
            return getattr(c, {"i": "ring_i", "o": "ring_o"}[end]) if c is stop else \
                getattr(c, f"cfg_{end}")
        wiring.connect(m, enter("cfg_i_buf", self.cfg_i), ring(chain[0], "i"))
        for a, b in zip(chain, chain[1:]):
            wiring.connect(m, ring(a, "o"), ring(b, "i"))
        wiring.connect(m, ring(chain[-1], "o"), leave("cfg_o_buf", self.cfg_o))

        # Unit ports ↔ mesh.
        for site in fm.all_units:
            comp = self.units.get(site.id)
            for net in NETWORKS:
                gi, go = PORT_GROUPS[net]
                short = NET_SHORT[net]
                for k in range(site.count(gi)):
                    src = mesh.unit_port(site, gi, k)
                    if comp is not None:
                        wiring.connect(m, src, getattr(comp, gi)[k])
                    else:
                        a = self.plain_agcus.index(site)
                        wiring.connect(m, src, leave(f"agcu_{short}_o{a}_buf",
                                                     getattr(self, f"agcu_{short}_o")[a]))
                for k in range(site.count(go)):
                    dst = mesh.unit_port(site, go, k)
                    if comp is not None:
                        wiring.connect(m, getattr(comp, go)[k], dst)
                    else:
                        a = self.plain_agcus.index(site)
                        wiring.connect(m, enter(f"agcu_{short}_i{a}_buf",
                                                getattr(self, f"agcu_{short}_i")[a]), dst)
        for a, name in self._extra:
            outer = getattr(self, f"agcu{a.index}_{name}")
            inner = getattr(self.units[a.id], name)
            member = self.units[a.id].signature.members[name]
            if member.is_port:
                if member.flow == In:
                    m.d.comb += inner.eq(outer)
                else:
                    m.d.comb += outer.eq(inner)
            else:
                wiring.connect(m, wiring.flipped(outer), inner)

        # done / busy / run counters.
        mask = stop.config.done_mask
        dones = []
        busy = 0
        for b, site in enumerate(fm.all_units):
            comp = self.units.get(site.id)
            if comp is None:
                dones.append(~mask[b] | 1)
            else:
                dones.append(~mask[b] | comp.done)
                busy = busy | comp.busy
        all_done = Signal()
        m.d.comb += all_done.eq((mask != 0) & _and(dones))
        m.d.comb += [self.done.eq(all_done), self.busy.eq(busy), stop.done.eq(all_done),
                     stop.busy.eq(busy)]
        run_cycles = Signal(32)
        cycles = Signal(32)
        m.d.fabric += cycles.eq(cycles + 1)
        with m.If(stop.start):
            m.d.fabric += run_cycles.eq(0)
        with m.Elif(~all_done):
            m.d.fabric += run_cycles.eq(run_cycles + 1)
        m.d.comb += [stop.counters[0].eq(run_cycles), stop.counters[1].eq(cycles)]
        return m


def _and(xs):
    out = 1
    for x in xs:
        out = out & x
    return out


def generate(fabric_params):
    """``rdu gen CONFIG --unit fabric``: the whole fabric with :func:`default_factory`."""
    return Generated(Fabric(fabric_params), f"rdu_fabric_{fabric_params.name}")
