"""``rdu fpga``: build bitstreams for open boards and run kernels on them.

* ``rdu fpga build --board B [--config FILE] [-o DIR] [--synth-only | --place-only] [--freq MHZ]
  [--baud N] [--design smoke|kernel|fabric|fabric-test]``
* ``rdu fpga run KERNEL --board B --port P [--baud N] [--seed S] [--shape k=v ...] [--dtype T]``
* ``rdu fpga timing --unit pcu|pmu|switch|agcu|dram|memory|bridge [--config FILE] [--board B]
  [--freq MHZ] [-o DIR] [--json]`` — one fabric unit alone, placed and routed: its Fmax and critical paths
  (:mod:`fpga.timing`).
* ``rdu fpga route DIR [--router router1|router2] [--congestion-growth F]`` — route the
  placement a ``--place-only`` build left in ``DIR``, pack the bitstream and add the routed Fmax
  to its report.
* ``rdu fpga paths PLACED.json [--period NS] [--top N] [--json]`` — the worst estimated paths
  of a placed netlist, grouped by the units they start and end in (:mod:`fpga.paths`).
* ``rdu fpga boards`` — the supported boards and their defaults.

``run`` asks the board what it runs (INFO ``ident``). On a ``--design kernel`` bitstream it runs
the kernel compiler's flow — the same :func:`tb.run.run_kernel` as ``rdu run``, with
:class:`fpga.executor.BoardExecutor` instead of the Verilator model; on a ``--design smoke``
bitstream the smoke-design kernels of :mod:`fpga.kernels` (``gemm``, ``conv1d``); on
``--design fabric-test`` the ``traffic`` check. The host code is the one the Verilator tests use.
"""

from __future__ import annotations

import json
import sys

from compiler.requests import KERNELS as COMPILER_KERNELS
from compiler.requests import KernelRequest
from fpga.boards import BOARDS
from fpga.build import (
    PLACERS,
    ROUTER2_CONGESTION_GROWTH,
    ROUTERS,
    BuildFailed,
    DoesNotFit,
    ToolMissing,
    build,
    format_report,
    route,
)
from fpga.executor import BoardExecutor
from fpga.fabric_duc import board_params
from fpga.host import BridgeError, Host, SerialTransport
from fpga.kernels import KERNELS, KernelMismatch, fabric_traffic, run_fabric_traffic, run_plan
from fpga.paths import analyze, format_paths
from fpga.smoke import DESIGN_FABRIC, DESIGN_KERNEL, DESIGN_SMOKE, decode_ident
from fpga.timing import format_timing, unit_timing
from hw.params import ConfigError, load
from tb.run import run_kernel
from tb.runner import ToolError

__all__ = ["register"]


def _user_error(msg):
    # scripts.cli prints ConfigError subclasses as one "rdu: error: ..." line with exit status 2.
    # (Its UserError would not be caught under `python -m scripts.cli`, where scripts.cli is
    # __main__ and an import of scripts.cli creates a second UserError class.)

    class FpgaError(ConfigError):
        pass
    return FpgaError(msg)


def cmd_build(args):
    if args.board not in BOARDS:
        raise _user_error(f"--board {args.board!r}: unknown board; allowed: {', '.join(BOARDS)}")
    try:
        r = build(args.board, config=args.config, out=args.output, synth_only=args.synth_only,
                  freq_mhz=args.freq, baud=args.baud, seed=args.seed, design=args.design,
                  place_only=args.place_only, timing_weight=args.timing_weight,
                  router=args.router, placer=args.placer,
                  congestion_growth=args.congestion_growth,
                  log=lambda s: print(s, file=sys.stderr))
    except ToolMissing as e:          # the environment: exit status 3
        raise ToolError(f"fpga build: {e}") from None
    except (DoesNotFit, BuildFailed) as e:
        raise _user_error(f"fpga build: {e}") from None
    except ValueError as e:           # PLL / bridge parameter errors
        raise _user_error(f"fpga build --board {args.board}: {e}") from None
    print(format_report(r))
    print(f"report: {r['outputs']['report']}")
    if not r["synth_only"] and not r["place_only"] and not r.get("timing_met", True):
        print("warning: timing not met at the target clock (see fmax above)", file=sys.stderr)
    return 0


def cmd_route(args):
    try:
        r = route(args.dir, router=args.router, congestion_growth=args.congestion_growth,
                  log=lambda s: print(s, file=sys.stderr))
    except ToolMissing as e:          # the environment: exit status 3
        raise ToolError(f"fpga route: {e}") from None
    except BuildFailed as e:
        raise _user_error(f"fpga route: {e}") from None
    print(format_report(r))
    print(f"report: {r['outputs']['report']}")
    if not r.get("timing_met", True):
        print("warning: timing not met at the target clock (see fmax above)", file=sys.stderr)
    return 0


def cmd_timing(args):
    if args.board not in BOARDS:
        raise _user_error(f"--board {args.board!r}: unknown board; allowed: {', '.join(BOARDS)}")
    params = load(args.config or BOARDS[args.board].preset)
    try:
        r = unit_timing(params, args.unit, board=args.board, freq_mhz=args.freq,
                        out=args.output, seed=args.seed, log=lambda s: print(s, file=sys.stderr))
    except ToolMissing as e:          # the environment: exit status 3
        raise ToolError(f"fpga timing: {e}") from None
    except BuildFailed as e:
        raise _user_error(f"fpga timing: {e}") from None
    print(json.dumps(r, indent=2) if args.json else format_timing(r, paths=args.paths))
    return 0


def cmd_paths(args):
    try:
        r = analyze(args.placed, period_ns=args.period, top=args.top)
    except (OSError, ValueError) as e:
        raise _user_error(f"fpga paths: {e}") from None
    print(json.dumps(r, indent=2) if args.json else format_paths(r))
    return 0


def _parse_shape(items):
    shape = {}
    for it in items or ():
        if "=" not in it:
            raise _user_error(f"--shape {it!r}: must be key=value (e.g. M=8)")
        k, v = it.split("=", 1)
        try:
            shape[k] = int(v)
        except ValueError:
            raise _user_error(f"--shape {it!r}: the value must be an integer") from None
    return shape


def cmd_run(args):
    if args.board not in BOARDS:
        raise _user_error(f"--board {args.board!r}: unknown board; allowed: {', '.join(BOARDS)}")
    if args.kernel not in (*KERNELS, *COMPILER_KERNELS, "traffic"):
        raise _user_error(f"kernel {args.kernel!r}: unknown; allowed: "
                          f"{', '.join(sorted(COMPILER_KERNELS))} (--design kernel), "
                          f"{', '.join(KERNELS)} (--design smoke), traffic (--design fabric-test)")
    shape = _parse_shape(args.shape)
    baud = args.baud or BOARDS[args.board].baud
    try:
        host = Host(SerialTransport(args.port, baud), timeout=args.timeout)
        info = host.info()
        d = decode_ident(info.ident)
        if d["kind"] == DESIGN_KERNEL:
            return _run_compiled(args, host, info, shape)
        if args.kernel not in KERNELS and args.kernel != "traffic":
            raise _user_error(f"kernel {args.kernel!r} needs a bitstream built with --design "
                              f"kernel (the board reports ident 0x{info.ident:08x})")
        if args.kernel == "traffic" or d["kind"] == DESIGN_FABRIC:
            if d["kind"] != DESIGN_FABRIC or args.kernel != "traffic":
                raise _user_error(f"kernel {args.kernel!r} needs a bitstream built with --design "
                                  f"{'fabric-test' if args.kernel == 'traffic' else 'smoke'} (the "
                                  f"board reports ident 0x{info.ident:08x})")
            params = load(args.config or BOARDS[args.board].preset)
            tp = fabric_traffic(params, seed=args.seed, **shape)
            r = run_fabric_traffic(host, tp, timeout=args.timeout * 20)
            print(json.dumps({**r, "board": args.board, "clock_hz": info.clk_hz}, indent=2))
            return 0
        if d["kind"] != DESIGN_SMOKE:
            raise _user_error(f"the board runs design kind {d['kind']} (ident "
                              f"0x{info.ident:08x}); this rdu only runs the smoke design's "
                              f"kernels on boards")
        try:
            plan = KERNELS[args.kernel](d["lanes"], d["units"], seed=args.seed, **shape)
        except TypeError as e:
            raise _user_error(f"--shape: {e}") from None
        r = run_plan(host, plan, timeout=args.timeout * 20,
                     log=lambda s: print(s, file=sys.stderr))
    except KernelMismatch as e:
        print(f"rdu: FAIL: {e}", file=sys.stderr)
        return 1
    except (BridgeError, ValueError) as e:
        raise _user_error(f"fpga run: {e}") from None
    r["board"] = args.board
    r["clock_hz"] = info.clk_hz
    print(json.dumps(r, indent=2, default=str))
    return 0


def _run_compiled(args, host, info, shape):
    """A kernel of the compiler on a board running ``--design kernel``: ``rdu run``'s flow
    (:func:`tb.run.run_kernel`) with :class:`fpga.executor.BoardExecutor`."""
    params = board_params(load(args.config or BOARDS[args.board].preset), info.mem_words)
    req = KernelRequest.make(args.kernel, args.dtype, **shape)
    res = run_kernel(req, params, seed=args.seed, out_dir=args.out,
                     executor=BoardExecutor(host, params))
    res.update(board=args.board, clock_hz=info.clk_hz, host_stats=dict(host.stats))
    print(json.dumps(res, indent=2, default=float))
    if not res["passed"]:
        print(f"rdu: FAIL: {res['mismatch']}", file=sys.stderr)
        return 1
    return 0


def cmd_boards(args):
    for b in BOARDS.values():
        print(f"{b.name:<11} {b.device:<10} preset {b.preset:<5} design {b.design:<6} clock in "
              f"{b.clk_in_mhz:g} MHz, {b.mem_words} words on-chip memory, {b.baud} baud; "
              f"{b.notes}")
    return 0


def register(sub):
    p = sub.add_parser("fpga", help="FPGA prototyping: bitstreams for open boards, runs on boards")
    fsub = p.add_subparsers(dest="fpga_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda a: (p.print_help(), 0)[1])

    b = fsub.add_parser("build", help="synthesise, place and route, pack a bitstream")
    b.add_argument("--board", required=True, help="ulx3s, orangecrab or icebreaker")
    b.add_argument("--config", default=None, help="preset name or YAML file (default: the "
                                                  "board's preset)")
    b.add_argument("-o", "--output", default=None, help="output directory (default: "
                                                        "build/fpga/<board>)")
    b.add_argument("--synth-only", action="store_true", help="stop after yosys (fast)")
    b.add_argument("--place-only", action="store_true",
                   help="ECP5: stop after placement; write <name>.placed.json, nextpnr's Fmax "
                        "estimate and the worst estimated paths by unit (rdu fpga paths)")
    b.add_argument("--freq", type=float, default=None, help="clock in MHz (default: the "
                                                            "preset's clock_mhz)")
    b.add_argument("--baud", type=int, default=None, help="UART baud rate (default 1000000)")
    b.add_argument("--seed", type=int, default=None,
                   help="nextpnr placement seed (default 1; 2 for --design kernel on ECP5, the "
                        "seed measured to close 50 MHz)")
    b.add_argument("--timing-weight", type=int, default=None,
                   help="nextpnr's placer timing weight (--placer-heap-timingweight; default: "
                        "nextpnr's, 30 for --design kernel with the heap placer)")
    b.add_argument("--router", default=None, choices=ROUTERS,
                   help="nextpnr's router (default: router2 for --design kernel on ECP5, which "
                        "then places, saves the placement and routes it as rdu fpga route "
                        "does; else nextpnr's, router1)")
    b.add_argument("--placer", default=None, choices=PLACERS,
                   help="nextpnr's placer (default: static for --design kernel on ECP5, else "
                        "nextpnr's, heap; static: its electrostatic placer, no timing weight)")
    b.add_argument("--congestion-growth", type=float, default=None,
                   help="router2's congestion growth per iteration, as for rdu fpga route "
                        f"(default {ROUTER2_CONGESTION_GROWTH})")
    b.add_argument("--design", default=None, choices=("smoke", "kernel", "fabric",
                                                       "fabric-test"),
                   help="what sits behind the bridge (default: the board's; rdu fpga boards): "
                        "the smoke MAC units (runs gemm/conv1d), "
                        "the fabric with real AGCUs on the on-chip memory (runs the compiler's "
                        "kernels), the fabric with AGCU stand-ins, or the fabric with test units "
                        "(runs traffic)")
    b.set_defaults(func=cmd_build)

    r = fsub.add_parser("run", help="run a kernel on a board over its UART")
    r.add_argument("kernel", help="a compiler kernel (gemm, scan, fft, ... : --design kernel), "
                                  "gemm or conv1d (smoke design), traffic (--design fabric-test: "
                                  "vector flows through the fabric's switches and test units)")
    r.add_argument("--board", required=True)
    r.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    r.add_argument("--baud", type=int, default=None)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--shape", nargs="*", help="kernel sizes, e.g. M=8 N=8 K=16 or n=64 taps=7")
    r.add_argument("--dtype", default=None, help="element type of a compiler kernel (gemm: bf16 "
                                                 "or int16)")
    r.add_argument("--out", default=None, help="compiler kernels: write inputs.npz, output.npz, "
                                               "result.json here")
    r.add_argument("--timeout", type=float, default=1.0, help="seconds per response")
    r.add_argument("--config", default=None, help="the preset the fabric bitstream was built "
                                                  "from (traffic; default: the board's)")
    r.set_defaults(func=cmd_run)

    t = fsub.add_parser("timing", help="one fabric unit alone, placed and routed: Fmax and "
                                       "critical paths")
    t.add_argument("--unit", required=True, help="pcu, pmu, switch (the one with the most "
                                                 "ports), agcu, dram (the AGCU's board-memory "
                                                 "adapter), memory (the on-chip memory and its "
                                                 "arbiter) or bridge (the UART host bridge)")
    t.add_argument("--board", default="ulx3s", help="an ECP5 board (default ulx3s)")
    t.add_argument("--config", default=None, help="preset name or YAML file (default: the "
                                                  "board's preset)")
    t.add_argument("--freq", type=float, default=None, help="target clock in MHz (default: "
                                                            "the preset's clock_mhz)")
    t.add_argument("-o", "--output", default=None, help="keep the work files here")
    t.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    t.add_argument("--paths", type=int, default=3, help="critical paths to print")
    t.add_argument("--json", action="store_true", help="print the report as JSON")
    t.set_defaults(func=cmd_timing)

    ro = fsub.add_parser("route", help="route the placement of a --place-only build, pack the "
                                       "bitstream, report the routed Fmax")
    ro.add_argument("dir", help="the --place-only build's output directory")
    ro.add_argument("--router", default="router2", choices=ROUTERS,
                    help="nextpnr's router (default router2: its log shows, per iteration, how "
                         "many wires are still overused)")
    ro.add_argument("--congestion-growth", type=float, default=None,
                    help="router2: how much the weight of present congestion rises per "
                         "iteration (nextpnr's router2/currCongWeightMult; default "
                         f"{ROUTER2_CONGESTION_GROWTH}, nextpnr's own 2.0 diverges on the fpga "
                         "preset)")
    ro.set_defaults(func=cmd_route)

    pp = fsub.add_parser("paths", help="worst estimated paths of a placed ECP5 netlist, by unit")
    pp.add_argument("placed", help="nextpnr --no-route --write output (rdu fpga build "
                                   "--place-only writes <name>.placed.json)")
    pp.add_argument("--period", type=float, default=None, help="clock period in ns: count and "
                    "group the endpoints over it (default: those within 80%% of the worst)")
    pp.add_argument("--top", type=int, default=6, help="unit pairs whose worst path to print")
    pp.add_argument("--json", action="store_true", help="print the result as JSON")
    pp.set_defaults(func=cmd_paths)

    s = fsub.add_parser("boards", help="list the supported boards")
    s.set_defaults(func=cmd_boards)
