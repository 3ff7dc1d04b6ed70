"""cocotb side of :class:`tb.executor.SimExecutor` (runs inside the simulator).

Reads ``$RDU_JOB_DIR/job.json``, pulses ``load`` (HBM/DDR images from ``+rdu_mem_dir``), then for
each phase: sends the configuration packets through the ring (it ends with the start), waits for
the fabric's ``done`` with a watchdog, reads the phase's registers and the fabric's ``run_cycles``.
Finally pulses ``dump`` and writes ``result.json``. On a watchdog it reads every unit's CONTROL
status through the ring and fails naming the units still busy.

``result.json`` also holds the simulator's own speed: ``sim`` = the clock cycles simulated from
the reset to the dump and the CPU / wall seconds of this process over them (the model, the
clock and this testbench; not the simulator's start-up), and the same for the ``run`` part alone
(from each phase's start to its ``done``: the fabric computing, the testbench asleep).
"""

import json
import os
import time
from pathlib import Path

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer

from compiler.job import phase_reads, stall_message, status_reads
from hw.config import ConfigPackets, Packet
from tb.clock import PERIOD_NS, reset, start_clock
from tb.ring import RingDriver


def _packets(words):
    return ConfigPackets([Packet.decode(w) for w in words])


@cocotb.test()
async def job(dut):
    tmp = Path(os.environ["RDU_JOB_DIR"])
    spec = json.loads((tmp / "job.json").read_text())
    clk = start_clock(dut)
    t0, c0, n0 = time.perf_counter(), time.process_time(), get_sim_time("ns")
    run = {"cycles": 0, "cpu_s": 0.0, "wall_s": 0.0}
    dut.load.value = 0
    dut.dump.value = 0
    ring = RingDriver(dut, clk)
    await reset(dut)
    dut.load.value = 1
    await RisingEdge(clk)
    dut.load.value = 0
    await ClockCycles(clk, 2)
    phase_cycles, reads, config_cycles = [], [], 0
    for ph in spec["phases"]:
        await ring.run(_packets(ph["words"]))
        config_cycles += ring.cycles
        if not int(dut.done.value):
            r0, rc0, rn0 = time.perf_counter(), time.process_time(), get_sim_time("ns")
            await First(RisingEdge(dut.done), Timer(ph["timeout_cycles"] * 10, unit="ns"))
            run["wall_s"] += time.perf_counter() - r0
            run["cpu_s"] += time.process_time() - rc0
            run["cycles"] += int((get_sim_time("ns") - rn0) // PERIOD_NS)
            if not int(dut.done.value):
                await _report_stall(ring, ph)
        if int(dut.error.value):
            raise AssertionError(f"phase {ph['name']}: the memory system flagged an out-of-range "
                                 f"access (error output high)")
        data = await ring.run(phase_reads((unit, addr) for _, unit, addr in ph["reads"]))
        phase_cycles.append(data[0])
        reads.append({label: v for (label, _, _), v in zip(ph["reads"], data[1:])})
    # Let outstanding DRAM writes drain before the dump.
    for _ in range(10_000):
        if int(dut.idle.value):
            break
        await RisingEdge(clk)
    dut.dump.value = 1
    await RisingEdge(clk)
    dut.dump.value = 0
    await ClockCycles(clk, 2)
    sim = {"cycles": int((get_sim_time("ns") - n0) // PERIOD_NS),
           "cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - t0}
    (tmp / "result.json").write_text(json.dumps({"phase_cycles": phase_cycles, "reads": reads,
                                                 "config_cycles": config_cycles, "sim": sim,
                                                 "run": run}))


async def _report_stall(ring, ph):
    units = {int(k): v for k, v in ph["units"].items()}
    data = await ring.run(status_reads(units)) if units else []
    raise AssertionError(stall_message(ph["name"], ph["timeout_cycles"], units, data))
