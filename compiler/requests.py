"""Kernel requests: what a user asks the fabric to compute, validated before any mapping.

A :class:`KernelRequest` names a kernel, its shape and dtype. :data:`KERNELS` (the registry,
:mod:`compiler.registry`) holds each kernel's declaration (:class:`~compiler.protocol.KernelSpec`):
its shape arguments and their limits, allowed dtypes, options, how to make reproducible random
inputs (named as the arguments of the kernel's golden function in :mod:`hw.golden`), the golden
model and the float64 reference. Invalid requests raise :class:`RequestError` with one line naming
the argument and what is allowed; limits that depend on the fabric (memory capacity, lanes) are
checked by the mapper.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .protocol import KernelSpec, Option, RequestError
from .registry import KERNELS

__all__ = ["RequestError", "KernelSpec", "Option", "KernelRequest", "KERNELS", "make_inputs",
           "expected", "float64_reference", "spec"]


def spec(kernel):
    """The declaration of ``kernel``; a :class:`RequestError` naming the known kernels otherwise."""
    if kernel not in KERNELS:
        raise RequestError(f"kernel {kernel!r}: unknown; allowed: {', '.join(KERNELS)}")
    return KERNELS[kernel]


@dataclasses.dataclass(frozen=True)
class KernelRequest:
    """``kernel`` with ``shape`` (dict of its dims) and ``dtype``."""

    kernel: str
    shape: dict
    dtype: str

    @classmethod
    def make(cls, kernel, dtype=None, **dims):
        sp = spec(kernel)
        missing = [d for d in sp.dims if dims.get(d) is None]
        if missing:
            raise RequestError(f"{kernel}: missing shape argument(s) "
                               f"{', '.join('--' + m for m in missing)} (needs {', '.join(sp.dims)})")
        extra = [d for d, v in dims.items() if d not in sp.dims and v is not None]
        if extra:
            raise RequestError(f"{kernel}: unexpected argument(s) {', '.join('--' + e for e in extra)}; "
                               f"{kernel} takes {', '.join('--' + d for d in sp.dims)}")
        dtype = dtype or sp.dtypes[0]
        if dtype not in sp.dtypes:
            raise RequestError(f"{kernel}: --dtype {dtype!r}: allowed: {', '.join(sp.dtypes)}")
        shape = {}
        for d in sp.dims:
            v = dims[d]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise RequestError(f"{kernel}: {d} = {v!r}: must be an integer")
            lo, hi = sp.limits.get(d, (1, 1 << 30))
            if not lo <= v <= hi:
                raise RequestError(f"{kernel}: {d} = {v}: must be in {lo}..{hi}")
            if d in sp.pow2 and v & (v - 1):
                raise RequestError(f"{kernel}: {d} = {v}: must be a power of two "
                                   f"(radix-2 FFT); e.g. {1 << (int(v).bit_length() - 1)} or "
                                   f"{1 << int(v).bit_length()}")
            shape[d] = int(v)
        return cls(kernel, shape, dtype)

    @property
    def spec(self):
        return KERNELS[self.kernel]

    @property
    def label(self):
        return "x".join(str(v) for v in self.shape.values())

    def as_dict(self):
        return {"kernel": self.kernel, "shape": dict(self.shape), "dtype": self.dtype}


def make_inputs(req, seed):
    """Reproducible random inputs, named as the golden function's arguments."""
    return spec(req.kernel).inputs(req, np.random.default_rng(seed))


def expected(req, inputs, lanes, **options):
    """The golden (bit-exact) result for ``inputs`` on a fabric with ``lanes`` lanes.

    ``options``: keyword arguments of a documented order variant of the golden function that the
    mapping follows (:attr:`compiler.protocol.Compiled.golden_options`), e.g. mamba's
    ``reduce_lanes`` (:func:`hw.golden.selective_scan`)."""
    return spec(req.kernel).golden(req, inputs, lanes, **options)


def float64_reference(req, inputs):
    """The float64 result for ``inputs`` (:mod:`hw.golden.reference`)."""
    return spec(req.kernel).reference(req, inputs)
