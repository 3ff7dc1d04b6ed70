"""End-to-end kernel runs: request → inputs → mapping → RTL simulation → checks → report.

:func:`run_kernel` is what ``rdu run`` and ``make sim`` call:

1. make reproducible inputs (``seed``) named as the golden function's arguments;
2. compile the request for the fabric (:func:`compiler.kernel.compile_kernel`);
3. run the job on the RTL (:class:`tb.executor.SimExecutor`; tensors start and end in the HBM
   model, loaded and dumped in bulk);
4. compare the result with :mod:`hw.golden` **bit for bit** and with the float64 reference
   (:func:`hw.golden.error_report`);
5. report cycles, ideal cycles, utilization (useful ops ÷ (peak of the units used × cycles)),
   buffer high-water marks and stall counters; with ``out_dir`` write ``inputs.npz``,
   ``output.npz`` (array ``out``) and ``result.json``.

With waves (``waves=True``, ``RDU_WAVES=1`` or a ``waves_window``) the wave file is kept where
:func:`waves_file` says (``out_dir/waves.<fst|vcd>``, else
``build/waves/<kernel>-<shape>-<config>.<fst|vcd>``) and the result's ``waves`` names it.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from compiler.kernel import check_options, compile_kernel
from compiler.requests import expected, float64_reference, make_inputs
from hw import numerics as nx
from hw.golden import error_report
from tb import runner
from tb.executor import SimExecutor

__all__ = ["run_kernel", "bits_equal", "waves_file", "EXECUTORS"]

#: Verilator executors by configuration name (one cached build each per process).
EXECUTORS = {}


def _executor(params):
    arith = runner.arith_mode()     # RDU_ARITH (rdu run --arith sets it), else behavioural
    key = (params.name, repr(params.to_dict()), arith)
    if key not in EXECUTORS:
        EXECUTORS[key] = SimExecutor(params, arith=arith)
    return EXECUTORS[key]


def bits_equal(a, b):
    """Bit-for-bit equality (fp32 compared as encodings, complex as re/im encodings)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        return False
    if np.iscomplexobj(a) or np.iscomplexobj(b):
        a = a.astype(np.complex64)
        b = b.astype(np.complex64)
        return bits_equal(a.real, b.real) and bits_equal(a.imag, b.imag)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return np.array_equal(nx.bits(a), nx.bits(b))
    return np.array_equal(a.astype(np.int64), b.astype(np.int64))


def _first_mismatch(out, exp):
    out = np.asarray(out)
    exp = np.asarray(exp)
    if out.shape != exp.shape:
        return f"shape {out.shape} != expected {exp.shape}"
    if np.iscomplexobj(exp):
        bad = np.argwhere((nx.bits(out.real) != nx.bits(exp.real)) |
                          (nx.bits(out.imag) != nx.bits(exp.imag)))
    elif exp.dtype.kind == "f":
        bad = np.argwhere(nx.bits(out) != nx.bits(exp))
    else:
        bad = np.argwhere(out.astype(np.int64) != exp.astype(np.int64))
    if not len(bad):
        return ""
    i = tuple(int(x) for x in bad[0])
    return f"{len(bad)} of {exp.size} elements differ; first at {i}: got {out[i]!r}, expected {exp[i]!r}"


def _digest(out):
    a = np.ascontiguousarray(out)
    if np.iscomplexobj(a):
        a = np.ascontiguousarray(a.astype(np.complex64))
    elif a.dtype.kind == "f":
        a = np.ascontiguousarray(a, np.float32)
    return hashlib.sha256(str(a.shape).encode() + a.tobytes()).hexdigest()


def _num(x):
    """JSON-safe float: infinities become strings ("inf", "-inf")."""
    x = float(x)
    return x if np.isfinite(x) else ("inf" if x > 0 else "-inf")


def waves_file(req, params, out_dir=None):
    """Where :func:`run_kernel` keeps the waves of ``req`` on ``params``: ``out_dir/waves.<ext>``
    when an output folder is given, else ``build/waves/<kernel>-<shape>-<config>.<ext>`` under
    the working directory (``RDU_WAVES_DIR`` overrides the folder); ``<ext>`` is ``fst`` when
    this machine can record FST, else ``vcd`` (:func:`tb.runner.waves_format`)."""
    ext = runner.waves_format()
    if out_dir:
        return (Path(out_dir) / f"waves.{ext}").absolute()
    return runner.waves_dir() / f"{req.kernel}-{req.label}-{params.name}.{ext}"


def run_kernel(req, params, seed=0, out_dir=None, waves=False, executor=None, waves_window=None,
               **options):
    """Run ``req`` on the RTL of ``params``; return the result dictionary (see module docstring).

    ``executor``: what runs the job (default: the Verilator model of :class:`memory.chip.System`,
    cached per configuration); :class:`fpga.executor.BoardExecutor` runs it on a board.
    ``waves_window``: ``(START, END)`` cycles to dump (implies ``waves``)."""
    options = check_options(req, options)    # only the kernel's declared options, checked
    inputs = make_inputs(req, seed, params)     # checks the HBM capacity first
    compiled = compile_kernel(req, params, inputs, **options)
    waves = runner.waves_requested(waves) or waves_window is not None
    wave_path = waves_file(req, params, out_dir) if waves else None
    started = time.time()
    result = (executor or _executor(params)).run(compiled.job, seed=seed, waves=waves,
                                                 waves_path=wave_path, waves_window=waves_window)
    out = compiled.output(result.outputs)
    exp = expected(req, inputs, compiled.golden_lanes, **compiled.golden_options)
    exact = bits_equal(out, exp)
    ref = float64_reference(req, inputs)
    err = error_report(out, ref)
    exp_err = error_report(exp, ref)
    reads = {}
    for ph in result.reads:
        for k, v in ph.items():
            reads[k] = reads.get(k, 0) + v if k in compiled.stall_reads else max(reads.get(k, 0), v)
    buffer_hw = [reads.get(k, 0) for k in compiled.buffer_reads]
    buffer_hw = sum(buffer_hw) if compiled.buffer_sum else max(buffer_hw, default=0)
    cycles = result.cycles
    ideal = int(np.ceil(compiled.useful_ops / compiled.peak_ops_per_cycle)) \
        if compiled.peak_ops_per_cycle else 0
    util = compiled.useful_ops / (compiled.peak_ops_per_cycle * cycles) \
        if compiled.peak_ops_per_cycle and cycles else 0.0
    res = {
        "kernel": req.kernel, "shape": dict(req.shape), "dtype": req.dtype, "config": params.name,
        "seed": seed, "passed": bool(exact), "bit_exact": bool(exact),
        "mismatch": "" if exact else _first_mismatch(out, exp),
        "cycles": int(cycles), "ideal_cycles": ideal, "utilization": round(util, 4),
        "config_cycles": int(result.config_cycles), "phases": len(result.phase_cycles),
        "phase_cycles": [int(c) for c in result.phase_cycles],
        "max_abs_err_vs_float64": _num(err.max_abs), "max_rel_err_vs_float64": _num(err.max_rel),
        "sqnr_db": _num(err.sqnr_db), "golden_max_rel_err_vs_float64": _num(exp_err.max_rel),
        "buffer_high_water_words": int(buffer_hw),
        "stalls": {k: int(reads[k]) for k in compiled.stall_reads if k in reads},
        "units": compiled.units, "options": dict(options),
        "notes": compiled.notes, "golden_options": dict(compiled.golden_options),
        "wall_s": round(result.wall_s, 2),
        # the simulator's speed (cycles, CPU and wall seconds; tb/cocotb_job.py), when one ran
        "sim_speed": result.speed,
        # the output's bits, to compare two runs (e.g. a mapping with and without an extension)
        "output_sha256": _digest(out),
    }
    if wave_path is not None and wave_path.exists() and wave_path.stat().st_mtime >= started - 1:
        res["waves"] = str(wave_path)   # written by this run (a board executor writes none)
    if out_dir:
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        np.savez(d / "inputs.npz", **inputs)
        np.savez(d / "output.npz", out=out)
        (d / "result.json").write_text(json.dumps(res, indent=2, default=float))
    return res
