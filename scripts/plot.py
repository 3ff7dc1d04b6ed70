"""``rdu plot``: figures (PNG and SVG) from the benchmark results ``build/bench/<name>.json``.

Each figure reads the rows of the benchmarks that ``rdu bench`` wrote (:mod:`scripts.bench`); a
figure whose results are missing, failed or lack a key it needs is skipped with one line naming
the JSON file and the key (a figure with several panels draws the panels it has data for):

* ``utilization``: utilization vs problem size per kernel — ``gemm.json`` (``mac_util`` vs
  M·N·K), ``fft.json`` (``util`` vs n), ``scan.json`` (``util`` vs elements);
* ``sdpa_buffer``: ``sdpa.json``, buffer high-water mark (words) vs N of the streaming and the
  naive form (and their throughput in (query, key) pairs per cycle);
* ``speedups``: extension on/off cycle ratios — ``fft.json`` and ``scan.json`` (``speedup``:
  baseline cycles ÷ extension cycles), ``pcu.json`` (rows whose metric is a speedup);
* ``area``: LUT4 per unit — ``pcu.json``, ``pmu.json``, ``interconnect.json`` (area rows) and
  ``arith.json`` (``LUT4``);
* ``roofline_<config>``: achieved ops/cycle vs arithmetic intensity (ops per byte of HBM
  traffic) of every kernel row of ``gemm.json``, ``fft.json`` and ``scan.json`` measured on
  ``config``, under the roofs of that configuration: peak compute = PCUs × lanes × stages ops per
  cycle and HBM bandwidth = ``memory.hbm`` channels × bytes per cycle (one clock in the RTL).

The benchmarks record cycles and shapes but neither operation counts nor bytes, so the roofline
derives them from each row's kernel and shape: ops = the compiler's ``useful_ops`` (GEMM M·N·K
MACs, FFT 5·N·log2 N flops, Hyena 3 transforms of 2n points + 6·2n + 3n, scans one op per element,
Mamba 2·T·D·S + T·D), bytes = compulsory HBM traffic (every input read and every output written
once). A row carrying ``ops`` and ``hbm_bytes`` itself is taken as it is.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from compiler.requests import KERNELS
from hw.params import ConfigError, load

__all__ = ["BENCH_DIR", "FORMATS", "OUT_DIR", "Skip", "figure", "plot", "register", "work"]

BENCH_DIR = Path("build") / "bench"
OUT_DIR = Path("build") / "plots"
FORMATS = ("png", "svg")
#: the configuration ``rdu bench`` gives the kernel benchmarks when none is named
DEFAULT_CONFIG = "sim"


class Skip(Exception):
    """A figure or panel lacks its data; the message names the JSON file and what is missing."""


class Results:
    """The benchmark results of one directory, read on demand."""

    def __init__(self, bench_dir):
        self.dir = Path(bench_dir)
        self.skips = []          # one line per panel left out of a figure that was drawn

    def path(self, name):
        return self.dir / f"{name}.json"

    def result(self, name):
        path = self.path(name)
        if not path.is_file():
            raise Skip(f"{path} missing")
        try:
            res = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise Skip(f"{path}: not JSON ({e.msg})") from None
        if not isinstance(res, dict) or not isinstance(res.get("rows"), list):
            raise Skip(f"{path}: no key 'rows'")
        if res.get("error"):
            raise Skip(f"{path}: the benchmark failed ({res['error']})")
        return res

    def rows(self, name, keys, where=lambda r: True):
        """Rows of ``name`` passing ``where`` that have every key of ``keys`` (not null); raises
        :class:`Skip` naming the first key no such row has."""
        rows = [r for r in self.result(name)["rows"] if isinstance(r, dict) and where(r)]
        if not rows:
            raise Skip(f"{self.path(name)}: no rows of this kind")
        for k in keys:
            rows = [r for r in rows if r.get(k) is not None]
            if not rows:
                raise Skip(f"{self.path(name)}: rows lack key {k!r}")
        return rows


# ---- figures ---------------------------------------------------------------------------------

def figure(panels, width=6.0, height=4.2):
    """A matplotlib figure of ``panels`` axes side by side (Agg canvas, constrained layout):
    ``(figure, [axes])``. Also used by ``rdu sweep``'s plots."""
    # deferred: matplotlib takes about a second to import; only `rdu plot` needs it
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    # deferred: as above
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width * panels, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, panels, i + 1) for i in range(panels)]
    return fig, axes


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _dims(kernel, shape):
    """``{dim: int}`` of a row's shape (``"64x64x64"``, a number, or a mapping)."""
    dims = KERNELS[kernel].dims
    if isinstance(shape, dict):
        return {d: int(shape[d]) for d in dims}
    vals = [int(v) for v in str(shape).split("x")]
    if len(vals) != len(dims):
        raise ValueError(f"shape {shape!r} of {kernel}")
    return dict(zip(dims, vals))


def _series(ax, groups, xlabel, ylabel, logx=True, logy=False):
    for label, pts in sorted(groups.items()):
        pts = sorted(pts)
        hollow = "baseline" in label
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o--" if hollow else "o-", label=label,
                mfc="none" if hollow else None)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")


def _util_gemm(res, ax):
    groups = {}
    for r in res.rows("gemm", ("shape", "mac_util", "config", "dtype")):
        d = _dims("gemm", r["shape"])
        groups.setdefault(f"gemm {r['config']} {r['dtype']}", []).append(
            (d["M"] * d["N"] * d["K"], r["mac_util"]))
    _series(ax, groups, "problem size M·N·K", "MAC utilization of the PCUs used")
    ax.set_title("GEMM")


def _util_fft(res, ax):
    groups = {}
    for r in res.rows("fft", ("n", "util", "kernel", "mapping")):
        groups.setdefault(f"{r['kernel']} {r['mapping']}", []).append((r["n"], r["util"]))
    _series(ax, groups, "points n", "utilization (flops / L·S·PCUs·cycles)")
    ax.set_title("FFT / Hyena")


def _util_scan(res, ax):
    groups = {}
    rows = res.rows("scan", ("shape", "util", "kernel", "mapping"),
                    where=lambda r: "/" not in str(r.get("mapping")))
    for r in rows:
        size = math.prod(_dims(r["kernel"], r["shape"]).values())
        label = f"{r['kernel']} {r.get('dtype') or ''} {r['mapping']}".replace("  ", " ")
        groups.setdefault(label, []).append((size, r["util"]))
    _series(ax, groups, "elements (n or T·D·S)", "utilization (elements / L·PCUs·cycles)")
    ax.set_title("Scans")


def utilization(res):
    return _panels(res, "utilization", [("gemm", _util_gemm), ("fft", _util_fft),
                                        ("scan", _util_scan)],
                   "Utilization vs problem size (RTL runs, whole run incl. fill and drain)")


def _panels(res, stem, parts, title):
    """One figure of the ``parts`` ``(name, draw(res, ax))`` that have data; raises :class:`Skip`
    if none has."""
    ok, missing = [], []
    for name, draw in parts:
        try:
            _, (ax,) = figure(1)   # a trial drawing: does the panel have its data?
            draw(res, ax)
            ok.append((name, draw))
        except Skip as e:
            missing.append(f"{name}: {e}")
    if not ok:
        raise Skip("; ".join(missing))
    res.skips += [f"skip {stem} panel {m}" for m in missing]
    fig, axes = figure(len(ok))
    for (name, draw), ax in zip(ok, axes):
        draw(res, ax)
    fig.suptitle(title)
    return {stem: fig}


def sdpa_buffer(res):
    rows = res.rows("sdpa", ("form", "N", "buffer_hw_words"), where=lambda r: "form" in r)
    tput = [r for r in rows if _number(r.get("pairs_per_cycle"))]
    fig, axes = figure(2 if tput else 1)
    groups = {}
    for r in rows:
        groups.setdefault(r["form"], []).append((r["N"], r["buffer_hw_words"]))
    _series(axes[0], groups, "sequence length N", "buffer high-water mark (words)", logy=True)
    axes[0].set_title("Buffer high-water mark")
    if tput:
        groups = {}
        for r in tput:
            groups.setdefault(r["form"], []).append((r["N"], r["pairs_per_cycle"]))
        _series(axes[1], groups, "sequence length N", "(query, key) pairs per cycle")
        axes[1].set_ylim(bottom=0)
        axes[1].set_title("Throughput")
    fig.suptitle("SDPA on the fabric: streaming vs naive form")
    return {"sdpa_buffer": fig}


def _bars(ax, bars, xlabel):
    """Horizontal bars ``[(group, label, value)]``, one colour per group."""
    # deferred: matplotlib takes about a second to import; only `rdu plot` needs it
    from matplotlib.patches import Patch
    colours = {}
    for g, _, _ in bars:
        colours.setdefault(g, f"C{len(colours)}")
    ys = range(len(bars))
    ax.barh(ys, [b[2] for b in bars], color=[colours[b[0]] for b in bars])
    ax.set_yticks(list(ys), [b[1] for b in bars], fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(handles=[Patch(color=c, label=g) for g, c in colours.items()], fontsize="small",
              loc="best")


def _collect(res, stem, parts, what="part "):
    """Items of every part ``(name, rows(res))`` that has data, each missing part recorded as a
    skip line ``skip STEM WHATNAME: reason``; raises :class:`Skip` if none has data."""
    bars, missing = [], []
    for name, get in parts:
        try:
            bars += get(res)
        except Skip as e:
            missing.append(f"{name}: {e}")
    if not bars:
        raise Skip("; ".join(missing))
    res.skips += [f"skip {stem} {what}{m}" for m in missing]
    return bars


def _speedup_fft(res):
    return [("fft (butterfly)", f"{r['kernel']} n={r['n']}", r["speedup"])
            for r in res.rows("fft", ("speedup", "kernel", "n"))]


def _speedup_scan(res):
    out = []
    for r in res.rows("scan", ("speedup", "kernel", "shape")):
        where = " (small)" if "small" in str(r.get("mapping")) else ""
        out.append(("scan (scan ext)", f"{r['kernel']} {r['shape']} {r.get('dtype') or ''}{where}",
                    r["speedup"]))
    return out


def _speedup_pcu(res):
    rows = res.rows("pcu", ("value", "benchmark", "config"),
                    where=lambda r: str(r.get("metric", "")).startswith("speedup"))
    return [("pcu (one unit)", f"{r['benchmark']}: {r['config']}", r["value"]) for r in rows]


def speedups(res):
    bars = _collect(res, "speedups", [("fft", _speedup_fft), ("scan", _speedup_scan),
                                      ("pcu", _speedup_pcu)])
    fig, (ax,) = figure(1, width=9.0, height=0.3 * len(bars) + 1.8)
    _bars(ax, bars, "speedup = cycles extension off / cycles extension on")
    ax.axvline(1.0, color="k", lw=0.8)
    fig.suptitle("Extension on/off speedups (same bits)")
    return {"speedups": fig}


def _area_pcu(res):
    rows = res.rows("pcu", ("value", "config"),
                    where=lambda r: str(r.get("benchmark", "")).startswith("area"))
    return [("PCU", r["config"], r["value"]) for r in rows]


def _area_pmu(res):
    rows = res.rows("pmu", ("value", "config"),
                    where=lambda r: str(r.get("benchmark", "")).startswith("area")
                    and r.get("unit") == "LUT4")
    return [("PMU", f"PMU {r['config']}", r["value"]) for r in rows]


def _area_switch(res):
    rows = res.rows("interconnect", ("value", "config"),
                    where=lambda r: str(r.get("benchmark", "")).startswith("area")
                    and r.get("metric") == "LUT4")
    return [("interconnect", f"switch {r['config']}", r["value"]) for r in rows]


def _area_arith(res):
    rows = res.rows("arith", ("LUT4", "block"))
    return [("arith", f"{r['block']} L{r.get('latency', '?')}", r["LUT4"]) for r in rows]


def area(res):
    bars = _collect(res, "area", [("pcu", _area_pcu), ("pmu", _area_pmu),
                                  ("interconnect", _area_switch), ("arith", _area_arith)])
    fig, (ax,) = figure(1, width=9.0, height=0.3 * len(bars) + 1.8)
    _bars(ax, bars, "LUT4 (yosys synth_ecp5, flattened)")
    fig.suptitle("Area by unit (ECP5 LUT4)")
    return {"area": fig}


# ---- roofline --------------------------------------------------------------------------------

def work(kernel, shape, dtype=None):
    """``(ops, bytes)`` of one run: the compiler's useful operations and the compulsory HBM
    traffic (inputs read once, output written once) of ``kernel`` with ``shape`` (dims)."""
    s = shape
    if kernel == "gemm":
        m, n, k = s["M"], s["N"], s["K"]
        return m * n * k, 2 * (m * k + k * n) + 4 * m * n       # 16-bit in, 32-bit out
    if kernel == "fft":
        n = s["n"]
        return 5 * n * int(math.log2(n)), 16 * n                  # complex64 in and out
    if kernel == "hyena":
        n, n2 = s["n"], 2 * s["n"]
        return 3 * 5 * n2 * int(math.log2(n2)) + 6 * n2 + 3 * n, 4 * (3 * n + 1)  # u, k, d → y
    if kernel == "scan":
        return s["n"], 8 * s["n"]
    if kernel == "linear_scan":
        return s["n"], 12 * s["n"]                                # a, b → h
    if kernel == "mamba":
        t, d, st = s["T"], s["D"], s["S"]
        return 2 * t * d * st + t * d, 4 * (2 * t * d * st + t * st + 2 * t * d + d)
    raise KeyError(kernel)


def _roof_points(res, name, keys, config_of, extension):
    pts = []
    for r in res.rows(name, keys):
        if not _number(r["cycles"]) or r["cycles"] <= 0:
            continue
        kernel = r.get("kernel", name)
        if _number(r.get("ops")) and _number(r.get("hbm_bytes")):
            ops, nbytes = r["ops"], r["hbm_bytes"]
        else:
            shape = {"n": r["n"]} if "n" in r and "shape" not in r else r["shape"]
            ops, nbytes = work(kernel, _dims(kernel, shape), r.get("dtype"))
        pts.append({"config": config_of(r), "kernel": kernel, "ext": extension(r),
                    "intensity": ops / nbytes, "ops_per_cycle": ops / r["cycles"]})
    if not pts:
        raise Skip(f"{res.path(name)}: no row with numeric 'cycles'")
    return pts


def _roof_gemm(res):
    return _roof_points(res, "gemm", ("shape", "cycles", "config"), lambda r: r["config"],
                        lambda r: True)


def _roof_fft(res):
    return _roof_points(res, "fft", ("n", "cycles", "kernel", "mapping"), lambda r: r["config"],
                        lambda r: r["mapping"] != "baseline")


def _roof_scan(res):
    cfg = (res.result("scan").get("options") or {}).get("config") or DEFAULT_CONFIG
    return _roof_points(res, "scan", ("shape", "cycles", "kernel", "mapping"), lambda r: cfg,
                        lambda r: r["mapping"] != "baseline")


def roofline(res):
    pts = _collect(res, "roofline", (("gemm", _roof_gemm), ("fft", _roof_fft),
                                     ("scan", _roof_scan)), what="kernels ")
    figs = {}
    for cfg in sorted({p["config"] for p in pts}):
        try:
            params = load(cfg)
        except ConfigError as e:
            res.skips.append(f"skip roofline_{cfg}: {e}")
            continue
        mine = [p for p in pts if p["config"] == cfg]
        figs[f"roofline_{params.name}"] = _roofline(params, mine)
    if not figs:
        raise Skip("no configuration of the kernel rows loads")
    return figs


def _roofline(params, pts):
    peak = params.n_pcu * params.lanes * params.pcu.stages
    bw = params.memory.hbm.peak_bytes_per_cycle
    fig, (ax,) = figure(1, width=7.5, height=5.0)
    xs = [p["intensity"] for p in pts]
    lo, hi = min(xs + [peak / bw]) / 4, max(xs + [peak / bw]) * 4
    grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    ax.plot(grid, [min(peak, bw * x) for x in grid], "k-", lw=1.5,
            label=f"roof: {peak} ops/cycle ({params.n_pcu} PCUs × {params.lanes} lanes × "
                  f"{params.pcu.stages} stages), HBM {bw} B/cycle")
    kernels = sorted({p["kernel"] for p in pts})
    for i, k in enumerate(kernels):
        for ext in (True, False):
            sel = [p for p in pts if p["kernel"] == k and p["ext"] == ext]
            if sel:
                ax.scatter([p["intensity"] for p in sel], [p["ops_per_cycle"] for p in sel],
                           marker="osD^v<>p*h"[i % 10], s=36,
                           facecolors=f"C{i}" if ext else "none", edgecolors=f"C{i}",
                           label=k if ext else f"{k} (baseline, no extension)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("arithmetic intensity (ops per byte of compulsory HBM traffic)")
    ax.set_ylabel("achieved ops per cycle (useful ops / cycles)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="x-small", loc="lower right")
    ax.set_title(f"Roofline of {params.name}: every kernel run of gemm/fft/scan benchmarks")
    return fig


PLOTS = (("utilization", utilization), ("sdpa_buffer", sdpa_buffer), ("speedups", speedups),
         ("area", area), ("roofline", roofline))


def plot(bench_dir=BENCH_DIR, out_dir=OUT_DIR, say=print, only=(), formats=FORMATS):
    """Draw the figures of :data:`PLOTS` named in ``only`` (empty: all) from ``bench_dir`` into
    ``out_dir``, in each of ``formats``; print each file written and one line per figure or panel
    skipped. Returns the files written. Raises ``ValueError`` (one line naming the flag) if
    ``bench_dir`` is not a directory, a name is not a figure or a format is not known."""
    bench_dir = Path(bench_dir)
    if not bench_dir.is_dir():
        raise ValueError(f"--bench {bench_dir}: no such directory (run `rdu bench` first)")
    names = [n for n, _ in PLOTS]
    unknown = [n for n in only if n not in names]
    if unknown:
        raise ValueError(f"--only {' '.join(unknown)}: no such figure; figures: "
                         f"{', '.join(names)}")
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"--format {' '.join(bad)}: allowed: {', '.join(FORMATS)}")
    res = Results(bench_dir)
    out = Path(out_dir)
    written = []
    for name, make in PLOTS:
        if only and name not in only:
            continue
        try:
            figs = make(res)
        except Skip as e:
            say(f"skip {name}: {e}")
            continue
        finally:
            for line in res.skips:
                say(line)
            res.skips.clear()
        out.mkdir(parents=True, exist_ok=True)
        for stem, fig in figs.items():
            for fmt in formats:
                path = out / f"{stem}.{fmt}"
                fig.savefig(path, format=fmt, dpi=120)
                say(f"wrote {path}")
                written.append(path)
    return written



def register(sub):
    """``rdu plot [--bench DIR] [-o DIR] [--only FIGURE ...] [--format FMT ...]`` on the ``rdu`` subcommands ``sub``."""
    s = sub.add_parser("plot", help="draw the benchmark results (PNG + SVG)",
                       description=__doc__.split("\n\n")[0].replace("``", ""))
    s.add_argument("--bench", default=str(BENCH_DIR), metavar="DIR",
                   help=f"benchmark results (default: {BENCH_DIR})")
    s.add_argument("-o", "--output", default=str(OUT_DIR), metavar="DIR",
                   help=f"where the figures go (default: {OUT_DIR})")
    s.add_argument("--only", nargs="+", default=(), metavar="FIGURE",
                   help=f"draw only these figures ({', '.join(n for n, _ in PLOTS)})")
    s.add_argument("--format", nargs="+", default=FORMATS, dest="formats", metavar="FMT",
                   help=f"file formats (default: {' '.join(FORMATS)})")
    s.set_defaults(func=lambda a: (plot(a.bench, a.output, only=a.only,
                                        formats=tuple(a.formats)), 0)[1])
