"""The interface between kernel mappings and the rest of the flow.

A mapping module (``compiler/<family>.py``) provides, for each kernel it handles,

    compile(req: KernelRequest, params: FabricParams, inputs: dict, **options) -> Compiled

which returns the :class:`~compiler.job.Job` to run (phases of configurations and the HBM image
holding ``inputs``) and how to turn the HBM outputs into the kernel's result. It raises
:class:`compiler.graph.MappingError` (or a :class:`compiler.requests.RequestError`) with one line
naming the limit when the request does not fit this fabric. ``options`` are mapping knobs every
mapping accepts and may ignore, e.g. ``baseline=True`` (compute without the ``butterfly`` / ``scan``
extensions — same bits, more cycles) or ``form="naive"``.

:data:`MAPPERS` says which module compiles which kernel; :func:`compile_kernel` dispatches.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util

from .graph import MappingError

__all__ = ["Compiled", "MAPPERS", "compile_kernel", "available"]

#: kernel → "module:function"
MAPPERS = {
    "gemm": "compiler.gemm:compile",
    "sdpa": "compiler.sdpa:compile",
    "sdpa_naive": "compiler.sdpa:compile",
    "fft": "compiler.fft:compile",
    "hyena": "compiler.fft:compile",
    "scan": "compiler.scan:compile",
    "linear_scan": "compiler.scan:compile",
    "mamba": "compiler.scan:compile",
}


@dataclasses.dataclass
class Compiled:
    """A compiled kernel.

    ``job``: what to run; ``output(outputs) -> np.ndarray``: the kernel's result from the fetched
    HBM tensors (crop padding, join re/im ...); ``golden_lanes``: the lane count whose evaluation
    order the result follows (``hw.golden`` functions take it); ``useful_ops``: useful operations
    (MACs for GEMM, FU ops otherwise); ``peak_ops_per_cycle``: peak of the units used (e.g.
    L·S MACs per systolic PCU); ``units``: ``{"pcu": n, "pmu": n, "agcu": n}`` used;
    ``buffer_reads``: labels of phase reads that are buffer high-water marks in words;
    ``stall_reads``: labels of phase reads that are stall counters; ``notes``: one line for reports;
    ``golden_options``: keyword arguments of a documented order variant of the kernel's golden
    function that the result follows (passed to :func:`compiler.requests.expected`; e.g.
    ``{"reduce_lanes": 1}`` for a mamba mapping that sums the states sequentially);
    ``buffer_sum``: the buffer reads are parts of one buffer (e.g. a FIFO chained over several
    PMUs) — ``run_kernel`` reports their sum instead of their maximum.
    """

    job: object
    output: object
    golden_lanes: int
    useful_ops: int = 0
    peak_ops_per_cycle: float = 0.0
    units: dict = dataclasses.field(default_factory=dict)
    buffer_reads: tuple = ()
    stall_reads: tuple = ()
    notes: str = ""
    golden_options: dict = dataclasses.field(default_factory=dict)
    buffer_sum: bool = False


def available(kernel):
    """Whether the mapping module for ``kernel`` exists in this build."""
    mod = MAPPERS[kernel].split(":")[0]
    try:
        return importlib.util.find_spec(mod) is not None
    except ModuleNotFoundError:
        return False


def compile_kernel(req, params, inputs, **options):
    if req.kernel not in MAPPERS:
        raise MappingError(f"kernel {req.kernel!r}: no mapping; known: {', '.join(MAPPERS)}")
    if not available(req.kernel):
        raise MappingError(f"kernel {req.kernel!r}: its mapping ({MAPPERS[req.kernel]}) is not "
                           f"available in this build")
    mod, fn = MAPPERS[req.kernel].split(":")
    return getattr(importlib.import_module(mod), fn)(req, params, inputs, **options)
