"""The end-to-end smoke design: an L-lane integer multiply-accumulate pipeline with stream ports.

It exists to prove the whole flow (Amaranth → Verilog → lint → cocotb + Verilator under random
backpressure → golden model) on something small, and to measure simulation speed
(``scripts/bench_simulators.py``). Golden model: :func:`hw.golden.mac_lanes`.
"""

from __future__ import annotations

import dataclasses

from amaranth import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.generate import Generated
from hw.params.base import Params, int_range, param, pow2

__all__ = ["MacParams", "MacPipeline"]


@dataclasses.dataclass(frozen=True)
class MacParams(Params):
    """Parameters of :class:`MacPipeline`."""

    lanes: int = param(4, check=pow2(1, 32), doc="SIMD lanes")
    in_bits: int = param(16, check=int_range(2, 32), doc="signed input width")
    acc_bits: int = param(32, check=int_range(2, 64), doc="accumulator width (wraps)")
    len_bits: int = param(16, check=int_range(1, 32), doc="width of the acc_len input")

    def check(self, fail):
        if self.acc_bits < self.in_bits:
            fail("acc_bits", self.acc_bits, f"must be >= in_bits ({self.in_bits})")


class MacPipeline(wiring.Component):
    """Per lane, ``o[l] = Σ_{j<acc_len} a_j[l]·b_j[l]`` (wrapping in ``acc_bits``), one output
    vector per ``acc_len`` input vectors.

    Ports: ``i`` (stream of ``{a: [lanes × in_bits], b: [lanes × in_bits]}``), ``o`` (stream of
    ``[lanes × acc_bits]``), ``acc_len`` (products per output, >= 1; 0 acts as 1).

    Latency: 2 cycles from the last input of a group to its output. Throughput: one input vector per
    cycle whenever ``o`` is not stalled (the whole pipeline stalls together: ``i.ready`` is
    ``~o.valid | o.ready``).
    """

    def __init__(self, params=None):
        self.params = p = params if params is not None else MacParams()
        self.in_layout = data.StructLayout({
            "a": data.ArrayLayout(signed(p.in_bits), p.lanes),
            "b": data.ArrayLayout(signed(p.in_bits), p.lanes),
        })
        self.out_layout = data.ArrayLayout(signed(p.acc_bits), p.lanes)
        super().__init__({
            "i": In(stream.Signature(self.in_layout)),
            "o": Out(stream.Signature(self.out_layout)),
            "acc_len": In(unsigned(p.len_bits)),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]

        # Stage 1: products.
        prod = Signal(data.ArrayLayout(signed(p.acc_bits), p.lanes))
        prod_valid = Signal()
        # Stage 2: accumulators and the group counter.
        acc = Signal(data.ArrayLayout(signed(p.acc_bits), p.lanes))
        count = Signal(unsigned(p.len_bits))
        last = Signal()
        m.d.comb += last.eq((count + 1 >= self.acc_len))

        with m.If(advance):
            m.d.sync += prod_valid.eq(self.i.valid)
            for l in range(p.lanes):
                m.d.sync += prod[l].eq(self.i.payload.a[l] * self.i.payload.b[l])
            m.d.sync += self.o.valid.eq(0)
            with m.If(prod_valid):
                for l in range(p.lanes):
                    total = Signal(signed(p.acc_bits), name=f"total{l}")
                    m.d.comb += total.eq(acc[l] + prod[l])
                    with m.If(count == 0):
                        m.d.comb += total.eq(prod[l])
                    m.d.sync += acc[l].eq(total)
                    m.d.sync += self.o.payload[l].eq(total)
                with m.If(last):
                    m.d.sync += [count.eq(0), self.o.valid.eq(1)]
                with m.Else():
                    m.d.sync += count.eq(count + 1)
        return m


def generate(fabric):
    """``rdu gen --unit smoke``: the MAC pipeline at the fabric's lane count."""
    p = MacParams(lanes=fabric.lanes)
    return Generated(MacPipeline(p), f"rdu_mac_l{p.lanes}")
