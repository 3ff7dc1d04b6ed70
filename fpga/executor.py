"""Runs the kernel compiler's jobs on a board (or its Verilator model) through the host bridge.

:class:`BoardExecutor` has the interface of :class:`tb.executor.SimExecutor` — ``run(job)``
returns a :class:`compiler.job.JobResult` — so :func:`tb.run.run_kernel` drives a board with
the same request → compile → run → bit-exact check flow as ``rdu run``. The design behind the
bridge is :class:`fpga.fabric_duc.KernelSystem` (the fabric with real AGCUs on on-chip memory),
and the job must be compiled for :func:`fpga.fabric_duc.board_params` (tensors placed within the
board memory).

A run, step by step (what :mod:`tb.cocotb_job` does with backdoor loads in simulation):

1. write the job's HBM image into the board memory — every word from address 0 to the end of
   the last tensor the compiler placed (``DRAMImage.written_end``), zero padding included, so
   stale board memory cannot leak into the kernel (output areas are written whole by the
   kernel's stores and are not pre-loaded);
2. for each phase: stream its configuration packets through the configuration ring (it ends with the
   broadcast START), poll STATUS until the fabric's ``done`` is high (watchdog: the phase's
   ``timeout_cycles``; on expiry every unit's CONTROL status is read and the busy ones are
   named), then read the fabric's ``run_cycles`` and the phase's registers through the ring;
3. read each output's words back and decode them like the HBM model's dump.

``config_cycles`` is 0: configuration goes over the UART, whose time says nothing about the
fabric (the simulation's ring-load figures are the ones to quote).
"""

from __future__ import annotations

import time

import numpy as np

from compiler.job import JobResult, phase_reads, stall_message, status_reads
from fpga.fabric_duc import kernel_ident
from memory.host import DRAMImage

__all__ = ["BoardExecutor", "BoardStall"]


class BoardStall(RuntimeError):
    """A phase did not finish on the board (message: the phase, the cycles, the busy units)."""


class BoardExecutor:
    """``run(job)`` on the board behind ``host`` (:class:`fpga.host.Host`); ``params``: the
    :func:`~fpga.fabric_duc.board_params` the jobs were compiled for (checked against the
    board's INFO ``ident`` and memory size)."""

    def __init__(self, host, params):
        self.host = host
        self.params = params
        info = host.info()
        want = kernel_ident(params)
        if info.ident != want:
            raise ValueError(f"board design ident 0x{info.ident:08x} is not the kernel design of "
                             f"configuration {params.name!r} (0x{want:08x}); build the bitstream "
                             f"with rdu fpga build --design kernel --config {params.name}")
        cap = params.memory.hbm.capacity_bytes // 4
        if info.mem_words < cap:
            raise ValueError(f"board memory of {info.mem_words} words is smaller than the "
                             f"configuration's HBM tier ({cap} words)")
        self.info = info

    def _seconds(self, cycles):
        """Host seconds for ``cycles`` design cycles (scaled like the transport in simulation)."""
        return cycles / self.info.clk_hz / getattr(self.host.t, "time_scale", 1.0)

    def run(self, job, seed=None, waves=False, waves_path=None, waves_window=None):
        """Run ``job`` on the board (``waves``, ``waves_path``, ``waves_window``: accepted like
        :meth:`tb.executor.SimExecutor.run`'s and ignored: a board records no waves)."""
        h = self.host
        t0 = time.perf_counter()
        words = job.hbm.bytes.view("<u4")
        extent = -(-job.hbm.written_end // 4)
        spans = {}
        for name, (base, shape, dtype) in job.outputs.items():
            nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
            spans[name] = (base // 4, -(-(base + nbytes) // 4))
        if extent:
            h.write_mem(0, words[:extent])

        phase_cycles, reads = [], []
        for ph in job.phases:
            h.load_packets(ph.packets)
            self._wait_done(ph)
            data = h.load_packets(phase_reads(ph.reads.values()))
            phase_cycles.append(int(data[0]))
            reads.append({label: int(v) for label, v in zip(ph.reads, data[1:])})

        img = DRAMImage(self.params.memory.hbm, "hbm")
        view = img.bytes.view("<u4")
        for lo, hi in spans.values():
            view[lo:hi] = h.read_mem(lo, hi - lo)
        outputs = {name: img.fetch(base, shape, dtype)
                   for name, (base, shape, dtype) in job.outputs.items()}
        return JobResult(outputs, sum(phase_cycles), phase_cycles, reads, 0,
                         time.perf_counter() - t0, seed)

    def _wait_done(self, ph):
        h = self.host
        budget = self._seconds(ph.timeout_cycles)
        poll = max(self._seconds(2000), 50 * h.t.byte_time)
        waited = 0.0
        while not h.status().done_level:
            if waited > budget:
                units = dict(ph.units)
                st = h.load_packets(status_reads(units)) if units else []
                raise BoardStall(stall_message(ph.name, ph.timeout_cycles, units, st,
                                               " on the board"))
            h.t.sleep(poll)
            waited += poll
