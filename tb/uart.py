"""Bit-level UART model for cocotb: the host's serial line, attached to a design's UART pins.

:class:`UartModel` drives the design's receive pin and decodes its transmit pin, one Python wake-up
per bit (``Timer``), so a byte costs ~20 wake-ups whatever the clock rate. It is what
:class:`fpga.host.SimTransport` uses; the host code on top is the one that drives real boards.

* ``send(data)`` — 8N1 frames at ``bit_ns`` per bit; between bytes an idle gap drawn from
  ``gap_ns`` (``(lo, hi)``, uniform, any nanosecond — not aligned to the design's clock), so the
  receiver's synchronizer and start-bit detection see arbitrary phases.
* a receive task decodes the design's TX pin (start bit validated at mid-bit, data sampled at bit
  centres, stop bit checked: a framing error raises at once) into ``received``.
* ``receive(n, timeout_ns)`` — up to ``n`` bytes, fewer if the timeout expires.
* Fault injection for tests: ``mangle_next(fn)`` rewrites the next ``send``'s bytes (flip a bit,
  drop a byte); ``corrupt_rx(index)`` flips a bit of the ``index``-th byte received from now on.

Tolerance: ``baud_error`` scales the host's bit time (e.g. 1.02 sends 2% slow) to test the
receiver's margin.
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.triggers import Event, FallingEdge, First, Timer
from cocotb.utils import get_sim_time

__all__ = ["UartModel"]


class UartModel:
    """``rx_pin``: the design's receive input (driven here); ``tx_pin``: its transmit output;
    ``bit_ns``: the design's bit time (divisor × clock period); ``seed``: for the gaps."""

    def __init__(self, rx_pin, tx_pin, bit_ns, seed=0, gap_ns=(0, 0), baud_error=1.0):
        self.rx_pin = rx_pin
        self.tx_pin = tx_pin
        self.bit_ns = bit_ns
        self.host_bit_ns = bit_ns * baud_error
        self.byte_ns = 10 * bit_ns
        self.gap_ns = gap_ns
        self.rng = np.random.default_rng(seed)
        self.received = bytearray()
        self.sent = 0
        self._event = Event()
        self._mangle = None
        self._corrupt = set()
        self._rx_count = 0
        self.rx_pin.value = 1
        self._task = cocotb.start_soon(self._receiver())

    # ---- host → design ----------------------------------------------------------------------

    def mangle_next(self, fn):
        """``fn(bytes) -> bytes`` rewrites the next frame sent (fault injection)."""
        self._mangle = fn

    def corrupt_rx(self, index):
        """Flip bit 0 of the ``index``-th byte received from the design, counted from now."""
        self._corrupt.add(self._rx_count + index)

    async def send(self, data):
        data = bytes(data)
        if self._mangle is not None:
            data, self._mangle = bytes(self._mangle(data)), None
        bit = self.host_bit_ns
        for b in data:
            lo, hi = self.gap_ns
            if hi > 0:
                gap = int(self.rng.integers(lo, hi + 1))
                if gap:
                    await Timer(gap, unit="ns")
            self.rx_pin.value = 0
            await Timer(round(bit), unit="ns", round_mode="round")
            for i in range(8):
                self.rx_pin.value = (b >> i) & 1
                await Timer(round(bit), unit="ns", round_mode="round")
            self.rx_pin.value = 1
            await Timer(round(bit), unit="ns", round_mode="round")
            self.sent += 1

    # ---- design → host ----------------------------------------------------------------------

    async def _receiver(self):
        half = self.bit_ns / 2
        while True:
            await FallingEdge(self.tx_pin)
            await Timer(round(half), unit="ns", round_mode="round")
            if int(self.tx_pin.value) != 0:
                continue   # a glitch
            b = 0
            for i in range(8):
                await Timer(self.bit_ns, unit="ns", round_mode="round")
                b |= int(self.tx_pin.value) << i
            await Timer(self.bit_ns, unit="ns", round_mode="round")
            if int(self.tx_pin.value) != 1:
                raise AssertionError(f"UART model: framing error on the design's TX pin (byte "
                                     f"{len(self.received)}: stop bit low)")
            if self._rx_count in self._corrupt:
                self._corrupt.discard(self._rx_count)
                b ^= 1
            self._rx_count += 1
            self.received.append(b)
            self._event.set()

    async def receive(self, n, timeout_ns):
        """Up to ``n`` received bytes; waits at most ``timeout_ns`` of simulated time."""
        deadline = get_sim_time("ns") + timeout_ns
        while len(self.received) < n:
            left = deadline - get_sim_time("ns")
            if left <= 0:
                break
            self._event.clear()
            await First(self._event.wait(), Timer(max(1, round(left)), unit="ns"))
        out = bytes(self.received[:n])
        del self.received[:n]
        return out

    async def wait_ns(self, ns):
        await Timer(max(1, round(ns)), unit="ns")
