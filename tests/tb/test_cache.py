"""The build cache heals: entries appear complete or not at all, a damaged entry (truncated or
empty simulator binary, missing or corrupt manifest, half-written or empty Verilog) is detected
before use, deleted with one warning line and rebuilt; ``rdu cache`` shows, prunes and clears it.

Most tests use fake entries or elaborate a small design; the Verilator tests build one tiny
design per module and "rebuild" from a pristine copy of it (the real build runs once)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import pytest

from hw.smoke import MacParams, MacPipeline
from scripts.cli import main as rdu
from tb import cache, env, runner
from tb.cache import MANIFEST, Cache

WARNING = re.compile(r"^rdu: warning: cache entry (\S+) is damaged \((.+)\); rebuilding$")


def _warnings(text):
    """The cache warnings among stderr lines (simulate prints other lines there)."""
    return [m.groups() for m in map(WARNING.match, text.splitlines()) if m]


def _fake(store, kind, name, files=None, used=None):
    """A complete entry holding ``files`` ({name: bytes}); ``used``: its last-used time."""
    files = files or {"sim": b"\x7fELF" + bytes(1000), "top.v": b"module top;\nendmodule\n"}
    with store.create(kind, name, list(files)) as tmp:
        for f, data in files.items():
            (tmp / f).write_bytes(data)
    path = store.entry(kind, name)
    if used is not None:
        os.utime(path / MANIFEST, (used, used))
    return path


# ---- sizes -----------------------------------------------------------------------------------

def test_sizes():
    assert cache.parse_size("500M") == 500 << 20
    assert cache.parse_size("2G") == cache.parse_size("2g") == cache.parse_size("2GiB") == 2 << 30
    assert cache.parse_size("1.5K") == 1536
    assert cache.parse_size("4096") == 4096
    for bad in ("", "2x", "-1G", "G", "1..5M"):
        with pytest.raises(ValueError, match="is not a size"):
            cache.parse_size(bad)
    assert [cache.format_size(n) for n in (512, 3 << 10, 212 << 20, 5 << 30)] == \
        ["512B", "3.0K", "212.0M", "5.0G"]


# ---- entries: complete or absent, checked before use ----------------------------------------

def test_entry_is_complete_checked_and_touched(tmp_path, capsys):
    store = Cache(tmp_path)
    path = _fake(store, "verilator", "top-1", used=1000.0)
    manifest = json.loads((path / MANIFEST).read_text())
    assert set(manifest["files"]) == {"sim", "top.v"}
    assert manifest["files"]["sim"]["size"] == 1004
    assert [p.name for p in path.parent.iterdir()] == ["top-1"]     # no temporary left
    with store.locked("verilator", "top-1"):
        assert store.lookup("verilator", "top-1") == path
    assert (path / MANIFEST).stat().st_mtime > time.time() - 60      # touched: used now
    assert store.lookup("verilator", "absent") is None
    assert capsys.readouterr().err == ""


def test_failed_build_leaves_nothing(tmp_path):
    store = Cache(tmp_path)
    with pytest.raises(RuntimeError), store.create("verilator", "top-2", ["sim"]) as tmp:
        (tmp / "sim").write_bytes(b"half")
        raise RuntimeError("compiler killed")
    assert [p.name for p in (tmp_path / "verilator").iterdir()] == []


def test_stale_temporary_folders_go(tmp_path):
    """A build killed mid-way leaves ``.<name>.tmp-<pid>``: a leftover that the next build of
    the entry removes; one of a running process is not listed."""
    store = Cache(tmp_path)
    dead = tmp_path / "verilator" / ".top-3.tmp-999999999"
    (dead / "obj").mkdir(parents=True)
    (dead / "obj" / "x.o").write_bytes(bytes(100))
    running = tmp_path / "verilator" / f".top-4.tmp-{os.getpid()}"
    running.mkdir()
    [item] = store.items()
    assert (item.name, item.leftover, item.size) == (dead.name, True, 100)
    _fake(store, "verilator", "top-3")
    assert not dead.exists() and running.exists()


def _truncate(p):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _alter(p):
    data = bytearray(p.read_bytes())
    data[-1] ^= 0xFF
    p.write_bytes(bytes(data))


DAMAGE = {
    "truncated binary": ("sim", _truncate, "sim has 502 bytes, the manifest says 1004"),
    "empty binary": ("sim", lambda p: p.write_bytes(b""), "sim has 0 bytes, the manifest says"),
    "altered binary": ("sim", _alter, "sim does not match its SHA-256"),
    "missing binary": ("sim", lambda p: p.unlink(), "sim is missing"),
    "half-written Verilog": ("top.v", _truncate, "top.v has 11 bytes"),
    "no manifest": (MANIFEST, lambda p: p.unlink(), "no manifest.json"),
    "corrupt manifest": (MANIFEST, lambda p: p.write_text('{"files": {"sim": {"si'),
                         "unreadable manifest.json"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_entry_is_deleted_with_one_warning(tmp_path, capsys, damage):
    store = Cache(tmp_path)
    path = _fake(store, "verilator", "top-5")
    with store.locked("verilator", "top-5"):
        assert store.lookup("verilator", "top-5") == path      # hashed once: memoized below
    victim, spoil, reason = DAMAGE[damage]
    spoil(path / victim)
    with store.locked("verilator", "top-5"):
        assert store.lookup("verilator", "top-5") is None
    assert not path.exists()
    [(shown, why)] = _warnings(capsys.readouterr().err)
    assert shown == str(path) and why.startswith(reason)


def test_entry_of_older_layout_is_rebuilt(tmp_path, capsys):
    store = Cache(tmp_path)
    old = store.entry("verilator", "top-6")
    old.mkdir(parents=True)
    (old / ".built").write_text("{}")
    assert store.lookup("verilator", "top-6") is None and not old.exists()
    assert _warnings(capsys.readouterr().err) == [(str(old), "no manifest.json (built by an "
                                                             "older rdugen)")]


# ---- listing and eviction --------------------------------------------------------------------

def _three(tmp_path):
    """Entries of 2000, 3000, 4000 bytes used 30, 20, 10 minutes ago, and a leftover."""
    store = Cache(tmp_path)
    now = time.time()
    _fake(store, "verilator", "b-1", {"sim": bytes(2000)}, now - 1800)
    _fake(store, "verilog", "a-2", {"a.v": bytes(3000)}, now - 1200)
    _fake(store, "verilator", "c-3", {"sim": bytes(4000)}, now - 600)
    (tmp_path / "verilog" / "old-layout.v").write_bytes(bytes(500))
    return store


def test_items_least_recently_used_first(tmp_path):
    items = _three(tmp_path).items()
    assert [(i.kind, i.name, i.leftover) for i in items] == [
        ("verilog", "old-layout.v", True), ("verilator", "b-1", False),
        ("verilog", "a-2", False), ("verilator", "c-3", False)]
    assert [i.size for i in items][0] == 500
    assert all(i.size > 2000 for i in items[1:])      # files and their manifest


def test_prune_evicts_least_recently_used_and_skips_entries_in_use(tmp_path):
    store = _three(tmp_path)
    with store.locked("verilator", "b-1"):           # being checked by another process
        removed, skipped = store.prune(7000)
    assert [i.name for i in removed] == ["old-layout.v", "a-2"]
    assert [i.name for i in skipped] == ["b-1"]
    assert [i.name for i in store.items()] == ["b-1", "c-3"]
    assert not (tmp_path / "verilog" / ".a-2.lock").exists()
    removed, _ = store.prune(10 ** 6)
    assert removed == []


# ---- cached Verilog ------------------------------------------------------------------------

def _mac(made):
    def make():
        made.append(1)
        return MacPipeline(MacParams(lanes=1))
    return make


@pytest.mark.parametrize("damage", ["half-written", "empty", "no manifest"])
def test_damaged_cached_verilog_is_regenerated(tmp_path, monkeypatch, capsys, damage):
    """Before, an empty file was reported as a user error and a truncated one broke the build."""
    monkeypatch.setenv("RDU_CACHE", str(tmp_path))
    made = []
    first = runner.cached_design("mac_cv", {"lanes": 1}, _mac(made), generator=MacPipeline)
    [entry] = (tmp_path / "verilog").glob("mac_cv-*")
    v = entry / "mac_cv.v"
    assert v.read_text() == first.verilog and v.read_text().rstrip().endswith("endmodule")
    {"half-written": _truncate, "empty": lambda p: p.write_text(""),
     "no manifest": lambda p: (p.parent / MANIFEST).unlink()}[damage](v)
    again = runner.cached_design("mac_cv", {"lanes": 1}, _mac(made), generator=MacPipeline)
    assert made == [1, 1] and again == first
    [(shown, _)] = _warnings(capsys.readouterr().err)
    assert shown == str(entry)
    assert runner.cached_design("mac_cv", {"lanes": 1}, _mac(made), generator=MacPipeline) == first
    assert made == [1, 1] and capsys.readouterr().err == ""


# ---- rdu cache ---------------------------------------------------------------------------------

def test_rdu_cache_shows_prunes_and_clears(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RDU_CACHE", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "120")
    _three(tmp_path)
    assert rdu(["cache"]) == 0
    out = capsys.readouterr().out
    assert f"cache {tmp_path}: " in out and "in 4 item(s)" in out
    rows = [ln for ln in out.splitlines() if re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", ln)]
    assert [re.search(r"(old-layout\.v|[abc]-\d)", r).group(1) for r in rows] == \
        ["old-layout.v", "b-1", "a-2", "c-3"]
    assert "verilog (leftover)" in rows[0] and "verilator" in rows[1] and "2.1K" in rows[1]

    assert rdu(["cache", "prune", "--max-size", "8K"]) == 0
    out = capsys.readouterr().out
    assert re.findall(r"removed (\S+) \(", out) == ["verilog/old-layout.v", "verilator/b-1"]
    assert "in 2 item(s)" in out

    assert rdu(["cache", "prune"]) == 0                   # default 2G: nothing to do
    assert "removed" not in capsys.readouterr().out

    assert rdu(["cache", "clear"]) == 0
    out = capsys.readouterr().out
    assert re.findall(r"removed (\S+) \(", out) == ["verilog/a-2", "verilator/c-3"]
    assert "0B in 0 item(s)" in out
    assert list((tmp_path / "verilator").iterdir()) == []


@pytest.mark.parametrize("size", ["lots", "2X", "-5M"])
def test_rdu_cache_prune_rejects_a_bad_size(tmp_path, monkeypatch, capsys, size):
    monkeypatch.setenv("RDU_CACHE", str(tmp_path))
    _fake(Cache(tmp_path), "verilog", "a-1")
    assert rdu(["cache", "prune", f"--max-size={size}"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"rdu: error: --max-size: {size!r} is not a size (e.g. 500M, 2G)\n"
    assert (tmp_path / "verilog" / "a-1").is_dir()


# ---- Verilator builds ------------------------------------------------------------------------

MAC = MacParams(lanes=1)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One real build of a tiny design, and a pristine copy of its entry to rebuild from."""
    root = tmp_path_factory.mktemp("cache")
    design = runner.Design.from_component(MacPipeline(MAC), "mac_heal")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RDU_CACHE", str(root))
        b = runner.build(design)
    assert not b.cached
    pristine = tmp_path_factory.mktemp("pristine") / "entry"
    shutil.copytree(b.directory, pristine)
    return root, design, b.directory, pristine


def _restore(src, dst):
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, copy_function=shutil.copy)     # fresh mtimes: hashed afresh


VERILATOR_DAMAGE = {
    "truncated binary": lambda e: _truncate(e / "mac_heal"),
    "empty binary": lambda e: (e / "mac_heal").write_bytes(b""),
    "no manifest": lambda e: (e / MANIFEST).unlink(),
    "half-written Verilog": lambda e: _truncate(e / "mac_heal.v"),
}


@pytest.mark.verilator
@pytest.mark.parametrize("damage", VERILATOR_DAMAGE)
def test_damaged_build_is_rebuilt(built, monkeypatch, capsys, damage):
    root, design, entry, pristine = built
    monkeypatch.setenv("RDU_CACHE", str(root))
    _restore(pristine, entry)
    assert runner.build(design).cached and capsys.readouterr().err == ""
    VERILATOR_DAMAGE[damage](entry)

    rebuilt = []

    def verilate(design, bdir, *args):
        """The real build ran in the fixture; its outputs stand in for a rebuild."""
        rebuilt.append(bdir)
        shutil.copytree(pristine, bdir, dirs_exist_ok=True, copy_function=shutil.copy,
                        ignore=shutil.ignore_patterns(MANIFEST))

    monkeypatch.setattr(runner, "_verilate", verilate)
    b = runner.build(design)
    assert not b.cached and b.directory == entry and len(rebuilt) == 1
    assert rebuilt[0].parent == entry.parent and rebuilt[0].name.startswith(".mac_heal-")
    [(shown, why)] = _warnings(capsys.readouterr().err)
    assert shown == str(entry)
    assert runner.build(design).cached and capsys.readouterr().err == ""
    assert sorted(p.name for p in entry.parent.iterdir() if ".tmp-" in p.name) == []
    if damage == "truncated binary":      # the healed entry runs (before: a segfault)
        seed = 5
        runner.simulate(design, "tb.cocotb_mac", seed=seed, env=env.encode(
            lanes=MAC.lanes, in_bits=MAC.in_bits, acc_bits=MAC.acc_bits, seed=seed,
            pause_src=0.2, pause_sink=0.2, groups=[[1, 4], [3, 9]]))
