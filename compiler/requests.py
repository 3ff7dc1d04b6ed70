"""Kernel requests: what a user asks the fabric to compute, validated before any mapping.

A :class:`KernelRequest` names a kernel, its shape and dtype. :data:`KERNELS` describes each kernel:
its shape arguments, allowed dtypes, how to make reproducible random inputs (named as the
arguments of the kernel's golden function in :mod:`hw.golden`), the golden model and the float64
reference. Invalid requests raise :class:`RequestError` with one line naming the argument and what
is allowed; limits that depend on the fabric (memory capacity, lanes) are checked by the mapper.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hw import golden, numerics
from hw.golden import reference as ref

__all__ = ["RequestError", "KernelSpec", "KernelRequest", "KERNELS", "make_inputs", "expected",
           "float64_reference"]


class RequestError(ValueError):
    """A kernel request that cannot be computed (one line: argument, value, what is allowed)."""


@dataclasses.dataclass(frozen=True)
class KernelSpec:
    name: str
    dims: tuple            # shape argument names, e.g. ("M", "N", "K")
    dtypes: tuple          # allowed dtypes; the first is the default
    doc: str
    pow2: tuple = ()       # dims that must be powers of two
    limits: dict = dataclasses.field(default_factory=dict)   # dim -> (lo, hi)


KERNELS = {
    "gemm": KernelSpec("gemm", ("M", "N", "K"), ("bf16", "int16"),
                       "C = A @ B; systolic PCUs; bf16 in / fp32 accumulate or int16 → int32",
                       limits={"M": (1, 4096), "N": (1, 4096), "K": (1, 4096)}),
    "sdpa": KernelSpec("sdpa", ("n", "d"), ("fp32",),
                       "attention, streaming form (running max / sum, deferred division)",
                       limits={"n": (1, 8192), "d": (1, 256)}),
    "sdpa_naive": KernelSpec("sdpa_naive", ("n", "d"), ("fp32",),
                             "attention, naive form (a whole score row buffered)",
                             limits={"n": (1, 8192), "d": (1, 256)}),
    "fft": KernelSpec("fft", ("n",), ("fp32",), "complex radix-2 FFT of n points",
                      pow2=("n",), limits={"n": (2, 1 << 16)}),
    "hyena": KernelSpec("hyena", ("n",), ("fp32",),
                        "Hyena long convolution via FFT (2n-point), pointwise product, inverse FFT",
                        pow2=("n",), limits={"n": (1, 1 << 15)}),
    "scan": KernelSpec("scan", ("n",), ("fp32", "int32"), "inclusive prefix sum",
                       limits={"n": (1, 1 << 20)}),
    "linear_scan": KernelSpec("linear_scan", ("n",), ("fp32",),
                              "h_t = a_t·h_{t-1} + b_t (associative pair scan)",
                              limits={"n": (1, 1 << 20)}),
    "mamba": KernelSpec("mamba", ("T", "D", "S"), ("fp32",),
                        "Mamba selective scan from discretized inputs",
                        limits={"T": (1, 1 << 16), "D": (1, 1024), "S": (1, 256)}),
}


@dataclasses.dataclass(frozen=True)
class KernelRequest:
    """``kernel`` with ``shape`` (dict of its dims) and ``dtype``."""

    kernel: str
    shape: dict
    dtype: str

    @classmethod
    def make(cls, kernel, dtype=None, **dims):
        if kernel not in KERNELS:
            raise RequestError(f"kernel {kernel!r}: unknown; allowed: {', '.join(KERNELS)}")
        spec = KERNELS[kernel]
        missing = [d for d in spec.dims if dims.get(d) is None]
        if missing:
            raise RequestError(f"{kernel}: missing shape argument(s) "
                               f"{', '.join('--' + m for m in missing)} (needs {', '.join(spec.dims)})")
        extra = [d for d, v in dims.items() if d not in spec.dims and v is not None]
        if extra:
            raise RequestError(f"{kernel}: unexpected argument(s) {', '.join('--' + e for e in extra)}; "
                               f"{kernel} takes {', '.join('--' + d for d in spec.dims)}")
        dtype = dtype or spec.dtypes[0]
        if dtype not in spec.dtypes:
            raise RequestError(f"{kernel}: --dtype {dtype!r}: allowed: {', '.join(spec.dtypes)}")
        shape = {}
        for d in spec.dims:
            v = dims[d]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise RequestError(f"{kernel}: {d} = {v!r}: must be an integer")
            lo, hi = spec.limits.get(d, (1, 1 << 30))
            if not lo <= v <= hi:
                raise RequestError(f"{kernel}: {d} = {v}: must be in {lo}..{hi}")
            if d in spec.pow2 and v & (v - 1):
                raise RequestError(f"{kernel}: {d} = {v}: must be a power of two "
                                   f"(radix-2 FFT); e.g. {1 << (int(v).bit_length() - 1)} or "
                                   f"{1 << int(v).bit_length()}")
            shape[d] = int(v)
        return cls(kernel, shape, dtype)

    @property
    def label(self):
        return "x".join(str(v) for v in self.shape.values())

    def as_dict(self):
        return {"kernel": self.kernel, "shape": dict(self.shape), "dtype": self.dtype}


def make_inputs(req, seed):
    """Reproducible random inputs, named as the golden function's arguments."""
    rng = np.random.default_rng(seed)
    s = req.shape
    f32 = np.float32

    def normal(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(f32)

    k = req.kernel
    if k == "gemm":
        if req.dtype == "int16":
            # A spans the whole int16 range (the multipliers see every operand bit); B is bounded
            # so that K products of up to 2^15 · |b| fit int32 — the wrap-around of the int32
            # accumulator is the defined behaviour (tests/golden), but a random run that wraps
            # would report a meaningless error against the float64 reference.
            bmax = max(1, min(32768, (1 << 31) // (32768 * s["K"])))
            return {"a": rng.integers(-32768, 32768, (s["M"], s["K"])).astype(np.int16),
                    "b": rng.integers(-bmax, bmax, (s["K"], s["N"])).astype(np.int16)}
        return {"a": golden_bf16(normal(s["M"], s["K"])), "b": golden_bf16(normal(s["K"], s["N"]))}
    if k in ("sdpa", "sdpa_naive"):
        return {"q": normal(s["n"], s["d"]), "k": normal(s["n"], s["d"]), "v": normal(s["n"], s["d"])}
    if k == "fft":
        return {"x": (normal(s["n"]) + 1j * normal(s["n"])).astype(np.complex64)}
    if k == "hyena":
        return {"u": normal(s["n"]), "k": normal(s["n"], scale=1.0 / np.sqrt(s["n"])),
                "d": normal(1)[0:1].reshape(())}
    if k == "scan":
        if req.dtype == "int32":
            return {"x": rng.integers(-(1 << 16), 1 << 16, s["n"]).astype(np.int64)}
        return {"x": normal(s["n"])}
    if k == "linear_scan":
        return {"a": rng.uniform(0.5, 1.0, s["n"]).astype(f32), "b": normal(s["n"])}
    if k == "mamba":
        t, d, st = s["T"], s["D"], s["S"]
        return {"a_bar": rng.uniform(0.5, 1.0, (t, d, st)).astype(f32), "bx": normal(t, d, st),
                "c": normal(t, st), "d": normal(d), "x": normal(t, d)}
    raise RequestError(f"kernel {k!r}: no input generator")


def golden_bf16(x):
    return numerics.bf16_round(x)


def expected(req, inputs, lanes, **options):
    """The golden (bit-exact) result for ``inputs`` on a fabric with ``lanes`` lanes.

    ``options``: keyword arguments of a documented order variant of the golden function that the
    mapping follows (:attr:`compiler.kernel.Compiled.golden_options`), e.g. mamba's
    ``reduce_lanes`` (:func:`hw.golden.selective_scan`)."""
    k = req.kernel
    i = inputs
    if k == "gemm":
        return golden.gemm(i["a"], i["b"], dtype=req.dtype)
    if k == "sdpa":     # scores as dot products in the PCU order over ``lanes`` (None: GEMM order)
        return golden.sdpa_streaming(i["q"], i["k"], i["v"], lanes=lanes)
    if k == "sdpa_naive":
        return golden.sdpa_naive(i["q"], i["k"], i["v"], lanes=lanes)
    if k == "fft":
        return golden.fft(i["x"])
    if k == "hyena":
        return golden.hyena_conv(i["u"], i["k"], i["d"])
    if k == "scan":
        return golden.prefix_sum(i["x"], lanes, "int32" if req.dtype == "int32" else "fp32")
    if k == "linear_scan":
        return golden.linear_scan(i["a"], i["b"], lanes)
    if k == "mamba":
        return golden.selective_scan(i["a_bar"], i["bx"], i["c"], i["d"], i["x"], lanes,
                                     **options)
    raise RequestError(f"kernel {k!r}: no golden model")


def float64_reference(req, inputs):
    k = req.kernel
    i = inputs
    if k == "gemm":
        return ref.gemm(i["a"], i["b"])
    if k in ("sdpa", "sdpa_naive"):
        return ref.sdpa(i["q"], i["k"], i["v"])
    if k == "fft":
        return ref.fft(i["x"])
    if k == "hyena":
        return ref.hyena_conv(i["u"], i["k"], i["d"])
    if k == "scan":
        return ref.prefix_sum(i["x"])
    if k == "linear_scan":
        return ref.linear_scan(i["a"], i["b"])
    if k == "mamba":
        return ref.selective_scan(i["a_bar"], i["bx"], i["c"], i["d"], i["x"])
    raise RequestError(f"kernel {k!r}: no reference")
