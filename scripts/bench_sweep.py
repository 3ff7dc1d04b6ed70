"""The sweep engine (``rdu sweep``, :mod:`scripts.sweep`): scaling from 1 to 2 Dask workers and
the engine's cost per point against running the same points serially.

One set of points — real RTL runs of small kernels on the ``config`` fabric (default ``small``,
whose Verilator build is cached; a first run builds it before anything is timed) — is run

* **serially**: :func:`scripts.sweep.execute` of each point in a loop in a fresh Python process
  (what a user's own script would do: the same imports, the same build cache, no Dask);
* on an embedded ``LocalCluster`` of **1** worker process, and of **2**: the sweep's wall time
  from the cluster's start to the last result stored (a fresh result store each time, so every
  point is computed).

Rows: the wall time of each, the speed-up 1 → 2 workers (ideal 2 on two free cores; the machine's
other load lowers it), and the engine's overhead per point = (1-worker sweep − serial) ÷ points,
which covers starting the cluster and its worker process, shipping tasks and results, storing
each result and writing the tables. ``quick``: compile-only points (``metrics: [mapping]``),
which measure the engine's fixed costs rather than the simulator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts import sweep
from scripts.bench import Option, cli

TITLE = "Sweep engine on Dask: 1 vs 2 workers, and the overhead per point against a serial loop"
OPTIONS = (Option("config", "fabric configuration of the points (preset or YAML file)"),)

ROOT = Path(__file__).resolve().parents[1]


def spec_of(config, quick):
    """The points: scans and FFTs of a few sizes (RTL), or compile-only points when ``quick``."""
    kernels = [{"kernel": "scan", "n": [64, 256, 512, 1024], "dtype": ["fp32", "int32"]},
               {"kernel": "fft", "n": [32, 64, 128, 256]}]
    return {"name": "bench", "base": config, "kernels": kernels, "seeds": [1],
            "metrics": ["mapping"] if quick else ["cycles", "utilization", "bit_exact"]}


SERIAL = """
import json, sys, time
t0 = time.perf_counter()
from scripts import sweep
spec = sweep.parse_spec(json.loads(sys.argv[1]), "bench")
recs = [sweep.execute(t) for t in spec.tasks]
print(json.dumps({"wall_s": time.perf_counter() - t0,
                  "ok": sum(r["status"] == "ok" for r in recs)}))
"""


def _serial(data):
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", SERIAL, json.dumps(data)], cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                         text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return time.perf_counter() - t0, res


def _engine(spec, workers):
    with tempfile.TemporaryDirectory(prefix="rdu-bench-sweep-") as tmp:
        t0 = time.perf_counter()
        with sweep.cluster(workers=workers) as client:
            started = time.perf_counter() - t0
            summary = sweep.sweep(spec, tmp, client, say=lambda s: None)
        return time.perf_counter() - t0, started, summary


def run(quick=False, config="small"):
    data = spec_of(config, quick)
    spec = sweep.parse_spec(data, "bench")
    n = len(spec.tasks)
    if not quick:     # build (or find) the fabric's Verilator model before anything is timed
        sweep.execute(spec.tasks[0], str(sweep.runner.cache_dir()))
    serial_s, serial = _serial(data)
    one_s, one_start, one = _engine(spec, 1)
    two_s, two_start, two = _engine(spec, 2)
    for name, s in (("1 worker", one), ("2 workers", two)):
        if s["failed"] or s["lost"] or s["computed"] != n:
            raise AssertionError(f"{name}: {s}")
    if serial["ok"] != n:
        raise AssertionError(f"serial: {serial['ok']} of {n} points ok")
    kind = "compile-only" if quick else "RTL"
    rows = [
        {"run": "serial loop (one process)", "points": n, "wall_s": round(serial_s, 2),
         "cluster_start_s": None, "per_point_s": round(serial_s / n, 3)},
        {"run": "sweep, 1 worker", "points": n, "wall_s": round(one_s, 2),
         "cluster_start_s": round(one_start, 2), "per_point_s": round(one_s / n, 3)},
        {"run": "sweep, 2 workers", "points": n, "wall_s": round(two_s, 2),
         "cluster_start_s": round(two_start, 2), "per_point_s": round(two_s / n, 3)},
        {"run": "speed-up 1 -> 2 workers", "points": n, "ratio": round(one_s / two_s, 3)},
        {"run": "engine overhead per point (1 worker - serial)", "points": n,
         "per_point_s": round((one_s - serial_s) / n, 3)},
    ]
    kernels = ", ".join(sorted({t.request["kernel"] for t in spec.tasks}))
    notes = [(f"{n} {kind} points on {config} ({kernels}); wall times include starting the Python process (serial) or the cluster "
             f"(sweeps), on a machine with {os.cpu_count()} cores shared with other work: "
             f"compare ratios within one run")]
    return {"rows": rows, "notes": notes}


if __name__ == "__main__":
    raise SystemExit(cli(__name__))
