"""Host side of the bridge protocol (:mod:`fpga.bridge`): the same Python code drives a real board
over a serial port and the Verilator model of the board top over its UART pins.

Transports
----------
A transport moves bytes: ``write(data)``, ``read(n, timeout) -> bytes`` (fewer than ``n`` when
the timeout expires), ``sleep(seconds)``, ``byte_time`` (seconds per byte on the line).

* :class:`SerialTransport` — a board on a serial port (pyserial, imported only when used).
* :class:`SimTransport` — the UART pins of a Verilator model, from a cocotb test. The host code runs
  in a thread started with ``cocotb.task.bridge``; every transport call blocks that thread while
  the simulation advances (``cocotb.task.resume``). Times are scaled: one host second is ``time_scale``
  seconds of simulated time (default 1 ms), so host timeouts keep their meaning relative to the
  UART's speed in simulation.

API
---
:class:`Host` — ``info()``, ``ring(packets)``, ``load_packets(hw.config.ConfigPackets)``,
``write_mem(addr, words)``, ``read_mem(addr, n)``, ``start()``, ``status()``,
``wait_done(timeout)``, ``read_counters(unit, n)``, ``read_reg`` / ``write_reg``. Large
transfers are split into frames of at most the bridge's ``max_payload`` bytes.

Errors (:class:`BridgeError` and subclasses) name the command, what happened and what to check:
:class:`BridgeTimeout` (no or partial answer), :class:`ChecksumError` (a response failed its CRC),
:class:`BridgeError` with ``status`` for an error the bridge reported (bad CRC of the request, bad
length, address range, ring timeout, ...). After a failed command the host waits out the bridge's
inter-byte timeout and drops pending input, so the next command starts clean.
"""

from __future__ import annotations

import dataclasses
import struct
import time

import numpy as np
from cocotb.task import resume

from fpga.bridge import (
    DATA_OP,
    INFO_WORDS,
    MAGIC,
    MAX_READ_WORDS,
    SYNC_REQ,
    SYNC_RSP,
    Cmd,
    Status,
    crc8,
)
from hw.config import AddressMap, ConfigPackets, Packet, responses

__all__ = ["Transport", "SerialTransport", "SimTransport", "Host", "BridgeInfo", "BridgeStatus",
           "BridgeError", "BridgeTimeout", "ChecksumError", "encode_request", "STATUS_TEXT"]

STATUS_TEXT = {
    Status.BAD_CRC: "the request failed its checksum at the bridge (corrupted on the line)",
    Status.BAD_LENGTH: "the request's length is wrong for this command or exceeds the bridge's "
                       "max_payload",
    Status.BAD_OPCODE: "the bridge does not know this opcode (host/bitstream version mismatch?)",
    Status.TIMEOUT: "the bridge timed out in the middle of the request frame (bytes were lost "
                    "on the line)",
    Status.RANGE: "the memory address range is outside the board memory",
    Status.RING_TIMEOUT: "the configuration ring stopped moving (a unit on the ring stalls)",
}


class BridgeError(RuntimeError):
    """A command failed. ``command``: which; ``status``: the bridge's status code, if it sent one."""

    def __init__(self, message, command=None, status=None):
        super().__init__(message)
        self.command = command
        self.status = status


class BridgeTimeout(BridgeError):
    pass


class ChecksumError(BridgeError):
    pass


def encode_request(op, payload=b""):
    """A request frame: ``A5 OP LEN_LO LEN_HI PAYLOAD CRC``."""
    payload = bytes(payload)
    body = bytes([int(op) & 0xFF]) + struct.pack("<H", len(payload)) + payload
    return bytes([SYNC_REQ]) + body + bytes([crc8(body)])


def _words(payload):
    return list(struct.unpack(f"<{len(payload) // 4}I", payload[: len(payload) // 4 * 4]))


# ------------------------------------------------------------------------------------------
# transports
# ------------------------------------------------------------------------------------------

class Transport:
    """Abstract byte transport (see the module docstring)."""

    name = "transport"
    byte_time = 0.0

    def write(self, data):
        raise NotImplementedError

    def read(self, n, timeout):
        raise NotImplementedError

    def sleep(self, seconds):
        time.sleep(seconds)

    def drain(self, quiet=0.01):
        """Read and return whatever arrives until the line is quiet for ``quiet`` seconds."""
        out = b""
        while True:
            got = self.read(256, quiet)
            if not got:
                return out
            out += got

    def close(self):
        pass


class SerialTransport(Transport):
    """A serial port (``/dev/ttyUSB0``, ``COM3``...) at ``baud`` 8N1, via pyserial."""

    def __init__(self, port, baud=1_000_000):
        try:
            # deferred: pyserial is an optional dependency (the fpga extra), needed only here
            import serial
        except ImportError:
            raise BridgeError("pyserial is not installed: pip install pyserial (or "
                              "pip install -e '.[fpga]')") from None
        try:
            self.ser = serial.Serial(port, baudrate=baud, bytesize=8, parity="N", stopbits=1,
                                     timeout=0.1)
        except serial.SerialException as e:
            raise BridgeError(f"cannot open serial port {port}: {e}") from None
        self.name = f"{port} at {baud} baud"
        self.baud = baud
        self.byte_time = 10.0 / baud
        self.ser.reset_input_buffer()

    def write(self, data):
        self.ser.write(bytes(data))
        self.ser.flush()

    def read(self, n, timeout):
        deadline = time.monotonic() + timeout
        out = b""
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.ser.timeout = min(left, 0.5)
            out += self.ser.read(n - len(out))
        return out

    def close(self):
        self.ser.close()


class SimTransport(Transport):
    """The UART pins of a Verilator model, through a :class:`tb.uart.UartModel`.

    Use from a cocotb test: ``await cocotb.task.bridge(host_function)(Host(SimTransport(model)))``.
    ``time_scale``: simulated seconds per host second (default 1e-3).
    """

    def __init__(self, model, time_scale=1e-3):
        self.model = model
        self.time_scale = time_scale
        self.name = "simulated UART"
        self.byte_time = model.byte_ns * 1e-9 / time_scale
        self._write = resume(model.send)
        self._read = resume(model.receive)
        self._sleep = resume(model.wait_ns)

    def write(self, data):
        self._write(bytes(data))

    def read(self, n, timeout):
        return self._read(n, timeout * self.time_scale * 1e9)

    def sleep(self, seconds):
        self._sleep(seconds * self.time_scale * 1e9)


# ------------------------------------------------------------------------------------------
# host API
# ------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class BridgeInfo:
    """What INFO reports (:data:`fpga.bridge.INFO_WORDS`)."""

    magic: int
    version: int
    max_payload: int
    mem_words: int
    clk_hz: int
    divisor: int
    timeout_cycles: int
    ident: int

    @property
    def baud(self):
        return self.clk_hz / self.divisor

    @property
    def timeout_s(self):
        return self.timeout_cycles / self.clk_hz


@dataclasses.dataclass(frozen=True)
class BridgeStatus:
    """What STATUS reports."""

    done: bool          # done rose since the last start
    done_level: bool
    busy: bool
    running: bool
    run_cycles: int     # cycles from the last start to done (so far, while running)
    frames: int
    crc_errors: int
    timeouts: int
    stray_bytes: int
    overruns: int
    framing_errors: int

    @classmethod
    def decode(cls, words):
        f, cyc, frames, ct, so, fe = words[:6]
        return cls(bool(f & 1), bool(f & 2), bool(f & 4), bool(f & 8), cyc, frames,
                   ct & 0xFFFF, ct >> 16, so & 0xFFFF, so >> 16, fe & 0xFFFF)


class Host:
    """The bridge's host API over a :class:`Transport`. ``timeout``: seconds to wait for the first
    byte of a response (longer responses get their transfer time on top)."""

    def __init__(self, transport, timeout=1.0):
        self.t = transport
        self.timeout = timeout
        self._info = None
        self.stats = {"frames": 0, "bytes_out": 0, "bytes_in": 0}

    # ---- framing ---------------------------------------------------------------------------

    def _read_exact(self, n, timeout, command, what):
        data = self.t.read(n, timeout)
        if len(data) < n:
            raise BridgeTimeout(
                f"{command}: no answer from the bridge within {timeout:.3g} s ({what}: got "
                f"{len(data)} of {n} bytes) on {self.t.name}; is the board powered, running the "
                f"bridge bitstream, and at the same baud rate?", command)
        self.stats["bytes_in"] += n
        return data

    def _read_frame(self, command, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        skipped = 0
        while True:
            b = self._read_exact(1, timeout, command, "response sync byte")
            if b[0] == SYNC_RSP:
                break
            skipped += 1
            if skipped > 4096:
                raise BridgeError(f"{command}: {skipped} bytes without a response sync byte "
                                  f"(0x{SYNC_RSP:02x}) on {self.t.name}: wrong baud rate?", command)
        hdr = self._read_exact(4, timeout, command, "response header")
        op, status = hdr[0], hdr[1]
        (length,) = struct.unpack("<H", hdr[2:4])
        rest = self._read_exact(length + 1, timeout + 2 * (length + 1) * self.t.byte_time,
                                command, f"{length}-byte response payload")
        payload, crc = rest[:-1], rest[-1]
        if crc8(hdr + payload) != crc:
            raise ChecksumError(f"{command}: the response failed its checksum (got 0x{crc:02x}, "
                                f"computed 0x{crc8(hdr + payload):02x}; op 0x{op:02x}, "
                                f"{length} bytes): corrupted on the line", command)
        return op, status, payload

    def _check(self, command, op, expect_op, status):
        if status != Status.OK:
            try:
                st = Status(status)
                text = f"{st.name}: {STATUS_TEXT.get(st, '')}"
            except ValueError:
                text = f"unknown status {status}"
            raise BridgeError(f"{command}: the bridge reported {text}", command, status)
        if op != expect_op:
            raise BridgeError(f"{command}: response opcode 0x{op:02x} where 0x{int(expect_op):02x} "
                              f"was expected (out of step: a stale response?)", command)

    def _exchange(self, command, op, payload=b""):
        frame = encode_request(op, payload)
        self.t.write(frame)
        self.stats["frames"] += 1
        self.stats["bytes_out"] += len(frame)
        try:
            rop, status, data = self._read_frame(command)
            self._check(command, rop, op, status)
        except BridgeError:
            self.recover()
            raise
        return data

    def recover(self):
        """After an error: wait out the bridge's inter-byte timeout and drop pending input."""
        wait = (self._info.timeout_s if self._info else 0.05) * 1.5
        self.t.sleep(wait)
        self.t.drain(quiet=max(wait, 20 * self.t.byte_time))

    # ---- commands --------------------------------------------------------------------------

    def info(self, refresh=False):
        """The bridge's parameters (:class:`BridgeInfo`); checks the magic number."""
        if self._info is None or refresh:
            words = _words(self._exchange("info", Cmd.INFO))
            if len(words) != len(INFO_WORDS) or words[0] != MAGIC:
                raise BridgeError(f"info: not an rdugen bridge (magic {words[:1]}, expected "
                                  f"0x{MAGIC:08x})", "info")
            self._info = BridgeInfo(*words)
        return self._info

    def ring(self, packets):
        """Send ``packets`` (:class:`hw.config.Packet` or encoded ints) into the configuration
        ring; return the packets that came back (RESPs, or unanswered packets) in order."""
        words = [p.encode() if isinstance(p, Packet) else int(p) for p in packets]
        per_frame = self.info().max_payload // 8
        back = []
        for i in range(0, max(len(words), 1), per_frame):
            chunk = words[i:i + per_frame]
            command = f"ring(packets {i}..{i + len(chunk) - 1} of {len(words)})"
            frame = encode_request(Cmd.RING, b"".join(struct.pack("<Q", w) for w in chunk))
            self.t.write(frame)
            self.stats["frames"] += 1
            self.stats["bytes_out"] += len(frame)
            got = []
            try:
                while True:
                    op, status, data = self._read_frame(command)
                    if op == DATA_OP and status == Status.OK and len(data) == 8:
                        got.append(Packet.decode(struct.unpack("<Q", data)[0]))
                        continue
                    self._check(command, op, Cmd.RING, status)
                    (count,) = _words(data)
                    if count != len(got):
                        raise BridgeError(f"{command}: the bridge sent {count} ring packets but "
                                          f"{len(got)} arrived", command)
                    break
            except BridgeError:
                self.recover()
                raise
            back += got
        return back

    def load_packets(self, packets):
        """Stream a :class:`hw.config.ConfigPackets` through the ring; return the data of its READs
        (raises :class:`hw.config.RingError` for packets no unit answered)."""
        return responses(packets.packets, self.ring(packets.packets))

    def write_mem(self, addr, words):
        """Write ``words`` (32-bit ints or a numpy array; signed values are taken mod 2^32) at
        word address ``addr`` of the board memory."""
        words = np.asarray(words).astype(np.int64).ravel() & 0xFFFFFFFF
        per_frame = self.info().max_payload // 4 - 1
        self._range("write_mem", addr, len(words))
        for i in range(0, len(words), per_frame):
            chunk = words[i:i + per_frame]
            payload = struct.pack("<I", addr + i) + chunk.astype("<u4").tobytes()
            self._exchange(f"write_mem(addr=0x{addr + i:x}, n={len(chunk)})", Cmd.WRITE, payload)

    def read_mem(self, addr, n):
        """``n`` words from word address ``addr`` as a ``uint32`` numpy array."""
        self._range("read_mem", addr, n)
        per_frame = min(MAX_READ_WORDS, 4096)
        out = []
        for i in range(0, n, per_frame):
            k = min(per_frame, n - i)
            data = self._exchange(f"read_mem(addr=0x{addr + i:x}, n={k})", Cmd.READ,
                                  struct.pack("<II", addr + i, k))
            if len(data) != 4 * k:
                raise BridgeError(f"read_mem: {len(data)} bytes for {k} words", "read_mem")
            out.append(np.frombuffer(data, "<u4"))
        return np.concatenate(out).astype(np.uint32) if out else np.zeros(0, np.uint32)

    def _range(self, command, addr, n):
        words = self.info().mem_words
        if addr < 0 or addr + n > words:
            raise BridgeError(f"{command}(addr=0x{addr:x}, n={n}): outside the board memory of "
                              f"{words} words", command)

    def start(self):
        """Pulse the design's ``start`` (and restart the bridge's run-cycle counter)."""
        self._exchange("start", Cmd.START)

    def status(self):
        return BridgeStatus.decode(_words(self._exchange("status", Cmd.STATUS)))

    def wait_done(self, timeout=10.0, poll=None):
        """Poll STATUS until the design is done; return the :class:`BridgeStatus`. Raises
        :class:`BridgeTimeout` naming how long it ran and whether it was busy."""
        poll = poll if poll is not None else max(0.002, 200 * self.t.byte_time)
        waited = 0.0
        while True:
            st = self.status()
            if st.done:
                return st
            if waited >= timeout:
                raise BridgeTimeout(f"wait_done: the design is not done after {timeout:.3g} s "
                                    f"({st.run_cycles} cycles since start, busy={int(st.busy)}, "
                                    f"running={int(st.running)})", "wait_done")
            self.t.sleep(poll)
            waited += poll + 20 * self.t.byte_time

    def read_reg(self, unit, addr):
        return self.load_packets(ConfigPackets().read(unit, addr))[0]

    def write_reg(self, unit, addr, value):
        self.load_packets(ConfigPackets().write(unit, addr, value))

    def read_counters(self, unit, n):
        """Performance counters ``0..n-1`` of ``unit`` (ring READs of ``PERF + i``)."""
        b = ConfigPackets()
        for i in range(n):
            b.read(unit, AddressMap.PERF + i)
        return self.load_packets(b)
