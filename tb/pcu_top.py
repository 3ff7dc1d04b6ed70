"""A PCU with one vector input and one vector output and its configuration in a ROM — the DUT of
free-running (HDL-side) stream harnesses (:class:`tb.harness.StreamHarness`) for throughput and
simulation-speed measurements.

:class:`PCUStream` loads ``packets`` (configuration-ring packets, e.g. an assembled program's
writes and a start) into the PCU from a ROM after reset, one per cycle, then streams ``i`` →
``vec_in[0]`` and ``vec_out[0]`` → ``o``. Other inputs are idle and other outputs always ready.
"""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.net import vector_signature
from tiles.pcu import PCU

__all__ = ["PCUStream"]


class PCUStream(wiring.Component):
    """``PCU(params)`` behind one input and one output stream, configured from a packet ROM."""

    def __init__(self, params, packets):
        self.params = params
        self.packets = [int(p.encode() if hasattr(p, "encode") else p) for p in packets]
        super().__init__({"i": In(vector_signature(params.lanes)),
                          "o": Out(vector_signature(params.lanes))})

    def elaborate(self, platform):
        m = Module()
        p = self.params
        m.submodules.pcu = pcu = PCU(p)
        n = len(self.packets)
        idx = Signal(range(n + 1))
        with m.Switch(idx):
            for k, w in enumerate(self.packets):
                with m.Case(k):
                    m.d.comb += pcu.cfg_i.payload.as_value().eq(w)
        m.d.comb += pcu.cfg_i.valid.eq(idx < n)
        with m.If(pcu.cfg_i.valid & pcu.cfg_i.ready):
            m.d.sync += idx.eq(idx + 1)
        m.d.comb += pcu.cfg_o.ready.eq(1)
        wiring.connect(m, wiring.flipped(self.i), pcu.vec_in[0])
        wiring.connect(m, pcu.vec_out[0], wiring.flipped(self.o))
        for k in range(1, p.vec_in):
            m.d.comb += pcu.vec_in[k].valid.eq(0)
        for k in range(1, p.vec_out):
            m.d.comb += pcu.vec_out[k].ready.eq(1)
        for k in range(p.scal_in):
            m.d.comb += pcu.scal_in[k].valid.eq(0)
        for k in range(p.scal_out):
            m.d.comb += pcu.scal_out[k].ready.eq(1)
        for k in range(p.ctrl_in):
            m.d.comb += pcu.ctrl_in[k].valid.eq(0)
        for k in range(p.ctrl_out):
            m.d.comb += pcu.ctrl_out[k].ready.eq(1)
        return m
