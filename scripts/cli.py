"""The ``rdu`` command line.

Subcommands defined here: ``sim`` (the main job on a configuration), ``gen`` (emit Verilog of a
unit), ``lint`` (verilator --lint-only on generated configurations), ``params`` (show a validated
configuration), ``bench`` (benchmarks), ``run`` (one kernel on the fabric RTL: compile, simulate,
check). ``rdu fpga`` comes from :mod:`fpga.cli` (its ``register(subparsers)``), ``rdu plot``
(figures of the benchmark results) from :mod:`scripts.plot` (likewise).

This module is the top of the package graph (``docs/architecture.md`` §8): it may import every
other package, and none imports it.

Exit status: 0 = success (a kernel bit-exact), 1 = a wrong result (a failed check), 2 = an error
in the request, the configuration or the arguments, 3 = a tool or the environment failed (Verilator
missing or failing to build, an unwritable cache, a file that cannot be read or written), 130 =
interrupted (Ctrl-C). Errors 2 and 3 are one line ``rdu: error: ...`` naming what the user wrote
(the flag, the YAML key, the file) or the tool and its log; no traceback.

Every command that takes ``--config`` defaults to :data:`DEFAULT_CONFIG` (``small``, what
``make sim`` runs), except the kernel benchmarks of ``rdu bench``, whose figures in the README are
measured on their own default ``sim``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path

from rich.console import Console
from rich.table import Table

from compiler.requests import KERNELS, KernelRequest
from fpga import cli as fpga_cli
from hw import smoke
from hw.params import ConfigError, describe, load
from interconnect import fabric, switch
from memory import chip, system
from scripts import bench, plot, regress, sweep
from scripts.args import seed_arg
from tb import cache, runner
from tb.run import run_kernel
from tb.simjob import main_job
from tiles import pcu, pmu

__all__ = ["main", "UNITS", "LINT_UNITS", "generate_unit", "console", "DEFAULT_CONFIG"]

#: The configuration of ``rdu sim`` / ``rdu run`` / ``rdu lint`` / ``rdu params`` without
#: ``--config``: the one ``make sim`` runs (the smallest fabric that maps every kernel).
DEFAULT_CONFIG = "small"
CONFIG_HELP = f"preset name or YAML file (default: {DEFAULT_CONFIG}, as make sim)"

#: ``rdu gen --unit NAME``: the generator returning a :class:`hw.generate.Generated` for a
#: :class:`hw.params.FabricParams`.
UNITS = {
    "smoke": smoke.generate,
    "pcu": pcu.generate,
    "pmu": pmu.generate,
    "switch": switch.generate,
    "fabric": fabric.generate,
    "memory": system.generate,
    "system": chip.generate,
}

#: The units ``rdu lint`` checks when no ``--unit`` is given: all but ``system`` (the fabric and
#: the memory system together, what ``rdu run`` simulates: each half is linted on its own, and the
#: whole of the ``sim`` preset is a long Verilator run of its own).
LINT_UNITS = tuple(u for u in UNITS if u != "system")


def version():
    try:
        return dist_version("rdugen")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0.1.0+src"


def console():
    return Console(stderr=False, highlight=False)


class UserError(Exception):
    """An error caused by the user's input: printed as one line, exit status 2."""


def _nearest_existing(path):
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _creatable(start, flag, path):
    """Raise, naming ``flag`` and the user's ``path``, unless the nearest existing folder at or
    above ``start`` is a folder we can write in."""
    base = _nearest_existing(start)
    if not base.is_dir():
        raise UserError(f"{flag} {path}: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: {base} is not writable")


def check_out_dir(path, flag):
    """Fail now (before any simulation) unless ``path`` is, or can be created as, a writable
    folder. ``flag`` names the option in the message."""
    if path is None:
        return
    if path == "":
        raise UserError(f"{flag} '': empty path; give a folder")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"{flag} {path}: is a file, not a folder")
    _creatable(p, flag, path)


def check_out_file(path, flag):
    """Fail now unless the file ``path`` can be written (its folder exists or can be made)."""
    if path is None:
        return
    if path == "":
        raise UserError(f"{flag} '': empty path; give a file name")
    p = Path(path)
    if p.is_dir():
        raise UserError(f"{flag} {path}: is a folder, not a file")
    if p.exists():
        if not os.access(p, os.W_OK):
            raise UserError(f"{flag} {path}: is not writable")
        return
    _creatable(p.parent, flag, path)


def check_cache():
    """Fail now if the build cache (``RDU_CACHE`` or its default) cannot be written."""
    root = runner.cache_dir()
    base = _nearest_existing(root)
    via = " (RDU_CACHE)" if os.environ.get("RDU_CACHE") else ""
    if not base.is_dir() or not os.access(base, os.W_OK | os.X_OK):
        raise runner.ToolError(f"cache folder {root}{via} is not writable ({base}); set "
                               f"RDU_CACHE to a writable folder")


def threads_arg(text):
    """argparse type of ``--threads``: an integer >= 1."""
    try:
        return runner.threads_from_env(int(text, 0))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: must be an integer >= 1") from None


def add_build_options(s):
    """Options of the commands that build Verilator models (``run``, ``sim``, ``bench``)."""
    s.add_argument("--threads", type=threads_arg, default=None, metavar="N",
                   help="Verilator model threads (default: RDU_THREADS, else 1); more than one "
                        "helps only with cores to spare")
    s.add_argument("--arith", default=None, metavar="MODE", help=ARITH_HELP)


def apply_build_options(args):
    """Check the build environment (``RDU_THREADS``, ``RDU_CXX``, ``RDU_ARITH``) before anything
    runs, and pass ``--threads`` and ``--arith`` on to the builds (as ``RDU_THREADS`` and
    ``RDU_ARITH``, which subprocesses inherit too)."""
    if getattr(args, "threads", None) is not None:
        os.environ["RDU_THREADS"] = str(args.threads)
    runner.threads_from_env()
    runner.toolchain()
    apply_arith(getattr(args, "arith", None))


def check_seed_env():
    """``RDU_SEED``, if set, must be an integer >= 0 (raises ValueError naming it)."""
    if os.environ.get("RDU_SEED"):
        runner.seed_from_env()


ARITH_HELP = ("arithmetic of the simulated functional units: behavioural (C functions, the "
              "default, several times faster) or gates (the synthesizable datapaths); default: "
              "RDU_ARITH, else behavioural")


def apply_arith(arith):
    """``--arith`` (or, without it, ``RDU_ARITH``) checked — a one-line ValueError naming the one
    that is wrong — and put into ``RDU_ARITH``, which every simulation build of this command
    reads (:func:`tb.runner.arith_mode`)."""
    os.environ["RDU_ARITH"] = runner.arith_mode(arith)


def generate_unit(unit, params):
    """Generate ``unit`` (a key of :data:`UNITS`) for ``params``; returns a ``Generated``."""
    if unit not in UNITS:
        raise UserError(f"--unit {unit!r}: unknown unit; allowed: {', '.join(UNITS)}")
    return UNITS[unit](params)


# --------------------------------------------------------------------------------------------

def cmd_gen(args):
    params = load(args.config)
    gen = generate_unit(args.unit, params)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    files = gen.write(out)
    for f in files:
        print(f"wrote {f}")
    return 0


def cmd_lint(args):
    if args.unit is not None and args.unit not in UNITS:
        raise UserError(f"--unit {args.unit!r}: unknown unit; allowed: {', '.join(UNITS)}")
    configs = ["tiny", "sim", "fpga"] if args.all else [args.config]
    units = [args.unit] if args.unit else list(LINT_UNITS)
    params_of = {cfg: load(cfg) for cfg in configs}     # every config error before any lint
    runner.verilator_env()
    failures = 0
    con = console()
    for cfg in configs:
        params = params_of[cfg]
        for unit in units:
            gen = generate_unit(unit, params)
            try:
                runner.lint(runner.Design.of(gen, arith="gates"))   # what an FPGA builds
                con.print(f"[green]ok[/]   {cfg}/{unit} ({gen.top})")
            except runner.LintError as e:
                failures += 1
                con.print(f"[red]FAIL[/] {cfg}/{unit}: {e}")
    con.print("waivers: " + ", ".join(runner.LINT_WAIVERS) + " (reasons: tb/runner.py)")
    return 1 if failures else 0


def cmd_params(args):
    if args.describe:
        return _describe_params(args)
    params = load(args.config)
    t = Table(title=f"{params.name} ({args.config})")
    for col in ("key", "value"):
        t.add_column(col)

    def walk(prefix, d):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(f"{prefix}{k}.", v)
            else:
                t.add_row(f"{prefix}{k}", repr(v))
    walk("", params.to_dict())
    console().print(t)
    return 0


def _describe_params(args):
    params, rows = describe(args.config)
    t = Table(title=f"{params.name} ({args.config or 'default'}): every key, what is allowed, "
                    f"where its value comes from")
    for col in ("key", "value", "allowed", "set by"):
        t.add_column(col, no_wrap=col in ("key", "set by"), overflow="fold")
    for row in rows:
        t.add_row(*row)
    console().print(t)
    return 0


def cmd_sim(args):
    check_out_file(args.json, "--json")
    check_seed_env()
    apply_build_options(args)
    load(args.config)
    check_cache()
    return main_job(args.config, seed=args.seed, json_out=args.json, smoke=args.smoke)


def prepare_builds(args):
    """Before a command that builds and simulates anywhere (``rdu sweep``, ``rdu regress``):
    ``RDU_SEED``, ``--threads``, ``--arith`` and the build cache checked."""
    check_seed_env()
    apply_build_options(args)
    check_cache()


def cmd_bench(args):
    check_seed_env()
    apply_build_options(args)
    if args.config is not None:
        load(args.config)
    return bench.main(args.only, quick=args.quick, config=args.config)


RUN_DOC = """``rdu run KERNEL ...``: compile a kernel for a fabric configuration, run it on the RTL
under Verilator (tensors start and end in the HBM model), check it against the golden model bit for
bit and against float64, and report. Exit status 0 = bit-exact, 1 = wrong result, 2 = a request,
configuration or argument error (one line), 3 = a tool or environment failure (one line naming the
tool and its log), 130 = interrupted. ``rdu run KERNEL --help`` lists the kernel's shape arguments
and options."""

RUN_KERNEL_DOC = """Compiled for --config, run on its RTL under Verilator, checked against the golden
model bit for bit and against float64; exit status 0 = bit-exact, 1 = wrong result, 2 = a request,
configuration or argument error, 3 = a tool or environment failure."""


def _dim_help(spec, dim):
    lo, hi = spec.limits.get(dim, (1, 1 << 30))
    pow2 = ", a power of two" if dim in spec.pow2 else ""
    return f"{spec.dim_help.get(dim, 'shape argument ' + dim)} ({lo}..{hi}{pow2})"


def _add_option(group, opt, hidden=False):
    """``opt`` (a :class:`compiler.protocol.Option`) as a flag; every value defaults to ``None``
    (not given) and is checked by the kernel's declaration, so that an error names the kernel.
    ``hidden``: another kernel's option, parsed only for that error."""
    help_ = argparse.SUPPRESS if hidden else opt.describe()
    if opt.type is bool:
        group.add_argument(opt.flag, action=argparse.BooleanOptionalAction, default=None,
                           help=help_)
        return
    metavar = ("{" + ",".join(opt.choices) + "}" if opt.choices else
               "KIND=N,..." if opt.type is dict else "N" if opt.type is int else "VALUE")
    group.add_argument(opt.flag, type=int if opt.type is int and not hidden else str,
                       default=None, metavar=metavar, help=help_)


def _run_kernels_text():
    """The kernels with their shape arguments and options, for ``rdu run --help``."""
    lines = []
    for name, spec in KERNELS.items():
        opts = spec.describe_options()
        lines.append(f"  {name:12} {' '.join(f'--{d}' for d in spec.dims):16} "
                     f"dtype {'|'.join(spec.dtypes):12} options: {opts}")
        lines.append(f"  {'':12} {spec.doc}")
    return "kernels (rdu run KERNEL --help for one):\n" + "\n".join(lines)


def register_run(sub):
    """``rdu run`` with one sub-parser per kernel of :data:`compiler.requests.KERNELS`: its shape
    arguments, dtypes and options come from the kernel's declaration."""
    s = sub.add_parser("run", help="run a kernel on the fabric RTL and check it",
                       description=RUN_DOC, epilog=_run_kernels_text(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    c = common.add_argument_group("run")
    c.add_argument("--config", default=DEFAULT_CONFIG, help=CONFIG_HELP)
    c.add_argument("--seed", type=seed_arg, default=None,
                   help="the run's one seed, >= 0: inputs and the simulation's random choices "
                        "(default: RDU_SEED, else 0); recorded in result.json")
    c.add_argument("--out", default=None, metavar="DIR",
                   help="write inputs.npz, output.npz, result.json into this folder")
    c.add_argument("--json", action="store_true", help="print result.json to stdout")
    c.add_argument("--waves", action="store_true",
                   help="record waves of the run (FST if this machine can, else VCD) into --out "
                        "or build/waves/; the path is printed")
    c.add_argument("--waves-window", default=None, metavar="START:END",
                   help="dump only cycles START <= cycle < END of the simulation (implies --waves)")
    add_build_options(c)
    dims = sorted({d for spec in KERNELS.values() for d in spec.dims})
    options = {}
    for spec in KERNELS.values():
        for o in spec.options:
            if o.cli:
                options.setdefault(o.name, o)
    kernels = s.add_subparsers(dest="kernel", metavar="KERNEL", required=True,
                               help="one of: " + ", ".join(KERNELS) + " (below)")
    for name, spec in KERNELS.items():
        k = kernels.add_parser(name, parents=[common],   # listed in the epilog
                               description=f"rdu run {name}: {spec.doc}. {RUN_KERNEL_DOC}")
        g = k.add_argument_group(f"{name} shape")
        for d in spec.dims:
            g.add_argument(f"--{d}", type=int, default=None, metavar="N", help=_dim_help(spec, d))
        g.add_argument("--dtype", default=None,
                       help=f"element type: {', '.join(spec.dtypes)} (default {spec.dtypes[0]})")
        g = k.add_argument_group(f"{name} options")
        for o in spec.options:
            if o.cli:
                _add_option(g, o)
        # The other kernels' shape arguments and options, hidden: parsed so that the request
        # check can answer with one line naming this kernel's own (exit 2).
        for d in dims:
            if d not in spec.dims:
                k.add_argument(f"--{d}", type=int, default=None, help=argparse.SUPPRESS)
        for o in options.values():
            if spec.option(o.name) is None:
                _add_option(k, o, hidden=True)
        k.set_defaults(func=cmd_run)


def parse_waves_window(text):
    """``--waves-window`` → ``(START, END)`` or ``None``; a :class:`UserError` otherwise."""
    if text is None:
        return None
    try:
        return runner.parse_waves_window(text)
    except ValueError as e:
        raise UserError(f"--waves-window {e}") from None


def run_seed(flag):
    """The one seed of ``rdu run``: ``--seed``, else ``RDU_SEED``, else 0; both given and
    different is an error (either would reproduce only half of the run)."""
    env = runner.seed_from_env(0) if os.environ.get("RDU_SEED") else None
    if flag is not None and env is not None and flag != env:
        raise UserError(f"--seed {flag} and RDU_SEED={os.environ['RDU_SEED']} disagree: give one "
                        f"(the seed drives both the inputs and the simulation)")
    return flag if flag is not None else env if env is not None else 0


def cmd_run(args):
    check_out_dir(args.out, "--out")
    check_seed_env()
    args.seed = run_seed(args.seed)
    apply_build_options(args)
    window = parse_waves_window(args.waves_window)
    params = load(args.config)
    spec = KERNELS[args.kernel]
    dims = {d: getattr(args, d, None) for sp in KERNELS.values() for d in sp.dims}
    req = KernelRequest.make(args.kernel, args.dtype, **dims)
    given = {o.name: getattr(args, o.name, None) for sp in KERNELS.values() for o in sp.options
             if o.cli}
    options = spec.check_options(given)
    check_cache()
    res = run_kernel(req, params, seed=args.seed, out_dir=args.out, waves=args.waves,
                     waves_window=window, **options)
    if args.json:
        print(json.dumps(res, indent=2, default=float))
    else:
        con = Console(highlight=False)
        status = "[green]PASS[/] bit-exact" if res["passed"] else f"[red]FAIL[/] {res['mismatch']}"
        con.print(f"{req.kernel} {req.label} {req.dtype} on {params.name}: {status}")
        con.print(f"  cycles {res['cycles']} (ideal {res['ideal_cycles']}, utilization "
                  f"{res['utilization']:.1%}), {res['phases']} phase(s), config "
                  f"{res['config_cycles']} cycles; max rel err vs float64 "
                  f"{res['max_rel_err_vs_float64']}")
    if res.get("waves"):   # on stderr: stdout may be --json
        print(f"rdu run: waves: {runner.describe_file(res['waves'])}", file=sys.stderr)
    return 0 if res["passed"] else 1


CACHE_DOC = """``rdu cache``: show the build cache (generated Verilog and Verilator builds: folder,
total size, entries least recently used first); ``rdu cache prune [--max-size SIZE]`` evicts least
recently used entries until the cache holds at most SIZE; ``rdu cache clear`` empties it."""


def register_cache(sub):
    s = sub.add_parser("cache", help="show, prune or clear the build cache", description=CACHE_DOC)
    actions = s.add_subparsers(dest="cache_action", metavar="ACTION")
    p = actions.add_parser("prune", help="evict least recently used entries down to a size")
    p.add_argument("--max-size", default="2G", help="e.g. 500M or 2G (default: 2G)")
    actions.add_parser("clear", help="remove every entry")
    s.set_defaults(func=cmd_cache)


def cmd_cache(args):
    store = cache.Cache(runner.cache_dir())
    con = console()
    if args.cache_action in ("prune", "clear"):
        if args.cache_action == "prune":
            try:
                removed, skipped = store.prune(cache.parse_size(args.max_size))
            except ValueError as e:
                raise UserError(f"--max-size: {e}") from None
        else:
            removed, skipped = store.clear()
        for item in removed:
            con.print(f"removed {item.kind}/{item.name} ({cache.format_size(item.size)})")
        for item in skipped:
            con.print(f"[yellow]skipped[/] {item.kind}/{item.name} (in use)")
    items = store.items()
    con.print(f"cache {store.root}: {cache.format_size(sum(i.size for i in items))} in "
              f"{len(items)} item(s)")
    if items and args.cache_action is None:
        t = Table()
        for col in ("kind", "name", "size", "last used"):
            t.add_column(col, justify="right" if col == "size" else "left")
        for i in items:
            used = datetime.fromtimestamp(i.last_used).strftime("%Y-%m-%d %H:%M")
            kind = f"{i.kind} (leftover)" if i.leftover else i.kind
            t.add_row(kind, i.name, cache.format_size(i.size), used)
        con.print(t)
    return 0


def build_parser():
    p = argparse.ArgumentParser(
        prog="rdu", description="rdugen: RDU fabric generator, simulator and verification flow")
    p.add_argument("--version", action="version", version=f"rdu {version()}")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true",
                   help="no progress lines (RDU_QUIET=1); results and errors still print")
    g.add_argument("-v", "--verbose", action="store_true",
                   help="also show the simulator's own output (RDU_VERBOSE=1)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("sim", help="run the main job (kernel suite) on a configuration")
    s.add_argument("--config", default=DEFAULT_CONFIG, help=CONFIG_HELP)
    s.add_argument("--seed", type=seed_arg, default=None,
                   help="random seed, >= 0 (default: RDU_SEED, else random; printed)")
    s.add_argument("--json", default=None, metavar="FILE",
                   help="also write results as JSON to this file")
    s.add_argument("--smoke", action="store_true",
                   help="run the smoke suite (MAC pipeline) instead of the kernel suite")
    add_build_options(s)
    s.set_defaults(func=cmd_sim)

    s = sub.add_parser("gen", help="emit a unit's Verilog from a YAML config")
    s.add_argument("config", help="preset name or YAML file")
    s.add_argument("--unit", required=True, help=f"one of: {', '.join(UNITS)}")
    s.add_argument("-o", "--output", default="build/gen", help="output directory")
    s.set_defaults(func=cmd_gen)

    s = sub.add_parser("lint", help="verilator --lint-only on generated configurations")
    s.add_argument("--config", default=DEFAULT_CONFIG, help=CONFIG_HELP)
    s.add_argument("--unit", default=None,
                   help=f"one of: {', '.join(UNITS)} (default: {', '.join(LINT_UNITS)})")
    s.add_argument("--all", action="store_true",
                   help="the presets tiny, sim and fpga (instead of --config)")
    s.set_defaults(func=cmd_lint)

    s = sub.add_parser("params", help="show a validated configuration")
    s.add_argument("config", nargs="?", default=DEFAULT_CONFIG, help=CONFIG_HELP)
    s.add_argument("--describe", action="store_true",
                   help="every key with its value, allowed values and whether the YAML set it")
    s.set_defaults(func=cmd_params)

    s = sub.add_parser("bench", help="run benchmarks (JSON + table)")
    s.add_argument("only", nargs="*", help="benchmark names (default: all)")
    s.add_argument("--quick", action="store_true", help="smaller sizes")
    s.add_argument("--config", default=None,
                   help="fabric configuration for the kernel benchmarks (default: their own, "
                        "sim, on which the README figures are measured; --config small for "
                        "make sim's)")
    add_build_options(s)
    s.set_defaults(func=cmd_bench)

    register_run(sub)
    register_cache(sub)
    plot.register(sub)
    sweep.register(sub, add_build_options, prepare_builds)
    regress.register(sub, add_build_options, prepare_builds)
    fpga_cli.register(sub)
    return p


def _tool_message(e):
    """One line for a tool or environment failure: the first line of the message (which names
    the tool and its log), or the operation, file and reason of an OSError."""
    if isinstance(e, OSError):
        where = f": {e.filename}" if e.filename else ""
        cache = runner.cache_dir()
        hint = ""
        if e.filename and str(e.filename).startswith(str(cache)):
            hint = f" (the build cache {cache}; set RDU_CACHE to a writable folder or delete it)"
        return f"{e.strerror or type(e).__name__}{where}{hint}"
    lines = str(e).splitlines()
    return lines[0] if lines else type(e).__name__


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if args.quiet:
        os.environ["RDU_QUIET"] = "1"
    if args.verbose:
        os.environ["RDU_VERBOSE"] = "1"
    try:
        return args.func(args) or 0
    except (ConfigError, UserError, ValueError) as e:
        print(f"rdu: error: {e}", file=sys.stderr)
        return 2
    except (runner.ToolError, OSError) as e:
        print(f"rdu: error: {_tool_message(e)}", file=sys.stderr)
        return 3
    except runner.SimulationFailed as e:   # the RTL ran but a check in the testbench failed
        print(f"rdu: error: {_tool_message(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rdu: interrupted ({' '.join(['rdu', *argv])})", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
