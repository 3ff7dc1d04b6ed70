"""A PCU with one vector input and one vector output and its configuration in a ROM — the DUT of
free-running (HDL-side) stream harnesses (:class:`tb.harness.StreamHarness`) for throughput and
simulation-speed measurements.

:class:`PCUStream` loads ``packets`` (configuration-ring packets, e.g. an assembled program's
writes and a start) into the PCU from a ROM after reset, one per cycle, then streams ``i`` →
``vec_in[0]`` and ``vec_out[0]`` → ``o``. Other inputs are idle and other outputs always ready.

:func:`speed_design` is the PCU of a preset running a program that keeps every stage busy behind a
free-running harness: the model whose speed ``rdu bench simspeed`` and ``scripts/ircount.py``
measure.
"""

from __future__ import annotations

import numpy as np
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw import numerics as nx
from hw.config import AddressMap, Packet
from hw.net import vector_signature
from hw.params import load
from tb import freerun
from tb.harness import StreamHarness
from tb.stream import pack_lanes
from tiles.pcu import PCU
from tiles.pcu_asm import Counter, Program, Stage, assemble
from tiles.pcu_asm import Out as VecOut

__all__ = ["PCUStream", "speed_design"]


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


def speed_design(preset, n, arith=None, depth=None):
    """The ``preset`` PCU streaming ``n`` random vectors through a map that uses every stage —
    fp32 ``fma``, ``fmax`` and a bf16 round trip, or on integer-only PCUs ``muladd``, ``shr``,
    ``max`` — behind a free-running harness with memories of ``depth`` words (default ``n``; one
    depth lets runs of several lengths share a build). ``arith``: the arithmetic mode
    (:func:`tb.runner.arith_mode`). Returns ``(harness, design, words, description)`` for
    :func:`tb.freerun.run`."""
    p = load(preset).pcu
    if "fp32" in p.classes_of(0):
        stages = [Stage("fma", a="vec0", b="const", c="const", const=1.5, dst="r0"),
                  Stage("fmax", a="r0", b="const", const=0.0, dst="r0"),
                  Stage("f2bf", a="r0", dst="r1"), Stage("bf2f", a="r1", dst="r0")]
        what = "fp32 map (fma, max, bf16 round trip)"
    else:
        stages = [Stage("muladd", a="vec0", b="const", c="const", const=3, dst="r0"),
                  Stage("shr", a="r0", b="const", const=1, dst="r0"),
                  Stage("max", a="r0", b="const", const=0, dst="r0")]
        what = "int map (muladd, shr, max)"
    prog = Program(name="speed", counters=[Counter(0)], vec_in={0: "every"}, stages=stages,
                   vec_out={0: VecOut(reg="r0")})
    packets = assemble(p, prog).writes(0) + [Packet.write(0, AddressMap.CONTROL,
                                                          AddressMap.START)]
    h = StreamHarness(PCUStream(p, packets), depth or n, depth or n)
    d = freerun.design_for(h, f"rdu_pcu_{preset}_speed", arith=arith)
    x = np.random.default_rng(3).standard_normal((n, p.lanes)).astype(np.float32)
    words = [pack_lanes(row, 32) for row in nx.fp32_words(x)]
    return h, d, words, what
