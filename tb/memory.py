"""cocotb verification components for the memory system (run inside the simulator).

* :class:`DRAMPortDriver` — a requester on a DRAM port (:class:`memory.dram.PortSpec`): issues
  queued read/write requests with random gaps, up to ``outstanding`` in flight, accepts responses
  with random backpressure, and logs the cycle each request was accepted.
* :class:`ReferenceMemory` — the Python reference: replays every port's log in acceptance order
  (the DRAM's ordering rule) and checks each read's data; also predicts the final image.
* :func:`pack` / :func:`unpack` — ``amaranth.lib.data`` layouts ↔ integers (cocotb payloads).
* :func:`pulse`, :func:`wait_high` (with a watchdog message naming the unit).
"""

from __future__ import annotations

import dataclasses

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, Event, RisingEdge, SimTimeoutError, with_timeout
from cocotb.utils import get_sim_time

from hw.config import AddressMap, ConfigPackets
from hw.params import AGCUParams, MemoryParams
from memory.agcu import AGCU_COUNTERS, agcu_layout
from memory.dma import DMA_CONFIG, DMA_COUNTERS
from memory.dram import DRAM_CONFIG, DRAM_COUNTERS, POLICY_CODES
from memory.host import DRAMImage
from memory.traffic import TG_CONFIG, TG_COUNTERS
from tb.clock import reset, start_clock
from tb.ring import RingDriver
from tb.stream import PauseGenerator

__all__ = ["pack", "unpack", "Request", "DRAMPortDriver", "ReferenceMemory", "pulse",
           "wait_high", "sim_cycle", "PERIOD_NS"]

PERIOD_NS = 10


def pack(layout, **fields):
    """Integer payload of ``layout`` from field values (unknown names raise ``KeyError``)."""
    value = 0
    names = {name: f for name, f in layout}
    for name, v in fields.items():
        f = names[name]
        w = f.shape.width if hasattr(f.shape, "width") else f.width
        value |= (int(v) & ((1 << w) - 1)) << f.offset
    return value


def unpack(layout, value):
    """Dict of field values (unsigned ints) of an integer payload of ``layout``."""
    value = int(value)
    out = {}
    for name, f in layout:
        out[name] = (value >> f.offset) & ((1 << f.width) - 1)
    return out


def sim_cycle():
    return int(get_sim_time("ns")) // PERIOD_NS


async def pulse(dut, name, clk):
    """Drive ``dut.<name>`` high for one clock cycle."""
    getattr(dut, name).value = 1
    await RisingEdge(clk)
    getattr(dut, name).value = 0


async def wait_high(signal, clk, timeout_cycles, what):
    """Wait until ``signal`` is 1 (sampled at rising edges); on timeout raise ``AssertionError``
    with ``what`` (name the unit and what it was doing)."""
    for _ in range(timeout_cycles):
        await RisingEdge(clk)
        if int(signal.value):
            return
    raise AssertionError(f"watchdog: {what} not done after {timeout_cycles} cycles")


@dataclasses.dataclass
class Request:
    """One DRAM request; ``data``/``mask`` are the access's 32-bit words (lists of ints / bools)."""

    addr: int
    write: bool
    data: list = None
    mask: list = None
    accepted: int = None     # cycle of the req handshake
    result: list = None      # read data (words)
    port: str = ""
    tag: int = None


def _words_to_int(words):
    v = 0
    for i, w in enumerate(words):
        v |= (int(w) & 0xFFFFFFFF) << (32 * i)
    return v


def _int_to_words(v, n):
    return [(int(v) >> (32 * i)) & 0xFFFFFFFF for i in range(n)]


class DRAMPortDriver:
    """Drives the requester side of a DRAM port named ``prefix`` (e.g. ``hbm_test__0``) of ``dut``.

    ``spec``: :class:`memory.dram.PortSpec`; ``outstanding``: reads (tags) and writes in flight;
    ``pause``: gaps between requests; ``resp_pause``: backpressure on responses.
    """

    def __init__(self, dut, prefix, clk, spec, outstanding=8, pause=None, resp_pause=None):
        self.dut = dut
        self.name = prefix
        self.spec = spec
        self.words = spec.data_bytes // 4
        self.outstanding = min(outstanding, 1 << spec.tag_bits)
        self.pause = pause or PauseGenerator()
        self.resp_pause = resp_pause or PauseGenerator()
        g = lambda s: getattr(dut, f"{prefix}__{s}")  # noqa: E731
        self.req_valid, self.req_ready, self.req_payload = g("req__valid"), g("req__ready"), \
            g("req__payload")
        self.resp_valid, self.resp_ready, self.resp_payload = g("resp__valid"), g("resp__ready"), \
            g("resp__payload")
        self.wdone = g("wdone")
        self.req_valid.value = 0
        self.resp_ready.value = 0
        self._edge = RisingEdge(clk)
        self.queue = []
        self.log = []
        self.inflight = {}          # tag -> Request (reads)
        self.free_tags = list(range(self.outstanding))
        self.writes_pending = 0
        self.errors = []
        self._idle = Event()
        self._idle.set()
        self._task = cocotb.start_soon(self._run())

    def submit(self, requests):
        for r in requests:
            r.port = self.name
            if r.write:
                r.data = list(r.data) + [0] * (self.words - len(r.data))
                r.mask = [True] * self.words if r.mask is None else list(r.mask)
        self.queue.extend(requests)
        self._idle.clear()

    @property
    def busy(self):
        return bool(self.queue) or bool(self.inflight) or self.writes_pending > 0

    async def wait_idle(self, timeout_cycles=None):
        """Wait until every request was sent and completed; with ``timeout_cycles`` raise
        ``AssertionError`` naming this port and what is still pending."""
        if not self.busy:
            return
        self._idle.clear()
        if timeout_cycles is None:
            await self._idle.wait()
            return
        try:
            await with_timeout(self._idle.wait(), timeout_cycles * PERIOD_NS, "ns")
        except SimTimeoutError:
            tags = sorted(self.inflight)[:8]
            raise AssertionError(
                f"watchdog: DRAM port {self.name}: not idle after {timeout_cycles} cycles: "
                f"{len(self.queue)} request(s) not accepted, {len(self.inflight)} read(s) "
                f"unanswered (tags {tags}), {self.writes_pending} write(s) not completed") from None

    def stop(self):
        self._task.cancel()

    def _payload(self, r):
        return pack(self.spec.req_layout, addr=r.addr, write=int(r.write), tag=r.tag or 0,
                    mask=sum(1 << i for i, b in enumerate(r.mask) if b) if r.write else 0,
                    data=_words_to_int(r.data) if r.write else 0)

    async def _run(self):
        driving = None
        resp_ready = False
        while True:
            await self._edge
            cyc = sim_cycle()
            if driving is not None and int(self.req_ready.value):
                driving.accepted = cyc
                self.log.append(driving)
                if driving.write:
                    self.writes_pending += 1
                else:
                    self.inflight[driving.tag] = driving
                driving = None
            if resp_ready and int(self.resp_valid.value):
                f = unpack(self.spec.resp_layout, self.resp_payload.value)
                r = self.inflight.pop(f["tag"], None)
                if r is None:
                    self.errors.append(f"{self.name}: response with tag {f['tag']} that no "
                                       f"read is waiting for (cycle {cyc})")
                else:
                    r.result = _int_to_words(f["data"], self.words)
                    self.free_tags.append(r.tag)
            self.writes_pending -= int(self.wdone.value)
            if self.writes_pending < 0:
                self.errors.append(f"{self.name}: more write completions than writes (cycle {cyc})")
                self.writes_pending = 0
            if driving is None and self.queue and not self.pause():
                r = self.queue[0]
                ok = (self.writes_pending < self.outstanding) if r.write else bool(self.free_tags)
                if ok:
                    self.queue.pop(0)
                    if not r.write:
                        r.tag = self.free_tags.pop(0)
                    driving = r
            if driving is not None:
                self.req_payload.value = self._payload(driving)
                self.req_valid.value = 1
            else:
                self.req_valid.value = 0
            resp_ready = not self.resp_pause()
            self.resp_ready.value = int(resp_ready)
            if not self.busy and driving is None:
                self._idle.set()


class ReferenceMemory:
    """Reference model of one DRAM tier: a uint32 word array replaying accepted requests.

    ``initial``: the loaded image's words (``DRAMImage.words()``); ``access_words`` = words per
    access. :meth:`check` replays the logs of all drivers in acceptance-cycle order and returns a
    list of mismatch messages (empty = pass).
    """

    def __init__(self, initial, access_words, capacity_accesses):
        self.mem = np.array(initial, dtype=np.uint32).copy()
        self.aw = access_words
        self.cap = capacity_accesses

    def check(self, logs):
        reqs = sorted((r for log in logs for r in log), key=lambda r: r.accepted)
        errors = []
        for r in reqs:
            a = r.addr % self.cap
            lo = a * self.aw
            if r.write:
                m = np.array(r.mask, bool)
                cur = self.mem[lo:lo + self.aw]
                cur[m] = np.array(r.data, np.uint32)[m]
            else:
                exp = [int(x) for x in self.mem[lo:lo + self.aw]]
                if r.result is None:
                    errors.append(f"{r.port}: read of access {r.addr:#x} (accepted cycle "
                                  f"{r.accepted}) never answered (lost)")
                elif r.result != exp:
                    bad = [i for i in range(self.aw) if r.result[i] != exp[i]]
                    errors.append(f"{r.port}: read of access {r.addr:#x} (accepted cycle "
                                  f"{r.accepted}): word {bad[0]} = {r.result[bad[0]]:#010x}, "
                                  f"expected {exp[bad[0]]:#010x} ({len(bad)} words differ)")
        return errors


# --------------------------------------------------------------------------------------------
# Whole-system host: ring, images, AGCU / DMA / traffic-generator runs
# --------------------------------------------------------------------------------------------

class MemSysHost:
    """Drives a :class:`memory.system.MemorySystem` top in cocotb.

    ``info``: :meth:`MemorySystem.info` (passed through ``tb.env``); ``directory``: where images are
    written and dumps read (the simulator's ``+rdu_mem_dir=``). Call ``await start()`` first.
    """

    def __init__(self, dut, info, directory, ring_pause=(None, None)):
        self.dut = dut
        self.info = info
        self.dir = directory
        self.mem = MemoryParams.from_dict(info["memory"])
        self.agcu = AGCUParams.from_dict(info["agcu"])
        self.lanes = info["lanes"]
        self.ids = info["unit_ids"]
        self.ring_pause = ring_pause
        self.clk = None
        self.ring = None

    async def start(self):
        dut = self.dut
        self.clk = start_clock(dut)
        for name in ("load", "dump"):
            getattr(dut, name).value = 0
        for i in range(self.agcu.count if self.info["with_agcus"] else 0):
            getattr(dut, f"agcu_vec_in__{i}__valid").value = 0
            getattr(dut, f"agcu_vec_out__{i}__ready").value = 0
            getattr(dut, f"agcu_ctrl_in__{i}__valid").value = 0
            getattr(dut, f"agcu_ctrl_out__{i}__ready").value = 1
        for tier in ("hbm", "ddr"):
            for j in range(self.info[f"{tier}_test"]):
                getattr(dut, f"{tier}_test__{j}__req__valid").value = 0
                getattr(dut, f"{tier}_test__{j}__resp__ready").value = 0
        self.ring = RingDriver(dut, self.clk, pause=self.ring_pause)
        await reset(dut)
        return self

    # ---- images --------------------------------------------------------------------------

    def image(self, tier):
        return DRAMImage(getattr(self.mem, tier), tier)

    async def load(self, *images):
        for img in images:
            img.write_files(self.dir)
        await pulse(self.dut, "load", self.clk)

    async def dump(self):
        """Wait until the DRAMs are idle, dump both, return ``{"hbm": image, "ddr": image}``."""
        await wait_high(self.dut.idle, self.clk, 100_000, "memory system idle before dump")
        await pulse(self.dut, "dump", self.clk)
        await ClockCycles(self.clk, 2)
        return {t: DRAMImage.from_dump(getattr(self.mem, t), t, self.dir) for t in ("hbm", "ddr")}

    # ---- ring helpers -----------------------------------------------------------------------

    async def run_bits(self, bits):
        return await self.ring.run(bits)

    async def counters(self, unit, names):
        """Read performance counters ``names`` (a tuple like ``DRAM_COUNTERS``) of ``unit``."""
        bits = ConfigPackets()
        for k in range(len(names)):
            bits.read(unit, AddressMap.PERF + k)
        vals = await self.ring.run(bits)
        return dict(zip(names, vals))

    async def set_policy(self, tier, policy):
        uid = self.ids[tier]
        await self.ring.run(ConfigPackets()
                            .config(uid, DRAM_CONFIG, {"policy": POLICY_CODES[policy]})
                            .read(uid, AddressMap.CONTROL))

    async def dram_status(self, tier):
        """Counters of a DRAM tier, and a one-line error description (``None`` if no error)."""
        c = await self.counters(self.ids[tier], DRAM_COUNTERS)
        msg = None
        if c["errors"]:
            p = getattr(self.mem, tier)
            msg = (f"{tier}: {c['errors']} request(s) beyond the capacity; first: access index "
                   f"{c['error_addr']:#x} from port {c['error_port']} ({self.port_name(tier, c['error_port'])}); "
                   f"valid indices are 0..{p.accesses - 1} ({p.capacity_bytes} bytes)")
        return c, msg

    def port_name(self, tier, port):
        i = self.info
        names = []
        if tier == "hbm":
            names += [f"agcu{k}" for k in range(self.agcu.count)] + ["dma"]
            names += [f"hbm_test[{k}]" for k in range(i["hbm_test"])]
            names += [f"hbm_tg{k}" for k in range(i["hbm_tgs"])]
        else:
            names += ["dma"] + [f"ddr_test[{k}]" for k in range(i["ddr_test"])]
            names += [f"ddr_tg{k}" for k in range(i["ddr_tgs"])]
        return names[port] if port < len(names) else f"port {port}"

    # ---- units --------------------------------------------------------------------------------

    async def configure_agcu(self, i, program, base_arg=None):
        uid = self.ids["agcu"][i]
        bits = ConfigPackets().config(uid, agcu_layout(self.agcu), program)
        if base_arg is not None:
            bits.write(uid, AddressMap.ARG + 0, base_arg)
        bits.read(uid, AddressMap.CONTROL)   # returns once the writes have reached the unit
        await self.ring.run(bits)

    async def start_units(self, *units):
        bits = ConfigPackets()
        for u in units:
            bits.start(u)
        bits.read(units[-1], AddressMap.CONTROL)   # returns once every START has been delivered
        await self.ring.run(bits)

    async def wait_agcu(self, i, timeout_cycles):
        sig = self.dut.agcu_done
        for _ in range(timeout_cycles):
            await RisingEdge(self.clk)
            if (int(sig.value) >> i) & 1:
                return
        c = await self.counters(self.ids["agcu"][i], AGCU_COUNTERS)
        mode = "store" if (c["status"] >> 1) & 1 else "load"
        raise AssertionError(
            f"watchdog: AGCU {i} (unit {self.ids['agcu'][i]}, {mode}) not done after "
            f"{timeout_cycles} cycles: {c['vectors']} vectors moved, {c['requests']} DRAM "
            f"requests, {c['fabric_stall']} cycles stalled on the fabric side, "
            f"{c['dram_stall']} on DRAM")

    async def run_dma(self, program, timeout_cycles=200_000):
        uid = self.ids["dma"]
        # The trailing READ returns only after the START has passed the DMA (the ring is in order).
        await self.ring.run(ConfigPackets().config(uid, DMA_CONFIG, program).clear_counters(uid)
                            .start(uid).read(uid, AddressMap.CONTROL))
        for _ in range(timeout_cycles):
            await RisingEdge(self.clk)
            if int(self.dut.dma_done.value):
                return await self.counters(uid, DMA_COUNTERS)
        c = await self.counters(uid, DMA_COUNTERS)
        raise AssertionError(f"watchdog: DMA (unit {uid}) not done after {timeout_cycles} "
                             f"cycles: {c['bytes']} bytes copied, {c['reads']} reads, "
                             f"{c['writes']} writes issued")

    async def run_traffic(self, configs, timeout_cycles=1_000_000):
        """Run traffic generators: ``configs`` = ``{tg index: tg_config dict}``; all start on one
        broadcast; returns ``{index: counters}``."""
        tgs = self.ids["hbm_tg"] + self.ids["ddr_tg"]
        bits = ConfigPackets()
        for k, cfg in configs.items():
            bits.config(tgs[k], TG_CONFIG, cfg)
        for k in configs:
            bits.start(tgs[k])
        bits.read(tgs[max(configs)], AddressMap.CONTROL)
        await self.ring.run(bits)
        want = sum(1 << k for k in configs)
        for _ in range(timeout_cycles):
            await RisingEdge(self.clk)
            if int(self.dut.tg_done.value) & want == want:
                break
        else:
            raise AssertionError(f"watchdog: traffic generators {sorted(configs)} not done after "
                                 f"{timeout_cycles} cycles (tg_done = {int(self.dut.tg_done.value):#x})")
        return {k: await self.counters(tgs[k], TG_COUNTERS) for k in configs}
