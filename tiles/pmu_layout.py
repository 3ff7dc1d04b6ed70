"""Configuration layout of the Pattern Memory Unit, declared once (``amaranth.lib.data``) and used by
the RTL (:mod:`tiles.pmu`, a ``View`` in the unit's :class:`hw.config.ConfigStore`) and by the
assembler (:mod:`tiles.pmu_asm`, ``layout.const``).

Field reference (``W`` = ``params.addr_width``, ``L`` = lanes, ``C`` = ``params.counters``)::

    mode        2   bank mapping: 0 strided, 1 skewed, 2 duplicate          (:class:`Mode`)
    bank_shift  5   k: bank = address bits [k, k+log2 B)                   (strided, skewed)
    skew_shift  5   p: skewed bank = (bits [k, k+log2 B) + bits [p, p+log2 B)) mod B
    sync        2   0 none, 1 per pass (N-buffering), 2 per vector (FIFO)  (:class:`Sync`)
    slots       S   N (sync 1) or FIFO depth in vectors (sync 2)
    region      W   words between N-buffer regions (sync 1)
    fill_in     4   0: a slot is filled when the write pipeline finishes it; j+1: tokens on ctrl_in[j]
    free_in     4   0: a slot is freed when the read pipeline finishes it;  j+1: tokens on ctrl_in[j]
    wdone_out   4   0: none; j+1: a token on ctrl_out[j] per finished write pass
    rdone_out   4   0: none; j+1: a token on ctrl_out[j] per finished read pass
    write, read     one address pipeline each (:func:`pipe_layout`)

    pipe.enable       1   the pipeline runs
    pipe.port         2   data port: vec_in[port] (write) / vec_out[port] (read)
    pipe.passes      32   passes of the counter chain in a run (0 = forever)
    pipe.base         W   base address
    pipe.base_arg     5   0, or k+1: add argument register k (sampled at each pass start)
    pipe.base_scalar  4   0, or j+1: add one word from scal_in[j] at each pass start
    pipe.addr_scalar  4   0, or j+1: add one word from scal_in[j] to every vector
    pipe.addr_vector  3   0, or j+1: lane i adds word i of a vector from vec_in[j] (gather /
                          scatter) instead of lane_off[i]
    pipe.bitrev       5   reverse the low ``bitrev`` bits of the counter offset (FFT order)
    pipe.wrap         5   0, or w: the offset (before the base) is taken modulo 2**w
    pipe.lane_off     L x W (signed) offset of lane i
    pipe.counters     C x {count: counter_bits, stride: W signed, arg: 5 (0 or k+1: stride
                          from argument register k)}; counter 0 is the innermost
"""

from __future__ import annotations

import enum

from amaranth import signed, unsigned
from amaranth.lib import data

__all__ = ["Mode", "Sync", "PERF_COUNTERS", "counter_layout", "pipe_layout", "config_layout",
           "vecaddr_layout", "slot_bits"]


class Mode(enum.IntEnum):
    """Bank mapping of the hardware (FIFO mode is ``STRIDED`` + :attr:`Sync.VECTOR`)."""

    STRIDED = 0
    SKEWED = 1
    DUPLICATE = 2


class Sync(enum.IntEnum):
    """How the read pipeline waits for the write pipeline."""

    NONE = 0      # free running: the program keeps reads and writes apart
    PASS = 1      # N-buffering: a slot is one pass of the counter chain, region (pass mod N)
    VECTOR = 2    # FIFO: a slot is one vector


#: Performance counters, in read-back order (``AddressMap.PERF + index``).
PERF_COUNTERS = (
    "cycles",         # cycles while busy
    "wr_vectors",     # write vectors committed to the banks
    "rd_vectors",     # read vectors issued to the banks
    "wr_conflicts",   # extra cycles spent on write vectors because of bank conflicts
    "rd_conflicts",   # extra cycles spent on read vectors because of bank conflicts
    "wr_stall_in",    # write address ready, write data / scatter address / scalar missing
    "rd_stall_in",    # read address ready, gather address / scalar missing
    "wr_stall_sync",  # write vector waiting for a free slot (N-buffer / FIFO full)
    "rd_stall_sync",  # read vector waiting for a filled slot (N-buffer / FIFO empty)
    "rd_stall_out",   # read vector waiting for room on the output (backpressure)
    "oob",            # lane accesses outside the memory (write dropped / read returns 0)
    "high_water",     # most words held in filled, not yet freed slots (FIFO / N-buffer)
    "tokens_in",      # control tokens consumed (fill / free)
    "tokens_out",     # control tokens sent (write-done / read-done)
)


def slot_bits(params, lanes):
    """Width of slot counts (N-buffers or FIFO vectors)."""
    return max(params.buffers, params.size_words // lanes).bit_length() + 1


def counter_layout(params):
    return data.StructLayout({
        "count": unsigned(params.counter_bits),
        "stride": signed(params.addr_width),
        "arg": unsigned(5),
    })


def pipe_layout(params, lanes):
    aw = params.addr_width
    return data.StructLayout({
        "enable": unsigned(1),
        "port": unsigned(2),
        "passes": unsigned(32),
        "base": unsigned(aw),
        "base_arg": unsigned(5),
        "base_scalar": unsigned(4),
        "addr_scalar": unsigned(4),
        "addr_vector": unsigned(3),
        "bitrev": unsigned(5),
        "wrap": unsigned(5),
        "lane_off": data.ArrayLayout(signed(aw), lanes),
        "counters": data.ArrayLayout(counter_layout(params), params.counters),
    })


def config_layout(params, lanes):
    """The PMU's whole configuration layout (see the module docstring)."""
    pipe = pipe_layout(params, lanes)
    return data.StructLayout({
        "mode": unsigned(2),
        "bank_shift": unsigned(5),
        "skew_shift": unsigned(5),
        "sync": unsigned(2),
        "slots": unsigned(slot_bits(params, lanes)),
        "region": unsigned(params.addr_width),
        "fill_in": unsigned(4),
        "free_in": unsigned(4),
        "wdone_out": unsigned(4),
        "rdone_out": unsigned(4),
        "write": pipe,
        "read": pipe,
    })


def vecaddr_layout(params):
    """One vector address from :class:`tiles.pmu.AddrGen`: ``off`` (counter offset after bit
    reversal), ``base`` (base + argument + scalar + region, fixed for a pass) and flags."""
    aw = params.addr_width
    return data.StructLayout({
        "off": unsigned(aw),
        "base": unsigned(aw),
        "first": unsigned(1),
        "last": unsigned(1),
        "final": unsigned(1),
    })
