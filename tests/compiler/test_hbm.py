"""The one HBM allocator of every mapping (:class:`compiler.hbm.HbmAllocator`): bytes, one
alignment (a DRAM access in whole vectors), inputs in the image, one error listing the parts.
No simulation."""

from __future__ import annotations

import numpy as np
import pytest

from compiler import fft, gemm, scan, sdpa
from compiler.hbm import HbmAllocator, HbmError
from compiler.requests import KernelRequest, make_inputs
from hw.params import load


def test_bytes_one_alignment_and_the_image():
    p = load("small")                                    # L = 4, 64-byte DRAM accesses
    hbm = HbmAllocator(p, "k", base=100)
    assert hbm.align == 64 and hbm.top == 128            # the base is rounded up
    a = hbm.place("a", np.arange(5, dtype=np.uint32))   # 20 bytes
    b = hbm.alloc("b", 64)
    assert (a, b, hbm.top) == (128, 192, 256)
    assert np.array_equal(hbm.image.words()[32:37], np.arange(5))
    mark = hbm.mark()
    hbm.alloc("c", 10)
    hbm.reset(mark)
    assert hbm.top == 256 and [n for n, _, _ in hbm.parts] == ["a", "b"]
    # accesses narrower than a vector (16 bytes at L = 4): whole vectors
    narrow = p.memory.hbm.replace(burst_length=1, bytes_per_cycle=8)
    assert HbmAllocator(p.replace(memory=p.memory.replace(hbm=narrow)), "k").align == 16


def test_overflow_is_one_error_listing_the_parts():
    p = load("small")
    hbm = HbmAllocator(p, "scan: n = 9")
    for i in range(8):
        hbm.alloc(f"t{i}", 32768)
    hbm.check()                                          # 256 KiB: fits exactly
    for i in range(8, 11):
        hbm.alloc(f"t{i}", 1)
    with pytest.raises(HbmError) as e:
        hbm.check()
    assert str(e.value) == (
        "scan: n = 9: needs 262273 bytes of HBM (t0 32768 B, t1 32768 B, t2 32768 B, t3 32768 B, "
        "t4 32768 B, t5 32768 B, t6 32768 B, t7 32768 B, 3 more); the 'small' HBM has 262144 "
        "bytes (memory.hbm rows x banks x row_bytes x channels); use a smaller shape or a "
        "configuration with more HBM")


def _aligned(*addresses):
    return all(a % 64 == 0 for a in addresses)


def test_every_mapping_allocates_with_it():
    p = load("small")
    req = KernelRequest.make("gemm", M=5, N=6, K=7)
    pl = gemm.plan(req, p, base=100)
    assert pl.a_base == 128 and _aligned(pl.b_base, pl.c_base, pl.hbm_bytes)
    req = KernelRequest.make("hyena", n=8)
    fp = fft.plan(req, p, make_inputs(req, 0))
    assert isinstance(fp.hbm, HbmAllocator) and _aligned(*(b for _, b, _ in fp.hbm.parts))
    pipe, _, _ = sdpa.build(p, *make_inputs(KernelRequest.make("sdpa", n=4, d=4), 0).values())
    assert isinstance(pipe.hbm, HbmAllocator)
    assert _aligned(*(t.base for t in pipe.tensors.values()))
    req = KernelRequest.make("scan", n=9)
    c = scan.compile(req, p, make_inputs(req, 0), hbm_base=1000)      # bytes
    assert c.job.hbm_top > 1024 and c.job.hbm.words()[1024 // 4] != 0
