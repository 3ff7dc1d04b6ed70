"""Progress lines of long steps (:mod:`tb.progress`): the start line names the build log, the
live display counts C++ files from Verilator's makefiles, and quiet means quiet."""

from __future__ import annotations

import time

from tb import progress

CLASSES = """\
VM_PARALLEL_BUILDS = {parallel}
VM_CLASSES_FAST += \\
  Vtop \\
  Vtop___024root__0 \\

VM_CLASSES_SLOW += \\
  Vtop___024root__Slow \\

VM_SUPPORT_FAST += \\
  Vtop__Dpi \\

VM_SUPPORT_SLOW += \\
  Vtop__Syms__Slow \\

VM_GLOBAL_FAST += \\
  verilated \\
  verilated_vpi \\

VM_GLOBAL_SLOW += \\

"""
TOP = "VM_USER_CLASSES = \\\n  verilator \\\n\n"


def _build_dir(tmp_path, parallel):
    (tmp_path / "Vtop_classes.mk").write_text(CLASSES.format(parallel=parallel))
    (tmp_path / "Vtop.mk").write_text(TOP)
    return tmp_path


def test_cxx_units_from_the_makefiles(tmp_path):
    assert progress.cxx_units(tmp_path) is None          # not verilated yet
    assert progress.cxx_units(_build_dir(tmp_path, 1)) == 5 + 2 + 1
    assert progress.cxx_units(_build_dir(tmp_path, 0)) == 1 + 2 + 1   # one __ALL file


def test_start_lines_name_the_log_and_quiet_drops_them(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RDU_QUIET", raising=False)
    with progress.watch_build(tmp_path, "rdu_x", tmp_path / "build.log"):
        pass
    with progress.step("rdu_x: generating Verilog"):
        pass
    err = capsys.readouterr().err.splitlines()
    assert err == [f"[rdu] rdu_x: building the Verilator model (log: {tmp_path / 'build.log'})",
                   "[rdu] rdu_x: generating Verilog"]
    monkeypatch.setenv("RDU_QUIET", "1")
    with progress.watch_build(tmp_path, "rdu_x", tmp_path / "build.log"):
        pass
    progress.say("anything")
    assert capsys.readouterr().err == ""


def test_live_display_follows_the_object_files(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "_live", lambda: True)
    monkeypatch.setattr(progress, "POLL_S", 0.01)
    seen = []
    real = progress.cxx_units
    monkeypatch.setattr(progress, "cxx_units", lambda d: seen.append(len(list(d.glob("*.o"))))
                        or real(d))
    with progress.watch_build(tmp_path, "rdu_x", tmp_path / "build.log"):
        _build_dir(tmp_path, 1)
        for i in range(3):
            (tmp_path / f"f{i}.o").write_text("")
            time.sleep(0.05)
    assert seen and max(seen) == 3


def test_simulation_progress_reads_the_clock_file(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "_live", lambda: True)
    monkeypatch.setattr(progress, "POLL_S", 0.01)
    env = {}
    with progress.watch_sim("rdu_x", env, tmp_path):
        path = env["RDU_PROGRESS_FILE"]
        for cycles in (5000, 10000):
            with open(path, "w") as f:
                f.write(f"{cycles} {time.monotonic()}\n")
            time.sleep(0.05)
    assert path.endswith("progress")
    monkeypatch.setattr(progress, "_live", lambda: False)
    env = {}
    with progress.watch_sim("rdu_x", env, tmp_path):
        pass
    assert env == {}        # no progress file asked for: the testbench never wakes for it


def test_counter_counts_and_draws_only_when_live(monkeypatch, capsys):
    """``counter`` (sweeps: points done / total, failures): a live bar only on a terminal."""
    monkeypatch.setattr(progress, "_live", lambda: False)
    with progress.counter("sweep: 3 points", 3) as c:
        c.advance()
        c.advance(failed=True)
    assert (c.done, c.failed) == (2, 1) and capsys.readouterr().err == ""
    monkeypatch.setattr(progress, "_live", lambda: True)
    with progress.counter("sweep: 3 points", 3) as c:
        for failed in (False, True, True):
            c.advance(failed=failed)
    assert (c.done, c.failed) == (3, 2)
