"""The interface between kernel mappings and the rest of the flow.

Each kernel's mapping function is declared in its :class:`~compiler.protocol.KernelSpec`
(:data:`compiler.registry.KERNELS`):

    mapping(req: KernelRequest, params: FabricParams, inputs: dict, **options) -> Compiled

which returns the :class:`~compiler.job.Job` to run (phases of configurations and the HBM image
holding ``inputs``) and how to turn the HBM outputs into the kernel's result. It raises
:class:`compiler.graph.MappingError` (or a :class:`compiler.requests.RequestError`) with one line
naming the limit when the request does not fit this fabric. ``options`` are the mapping options
the kernel declares (e.g. ``baseline=True`` for FFT and the scans: compute without the
``butterfly`` / ``scan`` extensions — same bits, more cycles); :func:`compile_kernel` checks them
against the declaration first, so an option the kernel does not have is a
:class:`~compiler.protocol.RequestError` naming the kernel and its options.
"""

from __future__ import annotations

from .protocol import Compiled
from .registry import KERNELS
from .requests import spec

__all__ = ["Compiled", "compile_kernel", "check_options", "available"]


def available(kernel):
    """Whether ``kernel`` is registered (its mapping module is part of this build)."""
    return kernel in KERNELS


def check_options(req, options):
    """``options`` for ``req``'s kernel, validated against its declaration (given, non-``None``
    options only); a :class:`~compiler.protocol.RequestError` naming the kernel and its options
    otherwise."""
    return spec(req.kernel).check_options(options)


def compile_kernel(req, params, inputs, **options):
    """Compile ``req`` for ``params`` with the kernel's declared mapping and checked options."""
    sp = spec(req.kernel)
    return sp.mapping(req, params, inputs, **sp.check_options(options))
