"""Runs the kernel compiler's jobs (:class:`compiler.job.Job`) on the RTL of the whole chip under
Verilator: the simulation twin of :class:`fpga.executor.BoardExecutor`.

The HBM and DDR images are written as backdoor files, the cocotb side (:mod:`tb.cocotb_job`) sends
each phase's configuration packets through the ring, waits for the fabric's ``done`` with the
clock running in C, reads the phase's registers, and the HBM is dumped and the job's outputs are
fetched from it.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from compiler.job import JobResult
from memory.chip import VERILOG_SOURCE, System
from memory.host import DRAMImage
from tb import runner
from tb.runner import Design, cached_design

__all__ = ["SimExecutor"]


class SimExecutor:
    """Runs jobs on the RTL of a :class:`memory.chip.System` under Verilator.

    ``params``: the fabric configuration; ``factory``: unit factory (default: real PCUs/PMUs);
    ``arith``: the arithmetic of the build (:func:`tb.runner.arith_mode`: by default
    ``RDU_ARITH``, else behavioural), fixed when the executor is made.
    The Verilator build is cached by content hash, so many jobs share one build.
    """

    def __init__(self, params, factory=None, arith=None):
        self.params = params
        self.factory = factory
        self.arith = runner.arith_mode(arith)
        self._design = None

    @property
    def design(self):
        if self._design is None:
            top = f"rdu_system_{self.params.name}"
            if self.factory is None:
                # the default units: Verilog cached by parameters + the generator's sources
                self._design = cached_design(top, self.params.to_dict(),
                                             lambda: System(self.params), (VERILOG_SOURCE,),
                                             generator=System, arith=self.arith)
            else:
                self._design = Design.from_component(System(self.params, self.factory), top,
                                                     sources=(VERILOG_SOURCE,), arith=self.arith)
        return self._design

    def run(self, job, seed=None, waves=False, waves_path=None, waves_window=None):
        """Run ``job``; returns a :class:`compiler.job.JobResult`. With waves, the wave file
        goes to ``waves_path`` (default: :func:`tb.runner.default_waves_path`), dumped for the
        cycles ``waves_window`` (``(START, END)``, default all)."""
        design = self.design
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="rdu-job-") as tmp:
            tmp = Path(tmp)
            job.hbm.write_files(tmp)
            ddr = job.ddr or DRAMImage(self.params.memory.ddr, "ddr")
            ddr.write_files(tmp)
            spec = {"phases": [{
                "name": ph.name,
                "words": ph.packets.words(),
                "n_returns": ph.packets.n_returns,
                "reads": [[label, unit, addr] for label, (unit, addr) in ph.reads.items()],
                "timeout_cycles": ph.timeout_cycles,
                "units": {str(k): v for k, v in ph.units.items()},
            } for ph in job.phases]}
            (tmp / "job.json").write_text(json.dumps(spec))
            seed, _ = runner.simulate(design, "tb.cocotb_job", seed=seed, waves=waves,
                                      plusargs=[f"+rdu_mem_dir={tmp}"],
                                      env={"RDU_JOB_DIR": str(tmp)}, test_dir=tmp / "sim",
                                      waves_path=waves_path, waves_window=waves_window)
            res = json.loads((tmp / "result.json").read_text())
            hbm = DRAMImage.from_dump(self.params.memory.hbm, "hbm", tmp)
            outputs = {name: hbm.fetch(base, shape, dtype)
                       for name, (base, shape, dtype) in job.outputs.items()}
        return JobResult(outputs, sum(res["phase_cycles"]), res["phase_cycles"], res["reads"],
                         res["config_cycles"], time.perf_counter() - t0, seed,
                         {"sim": res["sim"], "run": res["run"]})
