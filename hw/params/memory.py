"""Parameters of the memory system: DRAM models (HBM, DDR), AGCUs and the DMA (DESIGN.md §2, §3)."""

from __future__ import annotations

import dataclasses

from .base import Params, int_range, one_of, param, pow2

__all__ = ["DRAMParams", "AGCUParams", "MemoryParams"]


@dataclasses.dataclass(frozen=True)
class DRAMParams(Params):
    """A DRAM channel group: geometry, timing (in controller cycles) and scheduling.

    In YAML the section may be a preset name (``hbm3``, ``ddr5``, ``tiny``: ``configs/memory/``) or a
    mapping of these keys.
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
    tCL: int = param(4, check=int_range(1, 100), doc="read to first data")
    tRP: int = param(4, check=int_range(1, 100), doc="precharge to activate")
    tRAS: int = param(8, check=int_range(1, 200), doc="activate to precharge")
    tWR: int = param(4, check=int_range(1, 100), doc="write recovery before precharge")
    tREFI: int = param(1000, check=int_range(0, 100000), doc="refresh interval (0 = no refresh)")
    tRFC: int = param(20, check=int_range(1, 2000), doc="refresh cycle time")
    queue_depth: int = param(8, check=pow2(1, 64), doc="request queue entries per channel")
    policy: str = param("fr-fcfs", check=one_of("fr-fcfs", "in-order"), doc="scheduling policy")
    clock_mhz: float = param(1000.0, doc="controller clock (for reporting GB/s)")

    def check(self, fail):
        if self.tRAS < self.tRCD:
            fail("tRAS", self.tRAS, f"must be >= tRCD ({self.tRCD})")
        if self.tREFI and self.tREFI <= self.tRFC:
            fail("tREFI", self.tREFI, f"must be 0 or > tRFC ({self.tRFC})")

    @property
    def capacity_bytes(self):
        return self.channels * self.banks * self.rows * self.row_bytes

    @property
    def peak_bytes_per_cycle(self):
        return self.channels * self.bytes_per_cycle


@dataclasses.dataclass(frozen=True)
class AGCUParams(Params):
    """Address generation and coalescing units on the fabric edge."""

    count: int = param(2, check=int_range(1, 32), doc="AGCUs on the fabric edge")
    outstanding: int = param(8, check=pow2(1, 64), doc="outstanding DRAM requests per AGCU")
    burst_words: int = param(8, check=pow2(1, 64), doc="words per coalesced burst")
    counters: int = param(3, check=int_range(1, 6), doc="address counters (tensor rank)")
    counter_bits: int = param(16, check=int_range(4, 32), doc="width of each counter")


@dataclasses.dataclass(frozen=True)
class MemoryParams(Params):
    """The off-chip tiers (HBM for bandwidth, DDR for capacity) and the DMA between them."""

    hbm: DRAMParams = param(factory=DRAMParams, doc="high-bandwidth tier")
    ddr: DRAMParams = param(factory=DRAMParams, doc="capacity tier")
    dma_outstanding: int = param(4, check=pow2(1, 64), doc="outstanding DMA requests")
