"""Parameters of the memory system: DRAM models (HBM, DDR), AGCUs and the DMA
(docs/architecture.md §2, §3).

RTL in ``memory/`` (``memory.dram``, ``memory.agcu``, ``memory.dma``, ``memory.system``); the
analytic model ``memory.analytic`` reads the same objects. User documentation: ``docs/memory.md``.
"""

from __future__ import annotations

import dataclasses

from .base import Params, int_range, one_of, param, pow2

__all__ = ["DRAMParams", "AGCUParams", "MemoryParams", "MAX_SIM_CAPACITY"]

#: Largest simulated capacity per DRAM model (the backing store is a Verilator array).
MAX_SIM_CAPACITY = 64 << 20


@dataclasses.dataclass(frozen=True)
class DRAMParams(Params):
    """A DRAM channel group: geometry, timing (in controller cycles) and scheduling.

    In YAML the section may be a preset name (``hbm3``, ``ddr5``, ``tiny``: ``configs/memory/``) or a
    mapping of these keys.

    One *access* (a column command) moves ``burst_length`` beats of ``bytes_per_cycle`` bytes; it is
    the unit of a request on a DRAM port (:attr:`access_bytes`). ``rows`` sets the simulated
    capacity (the backing store): keep it small for RTL simulation; the analytic model covers
    larger memories. Write latency equals ``tCL`` (no read/write turnaround is modelled).
    """

    PRESET_DIR = "memory"

    kind: str = param("tiny", check=one_of("hbm", "ddr", "tiny"), doc="technology family")
    channels: int = param(1, check=pow2(1, 32), doc="independent channels")
    banks: int = param(4, check=pow2(1, 64), doc="banks per channel")
    rows: int = param(64, check=pow2(4, 1 << 20), doc="rows per bank (simulated)")
    row_bytes: int = param(1024, check=pow2(64, 16384), doc="bytes per row (page)")
    bytes_per_cycle: int = param(32, check=pow2(4, 512), doc="data bytes per cycle per channel")
    burst_length: int = param(2, check=pow2(1, 16), doc="beats per column access")
    tRCD: int = param(4, check=int_range(1, 100), doc="activate to read/write")
    tCL: int = param(4, check=int_range(1, 100), doc="read/write command to first data")
    tRP: int = param(4, check=int_range(1, 100), doc="precharge to activate")
    tRAS: int = param(8, check=int_range(1, 200), doc="activate to precharge")
    tWR: int = param(4, check=int_range(1, 100), doc="write recovery before precharge")
    tREFI: int = param(1000, check=int_range(0, 100000),
                       doc="refresh interval: every bank is refreshed once per tREFI (0 = no refresh)")
    tRFC: int = param(20, check=int_range(1, 2000), doc="all-bank refresh cycle time")
    refresh: str = param("all-bank", check=one_of("all-bank", "per-bank"),
                         doc="all-bank: every tREFI close all banks and refresh them together; "
                             "per-bank: refresh idle banks one at a time within each tREFI")
    tRFCpb: int = param(10, check=int_range(1, 2000), doc="per-bank refresh cycle time")
    queue_depth: int = param(8, check=pow2(1, 64), doc="request queue entries per channel")
    policy: str = param("fr-fcfs", check=one_of("fr-fcfs", "in-order"),
                        doc="scheduling policy (the default; run-time selectable via config)")
    starve_limit: int = param(256, check=int_range(1, 65535),
                              doc="FR-FCFS: cycles the oldest request may wait before the "
                                  "channel serves it first")
    clock_mhz: float = param(1000.0, doc="controller clock (for reporting GB/s)")

    def check(self, fail):
        if self.tRAS < self.tRCD:
            fail("tRAS", self.tRAS, f"must be >= tRCD ({self.tRCD})")
        if self.tREFI and self.tREFI <= self.tRFC:
            fail("tREFI", self.tREFI, f"must be 0 or > tRFC ({self.tRFC})")
        if self.tREFI and self.refresh == "per-bank" and self.tREFI <= self.tRFCpb:
            fail("tREFI", self.tREFI, f"must be 0 or > tRFCpb ({self.tRFCpb})")
        if self.row_bytes < self.access_bytes:
            fail("row_bytes", self.row_bytes,
                 f"must be >= one access, burst_length x bytes_per_cycle = {self.access_bytes}")
        if self.capacity_bytes > MAX_SIM_CAPACITY:
            fail("rows", self.rows,
                 f"simulated capacity channels x banks x rows x row_bytes = "
                 f"{self.capacity_bytes >> 20} MiB must be <= {MAX_SIM_CAPACITY >> 20} MiB "
                 f"(the RTL backing store); use memory.analytic for larger memories")
        if self.clock_mhz <= 0:
            fail("clock_mhz", self.clock_mhz, "must be > 0")

    # ---- derived quantities ---------------------------------------------------------------

    @property
    def capacity_bytes(self):
        return self.channels * self.banks * self.rows * self.row_bytes

    @property
    def peak_bytes_per_cycle(self):
        return self.channels * self.bytes_per_cycle

    @property
    def peak_gbps(self):
        """Peak bandwidth in GB/s at ``clock_mhz``."""
        return self.peak_bytes_per_cycle * self.clock_mhz / 1000.0

    @property
    def access_bytes(self):
        """Bytes of one column access (one request on a DRAM port)."""
        return self.burst_length * self.bytes_per_cycle

    @property
    def accesses(self):
        """Number of accesses in the whole (simulated) memory: valid request addresses."""
        return self.capacity_bytes // self.access_bytes

    @property
    def cols(self):
        """Accesses per row."""
        return self.row_bytes // self.access_bytes

    @property
    def beats_per_channel(self):
        """Depth of one channel's backing store (words of ``bytes_per_cycle`` bytes)."""
        return self.banks * self.rows * self.row_bytes // self.bytes_per_cycle

    def decode(self, access):
        """Global access index → ``(channel, bank, row, col)`` (the RTL's address map: channel in
        the low bits, then column, bank, row)."""
        ch = access % self.channels
        la = access // self.channels
        col = la % self.cols
        bank = (la // self.cols) % self.banks
        row = la // (self.cols * self.banks)
        return ch, bank, row, col


@dataclasses.dataclass(frozen=True)
class AGCUParams(Params):
    """Address generation and coalescing units on the fabric edge."""

    count: int = param(2, check=int_range(1, 32), doc="AGCUs on the fabric edge")
    outstanding: int = param(8, check=pow2(1, 64), doc="outstanding DRAM requests per AGCU")
    burst_words: int = param(8, check=pow2(1, 64),
                             doc="32-bit words per coalesced burst (at most one DRAM access; the "
                                 "default burst of a configuration, settable per run)")
    counters: int = param(4, check=int_range(1, 6),
                          doc="address counters: tensor rank including tile loops")
    counter_bits: int = param(16, check=int_range(4, 32), doc="width of each counter")
    args: int = param(2, check=int_range(1, 16), doc="argument registers (arg 0 = run-time base)")


@dataclasses.dataclass(frozen=True)
class MemoryParams(Params):
    """The off-chip tiers (HBM for bandwidth, DDR for capacity) and the DMA between them."""

    hbm: DRAMParams = param(factory=DRAMParams, doc="high-bandwidth tier")
    ddr: DRAMParams = param(factory=DRAMParams, doc="capacity tier")
    dma_outstanding: int = param(32, check=pow2(1, 64),
                                 doc="DMA blocks in flight (each max(access bytes) of both tiers)")

    @property
    def dma_block_bytes(self):
        return max(self.hbm.access_bytes, self.ddr.access_bytes)

    def check(self, fail):
        blk = self.dma_block_bytes
        for tier in ("hbm", "ddr"):
            n = blk // getattr(self, tier).access_bytes
            if self.dma_outstanding * n > 256:
                fail("dma_outstanding", self.dma_outstanding,
                     f"x {n} {tier} accesses per DMA block must be <= 256 (8-bit request tags)")
