"""PMU test scenarios: sequences of runs (steps) with inputs and the reference model's expectations.

A *step* is one run of the PMU: a program (assembled), argument registers, input streams, and what
must come out (read vectors, performance counters, tokens). Steps of one scenario list execute in
order in one simulation, so the memory carries over from step to step exactly as in the model
(:class:`tiles.pmu_model.PMUModel`, shared across the list). Everything is JSON-serialisable: the
pytest side builds the list and the cocotb side (:mod:`tb.cocotb_pmu`) or the Amaranth
simulator runner (:mod:`tests.tiles.test_pmu_amsim`) executes it.

Input streams are per port and concatenated over the steps; a step consumes exactly what the model
says it consumes, so later steps' data simply waits in the port.
"""

from __future__ import annotations

import numpy as np

from tb.stream import pack_lanes
from tiles import pmu_asm
from tiles.pmu_asm import PMUProgramError, Program
from tiles.pmu_layout import PERF_COUNTERS
from tiles.pmu_model import ModelRace, PMUModel

__all__ = ["Builder", "random_steps", "EXACT_PERF"]

#: Performance counters whose value the model predicts exactly.
EXACT_PERF = ("wr_vectors", "rd_vectors", "wr_conflicts", "rd_conflicts", "oob")


class Builder:
    """Accumulates steps against one shared model memory."""

    def __init__(self, params, lanes, seed):
        self.params = params
        self.lanes = lanes
        self.rng = np.random.default_rng(seed)
        self.model = PMUModel(params, lanes)
        self.steps = []

    def words(self, n):
        """``n`` random data vectors (``(n, lanes)`` int64 of 32-bit words)."""
        return self.rng.integers(0, 1 << 32, (n, self.lanes), dtype=np.int64)

    def step(self, program, *, label, wdata=None, vec_in=None, scal_in=None, args=(),
             loops=(), extra_wdata=0):
        """Add a run of ``program``. ``wdata``: write vectors (default: as many random vectors as
        the program writes). ``vec_in`` / ``scal_in``: ``{port: items}`` for gather / scatter
        vectors and scalars. ``loops``: ``[(ctrl_out, ctrl_in), ...]`` token loopbacks the
        testbench closes (a consumer / producer acknowledging). Returns the model result."""
        p, L = self.params, self.lanes
        prog = Program.from_dict(program)
        desc = pmu_asm.assemble(prog, p, L)
        if wdata is None and desc["write"]["enable"]:
            c = pmu_asm.cost(prog, p, L)
            wdata = self.words(c.write_vectors + extra_wdata)
        if wdata is None:
            wdata = np.zeros((0, L), np.int64)
        res = self.model.run(desc, wdata, vec_in=vec_in, scal_in=scal_in, args=args)
        used_w = res.consumed["wdata"]
        streams = {}
        wport = desc["write"]["port"]
        if desc["write"]["enable"]:
            streams.setdefault(f"vec_in__{wport}", []).extend(
                pack_lanes(r, 32) for r in np.asarray(wdata)[:used_w])
        for j, items in (vec_in or {}).items():
            n = res.consumed["vec_in"].get(j, 0)
            streams.setdefault(f"vec_in__{j}", []).extend(pack_lanes(r, 32) for r in items[:n])
        for j, items in (scal_in or {}).items():
            n = res.consumed["scal_in"].get(j, 0)
            streams.setdefault(f"scal_in__{j}", []).extend(int(x) & 0xFFFFFFFF for x in items[:n])
        expect_tokens = {f"ctrl_out__{j}": bits for j, bits in res.tokens.items()}
        perf = dict(res.perf)
        perf["tokens_out"] = sum(len(b) for b in res.tokens.values())
        loop_in = {o: i for o, i in loops}
        perf["tokens_in"] = sum(len(res.tokens.get(o, [])) for o in loop_in)
        hw_bound = None
        if desc["sync"]:
            slot_words = L if desc["sync"] == 2 else desc["region"]
            hw_bound = desc["slots"] * slot_words
        step = {
            "label": label,
            "config": [int(w) for w in pmu_asm.config_words(prog, p, L)],
            "args": [int(a) & 0xFFFFFFFF for a in args],
            "streams": streams,
            "read_port": desc["read"]["port"] if desc["read"]["enable"] else None,
            "expect_reads": [pack_lanes(r, 32) for r in res.reads],
            "expect_perf": {k: int(perf[k]) for k in EXACT_PERF + ("tokens_out", "tokens_in")},
            "expect_tokens": expect_tokens,
            "loops": [[f"ctrl_out__{o}", f"ctrl_in__{i}"] for o, i in loops],
            "high_water_max": hw_bound,
            "writes": int(res.perf["wr_vectors"]),
        }
        self.steps.append(step)
        return res

    def dump(self):
        return {"lanes": self.lanes, "perf_names": list(PERF_COUNTERS), "steps": self.steps}


# ------------------------------------------------------------------------------------------
# Random programs
# ------------------------------------------------------------------------------------------

def _rand_pipe(rng, p, L, span, *, max_vectors=24, lane_stride=None, passes=1, port=0,
               at_zero=False):
    """A random affine pipeline whose addresses fit in ``[0, span)``; ``at_zero``: base 0 and
    only non-negative offsets (an N-buffer pass inside its region)."""
    for _ in range(200):
        n = int(rng.integers(1, p.counters + 1))
        counts = [int(rng.integers(1, 5)) for _ in range(n)]
        while np.prod(counts) > max_vectors:
            counts[int(rng.integers(0, n))] = 1
        unit = int(rng.choice([1, L, 2 * L, 3, 5]))
        strides = [int(rng.choice([0, 1, -1, 2, 3, -4])) * unit for _ in range(n)]
        ls = lane_stride if lane_stride is not None else int(rng.choice([1, 1, 2, 3, L, 2 * L, -1]))
        lo = sum(min(0, (c - 1) * s) for c, s in zip(counts, strides)) + min(0, (L - 1) * ls)
        hi = sum(max(0, (c - 1) * s) for c, s in zip(counts, strides)) + max(0, (L - 1) * ls)
        if hi - lo >= span or (at_zero and lo < 0):
            continue
        base = 0 if at_zero else -lo + int(rng.integers(0, span - (hi - lo)))
        return {"counters": [[c, s] for c, s in zip(counts, strides)], "lane_stride": ls,
                "base": base, "passes": passes, "port": port}
    raise RuntimeError("could not draw a pipeline that fits")


def random_steps(b, rounds=1):
    """Random interleaved reads and writes in every mode (strided, skewed, duplicate, fifo,
    N-buffering with N = 1..params.buffers, free-running), with gathers, scalar inputs, argument
    registers and out-of-range accesses."""
    p, L, rng = b.params, b.lanes, b.rng
    cap = p.size_words
    lb = (p.banks - 1).bit_length()

    def add(prog, label, **kw):
        for _ in range(100):
            try:
                return b.step(prog() if callable(prog) else prog, label=label, **kw)
            except (PMUProgramError, ModelRace):
                if not callable(prog):
                    raise
        raise RuntimeError(f"{label}: no valid random program")

    for r in range(rounds):
        # Free running: fill a region, then concurrently read it and write a disjoint one,
        # then read the second region back (strided with a random bank window, and skewed).
        half = cap // 2
        for mode in ("strided", "skewed"):
            def mk_fill(mode=mode):
                k = int(rng.integers(0, 3))
                prog = {"mode": mode, "bank_shift": k, "allow_conflicts": True,
                        "write": _rand_pipe(rng, p, L, half, max_vectors=32)}
                if mode == "skewed":
                    prog["skew_shift"] = int(rng.integers(k + lb, p.addr_bits - lb + 1))
                return prog
            fill = mk_fill()
            add(fill, f"r{r} {mode} fill")

            def mk_rw(fill=fill):
                w = _rand_pipe(rng, p, L, half, max_vectors=32)
                w["base"] += half
                rd = _rand_pipe(rng, p, L, half, max_vectors=32)
                return {**{k: v for k, v in fill.items() if k != "write"}, "write": w, "read": rd}
            add(mk_rw, f"r{r} {mode} concurrent read + write")

            def mk_back(fill=fill):
                rd = _rand_pipe(rng, p, L, half, max_vectors=32)
                rd["base"] += half
                return {**{k: v for k, v in fill.items() if k != "write"}, "read": rd}
            add(mk_back, f"r{r} {mode} read back")

        # N-buffering, N = 1 .. params.buffers, random patterns inside a region.
        for n in range(1, p.buffers + 1):
            def mk_nbuf(n=n):
                region = int(rng.choice([4, 8, 16])) * L
                passes = int(rng.integers(1, 4))
                mode = str(rng.choice(["strided", "skewed"]))
                prog = {"mode": mode, "buffers": n, "region": region, "allow_conflicts": True,
                        "write": _rand_pipe(rng, p, L, region, passes=passes + n - 1,
                                            at_zero=True),
                        "read": _rand_pipe(rng, p, L, region, passes=passes, at_zero=True)}
                if mode == "skewed":
                    prog["skew_shift"] = int(rng.integers(lb, p.addr_bits - lb + 1))
                return prog
            add(mk_nbuf, f"r{r} nbuf N={n}")

        # FIFO of random depth and length.
        depth = int(rng.integers(1, 9))
        length = int(rng.integers(1, 40))
        add({"mode": "fifo", "fifo_depth": depth, "fifo_length": length,
             "write": {"port": 0}, "read": {"port": 0}}, f"r{r} fifo depth {depth}")

        # Duplicate: load a table (broadcast writes), then gather (in and out of range) + affine.
        d = p.words_per_bank
        table = _rand_pipe(rng, p, L, min(d, 16 * L), max_vectors=16, lane_stride=1)
        add({"mode": "duplicate", "write": table}, f"r{r} duplicate table")
        if p.vec_in >= 2:
            n = int(rng.integers(4, 20))
            addrs = rng.integers(0, d + d // 8, (n, L))   # some out of range
            add({"mode": "duplicate",
                 "read": {"counters": [[n, 0]], "lane_stride": 0, "addr_vector": 1}},
                f"r{r} duplicate gather", vec_in={1: addrs.tolist()})
            # gather in strided mode: conflicts resolved over several cycles
            add({"mode": "strided", "allow_conflicts": True,
                 "read": {"counters": [[n, 0]], "lane_stride": 0, "addr_vector": 1}},
                f"r{r} strided gather", vec_in={1: rng.integers(0, cap, (n, L)).tolist()})
            # scatter: per-lane write addresses (some lanes of a vector collide: the highest
            # lane's word is the one kept), then read the region back
            region = min(cap // 4, 16 * L)
            base = int(rng.integers(0, cap - 2 * region))
            sc = rng.integers(0, region, (n, L))
            oob = rng.random((n, L)) < 0.1                            # beyond the memory
            sc[oob] = cap - base + rng.integers(0, 64, int(oob.sum()))
            add({"mode": "strided", "allow_conflicts": True,
                 "write": {"counters": [[n, 0]], "lane_stride": 0, "addr_vector": 1,
                           "base": base}},
                f"r{r} strided scatter", vec_in={1: sc.tolist()})
            add({"mode": "strided", "read": {"counters": [[region // L, L]], "base": base}},
                f"r{r} scatter read back")
        # Scalar inputs and argument registers (run-time bases and strides), out of range.
        if p.scal_in >= 2 and p.args >= 2:
            nv = int(rng.integers(2, 6))
            bases = rng.integers(0, cap - L * (nv + 4), 3)
            addr_s = rng.integers(0, 4 * L, 3 * nv)
            add({"mode": "strided",
                 "write": {"counters": [[nv, "arg:0"]], "base_scalar": 0, "addr_scalar": 1,
                           "passes": 3}},
                f"r{r} scalar bases", scal_in={0: bases.tolist(), 1: addr_s.tolist()},
                args=[L])
            # a run-time base (argument 1) that runs off the end: lanes beyond the memory are
            # counted as out of range and read as 0
            add({"mode": "strided", "read": {"counters": [[nv, "arg:0"]], "base_arg": 1}},
                f"r{r} runtime out of range", args=[L, cap - L * (nv // 2) - 1])
    return b
