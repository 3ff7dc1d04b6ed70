"""The ``rdu`` command line.

Subcommands defined here: ``sim`` (the main job on a configuration), ``gen`` (emit Verilog of a
unit), ``lint`` (verilator --lint-only on generated configurations), ``params`` (show a validated
configuration), ``bench`` (benchmarks), ``run`` (one kernel on the fabric RTL: compile, simulate,
check). ``rdu fpga`` comes from :mod:`fpga.cli` (its ``register(subparsers)``).

This module is the top of the package graph (``docs/architecture.md`` §8): it may import every
other package, and none imports it.

Every error the user can cause (bad config, unknown unit, unroutable kernel...) is printed as one
line ``rdu: error: ...`` with exit status 2; a failed check (a wrong result) exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path

from rich.console import Console
from rich.table import Table

from compiler.requests import KERNELS, KernelRequest
from fpga import cli as fpga_cli
from hw import smoke
from hw.params import ConfigError, load
from interconnect import fabric, switch
from memory import system
from scripts import bench
from tb import runner
from tb.run import run_kernel
from tb.simjob import main_job
from tiles import pcu, pmu

__all__ = ["main", "UNITS", "generate_unit", "console"]

#: ``rdu gen --unit NAME``: the generator returning a :class:`hw.generate.Generated` for a
#: :class:`hw.params.FabricParams`.
UNITS = {
    "smoke": smoke.generate,
    "pcu": pcu.generate,
    "pmu": pmu.generate,
    "switch": switch.generate,
    "fabric": fabric.generate,
    "memory": system.generate,
}


def version():
    try:
        return dist_version("rdugen")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0.1.0+src"


def console():
    return Console(stderr=False, highlight=False)


class UserError(Exception):
    """An error caused by the user's input: printed as one line, exit status 2."""


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
                runner.lint(runner.Design.of(gen))
                con.print(f"[green]ok[/]   {cfg}/{unit} ({gen.top})")
            except runner.LintError as e:
                failures += 1
                con.print(f"[red]FAIL[/] {cfg}/{unit}: {e}")
    con.print("waivers: " + ", ".join(runner.LINT_WAIVERS) + " (reasons: tb/runner.py)")
    return 1 if failures else 0


def cmd_params(args):
    params = load(args.config)
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
    return main_job(args.config, seed=args.seed, json_out=args.json, smoke=args.smoke)


def cmd_bench(args):
    return bench.main(args.only, quick=args.quick, config=args.config)


RUN_DOC = """``rdu run KERNEL ...``: compile a kernel for a fabric configuration, run it on the RTL
under Verilator (tensors start and end in the HBM model), check it against the golden model bit for
bit and against float64, and report. Exit status 0 = bit-exact, 1 = wrong result, 2 = a request or
configuration error (one line)."""


def register_run(sub):
    s = sub.add_parser("run", help="run a kernel on the fabric RTL and check it",
                       description=RUN_DOC)
    s.add_argument("kernel", choices=sorted(KERNELS), metavar="KERNEL",
                   help="one of: " + ", ".join(sorted(KERNELS)))
    for dim in sorted({d for spec in KERNELS.values() for d in spec.dims}):
        s.add_argument(f"--{dim}", type=int, default=None, help=f"shape argument {dim}")
    s.add_argument("--config", default=None, help="preset name or YAML file (default: sim)")
    s.add_argument("--dtype", default=None, help="element type (gemm: bf16 or int16; scan: fp32 "
                                                  "or int32)")
    s.add_argument("--seed", type=int, default=0, help="input seed (default 0)")
    s.add_argument("--out", default=None, help="write inputs.npz, output.npz, result.json here")
    s.add_argument("--json", action="store_true", help="print result.json to stdout")
    s.add_argument("--waves", action="store_true",
                   help="record waves of the run (FST if this machine can, else VCD) into --out "
                        "or build/waves/; the path is printed")
    s.add_argument("--waves-window", default=None, metavar="START:END",
                   help="dump only cycles START <= cycle < END of the simulation (implies --waves)")
    s.add_argument("--baseline", action="store_true",
                   help="map without the butterfly/scan extensions (same bits, more cycles)")
    s.set_defaults(func=cmd_run)


def parse_waves_window(text):
    """``--waves-window`` → ``(START, END)`` or ``None``; a :class:`UserError` otherwise."""
    if text is None:
        return None
    try:
        return runner.parse_waves_window(text)
    except ValueError as e:
        raise UserError(f"--waves-window {e}") from None


def cmd_run(args):
    window = parse_waves_window(args.waves_window)
    params = load(args.config)
    dims = {d: getattr(args, d) for d in KERNELS[args.kernel].dims}
    extra = {d: getattr(args, d) for spec in KERNELS.values() for d in spec.dims
             if d not in dims and getattr(args, d, None) is not None}
    req = KernelRequest.make(args.kernel, args.dtype, **dims, **extra)
    options = {"baseline": True} if args.baseline else {}
    res = run_kernel(req, params, seed=args.seed, out_dir=args.out, waves=args.waves,
                     waves_window=window, **options)
    if args.json:
        print(json.dumps(res, indent=2, default=float))
    else:
        con = Console(highlight=False)
        status = "[green]PASS[/] bit-exact" if res["passed"] else f"[red]FAIL[/] {res['mismatch']}"
        con.print(f"{req.kernel} {req.label} {req.dtype} on {params.name}: {status}")
        con.print(f"  cycles {res['cycles']} (ideal {res['ideal_cycles']}, utilization "
                  f"{res['utilization']:.1%}), {res['phases']} phase(s), config {res['config_cycles']} "
                  f"cycles; max rel err vs float64 {res['max_rel_err_vs_float64']}")
    if res.get("waves"):   # on stderr: stdout may be --json
        print(f"rdu run: waves: {runner.describe_file(res['waves'])}", file=sys.stderr)
    return 0 if res["passed"] else 1


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

    register_run(sub)
    fpga_cli.register(sub)
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
