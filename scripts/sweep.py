"""Design-space sweeps on Dask: ``rdu sweep SPEC.yaml`` (and the engine under ``rdu regress``).

A **spec** (YAML, ``docs/sweeps.md``) names a base configuration, parameter overrides (a ``grid``
of keys with lists of values, and/or a list of ``points``), kernels × shapes, seeds and the
metrics to collect. Everything in it is validated before anything runs: every override builds a
:class:`hw.params.FabricParams`, every kernel a :class:`compiler.requests.KernelRequest`; an error
is one line naming the spec file and the key (``sweep.yaml: grid: pcu.stages = 9: must be an
integer in 1..8``).

The spec expands into **tasks**, each independent and run on a Dask worker:

* a *run* task per fabric × kernel × shape × seed: generate → build (content-addressed Verilator
  cache, :mod:`tb.cache`, so identical fabrics build once, also across machines sharing
  ``RDU_CACHE``) → compile → simulate → check bit for bit (:func:`tb.run.run_kernel`); or, when
  the metrics ask for nothing that needs the RTL (``metrics: [mapping]``), a *map* task that
  compiles the kernel and checks the mapping without simulating;
* an *area* task per fabric (``metrics: [area]``): yosys ``synth_ecp5`` cell counts of each unit
  kind (PCU, PMU, the largest switch) and their sum over the grid; ``fmax`` adds nextpnr's Fmax of
  each unit placed and routed alone (:func:`fpga.timing.unit_timing`).

Each finished task is stored at once as ``<out>/results/<key>.json``, the key being the SHA-256
of what determines its result: the fabric's parameters, the kernel, shape, dtype, options and
seed, the arithmetic mode, and the code that generates the RTL and compiles the kernels
(:func:`code_digest`). A rerun — after Ctrl-C, a crash or with more points — computes only what
is missing. A point that fails (it does not map, the simulation fails, a tool fails) is stored
with its error class and message and does not stop the sweep; a worker lost mid-task has its
tasks rerun elsewhere by the scheduler, and every point is stored once.

Where it runs (:func:`cluster`): an embedded ``LocalCluster`` of one single-threaded worker
process per core by default; ``--scheduler ADDRESS`` an existing cluster; ``--jobqueue
slurm|lsf|pbs|sge`` a batch system through ``dask-jobqueue`` (its options from the spec's
``jobqueue:`` section). Progress: a start line, one line per failed point, and (on a terminal) a
live count of points done / total and failures (:func:`tb.progress.counter`); Dask's dashboard
shows the task stream. Results: ``results.csv``, ``results.json``, ``fabrics.csv`` and the plots
``pareto.png`` (area vs cycles per kernel, the Pareto front marked) and ``utilization.png``
(utilization vs each swept key).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import hashlib
import itertools
import json
import logging
import os
import signal
import threading
import time
import traceback
import typing
import uuid
from pathlib import Path
from unittest import mock

import yaml

from compiler.kernel import compile_kernel
from compiler.requests import (
    KERNELS,
    KernelRequest,
    RequestError,
    expected,
    float64_reference,
    make_inputs,
)
from fpga.build import ecp5_area
from fpga.timing import unit_of, unit_timing
from hw.golden import error_report
from hw.params import ConfigError, FabricParams, load, load_yaml
from hw.params.base import Params, preset_file
from hw.util import did_you_mean
from interconnect.floorplan import FabricMap
from memory.chip import AGCU_UNIT_PORTS
from scripts.plot import FORMATS, figure
from tb import progress, runner
from tb.run import run_kernel

__all__ = [
    "FABRIC_METRICS",
    "JOBQUEUES",
    "METRICS",
    "RTL_METRICS",
    "Spec",
    "Store",
    "Task",
    "add_cluster_options",
    "apply_overrides",
    "base_config",
    "client_for",
    "cluster",
    "code_digest",
    "execute",
    "fabric_of",
    "job_script",
    "load_spec",
    "markdown",
    "overrides_text",
    "pareto_front",
    "parse_spec",
    "plots",
    "positive",
    "register",
    "run_tasks",
    "sweep",
    "task_key",
    "write_outputs",
]

#: What a spec may collect. ``cycles``, ``utilization``, ``bit_exact`` and ``sim_speed`` need the
#: RTL simulation; ``mapping`` alone compiles without simulating; ``area`` and ``fmax`` are per
#: fabric.
METRICS = ("cycles", "utilization", "bit_exact", "sim_speed", "mapping", "area", "fmax")
RTL_METRICS = ("cycles", "utilization", "bit_exact", "sim_speed")
FABRIC_METRICS = ("area", "fmax")
DEFAULT_METRICS = ("cycles", "utilization", "bit_exact")

#: ``--jobqueue NAME`` → the dask-jobqueue cluster class.
JOBQUEUES = {"slurm": "SLURMCluster", "lsf": "LSFCluster", "pbs": "PBSCluster",
             "sge": "SGECluster"}

#: The top-level keys of a spec.
SPEC_KEYS = ("name", "base", "grid", "points", "kernels", "seeds", "metrics", "arith",
             "area_lut_mapping", "workers", "jobqueue")

#: The keys of one entry of ``kernels:`` besides the kernel's shape arguments.
KERNEL_KEYS = ("kernel", "dtype", "baseline")

#: The units whose area (and Fmax) a fabric task measures, and how many of each a fabric has.
AREA_UNITS = ("pcu", "pmu", "switch")


# ---- the spec ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Task:
    """One independent job of a sweep: ``kind`` ``run`` (RTL), ``map`` (compile only) or
    ``unit`` (area / Fmax of one unit kind, ``options["unit"]``); ``overrides`` the spec's overrides of this point (for the tables),
    ``fabric`` the full configuration as a mapping, ``request`` the kernel request as a mapping
    (``None`` for fabric tasks), ``metrics`` what to collect, ``key`` the result's key."""

    kind: str
    key: str
    overrides: dict
    fabric: dict
    request: dict | None = None
    options: dict = dataclasses.field(default_factory=dict)
    seed: int = 0
    metrics: tuple = ()
    arith: str = "behavioural"

    @property
    def label(self):
        if self.request is None:
            return f"{self.options.get('unit')} area on {overrides_text(self.overrides)}"
        shape = "x".join(str(v) for v in self.request["shape"].values())
        extra = " baseline" if self.options.get("baseline") else ""
        return (f"{self.request['kernel']} {shape} {self.request['dtype']}{extra} seed "
                f"{self.seed} on {overrides_text(self.overrides)}")


@dataclasses.dataclass
class Spec:
    """A validated sweep: its ``name``, where it came from, the base configuration's name and the
    tasks (fabric tasks first)."""

    name: str
    source: str
    base: str
    tasks: list
    swept: tuple = ()
    metrics: tuple = DEFAULT_METRICS
    workers: int | None = None
    jobqueue: dict | None = None
    #: per fabric with area metrics: ``(overrides, {unit: key of its unit task}, {unit: count})``
    units: list = dataclasses.field(default_factory=list)


def overrides_text(overrides):
    return ", ".join(f"{k}={_plain(v)}" for k, v in overrides.items()) or "base"


def _plain(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_plain(x) for x in v) + "]"
    return str(v)


def _err(where, text):
    return ConfigError(f"{where}: {text}")


def _section_class(cls, name):
    """The :class:`Params` class of field ``name`` of ``cls``, or ``None`` if it is a leaf."""
    hints = typing.get_type_hints(cls)
    tp = hints.get(name)
    return tp if isinstance(tp, type) and issubclass(tp, Params) else None


def apply_overrides(data, overrides, where):
    """A copy of the configuration mapping ``data`` with ``overrides`` (``{"pcu.stages": 6,
    "lanes": 8}``: dotted keys as in ``rdu params --describe``) set. A section given in ``data``
    as a preset name (``memory.hbm: tiny``) is expanded to its mapping first. Unknown keys are
    left for :meth:`FabricParams.from_dict` to name; a key through a non-section raises a
    :class:`ConfigError` naming ``where``."""
    out = json.loads(json.dumps(data))
    for key, value in overrides.items():
        parts = str(key).split(".")
        d, cls = out, FabricParams
        for i, part in enumerate(parts[:-1]):
            sub_cls = _section_class(cls, part) if cls is not None else None
            if sub_cls is None:
                fields = [f.name for f in dataclasses.fields(cls)] if cls else []
                if cls is not None and part not in fields:
                    raise _err(where, f"{'.'.join(parts[:i + 1])}: unknown key"
                                      f"{did_you_mean(part, fields)}; allowed keys: "
                                      f"{', '.join(fields)}")
                raise _err(where, f"{key}: {'.'.join(parts[:i + 1])} is a value, not a "
                                  f"section")
            sub = d.get(part)
            if isinstance(sub, str) and sub_cls.PRESET_DIR:
                path = preset_file(sub, sub_cls.PRESET_DIR)
                sub = dict(load_yaml(path)) if path is not None else sub
            if not isinstance(sub, dict):
                sub = {} if sub is None else sub
            if not isinstance(sub, dict):
                raise _err(where, f"{'.'.join(parts[:i + 1])} = {sub!r}: must be a mapping")
            d[part] = sub
            d, cls = sub, sub_cls
        d[parts[-1]] = value
    return out


def fabric_of(base_data, overrides, where):
    """The validated fabric of ``base_data`` with ``overrides``; errors name ``where``."""
    data = apply_overrides(base_data, overrides, where)
    return FabricParams.from_dict(data, source=where)


def base_config(base, spec_dir):
    """``(name, params, mapping)`` of the spec's ``base``: a preset name, or a YAML file relative
    to the spec's folder (else the working directory)."""
    if not isinstance(base, str) or not base:
        raise ConfigError(f"base = {base!r}: must be a preset name or a YAML file")
    path = None
    if base.endswith((".yaml", ".yml")) or "/" in base:
        path = Path(base)
        if not path.is_absolute() and (spec_dir / path).exists():
            path = spec_dir / path
        params = load(str(path))
        data = load_yaml(path)
    else:
        params = load(base)
        data = load_yaml(preset_file(base))
    data = dict(data)
    data.setdefault("name", params.name)
    return params.name, params, data


def _as_list(value, where):
    if isinstance(value, list):
        if not value:
            raise _err(where, "empty list; give at least one value")
        return value
    return [value]


def _kernel_entries(entries, where):
    """``[(KernelRequest, options)]`` of the spec's ``kernels:`` list (lists of shapes and dtypes
    expanded)."""
    if not isinstance(entries, list) or not entries:
        raise _err(where, "must be a non-empty list of mappings such as "
                          "{kernel: gemm, M: 64, N: 64, K: 64}")
    out = []
    for i, entry in enumerate(entries):
        at = f"{where}[{i}]"
        if not isinstance(entry, dict) or "kernel" not in entry:
            raise _err(at, "must be a mapping with a 'kernel' key, e.g. {kernel: fft, n: 256}")
        kernel = entry["kernel"]
        if kernel not in KERNELS:
            raise _err(f"{at}.kernel", f"{kernel!r}: unknown kernel{did_you_mean(kernel, KERNELS)};"
                                      f" allowed: {', '.join(KERNELS)}")
        spec = KERNELS[kernel]
        allowed = (*KERNEL_KEYS, *spec.dims)
        for key in entry:
            if key not in allowed:
                raise _err(f"{at}.{key}", f"unknown key{did_you_mean(key, allowed)}; {kernel} "
                                          f"takes {', '.join(allowed)}")
        baseline = entry.get("baseline", False)
        if not isinstance(baseline, bool) and baseline != "auto":
            raise _err(f"{at}.baseline", f"{baseline!r}: must be true, false or auto")
        dims = {d: _as_list(entry.get(d), f"{at}.{d}") for d in spec.dims if d in entry}
        dtypes = _as_list(entry.get("dtype"), f"{at}.dtype")
        names = list(dims)
        for combo in itertools.product(dtypes, *dims.values()):
            try:
                req = KernelRequest.make(kernel, combo[0], **dict(zip(names, combo[1:])))
            except RequestError as e:
                raise _err(at, str(e)) from None
            out.append((req, baseline))
    return out


#: The PCU extension each kernel's mapping needs unless it is mapped as its ``baseline``.
EXTENSION_OF = {"fft": "butterfly", "hyena": "butterfly", "scan": "scan", "linear_scan": "scan",
                "mamba": "scan"}


def _options(req, baseline, fabric):
    """The mapping options of a kernel entry on ``fabric``: ``baseline: auto`` maps as the
    baseline exactly when the fabric lacks the extension the kernel's mapping uses."""
    if baseline == "auto":
        ext = EXTENSION_OF.get(req.kernel)
        baseline = ext is not None and not fabric["pcu"][ext]
    return {"baseline": True} if baseline else {}


def _seeds(value, where):
    seeds = _as_list(value, where)
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise _err(where, f"{s!r}: must be an integer >= 0 (or a list of them)")
    return seeds


def _metrics(value, where):
    metrics = _as_list(value, where)
    for m in metrics:
        if m not in METRICS:
            raise _err(where, f"{m!r}: unknown metric{did_you_mean(m, METRICS)}; allowed: "
                              f"{', '.join(METRICS)}")
    return tuple(dict.fromkeys(metrics))


def _overrides_of(spec_data, where):
    """The list of override mappings: the ``grid``'s cartesian product times each ``points``
    entry (each alone when only one is given; ``[{}]`` when neither)."""
    grid = spec_data.get("grid") or {}
    points = spec_data.get("points")
    if not isinstance(grid, dict):
        raise _err(f"{where}: grid", "must be a mapping of keys to lists of values, e.g. "
                                     "{lanes: [4, 8]}")
    values = {k: _as_list(v, f"{where}: grid.{k}") for k, v in grid.items()}
    combos = [dict(zip(values, c)) for c in itertools.product(*values.values())]
    if points is None:
        return combos, tuple(values)
    if not isinstance(points, list) or not points or not all(isinstance(p, dict) for p in points):
        raise _err(f"{where}: points", "must be a non-empty list of mappings of overrides, e.g. "
                                       "[{pcu.scan: true}, {pcu.scan: false}]")
    keys = tuple(dict.fromkeys(k for p in points for k in p))
    return [{**p, **c} for p in points for c in combos], (*values, *keys)


def parse_spec(data, source="spec", spec_dir=None, *, code=None, arith=None):
    """A validated :class:`Spec` from the parsed YAML ``data`` (``source`` names it in errors;
    ``spec_dir``: the folder relative paths start from). ``code``: the code digest to key the
    results with (default :func:`code_digest`); ``arith``: the arithmetic of the RTL
    (default: the spec's ``arith``, else ``RDU_ARITH``, else behavioural)."""
    spec_dir = Path(spec_dir or ".")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: must be a mapping with the keys {', '.join(SPEC_KEYS)}")
    for key in data:
        if key not in SPEC_KEYS:
            raise _err(f"{source}: {key}", f"unknown key{did_you_mean(key, SPEC_KEYS)}; allowed "
                                           f"keys: {', '.join(SPEC_KEYS)}")
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not name.replace("-", "_").isidentifier():
        raise _err(f"{source}: name", f"{name!r}: must be letters, digits, - and _ only "
                                      f"(it names the output folder)")
    metrics = _metrics(data.get("metrics", list(DEFAULT_METRICS)), f"{source}: metrics")
    if "arith" in data and data["arith"] not in ("behavioural", "gates"):
        raise _err(f"{source}: arith", f"{data['arith']!r}: must be behavioural or gates")
    arith = runner.arith_mode(arith or data.get("arith"))
    workers = data.get("workers")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise _err(f"{source}: workers", f"{workers!r}: must be an integer >= 1")
    jobqueue = data.get("jobqueue")
    if jobqueue is not None:
        _jobqueue_section(jobqueue, f"{source}: jobqueue")
    try:
        base_name, _, base_data = base_config(data.get("base", "small"), spec_dir)
    except ConfigError as e:
        raise ConfigError(f"{source}: base: {e}") from None
    overrides, swept = _overrides_of(data, source)
    # each override alone first, so an error names the key the user wrote
    for k, v in (data.get("grid") or {}).items():
        for x in _as_list(v, f"{source}: grid.{k}"):
            fabric_of(base_data, {k: x}, f"{source}: grid")
    for i, p in enumerate(data.get("points") or []):
        fabric_of(base_data, p, f"{source}: points[{i}]")
    fabrics = []
    for o in overrides:
        params = fabric_of(base_data, o, f"{source}: point {overrides_text(o)}")
        fabrics.append((o, params.to_dict()))
    needs_runs = any(m in RTL_METRICS or m == "mapping" for m in metrics)
    kernels = _kernel_entries(data.get("kernels"), f"{source}: kernels") \
        if needs_runs or "kernels" in data else []
    seeds = _seeds(data.get("seeds", 0), f"{source}: seeds")
    run_code = code or code_digest("run")
    unit_code = code or (code_digest("unit") if any(m in FABRIC_METRICS for m in metrics)
                         else None)
    lut_mapping = data.get("area_lut_mapping", "abc9")
    if lut_mapping not in ("abc9", "abc"):
        raise _err(f"{source}: area_lut_mapping", f"{lut_mapping!r}: must be abc9 or abc")
    unit_options = {"lut_mapping": "abc"} if lut_mapping == "abc" else {}
    kind = "run" if any(m in RTL_METRICS for m in metrics) else "map"
    tasks = []
    fab_metrics = tuple(m for m in metrics if m in FABRIC_METRICS)
    seen = set()
    units = []
    if fab_metrics:
        for o, fab in fabrics:
            keys = {}
            for unit in AREA_UNITS:
                options = {"unit": unit, **unit_options}
                key = task_key("unit", _unit_scope(fab, unit), None, options, 0, fab_metrics,
                               "", unit_code)
                keys[unit] = key
                if key not in seen:
                    seen.add(key)
                    tasks.append(Task("unit", key, o, fab, options=options,
                                      metrics=fab_metrics, arith=arith))
            units.append((o, keys, _unit_counts(fab)))
    if needs_runs:
        run_metrics = tuple(m for m in metrics if m not in FABRIC_METRICS)
        for (o, fab), (req, baseline), seed in itertools.product(fabrics, kernels, seeds):
            options = _options(req, baseline, fab)
            key = task_key(kind, fab, req.as_dict(), options, seed, run_metrics, arith,
                           run_code)
            if key not in seen:
                seen.add(key)
                tasks.append(Task(kind, key, o, fab, req.as_dict(), options, seed, run_metrics,
                                  arith))
    return Spec(name, source, base_name, tasks, swept, metrics, workers, jobqueue, units)


def _unit_scope(fabric, unit):
    """What the area of ``unit`` in ``fabric`` may depend on: the whole configuration except
    the other tile's section and the name (a PCU-only change shares the PMU's and the switch's
    synthesis, a PMU-only change the PCU's)."""
    drop = {"name", "pmu"} if unit == "pcu" else {"name", "pcu"} if unit == "pmu" else {"name"}
    if unit == "switch":
        # the switch's ports follow the grid, lanes, links and AGCUs, not the tiles' insides
        drop |= {"pcu", "pmu"}
    return {k: v for k, v in fabric.items() if k not in drop}


def _unit_counts(fabric):
    """How many of each :data:`AREA_UNITS` kind ``fabric`` has (switches: every grid corner of
    the kernel design's floorplan, :class:`interconnect.floorplan.FabricMap`)."""
    params = FabricParams.from_dict(fabric)
    fmap = FabricMap(params, unit_ports=AGCU_UNIT_PORTS, agcu_stops=True)
    return {"pcu": params.n_pcu, "pmu": params.n_pmu, "switch": len(fmap.switches)}


def load_spec(path, **kw):
    """:func:`parse_spec` of the YAML file ``path`` (errors name the file)."""
    data = load_yaml(Path(path))
    return parse_spec(data, str(path), Path(path).parent, **kw)


def _jobqueue_section(section, where):
    if not isinstance(section, dict):
        raise _err(where, "must be a mapping: {system: slurm, jobs: 4, options: {...}}")
    allowed = ("system", "jobs", "options")
    for key in section:
        if key not in allowed:
            raise _err(f"{where}.{key}", f"unknown key{did_you_mean(key, allowed)}; allowed "
                                         f"keys: {', '.join(allowed)}")
    system = section.get("system")
    if system is not None and system not in JOBQUEUES:
        raise _err(f"{where}.system", f"{system!r}: allowed: {', '.join(JOBQUEUES)}")
    jobs = section.get("jobs", 1)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise _err(f"{where}.jobs", f"{jobs!r}: must be an integer >= 1")
    if not isinstance(section.get("options", {}), dict):
        raise _err(f"{where}.options", "must be a mapping of the dask-jobqueue cluster's "
                                       "keyword arguments (cores, memory, queue, ...)")


# ---- keys and the store -----------------------------------------------------------------------

#: The modules whose code decides a result, by kind of task: for runs (and compile-only points)
#: the System's generator (with everything it imports), the kernel mappings (loaded by name in
#: :data:`compiler.kernel.MAPPERS`), the run and its testbench; for area and Fmax the units'
#: generators as the FPGA flow builds them, and the flow.
CODE_MODULES = {
    "run": ("memory.chip", "compiler.kernel", "compiler.gemm", "compiler.fft", "compiler.scan",
            "compiler.sdpa", "tb.run", "tb.cocotb_job"),
    "unit": ("fpga.timing", "fpga.build"),
}


def code_digest(kind="run"):
    """SHA-256 of the code that decides the results of ``kind`` tasks (``run`` — runs and
    compile-only points — or ``unit``; :func:`tb.runner.generator_digest` of
    :data:`CODE_MODULES`): part of every result's key, so a changed generator, mapping or flow
    recomputes the points it could change while edits of comments do not."""
    return runner.generator_digest(*CODE_MODULES[kind])


def task_key(kind, fabric, request, options, seed, metrics, arith, code):
    """The key of a task's result (see the module documentation)."""
    blob = json.dumps({"kind": kind, "fabric": fabric, "request": request, "options": options,
                       "seed": seed, "metrics": sorted(metrics), "arith": arith, "code": code},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class Store:
    """Finished tasks of a sweep, one JSON file each in ``<folder>/results``, written atomically
    (a temporary file renamed into place) as each task completes."""

    def __init__(self, folder):
        self.folder = Path(folder) / "results"

    def path(self, key):
        return self.folder / f"{key}.json"

    def has(self, key):
        return self.path(key).is_file()

    def get(self, key):
        try:
            return json.loads(self.path(key).read_text())
        except (OSError, ValueError):
            return None

    def put(self, record):
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{record['key']}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(record, indent=1, default=_json_default))
        os.replace(tmp, self.path(record["key"]))


def _json_default(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)


# ---- the work of one task (runs on a worker) --------------------------------------------------

def _environment(task, cache):
    """The environment ``task`` runs in (restored afterwards): the build cache the client uses
    (a shared folder on a farm), the task's arithmetic, and no progress lines (the client shows
    progress)."""
    env = {"RDU_ARITH": task.arith, "RDU_QUIET": "1", **({"RDU_CACHE": cache} if cache else {})}
    return mock.patch.dict(os.environ, env)


def _error(e):
    lines = str(e).strip().splitlines()
    return {"status": "error", "error_class": type(e).__name__,
            "error": lines[0] if lines else type(e).__name__}


def execute(task, cache=None):
    """Run one :class:`Task` and return its record (a JSON-able dict). Never raises for a point
    that fails: the error's class and first line are recorded (``status: error``); a wrong
    result is ``status: wrong``."""
    with _environment(task, cache):
        return _execute(task)


def _execute(task):
    t0 = time.perf_counter()
    rec = {"key": task.key, "kind": task.kind, "overrides": task.overrides,
           "config": task.fabric.get("name"), "seed": task.seed, "options": task.options,
           "host": os.uname().nodename, "pid": os.getpid()}
    if task.request is not None:
        rec.update(kernel=task.request["kernel"], shape=task.request["shape"],
                   dtype=task.request["dtype"],
                   label="x".join(str(v) for v in task.request["shape"].values()))
    try:
        if task.kind == "unit":
            rec.update(_unit_metrics(task))
        elif task.kind == "map":
            rec.update(_map_metrics(task))
        else:
            rec.update(_run_metrics(task))
        rec.setdefault("status", "ok")
    except Exception as e:    # noqa: BLE001 — a failed point is a result, not the sweep's end
        rec.update(_error(e))
        rec["traceback"] = traceback.format_exc(limit=-3)
    rec["task_s"] = round(time.perf_counter() - t0, 3)
    return rec


def _request(task):
    r = task.request
    return KernelRequest.make(r["kernel"], r["dtype"], **r["shape"])


def _run_metrics(task):
    params = FabricParams.from_dict(task.fabric)
    res = run_kernel(_request(task), params, seed=task.seed, **task.options)
    rec = {"status": "ok" if res["passed"] else "wrong", "bit_exact": res["bit_exact"],
           "cycles": res["cycles"], "ideal_cycles": res["ideal_cycles"],
           "utilization": res["utilization"], "phases": res["phases"],
           "config_cycles": res["config_cycles"], "units": res["units"],
           "max_rel_err_vs_float64": res["max_rel_err_vs_float64"],
           "sim_wall_s": res["wall_s"]}
    if not res["passed"]:
        rec["error_class"] = "WrongResult"
        rec["error"] = res["mismatch"]
    speed = (res.get("sim_speed") or {}).get("sim") or {}
    if speed.get("wall_s"):
        rec["sim_cycles_per_s"] = round(speed["cycles"] / speed["wall_s"], 1)
    return rec


def _map_metrics(task):
    """Compile the kernel for the fabric (no RTL) and check the mapping: it maps, its job is
    complete (phases, configuration words, outputs), and the golden model it is checked against
    evaluates; records the phases, units used and the ideal cycles."""
    params = FabricParams.from_dict(task.fabric)
    req = _request(task)
    inputs = make_inputs(req, task.seed)
    c = compile_kernel(req, params, inputs, **task.options)
    if not c.job.phases or not c.job.outputs:
        raise RuntimeError(f"{req.kernel}: the mapping produced no phases or no outputs")
    words = sum(len(ph.packets.words()) for ph in c.job.phases)
    exp = expected(req, inputs, c.golden_lanes, **c.golden_options)
    err = error_report(exp, float64_reference(req, inputs))
    ideal = int(-(-c.useful_ops // c.peak_ops_per_cycle)) if c.peak_ops_per_cycle else 0
    return {"mapped": True, "phases": len(c.job.phases), "config_words": words,
            "units": c.units, "useful_ops": int(c.useful_ops), "ideal_cycles": ideal,
            "golden_max_rel_err_vs_float64": float(err.max_rel), "notes": c.notes}


def _unit_metrics(task):
    """Area of one unit kind of the fabric (yosys ``synth_ecp5`` cells: LUT4-equivalents,
    flip-flops, DSPs, block RAMs) and, with ``fmax``, its Fmax placed and routed alone
    (nextpnr, :func:`fpga.timing.unit_timing`)."""
    params = FabricParams.from_dict(task.fabric)
    unit = task.options["unit"]
    rec = {"unit": unit}
    if "area" in task.metrics:
        a = ecp5_area(unit_of(params, unit), f"sweep_{unit}_{task.key[:8]}",
                      lut_mapping=task.options.get("lut_mapping", "abc9"))
        rec.update({k: a[k] for k in AREA_CELLS})
        rec["yosys_s"] = a["yosys_s"]
        # abc9 crashed and `abc -lut 4` mapped the LUTs: counts not comparable LUT for LUT
        rec["lut_mapping"] = a.get("lut_mapping", "abc9")
    if "fmax" in task.metrics:
        rec["fmax_mhz"] = unit_timing(params, unit)["fmax_mhz"]
    return rec


#: The cell counts an area task records (:data:`fpga.build.ECP5_AREA_CELLS`, summed over the
#: fabric in the tables).
AREA_CELLS = ("LUT4_eq", "LUT4", "CCU2C", "TRELLIS_FF", "MULT18X18D", "DP16KD", "TRELLIS_DPR16X4")


# ---- running tasks on a cluster ---------------------------------------------------------------

@contextlib.contextmanager
def cluster(workers=None, scheduler=None, jobqueue=None, jobqueue_options=None, jobs=1,
            connect_timeout=20):
    """A ``distributed.Client``: on ``scheduler`` (an address; given up after
    ``connect_timeout`` seconds) if given; else on a dask-jobqueue cluster of the batch system
    ``jobqueue`` (``jobqueue_options``: its keyword arguments, ``jobs``: how many batch jobs to
    ask for); else on an embedded ``LocalCluster`` of ``workers`` single-threaded worker
    processes (default: one per core). SIGTERM ends the block as Ctrl-C does (the cluster is
    closed, the results stored so far stay)."""
    # deferred: distributed takes about a second to import; only sweeps and regressions need it
    from distributed import Client, LocalCluster
    with _terminate_as_interrupt():
        yield from _clients(Client, LocalCluster, workers, scheduler, jobqueue,
                            jobqueue_options, jobs, connect_timeout)


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (a batch system's or ``kill``'s) raises KeyboardInterrupt in the main thread, so
    the cluster and its workers are shut down instead of left running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _clients(Client, LocalCluster, workers, scheduler, jobqueue, jobqueue_options, jobs,
             connect_timeout):
    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{connect_timeout}s")
        except OSError as e:
            raise runner.ToolError(f"--scheduler {scheduler}: cannot reach the Dask scheduler "
                                   f"({str(e).splitlines()[0]})") from None
        with client:
            yield client
        return
    if jobqueue:
        # deferred: only for batch systems
        import dask_jobqueue
        cls = getattr(dask_jobqueue, JOBQUEUES[jobqueue])
        try:
            c = cls(**(jobqueue_options or {}))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"jobqueue.options: {str(e).splitlines()[0]}") from None
        with c:
            c.scale(jobs=jobs)
            with Client(c) as client:
                yield client
        return
    n = workers or os.cpu_count() or 1
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      silence_logs=logging.ERROR, dashboard_address=":0") as c, Client(c) as client:
        yield client


def _dask_key(task, session):
    what = task.request["kernel"] if task.request else task.options.get("unit", "unit")
    return f"rdu-{task.kind}-{what}-{task.key[:16]}-{session}"


def run_tasks(client, tasks, store, on_result=None, say=progress.say, retry_failed=False):
    """Run the ``tasks`` not yet in ``store`` on ``client``; store each record as it arrives.
    Returns ``(records, lost)``: the records of this run, and the tasks whose worker was lost
    more often than the scheduler allows (not stored: a rerun retries them). ``on_result(record,
    done, total)`` is called after each stored record. ``retry_failed``: also rerun the tasks
    stored as failed (after a transient failure: a full disk, a tool killed)."""
    # deferred: as in cluster()
    from distributed import as_completed
    todo = [t for t in tasks if not store.has(t.key)
            or (retry_failed and (store.get(t.key) or {}).get("status") != "ok")]
    if not todo:
        return [], []
    cache = str(runner.cache_dir())
    session = uuid.uuid4().hex[:8]
    # one task per fabric first, so the workers build different fabrics side by side and
    # the other points of a fabric find its build in the cache
    first = {}
    for t in todo:
        first.setdefault(json.dumps(t.fabric, sort_keys=True), t.key)
    futures = {}
    for t in todo:
        prio = 10 if first.get(json.dumps(t.fabric, sort_keys=True)) == t.key else 0
        if t.kind == "unit":
            # the longest tasks first (a PCU's synthesis takes minutes), for the shortest sweep
            prio = 20 if t.options.get("unit") == "pcu" else 15
        f = client.submit(execute, t, cache, key=_dask_key(t, session), pure=False,
                          priority=prio)
        futures[f] = t
    records, lost = [], []
    done = 0
    counter = progress.counter(f"sweep: {len(todo)} points", len(todo))
    with counter as count:
        for f in as_completed(futures):
            t = futures[f]
            try:
                rec = f.result()
            except Exception as e:    # noqa: BLE001 — KilledWorker, a cancelled future, ...
                lost.append((t, e))
                first_line = str(e).splitlines()[0] if str(e) else ""
                say(f"lost: {t.label}: {type(e).__name__}: {first_line}")
                count.advance(failed=True)
                continue
            store.put(rec)
            records.append(rec)
            done += 1
            failed = rec["status"] != "ok"
            if failed:
                say(f"{rec['status']}: {t.label}: {rec.get('error_class')}: {rec.get('error')}")
            count.advance(failed=failed)
            if on_result is not None:
                on_result(rec, done, len(todo))
    return records, lost


def sweep(spec, out, client, on_result=None, say=progress.say, retry_failed=False):
    """Run ``spec`` (a :class:`Spec`) on ``client``, storing results in ``out``; then write the
    tables and plots (:func:`write_outputs`). Returns a summary dict."""
    out = Path(out)
    store = Store(out)
    stored = sum(store.has(t.key) and not (retry_failed and store.get(t.key)["status"] != "ok")
                 for t in spec.tasks)
    where = getattr(client, "dashboard_link", None)
    n_workers = len(client.scheduler_info().get("workers", {}))
    say(f"sweep {spec.name}: {len(spec.tasks)} points, {stored} stored, "
        f"{len(spec.tasks) - stored} to run on {n_workers} worker(s)"
        + (f"; dashboard {where}" if where else ""))
    t0 = time.perf_counter()
    records, lost = run_tasks(client, spec.tasks, store, on_result=on_result, say=say,
                              retry_failed=retry_failed)
    wall = time.perf_counter() - t0
    files = write_outputs(spec, out)
    failed = [r for r in (store.get(t.key) for t in spec.tasks) if r and r["status"] != "ok"]
    return {"points": len(spec.tasks), "stored_before": stored, "computed": len(records),
            "failed": len(failed), "lost": len(lost), "wall_s": round(wall, 2), "files": files,
            "workers": n_workers}


# ---- tables and plots -------------------------------------------------------------------------

RUN_COLUMNS = ("status", "kernel", "label", "dtype", "options", "seed", "cycles", "ideal_cycles",
               "utilization", "bit_exact", "phases", "config_words", "sim_cycles_per_s",
               "fabric_LUT4_eq", "fabric_TRELLIS_FF", "fabric_MULT18X18D", "fmax_mhz",
               "error_class", "error", "key")


def _fabric_rows(spec, store):
    """A row per fabric with area metrics: each unit kind's cells and Fmax, and the fabric's
    totals (cells × unit counts; Fmax: the least of its units')."""
    rows = []
    for overrides, keys, counts in spec.units:
        row = {**overrides, "overrides": overrides, "status": "ok"}
        fmax = []
        total = dict.fromkeys(AREA_CELLS, 0)
        for unit, key in keys.items():
            r = store.get(key)
            if r is None or r["status"] != "ok":
                row["status"] = "missing" if r is None else "error"
                if r is not None:
                    row.update(error_class=r.get("error_class"), error=r.get("error"))
                continue
            row[f"{unit}_count"] = counts[unit]
            for c in AREA_CELLS:
                if c in r:
                    row[f"{unit}_{c}"] = r[c]
                    total[c] += counts[unit] * r[c]
            if "lut_mapping" in r:
                row[f"{unit}_lut_mapping"] = r["lut_mapping"]
            if "fmax_mhz" in r:
                row[f"{unit}_fmax_mhz"] = r["fmax_mhz"]
                fmax.append(r["fmax_mhz"])
        if row["status"] == "ok":
            if any(f"pcu_{c}" in row for c in AREA_CELLS):
                row.update({f"fabric_{c}": v for c, v in total.items()})
            if fmax:
                row["fmax_mhz"] = min(fmax)
        rows.append(row)
    return rows


def _rows(spec, out):
    """``(run rows, fabric rows)``: the stored records of ``spec``'s run (or map) tasks, each
    joined with its fabric's area and Fmax, and :func:`_fabric_rows`."""
    store = Store(out)
    fab_rows = _fabric_rows(spec, store)
    fabrics = {json.dumps(r["overrides"], sort_keys=True): r for r in fab_rows}
    runs = []
    for t in spec.tasks:
        if t.kind == "unit":
            continue
        r = store.get(t.key)
        if r is None:
            continue
        # this spec's overrides: a result stored by another spec (same fabric, same key) may
        # have been reached through other keys
        row = {**t.overrides, **r, "overrides": t.overrides}
        fab = fabrics.get(json.dumps(t.overrides, sort_keys=True))
        if fab is not None and fab["status"] == "ok":
            row.update({k: v for k, v in fab.items() if k.startswith("fabric_")
                        or k == "fmax_mhz"})
        runs.append(row)
    return runs, fab_rows


#: Fields of a record kept in results.json only.
CSV_SKIP = ("traceback", "notes", "overrides", "host", "pid")


def _write_csv(path, rows, first):
    keys = list(dict.fromkeys([*first, *(k for r in rows for k in r)]))
    keys = [k for k in keys if any(k in r for r in rows)]
    with open(path, "w", newline="") as f:
        keys = [k for k in keys if k not in CSV_SKIP]
        w = csv.DictWriter(f, keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (json.dumps(v) if isinstance(v, (dict, list)) else v)
                        for k, v in r.items() if k in keys})


def write_outputs(spec, out):
    """``results.json`` (every record), ``results.csv`` (a row per run point, joined with its
    fabric's area), ``results.md`` (the same as a Markdown table), ``fabrics.csv`` (a row per fabric, with area / Fmax) and the plots; returns
    the files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs, fabs = _rows(spec, out)
    files = []
    (out / "results.json").write_text(json.dumps(
        {"name": spec.name, "spec": spec.source, "base": spec.base, "swept": list(spec.swept),
         "metrics": list(spec.metrics), "runs": runs, "fabrics": fabs},
        indent=1, default=_json_default))
    files.append(out / "results.json")
    if runs:
        _write_csv(out / "results.csv", runs, (*spec.swept, *RUN_COLUMNS))
        files.append(out / "results.csv")
    if fabs:
        _write_csv(out / "fabrics.csv", fabs, (*spec.swept, "status"))
        files.append(out / "fabrics.csv")
    if runs:
        (out / "results.md").write_text(markdown(spec, runs))
        files.append(out / "results.md")
    files += plots(spec, runs, out)
    return files


#: The columns of ``results.md`` after the swept keys: (heading, field).
MD_COLUMNS = (("kernel", "kernel"), ("shape", "label"), ("dtype", "dtype"),
              ("mapping", "options"), ("status", "status"), ("cycles", "cycles"),
              ("ideal cycles", "ideal_cycles"), ("phases", "phases"),
              ("utilization", "utilization"), ("bit-exact", "bit_exact"),
              ("fabric LUT4-eq", "fabric_LUT4_eq"), ("fabric FF", "fabric_TRELLIS_FF"),
              ("Fmax MHz", "fmax_mhz"))


def markdown(spec, runs):
    """``results.md``: the run points as a Markdown table (the swept keys, then
    :data:`MD_COLUMNS` that have a value somewhere), sorted by kernel, shape and the keys."""
    cols = [(k, k) for k in spec.swept] + [c for c in MD_COLUMNS
                                           if any(r.get(c[1]) not in (None, "") for r in runs)]

    def cell(r, field):
        v = r.get(field)
        if field == "options":
            return "baseline" if (v or {}).get("baseline") else "default"
        if field == "utilization" and isinstance(v, float):
            return f"{v:.1%}"
        return "" if v is None else _plain(v)

    rows = sorted(runs, key=lambda r: (r.get("kernel", ""), _sort_key(r.get("label", "")),
                                       [_sort_key(_plain(r["overrides"].get(k)))
                                        for k in spec.swept]))
    lines = ["| " + " | ".join(h for h, _ in cols) + " |",
             "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r, f) for _, f in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def pareto_front(points):
    """The points ``(x, y, ...)`` no other point beats in both ``x`` and ``y`` (lower is
    better), sorted by ``x``."""
    front, best = [], None
    for p in sorted(points, key=lambda p: (p[0], p[1])):
        if best is None or p[1] < best:
            front.append(p)
            best = p[1]
    return front


def plots(spec, runs, out):
    """``pareto.png``/``.svg`` (per kernel and shape: fabric LUT4-equivalents vs cycles, every
    fabric a point labelled with its overrides, the Pareto front joined) when the area and the
    cycles were collected; ``utilization.png``/``.svg`` (utilization vs each swept key, a line
    per kernel and shape, the mean over the other keys). Returns the files written."""
    ok = [r for r in runs if r["status"] == "ok" and r.get("cycles")]
    files = []
    groups = {}
    for r in ok:
        groups.setdefault(f"{r['kernel']} {r['label']}", []).append(r)
    areas = {g: [r for r in rs if r.get("fabric_LUT4_eq")] for g, rs in groups.items()}
    areas = {g: rs for g, rs in areas.items() if rs}
    if areas:
        fig, axes = figure(len(areas), width=4.6, height=4.0)
        for ax, (g, rs) in zip(axes, areas.items()):
            pts = [(r["fabric_LUT4_eq"], r["cycles"], overrides_text(r["overrides"]))
                   for r in rs]
            front = pareto_front(pts)
            others = [p for p in pts if p not in front]
            ax.scatter([p[0] for p in others], [p[1] for p in others], s=18, color="0.55",
                       label="dominated")
            ax.plot([p[0] for p in front], [p[1] for p in front], "o-", color="C3",
                    label="Pareto front")
            for x, y, text in pts:
                ax.annotate(text, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points",
                            color="C3" if (x, y, text) in front else "0.4")
            ax.margins(0.15)
            ax.set_title(f"{g} {rs[0]['dtype']}", fontsize=9)
            ax.set_xlabel("fabric LUT4-equivalents (synth_ecp5)")
            ax.set_ylabel("cycles")
            ax.legend(fontsize=7)
        files += _save(fig, out / "pareto", FORMATS)
    keys = [k for k in spec.swept if len({_plain(r["overrides"].get(k)) for r in ok}) > 1]
    if ok and keys:
        fig, axes = figure(len(keys), width=4.2, height=3.6)
        for ax, k in zip(axes, keys):
            for g, rs in groups.items():
                by = {}
                for r in rs:
                    by.setdefault(_plain(r["overrides"].get(k)), []).append(r["utilization"])
                xs = sorted(by, key=_sort_key)
                ax.plot(xs, [sum(by[x]) / len(by[x]) for x in xs], "o-", label=g)
            ax.set_xlabel(k)
            ax.set_ylabel("utilization (mean over the other keys)")
            ax.set_ylim(bottom=0)
            ax.legend(fontsize=7)
        files += _save(fig, out / "utilization", FORMATS)
    return files


def _sort_key(x):
    try:
        return (0, float(x), "")
    except ValueError:
        return (1, 0.0, x)


def _save(fig, stem, formats):
    written = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, format=fmt, dpi=120)
        written.append(path)
    return written


# ---- the command line -------------------------------------------------------------------------

SWEEP_DOC = """``rdu sweep SPEC.yaml``: run every point of a design-space sweep (docs/sweeps.md) on
Dask — an embedded local cluster by default, --scheduler ADDRESS for a running one, --jobqueue
for a batch system — storing each result as it completes (a rerun computes only what is missing),
then write results.csv, results.json, fabrics.csv and the plots into --out. Exit status 0 = every
point ok, 1 = some point failed or was wrong, 2 = an error in the spec or the arguments, 3 = a
tool or the environment failed."""


def add_cluster_options(s):
    """``--workers``, ``--scheduler``, ``--jobqueue``, ``--jobs``, ``--jobqueue-option``."""
    g = s.add_mutually_exclusive_group()
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a running Dask scheduler (tcp://host:8786) instead of the embedded "
                        "cluster")
    g.add_argument("--jobqueue", default=None, choices=tuple(JOBQUEUES),
                   help="start the workers as batch jobs through dask-jobqueue")
    s.add_argument("--workers", type=positive, default=None, metavar="N",
                   help="worker processes of the embedded cluster (default: the spec's workers, "
                        "else one per core)")
    s.add_argument("--jobs", type=positive, default=None, metavar="N",
                   help="--jobqueue: batch jobs to submit (default: the spec's jobqueue.jobs, "
                        "else 1)")
    s.add_argument("--jobqueue-option", action="append", default=[], metavar="KEY=VALUE",
                   help="--jobqueue: a keyword argument of the cluster class (cores=8, "
                        "memory=16GB, queue=normal, walltime=01:00:00, ...); repeatable; "
                        "overrides the spec's jobqueue.options")


def positive(text):
    try:
        n = int(text, 0)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be an integer >= 1")
    return n


def jobqueue_options(pairs, section=None):
    """The dask-jobqueue keyword arguments: the spec's ``jobqueue.options`` updated with the
    ``--jobqueue-option KEY=VALUE`` pairs (values parsed as YAML scalars: 8, 16GB, true)."""
    opts = dict((section or {}).get("options") or {})
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep or not k.strip():
            raise ConfigError(f"--jobqueue-option {p!r}: must be KEY=VALUE, e.g. cores=8")
        opts[k.strip()] = yaml.safe_load(v) if v else ""
    return opts


def _system(args, section):
    system = args.jobqueue or (section.get("system") if section and not args.scheduler
                               else None)
    if args.jobqueue_option and not system:
        raise ConfigError("--jobqueue-option: needs --jobqueue (or jobqueue.system in the spec)")
    return system


def job_script(system, options):
    """The batch script dask-jobqueue would submit for ``system`` with ``options`` (what
    ``rdu sweep --jobqueue SYSTEM --dry-run`` prints); needs no batch system."""
    # deferred: only for batch systems
    import dask_jobqueue
    cls = getattr(dask_jobqueue, JOBQUEUES[system])
    try:
        with cls(**options) as c:
            return c.job_script()
    except (TypeError, ValueError) as e:
        raise ConfigError(f"jobqueue.options: {str(e).splitlines()[0]}") from None


def client_for(args, spec_workers=None, section=None):
    """The :func:`cluster` the command-line ``args`` ask for."""
    section = section or {}
    system = _system(args, section)
    return cluster(workers=args.workers or spec_workers, scheduler=args.scheduler,
                   jobqueue=system, jobqueue_options=jobqueue_options(args.jobqueue_option,
                                                                      section),
                   jobs=args.jobs or section.get("jobs", 1))


def cmd_sweep(args, prepare):
    spec = load_spec(args.spec, arith=getattr(args, "arith", None))
    out = Path(args.out or Path("build") / "sweep" / spec.name)
    if args.dry_run:
        for t in spec.tasks:
            stored = Store(out).has(t.key)
            print(f"{'stored ' if stored else 'to run '} {t.kind:6} {t.label}")
        print(f"{len(spec.tasks)} points ({spec.name})")
        system = _system(args, spec.jobqueue or {})
        if system:
            opts = jobqueue_options(args.jobqueue_option, spec.jobqueue)
            print(f"--- the {system} job script of each worker job ---")
            print(job_script(system, opts))
        return 0
    if args.report:
        store = Store(out)
        recs = [store.get(t.key) for t in spec.tasks]
        for f in write_outputs(spec, out):
            print(f"wrote {f}")
        missing = sum(r is None for r in recs)
        failed = sum(r is not None and r["status"] != "ok" for r in recs)
        print(f"sweep {spec.name}: {len(recs)} points: {len(recs) - missing} stored "
              f"({failed} failed), {missing} missing")
        return 1 if failed or missing else 0
    prepare(args)
    with client_for(args, spec.workers, spec.jobqueue) as client:
        summary = sweep(spec, out, client, retry_failed=args.retry_failed)
    return report(spec.name, summary)


def report(name, summary):
    """The summary line of a sweep on stdout; the exit status (0 all ok, 1 otherwise)."""
    print(f"sweep {name}: {summary['points']} points: {summary['stored_before']} stored "
          f"before, {summary['computed']} computed, {summary['failed']} failed"
          + (f", {summary['lost']} lost (rerun to retry)" if summary["lost"] else "")
          + f"; {summary['wall_s']} s on {summary['workers']} worker(s)")
    for f in summary["files"]:
        print(f"wrote {f}")
    return 1 if summary["failed"] or summary["lost"] else 0


def register(sub, add_build_options, prepare):
    """``rdu sweep`` on the ``rdu`` subcommands ``sub``; ``add_build_options``
    adds ``--threads``/``--arith``, ``prepare(args)`` checks the build environment (both from
    :mod:`scripts.cli`)."""
    s = sub.add_parser("sweep", help="run a design-space sweep on Dask (docs/sweeps.md)",
                       description=SWEEP_DOC)
    s.add_argument("spec", metavar="SPEC.yaml", help="the sweep spec")
    s.add_argument("--out", default=None, metavar="DIR",
                   help="results, tables and plots (default: build/sweep/<spec name>)")
    s.add_argument("--dry-run", action="store_true",
                   help="list the points (stored or to run), and with --jobqueue the job "
                        "script, and stop")
    s.add_argument("--report", action="store_true",
                   help="only write the tables and plots of the points stored so far")
    s.add_argument("--retry-failed", action="store_true",
                   help="also rerun the points stored as failed (default: only missing ones)")
    add_cluster_options(s)
    add_build_options(s)
    s.set_defaults(func=lambda a: cmd_sweep(a, prepare))
