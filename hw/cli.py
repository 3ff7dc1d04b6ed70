"""The ``rdu`` command line.

Subcommands defined here: ``sim`` (the main job on a configuration), ``gen`` (emit Verilog of a
unit), ``lint`` (verilator --lint-only on generated configurations), ``params`` (show a validated
configuration), ``bench`` (benchmarks). Packages add their own subcommands by providing a module
listed in :data:`COMMAND_MODULES` with a ``register(subparsers)`` function (``rdu run`` comes from
the compiler, ``rdu fpga`` from the FPGA flow).

Every error the user can cause (bad config, unknown unit, unroutable kernel...) is printed as one
line ``rdu: error: ...`` with exit status 2; a failed check (a wrong result) exits with status 1.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from hw.params import ConfigError, load

__all__ = ["main", "UNITS", "COMMAND_MODULES", "generate_unit", "console"]

#: ``rdu gen --unit NAME``: module:function returning a :class:`Generated` for a FabricParams.
UNITS = {
    "smoke": "hw.smoke:generate",
    "pcu": "tiles.pcu:generate",
    "pmu": "tiles.pmu:generate",
    "switch": "interconnect.switch:generate",
    "fabric": "hw.fabric:generate",
    "memory": "memory.system:generate",
}

#: Modules that contribute subcommands (skipped if not present).
COMMAND_MODULES = ("compiler.cli", "fpga.cli")


def version():
    try:
        from importlib.metadata import version as v
        return v("rdugen")
    except Exception:  # running from a source tree without installation
        return "0.1.0+src"


def console():
    from rich.console import Console
    return Console(stderr=False, highlight=False)


class UserError(Exception):
    """An error caused by the user's input: printed as one line, exit status 2."""


def generate_unit(unit, params):
    """Resolve ``unit`` in :data:`UNITS` and generate it for ``params``; returns a ``Generated``."""
    if unit not in UNITS:
        raise UserError(f"--unit {unit!r}: unknown unit; allowed: {', '.join(UNITS)}")
    mod_name, func = UNITS[unit].split(":")
    if importlib.util.find_spec(mod_name.split(".")[0]) is None or \
            _missing(mod_name):
        raise UserError(f"--unit {unit!r}: the {unit} generator ({mod_name}) is not available in "
                        f"this build")
    return getattr(importlib.import_module(mod_name), func)(params)


def _missing(mod_name):
    try:
        return importlib.util.find_spec(mod_name) is None
    except ModuleNotFoundError:
        return True


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
    from tb import runner
    configs = ["tiny", "sim", "fpga"] if args.all else [args.config]
    units = [args.unit] if args.unit else list(UNITS)
    failures = 0
    con = console()
    for cfg in configs:
        params = load(cfg)
        for unit in units:
            try:
                gen = generate_unit(unit, params)
            except UserError as e:
                con.print(f"[yellow]skip[/] {cfg}/{unit}: {e}")
                continue
            try:
                runner.lint(gen.design())
                con.print(f"[green]ok[/]   {cfg}/{unit} ({gen.top})")
            except runner.LintError as e:
                failures += 1
                con.print(f"[red]FAIL[/] {cfg}/{unit}: {e}")
    con.print("waivers: " + ", ".join(runner.LINT_WAIVERS) + " (reasons: tb/runner.py)")
    return 1 if failures else 0


def cmd_params(args):
    params = load(args.config)
    from rich.table import Table
    t = Table(title=f"{params.name} ({args.config or 'default'})")
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


def cmd_sim(args):
    from hw.simjob import main_job
    return main_job(args.config, seed=args.seed, json_out=args.json, smoke=args.smoke)


def cmd_bench(args):
    from scripts import bench
    return bench.main(args.only, quick=args.quick, config=args.config)


def build_parser():
    p = argparse.ArgumentParser(
        prog="rdu", description="rdugen: RDU fabric generator, simulator and verification flow")
    p.add_argument("--version", action="version", version=f"rdu {version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("sim", help="run the main job (kernel suite) on a configuration")
    s.add_argument("--config", default=None, help="preset name or YAML file (default: sim)")
    s.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    s.add_argument("--json", default=None, help="also write results as JSON to this file")
    s.add_argument("--smoke", action="store_true",
                   help="run the smoke suite (MAC pipeline) instead of the kernel suite")
    s.set_defaults(func=cmd_sim)

    s = sub.add_parser("gen", help="emit a unit's Verilog from a YAML config")
    s.add_argument("config", help="preset name or YAML file")
    s.add_argument("--unit", required=True, help=f"one of: {', '.join(UNITS)}")
    s.add_argument("-o", "--output", default="build/gen", help="output directory")
    s.set_defaults(func=cmd_gen)

    s = sub.add_parser("lint", help="verilator --lint-only on generated configurations")
    s.add_argument("--config", default="sim")
    s.add_argument("--unit", default=None)
    s.add_argument("--all", action="store_true", help="every preset except plasticine")
    s.set_defaults(func=cmd_lint)

    s = sub.add_parser("params", help="show a validated configuration")
    s.add_argument("config", nargs="?", default=None)
    s.set_defaults(func=cmd_params)

    s = sub.add_parser("bench", help="run benchmarks (JSON + table)")
    s.add_argument("only", nargs="*", help="benchmark names (default: all)")
    s.add_argument("--quick", action="store_true", help="smaller sizes")
    s.add_argument("--config", default=None,
                   help="fabric configuration for the kernel benchmarks (default: sim)")
    s.set_defaults(func=cmd_bench)

    for mod in COMMAND_MODULES:
        if not _missing(mod):
            importlib.import_module(mod).register(sub)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args) or 0
    except (ConfigError, UserError, ValueError) as e:
        print(f"rdu: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
