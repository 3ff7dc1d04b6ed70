"""``rdu sweep`` and ``rdu regress`` on real Dask clusters.

* spec errors: one line naming the spec file and the key, exit status 2, before any cluster starts;
* an embedded ``LocalCluster`` of 2 worker processes running compile-only (``metrics:
  [mapping]``) points, interrupted and resumed: nothing is computed twice;
* a worker process killed mid-sweep: every point is still delivered, once;
* a scheduler and two workers started as separate ``dask`` processes, reached by
  ``--scheduler`` from ``rdu sweep`` and ``rdu regress``;
* real RTL points (the ``small`` System the end-to-end tests build, so its cached build is shared)
  on the embedded cluster and through the scheduler.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from fpga.build import ecp5_area
from scripts import cli, regress, sweep
from tb import runner

ROOT = Path(__file__).resolve().parents[2]

#: Compile-only points: fast (no Verilator), on two fabrics.
MAPPING_SPEC = {
    "name": "mapping",
    "base": "small",
    "grid": {"lanes": [4, 8]},
    "kernels": [{"kernel": "scan", "n": [8, 100]}, {"kernel": "fft", "n": 16},
                {"kernel": "gemm", "M": 8, "N": 8, "K": 8}],
    "metrics": ["mapping"],
}


def write(tmp_path, data, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def rdu(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err.strip()


# ---- spec validation ----------------------------------------------------------------------------

BAD = [
    ({"grdi": {"lanes": [4]}}, "spec.yaml: grdi: unknown key (did you mean 'grid'?)"),
    ({"grid": {"lanes": [4, 3]}}, "spec.yaml: grid: lanes = 3: must be a power of two in 2..32"),
    ({"grid": {"pcu.stagez": [4]}}, ("spec.yaml: grid: pcu.stagez: unknown key (did you mean "
                                    "'stages'?)")),
    ({"grid": {"lanes.x": [4]}}, "spec.yaml: grid: lanes.x: lanes is a value, not a section"),
    ({"points": [{"pcu.scan": "yes"}]}, ("spec.yaml: points[0]: pcu.scan = 'yes': must be true "
                                        "or false")),
    ({"grid": {"lanes": []}}, "spec.yaml: grid.lanes: empty list"),
    ({"kernels": [{"kernel": "fft", "n": 100}]}, ("spec.yaml: kernels[0]: fft: n = 100: must be a "
                                                 "power of two")),
    ({"kernels": [{"kernel": "fftt", "n": 8}]}, ("spec.yaml: kernels[0].kernel: 'fftt': unknown "
                                                "kernel (did you mean 'fft'?)")),
    ({"kernels": [{"kernel": "fft", "m": 8}]}, "spec.yaml: kernels[0].m: unknown key"),
    ({"metrics": ["cycles", "lut"]}, "spec.yaml: metrics: 'lut': unknown metric"),
    ({"base": "huge"}, "spec.yaml: base: config 'huge': no such preset or file"),
    ({"seeds": [1, -2]}, "spec.yaml: seeds: -2: must be an integer >= 0"),
    ({"jobqueue": {"system": "condor"}}, "spec.yaml: jobqueue.system: 'condor': allowed: slurm"),
    ({"area_lut_mapping": "abc10"}, "spec.yaml: area_lut_mapping: 'abc10': must be abc9 or abc"),
]


@pytest.mark.parametrize("bad, message", BAD, ids=[m.split(": ")[1] for _, m in BAD])
def test_bad_spec_is_one_line_naming_the_key(bad, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = {"base": "small", "kernels": [{"kernel": "scan", "n": 8}], "metrics": ["mapping"],
            **bad}
    write(tmp_path, data)
    code, _, err = rdu(capsys, "sweep", "spec.yaml", "--dry-run")
    assert code == 2
    assert "\n" not in err and err.startswith(f"rdu: error: {message}"), err


@pytest.mark.parametrize("argv, message", [
    (["--kernels", "fft,fftt"], "--kernels 'fftt': unknown kernel; allowed: gemm"),
    (["--base", "huge"], "config 'huge': no such preset or file"),
    (["--jobqueue-option", "cores=1"], "--jobqueue-option: needs --jobqueue"),
])
def test_bad_regress_arguments_are_one_line_exit_2(argv, message, capsys):
    code, _, err = rdu(capsys, "regress", "--size", "ci", *argv)
    assert code == 2 and "\n" not in err and err.startswith(f"rdu: error: {message}"), err


def test_overrides_expand_preset_sections_and_dotted_keys():
    base = {"name": "b", "lanes": 4, "pcu": {"stages": 4}, "memory": {"hbm": "tiny"}}
    out = sweep.apply_overrides(base, {"pcu.stages": 6, "memory.hbm.channels": 2, "lanes": 8},
                                "here")
    assert out["pcu"] == {"stages": 6} and out["lanes"] == 8
    assert out["memory"]["hbm"]["channels"] == 2 and len(out["memory"]["hbm"]) > 1
    assert base["pcu"] == {"stages": 4} and base["memory"]["hbm"] == "tiny"   # a copy


def test_grid_times_points_and_keys_follow_the_code(tmp_path):
    data = {"base": "small", "grid": {"lanes": [4, 8]},
            "points": [{"pcu.scan": True}, {"pcu.scan": False}],
            "kernels": [{"kernel": "scan", "n": 8, "baseline": "auto"}], "metrics": ["mapping"]}
    spec = sweep.parse_spec(data, "s.yaml", tmp_path, code="a")
    assert len(spec.tasks) == 4 and spec.swept == ("lanes", "pcu.scan")
    auto = {t.overrides["pcu.scan"]: t.options for t in spec.tasks}
    assert auto == {True: {}, False: {"baseline": True}}
    other = sweep.parse_spec(data, "s.yaml", tmp_path, code="b")
    assert not {t.key for t in spec.tasks} & {t.key for t in other.tasks}
    area = sweep.parse_spec({**data, "metrics": ["area"]}, "s.yaml", tmp_path, code="a")
    # a PCU-only change (pcu.scan) shares the PMU's and the switch's synthesis
    assert sorted(t.options["unit"] for t in area.tasks) == ["pcu"] * 4 + ["pmu"] * 2 + \
        ["switch"] * 2
    abc = sweep.parse_spec({**data, "metrics": ["area"], "area_lut_mapping": "abc"}, "s.yaml",
                           tmp_path, code="a")
    assert {t.options["lut_mapping"] for t in abc.tasks} == {"abc"}
    assert not {t.key for t in abc.tasks} & {t.key for t in area.tasks}


def test_the_documented_spec_is_valid(tmp_path):
    text = (ROOT / "docs" / "sweeps.md").read_text()
    block = text.split("## The spec", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    spec = sweep.parse_spec(yaml.safe_load(block), "example.yaml", tmp_path, code="x")
    runs = [t for t in spec.tasks if t.kind == "run"]
    assert len(runs) == 8 * 5 * 2 and len(spec.units) == 8
    assert spec.jobqueue["system"] == "slurm" and spec.workers == 2


def test_fabric_rows_sum_units_over_the_grid_and_name_the_lut_mapper(tmp_path):
    """The join of the area records (their numbers here are stand-ins: a synthesis takes
    minutes): each unit kind's cells times its count on the grid, per fabric."""
    data = {"base": "small", "grid": {"pcu.scan": [True, False]}, "metrics": ["area"]}
    spec = sweep.parse_spec(data, "s.yaml", tmp_path, code="a")
    store = sweep.Store(tmp_path)
    cells = {"pcu": 100, "pmu": 10, "switch": 1}
    for t in spec.tasks:
        unit = t.options["unit"]
        extra = 5 if unit == "pcu" and t.overrides["pcu.scan"] else 0
        store.put({"key": t.key, "kind": "unit", "status": "ok", "unit": unit,
                   "overrides": t.overrides, "LUT4_eq": cells[unit] + extra, "TRELLIS_FF": 1,
                   "lut_mapping": "abc9" if extra else "abc -lut 4 (yosys abc9 assertion)"})
    _, fabrics = sweep._rows(spec, tmp_path)
    on, off = sorted(fabrics, key=lambda r: not r["pcu.scan"])
    counts = on["pcu_count"], on["pmu_count"], on["switch_count"]
    assert counts[:2] == (2, 2) and counts[2] >= 4
    assert off["fabric_LUT4_eq"] == 2 * 100 + 2 * 10 + counts[2] * 1
    assert on["fabric_LUT4_eq"] - off["fabric_LUT4_eq"] == 2 * 5
    assert on["pcu_lut_mapping"] == "abc9" and off["pcu_lut_mapping"].startswith("abc -lut 4")
    sweep.write_outputs(spec, tmp_path)
    assert "pcu_lut_mapping" in (tmp_path / "fabrics.csv").read_text().splitlines()[0]


def test_area_with_abc_lut_mapping_on_request():
    """``area_lut_mapping: abc``: the LUTs of every unit mapped by ``abc -lut 4`` from the
    start (yosys on a small design: seconds)."""
    class Counter(wiring.Component):
        def __init__(self):
            super().__init__({"out": Out(12)})

        def elaborate(self, platform):
            m = Module()
            m.d.sync += self.out.eq(self.out + 3)
            return m

    abc = ecp5_area(Counter(), "sweep_counter", lut_mapping="abc")
    assert abc["lut_mapping"] == "abc -lut 4 (asked for)" and abc["LUT4_eq"] > 0
    assert abc["TRELLIS_FF"] == 12


def test_rows_show_this_specs_overrides_for_results_another_spec_stored(tmp_path):
    """A result is keyed by its fabric, not by the overrides that reached it: a sweep that adds
    a grid key reuses the stored points, shown with its own keys."""
    one = {"base": "small", "grid": {"pcu.scan": [True]}, "kernels": [{"kernel": "scan", "n": 8}],
           "metrics": ["mapping"]}
    two = {**one, "grid": {"lanes": [4], "pcu.scan": [True]}}
    a = sweep.parse_spec(one, "a.yaml", tmp_path, code="c")
    b = sweep.parse_spec(two, "b.yaml", tmp_path, code="c")
    assert [t.key for t in a.tasks] == [t.key for t in b.tasks]      # lanes 4 is small's own
    t = a.tasks[0]
    sweep.Store(tmp_path).put({"key": t.key, "kind": "map", "status": "ok", "kernel": "scan",
                               "label": "8", "overrides": t.overrides})
    (row,), _ = sweep._rows(b, tmp_path)
    assert row["overrides"] == {"lanes": 4, "pcu.scan": True} and row["lanes"] == 4


def test_pareto_front():
    pts = [(10, 5, "a"), (8, 9, "b"), (12, 4, "c"), (11, 6, "d"), (8, 10, "e")]
    assert sweep.pareto_front(pts) == [(8, 9, "b"), (10, 5, "a"), (12, 4, "c")]


# ---- the embedded cluster -----------------------------------------------------------------------

class Interrupt(Exception):
    pass


def test_local_cluster_interrupted_then_resumed_computes_nothing_twice(tmp_path):
    spec = sweep.parse_spec(MAPPING_SPEC, "mapping.yaml", tmp_path)
    total = len(spec.tasks)
    first = []

    def stop_after_three(rec, done, n):
        first.append(rec["key"])
        if done == 3:
            raise Interrupt

    with sweep.cluster(workers=2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        with pytest.raises(Interrupt):
            sweep.sweep(spec, tmp_path, client, on_result=stop_after_three, say=lambda s: None)
        assert sweep.Store(tmp_path).folder.is_dir()
        again = sweep.sweep(spec, tmp_path, client, say=lambda s: None)
    assert len(first) == 3 and again["stored_before"] == 3
    assert again["computed"] == total - 3 and again["failed"] == 0
    recs = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert sorted(r["key"] for r in recs) == sorted(t.key for t in spec.tasks)
    text = (tmp_path / "results.csv").read_text().splitlines()
    assert text[0].startswith("lanes,status,kernel,label") and len(text) == total + 1
    # a point that does not map is stored as failed, kept by a rerun, redone on request
    bad = sweep.parse_spec({"base": "small", "points": [{"pcu.scan": False}],
                            "kernels": [{"kernel": "scan", "n": 8}], "metrics": ["mapping"]},
                           "bad.yaml")
    said = []
    with sweep.cluster(workers=1) as client:
        done = sweep.sweep(spec, tmp_path, client, say=lambda s: None)
        first = sweep.sweep(bad, tmp_path / "bad", client, say=said.append)
        rerun = sweep.sweep(bad, tmp_path / "bad", client, say=lambda s: None)
        retry = sweep.sweep(bad, tmp_path / "bad", client, say=lambda s: None, retry_failed=True)
    assert done["computed"] == 0 and done["stored_before"] == total
    assert (first["computed"], first["failed"]) == (1, 1)
    assert said[-1].startswith("error: scan 8 fp32 seed 0 on pcu.scan=false: MappingError: scan: "
                               "the scan mapping needs the scan extension"), said
    assert (rerun["computed"], rerun["failed"], retry["computed"]) == (0, 1, 1)
    (row,) = json.loads((tmp_path / "bad" / "results.json").read_text())["runs"]
    assert row["status"] == "error" and row["error_class"] == "MappingError"


def test_worker_killed_mid_sweep_every_point_delivered_once(tmp_path):
    spec = sweep.parse_spec(MAPPING_SPEC, "mapping.yaml", tmp_path)
    seen, killed = [], []

    def kill_a_worker(rec, done, n):
        seen.append(rec["key"])
        if not killed:
            # the process that delivered the first point is busy with the next one by now
            killed.append(rec["pid"])
            os.kill(rec["pid"], signal.SIGKILL)

    with sweep.cluster(workers=2) as client:
        summary = sweep.sweep(spec, tmp_path, client, on_result=kill_a_worker,
                              say=lambda s: None)
    assert killed and summary["lost"] == 0 and summary["failed"] == 0
    assert sorted(seen) == sorted(t.key for t in spec.tasks)     # all, and each once
    pids = {r["pid"] for r in json.loads((tmp_path / "results.json").read_text())["runs"]}
    assert len(pids) >= 2


@pytest.mark.verilator
def test_rtl_point_and_regress_on_the_embedded_cluster(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = {"base": "small", "kernels": [{"kernel": "scan", "n": 8, "dtype": "int32"}],
            "metrics": ["cycles", "utilization", "bit_exact", "sim_speed"]}
    code, out, err = rdu(capsys, "-q", "sweep", write(tmp_path, data), "--workers", "1",
                         "--out", "res")
    assert code == 0, err
    assert "1 points: 0 stored before, 1 computed, 0 failed" in out
    (row,) = json.loads((tmp_path / "res" / "results.json").read_text())["runs"]
    assert row["status"] == "ok" and row["bit_exact"] and row["cycles"] > 0
    assert 0 < row["utilization"] <= 1 and row["sim_cycles_per_s"] > 0
    code, out, err = rdu(capsys, "-q", "regress", "--size", "ci", "--runs", "2", "--seed", "5",
                         "--kernels", "scan,linear_scan", "--workers", "1", "--out", "reg")
    assert code == 0, out + err
    assert "regress seed 5: 2 runs on 1 configuration(s): 2 passed" in out
    # the replay command of a run reproduces it exactly (same inputs, seed, cycles)
    rec = next(r for r in (json.loads(p.read_text()) for p in
                           (tmp_path / "reg" / "results").glob("*.json")))
    cmd = regress.replay_command(rec, "small", "behavioural")
    code, out, err = rdu(capsys, "-q", *shlex.split(cmd)[1:], "--json")
    assert code == 0, err
    assert json.loads(out)["cycles"] == rec["cycles"] and json.loads(out)["seed"] == rec["seed"]


# ---- a scheduler and workers as separate processes ----------------------------------------------

@pytest.fixture
def scheduler(tmp_path):
    """``dask scheduler`` and two ``dask worker`` processes on localhost; yields the address."""
    tmp = tmp_path / "dask"
    tmp.mkdir()
    info = tmp / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED":
           "error"}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", "0",
                               "--dashboard-address", ":0", "--scheduler-file", str(info)],
                              cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        for _ in range(300):
            if info.exists() and info.read_text().strip():
                break
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--nworkers", "1", "--no-dashboard"], cwd=tmp, env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client
        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for p in reversed(procs):     # the workers first: they close without a scheduler wait
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.mark.verilator
def test_sweep_and_regress_through_a_scheduler_address(scheduler, tmp_path, capsys,
                                                       monkeypatch):
    """One test, so that one scheduler serves both (tests may run in different processes)."""
    monkeypatch.chdir(tmp_path)
    spec = write(tmp_path, MAPPING_SPEC)
    code, out, err = rdu(capsys, "-q", "sweep", spec, "--scheduler", scheduler, "--out", "res")
    n = len(sweep.load_spec(spec).tasks)
    assert code == 0, err
    assert f"{n} points: 0 stored before, {n} computed, 0 failed" in out
    assert "on 2 worker(s)" in out
    recs = json.loads((tmp_path / "res" / "results.json").read_text())["runs"]
    assert {r["pid"] for r in recs}.isdisjoint({os.getpid()})     # computed by the workers
    # the stored points, listed and reported without a cluster
    code, out, _ = rdu(capsys, "sweep", spec, "--out", "res", "--dry-run")
    assert code == 0 and out.count("stored  map") == n and "to run" not in out
    (tmp_path / "res" / "results.md").unlink()
    code, out, _ = rdu(capsys, "sweep", spec, "--out", "res", "--report")
    assert code == 0 and f"{n} points: {n} stored (0 failed), 0 missing" in out
    table = (tmp_path / "res" / "results.md").read_text().splitlines()
    assert table[0].startswith("| lanes | kernel | shape |") and len(table) == n + 2

    code, out, err = rdu(capsys, "-q", "regress", "--size", "ci", "--runs", "2", "--seed", "11",
                         "--kernels", "scan,fft", "--scheduler", scheduler, "--out", "reg")
    assert code == 0, out + err
    assert "regress seed 11: 2 runs on 1 configuration(s): 2 passed" in out
    summary = json.loads((tmp_path / "reg" / "regress.json").read_text())
    assert summary["failed"] == 0 and summary["config_files"] == ["small"]


def test_unreachable_scheduler_is_a_tool_error_naming_the_flag():
    with pytest.raises(runner.ToolError) as e, \
            sweep.cluster(scheduler="tcp://127.0.0.1:9", connect_timeout=2):
        pass
    assert "\n" not in str(e.value)
    assert str(e.value).startswith("--scheduler tcp://127.0.0.1:9: cannot reach the Dask "
                                   "scheduler"), str(e.value)


def _documented_jobqueue_commands():
    """The ``rdu sweep ... --jobqueue SYSTEM ...`` examples of docs/sweeps.md, as argv lists."""
    text = (ROOT / "docs" / "sweeps.md").read_text().replace("\\\n", " ")
    return [shlex.split(m.group(1)) for m in re.finditer(r"\$ rdu (sweep \S+ --jobqueue .*)", text)]


@pytest.mark.parametrize("argv", _documented_jobqueue_commands(), ids=lambda a: a[3])
def test_documented_jobqueue_examples_make_job_scripts(argv, tmp_path, capsys, monkeypatch):
    """Each documented batch-system example, as ``--dry-run``: dask-jobqueue accepts its options
    and prints the job script (no batch system needed)."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, MAPPING_SPEC, argv[1])
    code, out, err = rdu(capsys, *argv, "--dry-run")
    assert code == 0, err
    directive = {"slurm": "#SBATCH", "lsf": "#BSUB", "pbs": "#PBS", "sge": "#$"}[argv[3]]
    script = out.split("job script of each worker job ---", 1)[1]
    assert f"{directive} " in script and "distributed.cli.dask_worker" in script
    assert "--nthreads 1" in script


def test_documented_examples_cover_every_batch_system():
    assert sorted(a[3] for a in _documented_jobqueue_commands()) == sorted(sweep.JOBQUEUES)


# ---- regressions: draws and replay ------------------------------------------------------------

def test_regress_draws_are_reproducible_valid_and_replayable(tmp_path):
    _, _, base = sweep.base_config("small", tmp_path)
    configs, draws = regress.draw(7, 200, 4, base)
    assert (configs, draws) == regress.draw(7, 200, 4, base)
    assert configs[0] == {} and len(configs) == 4
    fabrics = [sweep.fabric_of(base, o, "t").to_dict() for o in configs]
    assert all(a != b for i, a in enumerate(fabrics) for b in fabrics[i + 1:])
    from compiler.requests import KernelRequest
    for ci, k, shape, dtype, baseline, seed in draws:
        KernelRequest.make(k, dtype, **shape)         # within the kernel's limits
        assert 0 <= ci < 4 and seed >= 0
    assert len({d[1] for d in draws}) == len(regress.SHAPES)
    path = regress._config_file(tmp_path, "small", base, configs[1])
    from hw.params import load
    assert load(path).name == "small"
    rec = {"kernel": "scan", "shape": {"n": 37}, "dtype": "int32", "seed": 9,
           "options": {"baseline": True}}
    assert regress.replay_command(rec, path, "behavioural") == \
        f"rdu run scan --n 37 --dtype int32 --seed 9 --config {path} --arith behavioural " \
        f"--baseline"
