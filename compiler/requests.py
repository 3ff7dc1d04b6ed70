"""Kernel requests: what a user asks the fabric to compute, validated before any mapping.

A :class:`KernelRequest` names a kernel, its shape and dtype. :data:`KERNELS` (the registry,
:mod:`compiler.registry`) holds each kernel's declaration (:class:`~compiler.protocol.KernelSpec`):
its shape arguments and their limits, allowed dtypes, options, how to make reproducible random
inputs (named as the arguments of the kernel's golden function in :mod:`hw.golden`), the golden
model and the float64 reference. Invalid requests raise :class:`RequestError` with one line naming
the argument and what is allowed; limits that depend on the fabric are checked by the mapper,
except that the inputs must fit the HBM, which :func:`check_capacity` checks from the shape
before any input is made.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .hbm import HbmError
from .protocol import KernelSpec, Option, RequestError
from .registry import KERNELS

__all__ = [
    "KERNELS",
    "KernelRequest",
    "KernelSpec",
    "Option",
    "RequestError",
    "check_capacity",
    "expected",
    "float64_reference",
    "make_inputs",
    "spec",
]


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


def check_capacity(req, params):
    """Raise :class:`compiler.hbm.HbmError` (one line) if the inputs of ``req`` alone exceed the
    HBM of ``params`` — checked from the shape, before any input is made (the mapping checks its
    padded tensors and outputs afterwards)."""
    words = spec(req.kernel).input_words(req.shape)
    capacity = params.memory.hbm.capacity_bytes
    if 4 * words > capacity:
        shape = ", ".join(f"{d} = {v}" for d, v in req.shape.items())
        raise HbmError(f"{req.kernel}: {shape}: the inputs alone take {4 * words} bytes of HBM; "
                       f"the {params.name!r} HBM has {capacity} bytes (memory.hbm rows x banks x "
                       f"row_bytes x channels); use a smaller shape or a configuration with more "
                       f"HBM")


def make_inputs(req, seed, params=None):
    """Reproducible random inputs, named as the golden function's arguments. With ``params``,
    the inputs are first checked to fit that fabric's HBM (:func:`check_capacity`), so an
    oversize request fails with one line instead of allocating host memory for it."""
    if params is not None:
        check_capacity(req, params)
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
