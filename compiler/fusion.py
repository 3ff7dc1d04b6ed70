"""Streaming pipelines across phases, and operator fusion (GEMM → softmax → GEMM).

Two parts:

1. :class:`Pipeline` — a kernel's logical dataflow *before* it is cut into phases: PCUs and PMUs
   connected by vector streams, HBM tensors read by AGCU loads and written by AGCU stores, each
   unit tagged with the operator (``op``) it belongs to. :func:`partition` cuts it into phases that
   fit the fabric (PCUs, PMUs, AGCUs, routes): ``mode="fused"`` packs as many consecutive units
   as fit into each phase (everything streams on chip; only streams cut by a phase boundary go
   through HBM), ``mode="per_op"`` additionally starts a new phase at every operator boundary (each
   operator reads its inputs from HBM and writes its result back — the unfused baseline).
   A stream cut by a boundary becomes an AGCU store of the producer's output into a scratch HBM
   tensor and, in each later phase that consumes it, one AGCU load (multicast to its consumers).
   :func:`compile_pipeline` turns the phases into a :class:`compiler.job.Job` with performance
   counter reads (PMU high-water marks, PCU stalls) and clears the counters at every start.
   :func:`model_run` executes a pipeline with the Python PCU model (:mod:`tiles.pcu_model`; PMU
   FIFOs are identities) — the fast, Verilator-free check of a mapping's programs.

   Units must be added in a topological order (every stream goes forward); AGCU loads and stores
   are not placed by the packing — each phase that needs one gets its own AGCU.

2. The fusion benchmark kernel :func:`decoder` — ``Y = softmax(X·W1)·W2`` (a decoder-like chain:
   a projection, a row softmax, a second projection), as three operators:
   * **GEMM 1** ``S = X·W1`` (``X`` M×K bf16-rounded, ``W1`` K×N1 bf16-rounded, fp32
     accumulation): weight-stationary PCUs, ``ceil(K/S)`` in a chain — PCU ``j``'s stage ``s``
     multiplies lane ``j·S + s`` of the X row (``bvec0``, the systolic broadcast) by its weight row
     ``W1[j·S + s, :]`` held as the stage's lane constant (weights arrive with the configuration, so
     no AGCU streams them) and adds the partial sum from the stage before (the previous PCU's
     partial sums on ``vec2`` at stage 0); every PCU forwards the X row untouched (register ``r0``)
     on ``vec_out[1]``, so the chain consumes X in lock step (the chain scheme of
     ``compiler/gemm.py``). The order is :func:`hw.golden.gemm`'s (k = 0, 1, ... in sequence).
   * **softmax** over each row of ``N1 <= L`` columns (one vector per row), four PCUs in a row:
     (1) pad lanes → ``-inf`` (``fmin`` with a lane constant) and the max tree; (2)
     ``p = exp2((x - m)·LOG2E)`` (``m`` broadcast from lane 0, tail ``exp2``); (3) the sum tree and
     tail ``recip``; (4) ``y = p·recip(s)`` (then ``·1.0`` on real lanes / ``·-0.0`` on pad lanes,
     so pads are the additive identity for GEMM 2). Golden: :func:`hw.golden.softmax` (lanes = L).
   * **GEMM 2** ``Y = P·W2`` (fp32 products and accumulation: ``hw.golden.gemm(..., "fp32")``),
     the same chain with ``K = N1``.

   Fused: one phase, the operators connected through PMU FIFOs (stream buffers; their
   high-water marks are reported), intermediates never leave the chip. Unfused (``per_op``): one
   phase per operator, S and P round-trip through HBM. Shapes: ``K, N1, N2 <= L`` (one vector
   per row), ``M`` up to the PCU counter range.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hw import golden
from hw import numerics as nx
from hw.config import AddressMap
from hw.params import ConfigError
from interconnect.router import RouteError
from memory.agcu import agcu_program
from memory.host import DRAMImage
from tiles import pcu_asm, pcu_model
from tiles import pmu_programs as pm
from tiles.pcu_asm import Counter, Out, Program, Stage
from tiles.pcu_isa import PERF_NAMES
from tiles.pmu_layout import PERF_COUNTERS

from .graph import Graph, MappingError, build_phase, clear_before_start, fabric_map
from .hbm import HbmAllocator
from .job import Job
from .protocol import Compiled

__all__ = ["Pipeline", "Tensor", "PhasePlan", "partition", "compile_pipeline", "model_run",
           "linear_loops", "clear_before_start", "decoder_golden",
           "decoder_pipeline", "compile_decoder", "DECODER_LIMITS"]


def _size(nbytes):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if nbytes >= 1 << shift:
            return f"{nbytes / (1 << shift):g} {unit}"
    return f"{nbytes} bytes"


def linear_loops(vectors, cap):
    """An AGCU loop nest walking ``vectors`` consecutive vectors with loop sizes ``<= cap``."""
    if vectors <= cap:
        return [(vectors, 1)]
    for a in range(min(cap, vectors), 0, -1):
        if vectors % a == 0 and vectors // a <= cap:
            return [(a, 1), (vectors // a, a)]
    raise MappingError(f"a stream of {vectors} vectors cannot be walked with AGCU loops of at most "
                       f"{cap} iterations (agcu.counter_bits)")




# ============================================================================================
# Pipelines
# ============================================================================================

@dataclasses.dataclass
class Tensor:
    """An HBM tensor of ``vectors`` L-word vectors at byte address ``base``; ``data`` (``(vectors,
    L)`` uint32 words) for inputs, ``None`` for outputs and scratch."""

    name: str
    base: int
    vectors: int
    data: object = None


@dataclasses.dataclass
class PNode:
    name: str
    kind: str             # "pcu" | "pmu" | "load" | "store"
    program: object       # PCU Program / PMU Program / (Tensor, loops) for load and store
    args: dict
    op: str
    buffer: bool = False  # PMU whose high-water mark counts as the kernel's buffer memory


class Pipeline:
    """A kernel's dataflow across phases (see the module docstring).

    ``params``: the fabric. Its HBM tensors come from one :class:`~compiler.hbm.HbmAllocator`
    (the alignment every mapping uses)."""

    def __init__(self, name, params):
        self.name = name
        self.params = params
        self.lanes = params.lanes
        self.nodes = {}
        self.order = []
        self.edges = []            # (src "unit.vec_out[k]", dst "unit.vec_in[k]", vectors)
        self.tensors = {}
        self.hbm = HbmAllocator(params, name)
        self.useful_ops = 0
        self.ideal_cycles = 0

    # ---- HBM tensors -------------------------------------------------------------------

    def tensor(self, name, data=None, vectors=None):
        """Allocate an HBM tensor: input ``data`` ``(T, L)`` (uint32 words or fp32 values), or
        ``vectors`` for an output / scratch tensor. Raises :class:`MappingError` when HBM is full."""
        L = self.lanes
        if name in self.tensors:
            raise MappingError(f"{self.name}: tensor name {name!r} used twice")
        if data is not None:
            data = np.asarray(data)
            data = nx.fp32_words(data) if data.dtype.kind == "f" else data.astype(np.uint32)
            data = data.reshape(-1, L)
            vectors = data.shape[0]
        nbytes = int(vectors) * 4 * L
        base = self.hbm.alloc(name, nbytes)
        cap = self.hbm.capacity
        if not self.hbm.fits():
            used = sum(t.vectors * 4 * L for t in self.tensors.values())
            raise MappingError(f"{self.name}: HBM tensor {name!r} ({nbytes} bytes) does not fit: "
                               f"the {self.params.name!r} HBM model has {cap} bytes "
                               f"({_size(cap)}), {used} already used by "
                               f"{len(self.tensors)} tensors; use a smaller shape or a configuration "
                               f"with a larger memory")
        t = Tensor(name, base, int(vectors), data)
        self.tensors[name] = t
        return t

    # ---- units -------------------------------------------------------------------------

    def _add(self, name, kind, program, args=None, op=None, buffer=False):
        if name in self.nodes:
            raise MappingError(f"{self.name}: unit name {name!r} used twice")
        self.nodes[name] = PNode(name, kind, program, dict(args or {}), op or name, buffer)
        self.order.append(name)
        return name

    def pcu(self, name, program, args=None, op=None):
        return self._add(name, "pcu", program, args, op)

    def pmu(self, name, program, op=None, buffer=False):
        """A PMU; ``buffer=True``: its high-water mark is part of the kernel's buffer memory."""
        return self._add(name, "pmu", program, None, op, buffer)

    def load(self, name, tensor, loops=None, op=None):
        """An AGCU load of ``tensor`` (default loops: every vector once, in order)."""
        return self._add(name, "load", (tensor, loops), None, op)

    def store(self, name, tensor, loops=None, op=None):
        return self._add(name, "store", (tensor, loops), None, op)

    def connect(self, src, dst, vectors):
        """``src`` ``"unit.vec_out[k]"`` (or ``"load"``: an AGCU load's stream) → ``dst``
        ``"unit.vec_in[k]"`` (or a store's name); ``vectors``: the stream's length."""
        for end in (src, dst):
            unit = end.split(".")[0]
            if unit not in self.nodes:
                raise MappingError(f"{self.name}: connection {src} -> {dst}: no unit {unit!r}")
        s, d = self._port(src, "out"), self._port(dst, "in")
        if self.order.index(s.split(".")[0]) >= self.order.index(d.split(".")[0]):
            raise MappingError(f"{self.name}: connection {src} -> {dst} goes backwards; add "
                               f"units in dataflow order")
        self.edges.append((s, d, int(vectors)))
        return self

    def _port(self, end, side):
        if "." in end:
            return end
        kind = self.nodes[end].kind
        return f"{end}.vec_out[0]" if side == "out" or kind == "load" else f"{end}.vec_in[0]"

    @property
    def compute(self):
        return [n for n in self.order if self.nodes[n].kind in ("pcu", "pmu")]


@dataclasses.dataclass
class PhasePlan:
    """One phase of a partitioned pipeline: its compute units and its :class:`Graph`."""

    units: list
    graph: Graph
    spill_out: list          # source ports stored to scratch tensors in this phase
    spill_in: list           # source ports loaded from scratch tensors in this phase


def _unit(port):
    return port.split(".")[0]


def _spill(src, what):
    """Name of the AGCU that stores (``st``) / loads (``ld``) the scratch tensor of ``src``."""
    return f"{_unit(src)}.out{src.split('[')[1][:-1]}.{what}".replace(".", "_")


def _needs(pipe, members):
    """(pcus, pmus, agcus, loads, stores, spill_in, spill_out) of a phase with ``members``."""
    ms = set(members)
    loads, stores, sp_in, sp_out = set(), set(), set(), set()
    for s, d, _ in pipe.edges:
        su, du = _unit(s), _unit(d)
        skind, dkind = pipe.nodes[su].kind, pipe.nodes[du].kind
        if du in ms and skind == "load":
            loads.add(su)
        elif du in ms and su not in ms:
            sp_in.add(s)
        if su in ms and dkind == "store":
            stores.add(du)
        elif su in ms and du not in ms and dkind != "store":
            sp_out.add(s)
    pcus = sum(pipe.nodes[u].kind == "pcu" for u in ms)
    pmus = sum(pipe.nodes[u].kind == "pmu" for u in ms)
    return pcus, pmus, len(loads) + len(stores) + len(sp_in) + len(sp_out), loads, stores, \
        sp_in, sp_out


def _fits(pipe, members, fmap):
    pcus, pmus, agcus = _needs(pipe, members)[:3]
    have = {"pcu": sum(u.kind == "pcu" for u in fmap.units),
            "pmu": sum(u.kind == "pmu" for u in fmap.units), "agcu": len(fmap.agcus)}
    return pcus <= have["pcu"] and pmus <= have["pmu"] and agcus <= have["agcu"], \
        (pcus, pmus, agcus), have


def _phase_graph(pipe, members, k, scratch):
    """The :class:`Graph` of phase ``k`` (members: compute units)."""
    p = pipe.params
    L = p.lanes
    cap = (1 << p.agcu.counter_bits) - 1
    _, _, _, loads, stores, sp_in, sp_out = _needs(pipe, members)
    g = Graph(f"{pipe.name}.{k}")

    def agcu(name, mode, tensor, loops):
        loops = loops or linear_loops(tensor.vectors, cap)
        try:
            prog = agcu_program(p.agcu, L, p.memory.hbm, mode=mode, base=tensor.base // (4 * L),
                                loops=loops)
        except ConfigError as e:
            raise MappingError(f"{pipe.name}: {name}: {e}") from None
        g.agcu(name, prog)

    for u in pipe.order:
        node = pipe.nodes[u]
        if u in loads:
            agcu(u, "load", *node.program)
    for src in sorted(sp_in):
        agcu(_spill(src, "ld"), "load", scratch[src], None)
    for u in members:
        node = pipe.nodes[u]
        if node.kind == "pcu":
            g.pcu(u, node.program, args=node.args)
        else:
            g.pmu(u, node.program)
    for u in pipe.order:
        if u in stores:
            agcu(u, "store", *pipe.nodes[u].program)
    for src in sorted(sp_out):
        agcu(_spill(src, "st"), "store", scratch[src], None)
    ms = set(members)
    for s, d, _ in pipe.edges:
        su, du = _unit(s), _unit(d)
        if du in ms:
            if su in ms or pipe.nodes[su].kind == "load":
                g.connect(s, d)
            else:
                g.connect(f"{_spill(s, 'ld')}.vec_out[0]", d)
        elif su in ms:
            if pipe.nodes[du].kind == "store":
                g.connect(s, f"{du}.vec_in[0]")
    for src in sorted(sp_out):
        g.connect(src, f"{_spill(src, 'st')}.vec_in[0]")
    g.finish_on(*[n for n, node in g.nodes.items()
                  if node.kind == "agcu" and node.program["mode"] == 1])
    return g


def partition(pipe, mode="fused", fmap=None):
    """Cut ``pipe`` into phases (see the module docstring); returns ``[(PhasePlan, Phase)]``.

    Packing is greedy over the topological order: each phase takes the longest run of the
    remaining compute units that fits the fabric's PCUs, PMUs and AGCUs (counting the AGCU loads
    and stores of scratch tensors at its boundaries) and routes; ``mode="per_op"`` never lets a
    phase span two operators. Scratch tensors for cut streams are allocated in HBM."""
    if mode not in ("fused", "per_op"):
        raise MappingError(f"{pipe.name}: mode = {mode!r}: must be 'fused' or 'per_op'")
    p = pipe.params
    fmap = fmap or fabric_map(p)
    # A PCU output that no edge consumes fills its output buffer and stalls the unit forever:
    # refuse it here instead of letting the simulation watchdog find it.
    used = {src for src, _, _ in pipe.edges}
    for name, node in pipe.nodes.items():
        if node.kind == "pcu":
            for k in sorted(getattr(node.program, "vec_out", {}) or {}):
                if f"{name}.vec_out[{k}]" not in used:
                    raise MappingError(f"{pipe.name}: {name}.vec_out[{k}] is produced but not "
                                       f"connected (it would fill and stall {name}); connect it "
                                       f"or drop it from the program")
    todo = pipe.compute
    groups = []
    while todo:
        n = len(todo)
        if mode == "per_op":
            op = pipe.nodes[todo[0]].op
            n = next((i for i, u in enumerate(todo) if pipe.nodes[u].op != op), len(todo))
        for m in range(n, 0, -1):
            ok, need, have = _fits(pipe, todo[:m], fmap)
            if ok:
                break
        else:
            raise MappingError(f"{pipe.name}: unit {todo[0]!r} alone needs {need[0]} PCUs, "
                               f"{need[1]} PMUs and {need[2]} AGCUs; the fabric {p.name!r} has "
                               f"{have['pcu']}, {have['pmu']} and {have['agcu']} (agcu.count)")
        groups.append((todo[:m], m))
        todo = todo[m:]
    # scratch tensors for every stream cut by a phase boundary (one per source port)
    phase_of = {u: k for k, (members, _) in enumerate(groups) for u in members}
    scratch = {}
    for s, d, vectors in pipe.edges:
        su, du = _unit(s), _unit(d)
        if pipe.nodes[su].kind in ("pcu", "pmu") and pipe.nodes[du].kind in ("pcu", "pmu") \
                and phase_of[su] != phase_of[du] and s not in scratch:
            scratch[s] = pipe.tensor(f"scratch:{s}", vectors=vectors)
    # build (and route) each phase; a phase that does not route is split
    out = []
    k = 0
    pending = [members for members, _ in groups]
    while pending:
        members = pending.pop(0)
        try:
            g = _phase_graph(pipe, members, k, scratch)
            g.useful_ops = 0
            g.ideal_cycles = pipe.ideal_cycles
            phase, _ = build_phase(g, p, fmap)
        except RouteError:
            if len(members) == 1:
                raise
            half = len(members) - 1
            for s, d, vectors in pipe.edges:
                if _unit(s) in members[:half] and _unit(d) in members[half:] and s not in scratch:
                    scratch[s] = pipe.tensor(f"scratch:{s}", vectors=vectors)
            pending[:0] = [members[:half], members[half:]]
            continue
        _, _, _, _, _, sp_in, sp_out = _needs(pipe, members)
        out.append((PhasePlan(list(members), g, sorted(sp_out), sorted(sp_in)), phase))
        k += 1
    return out


def compile_pipeline(pipe, mode="fused", outputs=None, stall_counters=True):
    """Partition ``pipe`` and build the :class:`Job`: the HBM image with every input tensor,
    per-phase reads (``<pmu>.high_water`` for buffer PMUs, ``<pcu>.stall_input`` /
    ``.stall_output``), counters cleared at each start. ``outputs``: ``{name: Tensor}`` fetched
    after the last phase. Returns ``(job, plans, buffer_labels, stall_labels)``."""
    p = pipe.params
    L = p.lanes
    planned = partition(pipe, mode)
    phases, buf, stall = [], set(), set()
    for plan, phase in planned:
        clear_before_start(phase)
        for name, node in plan.graph.nodes.items():
            if node.kind == "pmu" and pipe.nodes[name].buffer:
                phase.reads[f"{name}.high_water"] = (node.site.id, AddressMap.PERF +
                                                     PERF_COUNTERS.index("high_water"))
                buf.add(f"{name}.high_water")
            elif node.kind == "pcu" and stall_counters:
                for ctr in ("stall_input", "stall_output"):
                    phase.reads[f"{name}.{ctr}"] = (node.site.id,
                                                    AddressMap.PERF + PERF_NAMES.index(ctr))
                    stall.add(f"{name}.{ctr}")
        phases.append(phase)
    hbm = DRAMImage(p.memory.hbm, "hbm")
    for t in pipe.tensors.values():
        if t.data is not None:
            hbm.place(t.base, t.data)
    outs = {name: (t.base, (t.vectors, L), np.uint32) for name, t in (outputs or {}).items()}
    return Job(phases, hbm, outs), [pl for pl, _ in planned], tuple(sorted(buf)), \
        tuple(sorted(stall))


# ============================================================================================
# Python model of a pipeline (no Verilator)
# ============================================================================================

def _agcu_order(tensor, loops):
    """Vector indices (relative to the tensor) of an AGCU walk (loop 0 innermost)."""
    if not loops:
        return np.arange(tensor.vectors)
    idx = np.zeros(1, np.int64)
    for size, stride in loops:          # each outer loop repeats the inner walk
        idx = (np.arange(size)[:, None] * stride + idx[None, :]).reshape(-1)
    return idx


def model_run(pipe, outputs=None):
    """Run ``pipe`` on the Python PCU model (iteration level, :mod:`tiles.pcu_model`); PMUs must
    be FIFOs (identities). Returns ``{tensor name: (vectors, L) uint32}`` for the stores (all
    stores, or those of ``outputs``)."""
    p = pipe.params
    L = p.lanes
    streams = {}         # source port -> (T, L) words
    results = {}
    for u in pipe.order:
        node = pipe.nodes[u]
        ins = {d: s for s, d, _ in pipe.edges if _unit(d) == u}
        if node.kind == "load":
            t, loops = node.program
            streams[f"{u}.vec_out[0]"] = t.data[_agcu_order(t, loops)]
        elif node.kind == "store":
            (src,) = ins.values()
            t, loops = node.program
            buf = np.zeros((t.vectors, L), np.uint32)
            buf[_agcu_order(t, loops)] = streams[src]
            results[t.name] = buf
        elif node.kind == "pmu":
            if node.program.mode != "fifo":
                raise MappingError(f"model_run: PMU {u}: only FIFO PMUs are modelled")
            (src,) = ins.values()
            streams[f"{u}.vec_out[0]"] = streams[src]
        else:
            asm = pcu_asm.assemble(p.pcu, node.program)
            vec_in = {}
            for d, s in ins.items():
                k = int(d.split("[")[1][:-1])
                vec_in[k] = streams[s]
            args = [node.args.get(i, 0) for i in range(p.pcu.args)]
            r = pcu_model.run(asm, vec_in=vec_in, args=args, max_iterations=1 << 40)
            for k, v in r.vec_out.items():
                streams[f"{u}.vec_out[{k}]"] = v
    if outputs is not None:
        return {n: results[t.name] for n, t in outputs.items()}
    return results


# ============================================================================================
# The fusion benchmark: Y = softmax(X·W1)·W2
# ============================================================================================

#: Shape limits of :func:`decoder` (one vector per row for K, N1, N2).
DECODER_LIMITS = "K, N1, N2 <= L (one vector per row); M >= 1"


def decoder_golden(x, w1, w2, lanes):
    """The golden composition: ``gemm(X, W1, "bf16")`` → ``softmax(·, lanes)`` →
    ``gemm(·, W2, "fp32")`` (:mod:`hw.golden`)."""
    s = golden.gemm(x, w1, dtype="bf16")
    pr = golden.softmax(s, lanes)
    return golden.gemm(pr, w2, dtype="fp32")


def _gemm_chain_programs(params, w, m):
    """PCU programs of a GEMM chain ``C = A·W`` for ``K = W.shape[0] <= L`` products per output,
    weights held as stage constants (weight-stationary, loaded with the configuration): PCU ``j``'s
    stage ``s`` computes ``r1 = A[lane j·S+s] · W[j·S+s, :] + r1`` (``bvec0`` broadcast of the A
    row's lane; the first stage of PCU 0 is a plain product — ``-0.0 + x = x`` exactly, the
    golden's start — the first stage of the others adds the partial sums popped from ``vec2``).
    Rows beyond K are 1.0 (the A row's pad lanes are -0.0: the product is the additive identity),
    columns beyond N are 0. Out: partial sums / results (r1) on ``vec_out[0]``, the A row
    (register r0 = ``vec0``, untouched) on ``vec_out[1]`` for the next PCU. ``w``: fp32 (already
    bf16-rounded for a bf16 GEMM)."""
    S, L = params.pcu.stages, params.lanes
    if L % S:
        raise MappingError(f"gemm chain: L = {L} is not a multiple of the stage count S = {S}")
    k, ncol = w.shape
    n = max(1, -(-k // S))
    full = np.zeros((n * S, L), np.float32)
    full[k:, :ncol] = np.float32(1.0)
    full[:k, :ncol] = w
    progs = []
    for j in range(n):
        stages = []
        for s in range(S):
            row = [np.float32(v) for v in full[j * S + s]]
            if j == 0 and s == 0:
                stages.append(Stage("fmul", a="bvec0", lane=0, b="const", const=row, dst="r1"))
            else:
                stages.append(Stage("fma", a="bvec0", lane=j * S + s, b="const", const=row,
                                    c="vec2" if s == 0 else "r1", dst="r1"))
        vin = {0: "every"}
        if j > 0:
            vin[2] = "every"
        # the A row goes on only to a next PCU (an output nobody consumes would fill and stall)
        vout = {0: Out(reg="r1")} if j == n - 1 else {0: Out(reg="r1"), 1: Out(reg="r0")}
        progs.append(Program(name=f"gemm_chain{j}", counters=[Counter(m)], vec_in=vin,
                             stages=stages, vec_out=vout))
    return progs


def decoder_pipeline(params, x, w1, w2, fused=True):
    """The pipeline of ``Y = softmax(X·W1)·W2`` (see the module docstring); returns
    ``(pipe, out_tensor)``."""
    L, S = params.lanes, params.pcu.stages
    x, w1, w2 = np.asarray(x), np.asarray(w1), np.asarray(w2)
    m, k = x.shape
    n1, n2 = w1.shape[1], w2.shape[1]
    for nm, v in (("K", k), ("N1", n1), ("N2", n2)):
        if not 1 <= v <= L:
            raise MappingError(f"decoder: {nm} = {v}: must be in 1..{L} (one vector per row, "
                               f"L = {L} on {params.name!r}); {DECODER_LIMITS}")
    if w2.shape[0] != n1 or w1.shape[0] != k:
        raise MappingError(f"decoder: shapes X {x.shape}, W1 {w1.shape}, W2 {w2.shape} do not "
                           f"chain")
    ckw = (1 << params.pcu.counter_bits) - 1
    if m > ckw:
        raise MappingError(f"decoder: M = {m}: a PCU counter counts at most {ckw} rows "
                           f"(pcu.counter_bits = {params.pcu.counter_bits})")
    pipe = Pipeline("decoder" + ("" if fused else "_per_op"), params)
    xb = nx.bf16_round(x)
    xp = np.full((m, L), np.float32(-0.0), np.float32)
    xp[:, :k] = xb
    tx = pipe.tensor("x", xp)
    g1 = _gemm_chain_programs(params, nx.bf16_round(w1), m)
    g2 = _gemm_chain_programs(params, nx.fp32(w2), m)
    fifo_depth = params.pmu.banks * params.pmu.words_per_bank // L
    fifo = (lambda: pm.fifo(params.pmu, L, min(64, fifo_depth), length=m)) if fused else None

    def chain(prefix, progs, src, op):
        prev = None
        for j, prog in enumerate(progs):
            name = f"{prefix}{j}"
            pipe.pcu(name, prog, op=op)
            pipe.connect(src if j == 0 else f"{prev}.vec_out[1]", f"{name}.vec_in[0]", m)
            if j:
                pipe.connect(f"{prev}.vec_out[0]", f"{name}.vec_in[2]", m)
            prev = name
        return f"{prev}.vec_out[0]"

    pipe.load("ld_x", tx, op="gemm1")
    s_out = chain("g1_", g1, "ld_x.vec_out[0]", "gemm1")
    if fused:
        pipe.pmu("fifo_s", fifo(), op="softmax", buffer=True)
        pipe.connect(s_out, "fifo_s.vec_in[0]", m)
        s_out = "fifo_s.vec_out[0]"
    lg = L.bit_length() - 1
    pad = [np.float32(np.inf) if i < n1 else np.float32(-np.inf) for i in range(L)]
    one = [np.float32(1.0) if i < n1 else np.float32(-0.0) for i in range(L)]
    nop = [Stage("nop")] * (S - lg - 1)
    sm1 = Program(name="sm_max", counters=[Counter(m)], vec_in={0: "every"},
                  stages=[Stage("fmin", a="r0", b="const", const=pad, dst="r0")] + nop +
                  [Stage("fmax", a="r0" if i == 0 else "r1", b=f"tree({'r0' if i == 0 else 'r1'})",
                         dist=i, dst="r1") for i in range(lg)],
                  vec_out={0: Out(reg="r0"), 1: Out(reg="r1")})
    sm2 = Program(name="sm_exp", counters=[Counter(m)], vec_in={0: "every", 1: "every"},
                  stages=[Stage("fsub", a="vec0", b="bvec1", lane=0, dst="r0"),
                          Stage("fmul", a="r0", b="const", const=nx.LOG2E, dst="r0")],
                  tail=Stage("exp2", a="r0", dst="r0"), vec_out={0: Out(reg="r0")})
    sm3 = Program(name="sm_sum", counters=[Counter(m)], vec_in={0: "every"},
                  stages=[Stage("nop")] * (S - lg) +
                  [Stage("fadd", a="r0" if i == 0 else "r1", b=f"tree({'r0' if i == 0 else 'r1'})",
                         dist=i, dst="r1") for i in range(lg)],
                  tail=Stage("recip", a="r1", dst="r1"),
                  vec_out={0: Out(reg="r0"), 1: Out(reg="r1")})
    sm4 = Program(name="sm_scale", counters=[Counter(m)], vec_in={0: "every", 1: "every"},
                  stages=[Stage("fmul", a="vec0", b="bvec1", lane=0, dst="r0"),
                          Stage("fmul", a="r0", b="const", const=one, dst="r0")],
                  vec_out={0: Out(reg="r0")})
    if lg > S - 1:
        raise MappingError(f"decoder: the softmax max tree needs 1 + log2(L) = {lg + 1} stages, "
                           f"the PCU has {S}")
    pipe.pcu("sm_max", sm1, op="softmax")
    pipe.connect(s_out, "sm_max.vec_in[0]", m)
    pipe.pcu("sm_exp", sm2, op="softmax")
    pipe.connect("sm_max.vec_out[0]", "sm_exp.vec_in[0]", m)
    pipe.connect("sm_max.vec_out[1]", "sm_exp.vec_in[1]", m)
    pipe.pcu("sm_sum", sm3, op="softmax")
    pipe.connect("sm_exp.vec_out[0]", "sm_sum.vec_in[0]", m)
    pipe.pcu("sm_scale", sm4, op="softmax")
    pipe.connect("sm_sum.vec_out[0]", "sm_scale.vec_in[0]", m)
    pipe.connect("sm_sum.vec_out[1]", "sm_scale.vec_in[1]", m)
    p_out = "sm_scale.vec_out[0]"
    if fused:
        pipe.pmu("fifo_p", fifo(), op="gemm2", buffer=True)
        pipe.connect(p_out, "fifo_p.vec_in[0]", m)
        p_out = "fifo_p.vec_out[0]"
    y_out = chain("g2_", g2, p_out, "gemm2")
    ty = pipe.tensor("y", vectors=m)
    pipe.store("st_y", ty, op="gemm2")
    pipe.connect(y_out, "st_y", m)
    pipe.useful_ops = m * (k * n1 + n1 * n2)
    pipe.ideal_cycles = m
    return pipe, ty


def compile_decoder(params, x, w1, w2, fused=True):
    """Compile the decoder chain (fused: one pipeline packed into as few phases as fit; unfused:
    one phase per operator). Returns a :class:`Compiled` whose output is ``Y`` (M × N2)."""
    pipe, ty = decoder_pipeline(params, x, w1, w2, fused)
    job, plans, buf, stall = compile_pipeline(pipe, "fused" if fused else "per_op", {"y": ty})
    m, n2 = np.asarray(x).shape[0], np.asarray(w2).shape[1]
    pcus = max(sum(pipe.nodes[u].kind == "pcu" for u in pl.units) for pl in plans)

    def output(outs):
        return nx.from_bits(outs["y"][:m, :n2])

    notes = (f"{'fused' if fused else 'per-op'}: {len(plans)} phase(s): " +
             " | ".join("+".join(pl.units) for pl in plans))
    return Compiled(job=job, output=output, golden_lanes=params.lanes,
                    useful_ops=pipe.useful_ops, peak_ops_per_cycle=0.0,
                    units={"pcu": pcus}, buffer_reads=buf, stall_reads=stall, notes=notes)
