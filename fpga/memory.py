"""On-chip memory standing in for HBM on a board: one block-RAM array behind several request ports.

Each port is a pair of streams in the host bridge's memory-port format (:data:`fpga.bridge.MEM_REQ`
requests, 32-bit read responses), so the bridge, the smoke design and (later) the fabric's AGCU
adapters connect the same way.

:class:`OnChipMemory` arbitrates round-robin between ports, one access per cycle, on a single
``amaranth.lib.memory.Memory`` with one read and one write port (maps to ECP5 DP16KD / iCE40
SB_RAM40_4K block RAM). A read is granted only when that port's response register is free (or
being emptied), so a response is never dropped whatever the backpressure on ``rsp``.

Latency: a read's data appears on ``rsp`` 2 cycles after its request is accepted. Throughput: one
access per cycle in total; one read every 2 cycles per port, writes every cycle.
"""

from __future__ import annotations

from amaranth import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from fpga.bridge import MEM_REQ

__all__ = ["OnChipMemory"]


class OnChipMemory(wiring.Component):
    """``depth`` 32-bit words behind ``ports`` request/response stream pairs (``req[i]``,
    ``rsp[i]``). Addresses are taken modulo the next power of two of ``depth``; the bridge checks
    ranges before it issues requests. ``init``: initial contents (a list of ints)."""

    def __init__(self, depth, ports=1, init=()):
        if depth < 2:
            raise ValueError(f"OnChipMemory: depth = {depth}: must be >= 2")
        if not 1 <= ports <= 16:
            raise ValueError(f"OnChipMemory: ports = {ports}: must be in 1..16")
        self.depth = depth
        self.n_ports = ports
        self.init = list(init)
        super().__init__({
            "req": In(stream.Signature(MEM_REQ)).array(ports),
            "rsp": Out(stream.Signature(unsigned(32))).array(ports),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.n_ports
        m.submodules.mem = mem = Memory(shape=unsigned(32), depth=self.depth, init=self.init)
        wp = mem.write_port()
        rp = mem.read_port()
        abits = len(rp.addr)

        inflight = Signal(n)      # one-hot: port whose read data arrives from the RAM this cycle
        elig = Signal(n)
        grant = Signal(n)
        last = Signal(range(n))
        for i in range(n):
            req, rsp = self.req[i], self.rsp[i]
            m.d.comb += elig[i].eq(req.valid & (req.payload.we |
                                                ((~rsp.valid | rsp.ready) & ~inflight[i])))
        # round-robin: the port after the last grant has the highest priority
        with m.Switch(last):
            for l in range(n):
                with m.Case(l):
                    order = [(l + 1 + k) % n for k in range(n)]
                    with m.If(elig[order[0]]):
                        m.d.comb += grant.eq(1 << order[0])
                    for o in order[1:]:
                        with m.Elif(elig[o]):
                            m.d.comb += grant.eq(1 << o)

        m.d.sync += inflight.eq(0)
        for i in range(n):
            req, rsp = self.req[i], self.rsp[i]
            m.d.comb += req.ready.eq(grant[i])
            with m.If(grant[i]):
                m.d.sync += last.eq(i)
                m.d.comb += [rp.addr.eq(req.payload.addr[:abits]),
                             wp.addr.eq(req.payload.addr[:abits]),
                             wp.data.eq(req.payload.data),
                             wp.en.eq(req.payload.we)]
                with m.If(~req.payload.we):
                    m.d.sync += inflight[i].eq(1)
            with m.If(rsp.ready):
                m.d.sync += rsp.valid.eq(0)
            with m.If(inflight[i]):
                m.d.sync += [rsp.valid.eq(1), rsp.payload.eq(rp.data)]
        return m
