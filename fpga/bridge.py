"""Host bridge: a UART, a framed command protocol, and a generic target side.

The bridge lets a host program (:mod:`fpga.host`) drive a design over two wires: load a list of
configuration packets into the configuration ring, load and read tensors in a memory, start the
design, wait for it to finish and read its performance counters. The same RTL runs on a board and
under Verilator (with a bit-level UART model in cocotb), driven by the same host code.

Target side (payload-agnostic)
------------------------------
=============  ==================================================================================
``cfg_o``      ``Out(CONFIG_RING)``: packets the bridge sends into the configuration ring
``cfg_i``      ``In(CONFIG_RING)``: packets coming back from the ring's end
``mem_req``    ``Out(stream of MEM_REQ)``: ``{addr: 32, we: 1, data: 32}``, one word per request;
               a read (``we = 0``) is answered by one word on ``mem_rsp``, in order
``mem_rsp``    ``In(stream of 32 bits)``: read data
``start``      ``Out(1)``: one-cycle pulse (START command)
``done``       ``In(1)``: the design finished (sticky until the next start, as a unit's ``done``)
``busy``       ``In(1)``: the design is running (reported only)
=============  ==================================================================================

Frames
------
Request (host → bridge) and response (bridge → host)::

    request:   A5  OP  LEN_LO LEN_HI          PAYLOAD[LEN]  CRC
    response:  5A  OP  STATUS LEN_LO LEN_HI   PAYLOAD[LEN]  CRC

``CRC`` is CRC-8 (polynomial 0x07, initial value 0, not reflected) over every byte after the sync
byte up to the end of the payload (:func:`crc8`). Multi-byte values are little-endian; payloads
are whole 32-bit words. The bridge buffers a whole request (``max_payload`` bytes at most) and
checks its CRC before executing it, so a corrupted frame never has an effect. The protocol is
strictly request/response: the host sends the next request after the previous response.

==========  =============================  ===================================================
OP          request payload                 response payload (``STATUS = 0``)
==========  =============================  ===================================================
0 INFO      —                              8 words: magic ``0x52445542``, version, max_payload,
                                           mem_words, clk_hz, baud divisor, timeout_cycles,
                                           ident (what design sits behind the bridge)
1 RING      n × 8 bytes: ring packets      first, one **data frame** (``OP = 0x81``, 8 bytes)
            (:data:`hw.config.CFG_PACKET`  per packet that came back from the ring (RESPs, or
            encoded as a 64-bit LE word)   unanswered packets); then the final frame: 1 word,
                                           the number of data frames sent
2 WRITE     addr, then n words             — (the words are written at addr, addr+1, ...)
3 READ      addr, count                    count words read from addr, addr+1, ...
4 START     —                              — (pulses ``start``; starts the run-cycle counter)
5 STATUS    —                              6 words (:data:`STATUS_WORDS`): flags (bit 0 done
                                           since the last start, 1 ``done``, 2 ``busy``,
                                           3 running), run cycles (start → done), good
                                           frames, crc errors | timeouts << 16, stray bytes |
                                           UART overruns << 16, UART framing errors
==========  =============================  ===================================================

Ring commands end with a *fence*: after the last packet the bridge sends a READ addressed to
``BROADCAST`` (which every :class:`~hw.config.ConfigStore` passes on unchanged, as only WRITEs are
broadcast); the ring is in order, so when the fence returns every answer has been forwarded.
Broadcast WRITEs (e.g. a global start) come back around the ring; the bridge drops those echoes.
A ring WRITE of the START bit to ``CONTROL`` starts the run-cycle counter, like START.

Errors (``STATUS`` ≠ 0, empty payload): 1 bad CRC, 2 bad length (payload longer than
``max_payload`` or not what the command takes), 3 unknown opcode, 4 timeout (a request stopped
for ``timeout_cycles`` in the middle of a frame — a lost byte), 5 address range (memory access
beyond ``mem_words`` or a READ longer than 16383 words), 6 ring timeout (no packet moved on the
ring for ``ring_timeout_cycles``: a unit stalls the configuration ring). Bytes outside a frame
that are not the sync byte are counted (stray bytes) and ignored.

Blocks
------
* :class:`UARTRx` — 8N1 receiver, 2-FF synchronizer, start-bit validation at mid-bit, 3-sample
  majority vote at the centre of each bit, framing-error detection, one byte of output buffer
  (an overrun is counted, never silent).
* :class:`UARTTx` — 8N1 transmitter with a stream input.
* :class:`BridgeCore` — the protocol engine on byte streams (testable without a UART).
* :class:`HostBridge` — UART + RX FIFO + core: what a board top instantiates.

Throughput is set by the UART (10 bit times per byte); the core processes a byte in at most
5 cycles, so it keeps up with any ``divisor >= 8``. Latency of a command: its frame time plus a few
cycles (plus the ring's or the memory's latency).
"""

from __future__ import annotations

import dataclasses
import enum

from amaranth import Array, Cat, Const, Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.config import BROADCAST, CFG_PACKET, AddressMap, Op
from hw.net import CONFIG_RING
from hw.params.base import Params, int_range, param, pow2
from hw.stream import StreamFIFO

__all__ = ["SYNC_REQ", "SYNC_RSP", "Cmd", "Status", "DATA_OP", "MAGIC", "VERSION", "INFO_WORDS",
           "STATUS_WORDS", "MAX_READ_WORDS", "MEM_REQ", "FENCE", "crc8", "BridgeParams", "UARTRx",
           "UARTTx", "BridgeCore", "HostBridge"]

SYNC_REQ = 0xA5
SYNC_RSP = 0x5A
MAGIC = 0x52445542
VERSION = 1
#: Response opcode of a ring data frame (one returned packet).
DATA_OP = 0x81
#: READ length limit (a response's LEN is 16 bits).
MAX_READ_WORDS = 0xFFFF // 4


class Cmd(enum.IntEnum):
    INFO = 0
    RING = 1
    WRITE = 2
    READ = 3
    START = 4
    STATUS = 5


class Status(enum.IntEnum):
    OK = 0
    BAD_CRC = 1
    BAD_LENGTH = 2
    BAD_OPCODE = 3
    TIMEOUT = 4
    RANGE = 5
    RING_TIMEOUT = 6


INFO_WORDS = ("magic", "version", "max_payload", "mem_words", "clk_hz", "divisor",
              "timeout_cycles", "ident")
STATUS_WORDS = ("flags", "run_cycles", "frames", "crc_timeouts", "stray_overruns",
                "framing_errors")

#: Memory request: one 32-bit word, read (``we = 0``) or write.
MEM_REQ = data.StructLayout({"addr": unsigned(32), "we": unsigned(1), "data": unsigned(32)})

#: The fence packet: a READ to BROADCAST passes every ring stop unchanged.
FENCE = Op.READ | (BROADCAST << 2) | (0xFFF << 14)


def crc8(data_bytes, crc=0):
    """CRC-8, polynomial 0x07, initial value ``crc``, not reflected (the bridge's frame check)."""
    for b in bytes(data_bytes):
        crc ^= b
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc8_step(crc, byte):
    """Amaranth expression: :func:`crc8` of one more byte. The CRC is linear in ``crc ^ byte``, so
    each output bit is the XOR of a fixed set of input bits (worked out here by running the 8
    shift/xor steps on bit masks)."""
    masks = [1 << i for i in range(8)]          # bit i of x = crc ^ byte
    for _ in range(8):
        top = masks[7]
        masks = [(masks[i - 1] if i else 0) ^ (top if (0x07 >> i) & 1 else 0) for i in range(8)]
    x = crc ^ byte
    bits = []
    for mask in masks:
        terms = [x[j] for j in range(8) if (mask >> j) & 1]
        acc = terms[0]
        for t in terms[1:]:
            acc = acc ^ t
        bits.append(acc)
    return Cat(*bits)


@dataclasses.dataclass(frozen=True)
class BridgeParams(Params):
    """Parameters of :class:`HostBridge` (validated at construction)."""

    clk_hz: int = param(50_000_000, check=int_range(1_000_000, 1_000_000_000),
                        doc="clock frequency of the bridge's domain")
    baud: int = param(1_000_000, check=int_range(1200, 50_000_000), doc="UART bit rate")
    max_payload: int = param(1024, check=pow2(16, 65536 // 2), doc="largest request payload "
                             "(bytes): the frame buffer")
    mem_words: int = param(4096, check=int_range(1, 1 << 30), doc="words behind the memory port")
    rx_fifo: int = param(16, check=pow2(2, 4096), doc="UART receive FIFO depth (bytes)")
    timeout_cycles: int = param(0, check=int_range(0, 1 << 30),
                                doc="inter-byte timeout inside a request (0: 50 ms)")
    ring_timeout_cycles: int = param(1 << 20, check=int_range(16, 1 << 30),
                                     doc="ring command fails after this many cycles without "
                                         "movement on the ring")
    ident: int = param(0, check=int_range(0, 0xFFFFFFFF), doc="design identity reported by INFO")

    def check(self, fail):
        div = round(self.clk_hz / self.baud)
        if div < 8:
            fail("baud", self.baud, f"must be at most clk_hz / 8 = {self.clk_hz // 8} (the "
                 f"receiver needs >= 8 clock cycles per bit)")
        err = abs(self.clk_hz / div - self.baud) / self.baud
        if err > 0.02:
            fail("baud", self.baud, f"gives a bit-rate error of {100 * err:.1f}% at clk_hz = "
                 f"{self.clk_hz} (divisor {div}); must be within 2%")

    @property
    def divisor(self):
        """Clock cycles per UART bit."""
        return round(self.clk_hz / self.baud)

    @property
    def timeout(self):
        """Inter-byte timeout in cycles (at least 4 byte times)."""
        t = self.timeout_cycles or self.clk_hz // 20
        return max(t, 40 * self.divisor)

    def info(self):
        """The words the INFO command returns (:data:`INFO_WORDS` order)."""
        return [MAGIC, VERSION, self.max_payload, self.mem_words, self.clk_hz, self.divisor,
                self.timeout, self.ident]


# ------------------------------------------------------------------------------------------
# UART
# ------------------------------------------------------------------------------------------

class UARTRx(wiring.Component):
    """8N1 UART receiver with ``divisor`` clock cycles per bit (``divisor >= 8``).

    The line passes a 2-FF synchronizer. A falling edge starts a byte; half a bit later the start
    bit must still be low (else it was a glitch); each data bit and the stop bit are the majority
    of three consecutive samples ending at the bit's centre. A low stop bit is a framing error
    (``frame_error`` pulses; the byte is dropped and the receiver waits for the line to go high).

    ``o`` holds one received byte until it is taken; a byte completing while the previous one is
    still held is an overrun (``overrun`` pulses; the new byte is dropped). Latency: 9.5 bit times
    + 3 cycles from the start bit's edge to ``o.valid``.
    """

    def __init__(self, divisor):
        if divisor < 8:
            raise ValueError(f"UARTRx: divisor = {divisor}: must be >= 8 clock cycles per bit")
        self.divisor = divisor
        super().__init__({
            "rx": In(1, init=1),
            "o": Out(stream.Signature(8)),
            "overrun": Out(1),
            "frame_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        div = self.divisor
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        hist = Signal(3, init=0b111)
        m.d.sync += hist.eq(Cat(line, hist[:2]))
        vote = (hist[0] & hist[1]) | (hist[0] & hist[2]) | (hist[1] & hist[2])

        cnt = Signal(range(div))
        nbit = Signal(range(8))
        shreg = Signal(8)
        m.d.sync += [self.overrun.eq(0), self.frame_error.eq(0)]
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        with m.FSM(name="uart_rx"):
            with m.State("IDLE"):
                with m.If(~line):
                    # The line is 2 cycles late (synchronizer) and hist 1 more: counting
                    # div/2 + 1 cycles puts the 3 voted samples around the start bit's centre.
                    m.d.sync += cnt.eq(div // 2)
                    m.next = "START"
            with m.State("START"):
                m.d.sync += cnt.eq(cnt - 1)
                with m.If(cnt == 0):
                    with m.If(~vote):
                        m.d.sync += [cnt.eq(div - 1), nbit.eq(0)]
                        m.next = "DATA"
                    with m.Else():
                        m.next = "IDLE"   # a glitch, not a start bit
            with m.State("DATA"):
                m.d.sync += cnt.eq(cnt - 1)
                with m.If(cnt == 0):
                    m.d.sync += [shreg.eq(Cat(shreg[1:], vote)), cnt.eq(div - 1),
                                 nbit.eq(nbit + 1)]
                    with m.If(nbit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += cnt.eq(cnt - 1)
                with m.If(cnt == 0):
                    with m.If(vote):
                        with m.If(self.o.valid & ~self.o.ready):
                            m.d.sync += self.overrun.eq(1)
                        with m.Else():
                            m.d.sync += [self.o.payload.eq(shreg), self.o.valid.eq(1)]
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += self.frame_error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(vote):
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """8N1 UART transmitter with ``divisor`` clock cycles per bit: takes a byte from ``i`` when
    idle and shifts out start bit, 8 data bits (LSB first) and stop bit. Throughput: one byte per
    10 bit times (back to back while ``i`` has data)."""

    def __init__(self, divisor):
        if divisor < 1:
            raise ValueError(f"UARTTx: divisor = {divisor}: must be >= 1")
        self.divisor = divisor
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        cnt = Signal(range(self.divisor))
        shreg = Signal(10, init=0x3FF)
        left = Signal(range(11))
        m.d.comb += self.tx.eq(shreg[0])
        m.d.comb += self.i.ready.eq(left == 0)
        with m.If(left == 0):
            with m.If(self.i.valid):
                m.d.sync += [shreg.eq(Cat(Const(0, 1), self.i.payload, Const(1, 1))),
                             left.eq(10), cnt.eq(self.divisor - 1)]
        with m.Else():
            m.d.sync += cnt.eq(cnt - 1)
            with m.If(cnt == 0):
                m.d.sync += [shreg.eq(Cat(shreg[1:], Const(1, 1))), left.eq(left - 1),
                             cnt.eq(self.divisor - 1)]
        return m


# ------------------------------------------------------------------------------------------
# Protocol engine
# ------------------------------------------------------------------------------------------

_TX_BYTE = data.StructLayout({"data": unsigned(8), "last": unsigned(1)})


class _TxFramer(wiring.Component):
    """Adds the sync byte before and the CRC after each frame of a ``{data, last}`` byte stream."""

    def __init__(self):
        super().__init__({"i": In(stream.Signature(_TX_BYTE)), "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        crc = Signal(8)
        with m.FSM(name="framer"):
            with m.State("SYNC"):
                m.d.comb += [self.o.valid.eq(self.i.valid), self.o.payload.eq(SYNC_RSP)]
                with m.If(self.o.valid & self.o.ready):
                    m.d.sync += crc.eq(0)
                    m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload.data),
                             self.i.ready.eq(self.o.ready)]
                with m.If(self.i.valid & self.i.ready):
                    m.d.sync += crc.eq(_crc8_step(crc, self.i.payload.data))
                    with m.If(self.i.payload.last):
                        m.next = "CRC"
            with m.State("CRC"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(crc)]
                with m.If(self.o.ready):
                    m.next = "SYNC"
        return m


class BridgeCore(wiring.Component):
    """The protocol engine (module docstring) between a received-byte stream ``rx`` and a
    transmit-byte stream ``tx``; ``overrun`` / ``frame_error`` are the UART's error pulses (counted
    in STATUS). ``activity`` is high while a request is received or executed, ``error`` is sticky
    after any protocol error (for LEDs)."""

    def __init__(self, params=None):
        self.params = params if params is not None else BridgeParams()
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "cfg_o": Out(CONFIG_RING),
            "cfg_i": In(CONFIG_RING),
            "mem_req": Out(stream.Signature(MEM_REQ)),
            "mem_rsp": In(stream.Signature(unsigned(32))),
            "start": Out(1),
            "done": In(1),
            "busy": In(1),
            "overrun": In(1),
            "frame_error": In(1),
            "activity": Out(1),
            "error": Out(1),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        maxp = p.max_payload

        # ---- frame buffer and its word reader ------------------------------------------
        m.submodules.buf = buf = Memory(shape=unsigned(8), depth=maxp, init=[])
        wp = buf.write_port()
        rp = buf.read_port()

        op = Signal(8)
        length = Signal(16)
        idx = Signal(16)
        crc = Signal(8)
        rx_take = Signal()
        m.d.comb += rx_take.eq(self.rx.valid & self.rx.ready)
        byte = self.rx.payload

        rd_active = Signal()
        rd_ptr = Signal(range(maxp + 1))
        b_valid = Signal()
        b_ready = Signal()
        advance = ~b_valid | b_ready
        m.d.comb += [rp.addr.eq(rd_ptr), rp.en.eq(advance)]
        with m.If(advance):
            more = rd_active & (rd_ptr < length)
            m.d.sync += b_valid.eq(more)
            with m.If(more):
                m.d.sync += rd_ptr.eq(rd_ptr + 1)
        # bytes → little-endian words
        wbuf = Signal(32)
        wcnt = Signal(range(5))
        w_valid = Signal()
        w_ready = Signal()
        m.d.comb += [w_valid.eq(wcnt == 4), b_ready.eq(wcnt != 4)]
        with m.If(b_valid & b_ready):
            m.d.sync += [wbuf.eq(Cat(wbuf[8:], rp.data)), wcnt.eq(wcnt + 1)]
        with m.If(w_valid & w_ready):
            m.d.sync += wcnt.eq(0)

        # ---- status and counters -------------------------------------------------------
        done_seen = Signal()
        running = Signal()
        run_cycles = Signal(32)
        done_q = Signal()
        frames = Signal(32)
        crc_errors = Signal(16)
        timeouts = Signal(16)
        stray = Signal(16)
        overruns = Signal(16)
        framing = Signal(16)
        err_flag = Signal()
        # a protocol error sets `err_set`, which sets the sticky LED flag a cycle later: the
        # flag sits by its pin, the checks by the protocol engine, and only a register-to-
        # register hop crosses between them
        err_set = Signal()
        snap_flags = Signal(32)
        snap_cycles = Signal(32)
        start_now = Signal()
        m.d.comb += self.error.eq(err_flag)
        m.d.sync += [done_q.eq(self.done), err_set.eq(0)]
        with m.If(err_set):
            m.d.sync += err_flag.eq(1)
        with m.If(running):
            m.d.sync += run_cycles.eq(run_cycles + 1)
        with m.If(self.done & ~done_q & running):
            m.d.sync += [done_seen.eq(1), running.eq(0)]
        with m.If(start_now):
            m.d.sync += [done_seen.eq(0), running.eq(1), run_cycles.eq(0)]
        with m.If(self.overrun):
            m.d.sync += [overruns.eq(overruns + 1), err_set.eq(1)]
        with m.If(self.frame_error):
            m.d.sync += [framing.eq(framing + 1), err_set.eq(1)]

        # ---- responder: header + payload words → {data, last} bytes → framer -----------------
        m.submodules.framer = framer = _TxFramer()
        wiring.connect(m, framer.o, wiring.flipped(self.tx))
        fr = framer.i
        SRC_REGS, SRC_MEM, SRC_PKT = 0, 1, 2
        # header requested by the main FSM (m_*) or by the ring drainer (d_*)
        m_op, m_status, m_len, m_src = Signal(8), Signal(8), Signal(16), Signal(2)
        m_go, d_go = Signal(), Signal()
        r_op, r_status, r_len, r_src = Signal(8), Signal(8), Signal(16), Signal(2)
        resp_idle = Signal()
        hidx = Signal(2)
        bidx = Signal(2)
        widx = Signal(3)
        rem = Signal(16)
        pw_valid, pw_ready, pw_data = Signal(), Signal(), Signal(32)
        pkt = Signal(64)
        ring_count = Signal(32)

        regs = Signal(32)
        info = [Const(w, 32) for w in p.info()]
        status = [snap_flags, snap_cycles, frames, Cat(crc_errors, timeouts), Cat(stray, overruns),
                  framing]
        with m.Switch(op):
            with m.Case(Cmd.INFO):
                m.d.comb += regs.eq(Array(info)[widx])
            with m.Case(Cmd.STATUS):
                m.d.comb += regs.eq(Array(status + [Const(0, 32)] * 2)[widx])
            with m.Default():
                m.d.comb += regs.eq(ring_count)
        with m.Switch(r_src):
            with m.Case(SRC_REGS):
                m.d.comb += [pw_valid.eq(1), pw_data.eq(regs)]
            with m.Case(SRC_MEM):
                m.d.comb += [pw_valid.eq(self.mem_rsp.valid), pw_data.eq(self.mem_rsp.payload),
                             self.mem_rsp.ready.eq(pw_ready)]
            with m.Case(SRC_PKT):
                m.d.comb += [pw_valid.eq(1), pw_data.eq(pkt.word_select(widx[0], 32))]

        with m.FSM(name="resp"):
            with m.State("IDLE"):
                m.d.comb += resp_idle.eq(1)
                with m.If(d_go):
                    m.d.sync += [r_op.eq(DATA_OP), r_status.eq(0), r_len.eq(8), r_src.eq(SRC_PKT)]
                with m.Else():
                    m.d.sync += [r_op.eq(m_op), r_status.eq(m_status), r_len.eq(m_len),
                                 r_src.eq(m_src)]
                with m.If(m_go | d_go):
                    m.d.sync += [hidx.eq(0), bidx.eq(0), widx.eq(0)]
                    m.next = "HDR"
            with m.State("HDR"):
                hdr = Array([r_op, r_status, r_len[:8], r_len[8:]])
                m.d.comb += [fr.valid.eq(1), fr.payload.data.eq(hdr[hidx]),
                             fr.payload.last.eq((hidx == 3) & (r_len == 0))]
                with m.If(fr.ready):
                    m.d.sync += [hidx.eq(hidx + 1), rem.eq(r_len)]
                    with m.If(hidx == 3):
                        with m.If(r_len == 0):
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "PAY"
            with m.State("PAY"):
                m.d.comb += [fr.valid.eq(pw_valid), fr.payload.data.eq(pw_data.word_select(bidx, 8)),
                             fr.payload.last.eq(rem == 1)]
                with m.If(fr.valid & fr.ready):
                    m.d.sync += [bidx.eq(bidx + 1), rem.eq(rem - 1)]
                    with m.If(bidx == 3):
                        m.d.comb += pw_ready.eq(1)
                        m.d.sync += widx.eq(widx + 1)
                    with m.If(rem == 1):
                        m.next = "IDLE"

        # ---- ring drainer: forwards what comes back from the ring while a RING command runs --
        ring_on = Signal()
        fence_seen = Signal()
        drain_idle = Signal()
        ring_quiet = Signal(range(p.ring_timeout_cycles + 1))
        back = self.cfg_i.payload
        echo = (back.op == Op.WRITE) & (back.unit == BROADCAST)
        is_fence = (back.op == Op.READ) & (back.unit == BROADCAST)
        with m.FSM(name="drain"):
            with m.State("IDLE"):
                m.d.comb += drain_idle.eq(1)
                with m.If(ring_on & ~fence_seen & resp_idle):
                    m.d.comb += self.cfg_i.ready.eq(1)
                    with m.If(self.cfg_i.valid):
                        with m.If(is_fence):
                            m.d.sync += fence_seen.eq(1)
                        with m.Elif(~echo):
                            m.d.comb += d_go.eq(1)
                            m.d.sync += [pkt.eq(back.as_value()), ring_count.eq(ring_count + 1)]
                            m.next = "SEND"
            with m.State("SEND"):
                with m.If(resp_idle):
                    m.next = "IDLE"

        # ---- main FSM ----------------------------------------------------------------------
        quiet = Signal(range(p.timeout + 1))
        npk = Signal(16)
        nwords = Signal(16)
        pkt_lo = Signal(32)
        addr = Signal(32)
        count = Signal(32)
        act = Signal()
        in_frame = Signal()

        def respond(status, length=0, src=SRC_REGS):
            m.d.sync += [m_op.eq(op), m_status.eq(status), m_len.eq(length), m_src.eq(src)]
            if status != Status.OK:
                m.d.sync += err_set.eq(1)
            m.next = "SEND"

        def frame_timeout():
            # inter-byte timeout inside a request frame (a lost byte)
            with m.If(rx_take):
                m.d.sync += quiet.eq(0)
            with m.Elif(quiet == p.timeout):
                m.d.sync += timeouts.eq(timeouts + 1)
                respond(Status.TIMEOUT)
            with m.Else():
                m.d.sync += quiet.eq(quiet + 1)

        def ring_watchdog():
            # no packet moved on the ring for ring_timeout_cycles: a unit stalls the ring
            moved = ((self.cfg_o.valid & self.cfg_o.ready) | (self.cfg_i.valid & self.cfg_i.ready)
                     | ~drain_idle)
            with m.If(moved):
                m.d.sync += ring_quiet.eq(0)
            with m.Elif(ring_quiet == p.ring_timeout_cycles):
                respond(Status.RING_TIMEOUT)
            with m.Else():
                m.d.sync += ring_quiet.eq(ring_quiet + 1)

        with m.FSM(name="main"):
            with m.State("IDLE"):
                m.d.comb += self.rx.ready.eq(1)
                m.d.sync += [rd_active.eq(0), b_valid.eq(0), wcnt.eq(0), quiet.eq(0)]
                with m.If(rx_take):
                    with m.If(byte == SYNC_REQ):
                        m.d.sync += [crc.eq(0), idx.eq(0), op.eq(0)]
                        m.next = "OP"
                    with m.Else():
                        m.d.sync += stray.eq(stray + 1)
            for state, nxt in (("OP", "LEN0"), ("LEN0", "LEN1")):
                with m.State(state):
                    m.d.comb += [self.rx.ready.eq(1), in_frame.eq(1)]
                    with m.If(rx_take):
                        m.d.sync += crc.eq(_crc8_step(crc, byte))
                        if state == "OP":
                            m.d.sync += op.eq(byte)
                        else:
                            m.d.sync += length[:8].eq(byte)
                        m.next = nxt
                    frame_timeout()
            with m.State("LEN1"):
                m.d.comb += [self.rx.ready.eq(1), in_frame.eq(1)]
                with m.If(rx_take):
                    m.d.sync += [crc.eq(_crc8_step(crc, byte)), length[8:].eq(byte), idx.eq(0)]
                    with m.If((length[:8] == 0) & (byte == 0)):
                        m.next = "CRC"
                    with m.Else():
                        m.next = "PAYLOAD"
                frame_timeout()
            with m.State("PAYLOAD"):
                m.d.comb += [self.rx.ready.eq(1), in_frame.eq(1)]
                m.d.comb += [wp.addr.eq(idx), wp.data.eq(byte), wp.en.eq(rx_take & (idx < maxp))]
                with m.If(rx_take):
                    m.d.sync += [crc.eq(_crc8_step(crc, byte)), idx.eq(idx + 1)]
                    with m.If(idx + 1 == length):
                        m.next = "CRC"
                frame_timeout()
            with m.State("CRC"):
                m.d.comb += [self.rx.ready.eq(1), in_frame.eq(1)]
                with m.If(rx_take):
                    with m.If(byte != crc):
                        m.d.sync += crc_errors.eq(crc_errors + 1)
                        respond(Status.BAD_CRC)
                    with m.Elif(length > maxp):
                        respond(Status.BAD_LENGTH)
                    with m.Else():
                        m.d.sync += [frames.eq(frames + 1), rd_active.eq(1), rd_ptr.eq(0),
                                     npk.eq(length[3:]), nwords.eq(length[2:]),
                                     ring_count.eq(0), fence_seen.eq(0)]
                        m.next = "DISPATCH"
                frame_timeout()
            with m.State("DISPATCH"):
                m.d.comb += act.eq(1)
                with m.Switch(op):
                    with m.Case(Cmd.INFO):
                        with m.If(length != 0):
                            respond(Status.BAD_LENGTH)
                        with m.Else():
                            respond(Status.OK, 4 * len(INFO_WORDS))
                    with m.Case(Cmd.STATUS):
                        with m.If(length != 0):
                            respond(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += [snap_flags.eq(Cat(done_seen, self.done, self.busy,
                                                           running)),
                                         snap_cycles.eq(run_cycles)]
                            respond(Status.OK, 4 * len(STATUS_WORDS))
                    with m.Case(Cmd.START):
                        with m.If(length != 0):
                            respond(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.comb += [self.start.eq(1), start_now.eq(1)]
                            respond(Status.OK)
                    with m.Case(Cmd.WRITE):
                        with m.If((length < 4) | (length[:2] != 0)):
                            respond(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += nwords.eq(length[2:] - 1)
                            m.next = "WRITE_ADDR"
                    with m.Case(Cmd.READ):
                        with m.If(length != 8):
                            respond(Status.BAD_LENGTH)
                        with m.Else():
                            m.next = "READ_ADDR"
                    with m.Case(Cmd.RING):
                        with m.If(length[:3] != 0):
                            respond(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += ring_quiet.eq(0)
                            m.next = "RING_LO"
                    with m.Default():
                        respond(Status.BAD_OPCODE)

            # WRITE: address word, then data words → memory writes
            with m.State("WRITE_ADDR"):
                m.d.comb += [act.eq(1), w_ready.eq(1)]
                with m.If(w_valid):
                    m.d.sync += addr.eq(wbuf)
                    with m.If(wbuf + nwords > p.mem_words):
                        respond(Status.RANGE)
                    with m.Else():
                        m.next = "WRITE_RUN"
            with m.State("WRITE_RUN"):
                m.d.comb += act.eq(1)
                with m.If(nwords == 0):
                    respond(Status.OK)
                with m.Else():
                    m.d.comb += [self.mem_req.valid.eq(w_valid), self.mem_req.payload.we.eq(1),
                                 self.mem_req.payload.addr.eq(addr),
                                 self.mem_req.payload.data.eq(wbuf),
                                 w_ready.eq(self.mem_req.ready)]
                    with m.If(self.mem_req.valid & self.mem_req.ready):
                        m.d.sync += [addr.eq(addr + 1), nwords.eq(nwords - 1)]

            # READ: address and count words → stream count words back
            with m.State("READ_ADDR"):
                m.d.comb += [act.eq(1), w_ready.eq(1)]
                with m.If(w_valid):
                    m.d.sync += addr.eq(wbuf)
                    m.next = "READ_COUNT"
            with m.State("READ_COUNT"):
                m.d.comb += [act.eq(1), w_ready.eq(1)]
                with m.If(w_valid):
                    m.d.sync += count.eq(wbuf)
                    with m.If((wbuf > MAX_READ_WORDS) | (addr + wbuf > p.mem_words) |
                              (addr > p.mem_words)):
                        respond(Status.RANGE)
                    with m.Else():
                        m.d.sync += [m_op.eq(op), m_status.eq(Status.OK), m_len.eq(wbuf << 2),
                                     m_src.eq(SRC_MEM)]
                        m.next = "READ_GO"
            with m.State("READ_GO"):
                m.d.comb += [act.eq(1), m_go.eq(1)]
                m.next = "READ_RUN"
            with m.State("READ_RUN"):
                m.d.comb += act.eq(1)
                m.d.comb += [self.mem_req.valid.eq(count != 0), self.mem_req.payload.we.eq(0),
                             self.mem_req.payload.addr.eq(addr)]
                with m.If(self.mem_req.valid & self.mem_req.ready):
                    m.d.sync += [addr.eq(addr + 1), count.eq(count - 1)]
                with m.If((count == 0) & resp_idle):
                    m.next = "IDLE"

            # RING: packets → cfg_o, then the fence; the drainer forwards what comes back
            with m.State("RING_LO"):
                m.d.comb += [act.eq(1), ring_on.eq(1)]
                with m.If(npk == 0):
                    m.next = "RING_FENCE"
                with m.Else():
                    m.d.comb += w_ready.eq(1)
                    with m.If(w_valid):
                        m.d.sync += pkt_lo.eq(wbuf)
                        m.next = "RING_HI"
                ring_watchdog()
            with m.State("RING_HI"):
                m.d.comb += [act.eq(1), ring_on.eq(1)]
                out = Signal(64)
                m.d.comb += [out.eq(Cat(pkt_lo, wbuf)),
                             self.cfg_o.valid.eq(w_valid),
                             self.cfg_o.payload.eq(out[:CFG_PACKET.size]),
                             w_ready.eq(self.cfg_o.ready)]
                with m.If(self.cfg_o.valid & self.cfg_o.ready):
                    pl = self.cfg_o.payload
                    with m.If((pl.op == Op.WRITE) & (pl.addr == AddressMap.CONTROL) &
                              pl.data[0]):
                        m.d.comb += start_now.eq(1)
                    m.d.sync += npk.eq(npk - 1)
                    m.next = "RING_LO"
                ring_watchdog()
            with m.State("RING_FENCE"):
                m.d.comb += [act.eq(1), ring_on.eq(1), self.cfg_o.valid.eq(1),
                             self.cfg_o.payload.as_value().eq(FENCE)]
                with m.If(self.cfg_o.ready):
                    m.next = "RING_WAIT"
                ring_watchdog()
            with m.State("RING_WAIT"):
                m.d.comb += [act.eq(1), ring_on.eq(1)]
                with m.If(fence_seen & drain_idle):
                    respond(Status.OK, 4)
                with m.Else():
                    ring_watchdog()

            with m.State("SEND"):
                with m.If(resp_idle & drain_idle):
                    m.d.comb += m_go.eq(1)
                    m.next = "SEND_WAIT"
            with m.State("SEND_WAIT"):
                with m.If(resp_idle):
                    m.next = "IDLE"
        m.d.comb += self.activity.eq(act | in_frame)
        return m


class HostBridge(wiring.Component):
    """UART pins (``rx`` in, ``tx`` out) + receive FIFO + :class:`BridgeCore`: the block a board top
    instantiates. Target ports as :class:`BridgeCore`; ``activity`` and ``error`` drive LEDs."""

    def __init__(self, params=None):
        self.params = params if params is not None else BridgeParams()
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "cfg_o": Out(CONFIG_RING),
            "cfg_i": In(CONFIG_RING),
            "mem_req": Out(stream.Signature(MEM_REQ)),
            "mem_rsp": In(stream.Signature(unsigned(32))),
            "start": Out(1),
            "done": In(1),
            "busy": In(1),
            "activity": Out(1),
            "error": Out(1),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        m.submodules.uart_rx = urx = UARTRx(p.divisor)
        m.submodules.uart_tx = utx = UARTTx(p.divisor)
        m.submodules.rx_fifo = fifo = StreamFIFO(unsigned(8), p.rx_fifo)
        m.submodules.core = core = BridgeCore(p)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        wiring.connect(m, urx.o, fifo.i)
        wiring.connect(m, fifo.o, core.rx)
        wiring.connect(m, core.tx, utx.i)
        m.d.comb += [core.overrun.eq(urx.overrun), core.frame_error.eq(urx.frame_error)]
        wiring.connect(m, core.cfg_o, wiring.flipped(self.cfg_o))
        wiring.connect(m, wiring.flipped(self.cfg_i), core.cfg_i)
        wiring.connect(m, core.mem_req, wiring.flipped(self.mem_req))
        wiring.connect(m, wiring.flipped(self.mem_rsp), core.mem_rsp)
        m.d.comb += [self.start.eq(core.start), core.done.eq(self.done), core.busy.eq(self.busy),
                     self.activity.eq(core.activity), self.error.eq(core.error)]
        return m
