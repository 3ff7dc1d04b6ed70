"""On-chip memory standing in for HBM on a board: one block-RAM array behind several request ports.

Each port is a pair of streams in the host bridge's memory-port format (:data:`fpga.bridge.MEM_REQ`
requests, 32-bit read responses), so the bridge, the smoke design, the fabric designs' stream
ports and the AGCUs' :class:`DRAMPortAdapter` connect the same way.

:class:`OnChipMemory` arbitrates round-robin between ports, one access per cycle, on a single
``amaranth.lib.memory.Memory`` with one read and one write port (maps to ECP5 DP16KD / iCE40
SB_RAM40_4K block RAM). A read is granted only when that port's response register is free (or
being emptied), so a response is never dropped whatever the backpressure on ``rsp``.

Latency: a request enters its port's skid buffer, and a read's data is in the port's response
register 3 cycles after its grant (4 cycles after the port accepted it when no other port
competes). Throughput: one access per cycle in total; one read every 3 cycles per port, writes
every cycle.
"""

from __future__ import annotations

from amaranth import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from fpga.bridge import MEM_REQ
from hw.stream import SkidBuffer

__all__ = ["OnChipMemory", "DRAMPortAdapter"]


class OnChipMemory(wiring.Component):
    """``depth`` 32-bit words behind ``ports`` request/response stream pairs (``req[i]``,
    ``rsp[i]``). Addresses are taken modulo the next power of two of ``depth``; the bridge checks
    ranges before it issues requests. ``init``: initial contents (a list of ints).

    Every port's requests enter through a :class:`hw.stream.SkidBuffer` (+1 cycle), one request
    per cycle over all ports is granted round robin among the skid buffers' outputs, and the
    granted request is registered before it reaches the RAM. A read's word is in the port's
    response register 3 cycles after its grant, and a port has one read in flight at a time
    (reads: one word every 3 cycles per port; writes: one per cycle). Requests take effect in
    grant order."""

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

        # The granted request is registered before it reaches the RAM: the arbitration and the
        # address / data fan-out to the block RAMs (a 32k-word memory is 64 DP16KD spread over
        # the chip) are separate timing paths. A read's data is in the port's response
        # register 3 cycles after its grant.
        issued = Signal(n)        # one-hot: port whose read is in the request register
        inflight = Signal(n)      # one-hot: port whose read data arrives from the RAM this cycle
        elig = Signal(n)
        grant = Signal(n)
        last = Signal(range(n))
        q_addr = Signal(abits)
        q_data = Signal(32)
        q_we = Signal()
        m.d.comb += [rp.addr.eq(q_addr), wp.addr.eq(q_addr), wp.data.eq(q_data),
                     wp.en.eq(q_we)]
        # The ports sit wherever their users are on the chip (the bridge, AGCU adapters across
        # the fabric): a skid buffer per port makes the port -> memory wire a register-to-register
        # path of its own, and the arbitration below sees only the skid buffers' registers.
        reqs = []
        for i in range(n):
            m.submodules[f"req_skid{i}"] = skid = SkidBuffer(MEM_REQ)
            wiring.connect(m, wiring.flipped(self.req[i]), skid.i)
            reqs.append(req := skid.o)
            rsp = self.rsp[i]
            m.d.comb += elig[i].eq(req.valid & (req.payload.we |
                                                ((~rsp.valid | rsp.ready) & ~issued[i] &
                                                 ~inflight[i])))
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

        m.d.sync += [issued.eq(0), inflight.eq(issued), q_we.eq(0)]
        for i in range(n):
            req, rsp = reqs[i], self.rsp[i]
            m.d.comb += req.ready.eq(grant[i])
            with m.If(grant[i]):
                m.d.sync += [last.eq(i), q_addr.eq(req.payload.addr[:abits]),
                             q_data.eq(req.payload.data), q_we.eq(req.payload.we)]
                with m.If(~req.payload.we):
                    m.d.sync += issued[i].eq(1)
            with m.If(rsp.ready):
                m.d.sync += rsp.valid.eq(0)
            with m.If(inflight[i]):
                m.d.sync += [rsp.valid.eq(1), rsp.payload.eq(rp.data)]
        return m


class DRAMPortAdapter(wiring.Component):
    """One DRAM port (:class:`memory.dram.PortSpec`, the AGCU's side) served from the on-chip
    memory's 32-bit word port — how a real AGCU reaches board memory instead of the HBM model.

    ``dram`` is the DRAM side of the port (``req`` in, ``resp`` / ``wdone`` out); ``mem_req`` /
    ``mem_rsp`` go to an :class:`OnChipMemory` port. Access ``a`` covers words
    ``a·W … a·W + W − 1`` (``W = access_bytes / 4``).

    Requests are served one at a time, in order (so the DRAM ordering rule holds trivially): a
    write issues its masked words then pulses ``wdone``; a read issues ``W`` word reads,
    collects the responses (in order from the memory) and returns ``{tag, data}``.
    Latency: a read returns ``W + 4`` cycles after acceptance when the memory port is free;
    throughput: one word every cycle for writes, one word every 3 cycles for reads (the on-chip
    memory's registered request and per-port response register) — slow next to HBM, plenty for
    a prototype.
    """

    def __init__(self, spec):
        self.spec = spec
        self.W = spec.data_bytes // 4
        super().__init__({
            "dram": In(spec.signature),
            "mem_req": Out(stream.Signature(MEM_REQ)),
            "mem_rsp": In(stream.Signature(unsigned(32))),
        })

    def elaborate(self, platform):
        m = Module()
        W = self.W
        req, resp = self.dram.req, self.dram.resp
        cur = Signal.like(req.payload)
        busy = Signal()
        issued = Signal(range(W + 1))
        got = Signal(range(W + 1))
        words = Signal(W * 32)
        word_base = Signal(32)

        m.d.comb += req.ready.eq(~busy)

        def needs_access(write, mask, k):
            # word k is accessed unless it is past the last or a write with its mask bit clear
            bit = mask.bit_select(k, 1) if W > 1 else mask
            return (k != W) & ~(write & ~bit)

        # `want`: the word at `issued` is to be accessed. It is a register, computed along with
        # the index it belongs to, so the memory's arbiter sees a registered request valid.
        want = Signal()
        with m.If(req.valid & ~busy):
            m.d.sync += [cur.eq(req.payload), busy.eq(1), issued.eq(0), got.eq(0),
                         word_base.eq(req.payload.addr * W),
                         want.eq(needs_access(req.payload.write, req.payload.mask, 0))]

        # issue the word accesses (writes skip words whose mask bit is clear, one cycle each)
        wdata = cur.data.word_select(issued, 32) if W > 1 else cur.data
        m.d.comb += [self.mem_req.valid.eq(want),
                     self.mem_req.payload.addr.eq(word_base + issued),
                     self.mem_req.payload.we.eq(cur.write),
                     self.mem_req.payload.data.eq(wdata)]
        with m.If(busy & (issued != W) & (~want | self.mem_req.ready)):
            m.d.sync += [issued.eq(issued + 1),
                         want.eq(needs_access(cur.write, cur.mask, issued + 1))]

        # collect read data in order
        m.d.comb += self.mem_rsp.ready.eq(1)
        with m.If(self.mem_rsp.valid):
            m.d.sync += [words.word_select(got, 32).eq(self.mem_rsp.payload), got.eq(got + 1)]

        m.d.comb += [resp.payload.tag.eq(cur.tag), resp.payload.data.eq(words)]
        with m.If(busy & cur.write & (issued == W)):
            m.d.comb += self.dram.wdone.eq(1)
            m.d.sync += busy.eq(0)
        with m.If(busy & ~cur.write & (got == W)):
            m.d.comb += resp.valid.eq(1)
            with m.If(resp.ready):
                m.d.sync += busy.eq(0)
        return m
