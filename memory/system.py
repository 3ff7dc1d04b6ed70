"""The memory system: HBM model + DDR model + DMA + AGCUs, on one configuration ring.

::
    fabric edge                      MemorySystem
    agcu_vec_in[i] ──► AGCU i ──┐
    agcu_vec_out[i] ◄──         ├─ port i ──► HBM (hbm_ch<c> stores) ◄── port ── DMA ── port ──► DDR
    (ctrl tokens too)           │                      ▲                                       ▲
                                │              hbm_test[j] / traffic gens      ddr_test[j] / traffic gens
    cfg_i ──► [HBM] ► [DDR] ► [DMA] ► [AGCU 0..n-1] ► [HBM TGs] ► [DDR TGs] ──► cfg_o

Unit ids on the ring are ``unit_base + k`` in that order (:attr:`MemorySystem.unit_ids`).
HBM ports, in order: the AGCUs, the DMA, ``hbm_test`` ports, HBM traffic generators; DDR ports:
the DMA, ``ddr_test`` ports, DDR traffic generators.

Fabric integration: either keep the AGCUs inside (default; connect ``agcu_vec_in/out[i]`` and
``agcu_ctrl_in/out[i]`` to the edge switch of slot ``i``) or build the system with
``with_agcus=False`` and instantiate :class:`memory.agcu.AGCU` in the fabric's edge slots (each on
the fabric's ring with its own unit id), connecting ``agcu.dram`` to ``agcu_dram[i]`` here.

``load`` / ``dump`` pulse every backing store (``hbm_ch<c>``, ``ddr_ch<c>``; see
:mod:`memory.host`); ``idle``: both DRAMs have nothing queued or in flight; ``error``: an
out-of-range access in a DRAM or an AGCU.
"""

from __future__ import annotations

from amaranth import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.backdoor import VERILOG_SOURCE
from hw.generate import Generated
from hw.net import CONFIG_RING, CONTROL, vector_signature
from hw.params import AGCUParams, MemoryParams

from .agcu import AGCU, _geometry
from .dma import DMA
from .dram import DRAM, port_spec
from .traffic import TrafficGen

__all__ = ["MemorySystem", "generate"]


class MemorySystem(wiring.Component):
    """HBM + DDR + DMA + AGCUs (see the module docstring).

    Parameters
    ----------
    params : MemoryParams
        The tiers and the DMA.
    agcu : AGCUParams
        ``agcu.count`` AGCUs (or external AGCU ports with ``with_agcus=False``).
    lanes : int
        Fabric vector lanes L.
    unit_base : int
        First ring unit id.
    hbm_test, ddr_test : int
        Extra DRAM ports exposed at the top (``hbm_test[j]`` / ``ddr_test[j]``) for testbenches.
    hbm_tgs, ddr_tgs : int
        HDL traffic generators on each tier (benchmarks, long self-checking runs); their ``done``
        bits are ``tg_done`` (HBM ones first).
    tg_outstanding : int
        Requests in flight per traffic generator.
    """

    def __init__(self, params=None, agcu=None, lanes=8, *, unit_base=0, with_agcus=True,
                 hbm_test=0, ddr_test=0, hbm_tgs=0, ddr_tgs=0, tg_outstanding=32,
                 backend="verilator"):
        self.params = params = params if params is not None else MemoryParams()
        self.agcu_params = agcu = agcu if agcu is not None else AGCUParams()
        _geometry(lanes, params.hbm)      # impossible AGCU geometry: fail before building anything
        self.lanes = lanes
        self.with_agcus = with_agcus
        self.n_agcu = agcu.count
        self.spec_h = port_spec(params.hbm)
        self.spec_d = port_spec(params.ddr)
        self.n_hbm_test, self.n_ddr_test = hbm_test, ddr_test
        uid = iter(range(unit_base, unit_base + 10_000))
        self.unit_ids = {"hbm": next(uid), "ddr": next(uid), "dma": next(uid)}
        n_hbm = self.n_agcu + 1 + hbm_test + hbm_tgs
        n_ddr = 1 + ddr_test + ddr_tgs
        self.hbm = DRAM(params.hbm, n_hbm, "hbm", self.unit_ids["hbm"], backend)
        self.ddr = DRAM(params.ddr, n_ddr, "ddr", self.unit_ids["ddr"], backend)
        self.dma = DMA(params, self.unit_ids["dma"])
        self.agcus = []
        if with_agcus:
            self.unit_ids["agcu"] = [next(uid) for _ in range(self.n_agcu)]
            self.agcus = [AGCU(agcu, lanes, u, dram=params.hbm) for u in self.unit_ids["agcu"]]
        self.unit_ids["hbm_tg"] = [next(uid) for _ in range(hbm_tgs)]
        self.unit_ids["ddr_tg"] = [next(uid) for _ in range(ddr_tgs)]
        self.tgs = ([TrafficGen(self.spec_h, u, tg_outstanding) for u in self.unit_ids["hbm_tg"]] +
                    [TrafficGen(self.spec_d, u, tg_outstanding) for u in self.unit_ids["ddr_tg"]])
        self.n_hbm_tgs, self.n_ddr_tgs = hbm_tgs, ddr_tgs
        members = {
            "cfg_i": In(CONFIG_RING),
            "cfg_o": Out(CONFIG_RING),
            "load": In(1),
            "dump": In(1),
            "idle": Out(1),
            "error": Out(1),
            "dma_busy": Out(1),
            "dma_done": Out(1),
        }
        n = self.n_agcu
        if with_agcus:
            members.update({
                "agcu_vec_in": In(vector_signature(lanes)).array(n),
                "agcu_vec_out": Out(vector_signature(lanes)).array(n),
                "agcu_ctrl_in": In(CONTROL).array(n),
                "agcu_ctrl_out": Out(CONTROL).array(n),
                "agcu_busy": Out(n),
                "agcu_done": Out(n),
                "agcu_error": Out(n),
            })
        else:
            members["agcu_dram"] = In(self.spec_h.signature).array(n)
        if hbm_test:
            members["hbm_test"] = In(self.spec_h.signature).array(hbm_test)
        if ddr_test:
            members["ddr_test"] = In(self.spec_d.signature).array(ddr_test)
        if self.tgs:
            members["tg_done"] = Out(len(self.tgs))
        super().__init__(members)

    def info(self):
        """A JSON-able description for testbenches (unit ids, parameters, port counts)."""
        return {"unit_ids": self.unit_ids, "lanes": self.lanes, "memory": self.params.to_dict(),
                "agcu": self.agcu_params.to_dict(), "hbm_test": self.n_hbm_test,
                "ddr_test": self.n_ddr_test, "hbm_tgs": self.n_hbm_tgs, "ddr_tgs": self.n_ddr_tgs,
                "with_agcus": self.with_agcus}

    def elaborate(self, platform):
        m = Module()
        m.submodules.hbm = hbm = self.hbm
        m.submodules.ddr = ddr = self.ddr
        m.submodules.dma = dma = self.dma
        for i, a in enumerate(self.agcus):
            m.submodules[f"agcu{i}"] = a
        for i, t in enumerate(self.tgs):
            m.submodules[f"tg{i}"] = t

        # Configuration ring.
        ring = [hbm, ddr, dma, *self.agcus, *self.tgs]
        wiring.connect(m, wiring.flipped(self.cfg_i), ring[0].cfg_i)
        for a, b in zip(ring, ring[1:]):
            wiring.connect(m, a.cfg_o, b.cfg_i)
        wiring.connect(m, ring[-1].cfg_o, wiring.flipped(self.cfg_o))

        # HBM ports: AGCUs, DMA, test ports, traffic generators.
        hp = iter(range(hbm.n_ports))
        for i in range(self.n_agcu):
            if self.with_agcus:
                wiring.connect(m, self.agcus[i].dram, hbm.ports[next(hp)])
            else:
                wiring.connect(m, wiring.flipped(self.agcu_dram[i]), hbm.ports[next(hp)])
        wiring.connect(m, dma.hbm, hbm.ports[next(hp)])
        for j in range(self.n_hbm_test):
            wiring.connect(m, wiring.flipped(self.hbm_test[j]), hbm.ports[next(hp)])
        for t in self.tgs[:self.n_hbm_tgs]:
            wiring.connect(m, t.dram, hbm.ports[next(hp)])
        dp = iter(range(ddr.n_ports))
        wiring.connect(m, dma.ddr, ddr.ports[next(dp)])
        for j in range(self.n_ddr_test):
            wiring.connect(m, wiring.flipped(self.ddr_test[j]), ddr.ports[next(dp)])
        for t in self.tgs[self.n_hbm_tgs:]:
            wiring.connect(m, t.dram, ddr.ports[next(dp)])

        # Fabric side of the AGCUs.
        for i, a in enumerate(self.agcus):
            wiring.connect(m, wiring.flipped(self.agcu_vec_in[i]), a.vec_in[0])
            wiring.connect(m, a.vec_out[0], wiring.flipped(self.agcu_vec_out[i]))
            wiring.connect(m, wiring.flipped(self.agcu_ctrl_in[i]), a.ctrl_in[0])
            wiring.connect(m, a.ctrl_out[0], wiring.flipped(self.agcu_ctrl_out[i]))
            m.d.comb += [self.agcu_busy[i].eq(a.busy), self.agcu_done[i].eq(a.done),
                         self.agcu_error[i].eq(a.error)]

        m.d.comb += [hbm.load.eq(self.load), ddr.load.eq(self.load), hbm.dump.eq(self.dump),
                     ddr.dump.eq(self.dump), self.idle.eq(hbm.idle & ddr.idle),
                     self.dma_busy.eq(dma.busy), self.dma_done.eq(dma.done)]
        errs = [hbm.error, ddr.error] + [a.error for a in self.agcus]
        m.d.comb += self.error.eq(Cat(*errs).any())
        if self.tgs:
            m.d.comb += self.tg_done.eq(Cat(*[t.done for t in self.tgs]))
        return m


def generate(fabric_params):
    """``rdu gen CONFIG --unit memory``: the memory system of a fabric configuration."""
    p = fabric_params
    return Generated(MemorySystem(p.memory, p.agcu, p.lanes), f"rdu_memory_{p.name}",
                     sources=(VERILOG_SOURCE,))
