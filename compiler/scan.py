"""Scan kernels on the fabric: inclusive prefix sum, first-order linear recurrence, Mamba selective
scan — each with the PCU ``scan`` extension and without it (``baseline=True``), same bits.

``compile(req, params, inputs, baseline=False)`` → :class:`compiler.protocol.Compiled` for the
kernels ``scan`` (fp32 / int32), ``linear_scan`` and ``mamba`` (see ``docs/compiler.md``).

Order (what makes the bits): both mappings evaluate the order of the ``scan`` extension over L
lanes (:func:`hw.golden.order.scan_add` / :func:`~hw.golden.order.scan_pairs`): Kogge-Stone
inside each group of L consecutive elements (``d = 1, 2, … < L``: ``y[i] = y[i-d] ∘ y[i]`` for
``i ≥ d``), then every lane combined with the carry of the previous groups, the carry being the
sequential fold of the groups' last lanes. ``golden_lanes = L``.

**With the extension** (one pass, one vector of L elements per cycle):

* ``scan``: one PCU — log2 L ``shift`` stages (mask ``ge``) + a ``carry`` stage
  (:func:`tiles.pcu_programs.prefix_sum`).
* ``linear_scan``: the pair operator needs 2·log2 L + 1 stages
  (:func:`tiles.pcu_programs.linear_scan`); when a PCU has fewer, the stage list is cut into a
  chain of PCUs passing the pair ``(A, B)`` on two vector outputs; the carry stage is in the last.

**Baseline** (no ``shift``/``ge``/``carry``: the same Kogge-Stone order through PMUs):

* level ``d`` (one per ``d = 1, 2, … < L``): the vector stream goes straight to a PCU *and* to a
  PMU that writes it one vector per pass (N-buffered) and reads it back with lane offsets
  ``(i - d) mod L`` — the copy shifted by ``d`` lanes within the vector. The PCU combines the two
  and keeps the old value on lanes ``i < d`` with ``sel`` and a per-lane constant (the baseline
  has no ``ge`` mask). Pairs need four operands (``A, B`` and their shifted copies): two PCUs and
  two PMUs per level (``A' = A_s·A``; ``B' = A·B_s + B``).
* carry: a PCU folds the groups' last lanes in its accumulator (``fadd`` / ``add``; ``fma``
  ``acc = acc·A + B`` for pairs) and outputs ``acc_prev`` — the fold of the *previous* groups,
  i.e. the carry each group needs (the accumulator's ``init`` = identity / ``h0`` on a row's
  first group). That carry goes, as a scalar (broadcast to every lane by the consumer), to a
  PCU that applies it: ``out = carry + y`` or ``h = A·carry + B``. When the carry must cross a
  phase boundary (scalars cannot go to HBM), it is broadcast to a vector first (lane L-1 to every
  lane in log2 L ``sel(tree(r), r)`` steps of the baseline reduction tree).

**Phases**: a mapping is a list of units (:class:`Unit`) connected by streams; :func:`pack` puts
as many consecutive units into one fabric configuration as placement and routing allow; streams
that cross a phase boundary go through HBM (AGCU store, AGCU load in a later phase).

**mamba** (lanes along time, one linear scan per (channel, state) row): phase A scans the D·S rows
(extension chain or baseline levels) and multiplies by ``c`` → ``p[d, s, t] = c[t, s]·h[t, d, s]``
in HBM; phase B reads ``p`` state-innermost and folds the states sequentially in a PCU
accumulator, the ``d·x`` term last. The state sum is therefore sequential (``reduce_lanes = 1``
of :func:`hw.golden.selective_scan`; ``Compiled.golden_options``). Tensors are placed in HBM
time-last (``a_bar``, ``bx`` as ``(D, S, T)``, ``c`` as ``(S, T)``, ``x`` as ``(D, T)``, ``d``
broadcast to one vector per channel) and ``y`` comes back as ``(D, T)`` (host-side layout).

Figures of merit (``Compiled``): ``useful_ops`` = elements combined (``scan``: n additions;
``linear_scan``: n pair steps ``h = a·h + b``; ``mamba``: T·D·S scan steps + T·D·S state
products-and-sums + T·D skip terms), ``peak_ops_per_cycle`` = L × the most PCUs used in one
phase (one element per lane per PCU per cycle) — so utilization says how well the PCUs that a
mapping occupies are used.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hw import golden
from hw import numerics as nx
from hw.config import AddressMap
from hw.golden import reference as ref
from hw.util import log2_exact
from interconnect.router import RouteError
from memory.agcu import AGCUConfigError, agcu_program
from tiles import pcu_asm, pcu_model, pmu_asm
from tiles.pcu_asm import Acc, Carry, Counter, In, Out, Program, Stage
from tiles.pcu_isa import PERF_NAMES
from tiles.pmu_asm import Pipe
from tiles.pmu_asm import Program as PMUProgram
from tiles.pmu_asm import perf_index as pmu_perf_index
from tiles.pmu_model import PMUModel

from .graph import Graph, MappingError, build_phase
from .hbm import HbmAllocator, HbmError
from .job import Job
from .protocol import Compiled, KernelSpec, Option

__all__ = ["compile", "Unit", "Plan", "pack", "plan_kernel", "run_model", "Mapping"]

NEG0 = np.float32(-0.0)


# ------------------------------------------------------------------------------------------------
# Plans: units connected by streams
# ------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Stream:
    """A stream of vectors (or scalars) between units; ``shape``: its vector counts, innermost
    first (the AGCU loop nest when it is spilled to HBM)."""

    name: str
    shape: tuple
    scalar: bool = False

    @property
    def vectors(self):
        return int(np.prod(self.shape))


@dataclasses.dataclass
class Unit:
    """A logical PCU or PMU: ``ins`` / ``outs`` map its ports (``"vec_in[0]"``) to stream names;
    ``iters``: iterations (vectors) it processes — its ideal cycle count."""

    name: str
    kind: str
    program: object
    ins: dict
    outs: dict
    iters: int = 0


@dataclasses.dataclass
class Tensor:
    """A stream's home in HBM: ``base`` (vector address) and the AGCU ``loops``."""

    base: int
    loops: list


@dataclasses.dataclass
class Plan:
    """Units in dataflow (topological) order; ``loads``: streams read from HBM tensors;
    ``stores``: streams written to HBM tensors."""

    name: str
    units: list
    streams: dict
    loads: dict
    stores: dict


def _valloc(hbm, what, vectors):
    """Reserve ``vectors`` in the shared allocator; the vector address (scan plans address
    tensors in vectors; the allocator's alignment is a whole number of vectors)."""
    return hbm.alloc(what, vectors * hbm.vector_bytes) // hbm.vector_bytes


def _vplace(hbm, what, words):
    """Place the input ``words`` (whole vectors); their vector address."""
    return hbm.place(what, words) // hbm.vector_bytes


def _loops(shape):
    """Contiguous loop nest over a stream of ``shape`` vectors (innermost first)."""
    out, stride = [], 1
    for c in shape:
        if c > 1:
            out.append((int(c), stride))
        stride *= int(c)
    return out or [(1, 1)]


# ------------------------------------------------------------------------------------------------
# Packing a plan into phases
# ------------------------------------------------------------------------------------------------

def _producers(plan):
    prod = {}
    for u in plan.units:
        for port, s in u.outs.items():
            prod[s] = (u, port)
    return prod


def _consumers(plan):
    cons = {}
    for u in plan.units:
        for port, s in u.ins.items():
            cons.setdefault(s, []).append((u, port))
    return cons


def _check_plan(plan):
    prod, cons = _producers(plan), _consumers(plan)
    for s in plan.streams:
        if s not in prod and s not in plan.loads:
            raise AssertionError(f"{plan.name}: stream {s} has no producer")
        if s not in cons and s not in plan.stores:
            raise AssertionError(f"{plan.name}: stream {s} is never consumed")


def _phase_graph(plan, i, j, hbm, spills, params, tag):
    """The fabric graph of units ``plan.units[i:j]``: loads for streams produced elsewhere,
    stores for streams needed elsewhere (spills allocated in ``spills``)."""
    L = params.lanes
    seg = plan.units[i:j]
    names = {u.name for u in seg}
    prod, cons = _producers(plan), _consumers(plan)
    g = Graph(f"{plan.name}{tag}")
    for u in seg:
        (g.pcu if u.kind == "pcu" else g.pmu)(u.name, u.program)
    loads, stores = {}, []
    for u in seg:
        for port, s in u.ins.items():
            src = prod.get(s)
            if src is not None and src[0].name in names:
                g.connect(f"{src[0].name}.{src[1]}", f"{u.name}.{port}")
                continue
            if s not in loads:
                t = plan.loads.get(s) or spills.get(s) or plan.stores.get(s)
                if t is None:
                    raise AssertionError(f"stream {s}: consumed before it is produced")
                loads[s] = g.agcu(f"ld_{s}", agcu_program(params.agcu, L, params.memory.hbm,
                                                          mode="load", base=t.base,
                                                          loops=t.loops))
            g.connect(f"{loads[s]}.vec_out[0]", f"{u.name}.{port}")
    later = {u.name for u in plan.units[j:]}
    for u in seg:
        for port, s in u.outs.items():
            need_later = any(c.name in later for c, _ in cons.get(s, []))
            if s not in plan.stores and not need_later:
                continue
            t = plan.stores.get(s)
            if t is None:
                t = spills.get(s)
                if t is None:
                    st = plan.streams[s]
                    t = spills[s] = Tensor(_valloc(hbm, f"spill {s}", st.vectors),
                                          _loops(st.shape))
            name = g.agcu(f"st_{s}", agcu_program(params.agcu, L, params.memory.hbm,
                                                  mode="store", base=t.base, loops=t.loops))
            g.connect(f"{u.name}.{port}", f"{name}.vec_in[0]")
            stores.append(name)
    g.finish_on(*stores)
    g.ideal_cycles = max([u.iters for u in seg], default=0)
    return g


def _cuts_scalar(plan, i, j):
    """Whether phase ``[i, j)`` would cut a scalar stream (scalars cannot go through HBM)."""
    prod, cons = _producers(plan), _consumers(plan)
    inside = {u.name for u in plan.units[i:j]}
    for s, st in plan.streams.items():
        if not st.scalar:
            continue
        ends = [prod[s][0].name] + [c.name for c, _ in cons.get(s, [])]
        if any(e in inside for e in ends) and not all(e in inside for e in ends):
            return True
    return False


@dataclasses.dataclass
class PhaseInfo:
    graph: object
    phase: object
    units: list


def pack(plan, params, hbm, spills=None, max_units=None):
    """Cut ``plan.units`` into phases: from the first unplaced unit, the longest run of units
    that places and routes (and does not cut a scalar stream). Returns :class:`PhaseInfo` list.
    ``max_units`` caps the units of a phase (tests of the spill path)."""

    _check_plan(plan)
    spills = {} if spills is None else spills
    out = []
    i, n = 0, len(plan.units)
    while i < n:
        err = None
        top = n if max_units is None else min(n, i + max_units)
        for j in range(top, i, -1):
            if _cuts_scalar(plan, i, j):
                continue
            mark, mark_sp = hbm.mark(), dict(spills)
            try:
                g = _phase_graph(plan, i, j, hbm, spills, params, f"[{len(out)}]")
                hbm.check()
                phase, _ = build_phase(g, params)
            except HbmError:
                raise
            except (MappingError, RouteError, AGCUConfigError) as e:
                hbm.reset(mark)
                spills.clear()
                spills.update(mark_sp)
                err = e
                continue
            out.append(PhaseInfo(g, phase, [u.name for u in plan.units[i:j]]))
            i = j
            break
        else:
            u = plan.units[i]
            why = f": {err}" if err else " (it would cut a scalar stream)"
            raise MappingError(f"{plan.name}: unit {u.name} ({u.kind}) cannot be mapped in a "
                               f"phase of its own on {params.name!r}{why}")
    return out


def _perf_reads(info, params):
    """Phase reads: PCU stall counters and PMU buffer high-water marks of every unit."""
    reads, stalls, buffers = {}, [], []
    tag = info.graph.name
    for name, node in info.graph.nodes.items():
        uid = node.site.id
        if node.kind == "pcu":
            for ctr in ("stall_input", "stall_output"):
                label = f"{tag}.{name}.{ctr}"
                reads[label] = (uid, AddressMap.PERF + PERF_NAMES.index(ctr))
                stalls.append(label)
        elif node.kind == "pmu":
            label = f"{tag}.{name}.high_water"
            reads[label] = (uid, AddressMap.PERF + pmu_perf_index("high_water"))
            buffers.append(label)
    info.phase.reads.update(reads)
    return stalls, buffers


# ------------------------------------------------------------------------------------------------
# Program builders
# ------------------------------------------------------------------------------------------------

def _counters(shape):
    return [Counter(int(c)) for c in shape]


def _need(cond, msg):
    if not cond:
        raise MappingError(msg)


def _keep_mask(L, d):
    """sel condition: 1 on lanes i < d (they keep their value in a Kogge-Stone step)."""
    return [1 if i < d else 0 for i in range(L)]


def _bcast_stages(P, reg, first_free):
    """Stages broadcasting lane L-1 of ``reg`` to every lane in the last log2 L stages (baseline
    reduction tree, rotation by 2**k): lane i takes lane i + 2**k where bit k of i is 0."""
    L = P.lanes
    lg = log2_exact(L)
    _need(P.stages - lg >= first_free,
          f"scan: broadcasting the carry needs {first_free} + log2(L) = {first_free + lg} stages "
          f"(the reduction tree is in the last log2 L = {lg}); the PCU has {P.stages}")
    stages = [Stage("nop")] * (P.stages - lg - first_free)
    for k in range(lg):
        stages.append(Stage("sel", a=f"tree({reg})", b=reg, c="const", dist=k, dst=reg,
                            const=[0 if (i >> k) & 1 else 1 for i in range(L)]))
    return stages


def _rotate_pmu(params, L, d, vectors, name):
    """PMU program: write a vector stream one vector per pass (N-buffered), read each vector back
    with lane i at word (i - d) mod L of the same vector (the copy shifted by d lanes; lanes
    i < d get wrapped values, which the consumer masks)."""
    P = params.pmu
    nbuf = min(P.buffers, 3)
    _need(nbuf >= 1, f"scan baseline: the PMU shift needs N-buffering (pmu.buffers >= 1), "
                     f"the PMU has buffers = {P.buffers}")
    return PMUProgram(mode="strided", buffers=nbuf, region=L,
                      write=Pipe(counters=((1, 0),), passes=vectors),
                      read=Pipe(counters=((1, 0),), passes=vectors,
                                lane_offsets=tuple((i - d) % L for i in range(L))),
                      name=name)


def _add_op(fp):
    return "fadd" if fp else "add"


def ext_prefix_program(P, gshape, rshape, fp):
    """``scan`` extension prefix sum (as :func:`tiles.pcu_programs.prefix_sum`), restarting the
    carry at every row (counter ``len(gshape) - 1`` blocks)."""
    L = P.lanes
    lg = log2_exact(L)
    _need(P.stages >= lg + 1, f"scan: the scan network needs log2(L) + 1 = {lg + 1} stages, the "
                              f"PCU has {P.stages}")
    add = _add_op(fp)
    ident = -0.0 if fp else 0
    stages = [Stage(add, a="shift(r0)", b="r0", mask="ge", dist=k, dst="r0") for k in range(lg)]
    stages.append(Stage(add, a="carry", b="r0", dst="r0"))
    return Program(name="scan_ext", counters=_counters(gshape + rshape), vec_in={0: "every"},
                   stages=stages, carry=Carry(init=ident, level=len(gshape) - 1),
                   vec_out={0: Out(reg="r0")})


def _pair_ops(lg):
    ops = []
    for k in range(lg):
        ops.append(Stage("fma", a="r0", b="shift(r1)", c="r1", mask="ge", dist=k, dst="r1"))
        ops.append(Stage("fmul", a="shift(r0)", b="r0", mask="ge", dist=k, dst="r0"))
    ops.append(Stage("fma", a="r0", b="carry", c="r1", dst="r1"))
    return ops


def ext_pair_units(params, gshape, rshape, streams, a, b, out, c=None, h0=-0.0):
    """Units of the ``scan``-extension linear recurrence (as :func:`tiles.pcu_programs.
    linear_scan`), cut into a chain of PCUs of ``stages`` stages when the 2·log2 L + 1 stages do
    not fit one PCU (``(A, B)`` pass on vec_out[0] / [1] → vec_in[0] / [1]). With ``c`` (a
    stream name), the chain ends with ``p = h·c`` (mamba)."""
    P = params.pcu
    L = P.lanes
    lg = log2_exact(L)
    ops = _pair_ops(lg)
    if c is not None:
        ops.append(Stage("fmul", a="r1", b="vec2", dst="r1"))
    S = P.stages
    chunks = [ops[k:k + S] for k in range(0, len(ops), S)]
    _need(len(chunks) == 1 or (P.vec_in >= 2 and P.vec_out >= 2),
          f"linear_scan: the pair scan needs {len(ops)} stages; chaining PCUs of {S} stages needs "
          f"2 vector inputs and outputs (the PCU has {P.vec_in} / {P.vec_out})")
    _need(c is None or P.vec_in >= 3, f"mamba: the state product needs a third vector input "
                                      f"(the PCU has {P.vec_in})")
    shape = tuple(gshape) + tuple(rshape)
    iters = int(np.prod(shape))
    units = []
    prev = (a, b)
    for m, chunk in enumerate(chunks):
        last = m == len(chunks) - 1
        has_carry = any(st.b == "carry" for st in chunk)
        has_c = any(st.b == "vec2" for st in chunk)
        vin = {0: "every", 1: "every"}
        ins = {"vec_in[0]": prev[0], "vec_in[1]": prev[1]}
        if has_c:
            vin[2] = "every"
            ins["vec_in[2]"] = c
        if last:
            vout = {0: Out(reg="r1")}
            outs = {"vec_out[0]": out}
        else:
            nxt = (f"{out}_A{m}", f"{out}_B{m}")
            for s in nxt:
                streams[s] = Stream(s, shape)
            vout = {0: Out(reg="r0"), 1: Out(reg="r1")}
            outs = {"vec_out[0]": nxt[0], "vec_out[1]": nxt[1]}
            prev = nxt
        prog = Program(name=f"pair_ext{m}", counters=_counters(shape), vec_in=vin,
                       stages=list(chunk), vec_out=vout,
                       carry=Carry(init=h0, level=len(gshape) - 1) if has_carry else None)
        units.append(Unit(f"pair{m}", "pcu", prog, ins, outs, iters))
    return units


def bl_sum_level(P, shape, d, fp, carry=None, lvl=0):
    """Baseline prefix-sum level ``d``: vec0 = y, vec1 = y shifted by d lanes (from a PMU);
    ``y' = sel(i < d ? y : y_s + y)``. ``carry``: ``"scalar"`` — also fold lane L-1 of ``y'``
    in the accumulator and put ``acc_prev`` (the carry of this group) on scal_out[0];
    ``"vector"`` — the same broadcast to all lanes (reduction-tree broadcast before the fold) on
    vec_out[1]."""
    L = P.lanes
    add = _add_op(fp)
    ident = -0.0 if fp else 0
    stages = [Stage(add, a="vec1", b="vec0", dst="r2"),
              Stage("sel", a="vec0", b="r2", c="const", const=_keep_mask(L, d), dst="r0")]
    prog = Program(name=f"sum_level{d}", counters=_counters(shape),
                   vec_in={0: "every", 1: "every"}, stages=stages, vec_out={0: Out(reg="r0")})
    if carry == "scalar":
        prog.acc = Acc(add, reg="r0", when=f"wrap{lvl}", init=ident)
        prog.scal_out = {0: Out(src="acc_prev", lane=L - 1)}
    elif carry == "vector":
        # lane L-1 always takes the new value (L-1 >= d): broadcast r2 (the sums), y' stays in r0
        prog.stages = stages + _bcast_stages(P, "r2", 2)
        prog.acc = Acc(add, reg="r2", when=f"wrap{lvl}", init=ident)
        prog.vec_out = {0: Out(reg="r0"), 1: Out(src="acc_prev")}
    return prog


def bl_sum_carry(P, shape, fp, carry, lvl):
    """Baseline carry of a prefix sum as its own PCU: vec0 = y (in-group scans).
    ``"scalar"``: forwards y on vec_out[0], the carry on scal_out[0]; ``"vector"``: the carry
    broadcast to all lanes on vec_out[0]."""
    L = P.lanes
    add = _add_op(fp)
    ident = -0.0 if fp else 0
    if carry == "scalar":
        return Program(name="sum_carry", counters=_counters(shape), vec_in={0: "every"},
                       acc=Acc(add, reg="r0", when=f"wrap{lvl}", init=ident),
                       vec_out={0: Out(reg="r0")},
                       scal_out={0: Out(src="acc_prev", lane=L - 1)})
    stages = _bcast_stages(P, "r0", 0)
    return Program(name="sum_carry_v", counters=_counters(shape), vec_in={0: "every"},
                   stages=stages, acc=Acc(add, reg="r0", when=f"wrap{lvl}", init=ident),
                   vec_out={0: Out(src="acc_prev")})


def bl_sum_apply(P, shape, fp, carry):
    """``out = carry + y``: vec0 = y; the carry on scal0 (``"scalar"``) or vec1 (``"vector"``)."""
    add = _add_op(fp)
    if carry == "scalar":
        return Program(name="sum_apply", counters=_counters(shape), vec_in={0: "every"},
                       scal_in={0: "every"}, stages=[Stage(add, a="scal0", b="vec0", dst="r0")],
                       vec_out={0: Out(reg="r0")})
    return Program(name="sum_apply_v", counters=_counters(shape),
                   vec_in={0: "every", 1: "every"}, stages=[Stage(add, a="vec1", b="vec0",
                                                                  dst="r0")],
                   vec_out={0: Out(reg="r0")})


def bl_pair_level_a(P, shape, d):
    """Baseline pair level ``d``, the A half: vec0 = A, vec1 = A shifted;
    ``A' = i < d ? A : A_s·A``."""
    L = P.lanes
    return Program(name=f"pairA_level{d}", counters=_counters(shape),
                   vec_in={0: "every", 1: "every"},
                   stages=[Stage("fmul", a="vec1", b="vec0", dst="r2"),
                           Stage("sel", a="vec0", b="r2", c="const", const=_keep_mask(L, d),
                                 dst="r0")],
                   vec_out={0: Out(reg="r0")})


def bl_pair_level_b(P, shape, d):
    """Baseline pair level ``d``, the B half: vec0 = A, vec1 = B, vec2 = B shifted;
    ``B' = i < d ? B : A·B_s + B`` (the old A)."""
    L = P.lanes
    _need(P.vec_in >= 3, f"linear_scan baseline: a level needs 3 vector inputs (A, B, B "
                         f"shifted), the PCU has {P.vec_in}")
    return Program(name=f"pairB_level{d}", counters=_counters(shape),
                   vec_in={0: "every", 1: "every", 2: "every"},
                   stages=[Stage("fma", a="vec0", b="vec2", c="vec1", dst="r3"),
                           Stage("sel", a="vec1", b="r3", c="const", const=_keep_mask(L, d),
                                 dst="r0")],
                   vec_out={0: Out(reg="r0")})


def bl_pair_carry(P, shape, carry, lvl, h0=-0.0):
    """Baseline carry of the recurrence: vec0 = A, vec1 = B (in-group pair scans); the
    accumulator runs ``acc = acc·A + B`` (lane L-1 is the carry chain) from ``h0`` at each row;
    ``"scalar"``: forwards A, B on vec_out[0] / [1] and ``acc_prev`` lane L-1 on scal_out[0];
    ``"vector"``: ``acc_prev`` on vec_out[0] (lane L-1 valid; broadcast by
    :func:`bl_broadcast`)."""
    L = P.lanes
    _need(P.regs >= 2, "linear_scan baseline: the carry fold needs 2 registers")
    prog = Program(name="pair_carry", counters=_counters(shape), vec_in={0: "every", 1: "every"},
                   acc=Acc("fma", reg="r0", when=f"wrap{lvl}", init=h0))
    if carry == "scalar":
        prog.vec_out = {0: Out(reg="r0"), 1: Out(reg="r1")}
        prog.scal_out = {0: Out(src="acc_prev", lane=L - 1)}
    else:
        prog.vec_out = {0: Out(src="acc_prev")}
    return prog


def bl_broadcast(P, shape):
    """vec0 → lane L-1 broadcast to every lane (baseline reduction tree)."""
    stages = _bcast_stages(P, "r0", 0)
    return Program(name="bcast", counters=_counters(shape), vec_in={0: "every"}, stages=stages,
                   vec_out={0: Out(reg="r0")})


def bl_pair_apply(P, shape, carry, with_c=False):
    """``h = A·carry + B`` (vec0 = A, vec1 = B; carry on scal0 or vec2); ``with_c``: then
    ``p = h·c`` with c on vec2 (scalar carry only)."""
    if carry == "scalar":
        vin = {0: "every", 1: "every"}
        stages = [Stage("fma", a="vec0", b="scal0", c="vec1", dst="r0")]
        if with_c:
            vin[2] = "every"
            stages.append(Stage("fmul", a="r0", b="vec2", dst="r0"))
        return Program(name="pair_apply", counters=_counters(shape), vec_in=vin,
                       scal_in={0: "every"}, stages=stages, vec_out={0: Out(reg="r0")})
    return Program(name="pair_apply_v", counters=_counters(shape),
                   vec_in={0: "every", 1: "every", 2: "every"},
                   stages=[Stage("fma", a="vec0", b="vec2", c="vec1", dst="r0")],
                   vec_out={0: Out(reg="r0")})


def mul_program(P, shape):
    """``p = vec0 · vec1`` (mamba's ``c·h`` when the carry path leaves no input free)."""
    return Program(name="mul", counters=_counters(shape), vec_in={0: "every", 1: "every"},
                   stages=[Stage("fmul", a="vec0", b="vec1", dst="r0")],
                   vec_out={0: Out(reg="r0")})


def reduce_program(P, S, G, D):
    """Mamba readout: for every (channel d, time group g), iterations s = 0..S: vec0 = p[d, s, g]
    (popped on s < S; -0.0 at s = S), vec1 = x[d, g] (popped once per (d, g)), vec2 = d broadcast
    (once per d). Stage 0: ``dx = d·x``; stage 1: ``v = s < S ? p : dx`` (counter 0 runs
    -S..0, so it is 0 only at s = S); the accumulator folds v from -0.0 → y[d, g] on vec_out[0]."""
    _need(P.vec_in >= 3, f"mamba: the readout needs 3 vector inputs, the PCU has {P.vec_in}")
    return Program(name="mamba_readout",
                   counters=[Counter(S + 1, start=-S), Counter(G), Counter(D)],
                   vec_in={0: In("notlast0", init=-0.0), 1: "wrap0", 2: "wrap1"},
                   stages=[Stage("fmul", a="vec2", b="vec1", dst="r1"),
                           Stage("sel", a="vec0", b="r1", c="ctr0", dst="r0")],
                   acc=Acc("fadd", reg="r0", when="wrap0", init=-0.0),
                   vec_out={0: Out(src="acc", when="wrap0")})


# ------------------------------------------------------------------------------------------------
# Plans per kernel
# ------------------------------------------------------------------------------------------------

def _row_shape(G, cmax):
    """Groups of one row as a counter shape whose counts fit ``cmax``: ``(G,)`` or
    ``(G0, G1)`` with ``G0·G1 >= G`` (the extra groups are identity padding)."""
    if G <= cmax:
        return (G,)
    g1 = -(-G // cmax)
    g0 = -(-G // g1)
    return (g0, g1)


def _sum_plan(params, kernel, src, out, gshape, rshape, fp, baseline, carry):
    """Prefix-sum plan over rows of groups: stream ``src`` → ``out``."""
    P = params.pcu
    L = P.lanes
    lg = log2_exact(L)
    shape = tuple(gshape) + tuple(rshape)
    V = int(np.prod(shape))
    lvl = len(gshape) - 1
    streams = {src: Stream(src, shape), out: Stream(out, shape)}
    units = []
    if not baseline:
        _need(P.scan, f"{kernel}: the scan mapping needs the scan extension (pcu.scan = "
                      f"false on {params.name!r}); use --baseline")
        units.append(Unit("scan", "pcu", ext_prefix_program(P, gshape, rshape, fp),
                          {"vec_in[0]": src}, {"vec_out[0]": out}, V))
        return units, streams
    y = src
    merged = carry == "scalar" or P.stages - lg >= 2
    for k in range(lg):
        d = 1 << k
        last = k == lg - 1
        rot, nxt = f"rot{d}", (f"y{2 * d}" if not last else "yK")
        streams[rot] = Stream(rot, shape)
        streams[nxt] = Stream(nxt, shape)
        units.append(Unit(f"shift{d}", "pmu", _rotate_pmu(params, L, d, V, f"shift{d}"),
                          {"vec_in[0]": y}, {"vec_out[0]": rot}, V))
        prog = bl_sum_level(P, shape, d, fp, carry if (last and merged) else None, lvl)
        outs = {"vec_out[0]": nxt}
        if last and merged:
            e = "carry"
            streams[e] = Stream(e, shape, scalar=carry == "scalar")
            outs["scal_out[0]" if carry == "scalar" else "vec_out[1]"] = e
        units.append(Unit(f"level{d}", "pcu", prog, {"vec_in[0]": y, "vec_in[1]": rot}, outs, V))
        y = nxt
    if lg == 0:
        streams["yK"] = Stream("yK", shape)
        units.append(Unit("copy", "pcu", Program(name="copy", counters=_counters(shape),
                                                 vec_in={0: "every"},
                                                 vec_out={0: Out(reg="r0")}),
                          {"vec_in[0]": src}, {"vec_out[0]": "yK"}, V))
        merged = False
    if not merged:
        e = "carry"
        streams[e] = Stream(e, shape, scalar=carry == "scalar")
        if carry == "scalar":
            streams["yF"] = Stream("yF", shape)
            units.append(Unit("carry", "pcu", bl_sum_carry(P, shape, fp, carry, lvl),
                              {"vec_in[0]": "yK"}, {"vec_out[0]": "yF", "scal_out[0]": e}, V))
            y = "yF"
        else:
            units.append(Unit("carry", "pcu", bl_sum_carry(P, shape, fp, carry, lvl),
                              {"vec_in[0]": "yK"}, {"vec_out[0]": e}, V))
    ins = {"vec_in[0]": y}
    ins["scal_in[0]" if carry == "scalar" else "vec_in[1]"] = "carry"
    units.append(Unit("apply", "pcu", bl_sum_apply(P, shape, fp, carry), ins,
                      {"vec_out[0]": out}, V))
    return units, streams


def _pair_plan(params, kernel, a, b, out, gshape, rshape, baseline, carry, c=None):
    """Linear-recurrence plan over rows of groups: streams ``a``, ``b`` (and mamba's ``c``) →
    ``out`` (h, or p = h·c)."""
    P = params.pcu
    L = P.lanes
    lg = log2_exact(L)
    shape = tuple(gshape) + tuple(rshape)
    V = int(np.prod(shape))
    lvl = len(gshape) - 1
    streams = {s: Stream(s, shape) for s in (a, b, out) + ((c,) if c else ())}
    if not baseline:
        _need(P.scan, f"{kernel}: the scan mapping needs the scan extension (pcu.scan = "
                      f"false on {params.name!r}); use --baseline")
        return ext_pair_units(params, gshape, rshape, streams, a, b, out, c), streams
    _need("fp32" in P.classes_of(P.stages - 1), f"{kernel} baseline: the carry fold needs fp32 "
                                                f"in the PCU's last stage (accumulator)")
    units = []
    A, B = a, b
    for k in range(lg):
        d = 1 << k
        ra, rb, na, nb = f"rotA{d}", f"rotB{d}", f"A{2 * d}", f"B{2 * d}"
        for s in (ra, rb, na, nb):
            streams[s] = Stream(s, shape)
        units += [
            Unit(f"shiftA{d}", "pmu", _rotate_pmu(params, L, d, V, f"shiftA{d}"),
                 {"vec_in[0]": A}, {"vec_out[0]": ra}, V),
            Unit(f"shiftB{d}", "pmu", _rotate_pmu(params, L, d, V, f"shiftB{d}"),
                 {"vec_in[0]": B}, {"vec_out[0]": rb}, V),
            Unit(f"levelA{d}", "pcu", bl_pair_level_a(P, shape, d),
                 {"vec_in[0]": A, "vec_in[1]": ra}, {"vec_out[0]": na}, V),
            Unit(f"levelB{d}", "pcu", bl_pair_level_b(P, shape, d),
                 {"vec_in[0]": A, "vec_in[1]": B, "vec_in[2]": rb}, {"vec_out[0]": nb}, V),
        ]
        A, B = na, nb
    e = "carry"
    if carry == "scalar":
        streams[e] = Stream(e, shape, scalar=True)
        streams["AF"], streams["BF"] = Stream("AF", shape), Stream("BF", shape)
        units.append(Unit("carry", "pcu", bl_pair_carry(P, shape, carry, lvl),
                          {"vec_in[0]": A, "vec_in[1]": B},
                          {"vec_out[0]": "AF", "vec_out[1]": "BF", "scal_out[0]": e}, V))
        ins = {"vec_in[0]": "AF", "vec_in[1]": "BF", "scal_in[0]": e}
        if c:
            ins["vec_in[2]"] = c
        units.append(Unit("apply", "pcu", bl_pair_apply(P, shape, carry, with_c=bool(c)), ins,
                          {"vec_out[0]": out}, V))
        return units, streams
    streams["carry1"] = Stream("carry1", shape)
    streams[e] = Stream(e, shape)
    units.append(Unit("carry", "pcu", bl_pair_carry(P, shape, carry, lvl),
                      {"vec_in[0]": A, "vec_in[1]": B}, {"vec_out[0]": "carry1"}, V))
    units.append(Unit("bcast", "pcu", bl_broadcast(P, shape), {"vec_in[0]": "carry1"},
                      {"vec_out[0]": e}, V))
    h = out if not c else "h"
    if c:
        streams[h] = Stream(h, shape)
    units.append(Unit("apply", "pcu", bl_pair_apply(P, shape, carry),
                      {"vec_in[0]": A, "vec_in[1]": B, "vec_in[2]": e}, {"vec_out[0]": h}, V))
    if c:
        units.append(Unit("mul_c", "pcu", mul_program(P, shape), {"vec_in[0]": h, "vec_in[1]": c},
                          {"vec_out[0]": out}, V))
    return units, streams


@dataclasses.dataclass
class Mapping:
    """What :func:`plan_kernel` produces: the phases (graphs + assembled phases), the HBM image,
    the output tensors and how to get the result from them."""

    phases: list
    hbm: object
    outputs: dict
    output: object
    golden_options: dict
    useful_ops: int
    max_pcus: int
    units: dict
    notes: str


def _build(plans_fn, params, kernel, baseline, max_units, carry=None):
    """Try the carry variants (scalar carry first: fewer units, same phase; or only ``carry``);
    return the packed phases of the first that maps."""
    if carry not in (None, "scalar", "vector"):
        raise MappingError(f"{kernel}: carry = {carry!r}: allowed: 'scalar', 'vector' (or None: "
                           f"try both)")
    variants = ((carry,) if carry else ("scalar", "vector")) if baseline else (None,)
    err = None
    for carry in variants:
        hbm, plans, finish = plans_fn(carry)
        hbm.check()
        try:
            phases = []
            spills = {}
            for plan in plans:
                phases += pack(plan, params, hbm, spills, max_units=max_units)
            return hbm, phases, finish
        except HbmError:
            raise
        except MappingError as e:
            err = e
    raise err


def _check_params(params, kernel):
    P = params.pcu
    _need("fp32" in P.classes_of(0) or kernel == "scan",
          f"{kernel}: needs fp32 in the PCU stages (op_classes)")


def plan_kernel(req, params, inputs, baseline=False, max_units=None, carry=None, hbm_base=0):
    """Map ``req`` (see the module docstring); return a :class:`Mapping`. ``max_units``: at most
    this many units per phase; ``carry``: the baseline's carry path (``"scalar"`` / ``"vector"``;
    default: scalar if it maps, else vector); ``hbm_base``: first HBM byte address to use (rounded up to the allocator's alignment)."""
    L = params.lanes
    P = params.pcu
    k = req.kernel
    cmax = (1 << min(P.counter_bits, params.agcu.counter_bits, params.pmu.counter_bits)) - 1
    if k == "scan":
        fp = req.dtype == "fp32"
        x = np.asarray(inputs["x"]).reshape(-1)
        n = x.shape[0]
        G = -(-n // L)
        gshape = _row_shape(G, cmax)
        Gp = int(np.prod(gshape))
        ident = NEG0 if fp else 0
        xp = np.full(Gp * L, ident, np.float32 if fp else np.int64)
        xp[:n] = x
        words = nx.fp32_words(xp) if fp else nx.int_words(xp)

        def plans(carry):
            hbm = HbmAllocator(params, k, hbm_base)
            xb = _vplace(hbm, "x", words)
            yb = _valloc(hbm, "y", Gp)
            units, streams = _sum_plan(params, k, "x", "y", gshape, (), fp, baseline, carry)
            plan = Plan(k, units, streams, {"x": Tensor(xb, _loops(gshape))},
                        {"y": Tensor(yb, _loops(gshape))})
            return hbm, [plan], {"y": (yb, Gp)}
        hbm, phases, fin = _build(plans, params, k, baseline, max_units, carry)
        yb, _ = fin["y"]

        def output(outs):
            y = outs["y"].reshape(-1)[:n]
            return nx.from_bits(y) if fp else nx.wrap(y)
        outputs = {"y": (yb * 4 * L, (Gp * L,), np.uint32)}
        return _mapping(phases, hbm, outputs, output, {}, n, params,
                        f"scan {'baseline' if baseline else 'ext'}: {len(phases)} phase(s), "
                        f"{Gp} groups of {L}")
    if k == "linear_scan":
        a = nx.fp32(inputs["a"]).reshape(-1)
        b = nx.fp32(inputs["b"]).reshape(-1)
        n = a.shape[0]
        G = -(-n // L)
        gshape = _row_shape(G, cmax)
        Gp = int(np.prod(gshape))
        ap = np.ones(Gp * L, np.float32)
        bp = np.full(Gp * L, NEG0, np.float32)
        ap[:n], bp[:n] = a, b

        def plans(carry):
            hbm = HbmAllocator(params, k, hbm_base)
            ab = _vplace(hbm, "a", nx.fp32_words(ap))
            bb = _vplace(hbm, "b", nx.fp32_words(bp))
            hb = _valloc(hbm, "h", Gp)
            units, streams = _pair_plan(params, k, "a", "b", "h", gshape, (), baseline, carry)
            plan = Plan(k, units, streams, {"a": Tensor(ab, _loops(gshape)),
                                            "b": Tensor(bb, _loops(gshape))},
                        {"h": Tensor(hb, _loops(gshape))})
            return hbm, [plan], {"h": (hb, Gp)}
        hbm, phases, fin = _build(plans, params, k, baseline, max_units, carry)
        hb, _ = fin["h"]

        def output(outs):
            return nx.from_bits(outs["h"].reshape(-1))[:n]
        outputs = {"h": (hb * 4 * L, (Gp * L,), np.uint32)}
        return _mapping(phases, hbm, outputs, output, {}, n, params,
                        f"linear_scan {'baseline' if baseline else 'ext'}: {len(phases)} "
                        f"phase(s), {Gp} groups of {L}")
    if k == "mamba":
        return _mamba(req, params, inputs, baseline, max_units, cmax, carry, hbm_base)
    raise MappingError(f"scan mapping: kernel {k!r} is not a scan kernel")


def _mamba(req, params, inputs, baseline, max_units, cmax, carry, hbm_base):
    L = params.lanes
    P = params.pcu
    T, D, S = req.shape["T"], req.shape["D"], req.shape["S"]
    G = -(-T // L)
    Tp = G * L
    for what, v in (("T/L groups", G), ("D", D), ("S + 1", S + 1)):
        _need(v <= cmax, f"mamba: {what} = {v} exceeds the counters ({cmax}: counter_bits)")
    a_bar = nx.fp32(inputs["a_bar"])
    bx = nx.fp32(inputs["bx"])
    c = nx.fp32(inputs["c"])
    d = nx.fp32(inputs["d"])
    x = nx.fp32(inputs["x"])
    aT = np.ones((D, S, Tp), np.float32)
    bT = np.full((D, S, Tp), NEG0, np.float32)
    aT[:, :, :T] = np.transpose(a_bar, (1, 2, 0))
    bT[:, :, :T] = np.transpose(bx, (1, 2, 0))
    cT = np.zeros((S, Tp), np.float32)
    cT[:, :T] = c.T
    xT = np.zeros((D, Tp), np.float32)
    xT[:, :T] = x.T
    dv = np.repeat(d[:, None], L, axis=1)
    gshape, rshape = (G,), (S, D)

    def plans(carry):
        hbm = HbmAllocator(params, "mamba", hbm_base)
        ab = _vplace(hbm, "a_bar", nx.fp32_words(aT))
        bb = _vplace(hbm, "bx", nx.fp32_words(bT))
        cb = _vplace(hbm, "c", nx.fp32_words(cT))
        xb = _vplace(hbm, "x", nx.fp32_words(xT))
        db = _vplace(hbm, "d", nx.fp32_words(dv))
        pb = _valloc(hbm, "p (c·h)", D * S * G)
        yb = _valloc(hbm, "y", D * G)
        units, streams = _pair_plan(params, "mamba", "a", "b", "p", gshape, rshape, baseline,
                                    carry, c="c")
        rows = _loops((G, S, D))
        scan = Plan("mamba_scan", units, streams,
                    {"a": Tensor(ab, rows), "b": Tensor(bb, rows),
                     "c": Tensor(cb, [lp for lp in [(G, 1), (S, G), (D, 0)] if lp[0] > 1]
                                 or [(1, 1)])},
                    {"p": Tensor(pb, rows)})
        red = reduce_program(P, S, G, D)
        rstreams = {"pT": Stream("pT", (S, G, D)), "xT": Stream("xT", (G, D)),
                    "dv": Stream("dv", (D,)), "y": Stream("y", (G, D))}
        runit = Unit("readout", "pcu", red, {"vec_in[0]": "pT", "vec_in[1]": "xT",
                                             "vec_in[2]": "dv"}, {"vec_out[0]": "y"},
                     (S + 1) * G * D)
        readout = Plan("mamba_readout", [runit], rstreams,
                       {"pT": Tensor(pb, [lp for lp in [(S, G), (G, 1), (D, S * G)]
                                          if lp[0] > 1] or [(1, 1)]),
                        "xT": Tensor(xb, _loops((G, D))), "dv": Tensor(db, _loops((D,)))},
                       {"y": Tensor(yb, _loops((G, D)))})
        return hbm, [scan, readout], {"y": (yb, D * G)}
    hbm, phases, fin = _build(plans, params, "mamba", baseline, max_units, carry)
    yb, _ = fin["y"]

    def output(outs):
        y = nx.from_bits(outs["y"].reshape(D, Tp))
        return np.ascontiguousarray(y[:, :T].T)
    outputs = {"y": (yb * 4 * L, (D * Tp,), np.uint32)}
    useful = 2 * T * D * S + T * D
    return _mapping(phases, hbm, outputs, output, {"reduce_lanes": 1}, useful, params,
                    f"mamba {'baseline' if baseline else 'ext'}: {len(phases)} phase(s), "
                    f"{D * S} rows of {G} groups of {L} (lanes along time), states summed "
                    f"sequentially")


def _mapping(phases, hbm, outputs, output, golden_options, useful, params, notes):
    pcus = max(sum(n.kind == "pcu" for n in p.graph.nodes.values()) for p in phases)
    units = {kind: max(sum(n.kind == kind for n in p.graph.nodes.values()) for p in phases)
             for kind in ("pcu", "pmu", "agcu")}
    return Mapping(phases, hbm, outputs, output, golden_options, useful, pcus, units, notes)


def compile(req, params, inputs, *, baseline=False, max_units=None, carry=None, hbm_base=0):
    """Compile a scan kernel (``scan``, ``linear_scan``, ``mamba``) for ``params``; see the module
    docstring. ``baseline=True`` maps without the ``scan`` extension (same bits); ``max_units``,
    ``carry``, ``hbm_base``: see :func:`plan_kernel`."""

    m = plan_kernel(req, params, inputs, baseline=baseline, max_units=max_units, carry=carry,
                    hbm_base=hbm_base)
    stalls, buffers = [], []
    for info in m.phases:
        s, b = _perf_reads(info, params)
        stalls += s
        buffers += b
    job = Job([p.phase for p in m.phases], m.hbm.image, m.outputs)
    job.graphs = [p.graph for p in m.phases]      # for run_model and reports
    job.hbm_top = m.hbm.top                        # first free HBM byte (for batching jobs)
    return Compiled(job=job, output=m.output, golden_lanes=params.lanes,
                    useful_ops=m.useful_ops, peak_ops_per_cycle=float(params.lanes * m.max_pcus),
                    units=m.units, buffer_reads=tuple(buffers), stall_reads=tuple(stalls),
                    notes=m.notes, golden_options=m.golden_options)


# ------------------------------------------------------------------------------------------------
# Declarations (compiler.registry)
# ------------------------------------------------------------------------------------------------

def _scan_inputs(req, rng):
    n = req.shape["n"]
    if req.dtype == "int32":
        return {"x": rng.integers(-(1 << 16), 1 << 16, n).astype(np.int64)}
    return {"x": rng.standard_normal(n).astype(np.float32)}


def _linear_scan_inputs(req, rng):
    n = req.shape["n"]
    return {"a": rng.uniform(0.5, 1.0, n).astype(np.float32),
            "b": rng.standard_normal(n).astype(np.float32)}


def _mamba_inputs(req, rng):
    t, d, st = req.shape["T"], req.shape["D"], req.shape["S"]

    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    return {"a_bar": rng.uniform(0.5, 1.0, (t, d, st)).astype(np.float32), "bx": normal(t, d, st),
            "c": normal(t, st), "d": normal(d), "x": normal(t, d)}


_OPTIONS = (
    Option("baseline", bool, False, "map without the PCU's scan extension (same bits, more units "
           "and cycles)"),
    Option("max_units", int, None, "at most this many units per phase (tests of the spill path)",
           minimum=1),
    Option("carry", str, None, "the baseline's carry path (default: scalar if it maps, else "
           "vector)", choices=("scalar", "vector")),
    Option("hbm_base", int, 0, "first HBM byte address (kernels batched in one job)",
           minimum=0, cli=False),
)
_LEN = {"n": (1, 1 << 20)}

SPECS = (
    KernelSpec("scan", ("n",), ("fp32", "int32"), "inclusive prefix sum", limits=_LEN,
               dim_help={"n": "elements"}, options=_OPTIONS, inputs=_scan_inputs,
               golden=lambda req, i, lanes: golden.prefix_sum(
                   i["x"], lanes, "int32" if req.dtype == "int32" else "fp32"),
               reference=lambda req, i: ref.prefix_sum(i["x"]), mapping=compile,
               input_words=lambda s: s["n"]),
    KernelSpec("linear_scan", ("n",), ("fp32",), "h_t = a_t·h_{t-1} + b_t (associative pair scan)",
               limits=_LEN, dim_help={"n": "time steps"}, options=_OPTIONS,
               inputs=_linear_scan_inputs,
               golden=lambda req, i, lanes: golden.linear_scan(i["a"], i["b"], lanes),
               reference=lambda req, i: ref.linear_scan(i["a"], i["b"]), mapping=compile,
               input_words=lambda s: 2 * s["n"]),
    KernelSpec("mamba", ("T", "D", "S"), ("fp32",), "Mamba selective scan from discretized inputs",
               limits={"T": (1, 1 << 16), "D": (1, 1024), "S": (1, 256)},
               dim_help={"T": "time steps", "D": "channels", "S": "states per channel"},
               options=_OPTIONS, inputs=_mamba_inputs,
               golden=lambda req, i, lanes, **o: golden.selective_scan(
                   i["a_bar"], i["bx"], i["c"], i["d"], i["x"], lanes, **o),
               reference=lambda req, i: ref.selective_scan(i["a_bar"], i["bx"], i["c"], i["d"],
                                                           i["x"]),
               mapping=compile,
               # a_bar and bx (T·D·S each), c (T·S), d (D), x (T·D)
               input_words=lambda s: (2 * s["T"] * s["D"] * s["S"] + s["T"] * s["S"] + s["D"]
                                      + s["T"] * s["D"])),
)


# ------------------------------------------------------------------------------------------------
# Functional model of a compiled job (no timing): PCU / PMU models, AGCU loops, HBM image
# ------------------------------------------------------------------------------------------------

def _agcu_addresses(desc):
    """Vector addresses of an AGCU description, in loop order (loop 0 innermost)."""
    addrs = np.zeros(1, np.int64)
    for dim in reversed(desc["dims"]):
        addrs = (addrs[:, None] + np.arange(dim["size"], dtype=np.int64)[None, :] *
                 dim["stride"]).reshape(-1)
    return desc["base"] + addrs


def run_model(job, params):
    """Run ``job`` (from :func:`compile`; it keeps its graphs) on the functional models of the
    PCU (:mod:`tiles.pcu_model`) and PMU (:mod:`tiles.pmu_model`), AGCUs moving whole vectors
    between the HBM image and the streams. Returns ``{output: words}`` like a
    :class:`compiler.job.JobResult`'s ``outputs``. Fast (no RTL); for tests and debugging."""

    L = params.lanes
    mem = job.hbm.words().copy().reshape(-1, L)
    for g in job.graphs:
        streams = {}          # (node, port) -> array of words
        edges = {}
        for s, d in g.edges:
            edges.setdefault(s, []).append(d)
        pending = list(g.nodes)

        def inputs_of(name):
            ins = {}
            for s, dsts in edges.items():
                for d in dsts:
                    if d.split(".")[0] == name:
                        if s not in streams:
                            return None
                        ins[d.split(".", 1)[1]] = streams[s]
            return ins
        while pending:
            progressed = False
            for name in list(pending):
                node = g.nodes[name]
                ins = inputs_of(name)
                if ins is None:
                    continue
                if node.kind == "agcu":
                    desc = node.program
                    addrs = _agcu_addresses(desc)
                    if desc["mode"] == 0:
                        streams[f"{name}.vec_out[0]"] = mem[addrs]
                    else:
                        data = np.asarray(ins["vec_in[0]"]).reshape(-1, L)
                        assert len(data) == len(addrs), (name, len(data), len(addrs))
                        mem[addrs] = data
                elif node.kind == "pcu":
                    asm = pcu_asm.assemble(params.pcu, node.program)
                    vin = {int(p[7:-1]): np.asarray(v).reshape(-1, L) for p, v in ins.items()
                           if p.startswith("vec_in")}
                    sin = {int(p[8:-1]): np.asarray(v).reshape(-1) for p, v in ins.items()
                           if p.startswith("scal_in")}
                    r = pcu_model.run(asm, vin, sin)
                    for k, v in r.vec_out.items():
                        streams[f"{name}.vec_out[{k}]"] = np.asarray(v, np.uint32).reshape(-1, L)
                    for k, v in r.scal_out.items():
                        streams[f"{name}.scal_out[{k}]"] = np.asarray(v, np.uint32).reshape(-1)
                else:
                    cfg = pmu_asm.assemble(node.program, params.pmu, L)
                    model = PMUModel(params.pmu, L)
                    wport = cfg["write"]["port"]
                    res = model.run(cfg, wdata=ins.get(f"vec_in[{wport}]", []))
                    streams[f"{name}.vec_out[{cfg['read']['port']}]"] = \
                        np.asarray(res.reads, np.int64).astype(np.uint32).reshape(-1, L)
                pending.remove(name)
                progressed = True
            if not progressed:
                raise RuntimeError(f"model: graph {g.name} has a cycle or a missing input: "
                                   f"{pending}")
    out = {}
    for name, (byte, shape, dtype) in job.outputs.items():
        v = byte // (4 * L)
        n = int(np.prod(shape))
        out[name] = mem.reshape(-1)[v * L: v * L + n].reshape(shape).astype(dtype)
    return out
