"""cocotb verification components for ``amaranth.lib.stream`` ports.

An Amaranth stream port ``x`` appears in Verilog as ``x__valid``, ``x__ready`` and ``x__payload``
(a payload ``View`` is flattened to one vector, first field / element in the low bits).

* :class:`PauseGenerator` — reproducible random backpressure (probability, or a fixed pattern).
* :class:`StreamSource` — drives ``valid``/``payload`` from a queue, pausing at random.
* :class:`StreamSink` — drives ``ready`` at random and collects every transferred payload.
* :class:`StreamMonitor` — passive: records transfers on any stream port (both sides driven by
  others).
* :class:`Scoreboard` — compares collected against expected and names the first mismatch.

Timing: every component wakes once per rising edge, *samples* the handshake as it was at that edge
(cocotb + Verilator report pre-edge values at ``RisingEdge``) and then drives the values for the
next cycle — the cocotbext-axi source/sink pattern.

Payload helpers :func:`pack_lanes` / :func:`unpack_lanes` convert between integer vectors and the
flattened payload, vectorised with numpy for whole tensors.
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.triggers import Event, RisingEdge

__all__ = ["PauseGenerator", "StreamSource", "StreamSink", "StreamMonitor", "Scoreboard",
           "pack_lanes", "unpack_lanes", "pack_rows", "unpack_rows", "to_unsigned", "to_signed"]


def to_unsigned(x, bits):
    return np.asarray(x, dtype=np.int64) & ((1 << bits) - 1) if bits < 64 else np.asarray(x)


def to_signed(x, bits):
    x = np.asarray(x, dtype=np.int64) & ((1 << bits) - 1)
    return np.where(x >= (1 << (bits - 1)), x - (1 << bits), x)


def pack_lanes(values, bits):
    """Integers (one per lane, lane 0 first) → one flattened payload integer."""
    out = 0
    mask = (1 << bits) - 1
    for i, v in enumerate(values):
        out |= (int(v) & mask) << (bits * i)
    return out


def unpack_lanes(value, bits, lanes, signed=False):
    """A flattened payload integer → list of ``lanes`` integers (lane 0 first)."""
    value = int(value)
    mask = (1 << bits) - 1
    out = [(value >> (bits * i)) & mask for i in range(lanes)]
    if signed:
        half = 1 << (bits - 1)
        out = [v - (1 << bits) if v >= half else v for v in out]
    return out


def pack_rows(arr, bits):
    """A ``(T, L)`` integer array → ``T`` payload integers (row ``t`` = one vector)."""
    arr = np.asarray(arr)
    return [pack_lanes(row, bits) for row in arr.reshape(arr.shape[0], -1)]


def unpack_rows(values, bits, lanes, signed=False):
    """``T`` payload integers → a ``(T, lanes)`` int64 array."""
    if not len(values):
        return np.zeros((0, lanes), np.int64)
    return np.array([unpack_lanes(v, bits, lanes, signed) for v in values], dtype=np.int64)


class PauseGenerator:
    """Reproducible random pauses.

    ``probability``: chance that a cycle is a pause (0 = never, e.g. 0.3). ``seed``: numpy seed.
    ``pattern``: an explicit repeating list of booleans instead (True = pause).
    """

    def __init__(self, probability=0.0, seed=0, pattern=None):
        if not 0.0 <= probability < 1.0:
            raise ValueError(f"PauseGenerator: probability = {probability}: must be in [0, 1)")
        self.probability = probability
        self.pattern = list(pattern) if pattern else None
        self._rng = np.random.default_rng(seed)
        self._i = 0
        self._buf = []

    def __call__(self):
        if self.pattern:
            v = self.pattern[self._i % len(self.pattern)]
            self._i += 1
            return bool(v)
        if self.probability == 0.0:
            return False
        if not self._buf:
            self._buf = list(self._rng.random(1024) < self.probability)
        return bool(self._buf.pop())


def _handles(dut, name):
    try:
        return (getattr(dut, f"{name}__valid"), getattr(dut, f"{name}__ready"),
                getattr(dut, f"{name}__payload", None))
    except AttributeError:
        raise AttributeError(f"{dut._name} has no stream port {name!r} "
                             f"(expected {name}__valid / {name}__ready / {name}__payload)") from None


class _Component:
    def __init__(self, dut, name, clock):
        self.dut = dut
        self.name = name
        self.clock = clock
        self.valid, self.ready, self.payload = _handles(dut, name)
        self._edge = RisingEdge(clock)
        self._task = None
        self.transfers = 0

    def start(self):
        if self._task is None:
            self._task = cocotb.start_soon(self._run())
        return self

    def stop(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None


class StreamSource(_Component):
    """Drives ``<name>__valid`` / ``__payload`` from a queue of payload integers.

    ``send(items)`` enqueues; ``await wait_idle()`` returns when all were transferred. While the queue
    is non-empty, each cycle is a pause (``valid`` low) with the pause generator's probability.
    """

    def __init__(self, dut, name, clock, pause=None):
        super().__init__(dut, name, clock)
        self.pause = pause or PauseGenerator()
        self.queue = []
        self._head = 0
        self.valid.value = 0
        self._idle = Event()
        self._idle.set()
        self.start()

    def send(self, items):
        self.queue.extend(int(x) for x in items)
        if self._head < len(self.queue):
            self._idle.clear()

    async def wait_idle(self):
        await self._idle.wait()

    @property
    def pending(self):
        return len(self.queue) - self._head

    async def _run(self):
        driving = False
        while True:
            await self._edge
            if driving and self.ready.value:
                self._head += 1
                self.transfers += 1
                driving = False
            if not driving:
                if self._head < len(self.queue) and not self.pause():
                    self.payload.value = self.queue[self._head]
                    self.valid.value = 1
                    driving = True
                else:
                    self.valid.value = 0
                    if self._head >= len(self.queue):
                        self._idle.set()


class StreamSink(_Component):
    """Drives ``<name>__ready`` (low with the pause generator's probability) and collects every
    transferred payload in ``items``. ``await wait_for(n)`` returns once ``n`` items arrived."""

    def __init__(self, dut, name, clock, pause=None):
        super().__init__(dut, name, clock)
        self.pause = pause or PauseGenerator()
        self.items = []
        self.ready.value = 0
        self._event = Event()
        self._want = None
        self.start()

    async def wait_for(self, n):
        self._want = n
        if len(self.items) >= n:
            return
        self._event.clear()
        await self._event.wait()

    async def _run(self):
        ready = False
        while True:
            await self._edge
            if ready and self.valid.value:
                self.items.append(int(self.payload.value))
                self.transfers += 1
                if self._want is not None and len(self.items) >= self._want:
                    self._event.set()
            ready = not self.pause()
            self.ready.value = int(ready)


class StreamMonitor(_Component):
    """Passively records every transfer (``valid & ready`` at a rising edge) on a stream port."""

    def __init__(self, dut, name, clock):
        super().__init__(dut, name, clock)
        self.items = []
        self.start()

    async def _run(self):
        while True:
            await self._edge
            if self.valid.value and self.ready.value:
                self.items.append(int(self.payload.value) if self.payload is not None else None)
                self.transfers += 1


class Scoreboard:
    """Compares a received sequence with the expected one.

    ``check(expected, got)`` raises ``AssertionError`` naming the first mismatching index and both
    values (and how many mismatches there were), or the length difference.
    ``fmt`` turns an item into text (e.g. lanes in hex).
    """

    def __init__(self, name, fmt=None):
        self.name = name
        self.fmt = fmt or (lambda v: f"{v!r}")
        self.checked = 0

    def check(self, expected, got):
        exp = list(_items(expected))
        act = list(_items(got))
        n = min(len(exp), len(act))
        bad = [i for i in range(n) if not _equal(exp[i], act[i])]
        if bad:
            i = bad[0]
            raise AssertionError(
                f"{self.name}: first mismatch at index {i}: expected {self.fmt(exp[i])}, got "
                f"{self.fmt(act[i])} ({len(bad)} of {n} items differ)")
        if len(exp) != len(act):
            raise AssertionError(f"{self.name}: expected {len(exp)} items, got {len(act)} "
                                 f"(the first {n} match)")
        self.checked += n
        return n


def _items(x):
    if isinstance(x, np.ndarray) and x.ndim >= 2:
        return [row for row in x]
    return x


def _equal(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a = np.asarray(a)
        b = np.asarray(b)
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            return np.array_equal(a.view(np.uint32) if a.dtype == np.float32 else a,
                                  b.view(np.uint32) if b.dtype == np.float32 else b)
        return np.array_equal(a, b)
    return a == b
