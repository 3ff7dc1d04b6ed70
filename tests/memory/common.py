"""The memory-system configuration shared by the cocotb tests (one Verilator build for all)."""

from __future__ import annotations

import functools

from hw.backdoor import VERILOG_SOURCE
from hw.params import AGCUParams, DRAMParams, MemoryParams

LANES = 4
SEED = 12345


def test_memory_params():
    """HBM: 2 channels, per-bank refresh; DDR: 1 channel with 128-byte accesses (so the DMA
    converts widths), all-bank refresh. Both refresh often so every test crosses many refreshes."""
    tiny = DRAMParams.from_dict("tiny")
    hbm = tiny.replace(channels=2, refresh="per-bank", tREFI=800, tRFCpb=12, queue_depth=8,
                       starve_limit=64)
    ddr = tiny.replace(kind="ddr", channels=1, bytes_per_cycle=16, burst_length=8, rows=32,
                       tRCD=6, tCL=6, tRP=6, tRAS=14, tWR=6, tREFI=700, tRFC=30,
                       refresh="all-bank", queue_depth=8)
    return MemoryParams(hbm=hbm, ddr=ddr, dma_outstanding=8)


def test_agcu_params():
    return AGCUParams(count=2, outstanding=4, burst_words=16, counters=4, counter_bits=12)


@functools.lru_cache(maxsize=None)
def system():
    from memory.system import MemorySystem
    return MemorySystem(test_memory_params(), test_agcu_params(), LANES, unit_base=1,
                        hbm_test=2, ddr_test=1, hbm_tgs=1, ddr_tgs=1, tg_outstanding=16)


@functools.lru_cache(maxsize=None)
def design():
    from tb import runner
    return runner.Design.from_component(system(), "memsys_test", sources=(VERILOG_SOURCE,))


# pytest must not collect the helpers above as tests
test_memory_params.__test__ = False
test_agcu_params.__test__ = False
