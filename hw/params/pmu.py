"""Parameters of the Pattern Memory Unit (docs/architecture.md §3, PMU; RTL in ``tiles/pmu.py``)."""

from __future__ import annotations

import dataclasses

from .base import Params, int_range, param, pow2

__all__ = ["PMUParams"]


@dataclasses.dataclass(frozen=True)
class PMUParams(Params):
    """One PMU: ``banks`` banks of ``words_per_bank`` words, read and write address pipelines.

    ``banks`` may be smaller than the fabric's lane count L: a vector then needs at least
    L / banks cycles (the bank arbiter serialises it, counted as bank conflicts).
    """

    banks: int = param(8, check=pow2(1, 64), doc="memory banks B (the lane count by default)")
    words_per_bank: int = param(1024, check=pow2(16, 1 << 20), doc="words in each bank")
    word_bits: int = param(32, check=int_range(8, 64),
                           doc="bits per stored word (<= 32; narrower words are zero-extended)")
    vec_in: int = param(2, check=int_range(1, 4),
                        doc="vector input ports (write data, gather/scatter addresses)")
    vec_out: int = param(1, check=int_range(1, 4), doc="vector output ports")
    scal_in: int = param(2, check=int_range(0, 8),
                         doc="scalar input ports (per-pass bases, per-vector addresses)")
    scal_out: int = param(1, check=int_range(0, 8), doc="scalar output ports (unused by the PMU)")
    ctrl_in: int = param(2, check=int_range(0, 8), doc="control (token) inputs")
    ctrl_out: int = param(2, check=int_range(0, 8), doc="control (token) outputs")
    addr_stages: int = param(2, check=int_range(1, 8),
                             doc="register stages from counter chain to bank arbiter")
    counters: int = param(3, check=int_range(1, 8), doc="counters per address pipeline")
    counter_bits: int = param(16, check=int_range(4, 32), doc="width of each counter")
    buffers: int = param(3, check=int_range(1, 4), doc="maximum N for N-buffering")
    fifo_depth: int = param(4, check=pow2(2, 256), doc="depth of each input FIFO")
    args: int = param(4, check=int_range(0, 16), doc="argument registers writable at run time")
    perf_counters: bool = param(True, doc="performance counters in RTL")

    def check(self, fail):
        if self.word_bits % 8:
            fail("word_bits", self.word_bits, "must be a multiple of 8")
        if self.word_bits > 32:
            fail("word_bits", self.word_bits, "must be <= 32 (the vector network carries 32-bit "
                                              "words)")

    @property
    def size_bytes(self):
        return self.banks * self.words_per_bank * self.word_bits // 8

    @property
    def size_words(self):
        """Words of the whole PMU (strided / skewed modes)."""
        return self.banks * self.words_per_bank

    @property
    def addr_bits(self):
        """Bits of a word address over the whole PMU."""
        return (self.banks * self.words_per_bank - 1).bit_length()

    @property
    def addr_width(self):
        """Width of the address arithmetic (bases, strides, lane offsets): ``addr_bits + 4``
        (at most 32). Addresses are computed modulo ``2**addr_width``; results outside the PMU
        are counted as out of range, not written / read as zero."""
        return min(32, self.addr_bits + 4)
