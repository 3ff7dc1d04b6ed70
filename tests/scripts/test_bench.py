"""The benchmark protocol (scripts/bench.py): every ``scripts/bench_<name>.py`` has ``TITLE``,
``run(quick=False, **options)`` and declared :class:`scripts.bench.Option` s, and no command-line
code of its own; the shared entry points parse the options, run and record. No real benchmark
runs here: the runners are exercised on a fake benchmark module."""

from __future__ import annotations

import ast
import inspect
import json
import re
import shlex
import sys
import types
from pathlib import Path

import pytest

from scripts import bench

ROOT = Path(__file__).resolve().parents[2]
NAMES = bench.discover()


def test_discover_finds_every_script():
    files = sorted(p.stem[len("bench_"):] for p in (ROOT / "scripts").glob("bench_*.py"))
    assert NAMES == files
    assert {"arith", "fpga", "pcu", "pmu", "sdpa", "simulators"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_module_follows_the_protocol(name):
    mod = bench.load(name)
    assert isinstance(mod.TITLE, str) and mod.TITLE
    params = inspect.signature(mod.run).parameters
    first, *rest = params.values()
    assert first.name == "quick" and first.default is False
    assert all(p.default is not inspect.Parameter.empty for p in rest), \
        f"bench_{name}.run: every argument after quick needs a default"
    for o in bench.options(mod):
        assert isinstance(o, bench.Option)
        assert o.name in params, f"bench_{name}: option {o.name} is not an argument of run()"
        assert o.name not in ("quick", "json", "log")
        assert not (o.switch and (o.many or o.positional))
    names = [o.name for o in bench.options(mod)]
    assert len(names) == len(set(names))
    bench.parser(mod)       # the declared options make a valid parser


@pytest.mark.parametrize("name", NAMES)
def test_no_command_line_code_of_its_own(name):
    path = ROOT / "scripts" / f"bench_{name}.py"
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert "argparse" not in [a.name for a in node.names], f"{path.name} imports argparse"
        if isinstance(node, ast.ImportFrom):
            assert node.module != "argparse", f"{path.name} imports argparse"
        if isinstance(node, ast.Attribute) and node.attr == "argv":
            pytest.fail(f"{path.name}:{node.lineno} reads argv")
        if isinstance(node, ast.FunctionDef):
            assert node.name != "main", f"{path.name} defines its own main()"
    mains = [n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)]
    assert len(mains) == 1, f"{path.name}: one `if __name__ == '__main__':` block"
    assert [ast.unparse(s) for s in mains[0].body] == ["raise SystemExit(cli(__name__))"]


def test_fpga_options():
    mod = bench.load("fpga")
    assert bench.parse(mod, []) == (False, {}, None)
    assert bench.parse(mod, ["--units"]) == (False, {"units": []}, None)
    assert bench.parse(mod, ["--units", "pcu", "pmu"])[1] == {"units": ["pcu", "pmu"]}
    assert bench.parse(mod, ["--quick", "ulx3s", "icebreaker", "--fabric"]) == \
        (True, {"boards": ["ulx3s", "icebreaker"], "fabric": True}, None)
    with pytest.raises(SystemExit):
        bench.parse(mod, ["nosuchboard"])
    with pytest.raises(SystemExit):
        bench.parse(mod, ["--units", "nosuchunit"])


def test_sdpa_options():
    mod = bench.load("sdpa")
    quick, kw, out = bench.parse(mod, ["--n", "64", "128", "--m", "--max-n", "512", "--d", "4",
                                       "--config", "small", "--json", "x.json"])
    assert (quick, out) == (False, "x.json")
    assert kw == {"ns": [64, 128], "ms": [], "max_n": 512, "d": 4, "config": "small"}
    assert bench.parse(mod, ["--quick"]) == (True, {}, None)


def _commands():
    """Every ``python -m scripts.bench_<name> ...`` in the Makefile, README and docs, with
    optional ``[...]`` groups opened and groups of placeholders (``[board ...]``) dropped."""
    texts = [ROOT / "Makefile", ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    command = re.compile(r"(?:python|\$\(PY\)) -m scripts\.bench_(\w+)([^`\n)]*)")
    for path in texts:
        for m in command.finditer(path.read_text()):
            args = re.sub(r"\[[^\]]*\.\.\.[^\]]*\]", " ", m.group(2))
            args = args.replace("[", " ").replace("]", " ")
            yield path.name, m.group(1), shlex.split(args, comments=True)


@pytest.mark.parametrize("where,name,argv", list(_commands()))
def test_documented_commands_parse(where, name, argv):
    assert name in NAMES, f"{where}: no benchmark {name}"
    bench.parse(bench.load(name), argv)


def test_makefile_fpga_units_is_the_units_option():
    assert "-m scripts.bench_fpga --units\n" in (ROOT / "Makefile").read_text()
    assert bench.parse(bench.load("fpga"), ["--units"])[1] == {"units": []}


def _fake(monkeypatch, with_log=False):
    """A benchmark module ``scripts.bench_fake`` that records how it was called."""
    mod = types.ModuleType("scripts.bench_fake")
    mod.TITLE = "Fake benchmark"
    mod.OPTIONS = (bench.Option("config", "configuration"),
                   bench.Option("sizes", "sizes", type=int, many=True, flag="--n"),
                   bench.Option("fast", "fast", switch=True))
    mod.calls = []

    if with_log:
        def run(quick=False, config="sim", sizes=(1, 2), fast=False, log=None):
            mod.calls.append({"quick": quick, "config": config, "sizes": sizes, "fast": fast})
            log({"size": 1})
            return {"rows": [{"size": s, "cycles": 10 * s} for s in sizes], "notes": ["n"]}
    else:
        def run(quick=False, config="sim", sizes=(1, 2), fast=False):
            mod.calls.append({"quick": quick, "config": config, "sizes": sizes, "fast": fast})
            return {"rows": [{"size": s, "cycles": 10 * s} for s in sizes], "notes": ["n"]}
    mod.run = run
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    return mod


def test_cli_runs_with_the_options_given(monkeypatch, capsys, tmp_path):
    mod = _fake(monkeypatch, with_log=True)
    out = tmp_path / "r.json"
    assert bench.cli(mod.__name__, ["--quick", "--n", "3", "4", "--json", str(out)]) == 0
    assert mod.calls == [{"quick": True, "config": "sim", "sizes": [3, 4], "fast": False}]
    printed = capsys.readouterr()
    assert "Fake benchmark" in printed.out
    assert json.loads(printed.out[printed.out.index("{"):]) == json.loads(out.read_text())
    assert json.loads(out.read_text())["rows"] == [{"size": 3, "cycles": 30},
                                                   {"size": 4, "cycles": 40}]
    assert '{"size": 1}' in printed.err         # the row log goes to stderr


def test_main_writes_json_with_what_produced_it(monkeypatch, tmp_path, capsys):
    mod = _fake(monkeypatch)
    monkeypatch.setattr(bench, "discover", lambda: ["fake"])
    monkeypatch.setattr(bench, "load", lambda name: mod)
    assert bench.main(["fake"], quick=True, config="small", out_dir=tmp_path) == 0
    res = json.loads((tmp_path / "fake.json").read_text())
    assert res["rows"] == [{"size": 1, "cycles": 10}, {"size": 2, "cycles": 20}]
    assert res["notes"] == ["n"]
    assert res["quick"] is True
    assert res["options"] == {"config": "small", "sizes": [1, 2], "fast": False}
    assert "wall_s" in res
    assert json.loads((tmp_path / "results.json").read_text())["fake"] == res
    assert bench.main(["nosuch"], out_dir=tmp_path) == 2
    capsys.readouterr()


def test_main_passes_config_only_to_benchmarks_declaring_it(monkeypatch, tmp_path, capsys):
    mod = _fake(monkeypatch)
    mod.OPTIONS = ()
    monkeypatch.setattr(bench, "discover", lambda: ["fake"])
    monkeypatch.setattr(bench, "load", lambda name: mod)
    assert bench.main(["fake"], config="small", out_dir=tmp_path) == 0
    assert mod.calls == [{"quick": False, "config": "sim", "sizes": (1, 2), "fast": False}]
    assert "has no --config" in capsys.readouterr().err
