"""The key of cached Verilog (:func:`tb.runner.generator_digest`) covers exactly the code that
generates the design's RTL: for the chip top (:class:`memory.chip.System`, cached by
:class:`tb.executor.SimExecutor`), edits of the CLI, benchmarks, compiler, testbench or FPGA flow
keep the cached Verilog, edits of its generators replace it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from memory.chip import System
from tb import runner

ROOT = Path(__file__).resolve().parents[2]

#: Generators of the System's RTL: an edit of any of them must change the key.
GENERATORS = ("tiles/pcu.py", "hw/arith.py", "interconnect/switch.py", "memory/dram.py",
              "hw/numerics.py", "hw/params/pcu.py")


def _not_generators():
    """Shipped modules that do not generate the System's RTL."""
    files = ["scripts/cli.py", "fpga/cli.py"]
    for pattern in ("scripts/bench_*.py", "compiler/*.py", "tb/*.py", "fpga/*.py",
                    "hw/golden/*.py"):
        files += [str(p.relative_to(ROOT)) for p in sorted(ROOT.glob(pattern))]
    return sorted(set(files))


def test_system_generators_are_its_import_closure():
    modules = runner.generator_modules(System)
    assert {"memory.chip", "tiles.pcu", "hw.arith", "hw.numerics", "interconnect.switch",
            "memory.dram", "hw", "tiles"} <= set(modules)
    outside = [m for m in modules if m.split(".")[0] in ("compiler", "tb", "fpga", "scripts")
               or m.startswith("hw.golden")]
    assert not outside
    assert all(p.suffix == ".py" and p.is_file() for p in modules.values())
    assert runner.generator_digest(System) == runner.generator_digest("memory.chip")


# Run in a copy of the packages (first on sys.path there), editing its files in place.
_PROBE = r"""
import json, sys
from pathlib import Path
from memory.chip import System
from tb.runner import generator_digest, generator_modules

assert generator_modules(System)["tiles.pcu"].is_relative_to(Path.cwd())
edits = json.loads(sys.argv[1])
base = generator_digest(System)
out = {}
for label, (files, text) in edits.items():
    old = {f: Path(f).read_text() for f in files}
    for f in files:
        Path(f).write_text(old[f] + text)
    out[label] = generator_digest(System) != base
    for f in files:
        Path(f).write_text(old[f])
print(json.dumps(out))
"""


def test_system_key_follows_generator_edits_only(tmp_path):
    for pkg in (p for p in runner.PROJECT_PACKAGES if p != "tests"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    code = "\n_CACHE_KEY_PROBE = 1\n"
    edits = {f: [[f], code] for f in GENERATORS}
    edits["non-generators"] = [_not_generators(), code]
    edits["comment"] = [["tiles/pcu.py", "hw/arith.py"], "\n# a comment\n"]
    r = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(edits)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    changed = json.loads(r.stdout)
    assert changed == {**{f: True for f in GENERATORS}, "non-generators": False, "comment": False}


def test_digest_is_remembered_until_a_module_changes(tmp_path, monkeypatch):
    """The digest is kept in the cache with the size and mtime of each module it covers: a second
    process does not parse the modules again, and a changed module is parsed again."""
    monkeypatch.setenv("RDU_CACHE", str(tmp_path))
    pkg = tmp_path / "src" / "tests" / "gen_probe_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "top.py").write_text("from tests.gen_probe_pkg import leaf\nX = 1\n")
    (pkg / "leaf.py").write_text("Y = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    monkeypatch.setattr("tests.__path__", [str(tmp_path / "src" / "tests"), *
                                          __import__("tests").__path__])
    calls = []
    closure = runner._import_closure
    monkeypatch.setattr(runner, "_import_closure", lambda g: calls.append(g) or closure(g))
    first = runner.generator_digest("tests.gen_probe_pkg.top")
    assert runner.generator_digest("tests.gen_probe_pkg.top") == first
    assert len(calls) == 1
    assert (tmp_path / runner.DIGESTS_FILE).is_file()
    (pkg / "leaf.py").write_text("Y = 3\n")
    assert runner.generator_digest("tests.gen_probe_pkg.top") != first
    assert len(calls) == 2
