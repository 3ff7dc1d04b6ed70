"""FFT and Hyena long convolution on the fabric RTL: cycles with the PCU ``butterfly`` extension
vs the baseline that computes the same bits without it (``compiler/fft.py``), on the ``sim`` preset.

Every row is one ``tb.run.run_kernel`` (HBM → AGCUs → PMU reorders / PCU levels → HBM on the
Verilator System, bit-exact against ``hw.golden``). ``cycles`` = the fabric's run cycles summed over
the phases (configuration through the ring excluded, listed as ``cfg_cycles``); ``speedup`` = baseline
cycles ÷ butterfly cycles (docs/architecture.md §7: flag off ÷ flag on); ``util`` = useful flops
(``5·N·log2 N`` per FFT) ÷ (L × stages × PCUs of the largest phase × cycles); ``same_bits``
compares the two mappings' outputs (SHA-256 of the bits, measured, not assumed).

For context: SSM-RDU reports 1.95× for Hyena at chip level; an H100 reaches 4–6 % of its fp32 peak
on FFT long convolution (docs/architecture.md §7).

Standalone: ``.venv/bin/python -m scripts.bench_fft [--quick] [--config C]``; through
``make bench``.
"""

from __future__ import annotations

from compiler.requests import KernelRequest
from hw.params import load
from scripts.bench import Option, cli
from tb.run import run_kernel

TITLE = "FFT / Hyena: butterfly extension vs same-bits baseline (cycles on the sim RTL)"
OPTIONS = (Option("config", "fabric configuration (preset name or YAML path)"),)

QUICK = [("fft", 64), ("hyena", 32)]
FULL = [("fft", 64), ("fft", 256), ("fft", 1024), ("hyena", 32), ("hyena", 128), ("hyena", 512)]


def run(quick=False, config="sim"):
    params = load(config)
    rows = []
    for kernel, n in (QUICK if quick else FULL):
        req = KernelRequest.make(kernel, "fp32", n=n)
        res = {}
        for baseline in (False, True):
            r = run_kernel(req, params, seed=1, baseline=baseline)
            if not r["passed"]:
                raise AssertionError(f"{kernel} n={n} baseline={baseline}: {r['mismatch']}")
            res[baseline] = r
        bfly, base = res[False], res[True]
        for baseline, r in ((False, bfly), (True, base)):
            rows.append({
                "config": config, "kernel": kernel, "n": n, "mapping": "baseline" if baseline else "butterfly",
                "cycles": r["cycles"], "phases": r["phases"], "cfg_cycles": r["config_cycles"],
                "pcu": r["units"].get("pcu"), "pmu": r["units"].get("pmu"),
                "util": r["utilization"],
                "speedup": round(base["cycles"] / bfly["cycles"], 3) if baseline else None,
                "bit_exact": r["bit_exact"],
                "same_bits": r["output_sha256"] == bfly["output_sha256"],
                "max_rel_err_vs_f64": r["max_rel_err_vs_float64"],
            })
    notes = ["speedup: baseline cycles / butterfly cycles, one fabric, the kernel alone "
             "(SSM-RDU: 1.95x Hyena at chip level)",
             "util: 5·N·log2(N) flops per transform / (L·S·PCUs of the largest phase · cycles)"]
    return {"rows": rows, "notes": notes}


if __name__ == "__main__":
    raise SystemExit(cli(__name__))
