"""Simulation top for the PMU: the unit's own ports plus HDL-side stream generators and a sink,
so one Verilator build serves Python-driven tests (cocotb drives the ports) and free-running
measurements (Python configures through the ring, then waits for ``done``).

Ports: everything of :class:`tiles.pmu.PMU` under the same names, plus

==================  ===========================================================================
``gen_on``          1: ``vec_in[j]`` is fed by the HDL generator ``j`` (the top port's ready is
                    0), ``vec_out[0]`` by the HDL sink (``vec_out__0__valid`` reads 0)
``gen_n<j>``        vectors generator ``j`` sends after ``gen_go``
``gen_mode<j>``     0: data vectors, lane ``i`` of vector ``t`` = ``(j << 24) + t·L + i``;
                    1: random addresses, ``xorshift32`` words masked with ``addr_mask``
``gen_go``          pulse: restart the generators' and the sink's counts and seeds
``pause_src``       pause probability of every generator, in 1/256 (xorshift32, ``seed``)
``pause_sink``      pause probability of the sink, in 1/256
``snk_count``       vectors the sink accepted since ``gen_go``
``snk_sum``         sum of all their lane words modulo 2**32 (a checksum the model reproduces)
``src_sent<j>``     vectors generator ``j`` sent
==================  ===========================================================================
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.net import unit_members
from tb.harness import _xorshift

from .pmu import PMU

__all__ = ["PMUTestTop", "data_word"]


def data_word(port, t, lane, lanes):
    """Lane ``lane`` of the ``t``-th data vector of generator ``port`` (``gen_mode`` 0)."""
    return ((port << 24) + t * lanes + lane) & 0xFFFFFFFF


class PMUTestTop(wiring.Component):
    """:class:`PMU` with HDL stream generators / sink for free-running tests (module docstring)."""

    def __init__(self, params, lanes, unit_id=0):
        self.pmu = PMU(params, lanes, unit_id)
        self.params = params
        self.lanes = lanes
        p = params
        members = unit_members(lanes, p.vec_in, p.vec_out, p.scal_in, p.scal_out,
                               p.ctrl_in, p.ctrl_out)
        members.update({"gen_on": In(1), "gen_go": In(1), "pause_src": In(8),
                        "pause_sink": In(8), "seed": In(32), "addr_mask": In(32),
                        "snk_count": Out(32), "snk_sum": Out(32)})
        for j in range(p.vec_in):
            members[f"gen_n{j}"] = In(32)
            members[f"gen_mode{j}"] = In(1)
            members[f"src_sent{j}"] = Out(32)
        super().__init__(members)

    def elaborate(self, platform):
        p = self.params
        L = self.lanes
        m = Module()
        m.submodules.pmu = pmu = self.pmu
        for name in ("cfg_i",):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(pmu, name))
        wiring.connect(m, pmu.cfg_o, wiring.flipped(self.cfg_o))
        m.d.comb += [self.busy.eq(pmu.busy), self.done.eq(pmu.done)]
        for j in range(p.scal_in):
            wiring.connect(m, wiring.flipped(self.scal_in[j]), pmu.scal_in[j])
        for j in range(p.scal_out):
            wiring.connect(m, pmu.scal_out[j], wiring.flipped(self.scal_out[j]))
        for j in range(p.ctrl_in):
            wiring.connect(m, wiring.flipped(self.ctrl_in[j]), pmu.ctrl_in[j])
        for j in range(p.ctrl_out):
            wiring.connect(m, pmu.ctrl_out[j], wiring.flipped(self.ctrl_out[j]))
        on = self.gen_on

        # Generators on vec_in[j].
        for j in range(p.vec_in):
            top, dst = self.vec_in[j], pmu.vec_in[j]
            sent = getattr(self, f"src_sent{j}")
            n = getattr(self, f"gen_n{j}")
            mode = getattr(self, f"gen_mode{j}")
            rng = Signal(32, name=f"src_rng{j}")
            arng = Signal(32, name=f"addr_rng{j}")
            m.d.sync += rng.eq(_xorshift(m, rng))
            pause = rng[:8] < self.pause_src
            valid = Signal(name=f"gen_valid{j}")
            m.d.comb += valid.eq((sent < n) & ~pause)
            fire = dst.valid & dst.ready
            with m.If(on):
                m.d.comb += [dst.valid.eq(valid), top.ready.eq(0)]
                for i in range(L):
                    rot = Cat(arng[(5 * i) % 32:], arng[:(5 * i) % 32])
                    m.d.comb += dst.payload[i].eq(
                        Mux(mode, rot & self.addr_mask, (j << 24) + sent * L + i))
                with m.If(fire):
                    m.d.sync += [sent.eq(sent + 1), arng.eq(_xorshift(m, arng))]
            with m.Else():
                m.d.comb += [dst.valid.eq(top.valid), dst.payload.eq(top.payload),
                             top.ready.eq(dst.ready)]
            with m.If(self.gen_go):
                m.d.sync += [sent.eq(0), rng.eq((self.seed + 0x1234567 * (j + 1)) | 1),
                             arng.eq((self.seed ^ (0x9E3779B9 >> j)) | 1)]

        # Sink on vec_out[0]; other outputs pass through.
        for j in range(p.vec_out):
            src, top = pmu.vec_out[j], self.vec_out[j]
            if j:
                wiring.connect(m, src, wiring.flipped(top))
                continue
            srng = Signal(32)
            m.d.sync += srng.eq(_xorshift(m, srng))
            spause = srng[:8] < self.pause_sink
            with m.If(on):
                m.d.comb += [src.ready.eq(~spause), top.valid.eq(0)]
                with m.If(src.valid & src.ready):
                    total = 0
                    for i in range(L):
                        total = total + src.payload[i]
                    m.d.sync += [self.snk_count.eq(self.snk_count + 1),
                                 self.snk_sum.eq(self.snk_sum + total)]
            with m.Else():
                m.d.comb += [top.valid.eq(src.valid), top.payload.eq(src.payload),
                             src.ready.eq(top.ready)]
            with m.If(self.gen_go):
                m.d.sync += [self.snk_count.eq(0), self.snk_sum.eq(0),
                             srng.eq((self.seed ^ 0x5A5A5A5A) | 1)]
        return m
