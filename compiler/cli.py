"""``rdu run KERNEL ...``: compile a kernel for a fabric configuration, run it on the RTL under
Verilator (tensors start and end in the HBM model), check it against the golden model bit for bit and
against float64, and report. Exit status 0 = bit-exact, 1 = wrong result, 2 = a request or
configuration error (one line)."""

from __future__ import annotations

import json

from .requests import KERNELS

__all__ = ["register", "cmd_run"]


def register(sub):
    s = sub.add_parser("run", help="run a kernel on the fabric RTL and check it",
                       description=__doc__)
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
    s.add_argument("--waves", action="store_true", help="record waves (VCD/FST) of the run")
    s.add_argument("--baseline", action="store_true",
                   help="map without the butterfly/scan extensions (same bits, more cycles)")
    s.set_defaults(func=cmd_run)


def cmd_run(args):
    from hw.params import load

    from .requests import KernelRequest
    from .run import run_kernel

    params = load(args.config)
    dims = {d: getattr(args, d) for d in KERNELS[args.kernel].dims}
    extra = {d: getattr(args, d) for spec in KERNELS.values() for d in spec.dims
             if d not in dims and getattr(args, d, None) is not None}
    req = KernelRequest.make(args.kernel, args.dtype, **dims, **extra)
    options = {"baseline": True} if args.baseline else {}
    res = run_kernel(req, params, seed=args.seed, out_dir=args.out, waves=args.waves, **options)
    if args.json:
        print(json.dumps(res, indent=2, default=float))
    else:
        from rich.console import Console
        con = Console(highlight=False)
        status = "[green]PASS[/] bit-exact" if res["passed"] else f"[red]FAIL[/] {res['mismatch']}"
        con.print(f"{req.kernel} {req.label} {req.dtype} on {params.name}: {status}")
        con.print(f"  cycles {res['cycles']} (ideal {res['ideal_cycles']}, utilization "
                  f"{res['utilization']:.1%}), {res['phases']} phase(s), config {res['config_cycles']} "
                  f"cycles; max rel err vs float64 {res['max_rel_err_vs_float64']}")
    return 0 if res["passed"] else 1
