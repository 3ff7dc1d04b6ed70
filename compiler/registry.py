"""The kernel registry: every kernel's :class:`~compiler.protocol.KernelSpec`, by name.

Each mapping module declares the kernels it maps in a module-level ``SPECS`` tuple, next to the
code that reads their options; :data:`FAMILIES` lists those modules, and :data:`KERNELS` collects
their declarations in that order. :mod:`compiler.requests` (validation, inputs, golden, float64
reference), :mod:`compiler.kernel` (dispatch to the mapping) and ``rdu run`` (arguments and help)
all read :data:`KERNELS`; adding a kernel is adding a ``KernelSpec`` to a family's ``SPECS`` (or a
new module to :data:`FAMILIES`) — see ``docs/compiler.md``.
"""

from __future__ import annotations

import importlib

__all__ = ["FAMILIES", "KERNELS"]

#: The mapping modules, each with a ``SPECS`` tuple; their kernels are registered in this order.
FAMILIES = ("compiler.gemm", "compiler.sdpa", "compiler.fft", "compiler.scan")


def _collect():
    kernels = {}
    for name in FAMILIES:
        for spec in importlib.import_module(name).SPECS:
            if spec.name in kernels:
                raise ImportError(f"kernel {spec.name!r} declared twice (second in {name})")
            kernels[spec.name] = spec
    return kernels


#: kernel name → :class:`~compiler.protocol.KernelSpec`
KERNELS = _collect()
