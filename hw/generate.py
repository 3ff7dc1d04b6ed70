"""What a unit generator returns: an elaboratable plus how to emit it as Verilog; and the platform
object of simulation builds, which chooses how the arithmetic is built (docs/architecture.md §6)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from amaranth.back import verilog

__all__ = ["ARITH_MODES", "SimPlatform", "Generated", "to_verilog"]

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
    ``None``) always get gates."""

    def __init__(self, arith="gates"):
        if arith not in ARITH_MODES:
            raise ValueError(f"arith {arith!r}: allowed: {', '.join(ARITH_MODES)}")
        self.arith = arith
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


def to_verilog(component, top, platform=None):
    """``component`` as Verilog text with top module ``top``, elaborated for ``platform`` (``None``:
    gates). No source attributes, so the text — and every hash taken of it — does not depend on
    Python line numbers."""
    return verilog.convert(component, name=top, emit_src=False, platform=platform)


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
