"""Scaled dot-product attention on the fabric: the streaming form and the naive form.

``compile(req, params, inputs, **options) -> Compiled`` maps

* ``sdpa`` — the **streaming** form (running max, rescaled running sum and output, division
  deferred to the end; O(1) intermediate state), bit-exact to
  ``hw.golden.sdpa_streaming(q, k, v, lanes=L)``;
* ``sdpa_naive`` — the **naive** form (a whole score row buffered in PMU FIFOs until its max is
  known; O(N) buffering), bit-exact to ``hw.golden.sdpa_naive(q, k, v, lanes=L)``.

``lanes=L`` is the golden variant whose scores are dot products in the PCU's reduction order (a
tree over the head dimension) instead of GEMM's sequential order; everything after the scores is
the golden's own order.

Mapping (see ``docs/compiler-sdpa.md``)
---------------------------------------
Lanes run along the **head dimension** (``d <= L``; one q / k / v row is one vector, padded in
the HBM layout), one query is in flight and its keys stream ``j = 0 .. n-1`` (the AGCUs re-read K
and V once per query: loop nest ``[(n, 1), (n, 0)]``); every PCU retires one (query, key) pair per
cycle. Streaming form::
    Q ─┐
    K ─┴► score ─► [FIFO] ─► max ─┬─ p ────────────► out ─► norm ─► scale ─► O
                                  └─ [m_old, m_new] ─►  ▲
    V ──────────────────────────────────────────────────┘

* **score**: ``r0 = q·k_j`` lane-wise (``q`` popped once per query, ``wrap0``), the reduction tree
  over the last log2 L stages → ``s`` in lane 0.
* **max** (4 stages + tail; the *scan carry* holds the running max): ``s2 = s·log2(e)/√d`` on every
  lane (``bvec0`` lane 0); lane 0 := ``-inf`` (``fmin`` with a lane constant); the carry stage
  ``r1 = fmax(carry, r1)`` leaves ``m_old`` in lane 0 and ``m_new`` in lanes 1..L-1 (lane L-1 is
  the next carry; ``-inf`` at each query's first key); ``s2 - m_new`` (``breg`` lane L-1); tail
  ``exp2`` → ``p``. Out: ``p`` and ``[m_old, m_new, ...]``.
* **out** (per-lane ``fma`` accumulator): ``p·v_j``; ``c = exp2(m_old - m_new)`` (``bvec`` lanes
  0 and L-1, tail ``exp2``); ``acc = acc·c + p·v_j`` — ``o``, and in the pad lane ``d`` (where
  ``v`` is 1.0) ``l = l·c + p``; emitted after each query's last key. For ``d = L`` a second
  accumulator PCU (**out_l**, the same program without ``v``) keeps ``l``.
* **norm**: tail ``recip(l)`` (``bvec`` lane d), forwarding ``o``; **scale**: ``o·recip(l)``.

Naive form: **score** → **max** (``s2``, an ``fmax`` accumulator emits ``m`` after the row) →
**row FIFO** (PMU FIFOs holding the score row until ``m`` exists: ``n`` vectors) → **p**
(``exp2(s2 - m)``) → **out** (``fadd`` accumulator: ``l``, ``o``) → norm → scale.

The FIFO of the streaming form (score → max) is the same PMU FIFO, :data:`STREAM_FIFO_VECTORS`
(4) vectors deep whatever N. Both report the PMUs' ``high_water`` counters (``buffer_high_water_words``; one score per
L-word vector). Fabrics with fewer PCUs (``small``: 2) run the same pipeline in several phases,
streams cut by a phase boundary going through HBM (:func:`compiler.fusion.partition`).
Utilization is reported as (query, key) pairs per cycle (the mapping's rate is one).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hw import golden
from hw import numerics as nx
from hw.golden import attention_scale
from hw.golden import reference as ref
from tiles import pmu_programs as pm
from tiles.pcu_asm import Acc, Carry, Counter, Out, Program, Stage

from .fusion import Pipeline, compile_pipeline, model_run
from .graph import MappingError, fabric_map
from .protocol import Compiled, KernelSpec, Option

__all__ = ["FORMS", "programs", "build", "compile", "check_fabric", "fifo_capacity", "SPECS"]

#: kernel name → form
FORMS = {"sdpa": "streaming", "sdpa_naive": "naive"}

#: Vectors of the streaming form's score FIFO. A constant: the running max / sum / output need
#: no row buffer, only enough slack to cover the FIFO's read-after-write latency (2 cycles) and
#: the handshake; 2 vectors halve the throughput, 4 keep one pair per cycle at every N measured
#: (scripts/bench_sdpa.py).
STREAM_FIFO_VECTORS = 4

NEG_INF = np.float32(-np.inf)
POS_INF = np.float32(np.inf)


def check_fabric(params, kernel, n, d):
    """Raise :class:`MappingError` naming the first limit the request exceeds on ``params``."""
    p = params.pcu
    L = params.lanes
    lg = L.bit_length() - 1
    if d > L:
        raise MappingError(f"{kernel}: d = {d} exceeds the lane count L = {L} of {params.name!r}: "
                           f"this mapping holds a q / k / v row in one vector (lanes along the head "
                           f"dimension); use d <= {L} or a configuration with more lanes")
    if L < 2:
        raise MappingError(f"{kernel}: needs at least 2 lanes (L = {L})")
    # (available?, what the mapping needs, the YAML key as configured, what it must be)
    yn = {True: "true", False: "false"}
    need = [(p.tail, "the tail extension (exp2, reciprocal)", f"pcu.tail = {yn[p.tail]}",
             "pcu.tail: true"),
            (p.systolic, "the systolic extension (lane broadcasts bvec / breg)",
             f"pcu.systolic = {yn[p.systolic]}", "pcu.systolic: true"),
            (p.vec_in >= 3, "3 vector inputs per PCU (p, running max, v)",
             f"pcu.vec_in = {p.vec_in}", "pcu.vec_in >= 3"),
            (p.vec_out >= 2, "2 vector outputs per PCU", f"pcu.vec_out = {p.vec_out}",
             "pcu.vec_out >= 2"),
            (p.stages >= max(4, 1 + lg), f"{max(4, 1 + lg)} stages per PCU (the score tree needs "
                                         f"1 + log2 L)", f"pcu.stages = {p.stages}",
             f"pcu.stages >= {max(4, 1 + lg)}"),
            (all("fp32" in p.classes_of(s) for s in range(p.stages)),
             "fp32 in every stage", f"pcu.stage_op_classes = "
             f"{[list(c) for c in p.stage_op_classes]}" if p.stage_op_classes is not None else
             f"pcu.op_classes = {list(p.op_classes)}",
             "fp32 in every stage's classes")]
    if kernel == "sdpa":
        need.append((p.scan, "the scan extension (the carry register holds the running max)",
                     f"pcu.scan = {yn[p.scan]}", "pcu.scan: true"))
    for ok, what, have, want in need:
        if not ok:
            raise MappingError(f"{kernel}: needs {what}; {params.name!r} has {have} "
                               f"(needs {want})")
    top = (1 << p.counter_bits) - 1
    if n > top:
        raise MappingError(f"{kernel}: n = {n}: a PCU counter counts at most {top} keys "
                           f"(pcu.counter_bits = {p.counter_bits})")


def fifo_capacity(params):
    """Vectors one PMU FIFO holds on ``params``."""
    return params.pmu.banks * params.pmu.words_per_bank // params.lanes


def _tree(params, reg="r0", op="fadd"):
    lg = params.lanes.bit_length() - 1
    return [Stage(op, a=reg, b=f"tree({reg})", dist=k, dst=reg) for k in range(lg)]


def programs(params, n, d, form):
    """The PCU programs of the mapping (``{name: Program}``), for ``n`` keys and queries and head
    dimension ``d`` (see the module docstring)."""
    L, S = params.lanes, params.pcu.stages
    lg = L.bit_length() - 1
    scale = np.float32(attention_scale(d))
    ctr = [Counter(n), Counter(n)]       # keys (inner), queries
    nop = Stage("nop")
    progs = {"score": Program(
        name="sdpa_score", counters=list(ctr), vec_in={0: "every", 1: "wrap0"},
        stages=[Stage("fmul", a="vec1", b="vec0", dst="r0")] + [nop] * (S - 1 - lg) + _tree(params),
        vec_out={0: Out(reg="r0")})}
    if form == "streaming":
        lane0 = [NEG_INF] + [POS_INF] * (L - 1)
        progs["max"] = Program(
            name="sdpa_max", counters=list(ctr), vec_in={0: "every"},
            stages=[Stage("fmul", a="bvec0", lane=0, b="const", const=scale, dst="r0"),
                    Stage("fmin", a="r0", b="const", const=lane0, dst="r1"),
                    Stage("fmax", a="carry", b="r1", dst="r1"),
                    Stage("fsub", a="r0", b="breg(r1)", lane=L - 1, dst="r0")],
            tail=Stage("exp2", a="r0", dst="r0"), carry=Carry(init=NEG_INF, level=0),
            vec_out={0: Out(reg="r0"), 1: Out(reg="r1")})
        rescale = [Stage("pass", a="bvec2", lane=0, dst="r0"),
                   Stage("fsub", a="r0", b="bvec2", lane=L - 1, dst="r0")]
        progs["out"] = Program(
            name="sdpa_out", counters=list(ctr), vec_in={0: "every", 1: "every", 2: "every"},
            stages=[Stage("fmul", a="vec1", b="vec0", dst="r1")] + rescale,
            tail=Stage("exp2", a="r0", dst="r0"), acc=Acc("fma", reg="r0", when="wrap0", init=-0.0),
            vec_out={0: Out(src="acc", when="wrap0")})
        if d == L:
            progs["out_l"] = Program(
                name="sdpa_out_l", counters=list(ctr), vec_in={1: "every", 2: "every"},
                stages=list(rescale), tail=Stage("exp2", a="r0", dst="r0"),
                acc=Acc("fma", reg="r0", when="wrap0", init=-0.0),
                vec_out={0: Out(src="acc", when="wrap0")})
    else:
        progs["max"] = Program(
            name="sdpa_naive_max", counters=list(ctr), vec_in={0: "every"},
            stages=[Stage("fmul", a="bvec0", lane=0, b="const", const=scale, dst="r0")],
            acc=Acc("fmax", reg="r0", when="wrap0", init=NEG_INF),
            vec_out={0: Out(reg="r0"), 1: Out(src="acc", when="wrap0")})
        progs["p"] = Program(
            name="sdpa_naive_p", counters=list(ctr), vec_in={0: "every", 1: "wrap0"},
            stages=[Stage("fsub", a="vec0", b="vec1", dst="r0")],
            tail=Stage("exp2", a="r0", dst="r0"), vec_out={0: Out(reg="r0")})
        progs["out"] = Program(
            name="sdpa_naive_out", counters=list(ctr), vec_in={0: "every", 1: "every"},
            stages=[Stage("fmul", a="vec1", b="vec0", dst="r0")],
            acc=Acc("fadd", reg="r0", when="wrap0", init=-0.0),
            vec_out={0: Out(src="acc", when="wrap0")})
        if d == L:
            progs["out_l"] = Program(
                name="sdpa_naive_out_l", counters=list(ctr), vec_in={0: "every"},
                acc=Acc("fadd", reg="r0", when="wrap0", init=-0.0),
                vec_out={0: Out(src="acc", when="wrap0")})
    lsrc = ("bvec1", 0) if d == L else ("bvec0", d)
    progs["norm"] = Program(
        name="sdpa_norm", counters=[Counter(n)],
        vec_in={0: "every", 1: "every"} if d == L else {0: "every"},
        stages=[Stage("pass", a=lsrc[0], lane=lsrc[1], dst="r2")],
        tail=Stage("recip", a="r2", dst="r2"), vec_out={0: Out(reg="r0"), 1: Out(reg="r2")})
    progs["scale"] = Program(
        name="sdpa_scale", counters=[Counter(n)], vec_in={0: "every", 1: "every"},
        stages=[Stage("fmul", a="vec0", b="vec1", dst="r0")], vec_out={0: Out(reg="r0")})
    return progs


def _layout(q, k, v, L):
    """HBM layout: one row per vector; q pads -0.0, k pads 1.0 (pad products are -0.0, the
    additive identity), v pads -0.0 except lane d = 1.0 (the out accumulator's lane d is l)."""
    n, d = q.shape
    qp = np.full((q.shape[0], L), np.float32(-0.0), np.float32)
    kp = np.full((n if k is None else k.shape[0], L), np.float32(1.0), np.float32)
    vp = np.full(kp.shape, np.float32(-0.0), np.float32)
    qp[:, :d] = nx.fp32(q)
    kp[:, :d] = nx.fp32(k)
    vp[:, :d] = nx.fp32(v)
    if d < L:
        vp[:, d] = 1.0
    return qp, kp, vp


def build(params, q, k, v, form="streaming", fifo_depth=None, stream_fifo=True):
    """The SDPA :class:`~compiler.fusion.Pipeline` for inputs ``q``, ``k``, ``v`` (``(n, d)``);
    returns ``(pipe, out_tensor, notes)``."""
    kernel = "sdpa" if form == "streaming" else "sdpa_naive"
    if form not in ("streaming", "naive"):
        raise MappingError(f"sdpa: form = {form!r}: must be 'streaming' or 'naive'")
    q, k, v = (np.atleast_2d(nx.fp32(x)) for x in (q, k, v))
    n, d = q.shape
    if k.shape != (n, d) or v.shape != (n, d):
        raise MappingError(f"{kernel}: q, k, v must all be (n, d) = {(n, d)}; got {q.shape}, "
                           f"{k.shape}, {v.shape}")
    L = params.lanes
    check_fabric(params, kernel, n, d)
    cap = fifo_capacity(params)
    n_pmus = sum(u.kind == "pmu" for u in fabric_map(params).units)
    nn = n * n
    progs = programs(params, n, d, form)
    if form == "naive":
        need = max(n + 4, cap) if fifo_depth is None else fifo_depth
        if need < n:
            raise MappingError(f"sdpa_naive: fifo_depth = {fifo_depth} vectors: the row FIFO must "
                               f"hold a whole score row (n = {n} vectors) or the pipeline "
                               f"deadlocks")
        segs = -(-need // cap)
        if segs > n_pmus:
            raise MappingError(f"sdpa_naive: n = {n}: the score row ({n} vectors of {L} words) "
                               f"needs {segs} PMU FIFOs of {cap} vectors; {params.name!r} has "
                               f"{n_pmus} PMUs (O(n) buffering: the naive form's limit; use the "
                               f"streaming form 'sdpa')")
        depths = [min(cap, need - i * cap) for i in range(segs)]
    else:
        depths = [min(cap, fifo_depth or STREAM_FIFO_VECTORS)] if stream_fifo else []
    qp, kp, vp = _layout(q, k, v, L)
    pipe = Pipeline(kernel, params)
    tq, tk, tv = pipe.tensor("q", qp), pipe.tensor("k", kp), pipe.tensor("v", vp)
    to = pipe.tensor("o", vectors=n)
    rep = [(n, 1), (n, 0)]                       # every key for each query
    pipe.load("ld_q", tq, [(n, 1)])
    pipe.load("ld_k", tk, rep)
    pipe.pcu("score", progs["score"], op="scores")
    pipe.connect("ld_q", "score.vec_in[1]", n)
    pipe.connect("ld_k", "score.vec_in[0]", nn)
    src = "score.vec_out[0]"

    def fifos(src, op):
        for i, depth in enumerate(depths):
            name = f"fifo{i}"
            pipe.pmu(name, pm.fifo(params.pmu, L, depth, length=nn), op=op, buffer=True)
            pipe.connect(src, f"{name}.vec_in[0]", nn)
            src = f"{name}.vec_out[0]"
        return src

    if form == "streaming":
        src = fifos(src, "scores")
        pipe.pcu("max", progs["max"], op="softmax")
        pipe.connect(src, "max.vec_in[0]", nn)
        p_src, m_src = "max.vec_out[0]", "max.vec_out[1]"
    else:
        pipe.pcu("max", progs["max"], op="softmax")
        pipe.connect(src, "max.vec_in[0]", nn)
        s2 = fifos("max.vec_out[0]", "softmax")
        pipe.pcu("p", progs["p"], op="softmax")
        pipe.connect(s2, "p.vec_in[0]", nn)
        pipe.connect("max.vec_out[1]", "p.vec_in[1]", n)
        p_src, m_src = "p.vec_out[0]", None
    pipe.load("ld_v", tv, rep)
    pipe.pcu("out", progs["out"], op="output")
    pipe.connect("ld_v", "out.vec_in[0]", nn)
    pipe.connect(p_src, "out.vec_in[1]", nn)
    if m_src:
        pipe.connect(m_src, "out.vec_in[2]", nn)
    if "out_l" in progs:
        pipe.pcu("out_l", progs["out_l"], op="output")
        if m_src:
            pipe.connect(p_src, "out_l.vec_in[1]", nn)
            pipe.connect(m_src, "out_l.vec_in[2]", nn)
        else:
            pipe.connect(p_src, "out_l.vec_in[0]", nn)
    pipe.pcu("norm", progs["norm"], op="normalize")
    pipe.connect("out.vec_out[0]", "norm.vec_in[0]", n)
    if "out_l" in progs:
        pipe.connect("out_l.vec_out[0]", "norm.vec_in[1]", n)
    pipe.pcu("scale", progs["scale"], op="normalize")
    pipe.connect("norm.vec_out[0]", "scale.vec_in[0]", n)
    pipe.connect("norm.vec_out[1]", "scale.vec_in[1]", n)
    pipe.store("st_o", to)
    pipe.connect("scale.vec_out[0]", "st_o", n)
    pipe.useful_ops = nn
    pipe.ideal_cycles = nn + n
    notes = (f"{form}: lanes along d (d = {d} of L = {L}), one query in flight, keys streamed; "
             f"{'row FIFO ' + '+'.join(map(str, depths)) + ' vectors' if form == 'naive' else ('stream FIFO ' + str(depths[0]) + ' vectors' if depths else 'no FIFO')}")
    return pipe, to, notes


def compile(req, params, inputs, *, fifo_depth=None, stream_fifo=True, mode="fused"):
    """Map ``sdpa`` / ``sdpa_naive`` (see the module docstring; the form follows the kernel
    name). Options: ``fifo_depth`` (vectors of the FIFO; naive: at least n), ``stream_fifo``
    (streaming: put the score FIFO in, default True), ``mode`` (``"fused"`` default, or
    ``"per_op"``: one phase per operator)."""
    form = FORMS.get(req.kernel)
    if form is None:
        raise MappingError(f"sdpa: kernel {req.kernel!r} is not an SDPA kernel")
    pipe, to, notes = build(params, inputs["q"], inputs["k"], inputs["v"], form,
                            fifo_depth=fifo_depth, stream_fifo=stream_fifo)
    job, plans, buf, stall = compile_pipeline(pipe, mode, {"o": to})
    n, d = np.atleast_2d(inputs["q"]).shape
    units = {kind: max(sum(pipe.nodes[u].kind == kind for u in pl.units) for pl in plans)
             for kind in ("pcu", "pmu")}
    units["agcu"] = max(sum(nd.kind == "agcu" for nd in pl.graph.nodes.values()) for pl in plans)

    def output(outs):
        return nx.from_bits(outs["o"][:n, :d])

    notes += f"; {len(plans)} phase(s): " + " | ".join("+".join(pl.units) for pl in plans)
    return Compiled(job=job, output=output, golden_lanes=params.lanes, useful_ops=n * n,
                    peak_ops_per_cycle=1.0, units=units, buffer_reads=buf, stall_reads=stall,
                    notes=notes, buffer_sum=True)


def model(params, q, k, v, form="streaming", **kw):
    """The mapping's output computed with the Python PCU model (no Verilator)."""
    pipe, to, _ = build(params, q, k, v, form, **kw)
    n, d = np.atleast_2d(q).shape
    return nx.from_bits(model_run(pipe, {"o": to})["o"][:n, :d])


# ------------------------------------------------------------------------------------------------
# Declarations (compiler.registry)
# ------------------------------------------------------------------------------------------------

def _inputs(req, rng):
    n, d = req.shape["n"], req.shape["d"]
    return {x: rng.standard_normal((n, d)).astype(np.float32) for x in ("q", "k", "v")}


_SHAPE = dict(limits={"n": (1, 8192), "d": (1, 256)},
              dim_help={"n": "sequence length (queries = keys = values)",
                        "d": "head dimension (at most the lane count L)"})
_FIFO = Option("fifo_depth", int, None, "vectors of the score FIFO", minimum=1)
_MODE = Option("mode", str, "fused", "phases: as many operators per phase as fit, or one "
               "operator per phase", choices=("fused", "per_op"))

SPECS = (
    KernelSpec("sdpa", ("n", "d"), ("fp32",),
               "attention, streaming form (running max / sum, deferred division)",
               **_SHAPE,
               options=(_FIFO, Option("stream_fifo", bool, True, "put the score FIFO between "
                                      "score and max"), _MODE),
               inputs=_inputs,
               # scores as dot products in the PCU order over ``lanes`` (None: GEMM order)
               golden=lambda req, i, lanes: golden.sdpa_streaming(i["q"], i["k"], i["v"],
                                                                  lanes=lanes),
               reference=lambda req, i: ref.sdpa(i["q"], i["k"], i["v"]),
               mapping=compile, input_words=lambda s: 3 * s["n"] * s["d"]),
    KernelSpec("sdpa_naive", ("n", "d"), ("fp32",),
               "attention, naive form (a whole score row buffered)",
               **_SHAPE,
               options=(dataclasses.replace(_FIFO, help="vectors of the row FIFO (at least n)"),
                        _MODE),
               inputs=_inputs,
               golden=lambda req, i, lanes: golden.sdpa_naive(i["q"], i["k"], i["v"], lanes=lanes),
               reference=lambda req, i: ref.sdpa(i["q"], i["k"], i["v"]),
               mapping=compile, input_words=lambda s: 3 * s["n"] * s["d"]),
)
