"""cocotb testbench for a PCU: runs a list of jobs (configure through the ring, stream, compare).

Jobs are prepared by the pytest side (:mod:`tb.pcu_jobs`) in a JSON file named by
``RDU_PCU_JOBS``: per job the config-ring packets, the argument writes, the input streams per port,
the expected output streams per port (bit patterns from ``hw.golden``), expected token counts and
the random backpressure probabilities. One simulation runs many programs on one Verilator build.

Every stream port has a :class:`tb.stream.StreamSource` / :class:`StreamSink` with its own
:class:`PauseGenerator`; the config ring is driven by :class:`tb.ring.RingDriver` (also under
backpressure). A watchdog names the streams that did not finish.
"""

import json
import os

import cocotb
from cocotb.triggers import ClockCycles, SimTimeoutError, with_timeout

from hw.config import AddressMap, ConfigPackets, Packet
from tb.clock import reset, start_clock
from tb.ring import RingDriver
from tb.stream import PauseGenerator, Scoreboard, StreamSink, StreamSource, unpack_lanes

PERIOD = 10


def _ports(dut, prefix):
    n = 0
    while hasattr(dut, f"{prefix}__{n}__valid"):
        n += 1
    return n


@cocotb.test()
async def pcu_jobs(dut):
    spec = json.loads(open(os.environ["RDU_PCU_JOBS"]).read())
    seed = int(os.environ.get("RDU_SEED", "1"))
    lanes = spec["lanes"]
    unit = spec.get("unit", 0)
    clk = start_clock(dut)
    names = {"vec_in": _ports(dut, "vec_in"), "scal_in": _ports(dut, "scal_in"),
             "ctrl_in": _ports(dut, "ctrl_in"), "vec_out": _ports(dut, "vec_out"),
             "scal_out": _ports(dut, "scal_out"), "ctrl_out": _ports(dut, "ctrl_out")}
    pause = spec.get("pause", [0.3, 0.3])
    srcs, snks = {}, {}
    for g in ("vec_in", "scal_in", "ctrl_in"):
        for k in range(names[g]):
            srcs[f"{g}[{k}]"] = StreamSource(dut, f"{g}__{k}", clk,
                                             PauseGenerator(pause[0], seed + len(srcs) + 1))
    for g in ("vec_out", "scal_out", "ctrl_out"):
        for k in range(names[g]):
            snks[f"{g}[{k}]"] = StreamSink(dut, f"{g}__{k}", clk,
                                           PauseGenerator(pause[1], seed + 100 + len(snks)))
    ring = RingDriver(dut, clk, pause=(PauseGenerator(0.2, seed + 7), PauseGenerator(0.2, seed + 8)))
    await reset(dut)
    perf_out = {}
    for job in spec["jobs"]:
        name = job["name"]
        bits = ConfigPackets([Packet.decode(w) for w in job["config"]])
        for i, v in enumerate(job.get("args", [])):
            bits.arg(unit, i, v)
        await ring.run(bits)
        if job.get("clear_perf", True):
            await ring.run(ConfigPackets().clear_counters(unit))
        base = {k: len(s.items) for k, s in snks.items()}
        await ring.run(ConfigPackets().start(unit))
        for g in ("vec_in", "scal_in", "ctrl_in"):
            for k, items in job.get(g, {}).items():
                srcs[f"{g}[{k}]"].send(items)
        want = {}
        for g in ("vec_out", "scal_out"):
            for k, items in job.get(g, {}).items():
                want[f"{g}[{k}]"] = items
        for k, n in job.get("ctrl_out", {}).items():
            want[f"ctrl_out[{k}]"] = n
        limit = job.get("timeout_cycles", 20000)

        async def all_out():
            for key, items in want.items():
                n = items if isinstance(items, int) else len(items)
                await snks[key].wait_for(base[key] + n)
            for key, s in srcs.items():
                await s.wait_idle()
        try:
            await with_timeout(all_out(), limit * PERIOD, "ns")
        except SimTimeoutError:
            stuck = []
            for key, items in want.items():
                n = items if isinstance(items, int) else len(items)
                got = len(snks[key].items) - base[key]
                if got < n:
                    stuck.append(f"{key} produced {got} of {n}")
            for key, s in srcs.items():
                if s.pending:
                    stuck.append(f"{key} still has {s.pending} words not accepted")
            st = await ring.run(ConfigPackets().read(unit, AddressMap.CONTROL))
            raise AssertionError(f"watchdog: job {name!r} stalled after {limit} cycles: "
                                 f"{'; '.join(stuck) or 'outputs complete but inputs pending'} "
                                 f"(PCU control status busy={st[0] & 1} done={st[0] >> 1 & 1})")
        # wait for done, then check
        for _ in range(200):
            st = (await ring.run(ConfigPackets().read(unit, AddressMap.CONTROL)))[0]
            if st & 2 or job.get("free_running"):
                break
            await ClockCycles(clk, 10)
        else:
            raise AssertionError(f"job {name!r}: all outputs arrived but done never rose "
                                 f"(status {st:#x})")
        for key, items in want.items():
            got = snks[key].items[base[key]:]
            if isinstance(items, int):
                assert len(got) == items, f"job {name!r}: {key}: {len(got)} tokens, expected {items}"
                continue
            width = 32
            fmt = (lambda v: str([hex(x) for x in unpack_lanes(v, width, lanes)])) \
                if key.startswith("vec") else hex
            Scoreboard(f"job {name!r} {key}", fmt).check(items, got)
        if job.get("perf"):
            n = job["perf"]
            bits = ConfigPackets()
            for i in range(n):
                bits.read(unit, AddressMap.PERF + i)
            perf_out[name] = await ring.run(bits)
        await ClockCycles(clk, 5)
        # Nothing extra may come out after the expected items.
        for key, items in want.items():
            if not isinstance(items, int):
                extra = len(snks[key].items) - base[key] - len(items)
                assert extra == 0, f"job {name!r}: {key} produced {extra} unexpected extra items"
    if spec.get("perf_file"):
        with open(spec["perf_file"], "w") as f:
            json.dump(perf_out, f)
