"""The HBM allocator every mapping uses: one unit (bytes), one alignment.

:class:`HbmAllocator` hands out byte addresses in HBM one after the other (a bump allocator; a
kernel's tensors live for the whole job). Every tensor starts on :attr:`HbmAllocator.align` =
one DRAM access rounded up to whole vectors, ``max(memory.hbm.access_bytes, 4·L)``: an AGCU
stream (vector addresses) starts on an access boundary and two tensors never share a DRAM access.
Input tensors are written into the HBM image as they are placed. Kernels batched in one job
share one allocator, or start a new one at the previous one's :attr:`~HbmAllocator.top`.
Overflow is reported once, by :meth:`~HbmAllocator.check`, listing the parts.
"""

from __future__ import annotations

import numpy as np

from memory.host import DRAMImage

from .graph import MappingError

__all__ = ["HbmAllocator", "HbmError"]


class HbmError(MappingError):
    """The tensors of a mapping do not fit the HBM model."""


class HbmAllocator:
    """Bump allocator of HBM byte addresses plus the image holding the input tensors.

    ``what``: how errors name the request (e.g. ``"fft: n = 512"``); ``base``: the first byte
    address to use (rounded up to :attr:`align`); ``image``: a :class:`memory.host.DRAMImage` to
    write into (default: a new one, made when the first input is placed)."""

    def __init__(self, params, what, base=0, image=None):
        hbm = params.memory.hbm
        self.params = params
        self.what = what
        self.vector_bytes = 4 * params.lanes
        self.align = max(hbm.access_bytes, self.vector_bytes)
        self.capacity = hbm.capacity_bytes
        self._image = image
        self.top = self.up(base)
        self.parts = []          # (name, base, bytes), in allocation order

    def up(self, nbytes):
        """``nbytes`` rounded up to the alignment."""
        return -(-int(nbytes) // self.align) * self.align

    @property
    def image(self):
        if self._image is None:
            self._image = DRAMImage(self.params.memory.hbm, "hbm")
        return self._image

    def alloc(self, name, nbytes):
        """Reserve ``nbytes`` for tensor ``name``; returns its byte address."""
        base = self.up(self.top)
        self.top = base + int(nbytes)
        self.parts.append((name, base, int(nbytes)))
        return base

    def place(self, name, words):
        """Reserve and write an input tensor of 32-bit ``words``; returns its byte address (the
        words are written only while everything fits: :meth:`check` reports the overflow)."""
        w = np.ascontiguousarray(words, np.uint32).reshape(-1)
        base = self.alloc(name, 4 * w.size)
        if self.fits():
            self.image.place(base, w)
        return base

    def fits(self):
        return self.top <= self.capacity

    def check(self):
        """Raise :class:`HbmError` (one line: the request, bytes needed, the parts, the
        capacity) if the tensors do not fit."""
        if self.fits():
            return
        shown = ", ".join(f"{n} {b} B" for n, _, b in self.parts[:8])
        more = f", {len(self.parts) - 8} more" if len(self.parts) > 8 else ""
        raise HbmError(f"{self.what}: needs {self.top} bytes of HBM ({shown}{more}); the "
                       f"{self.params.name!r} HBM has {self.capacity} bytes (memory.hbm rows x "
                       f"banks x row_bytes x channels); use a smaller shape or a configuration "
                       f"with more HBM")

    def mark(self):
        """The allocator's state, for :meth:`reset` (undo the allocations of a failed try)."""
        return self.top, len(self.parts)

    def reset(self, mark):
        self.top, n = mark
        del self.parts[n:]
