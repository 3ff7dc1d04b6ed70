"""What a unit generator returns: an elaboratable plus how to emit it as Verilog; the platform
object Verilog conversion elaborates with, which chooses how the arithmetic is built
(docs/architecture.md §6); and the shared unit modules of that Verilog.

Shared units
------------
Amaranth emits one Verilog module per instance, so a fabric of eight PCUs that differ only in
their ring id would be elaborated, converted and compiled (by Verilator) eight times.
:func:`to_verilog` instead elaborates each **unique unit** — same class, same parameters — once:

* a unit whose only per-instance difference is a constant (its ring id) starts its ``elaborate``
  with :func:`shared_unit`. Outside :func:`to_verilog` (the Amaranth simulator, FPGA builds:
  ``platform`` is something else) that returns ``None`` and the unit elaborates as usual;
* inside it, the first unit of a key converts a **template** — the same class and parameters
  with those constants as input ports (e.g. ``unit_id`` from :data:`hw.config.UNIT_ID_PORT`) — to
  its own Verilog module ``rdu_shared_<class>_<hash of the key>``, and every unit of that key
  (the first included) elaborates to an ``Instance`` of it, its ports wired to the unit's own
  interface and the constants driven from the instance;
* :func:`to_verilog` appends the shared modules' texts to the top's. The top component itself is
  never replaced (``rdu gen --unit pcu`` is still a plain PCU).

The Verilog of a fabric then holds one module per unique unit, instanced where the units sit;
:func:`shared_modules` lists them (the Verilator build keeps them un-inlined,
:mod:`tb.runner`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
from pathlib import Path

from amaranth import ClockSignal, Const, Instance, ResetSignal, Value
from amaranth.back import verilog
from amaranth.lib.wiring import In

__all__ = ["ARITH_MODES", "SimPlatform", "Generated", "to_verilog", "shared_unit",
           "shared_modules", "SHARED_PREFIX"]

#: Module names of shared units start with this (:func:`shared_modules` finds them by it).
SHARED_PREFIX = "rdu_shared_"

#: How a design's functional-unit arithmetic is built: ``gates`` — the synthesizable
#: :mod:`hw.arith` datapaths (FPGA builds, lint, the Amaranth simulator); ``behavioural`` — one
#: C function per functional unit per cycle behind a DPI-C call (Verilator simulation only).
ARITH_MODES = ("gates", "behavioural")


class SimPlatform:
    """The ``platform`` a Verilator simulation build elaborates with (Amaranth passes it to every
    ``elaborate``). It carries the arithmetic mode (``arith``, one of :data:`ARITH_MODES`) and
    collects the extra source files the elaborated design needs, as Amaranth's build platforms
    do: verbatim files by path (:meth:`add_source`) and generated files by name and text
    (:meth:`add_file`).

    A unit that has a simulation-only model reads ``getattr(platform, "arith", "gates")``, so
    FPGA builds (an amaranth-boards platform) and the Amaranth simulator (``platform`` is
    ``None``) always get gates.

    It also holds the shared unit modules converted so far (``shared``; :func:`shared_unit`,
    :meth:`instance`, :meth:`texts`), which :func:`to_verilog` appends to the top's text."""

    def __init__(self, arith="gates", shared=True):
        if arith not in ARITH_MODES:
            raise ValueError(f"arith {arith!r}: allowed: {', '.join(ARITH_MODES)}")
        self.arith = arith
        #: units calling :func:`shared_unit` become instances of one module per unique unit
        self.shared = shared
        #: the component being converted (:func:`to_verilog`): never replaced by an instance
        self.top = None
        self._texts = {}
        self._ports = {}
        #: generated files: name → text (written beside the Verilog when it is built)
        self.files = {}
        #: verbatim source files (paths), in the order added
        self.sources = []

    def add_file(self, name, text):
        """Add a generated file ``name`` (no folder) with contents ``text``; adding the same name
        twice must give the same text."""
        if self.files.setdefault(name, text) != text:
            raise ValueError(f"SimPlatform: two different texts for the generated file {name!r}")

    def add_source(self, path):
        """Add a verbatim source file (a path; duplicates are ignored)."""
        path = str(path)
        if path not in self.sources:
            self.sources.append(path)

    def texts(self):
        """The shared modules' Verilog texts, in the order they were first used."""
        return list(self._texts.values())

    def instance(self, unit, key, template, constants):
        """The ``Instance`` of :func:`shared_unit` (its parameters there); converts the template
        on the first use of a key. The unit's logic must run in domain ``sync``, which becomes
        the module's ``clk`` / ``rst`` (another domain would be a port the unit lacks: an
        error)."""
        cls = type(unit)
        ident = repr((cls.__module__, cls.__qualname__, key))
        name = (f"{SHARED_PREFIX}{cls.__name__.lower()}_"
                f"{hashlib.sha256(ident.encode()).hexdigest()[:12]}")
        if name not in self._texts:
            # Converted with this platform too, so units inside a shared unit are shared as well.
            comp = template()
            text = verilog.convert(comp, name=name, emit_src=False, platform=self)
            self._texts[name] = text
            self._ports[name] = (_ports_of(text, name),
                                 {p: comp.signature.members[p].shape for p in constants})
        ports, shapes = self._ports[name]
        conns = {}
        for path, member, value in unit.signature.flatten(unit):
            port = "__".join(str(p) for p in path)
            conns[f"{'i' if member.flow == In else 'o'}_{port}"] = Value.cast(value)
        for port, v in constants.items():
            conns[f"i_{port}"] = Const(v, shapes[port])
        # Amaranth names a converted top's clock and reset ``clk`` / ``rst`` (domain ``sync``);
        # the parent's DomainRenamer, if any, renames these to its domain.
        if "clk" in ports:
            conns["i_clk"] = ClockSignal("sync")
        if "rst" in ports:
            conns["i_rst"] = ResetSignal("sync")
        have = {k[2:] for k in conns}
        if have != ports:
            raise ValueError(f"shared unit {name} ({cls.__qualname__}): the template's ports and "
                             f"the unit's differ: only the template has {sorted(ports - have)}, "
                             f"only the unit {sorted(have - ports)}")
        # The instance itself is the unit's fragment: no wrapper module per unit, and the instance
        # keeps the unit's name in the parent (e.g. ``pcu_0_0``).
        return Instance(name, **conns)


def to_verilog(component, top, platform=None, shared=True):
    """``component`` as Verilog text with top module ``top``, elaborated for ``platform`` (a
    :class:`SimPlatform`; ``None``: a gate-level one). No source attributes, so the text — and
    every hash taken of it — does not depend on Python line numbers. ``shared``: units that call
    :func:`shared_unit` become instances of one module per unique unit, whose texts follow the
    top's (see the module docstring); ``False`` emits one module per instance."""
    if platform is None:
        platform = SimPlatform("gates", shared=shared)
    platform.shared = shared
    platform.top = component
    text = verilog.convert(component, name=top, emit_src=False, platform=platform)
    return "".join([text, *platform.texts()])


def shared_unit(unit, platform, key, template, **constants):
    """When ``platform`` is :func:`to_verilog`'s (a :class:`SimPlatform`) and ``unit`` is not the
    top: an ``Instance`` of the one shared module of ``key``, to return from ``unit.elaborate``;
    otherwise ``None`` (elaborate the unit as usual).

    ``key``: the unit's parameters — everything its hardware depends on except ``constants`` —
    as a value with a deterministic ``repr`` (parameter dataclasses, tuples, ints); the class is
    added to it. ``template()``: builds the component the shared module is converted from, the
    unit's class and parameters with each name of ``constants`` an input port; it is called
    once per key. ``constants``: ``{port: int}`` driven into the instance (e.g. ``unit_id``).
    A constant that is not an ``int`` (the template's own port) marks the template: ``None``.
    Ports are wired by name; a port of the template that is not the unit's own or a constant is
    an error (the template does not match the unit)."""
    if not isinstance(platform, SimPlatform) or not platform.shared or unit is platform.top or \
            not all(isinstance(v, int) for v in constants.values()):
        return None
    return platform.instance(unit, key, template, constants)


def shared_modules(text, min_instances=2):
    """Names of the shared modules defined in the Verilog ``text`` that it instantiates at least
    ``min_instances`` times, in order of definition."""
    names = re.findall(rf"^module ({re.escape(SHARED_PREFIX)}\w+)\(", text, re.M)
    return [n for n in names
            if len(re.findall(rf"^\s+{n}\s", text, re.M)) >= min_instances]


def _ports_of(text, name):
    m = re.search(rf"^module\s+{re.escape(name)}\s*\(([^)]*)\)", text, re.M)
    return {p.strip() for p in m.group(1).split(",") if p.strip()}


@dataclasses.dataclass
class Generated:
    """``component``: the Amaranth top; ``top``: Verilog module name; ``sources``: extra Verilog
    files it instantiates (e.g. the backdoor memory). Simulate or lint it through
    :meth:`tb.runner.Design.of`. Its Verilog is the gate-level design (what ``rdu gen`` writes and
    an FPGA build synthesises)."""

    component: object
    top: str
    sources: tuple = ()

    def verilog(self):
        return to_verilog(self.component, self.top)

    def write(self, out):
        """Write ``<top>.v`` and copies of ``sources`` into ``out``; return the paths."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        files = [out / f"{self.top}.v"]
        files[0].write_text(self.verilog())
        for s in self.sources:
            dst = out / Path(s).name
            shutil.copyfile(s, dst)
            files.append(dst)
        return files
