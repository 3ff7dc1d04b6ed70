"""The project works installed from its wheel, not only from the checkout: presets, the Verilog it
ships and the caches are found from any working directory.

The wheel is built from a copy of the sources, without build isolation or network, installed
without dependencies into a fresh virtual environment whose ``.pth`` file makes the running
interpreter's site-packages (the dependencies) visible, and ``rdu`` runs from another folder.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tb import runner

ROOT = Path(__file__).resolve().parents[1]


def _can_build_wheels_offline():
    """setuptools builds wheels itself from 70.1 on; before, it needs the ``wheel`` package."""
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    major, minor = (int(x) for x in version.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def _run(cmd, cwd, env=None, timeout=300):
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout, check=False)
    assert r.returncode == 0, f"{cmd} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def _dependency_dirs():
    """The running interpreter's site-packages folders (those of its virtual environment and any
    that its ``.pth`` files add): where the project's dependencies are installed."""
    paths = sysconfig.get_paths()
    dirs = [paths["purelib"], paths["platlib"]]
    dirs += [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    out = []
    for d in dirs:
        if Path(d).is_dir() and d not in out:
            out.append(d)
    return out


def _copy_sources(dst):
    """pyproject.toml, README.md and every package (tests excluded) of the checkout."""
    dst.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, dst / name)
    for pkg in sorted(ROOT.iterdir()):
        if (pkg / "__init__.py").is_file() and pkg.name != "tests":
            shutil.copytree(pkg, dst / pkg.name, ignore=shutil.ignore_patterns("__pycache__"))


@pytest.mark.install
@pytest.mark.skipif(not _can_build_wheels_offline(),
                    reason="building a wheel offline needs setuptools >= 70.1 or the 'wheel' "
                           "package (pip install -e '.[dev]')")
def test_installed_wheel_runs_from_anywhere(tmp_path):
    _copy_sources(tmp_path / "src")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "-q", "-w", tmp_path / "dist", tmp_path / "src"], cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("rdugen-*.whl")

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    # pip of the running interpreter installs into the new environment; --ignore-installed so it
    # never looks at (or uninstalls) the development install visible from pip's own location.
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
          "--ignore-installed", "-q", wheel], cwd=tmp_path)
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=tmp_path).strip()
    # A plain path line: the folders' own .pth files (the editable install's finder) do not run.
    (Path(site) / "rdugen_test_dependencies.pth").write_text("\n".join(_dependency_dirs()) + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "RDU_CACHE")}
    env["COLUMNS"] = "200"

    probe = ("import json, configs, hw, hw.backdoor, tb.runner, tiles.pcu_simfu as sf\n"
             "from hw.params import configs_dir\n"
             "print(json.dumps({'hw': hw.__file__, 'configs': str(configs_dir()),\n"
             "                  'verilog': str(hw.backdoor.VERILOG_SOURCE),\n"
             "                  'sim_sv': str(sf.SV_SOURCE), 'sim_cpp': str(sf.CPP_SOURCE),\n"
             "                  'checkout': tb.runner.source_checkout() is not None,\n"
             "                  'cache': str(tb.runner.cache_dir())}))\n")
    found = json.loads(_run([python, "-c", probe], cwd=elsewhere,
                            env={**env, "XDG_CACHE_HOME": str(tmp_path / "xdg")}))
    venv_root = env_dir.resolve()
    for key in ("hw", "configs", "verilog", "sim_sv", "sim_cpp"):
        assert Path(found[key]).resolve().is_relative_to(venv_root), (key, found[key])
    assert (Path(found["configs"]) / "memory" / "hbm3.yaml").is_file()
    for key in ("verilog", "sim_sv", "sim_cpp"):    # shipped as package data
        assert Path(found[key]).is_file(), key
    assert not found["checkout"]
    assert found["cache"] == str(tmp_path / "xdg" / "rdugen")

    rdu = env_dir / "bin" / "rdu"
    out = _run([rdu, "params", "small"], cwd=elsewhere, env=env)
    assert "small" in out and "pcu.lanes" in out and "memory.hbm" in out

    _run([rdu, "gen", "tiny", "--unit", "pcu", "-o", "out"], cwd=elsewhere, env=env)
    written = list((elsewhere / "out").glob("*.v"))
    assert len(written) == 1 and "endmodule" in written[0].read_text()


def test_cache_dir_choices(monkeypatch, tmp_path):
    """RDU_CACHE, else the checkout's .cache, else the user's cache folder."""
    monkeypatch.setenv("RDU_CACHE", str(tmp_path / "mine"))
    assert runner.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("RDU_CACHE")
    assert runner.source_checkout() == ROOT
    assert runner.cache_dir() == ROOT / ".cache"
    monkeypatch.setattr(runner, "source_checkout", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert runner.cache_dir() == tmp_path / "xdg" / "rdugen"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert runner.cache_dir() == Path.home() / ".cache" / "rdugen"
