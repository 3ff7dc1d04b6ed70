"""Jobs: what the host does to run a compiled kernel.

A :class:`Job` is an initial HBM image, a list of :class:`Phase` (each: configuration packets that
end with a start, then wait for the fabric's ``done``, then read some registers) and the output
tensors to fetch from HBM at the end. The same job runs

* in simulation (:class:`tb.executor.SimExecutor`: the :class:`memory.chip.System` RTL under
  Verilator, driven by the cocotb module :mod:`tb.cocotb_job`; HBM loaded and dumped in bulk), or
* on a board (:class:`fpga.executor.BoardExecutor`, through the FPGA host bridge).

Phases exist because a kernel may need several fabric configurations (e.g. FFT passes); inside a
phase everything streams. Cycle counts come from the fabric's own ``run_cycles`` counter.
"""

from __future__ import annotations

import dataclasses

from hw.config import AddressMap, ConfigPackets
from interconnect.floorplan import FABRIC_ID

__all__ = ["Phase", "Job", "JobResult", "StallError", "phase_reads", "status_reads",
           "stall_message"]


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
    #: the simulator's own speed, when a simulator ran the job (tb/cocotb_job.py): ``sim`` =
    #: ``{"cycles", "cpu_s", "wall_s"}`` from reset to dump, ``run`` = the same over the phases'
    #: run time only
    speed: dict = dataclasses.field(default_factory=dict)


def phase_reads(reads):
    """The packets read after a phase's ``done``: the fabric's ``run_cycles`` first, then each
    ``(unit, addr)`` of ``reads`` in order."""
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
