"""The board-independent system top: host bridge + design under control + on-chip memory.

:class:`SystemTop` is what runs on a board (wrapped by :mod:`fpga.boards` for clocks and pins) and,
unchanged, under Verilator (:func:`sim_design`) where a cocotb UART model drives its pins with the
same host code (:mod:`fpga.host`). Its ports are the UART pins (``uart_rx`` in, ``uart_tx`` out)
and ``leds`` (bit 0 activity, 1 protocol error, 2 busy, 3 done).

Design under control (DUC)
--------------------------
Anything with these members can sit behind the bridge (:class:`fpga.smoke.SmokeSystem`,
:class:`fpga.fabric_duc.KernelSystem` — the fabric with real AGCUs —, :class:`fpga.fabric_duc.
FabricSystem`):

=============  ================================================================================
``cfg_i``      ``In(CONFIG_RING)``: the configuration ring's entry (from the bridge)
``cfg_o``      ``Out(CONFIG_RING)``: the ring's end (back to the bridge)
``start``      ``In(1)``: the bridge's START pulse (the ring's broadcast START works as well)
``done``       ``Out(1)``: finished since the last start
``busy``       ``Out(1)``
``mem_req``    ``Out(stream of MEM_REQ).array(n)``: memory ports (the fabric's AGCU side)
``mem_rsp``    ``In(stream of 32 bits).array(n)``
``ident``      Python attribute: the 32-bit design identity the bridge's INFO reports
=============  ================================================================================

The on-chip memory (:class:`fpga.memory.OnChipMemory`, ``mem_words`` words) has ``n + 1`` ports:
port 0 is the bridge's (tensor load / read-back; a skid buffer each way), ports ``1..n`` the
design's.
"""

from __future__ import annotations

import dataclasses

from amaranth import Cat, Module, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from fpga.bridge import MEM_REQ, BridgeCore, BridgeParams, HostBridge
from fpga.fabric_duc import KernelSystem, board_params
from fpga.memory import OnChipMemory
from fpga.smoke import SmokeSystem
from hw.smoke import MacParams
from hw.stream import SkidBuffer
from tb.runner import Design

__all__ = ["SystemTop", "smoke_system", "kernel_system", "sim_design", "SIM_CLK_HZ",
           "SIM_DIVISOR"]

#: Simulation clock (tb.clock: 10 ns) and UART divisor (clock / 8 baud: fast to simulate).
SIM_CLK_HZ = 100_000_000
SIM_DIVISOR = 8


class SystemTop(wiring.Component):
    """Bridge + ``duc`` + on-chip memory of ``bridge_params.mem_words`` words.

    ``uart=False`` replaces the UART pins by the bridge core's byte streams ``rx`` / ``tx`` (for
    fast Amaranth-simulator tests of the protocol engine with everything else real)."""

    def __init__(self, duc, bridge_params, uart=True):
        if bridge_params.ident != getattr(duc, "ident", bridge_params.ident):
            bridge_params = dataclasses.replace(bridge_params, ident=duc.ident)
        self.duc = duc
        self.bridge_params = bridge_params
        self.uart = uart
        if uart:
            pins = {"uart_rx": In(1, init=1), "uart_tx": Out(1, init=1)}
        else:
            pins = {"rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8))}
        super().__init__({**pins, "leds": Out(4)})

    def elaborate(self, platform):
        m = Module()
        duc = self.duc
        n = len(duc.mem_req)
        m.submodules.duc = duc
        m.submodules.mem = mem = OnChipMemory(self.bridge_params.mem_words, ports=n + 1)
        if self.uart:
            m.submodules.bridge = br = HostBridge(self.bridge_params)
            m.d.comb += [br.rx.eq(self.uart_rx), self.uart_tx.eq(br.tx)]
        else:
            m.submodules.bridge = br = BridgeCore(self.bridge_params)
            wiring.connect(m, wiring.flipped(self.rx), br.rx)
            wiring.connect(m, br.tx, wiring.flipped(self.tx))
        wiring.connect(m, br.cfg_o, duc.cfg_i)
        wiring.connect(m, duc.cfg_o, br.cfg_i)
        # The bridge's memory port goes through skid buffers both ways: its request valid and
        # response ready come from the protocol engine's state, which would otherwise reach
        # the memory's arbiter and the request registers at the block RAMs in one cycle
        # (the longest path of the fabric's board build after placement). The bridge waits
        # on the UART, so the two cycles cost nothing.
        m.submodules.bridge_req = q = SkidBuffer(MEM_REQ)
        m.submodules.bridge_rsp = r = SkidBuffer(unsigned(32))
        wiring.connect(m, br.mem_req, q.i)
        wiring.connect(m, q.o, mem.req[0])
        wiring.connect(m, mem.rsp[0], r.i)
        wiring.connect(m, r.o, br.mem_rsp)
        for i in range(n):
            wiring.connect(m, duc.mem_req[i], mem.req[i + 1])
            wiring.connect(m, mem.rsp[i + 1], duc.mem_rsp[i])
        m.d.comb += [duc.start.eq(br.start), br.done.eq(duc.done), br.busy.eq(duc.busy),
                     self.leds.eq(Cat(br.activity, br.error, duc.busy, duc.done))]
        return m


def smoke_system(lanes=4, units=2, in_bits=16, acc_bits=32, mem_words=4096, clk_hz=SIM_CLK_HZ,
                 baud=None, uart=True, **bridge):
    """A :class:`SystemTop` around :class:`fpga.smoke.SmokeSystem` (the smoke design).
    ``baud`` defaults to ``clk_hz / 8`` (simulation speed)."""
    duc = SmokeSystem(MacParams(lanes=lanes, in_bits=in_bits, acc_bits=acc_bits), units=units)
    bp = BridgeParams(clk_hz=clk_hz, baud=baud or clk_hz // SIM_DIVISOR, mem_words=mem_words,
                      ident=duc.ident, **bridge)
    return SystemTop(duc, bp, uart=uart)


def kernel_system(params, mem_words, clk_hz=SIM_CLK_HZ, baud=None, uart=True, **bridge):
    """A :class:`SystemTop` around :class:`fpga.fabric_duc.KernelSystem`: the fabric of
    ``params`` with real AGCUs on ``mem_words`` words of on-chip memory (the HBM stand-in).
    Returns ``(top, board_params)``; compile kernels for ``board_params``."""
    bp_fabric = board_params(params, mem_words)
    duc = KernelSystem(bp_fabric)
    bp = BridgeParams(clk_hz=clk_hz, baud=baud or clk_hz // SIM_DIVISOR, mem_words=mem_words,
                      ident=duc.ident, **bridge)
    return SystemTop(duc, bp, uart=uart), bp_fabric


def sim_design(top=None, name="rdu_board_sim"):
    """The Verilator design (``tb.runner.Design``) of a :class:`SystemTop` (default: the smoke
    system with 4 lanes, 2 units, 4096 words, a short inter-byte timeout for fast error tests)."""
    if top is None:
        top = smoke_system(timeout_cycles=4000, ring_timeout_cycles=2000, max_payload=256)
    return Design.from_component(top, name)
