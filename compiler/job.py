"""Jobs: what the host does to run a compiled kernel, and the executors that do it.

A :class:`Job` is an initial HBM image, a list of :class:`Phase` (each: a configuration packets that
ends with a start, then wait for the fabric's ``done``, then read some registers) and the output
tensors to fetch from HBM at the end. The same job runs

* in simulation (:class:`SimExecutor`: the :class:`hw.system.System` RTL under Verilator, driven by
  the cocotb module :mod:`compiler.cocotb_job`; HBM loaded and dumped in bulk), or
* on a board (the FPGA host bridge implements the same host operations).

Phases exist because a kernel may need several fabric configurations (e.g. FFT passes); inside a
phase everything streams. Cycle counts come from the fabric's own ``run_cycles`` counter.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from pathlib import Path

from hw.config import AddressMap
from hw.config import ConfigPackets

__all__ = ["Phase", "Job", "JobResult", "SimExecutor", "StallError"]


class StallError(RuntimeError):
    """A phase did not finish: the message names the units still busy."""


@dataclasses.dataclass
class Phase:
    """One fabric configuration run to completion.

    ``packets``: configuration packets, ending with the start (see :meth:`ConfigPackets.start`);
    ``reads``: ``{label: (unit_id, addr)}`` registers read after ``done`` (perf counters);
    ``timeout_cycles``: the phase's watchdog; ``units``: ``{unit_id: name}`` reported on a stall;
    ``useful_ops``: useful operations (e.g. MACs) for utilization; ``ideal_cycles``: the bound.
    """

    name: str
    packets: ConfigPackets
    reads: dict = dataclasses.field(default_factory=dict)
    timeout_cycles: int = 1_000_000
    units: dict = dataclasses.field(default_factory=dict)
    useful_ops: int = 0
    ideal_cycles: int = 0


@dataclasses.dataclass
class Job:
    """``hbm``: a :class:`memory.host.DRAMImage` with the inputs placed; ``outputs``:
    ``{name: (byte_address, shape, numpy dtype)}`` fetched from HBM after the last phase."""

    phases: list
    hbm: object
    outputs: dict
    ddr: object = None


@dataclasses.dataclass
class JobResult:
    outputs: dict
    cycles: int                 # sum of phase run cycles (fabric counter)
    phase_cycles: list
    reads: list                 # per phase: {label: value}
    config_cycles: int          # cycles spent loading configuration through the ring
    wall_s: float
    seed: int


class SimExecutor:
    """Runs jobs on the RTL of a :class:`hw.system.System` under Verilator.

    ``params``: the fabric configuration; ``factory``: unit factory (default: real PCUs/PMUs).
    The Verilator build is cached by content hash, so many jobs share one build.
    """

    def __init__(self, params, factory=None):
        self.params = params
        self.factory = factory
        self._design = None

    @property
    def design(self):
        if self._design is None:
            from hw.system import System, VERILOG_SOURCE
            from tb.runner import Design, cached_design
            top = f"rdu_system_{self.params.name}"
            if self.factory is None:
                # the default units: Verilog cached by parameters + generator sources
                self._design = cached_design(top, self.params.to_dict(),
                                             lambda: System(self.params), (VERILOG_SOURCE,))
            else:
                self._design = Design.from_component(System(self.params, self.factory), top,
                                                     sources=(VERILOG_SOURCE,))
        return self._design

    def run(self, job, seed=None, waves=False):
        from memory.host import DRAMImage
        from tb import runner

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
            seed, _ = runner.simulate(design, "compiler.cocotb_job", seed=seed, waves=waves,
                                      plusargs=[f"+rdu_mem_dir={tmp}"],
                                      env={"RDU_JOB_DIR": str(tmp)}, test_dir=tmp / "sim")
            res = json.loads((tmp / "result.json").read_text())
            hbm = DRAMImage.from_dump(self.params.memory.hbm, "hbm", tmp)
            outputs = {name: hbm.fetch(base, shape, dtype)
                       for name, (base, shape, dtype) in job.outputs.items()}
        return JobResult(outputs, sum(res["phase_cycles"]), res["phase_cycles"], res["reads"],
                         res["config_cycles"], time.perf_counter() - t0, seed)


def phase_reads(reads):
    """The packets read after a phase's ``done``: the fabric's ``run_cycles`` first, then each
    ``(unit, addr)`` of ``reads`` in order."""
    from interconnect.floorplan import FABRIC_ID
    b = ConfigPackets().read(FABRIC_ID, AddressMap.PERF + 0)
    for unit, addr in reads:
        b.read(unit, addr)
    return b


def status_reads(units):
    """Packets reading the CONTROL status of every unit (used on a stall)."""
    b = ConfigPackets()
    for u in units:
        b.read(u, AddressMap.CONTROL)
    return b


def stall_message(phase, timeout_cycles, units, statuses, where=""):
    """The watchdog's one line for ``phase``: ``units`` (``{id: name}``) with their CONTROL
    ``statuses`` (read with :func:`status_reads`, same order) — which are busy, which not done."""
    busy = [f"{units[u]} (id {u})" for u, st in zip(units, statuses) if st & 1]
    not_done = [f"{units[u]} (id {u})" for u, st in zip(units, statuses) if not st & 2]
    return (f"watchdog: phase {phase!r} not done after {timeout_cycles} cycles{where}; "
            f"busy: {', '.join(busy) or 'none'}; not done: {', '.join(not_done) or 'none'}")
