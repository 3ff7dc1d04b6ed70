"""The mapping protocol: how a kernel is declared, and what its mapping returns.

Every kernel is one :class:`KernelSpec`, declared by the module that maps it (``SPECS`` of
``compiler/gemm.py``, ``sdpa.py``, ``fft.py``, ``scan.py``) and collected by
:mod:`compiler.registry`. A declaration says everything the rest of the flow needs to know about a
kernel without knowing the kernel: its shape arguments (with limits and help), dtypes, the mapping
options it accepts (:class:`Option`: name, type, default, help), how to make reproducible inputs,
its golden (bit-exact) model, its float64 reference and its mapping function. ``rdu run``'s
arguments and help, request validation (:meth:`compiler.requests.KernelRequest.make`) and option
validation (:meth:`KernelSpec.check_options`) are generated from it.

This module imports nothing of the compiler, so a mapping module can import it and the registry
can import the mapping modules: imports run one way, ``protocol ← mappings ← registry ←
requests / kernel ← tb, scripts``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

__all__ = ["RequestError", "Option", "KernelSpec", "Compiled", "unit_caps"]


class RequestError(ValueError):
    """A kernel request that cannot be computed (one line: argument, value, what is allowed)."""


UNIT_KINDS = ("pcu", "pmu", "agcu")


def unit_caps(text):
    """``"pcu=2,pmu=3"`` → ``{"pcu": 2, "pmu": 3}`` (the CLI form of a unit-count option);
    a ``ValueError`` naming what is allowed otherwise."""
    caps = {}
    for item in str(text).split(","):
        kind, eq, num = item.strip().partition("=")
        if not eq or kind not in UNIT_KINDS or not num.strip().isdigit() or int(num) < 1:
            raise ValueError(f"{item.strip()!r}: expected KIND=N with KIND one of "
                             f"{', '.join(UNIT_KINDS)} and N >= 1, e.g. pcu=2,pmu=3")
        caps[kind] = int(num)
    return caps


@dataclasses.dataclass(frozen=True)
class Option:
    """A mapping option a kernel accepts: ``name`` (the keyword of the mapping function; the CLI
    flag is ``--name`` with ``_`` as ``-``), ``type`` (``bool``, ``int``, ``str`` or ``dict``
    — a unit-count map, written ``pcu=2,pmu=3`` on the command line), ``default`` (``None``: the
    mapping decides), ``help``, ``choices`` (allowed values of a ``str`` option), ``minimum``
    (of an ``int`` option) and ``cli`` (``False``: a programming interface only, e.g. the HBM
    base address of a kernel batched with others)."""

    name: str
    type: type
    default: Any = None
    help: str = ""
    choices: tuple = ()
    minimum: int | None = None
    cli: bool = True

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    def check(self, kernel, value):
        """``value`` validated (``None`` stands for the default); a :class:`RequestError`
        naming the option otherwise."""
        if value is None:
            return None
        what = f"{kernel}: {self.flag} = {value!r}"
        if self.type is bool:
            if not isinstance(value, bool):
                raise RequestError(f"{what}: must be true or false")
        elif self.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise RequestError(f"{what}: must be an integer")
            if self.minimum is not None and value < self.minimum:
                raise RequestError(f"{what}: must be >= {self.minimum}")
        elif self.type is str:
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise RequestError(f"{what}: allowed: {', '.join(map(repr, self.choices))}")
        elif self.type is dict:
            if isinstance(value, str):
                try:
                    value = unit_caps(value)
                except ValueError as e:
                    raise RequestError(f"{kernel}: {self.flag}: {e}") from None
            if not isinstance(value, dict) or any(
                    k not in UNIT_KINDS or isinstance(v, bool) or not isinstance(v, int) or v < 1
                    for k, v in value.items()):
                raise RequestError(f"{what}: expected unit counts >= 1 of "
                                   f"{', '.join(UNIT_KINDS)}, e.g. pcu=2,pmu=3")
            value = dict(value)
        return value

    def describe(self):
        """One line for ``--help``: the help text and the default."""
        default = "decided by the mapping" if self.default is None else repr(self.default)
        if self.type is bool:
            default = "on" if self.default else "off"
        choices = f"; one of {', '.join(self.choices)}" if self.choices else ""
        return f"{self.help}{choices} (default: {default})"


@dataclasses.dataclass(frozen=True)
class KernelSpec:
    """The declaration of one kernel.

    ``dims``: shape argument names in order (e.g. ``("M", "N", "K")``); ``dtypes``: allowed
    dtypes, the first the default; ``doc``: one line; ``pow2``: dims that must be powers of two;
    ``limits``: ``dim -> (lo, hi)``; ``dim_help``: ``dim -> help``; ``options``: the
    :class:`Option` s the mapping accepts; ``inputs(req, rng) -> dict``: reproducible random
    inputs named as the golden function's arguments; ``golden(req, inputs, lanes, **golden_options)``:
    the bit-exact result (``lanes``: the evaluation order the mapping follows,
    :attr:`Compiled.golden_lanes`); ``reference(req, inputs)``: the float64 result;
    ``mapping(req, params, inputs, **options) -> Compiled``: the mapping function, which raises
    :class:`compiler.graph.MappingError` naming the fabric limit a request exceeds;
    ``input_words(shape) -> int``: the 32-bit HBM words the inputs of ``shape`` (a dict of the
    dims) take before any padding — a lower bound of what the mapping allocates, checked against
    the fabric's HBM before the inputs are made (:func:`compiler.requests.make_inputs`)."""

    name: str
    dims: tuple
    dtypes: tuple
    doc: str
    pow2: tuple = ()
    limits: dict = dataclasses.field(default_factory=dict)
    dim_help: dict = dataclasses.field(default_factory=dict)
    options: tuple = ()
    inputs: Callable | None = None
    golden: Callable | None = None
    reference: Callable | None = None
    mapping: Callable | None = None
    input_words: Callable | None = None

    @property
    def option_names(self):
        return tuple(o.name for o in self.options)

    def option(self, name):
        for o in self.options:
            if o.name == name:
                return o
        return None

    def describe_options(self):
        """``--a, --b`` (or ``none``): this kernel's options as a user writes them."""
        return ", ".join(o.flag for o in self.options if o.cli) or "none"

    def check_options(self, options):
        """``options`` validated: a dict of the given options (``None`` values dropped) with
        values checked against their declarations. An option this kernel does not declare is a
        :class:`RequestError` naming the kernel and its options."""
        unknown = [k for k, v in options.items() if v is not None and self.option(k) is None]
        if unknown:
            flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
            raise RequestError(f"{self.name}: {flags} is not an option of {self.name}; its "
                               f"options: {self.describe_options()}")
        out = {}
        for k, v in options.items():
            v = self.option(k).check(self.name, v) if v is not None else None
            if v is not None:
                out[k] = v
        return out


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
