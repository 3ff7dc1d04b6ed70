"""Board kernels that do not go through the compiler: GEMM and 1-D convolution on the smoke MAC
units (:mod:`fpga.smoke`, ``--design smoke``), laid out, loaded, run and checked through
:class:`fpga.host.Host`, and vector traffic through a fabric of test units (``--design
fabric-test``). The compiler's kernels run on the ``kernel`` design through
:class:`fpga.executor.BoardExecutor`.

The flow is the same as ``rdu run``'s: a *plan* (memory image + configuration packets + expected
results) is built in Python; the host writes the tensors, loads the configuration packets, starts
(a ring broadcast START), waits for done, reads the results and the performance counters, and
checks them **bit-exactly** against the golden model (:func:`hw.golden.mac_lanes`,
the MAC pipeline's model) and against an independent numpy reference (``np.matmul`` /
``np.correlate`` in int64, wrapped to 32 bits). The same code runs against a board
(``rdu fpga run``) and under Verilator (``tests/fpga``).

* ``gemm``: ``C = A·B`` (int16 inputs, int32 wrapping accumulation). Output row ``i``, lanes ``j``:
  the MAC's ``a`` lanes carry ``A[i, k]`` broadcast, ``b`` lanes ``B[k, j0:j0+L]``,
  ``acc_len = K``. ``N`` is padded to a multiple of ``L``. Rows are split across the units.
* ``conv1d``: ``y[t] = Σ_k h[k]·x[t+k]`` (``np.correlate(x, h, "valid")``): ``a`` lanes carry
  ``h[k]``, ``b`` lanes ``x[t0 + l + k]``, ``acc_len = taps``; output blocks split across units.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from fpga.fabric_duc import STREAM_PORT_LAYOUT
from fpga.smoke import SMOKE_COUNTERS, SMOKE_LAYOUT
from hw import numerics as nx
from hw.config import BROADCAST, AddressMap, ConfigPackets, config_words
from hw.golden import mac_lanes
from interconnect.floorplan import FabricMap
from tb.mesh_traffic import random_plan

__all__ = ["KernelPlan", "KERNELS", "gemm", "conv1d", "run_plan", "KernelMismatch", "TrafficPlan",
           "fabric_traffic", "run_fabric_traffic"]


class KernelMismatch(AssertionError):
    pass


@dataclasses.dataclass
class _UnitJob:
    unit: int
    src: int
    dst: int
    a: np.ndarray       # (T, L) MAC a-lane inputs
    b: np.ndarray       # (T, L)
    acc_len: int

    @property
    def n_in(self):
        return self.a.shape[0]

    @property
    def n_out(self):
        return self.n_in // self.acc_len


@dataclasses.dataclass
class KernelPlan:
    """Everything a run needs: per-unit jobs (inputs, addresses), how to assemble the result, and
    the independent reference result."""

    name: str
    lanes: int
    jobs: list
    assemble: object            # callable: list of (n_out, L) int arrays per job -> result array
    reference: np.ndarray       # independent numpy result (int64 wrapped to int32)
    shape: dict

    @property
    def mem_words(self):
        return max(j.dst + j.n_out * self.lanes for j in self.jobs)

    def memory_image(self):
        """``[(addr, words)]`` to write: each job's input vectors, ``a`` lanes then ``b`` lanes."""
        out = []
        for j in self.jobs:
            words = np.concatenate([j.a, j.b], axis=1).astype(np.int64).ravel()
            out.append((j.src, words))
        return out

    def packets(self):
        """Configuration of every unit, then a broadcast START."""
        b = ConfigPackets()
        for j in self.jobs:
            b.config(j.unit, SMOKE_LAYOUT, {"src": j.src, "dst": j.dst, "n_in": j.n_in,
                                            "acc_len": j.acc_len})
        return b

    def golden(self):
        """The bit-exact model's result (the MAC pipeline's golden model per job)."""
        return self.assemble([mac_lanes(j.a, j.b, j.acc_len, 32) for j in self.jobs])


def _place(name, lanes, units, pieces, acc_len, assemble, reference, shape, first_unit=1):
    """Split ``pieces`` (a list of (a, b) blocks, each (acc_len, L)) over units; lay out memory."""
    per = -(-len(pieces) // units)
    jobs = []
    addr = 0
    for u in range(units):
        mine = pieces[u * per:(u + 1) * per]
        if not mine:
            continue
        a = np.concatenate([p[0] for p in mine])
        b = np.concatenate([p[1] for p in mine])
        src = addr
        addr += a.shape[0] * 2 * lanes
        dst = addr
        addr += len(mine) * lanes
        jobs.append(_UnitJob(first_unit + u, src, dst, a, b, acc_len))
    return KernelPlan(name, lanes, jobs, assemble, reference, shape)


def _rand(rng, shape, bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    x = rng.integers(lo, hi + 1, shape)
    flat = x.reshape(-1)
    if flat.size >= 2:
        flat[0], flat[1] = lo, lo   # the most negative corner: lo*lo is the largest product
    return x


def gemm(lanes, units, M=4, N=8, K=8, seed=0, in_bits=16):
    """GEMM ``(M×K)·(K×N)`` on the smoke units."""
    rng = np.random.default_rng(seed)
    A = _rand(rng, (M, K), in_bits)
    B = _rand(rng, (K, N), in_bits)
    nb = -(-N // lanes)
    Bp = np.zeros((K, nb * lanes), np.int64)
    Bp[:, :N] = B
    pieces = []
    for i in range(M):
        for jb in range(nb):
            a = np.repeat(A[i][:, None], lanes, axis=1)             # (K, L)
            b = Bp[:, jb * lanes:(jb + 1) * lanes]                   # (K, L)
            pieces.append((a, b))

    def assemble(outs):
        rows = np.concatenate(outs).reshape(M, nb * lanes)
        return rows[:, :N]
    ref = nx.wrap(A.astype(np.int64) @ B.astype(np.int64), 32)
    return _place("gemm", lanes, units, pieces, K, assemble, ref, {"M": M, "N": N, "K": K})


def conv1d(lanes, units, n=32, taps=5, seed=0, in_bits=16):
    """1-D correlation (``valid``) of ``n`` samples with ``taps`` taps on the smoke units."""
    if taps > n:
        raise ValueError(f"conv1d: taps = {taps}: must be <= n = {n}")
    rng = np.random.default_rng(seed)
    x = _rand(rng, (n,), in_bits)
    h = _rand(rng, (taps,), in_bits)
    n_out = n - taps + 1
    nb = -(-n_out // lanes)
    xp = np.zeros(nb * lanes + taps, np.int64)
    xp[:n] = x
    pieces = []
    for tb in range(nb):
        a = np.repeat(h[:, None], lanes, axis=1)                                   # (taps, L)
        b = np.stack([xp[tb * lanes + k: tb * lanes + k + lanes] for k in range(taps)])
        pieces.append((a, b))

    def assemble(outs):
        return np.concatenate(outs).reshape(-1)[:n_out]
    ref = nx.wrap(np.correlate(x.astype(np.int64), h.astype(np.int64), "valid"), 32)
    return _place("conv1d", lanes, units, pieces, taps, assemble, ref, {"n": n, "taps": taps})


KERNELS = {"gemm": gemm, "conv1d": conv1d}


def run_plan(host, plan, timeout=10.0, log=None):
    """Run ``plan`` through ``host``: write tensors, configure, start, wait, read back, check.

    Returns a dict (kernel, shape, cycles, counters per unit, bytes moved, wall seconds). Raises
    :class:`KernelMismatch` naming the first differing element if the result is not bit-exact.
    """
    t0 = time.perf_counter()
    say = log or (lambda *_: None)
    info = host.info()
    if plan.mem_words > info.mem_words:
        raise ValueError(f"{plan.name} {plan.shape}: needs {plan.mem_words} words of board memory; "
                         f"the bitstream has {info.mem_words} (mem_words)")
    for addr, words in plan.memory_image():
        host.write_mem(addr, words)
    say(f"{plan.name}: wrote {sum(len(w) for _, w in plan.memory_image())} words")
    # configure, read the configuration back, then start every unit with one broadcast
    bits = plan.packets()
    for j in plan.jobs:
        for w in range(3):
            bits.read(j.unit, AddressMap.CONFIG + w)
    got = host.load_packets(bits)
    for i, j in enumerate(plan.jobs):
        want = config_words(SMOKE_LAYOUT, {"src": j.src, "dst": j.dst, "n_in": j.n_in,
                                           "acc_len": j.acc_len})
        if got[3 * i:3 * i + 3] != want:
            raise KernelMismatch(f"{plan.name}: unit {j.unit} config read back {got[3 * i:3 * i + 3]}"
                                 f" != written {want}")
    host.load_packets(ConfigPackets().start(BROADCAST))
    st = host.wait_done(timeout)
    say(f"{plan.name}: done after {st.run_cycles} cycles")
    outs = []
    counters = {}
    for j in plan.jobs:
        raw = host.read_mem(j.dst, j.n_out * plan.lanes).astype(np.int64)
        outs.append(nx.wrap(raw, 32).reshape(j.n_out, plan.lanes))
        counters[j.unit] = dict(zip(SMOKE_COUNTERS, host.read_counters(j.unit,
                                                                       len(SMOKE_COUNTERS))))
    result = plan.assemble(outs)
    for what, expected in (("golden model", plan.golden()), ("numpy reference", plan.reference)):
        if result.shape != expected.shape or not np.array_equal(result, expected):
            bad = np.argwhere(result != expected) if result.shape == expected.shape else []
            where = f" first at {tuple(bad[0])}: got {result[tuple(bad[0])]}, expected " \
                    f"{expected[tuple(bad[0])]} ({len(bad)} differ)" if len(bad) else \
                f" shapes {result.shape} vs {expected.shape}"
            raise KernelMismatch(f"{plan.name} {plan.shape}: board result != {what}:{where}")
    macs = sum(j.n_in * plan.lanes for j in plan.jobs)
    return {"kernel": plan.name, "shape": plan.shape, "units": len(plan.jobs),
            "run_cycles": st.run_cycles, "macs": macs,
            "macs_per_cycle": round(macs / max(st.run_cycles, 1), 3),
            "counters": counters, "bit_exact": True, "host": dict(host.stats),
            "wall_s": round(time.perf_counter() - t0, 3)}


# ------------------------------------------------------------------------------------------
# fabric traffic: the fabric (test units) behind the bridge, data through the AGCU slots
# ------------------------------------------------------------------------------------------

@dataclasses.dataclass
class TrafficPlan:
    """Vector flows through a fabric of test units (:func:`tb.mesh_traffic.random_plan`),
    entering and leaving at AGCU slots served by :class:`fpga.fabric_duc.StreamPort`s.
    ``sources`` / ``sinks``: ``{slot index: payload ints}``; ``ports``: slot index → ring id."""

    plan: object
    lanes: int
    ports: dict
    sources: dict
    sinks: dict
    region: int = 256      # memory words per slot and direction

    def base(self, slot, direction):
        return (2 * slot + (direction == "out")) * self.region


def fabric_traffic(params, seed=0, count=12, flows=6):
    """A routable plan with at least one flow from and one flow to the host (AGCU slots)."""
    fmap = FabricMap(params)
    ports = {a.index: a.id for a in fmap.agcus}
    for attempt in range(200):
        rng = np.random.default_rng(seed * 1000 + attempt)
        plan = random_plan(fmap, rng, flows=flows, count=(count, count), networks=("vector",),
                           host=True)
        src = {slot: words for net, slot, words, _ in plan.host_sources()}
        snk = {slot: words for net, slot, words, _ in plan.host_sinks()}
        if src and snk:
            return TrafficPlan(plan, params.lanes, ports, src, snk)
    raise ValueError(f"fabric_traffic: no plan with host sources and sinks for {params.name}")


def _lanes_of(payload, lanes):
    return [(payload >> (32 * i)) & 0xFFFFFFFF for i in range(lanes)]


def run_fabric_traffic(host, tp, timeout=10.0):
    """Load the sources' vectors, configure the fabric (switches from the router, test units) and
    the stream ports, start everything with one broadcast, wait for done; check what the host
    sinks received and every test unit's counters. Returns a summary dict."""
    L = tp.lanes
    for slot, payloads in tp.sources.items():
        words = [w for p in payloads for w in _lanes_of(p, L)]
        host.write_mem(tp.base(slot, "in"), words)
    bits = tp.plan.config().load(fence=False)
    for slot, uid in tp.ports.items():
        bits.config(uid, STREAM_PORT_LAYOUT, {
            "rd_base": tp.base(slot, "in"), "wr_base": tp.base(slot, "out"),
            "rd_vectors": len(tp.sources.get(slot, ())),
            "wr_vectors": len(tp.sinks.get(slot, ()))})
    host.load_packets(bits)
    host.load_packets(ConfigPackets().start(BROADCAST))
    st = host.wait_done(timeout)
    for slot, payloads in tp.sinks.items():
        got = host.read_mem(tp.base(slot, "out"), len(payloads) * L).astype(np.int64)
        want = np.array([w for p in payloads for w in _lanes_of(p, L)], np.int64)
        if not np.array_equal(got, want):
            bad = np.argwhere(got != want)[0][0]
            raise KernelMismatch(f"fabric traffic: AGCU slot {slot} received word {bad} = "
                                 f"0x{got[bad]:08x}, expected 0x{want[bad]:08x}")
    exp = tp.plan.expected()
    b = ConfigPackets()
    for unit, name, value, what in exp:
        b.read(unit, AddressMap.PERF + tp.plan.counter_index(unit, name))
    got = host.load_packets(b) if len(b) else []
    for (unit, name, value, what), g in zip(exp, got):
        if g != value:
            raise KernelMismatch(f"fabric traffic: unit {unit} counter {name} = {g}, expected "
                                 f"{value} ({what})")
    return {"kernel": "fabric_traffic", "flows": len(tp.plan.flows),
            "host_sources": len(tp.sources), "host_sinks": len(tp.sinks),
            "counters_checked": len(exp), "run_cycles": st.run_cycles}
