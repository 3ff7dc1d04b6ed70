"""Parameters of the Pattern Memory Unit (DESIGN.md §3, PMU)."""

from __future__ import annotations

import dataclasses

from .base import Params, int_range, param, pow2

__all__ = ["PMUParams"]


@dataclasses.dataclass(frozen=True)
class PMUParams(Params):
    """One PMU: ``banks`` banks of ``words_per_bank`` words, read and write address pipelines."""

    banks: int = param(8, check=pow2(1, 64), doc="memory banks B (the lane count by default)")
    words_per_bank: int = param(1024, check=pow2(16, 1 << 20), doc="words in each bank")
    word_bits: int = param(32, check=int_range(8, 64), doc="bits per word")
    vec_in: int = param(1, check=int_range(1, 4), doc="vector input ports")
    vec_out: int = param(1, check=int_range(1, 4), doc="vector output ports")
    scal_in: int = param(2, check=int_range(0, 8), doc="scalar input ports")
    scal_out: int = param(1, check=int_range(0, 8), doc="scalar output ports")
    ctrl_in: int = param(2, check=int_range(0, 8), doc="control (token) inputs")
    ctrl_out: int = param(2, check=int_range(0, 8), doc="control (token) outputs")
    addr_stages: int = param(2, check=int_range(1, 8), doc="stages of each address pipeline")
    counters: int = param(3, check=int_range(1, 8), doc="counters per address pipeline")
    counter_bits: int = param(16, check=int_range(4, 32), doc="width of each counter")
    buffers: int = param(3, check=int_range(1, 4), doc="maximum N for N-buffering")
    fifo_depth: int = param(4, check=pow2(2, 256), doc="depth of each input FIFO")
    args: int = param(4, check=int_range(0, 16), doc="argument registers writable at run time")
    perf_counters: bool = param(True, doc="performance counters in RTL")

    def check(self, fail):
        if self.word_bits % 8:
            fail("word_bits", self.word_bits, "must be a multiple of 8")

    @property
    def size_bytes(self):
        return self.banks * self.words_per_bank * self.word_bits // 8

    @property
    def addr_bits(self):
        """Bits of a word address over the whole PMU."""
        return (self.banks * self.words_per_bank - 1).bit_length()
