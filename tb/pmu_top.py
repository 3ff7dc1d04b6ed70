"""Simulation top for the PMU: the unit's own ports plus HDL-side stream generators and a sink,
so one Verilator build serves Python-driven tests (cocotb drives the ports) and free-running
measurements (Python configures through the ring, then waits for ``done``).

Ports: everything of :class:`tiles.pmu.PMU` under the same names, plus

==================  ===========================================================================
``gen_on``          1: ``vec_in[j]`` is fed by the HDL generator ``j`` (the top port's ready is
                    0), ``vec_out[0]`` by the HDL sink (``vec_out__0__valid`` reads 0)
``gen_n<j>``        vectors generator ``j`` sends after ``gen_go``
``gen_mode<j>``     0: data vectors, lane ``i`` of vector ``t`` = ``(j << 24) + t·L + i``;
                    1: random addresses, ``xorshift32`` words masked with ``addr_mask``
``gen_go``          pulse: restart the generators' and the sink's counts and seeds
``pause_src``       pause probability of every generator, in 1/256 (xorshift32, ``seed``)
``pause_sink``      pause probability of the sink, in 1/256
``snk_count``       vectors the sink accepted since ``gen_go``
``snk_sum``         sum of all their lane words modulo 2**32 (a checksum the model reproduces)
``src_sent<j>``     vectors generator ``j`` sent
==================  ===========================================================================
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.net import unit_members
from hw.util import xorshift32, xorshift32_rtl
from tb import env, runner
from tiles import pmu_asm
from tiles.pmu import PMU
from tiles.pmu_layout import PERF_COUNTERS
from tiles.pmu_model import PMUModel

__all__ = ["PMUTestTop", "data_word"]


def data_word(port, t, lane, lanes):
    """Lane ``lane`` of the ``t``-th data vector of generator ``port`` (``gen_mode`` 0)."""
    return ((port << 24) + t * lanes + lane) & 0xFFFFFFFF


class PMUTestTop(wiring.Component):
    """:class:`PMU` with HDL stream generators / sink for free-running tests (module docstring)."""

    def __init__(self, params, lanes, unit_id=0):
        self.pmu = PMU(params, lanes, unit_id)
        self.params = params
        self.lanes = lanes
        p = params
        members = unit_members(lanes, p.vec_in, p.vec_out, p.scal_in, p.scal_out,
                               p.ctrl_in, p.ctrl_out)
        members.update({"gen_on": In(1), "gen_go": In(1), "pause_src": In(8),
                        "pause_sink": In(8), "seed": In(32), "addr_mask": In(32),
                        "snk_count": Out(32), "snk_sum": Out(32)})
        for j in range(p.vec_in):
            members[f"gen_n{j}"] = In(32)
            members[f"gen_mode{j}"] = In(1)
            members[f"src_sent{j}"] = Out(32)
        super().__init__(members)

    def elaborate(self, platform):
        p = self.params
        L = self.lanes
        m = Module()
        m.submodules.pmu = pmu = self.pmu
        for name in ("cfg_i",):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(pmu, name))
        wiring.connect(m, pmu.cfg_o, wiring.flipped(self.cfg_o))
        m.d.comb += [self.busy.eq(pmu.busy), self.done.eq(pmu.done)]
        for j in range(p.scal_in):
            wiring.connect(m, wiring.flipped(self.scal_in[j]), pmu.scal_in[j])
        for j in range(p.scal_out):
            wiring.connect(m, pmu.scal_out[j], wiring.flipped(self.scal_out[j]))
        for j in range(p.ctrl_in):
            wiring.connect(m, wiring.flipped(self.ctrl_in[j]), pmu.ctrl_in[j])
        for j in range(p.ctrl_out):
            wiring.connect(m, pmu.ctrl_out[j], wiring.flipped(self.ctrl_out[j]))
        on = self.gen_on

        # Generators on vec_in[j].
        for j in range(p.vec_in):
            top, dst = self.vec_in[j], pmu.vec_in[j]
            sent = getattr(self, f"src_sent{j}")
            n = getattr(self, f"gen_n{j}")
            mode = getattr(self, f"gen_mode{j}")
            rng = Signal(32, name=f"src_rng{j}")
            arng = Signal(32, name=f"addr_rng{j}")
            m.d.sync += rng.eq(xorshift32_rtl(m, rng))
            pause = rng[:8] < self.pause_src
            valid = Signal(name=f"gen_valid{j}")
            m.d.comb += valid.eq((sent < n) & ~pause & ~self.gen_go)
            fire = dst.valid & dst.ready
            with m.If(on):
                m.d.comb += [dst.valid.eq(valid), top.ready.eq(0)]
                for i in range(L):
                    rot = Cat(arng[(5 * i) % 32:], arng[:(5 * i) % 32])
                    m.d.comb += dst.payload[i].eq(
                        Mux(mode, rot & self.addr_mask, (j << 24) + sent * L + i))
                with m.If(fire):
                    m.d.sync += [sent.eq(sent + 1), arng.eq(xorshift32_rtl(m, arng))]
            with m.Else():
                m.d.comb += [dst.valid.eq(top.valid), dst.payload.eq(top.payload),
                             top.ready.eq(dst.ready)]
            with m.If(self.gen_go):
                m.d.sync += [sent.eq(0), rng.eq((self.seed + 0x1234567 * (j + 1)) | 1),
                             arng.eq((self.seed ^ (0x9E3779B9 >> j)) | 1)]

        # Sink on vec_out[0]; other outputs pass through.
        for j in range(p.vec_out):
            src, top = pmu.vec_out[j], self.vec_out[j]
            if j:
                wiring.connect(m, src, wiring.flipped(top))
                continue
            srng = Signal(32)
            m.d.sync += srng.eq(xorshift32_rtl(m, srng))
            spause = srng[:8] < self.pause_sink
            with m.If(on):
                m.d.comb += [src.ready.eq(~spause & ~self.gen_go), top.valid.eq(0)]
                with m.If(src.valid & src.ready):
                    total = 0
                    for i in range(L):
                        total = total + src.payload[i]
                    m.d.sync += [self.snk_count.eq(self.snk_count + 1),
                                 self.snk_sum.eq(self.snk_sum + total)]
            with m.Else():
                m.d.comb += [top.valid.eq(src.valid), top.payload.eq(src.payload),
                             src.ready.eq(top.ready)]
            with m.If(self.gen_go):
                m.d.sync += [self.snk_count.eq(0), self.snk_sum.eq(0),
                             srng.eq((self.seed ^ 0x5A5A5A5A) | 1)]
        return m


# ------------------------------------------------------------------------------------------
# Free-running runs (Python side): expected results from the reference model
# ------------------------------------------------------------------------------------------

def _rotr(x, k):
    k %= 32
    return ((x >> k) | (x << (32 - k))) & 0xFFFFFFFF if k else x


def generated_vectors(port, n, mode, lanes, seed, addr_mask):
    """The ``n`` vectors HDL generator ``port`` sends after ``gen_go`` (Python twin)."""
    if mode == 0:
        return [[data_word(port, t, i, lanes) for i in range(lanes)] for t in range(n)]
    state = (seed ^ (0x9E3779B9 >> port)) | 1
    out = []
    for _ in range(n):
        out.append([_rotr(state, 5 * i) & addr_mask for i in range(lanes)])
        state = xorshift32(state)
    return out


def freerun_run(params, lanes, program, *, label, seed=1, gen=None, pause_src=0, pause_sink=0,
                addr_mask=0xFFFFFFFF, model=None, args=(), check=True):
    """One free-running run of ``program``: generator settings (``gen``: ``{port: (n, mode)}``,
    default: as many data vectors on the write port as the program writes) and the reference
    model's expectations (sink count and checksum, exact counters). ``model``: a
    :class:`tiles.pmu_model.PMUModel` carrying the memory across runs."""

    desc = pmu_asm.assemble(program, params, lanes)
    c = pmu_asm.cost(program, params, lanes)
    if gen is None:
        gen = {desc["write"]["port"]: (c.write_vectors, 0)} if desc["write"]["enable"] else {}
    vec = {j: generated_vectors(j, n, mode, lanes, seed, addr_mask) for j, (n, mode) in gen.items()}
    model = model or PMUModel(params, lanes)
    wport = desc["write"]["port"]
    res = model.run(desc, vec.get(wport, []) if desc["write"]["enable"] else [],
                    vec_in={j: v for j, v in vec.items()
                            if not (desc["write"]["enable"] and j == wport)}, args=args)
    run = {"label": label, "config": [int(w) for w in pmu_asm.config_words(program, params, lanes)],
           "args": [int(a) & 0xFFFFFFFF for a in args], "seed": seed,
           "gen": {str(j): [int(n), int(mode)] for j, (n, mode) in gen.items()},
           "pause_src": pause_src, "pause_sink": pause_sink, "addr_mask": addr_mask,
           "vectors": int(max(c.write_vectors, c.read_vectors)),
           "timeout_cycles": 200 * (c.write_vectors + c.read_vectors) + 20_000}
    if check:
        run["expect_count"] = int(len(res.reads))
        run["expect_sum"] = int(np.asarray(res.reads, dtype=np.int64).sum()) & 0xFFFFFFFF
        run["expect_perf"] = {k: int(v) for k, v in res.perf.items()}
    return run


def design_for(params, lanes, name):
    """The Verilator design of a :class:`PMUTestTop` (cached build keyed by its Verilog)."""
    return runner.Design.from_component(PMUTestTop(params, lanes), name)


def run_freerun(design, params, lanes, runs, seed=1, tmp=None):
    """Simulate free-running ``runs`` (from :func:`freerun_run`) on ``design``; return the list
    of measured runs (``perf`` counters, ``wall_s``, sink count / checksum)."""

    with tempfile.TemporaryDirectory(prefix="rdu-pmu-free-", dir=tmp) as d:
        d = Path(d)
        (d / "runs.json").write_text(json.dumps({"lanes": lanes, "perf_names": list(PERF_COUNTERS),
                                                 "runs": runs}))
        runner.simulate(design, "tb.cocotb_pmu", testcase="pmu_freerun", seed=seed,
                        env=env.encode(file=str(d / "runs.json"), result=str(d / "out.json"),
                                       seed=seed), test_dir=d / "sim")
        return json.loads((d / "out.json").read_text())["runs"]
