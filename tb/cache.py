"""The build cache: entries that are complete or absent, checked before use, evicted by age.

A :class:`Cache` manages a root folder (:func:`tb.runner.cache_dir`) holding one sub-folder per
kind (:data:`KINDS`: ``verilog`` for generated Verilog, ``verilator`` for Verilator builds) and,
in it, one folder per entry: ``<root>/<kind>/<name>/``. Every entry holds ``manifest.json``,
listing its key files with their sizes and SHA-256.

* **Complete or absent.** :meth:`Cache.create` fills a temporary sibling folder
  ``.<name>.tmp-<pid>``, writes the manifest last and renames the folder into place, so a crash, a
  kill or a full disk leaves a temporary folder (removed by the next build of that entry or by
  :meth:`Cache.prune`), never a half-written entry.
* **Checked before use.** :meth:`Cache.lookup` compares every file of the manifest with its size
  and SHA-256 (a file already hashed by this process with the same inode, size and mtime is not
  hashed again). A damaged entry — manifest missing or unreadable, a file missing, truncated or
  altered — is deleted with one warning line on stderr, and the caller rebuilds it.
* **Evicted by age.** Using an entry touches its manifest: the manifest's mtime is the entry's
  "last used", by which :meth:`Cache.prune` evicts the least recently used entries.

Builders serialize on a per-entry lock (:meth:`Cache.locked`, ``.<name>.lock`` beside the entry)
so concurrent processes build an entry once; :meth:`Cache.prune` and :meth:`Cache.clear` skip an
entry whose lock is held.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

__all__ = ["KINDS", "MANIFEST", "Cache", "Item", "parse_size", "format_size"]

#: Kinds of entries, each a sub-folder of the cache root.
KINDS = ("verilog", "verilator")

#: The manifest of an entry, written last.
MANIFEST = "manifest.json"

_TMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)$")

# (path, inode, size, mtime_ns) -> SHA-256: a long test session checks an entry once.
_HASHED = {}

_UNITS = "BKMGT"


def parse_size(text):
    """Bytes of a size such as ``500M``, ``2G``, ``1.5G``, ``800K`` or ``4096`` (binary units,
    an optional ``B``/``iB`` suffix, any case). Raises :class:`ValueError` for anything else."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([kmgt]?)(i?b)?\s*", str(text), re.IGNORECASE)
    if not m:
        raise ValueError(f"{text!r} is not a size (e.g. 500M, 2G)")
    return int(float(m.group(1)) * 1024 ** _UNITS.index(m.group(2).upper() or "B"))


def format_size(n):
    """``n`` bytes in binary units: ``512B``, ``3.4K``, ``212.0M``, ``1.9G``."""
    for k, unit in enumerate(_UNITS):
        if n < 1024 ** (k + 1) or unit == _UNITS[-1]:
            return f"{n}B" if k == 0 else f"{n / 1024 ** k:.1f}{unit}"


def _sha256(path):
    st = path.stat()
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _HASHED:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        _HASHED[key] = h.hexdigest()
    return _HASHED[key]


def _size_of(path):
    """Bytes of a file, or of all files under a folder (symbolic links not followed)."""
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    return sum((Path(d) / f).lstat().st_size for d, _, files in os.walk(path) for f in files)


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _shown(path):
    """``path`` relative to the working directory when under it (as the user typed it)."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


@dataclasses.dataclass(frozen=True)
class Item:
    """Something in the cache: an entry (``leftover`` false), or a leftover — a temporary folder
    of a process that died, a log of a failed build, a file of an older cache layout.

    ``size``: bytes; ``last_used``: the manifest's mtime (of the item itself for leftovers)."""

    kind: str
    name: str
    path: Path
    size: int
    last_used: float
    leftover: bool


class Cache:
    """The cache under ``root`` (see the module documentation)."""

    def __init__(self, root):
        self.root = Path(root)

    def entry(self, kind, name):
        """The folder of entry ``name`` of ``kind`` (it need not exist)."""
        if kind not in KINDS:
            raise ValueError(f"unknown cache kind {kind!r}; allowed: {', '.join(KINDS)}")
        return self.root / kind / name

    def _lock_path(self, kind, name):
        return self.root / kind / f".{name}.lock"

    @contextlib.contextmanager
    def locked(self, kind, name, wait=True):
        """Hold the lock of an entry (blocks until free). With ``wait=False`` yields ``False``
        instead of waiting when another process holds it, else ``True``."""
        lock = self._lock_path(kind, name)
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True

    def check(self, kind, name):
        """Why the existing entry is unusable (a short reason), or ``None`` when its manifest
        matches its files: sizes, then SHA-256 (hashing only what sizes did not already reject)."""
        path = self.entry(kind, name)
        manifest = path / MANIFEST
        if not manifest.is_file():
            older = (path / ".built").exists()
            return f"no {MANIFEST}" + (" (built by an older rdugen)" if older else "")
        try:
            files = json.loads(manifest.read_text())["files"]
            expected = {str(f): (int(v["size"]), str(v["sha256"])) for f, v in files.items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return f"unreadable {MANIFEST}"
        if not expected:
            return f"{MANIFEST} lists no files"
        for f, (size, _) in expected.items():
            p = path / f
            if not p.is_file():
                return f"{f} is missing"
            if p.stat().st_size != size:
                return f"{f} has {p.stat().st_size} bytes, the manifest says {size}"
        for f, (_, digest) in expected.items():
            if _sha256(path / f) != digest:
                return f"{f} does not match its SHA-256"
        return None

    def lookup(self, kind, name):
        """The folder of a usable entry, touched as used; ``None`` when absent or damaged. A
        damaged entry is deleted, with one warning line on stderr. Call it holding
        :meth:`locked`."""
        path = self.entry(kind, name)
        if not os.path.lexists(path):
            return None
        reason = self.check(kind, name)
        if reason is not None:
            print(f"rdu: warning: cache entry {_shown(path)} is damaged ({reason}); rebuilding",
                  file=sys.stderr)
            _remove(path)
            return None
        with contextlib.suppress(OSError):   # a read-only shared cache still works
            os.utime(path / MANIFEST)
        return path

    @contextlib.contextmanager
    def create(self, kind, name, files):
        """Yield a temporary folder to fill with entry ``name``; when the block ends normally,
        write the manifest of ``files`` (names relative to the folder: the outputs to check
        before each use) and rename the folder into place. When the block raises, the folder is
        removed. Call it holding :meth:`locked` (so temporary folders of the entry are stale).

        If another process put the entry in place meanwhile (without the lock), that one is
        kept and this one dropped."""
        final = self.entry(kind, name)
        final.parent.mkdir(parents=True, exist_ok=True)
        for stale in final.parent.glob(f".{glob.escape(name)}.tmp-*"):
            _remove(stale)
        tmp = final.parent / f".{name}.tmp-{os.getpid()}"
        tmp.mkdir()
        try:
            yield tmp
            manifest = {"kind": kind, "name": name, "created": time.time(),
                        "files": {f: {"size": (tmp / f).stat().st_size,
                                      "sha256": _sha256(tmp / f)} for f in files}}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
            try:
                tmp.rename(final)
            except OSError:
                if not final.is_dir():
                    raise
        finally:
            _remove(tmp)

    # ---- listing and eviction ---------------------------------------------------------------

    def items(self):
        """Entries and leftovers, least recently used first (leftovers before entries). Skips
        lock files and temporary folders whose process is still running."""
        found = []
        for kind in KINDS:
            folder = self.root / kind
            if not folder.is_dir():
                continue
            for p in folder.iterdir():
                m = _TMP.match(p.name)
                if p.name.endswith(".lock") and p.name.startswith("."):
                    continue
                if m and _alive(int(m.group("pid"))):
                    continue        # a build in progress
                manifest = p / MANIFEST
                entry = p.is_dir() and not p.is_symlink() and not m and manifest.is_file()
                used = (manifest if entry else p).lstat().st_mtime
                found.append(Item(kind, p.name, p, _size_of(p), used, not entry))
        return sorted(found, key=lambda i: (not i.leftover, i.last_used, i.kind, i.name))

    def _evict(self, item):
        """Remove ``item`` unless its lock is held (an entry being built or checked)."""
        if item.leftover:
            _remove(item.path)
            return True
        with self.locked(item.kind, item.name, wait=False) as free:
            if not free:
                return False
            _remove(item.path)
            self._lock_path(item.kind, item.name).unlink(missing_ok=True)
        return True

    def prune(self, max_size):
        """Evict leftovers, then least recently used entries, until the cache holds at most
        ``max_size`` bytes. Returns ``(removed items, skipped items)`` (skipped: in use)."""
        items = self.items()
        total = sum(i.size for i in items)
        removed, skipped = [], []
        for item in items:
            if total <= max_size:
                break
            if self._evict(item):
                removed.append(item)
                total -= item.size
            else:
                skipped.append(item)
        return removed, skipped

    def clear(self):
        """Evict everything (entries in use are skipped). Returns ``(removed, skipped)``."""
        return self.prune(-1)

