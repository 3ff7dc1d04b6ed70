"""The whole chip model: the fabric (PCUs, PMUs, switches, AGCUs on the edge) plus the memory system
(HBM and DDR models, DMA) on one configuration ring — what the kernel compiler targets.

Data path (docs/architecture.md §2)::
    host ─ cfg ring ─► fabric stop ─► units ─► AGCUs ─► switches ─► HBM ─► DDR ─► DMA ─► host
    HBM ◄─► AGCU ◄─► switch mesh ◄─► PMU ◄─► PCU ◄─► PMU ◄─► AGCU ◄─► HBM ◄─ DMA ─► DDR

* Every AGCU slot of the floorplan holds a real :class:`memory.agcu.AGCU` (its own ring stop,
  id from :mod:`interconnect.floorplan`); its DRAM port goes to the HBM model.
* The memory system's stops (HBM, DDR, DMA) follow the fabric's on the ring, with ids
  ``System.memory_ids`` starting right after the fabric's highest id.
* ``load`` / ``dump`` move whole backing stores in bulk (``$readmemh`` / ``$writememh``; see
  :mod:`memory.host`); ``done`` is the fabric's done (its ``done_mask`` selects the units);
  ``error`` flags an out-of-range DRAM or AGCU access.
"""

from __future__ import annotations

from amaranth import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.backdoor import VERILOG_SOURCE
from hw.generate import Generated
from hw.net import CONFIG_RING
from interconnect.fabric import Fabric, default_factory
from memory.agcu import AGCU
from memory.system import MemorySystem

__all__ = ["System", "generate", "agcu_fabric", "AGCU_UNIT_PORTS"]

#: AGCUs have one vector and one control port each way and no scalar ports.
AGCU_UNIT_PORTS = {"agcu": {"scal_in": 0, "scal_out": 0}}


def agcu_fabric(params, factory=None):
    """The fabric of ``params`` with a real :class:`memory.agcu.AGCU` in every edge slot (its
    DRAM geometry ``params.memory.hbm``); ``factory`` builds the PCU/PMU sites (default
    :func:`interconnect.fabric.default_factory`). Shared by :class:`System` (AGCUs on the HBM model)
    and
    :class:`fpga.fabric_duc.KernelSystem` (AGCUs on board memory)."""
    base = factory or default_factory

    def fac(site, p):
        if site.kind == "agcu":
            return AGCU(p.agcu, p.lanes, site.id, dram=p.memory.hbm)
        return base(site, p)

    return Fabric(params, fac, unit_ports=AGCU_UNIT_PORTS)


class System(wiring.Component):
    """Fabric + memory system for one :class:`hw.params.FabricParams`.

    ``factory``: unit factory for PCU/PMU sites (default
    :func:`interconnect.fabric.default_factory`);
    ``backend``: ``"verilator"`` (backdoor backing stores) or ``"amaranth"``.
    """

    def __init__(self, params, factory=None, backend="verilator"):
        self.params = params
        self.fabric = agcu_fabric(params, factory)
        self.fmap = self.fabric.fmap
        first_mem = max(self.fmap.ring) + 1
        self.memory = MemorySystem(params.memory, params.agcu, params.lanes, unit_base=first_mem,
                                   with_agcus=False, backend=backend)
        self.memory_ids = dict(self.memory.unit_ids)
        super().__init__({
            "cfg_i": In(CONFIG_RING),
            "cfg_o": Out(CONFIG_RING),
            "load": In(1),
            "dump": In(1),
            "done": Out(1),
            "busy": Out(1),
            "idle": Out(1),
            "error": Out(1),
            "dma_done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fabric = fab = self.fabric
        m.submodules.memory = mem = self.memory
        wiring.connect(m, wiring.flipped(self.cfg_i), fab.cfg_i)
        wiring.connect(m, fab.cfg_o, mem.cfg_i)
        wiring.connect(m, mem.cfg_o, wiring.flipped(self.cfg_o))
        for a in self.fmap.agcus:
            wiring.connect(m, getattr(fab, f"agcu{a.index}_dram"), mem.agcu_dram[a.index])
        agcu_errors = [getattr(fab, f"agcu{a.index}_error") for a in self.fmap.agcus]
        m.d.comb += [
            mem.load.eq(self.load), mem.dump.eq(self.dump),
            self.done.eq(fab.done), self.busy.eq(fab.busy), self.idle.eq(mem.idle),
            self.error.eq(Cat(mem.error, *agcu_errors).any()), self.dma_done.eq(mem.dma_done),
        ]
        return m


def generate(fabric_params):
    """The whole system (fabric + memory) of a configuration."""
    return Generated(System(fabric_params), f"rdu_system_{fabric_params.name}",
                     sources=(VERILOG_SOURCE,))
