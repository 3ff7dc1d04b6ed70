"""Helpers for the PCU RTL tests: fragments → cocotb job files → one simulation per build."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from tb import runner
from tb.stream import pack_lanes
from tiles import pcu_model
from tiles.pcu import PCU


def design(params, name):
    """The Verilator design of a PCU with ``params`` (module ``rdu_pcu_<name>``)."""
    return runner.Design.from_component(PCU(params), f"rdu_pcu_{name}")


def job(params, frag, unit=0, check_model=True, perf=False, timeout_cycles=None):
    """A cocotb job (dict) for fragment ``frag``. With ``check_model`` the Python model of the
    program must produce the fragment's expected streams too (so an RTL failure is an RTL bug)."""
    asm = frag.assemble(params)
    if check_model:
        r = pcu_model.run(asm, frag.vec_in, frag.scal_in, frag.args)
        for k, v in frag.vec_out.items():
            np.testing.assert_array_equal(r.vec_out[k], np.asarray(v).reshape(-1, params.lanes),
                                          err_msg=f"model of {frag.name} vec_out[{k}]")
        for k, v in frag.scal_out.items():
            np.testing.assert_array_equal(r.scal_out[k], np.asarray(v).reshape(-1),
                                          err_msg=f"model of {frag.name} scal_out[{k}]")
    vec = lambda arr: [pack_lanes(row, 32) for row in np.asarray(arr).reshape(-1, params.lanes)]
    sc = lambda arr: [int(x) for x in np.asarray(arr).reshape(-1)]
    n_in = sum(np.asarray(v).size for v in frag.vec_in.values()) // params.lanes + \
        sum(np.asarray(v).size for v in frag.scal_in.values())
    j = {"name": frag.name,
         "config": [p.encode() for p in asm.writes(unit)] if frag.reload else [],
         "args": [int(a) & 0xFFFFFFFF for a in frag.args],
         "vec_in": {str(k): vec(v) for k, v in frag.vec_in.items()},
         "scal_in": {str(k): sc(v) for k, v in frag.scal_in.items()},
         "vec_out": {str(k): vec(v) for k, v in frag.vec_out.items()},
         "scal_out": {str(k): sc(v) for k, v in frag.scal_out.items()},
         "ctrl_in": {str(k): [0] * n for k, n in frag.ctrl_in.items()},
         "ctrl_out": {str(k): n for k, n in frag.ctrl_out.items()},
         "timeout_cycles": timeout_cycles or 4000 + 20 * (frag.iterations + frag.loads + n_in)}
    if perf:
        j["perf"] = 8
    return j


#: C++ flags of the test builds: a PCU model is several MB of C++; -O0 compiles it several times
#: faster, and the cocotb-driven tests spend their time in Python, not in the model.
BUILD_ARGS = ("-CFLAGS", "-O0")


def run_jobs(design_, params, jobs, pause=(0.3, 0.3), seed=None, perf_file=None):
    """Simulate ``jobs`` in order on one build; returns the perf read-back (if requested)."""
    with tempfile.TemporaryDirectory(prefix="rdu-pcu-") as tmp:
        f = Path(tmp) / "jobs.json"
        pf = Path(tmp) / "perf.json"
        f.write_text(json.dumps({"lanes": params.lanes, "jobs": jobs, "pause": list(pause),
                                 "perf_file": str(pf)}))
        runner.simulate(design_, "tb.cocotb_pcu", seed=seed,
                        env={"RDU_PCU_JOBS": str(f)}, extra_args=BUILD_ARGS)
        return json.loads(pf.read_text()) if pf.exists() else {}
