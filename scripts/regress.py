"""Randomized end-to-end regression on the sweep engine: ``rdu regress``.

Kernels × shapes × seeds × configurations drawn at random (from one regression seed, printed, so
a whole regression is reproducible): each run compiles a kernel for a fabric, simulates it on the
RTL and checks it bit for bit against its golden model, as ``rdu run`` does. The runs are tasks of
:mod:`scripts.sweep` (same cluster options, same result store: a rerun with the same seed
computes only what is missing).

* **Shapes** are drawn within each kernel's limits (:data:`compiler.requests.KERNELS`), narrowed
  to :data:`SHAPES` so a run takes seconds (powers of two where the kernel needs them; the dtype
  among the kernel's; the ``baseline`` mapping at random where the kernel has one).
* **Configurations**: the first is the base (``--base``, default ``small``: every kernel maps on
  it); the others change keys of :data:`CONFIG_SPACE` at random. Each is written as a YAML file
  into ``<out>/configs`` so that the replay command can name it.
* A run that does not map on its drawn configuration (a ``MappingError``: e.g. a shape larger
  than the fabric's buffers) is *skipped*, not failed; a wrong result or a failed simulation is a
  failure, printed with the one ``rdu run`` command that replays it.

Sizes (:data:`SIZES`): ``nightly`` (the default: 4 configurations, 300 runs) and ``ci``
(the base configuration only, 8 runs); ``--runs`` and ``--configs`` change either.
"""

from __future__ import annotations

import json
import random
import secrets
from pathlib import Path

import yaml

from compiler.requests import KERNELS
from hw.params import ConfigError, FabricParams, load
from scripts import sweep as engine
from scripts.args import seed_arg
from tb import progress

__all__ = [
    "BASELINE_KERNELS",
    "CONFIG_SPACE",
    "SHAPES",
    "SIZES",
    "draw",
    "register",
    "regress",
    "replay_command",
]

#: ``--size``: configurations and runs.
SIZES = {"nightly": {"configs": 4, "runs": 300}, "ci": {"configs": 1, "runs": 8}}

#: The range of each shape argument drawn, within the kernel's own limits: small enough that a
#: run simulates in seconds, large enough to cross the lane count, the counters and the phases.
SHAPES = {
    "gemm": {"M": (1, 40), "N": (1, 40), "K": (1, 40)},
    "sdpa": {"n": (1, 24), "d": (1, 4)},
    "sdpa_naive": {"n": (1, 24), "d": (1, 4)},
    "fft": {"n": (2, 256)},
    "hyena": {"n": (1, 64)},
    "scan": {"n": (1, 1024)},
    "linear_scan": {"n": (1, 512)},
    "mamba": {"T": (1, 16), "D": (1, 4), "S": (1, 8)},
}

#: Kernels whose mapping has a ``baseline`` variant (without the butterfly / scan extensions).
BASELINE_KERNELS = ("fft", "hyena", "scan", "linear_scan", "mamba")

#: The keys a drawn configuration changes, and the values it draws from (each keeps every kernel
#: mappable on the ``small`` base: fp32 everywhere, every extension).
CONFIG_SPACE = {
    "pcu.stages": [4, 5, 6],
    "pcu.fifo_depth": [4, 8],
    "pmu.words_per_bank": [512, 1024],
    "agcu.outstanding": [8, 16],
    "switch.vec_links": [2, 3],
}


def _dim(rng, kernel, d):
    lo, hi = SHAPES[kernel][d]
    klo, khi = KERNELS[kernel].limits.get(d, (1, 1 << 30))
    lo, hi = max(lo, klo), min(hi, khi)
    if d in KERNELS[kernel].pow2:
        exps = [e for e in range(hi.bit_length()) if lo <= 1 << e <= hi]
        return 1 << rng.choice(exps)
    return rng.randint(lo, hi)


def draw(seed, runs, configs, base_data, kernels=None):
    """``(configurations, draws)``: ``configs`` override mappings (the first ``{}``, the base),
    each valid on ``base_data`` and giving a fabric different from the others, and ``runs`` draws ``(config index, kernel, shape, dtype,
    baseline, seed)``, all from the regression ``seed``."""
    rng = random.Random(seed)
    kernels = list(kernels or KERNELS)
    found, tries = [{}], 0
    fabrics = [engine.fabric_of(base_data, {}, "regress").to_dict()]
    while len(found) < configs and tries < 100 * configs:
        tries += 1
        keys = rng.sample(sorted(CONFIG_SPACE), rng.randint(1, 3))
        o = {k: rng.choice(CONFIG_SPACE[k]) for k in sorted(keys)}
        try:
            fabric = engine.fabric_of(base_data, o, "regress").to_dict()
        except ConfigError:
            continue
        if fabric in fabrics:       # the base's own values, or a fabric drawn before
            continue
        found.append(o)
        fabrics.append(fabric)
    out = []
    for _ in range(runs):
        k = rng.choice(kernels)
        shape = {d: _dim(rng, k, d) for d in KERNELS[k].dims}
        dtype = rng.choice(KERNELS[k].dtypes)
        baseline = k in BASELINE_KERNELS and rng.random() < 0.3
        out.append((rng.randrange(len(found)), k, shape, dtype, baseline, rng.randrange(1 << 31)))
    return found, out


def replay_command(record, config_path, arith):
    """The ``rdu run`` command that replays one regression run."""
    dims = " ".join(f"--{d} {v}" for d, v in record["shape"].items())
    extra = " --baseline" if record.get("options", {}).get("baseline") else ""
    return (f"rdu run {record['kernel']} {dims} --dtype {record['dtype']} --seed "
            f"{record['seed']} --config {config_path} --arith {arith}{extra}")


def _config_file(out, base_name, base_data, overrides):
    """The YAML file of a drawn configuration (the preset's name for the base itself)."""
    if not overrides:
        return base_name
    data = engine.apply_overrides(base_data, overrides, "regress")
    fab = FabricParams.from_dict(data)
    tag = engine.task_key("config", fab.to_dict(), None, {}, 0, (), "", "")[:8]
    path = Path(out) / "configs" / f"{base_name}-{tag}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    head = "# drawn by rdu regress: the base " + base_name + " with " + \
        engine.overrides_text(overrides) + "\n"
    path.write_text(head + yaml.safe_dump(data, sort_keys=False))
    return str(path)


def regress(client, out, seed, runs, configs, base="small", kernels=None, arith=None,
            say=progress.say):
    """Draw and run a regression on ``client``; returns ``(summary, failures)`` where each
    failure is ``(record, replay command)``."""
    arith = engine.runner.arith_mode(arith)
    base_name, _, base_data = engine.base_config(base, Path("."))
    found, draws = draw(seed, runs, configs, base_data, kernels)
    code = engine.code_digest("run")
    fabrics = [(o, engine.fabric_of(base_data, o, f"regress config {engine.overrides_text(o)}"))
               for o in found]
    files = [_config_file(out, base_name, base_data, o) for o in found]
    tasks, config_of = [], {}
    for ci, k, shape, dtype, baseline, s in draws:
        o, fab = fabrics[ci]
        req = {"kernel": k, "shape": shape, "dtype": dtype}
        options = {"baseline": True} if baseline else {}
        key = engine.task_key("run", fab.to_dict(), req, options, s, ("bit_exact",), arith, code)
        if key in config_of:
            continue
        config_of[key] = files[ci]
        tasks.append(engine.Task("run", key, o, fab.to_dict(), req, options, s, ("bit_exact",),
                                 arith))
    store = engine.Store(out)
    stored = sum(store.has(t.key) for t in tasks)
    n_workers = len(client.scheduler_info().get("workers", {}))
    say(f"regress seed {seed}: {len(tasks)} runs on {len(found)} configuration(s), {stored} "
        f"stored, on {n_workers} worker(s) (rerun with --seed {seed})")
    records, lost = engine.run_tasks(client, tasks, store, say=say)
    recs = [store.get(t.key) for t in tasks]
    recs = [r for r in recs if r is not None]
    skipped = [r for r in recs if r.get("error_class") in ("MappingError", "HbmError",
                                                           "RequestError")]
    failures = [(r, replay_command(r, config_of[r["key"]], arith)) for r in recs
                if r["status"] != "ok" and r not in skipped]
    per_kernel = {}
    for r in recs:
        row = per_kernel.setdefault(r["kernel"], {"runs": 0, "passed": 0, "skipped": 0,
                                                  "failed": 0})
        row["runs"] += 1
        row["passed" if r["status"] == "ok" else "skipped" if r in skipped else "failed"] += 1
    summary = {"seed": seed, "runs": len(tasks), "configs": [engine.overrides_text(o)
                                                             for o in found],
               "config_files": files, "passed": sum(r["status"] == "ok" for r in recs),
               "skipped": len(skipped), "failed": len(failures), "lost": len(lost),
               "computed": len(records), "per_kernel": per_kernel, "arith": arith,
               "failures": [{"replay": cmd, "error_class": r.get("error_class"),
                             "error": r.get("error"), "key": r["key"]} for r, cmd in failures]}
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "regress.json").write_text(json.dumps(summary, indent=1))
    return summary, failures


REGRESS_DOC = """``rdu regress``: randomized end-to-end regression — kernels × shapes × seeds ×
configurations drawn at random, each run on the RTL and checked bit for bit against its golden
model, on the sweep engine's Dask cluster (docs/sweeps.md). A failure prints the one ``rdu run``
command that replays it. Exit status 0 = every run bit-exact (or skipped: does not map), 1 = a
failure, 2 = an argument error, 3 = a tool or the environment failed."""


def cmd_regress(args, prepare):
    size = engine_size(args)
    if args.kernels:
        for k in args.kernels:
            if k not in KERNELS:
                raise ConfigError(f"--kernels {k!r}: unknown kernel; allowed: "
                                  f"{', '.join(KERNELS)}")
    load(args.base)
    seed = args.seed if args.seed is not None else secrets.randbelow(1 << 31)
    out = Path(args.out or Path("build") / "regress" / f"seed-{seed}")
    prepare(args)
    with engine.client_for(args) as client:
        summary, failures = regress(client, out, seed, size["runs"], size["configs"],
                                    base=args.base, kernels=args.kernels,
                                    arith=getattr(args, "arith", None))
    print(f"regress seed {seed}: {summary['runs']} runs on {len(summary['configs'])} "
          f"configuration(s): {summary['passed']} passed, {summary['skipped']} skipped (do not "
          f"map), {summary['failed']} failed" +
          (f", {summary['lost']} lost (rerun to retry)" if summary["lost"] else ""))
    for r, cmd in failures:
        print(f"FAIL {r['kernel']} {r['label']} {r['dtype']}: {r.get('error_class')}: "
              f"{r.get('error')}\n  replay: {cmd}")
    print(f"wrote {out / 'regress.json'}")
    return 1 if failures or summary["lost"] else 0


def engine_size(args):
    size = dict(SIZES[args.size])
    if args.runs is not None:
        size["runs"] = args.runs
    if args.configs is not None:
        size["configs"] = args.configs
    return size


def register(sub, add_build_options, prepare):
    """``rdu regress`` on the ``rdu`` subcommands ``sub`` (see :func:`scripts.sweep.register`)."""
    s = sub.add_parser("regress", help="randomized end-to-end regression on Dask",
                       description=REGRESS_DOC)
    s.add_argument("--size", choices=tuple(SIZES), default="nightly",
                   help="nightly (default: 4 configurations, 300 runs) or ci (the base, 8 runs)")
    s.add_argument("--runs", type=engine.positive, default=None, metavar="N",
                   help="runs to draw (default: the size's)")
    s.add_argument("--configs", type=engine.positive, default=None, metavar="N",
                   help="configurations: the base and N-1 drawn ones (default: the size's)")
    s.add_argument("--seed", type=seed_arg, default=None,
                   help="the regression's seed, >= 0 (default: random; printed)")
    s.add_argument("--base", default="small",
                   help="the base configuration (preset or YAML file; default: small)")
    s.add_argument("--kernels", type=lambda t: [k for k in t.split(",") if k], default=None,
                   metavar="K1,K2", help="draw only these kernels (default: all)")
    s.add_argument("--out", default=None, metavar="DIR",
                   help="results (default: build/regress/seed-<seed>)")
    engine.add_cluster_options(s)
    add_build_options(s)
    s.set_defaults(func=lambda a: cmd_regress(a, prepare))
