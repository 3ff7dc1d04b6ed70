"""Scan kernels on the fabric RTL: cycles with the PCU ``scan`` extension vs the baseline that
computes the same bits without it (``compiler/scan.py``), on the ``sim`` preset.

Every row is one ``tb.run.run_kernel`` (HBM → AGCUs → PCUs/PMUs → HBM on the Verilator
System, bit-exact against ``hw.golden``). ``cycles`` = the fabric's run cycles summed over the
phases (configuration through the ring excluded, listed as ``config``); ``speedup`` = baseline
cycles ÷ extension cycles (docs/architecture.md §7: cycles with the flag off ÷ cycles with it on);
``util`` = useful element operations ÷ (L × PCUs of the busiest phase × cycles) (see the module
docstring of ``compiler/scan.py``). The full run also runs the baseline on a ``small`` fabric
built with ``scan: false`` next to the ``small`` preset: the PCU pipeline is equally deep, so the
cycles are expected to be the same.
"""

from __future__ import annotations

from compiler.requests import KernelRequest
from hw.params import load
from scripts.bench import Option, cli
from tb.run import run_kernel

TITLE = "Scan kernels: scan extension vs same-bits baseline (cycles on the RTL)"
OPTIONS = (Option("config", "fabric configuration (preset name or YAML path)"),)


def _case(params, kernel, dims, dtype, seed, baseline, **opts):
    req = KernelRequest.make(kernel, dtype, **dims)
    r = run_kernel(req, params, seed=seed, baseline=baseline, **opts)
    if not r["passed"]:
        raise AssertionError(f"{kernel} {req.label} baseline={baseline}: {r['mismatch']}")
    return req, r


def run(quick=False, config="sim"):
    params = load(config)
    if quick:
        cases = [("scan", {"n": 512}, "fp32"), ("linear_scan", {"n": 512}, None),
                 ("mamba", {"T": 32, "D": 2, "S": 4}, None)]
    else:
        cases = [("scan", {"n": n}, "fp32") for n in (256, 1024, 4096)]
        cases += [("scan", {"n": 4096}, "int32")]
        cases += [("linear_scan", {"n": n}, None) for n in (256, 1024, 4096)]
        cases += [("mamba", {"T": t, "D": d, "S": s}, None)
                  for t, d, s in ((32, 2, 4), (128, 4, 8), (256, 8, 16))]
    rows, notes = [], []
    for kernel, dims, dtype in cases:
        res = {}
        for baseline in (False, True):
            req, r = _case(params, kernel, dims, dtype, 1, baseline)
            res[baseline] = r
        ext, base = res[False], res[True]
        for baseline, r in ((False, ext), (True, base)):
            rows.append({
                "kernel": kernel, "shape": req.label, "dtype": req.dtype,
                "mapping": "baseline" if baseline else "scan ext",
                "cycles": r["cycles"], "phases": r["phases"], "config": r["config_cycles"],
                "pcu": r["units"]["pcu"], "pmu": r["units"]["pmu"],
                "util": r["utilization"],
                "speedup": round(base["cycles"] / ext["cycles"], 3) if baseline else None,
                "bit_exact": r["bit_exact"],
                "same_bits": r["output_sha256"] == ext["output_sha256"],
            })
    notes.append("same_bits: the baseline's output equals the extension's bit for bit (both are "
                 "checked against hw.golden with golden_lanes = L).")
    notes.append("SSM-RDU reports 1.75x for Mamba at chip level (scan + FFT extensions, other "
                  "units included); here: one fabric, cycles of the kernel alone.")
    if not quick:
        small = load("small")
        noscan = small.replace(name="small_noscan", pcu=small.pcu.replace(scan=False))
        for kernel, dims, dtype in [("scan", {"n": 256}, "fp32"),
                                    ("linear_scan", {"n": 256}, None),
                                    ("mamba", {"T": 16, "D": 2, "S": 4}, None)]:
            _, a = _case(small, kernel, dims, dtype, 2, True)
            req, b = _case(noscan, kernel, dims, dtype, 2, True)
            _, e = _case(small, kernel, dims, dtype, 2, False)
            rows.append({"kernel": kernel, "shape": req.label, "dtype": req.dtype,
                         "mapping": "baseline small / small scan:false",
                         "cycles": f"{a['cycles']} / {b['cycles']}", "phases": a["phases"],
                         "config": a["config_cycles"], "pcu": a["units"]["pcu"],
                         "pmu": a["units"]["pmu"], "util": a["utilization"],
                         "speedup": round(a["cycles"] / e["cycles"], 3),
                         "bit_exact": a["bit_exact"] and b["bit_exact"],
                         "same_bits": a["output_sha256"] == b["output_sha256"] ==
                         e["output_sha256"]})
        notes.append("small rows: the baseline on the 'small' preset and on the same fabric built "
                     "with scan: false; speedup vs the extension on 'small'.")
    return {"rows": rows, "notes": notes}


if __name__ == "__main__":
    raise SystemExit(cli(__name__))
