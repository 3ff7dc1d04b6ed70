"""Waves: kept where promised (``--out``, ``build/waves``, ``RDU_WAVES_DIR``), limited to a window
of cycles, named when a simulation fails; ``--waves-window`` errors are one line, exit 2."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from compiler.job import JobResult
from compiler.requests import KernelRequest
from hw.params import load
from hw.smoke import MacParams, MacPipeline
from scripts.cli import main as rdu
from tb import freerun, run, runner
from tb.harness import StreamHarness
from tb.stream import pack_lanes

#: A small kernel that compiles for the 'tiny' configuration in a second.
RUN = ["run", "scan", "--n", "8", "--dtype", "int32", "--baseline", "--config", "tiny"]


@pytest.mark.parametrize("text, window", [("0:1", (0, 1)), ("100:2000", (100, 2000)),
                                          (" 7 : 9 ", (7, 9))])
def test_waves_window_parses(text, window):
    assert runner.parse_waves_window(text) == window


@pytest.mark.parametrize("bad", ["5:3", "3:3", "x", "5", "-1:4", "1:2:3", ""])
def test_bad_waves_window_is_one_line_exit_2(bad, capsys):
    with pytest.raises(ValueError):
        runner.parse_waves_window(bad)
    # rejected before the configuration is loaded or anything is compiled or simulated
    assert rdu(RUN + [f"--waves-window={bad}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rdu: error: --waves-window"), err


def test_waves_file_goes_to_out_or_build_waves(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RDU_WAVES_DIR", raising=False)
    req = KernelRequest.make("scan", None, n=8)
    params = load("tiny")
    ext = runner.waves_format()
    assert run.waves_file(req, params, "res") == tmp_path / "res" / f"waves.{ext}"
    assert run.waves_file(req, params) == \
        tmp_path / "build" / "waves" / f"scan-8-{params.name}.{ext}"
    monkeypatch.setenv("RDU_WAVES_DIR", str(tmp_path / "w"))
    assert run.waves_file(req, params) == tmp_path / "w" / f"scan-8-{params.name}.{ext}"
    assert runner.default_waves_path("top", "cocotb_x") == tmp_path / "w" / f"top-cocotb_x.{ext}"


def test_keep_waves_moves_and_replaces(tmp_path):
    src = tmp_path / "sim" / "dump.vcd"
    src.parent.mkdir()
    src.write_text("new")
    dest = tmp_path / "a" / "b" / "w.vcd"
    dest.parent.mkdir(parents=True)
    dest.write_text("old")
    assert runner.keep_waves(src, dest) == dest
    assert dest.read_text() == "new" and not src.exists()
    assert runner.keep_waves(src, dest) is None        # the simulation wrote no wave file
    assert re.fullmatch(r".*w\.vcd \(3 B\)", runner.describe_file(dest))


class _FakeExecutor:
    """Stands in for the System's Verilator model: writes a 'wave file' where it is told to and
    returns zero outputs (so the run is reported as a wrong result, exit status 1)."""

    def __init__(self):
        self.calls = []

    def run(self, job, seed=None, waves=False, waves_path=None, waves_window=None):
        self.calls.append((waves, waves_path, waves_window))
        if waves:
            Path(waves_path).parent.mkdir(parents=True, exist_ok=True)
            Path(waves_path).write_text("$enddefinitions $end\n")
        outputs = {name: np.zeros(shape, dtype) for name, (_, shape, dtype) in job.outputs.items()}
        n = len(job.phases)
        return JobResult(outputs, n, [1] * n, [{} for _ in range(n)], 0, 0.0, seed)


@pytest.mark.parametrize("out", [True, False], ids=["out", "default"])
def test_rdu_run_waves_path(out, tmp_path, monkeypatch, capsys):
    """``rdu run --waves [--out DIR]`` asks for the promised path, prints it, records it."""
    fake = _FakeExecutor()
    monkeypatch.setattr(run, "_executor", lambda params: fake)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RDU_WAVES_DIR", raising=False)
    monkeypatch.delenv("RDU_WAVES", raising=False)
    rdu(RUN + ["--waves", "--waves-window", "3:9"] + (["--out", "res"] if out else []))
    (waves, path, window), = fake.calls
    ext = runner.waves_format()
    expect = tmp_path / "res" / f"waves.{ext}" if out else \
        tmp_path / "build" / "waves" / f"scan-8-{load('tiny').name}.{ext}"
    assert waves and window == (3, 9) and path == expect and path.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"rdu run: waves: {path} (21 B)"


def test_rdu_run_without_waves_asks_for_none(tmp_path, monkeypatch, capsys):
    fake = _FakeExecutor()
    monkeypatch.setattr(run, "_executor", lambda params: fake)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RDU_WAVES", raising=False)
    rdu(RUN)
    assert fake.calls == [(False, None, None)]
    assert "waves" not in capsys.readouterr().err


# ---- a small traced simulation (the smoke MAC pipeline in a free-running harness) ----------

def _mac_run(timeout_cycles=None):
    h = StreamHarness(MacPipeline(MacParams(lanes=1)), 64, 16, passthrough=("acc_len",))
    design = freerun.design_for(h, "mac_waves")
    return freerun.run(design, h, [pack_lanes([1, 2], 16)] * 40, 8, seed=1,
                       passthrough={"acc_len": 5}, timeout_cycles=timeout_cycles)


def _times(path):
    return [int(ln[1:]) for ln in Path(path).read_text().splitlines() if ln.startswith("#")]


@pytest.mark.verilator
def test_rdu_waves_keeps_a_windowed_wave_file(tmp_path, monkeypatch, capsys):
    """``RDU_WAVES=1`` (any entry point) keeps the waves in ``RDU_WAVES_DIR`` and prints the path;
    ``RDU_WAVES_WINDOW`` limits the dump to those cycles."""
    monkeypatch.setenv("RDU_WAVES", "1")
    monkeypatch.setenv("RDU_WAVES_DIR", str(tmp_path))
    ext = runner.waves_format()
    kept = tmp_path / f"mac_waves-cocotb_freerun.{ext}"

    _mac_run()
    assert kept.exists() and kept.stat().st_size > 0
    assert f"[rdu] mac_waves: waves: {kept} (" in capsys.readouterr().err
    if ext != "vcd":
        return                                   # FST is binary: the window is checked on VCD
    full = _times(kept)
    period = runner.CLOCK_PERIOD_PS
    assert full[0] == 0 and full[-1] > 20 * period

    monkeypatch.setenv("RDU_WAVES_WINDOW", "10:20")
    _mac_run()                                   # same traced build, cached
    win = _times(kept)
    assert win[0] == 10 * period and win[-1] < 20 * period
    assert set(win) == {t for t in full if 10 * period <= t < 20 * period}
    # the first dump of the window is a full one: every signal has a value
    text = kept.read_text()
    first = text.split(f"#{10 * period}\n", 1)[1].split("\n#", 1)[0]
    n_vars = len(re.findall(r"^\$var ", text, re.MULTILINE))
    assert len(first.splitlines()) >= n_vars


@pytest.mark.verilator
def test_failing_simulation_names_its_waves(tmp_path, monkeypatch):
    monkeypatch.setenv("RDU_WAVES", "1")
    monkeypatch.setenv("RDU_WAVES_DIR", str(tmp_path))
    monkeypatch.setenv("RDU_WAVES_WINDOW", "0:30")
    with pytest.raises(runner.SimulationFailed) as e:
        _mac_run(timeout_cycles=20)              # the cocotb watchdog fails the test
    kept = tmp_path / f"mac_waves-cocotb_freerun.{runner.waves_format()}"
    assert f"waves {kept}" in str(e.value) and kept.exists()


def test_the_traced_main_is_cocotbs_with_the_window():
    text = runner.trace_main()
    assert '"--trace-from-ps"' in text and "main_time >= traceFrom" in text
    assert "Copyright cocotb contributors" in text     # cocotb's file, edited, not a copy


def test_a_changed_cocotb_main_is_a_tool_error(monkeypatch, tmp_path):
    other = tmp_path / "verilator.cpp"
    other.write_text("int main() { return 0; }\n")
    monkeypatch.setattr(runner, "_COCOTB_MAIN", str(other))
    with pytest.raises(runner.ToolError, match="has changed; the wave window cannot be added"):
        runner.trace_main()
