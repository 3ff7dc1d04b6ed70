"""cocotb tests of the PMU (:class:`tb.pmu_top.PMUTestTop` under Verilator).

Two tests, both driven by a JSON file whose path comes through :mod:`tb.env` (``file``) and which
write their measurements to ``result``:

* ``pmu_steps`` — scenario steps (:mod:`tb.pmu_scenarios`): per step, load the
  configuration through the ring (:class:`tb.ring.RingDriver`), start, stream the inputs with
  :class:`tb.stream.StreamSource` / :class:`~tb.stream.StreamSink` under random backpressure
  (:class:`~tb.stream.PauseGenerator`), close token loops, wait for ``done`` under a watchdog that
  names the stalled streams (and reads the unit's stall counters), then read the performance
  counters and compare reads, counters and tokens with the reference model.
* ``pmu_freerun`` — free-running runs: the HDL generators / sink of ``PMUTestTop`` stream the data
  (Python only configures and waits for ``done``), for throughput measurements.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer

from hw.config import AddressMap, ConfigPackets
from tb import env
from tb.clock import reset, start_clock
from tb.ring import RingDriver
from tb.stream import PauseGenerator, StreamSink, StreamSource, unpack_rows

UNIT = 0


def _set_if(dut, name, value):
    if hasattr(dut, name):
        getattr(dut, name).value = value


def _bits_for(step, names):
    b = ConfigPackets()
    for w, v in enumerate(step["config"]):
        b.write(UNIT, AddressMap.CONFIG + w, v)
    for i, v in enumerate(step["args"]):
        b.arg(UNIT, i, v)
    b.clear_counters(UNIT)
    b.start(UNIT)
    return b


async def _read_perf(ring, names):
    b = ConfigPackets()
    for i in range(len(names)):
        b.read(UNIT, AddressMap.PERF + i)
    return dict(zip(names, await ring.run(b)))


def _fmt_vec(v, lanes):
    return "[" + " ".join(f"{x:08x}" for x in unpack_rows([v], 32, lanes)[0]) + "]"


@cocotb.test()
async def pmu_steps(dut):
    args = env.decode()
    data = json.loads(Path(args["file"]).read_text())
    lanes = data["lanes"]
    names = data["perf_names"]
    seed = int(args.get("seed", 1))
    pause = float(args.get("pause", 0.3))
    stall_limit = int(args.get("stall_cycles", 4000))
    clk = start_clock(dut)
    _set_if(dut, "gen_on", 0)
    _set_if(dut, "gen_go", 0)
    await reset(dut)
    ring = RingDriver(dut, clk)

    streams = {}
    for st in data["steps"]:
        for name, items in st["streams"].items():
            streams.setdefault(name, []).extend(items)
    sources = {}
    for i, (name, items) in enumerate(sorted(streams.items())):
        sources[name] = StreamSource(dut, name, clk, PauseGenerator(pause, seed + 10 + i))
        sources[name].send(items)
    sinks = {}
    for st in data["steps"]:
        j = st["read_port"]
        if j is not None and f"vec_out__{j}" not in sinks:
            sinks[f"vec_out__{j}"] = StreamSink(dut, f"vec_out__{j}", clk,
                                                PauseGenerator(pause, seed + 50 + j))
    tok_sinks, tok_srcs = {}, {}
    for st in data["steps"]:
        for name in list(st["expect_tokens"]) + [o for o, _ in st["loops"]]:
            if name not in tok_sinks:
                tok_sinks[name] = StreamSink(dut, name, clk, PauseGenerator(pause / 2, seed + 70))
        for _, name in st["loops"]:
            if name not in tok_srcs:
                tok_srcs[name] = StreamSource(dut, name, clk, PauseGenerator(pause, seed + 80))

    results = []
    pos = {k: 0 for k in sinks}
    for st in data["steps"]:
        label = st["label"]
        tok_start = {k: len(s.items) for k, s in tok_sinks.items()}
        await ring.run(_bits_for(st, names))
        await ClockCycles(clk, 3)
        loops = dict(st["loops"])
        forwarded = {k: 0 for k in loops}
        idle = 0
        last_moves = -1
        cycles = 0
        while not int(dut.done.value):
            await RisingEdge(clk)
            cycles += 1
            for o, i in loops.items():
                n = len(tok_sinks[o].items) - tok_start[o]
                if n > forwarded[o]:
                    tok_srcs[i].send([0] * (n - forwarded[o]))
                    forwarded[o] = n
            moves = sum(c.transfers for c in [*sources.values(), *sinks.values(),
                                              *tok_sinks.values(), *tok_srcs.values()])
            idle = idle + 1 if moves == last_moves else 0
            last_moves = moves
            if idle >= stall_limit:
                perf = await _read_perf(ring, names)
                waiting = [f"{k} has {s.pending} word(s) not accepted" for k, s in sources.items()
                           if s.pending]
                j = st["read_port"]
                if j is not None:
                    got = len(sinks[f"vec_out__{j}"].items) - pos[f"vec_out__{j}"]
                    waiting.append(f"vec_out__{j} delivered {got} of "
                                   f"{len(st['expect_reads'])} vectors")
                stalls = ", ".join(f"{k}={v}" for k, v in perf.items() if "stall" in k or
                                   k in ("wr_vectors", "rd_vectors"))
                raise AssertionError(f"PMU watchdog: step {label!r}: no transfer for "
                                     f"{stall_limit} cycles (busy={int(dut.busy.value)}); "
                                     f"{'; '.join(waiting) or 'no stream pending'}; counters: "
                                     f"{stalls}")
        await ClockCycles(clk, 4)
        perf = await _read_perf(ring, names)
        res = {"label": label, "perf": perf}
        j = st["read_port"]
        if j is not None:
            key = f"vec_out__{j}"
            n = len(st["expect_reads"])
            got = sinks[key].items[pos[key]: pos[key] + n]
            extra = len(sinks[key].items) - pos[key] - n
            pos[key] += n
            assert extra <= 0, f"{label}: {extra} read vector(s) more than the model's {n}"
            assert len(got) == n, f"{label}: {len(got)} read vectors, the model expects {n}"
            exp = st["expect_reads"]
            for t, (a, e) in enumerate(zip(got, exp)):
                if a != e:
                    bad = sum(x != y for x, y in zip(got, exp))
                    raise AssertionError(f"{label}: read vector {t} differs ({bad} of {n}): "
                                         f"expected {_fmt_vec(e, lanes)}, got {_fmt_vec(a, lanes)}")
        for k, v in st["expect_perf"].items():
            assert perf[k] == v, (f"{label}: performance counter {k} = {perf[k]}, the model "
                                  f"says {v} (counters: {perf})")
        toks = {k: s.items[tok_start[k]:] for k, s in tok_sinks.items()
                if len(s.items) > tok_start[k]}
        assert toks == st["expect_tokens"], f"{label}: tokens {toks}, expected {st['expect_tokens']}"
        hw = st["high_water_max"]
        if hw is not None and st["writes"]:
            assert 0 < perf["high_water"] <= hw, \
                f"{label}: high-water {perf['high_water']} words outside 1..{hw}"
        results.append(res)
    for name, s in sources.items():
        assert s.pending == 0, f"{name}: {s.pending} input word(s) never consumed"
    if args.get("result"):
        Path(args["result"]).write_text(json.dumps({"steps": results}))


@cocotb.test()
async def pmu_freerun(dut):
    """Runs: ``{config, args, gen: {port: [n, mode]}, pause_src, pause_sink, addr_mask,
    expect_count, expect_sum}``; the HDL generators feed the PMU, Python waits for done."""
    args = env.decode()
    data = json.loads(Path(args["file"]).read_text())
    names = data["perf_names"]
    lanes = data["lanes"]
    seed = int(args.get("seed", 1))
    clk = start_clock(dut)
    dut.gen_on.value = 1
    dut.gen_go.value = 0
    await reset(dut)
    ring = RingDriver(dut, clk)
    out = []
    for run in data["runs"]:
        for j in range(8):
            _set_if(dut, f"gen_n{j}", 0)
            _set_if(dut, f"gen_mode{j}", 0)
        for j, (n, mode) in run["gen"].items():
            getattr(dut, f"gen_n{j}").value = n
            getattr(dut, f"gen_mode{j}").value = mode
        dut.pause_src.value = run.get("pause_src", 0)
        dut.pause_sink.value = run.get("pause_sink", 0)
        dut.addr_mask.value = run.get("addr_mask", 0xFFFFFFFF)
        dut.seed.value = int(run.get("seed", seed)) & 0xFFFFFFFF
        dut.gen_go.value = 1
        await RisingEdge(clk)
        dut.gen_go.value = 0
        ring.src.start()
        ring.snk.start()
        await ring.run(_bits_for(run, names))
        ring.src.stop()
        ring.snk.stop()
        await ClockCycles(clk, 3)     # the START packet reaches the unit: done falls
        t0 = time.perf_counter()
        limit = run.get("timeout_cycles", 2_000_000)
        if not int(dut.done.value):
            await First(RisingEdge(dut.done), Timer(limit * 10, unit="ns"))
        wall = time.perf_counter() - t0
        if not int(dut.done.value):
            ring.src.start()
            ring.snk.start()
            perf = await _read_perf(ring, names)
            raise AssertionError(f"free-running run {run['label']!r}: not done after {limit} "
                                 f"cycles; sink got {int(dut.snk_count.value)} vectors; "
                                 f"counters {perf}")
        ring.src.start()
        ring.snk.start()
        await ClockCycles(clk, 2)
        perf = await _read_perf(ring, names)
        r = {"label": run["label"], "perf": perf, "wall_s": wall,
             "snk_count": int(dut.snk_count.value), "snk_sum": int(dut.snk_sum.value)}
        if run.get("expect_count") is not None:
            assert r["snk_count"] == run["expect_count"], \
                f"{run['label']}: sink got {r['snk_count']} vectors, expected {run['expect_count']}"
        if run.get("expect_sum") is not None:
            assert r["snk_sum"] == run["expect_sum"], \
                f"{run['label']}: read checksum {r['snk_sum']:#x} != model {run['expect_sum']:#x}"
        for k, v in run.get("expect_perf", {}).items():
            assert perf[k] == v, f"{run['label']}: counter {k} = {perf[k]}, expected {v}"
        out.append(r)
    Path(args["result"]).write_text(json.dumps({"runs": out, "lanes": lanes}))
    _ = np  # numpy is imported for unpack helpers in failure messages
