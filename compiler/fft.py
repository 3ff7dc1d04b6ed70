"""FFT and Hyena long convolution on the fabric: radix-2 levels on PCUs, reorders in PMUs,
tensors from HBM to HBM.

``compile(req, params, inputs, **options) -> Compiled`` maps

* ``fft`` — the ``n``-point complex radix-2 FFT (fp32), result in natural order, bit-exact to
  :func:`hw.golden.fft` (the levels of :func:`hw.golden.fft_dif_stages`, then the bit reversal);
* ``hyena`` — :func:`hw.golden.hyena_conv` for any ``n``: zero-pad ``u`` and ``k`` to ``M`` points,
  the smallest power of two ``>= 2n`` (:func:`hw.golden.hyena_fft_points`; ``2n`` when ``n`` is a
  power of two), DIF FFT of both (bit-reversed order, never permuted), pointwise complex product,
  DIT inverse FFT straight from bit-reversed order (:func:`hw.golden.fft_dit_stages` with
  ``twiddles(M, inverse=True)``), ``· 1/M``, real part of the first ``M/2 >= n`` (the output is
  cropped to ``n``), ``+ d·u`` (``u`` zero beyond ``n``).

Options: ``baseline`` (default ``False``): map without the PCU's ``butterfly`` network (same bits,
more units and passes); ``max_units`` (``{"pcu": n, "pmu": n}``, for experiments).

Data layout: *coordinates* and *layouts*
----------------------------------------
A complex FFT of ``N = 2**n`` points is ``2N`` fp32 words (``re, im`` interleaved, as complex64 in
HBM). Every word has *coordinates*: ``e`` (0 = re, 1 = im), the point-index bits ``q0..q{n-1}``
and, when ``2N`` words are fewer than a few vectors, padding bits ``p0..`` (extra points that are
computed and discarded: the FFT's *natural word index* is ``e + 2q + 2N·p``). A vector stream
(a :class:`Layout`) says which coordinate each of the ``log2 L`` lane bits carries (``lanes``) and
in which order the other coordinates count the vectors (``order``, fastest first). The *natural*
layout (HBM order) has lanes ``(e, q0, q1, ...)``.

A radix-2 **level** with span ``h = 2**m`` pairs points that differ in bit ``q_m``. With the
``butterfly`` extension a PCU computes a whole level on a stream whose lanes hold ``q_m`` (any lane
bit ``d >= 1``) with ``e`` at lane bit 0 (4 stages, one vector per cycle):

* DIF (:func:`dif_program`): ``x = bfly(x) ± x`` at distance ``d`` (top lanes ``a+b``, bottom lanes
  ``a-b``); ``sw = bfly(x)`` at distance 1 (re/im swapped); on the bottom lanes
  ``r = x·T`` and ``x = sw·bfly(T) + r`` — the complex multiply with every product and sum
  rounded as in the golden;
* DIT (:func:`dit_program`): the twiddle multiply of the bottom points first, then ``a ± t``.

``T`` is one **twiddle vector** per data vector: bottom lanes hold ``wr`` (for both re and im
lanes of a point), top lanes hold ``-wi`` / ``+wi`` (re / im lane) for their bottom partner, read
through the butterfly network — so one stream carries the whole complex twiddle. ``T`` is a
per-lane constant when the twiddle index depends only on lane coordinates (the levels inside the
natural vector); otherwise it streams from a table in HBM through its own AGCU.

Levels whose bit ``q_m`` is not in the lanes (the *cross-vector* levels, span ``h`` at least the
``L/2`` points of a vector) run after a **reorder**: a PMU writes the stream and reads it back in
a layout whose lanes hold the next ``log2 L - 1`` level bits (:func:`reorder_program`), so on a
fabric with ``L = 8`` two levels run back to back per reorder (PCU → PCU), one with ``L = 4``.
Reorders are conflict-free: the PMU's address layout puts the written lane coordinates in the low
address bits and the coordinates only the reader has in lanes in the skew window of the PMU's
``skewed`` bank mapping (bank = ``(a[0:lB] + a[p:p+lB]) mod B``), so both sides touch every bank
once per vector; the final bit reversal of ``fft`` is the same machinery with the read pipe's
``bitrev`` field.

**Baseline** (``baseline=True``, no butterfly network): every level reads its stream from a
reorder PMU *and* a re/im-swapped copy from a second PMU (the same writes, lane offsets with ``e``
flipped), and puts ``q_m`` on the top lane bit, where the baseline reduction tree's distance
``L/2`` (``tree(r)``, lane ``i + L/2 mod L``) is exactly the butterfly partner. Two PCUs per level:
DIF = sums/differences (``xor`` sign flip + tree add, both copies) then the twiddle multiply
(:func:`dif_base_programs`); DIT = multiply then sums/differences (:func:`dit_base_programs`).
Same bits, twice the PCUs and PMUs per level and one reorder per level.

Phases
------
The operations form a chain (load → [PMU reorder → PCU level ...] → store); :func:`plan` packs
consecutive operations into phases while the fabric has PCUs, PMUs and AGCUs (one load, one store,
one per streamed twiddle table) and the router finds paths; a phase boundary stores the stream to
a scratch tensor in HBM and the next phase loads it. Inside a phase everything streams; PMUs hold
one whole transform per buffer (double-buffered when a stream carries several transforms, as
Hyena's ``u`` and ``k``).

Hyena: phase chain 1 turns the real ``u`` and ``k`` (zero-padded to ``2n`` in HBM) into complex
vectors (a PCU: lane shift through the tree + zero imaginary parts), and runs both DIF transforms
as one stream of two; chain 2 loads ``U`` and ``K``, forms the pointwise product (two PCUs: ``K``
expanded to ``(kr, kr)`` / ``(-ki, ki)`` pairs, then ``U·Kc + swap(U)·Kb``), runs the DIT levels,
reorders to the real parts of the first ``n`` points and combines ``y·(1/2n) + d·u`` (``d`` in an
argument register) with ``u`` streamed again from HBM.

``useful_ops``: ``5·N·log2 N`` real flops per FFT (the usual count; Hyena: 3 transforms of
``2n`` points + 6 flops per point for the pointwise product + 3 per output). ``peak_ops_per_cycle``:
``L × stages`` FU ops per cycle for each PCU of the largest phase.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from hw import golden
from hw import numerics as nx
from hw.config import AddressMap
from hw.golden import reference as ref
from hw.util import log2_exact
from interconnect.router import RouteError
from memory.agcu import agcu_program, vector_addresses
from tiles import pcu_asm, pcu_model, pmu_asm
from tiles.pcu_asm import AsmError, Counter, In, Out, Program, Stage
from tiles.pcu_isa import PERF_NAMES
from tiles.pmu_asm import Pipe
from tiles.pmu_asm import Program as PMUProgram
from tiles.pmu_layout import PERF_COUNTERS
from tiles.pmu_model import PMUModel

from .graph import Graph, MappingError, build_phase, clear_before_start, fabric_map
from .hbm import HbmAllocator
from .job import Job
from .protocol import Compiled, KernelSpec, Option

__all__ = ["Space", "Layout", "reorder_program", "dif_program", "dit_program",
           "dif_base_programs", "dit_base_programs", "twiddle_vectors", "FFTPlan", "plan",
           "compile", "compile_many", "model_run"]

SIGN = 0x80000000


# --------------------------------------------------------------------------------------------
# Coordinates and layouts
# --------------------------------------------------------------------------------------------

class Space:
    """The words of one complex transform: coordinates ``e``, ``q0..q{n-1}``, ``p0..p{pad-1}``
    (natural word index ``e + 2q + 2N·p``)."""

    def __init__(self, n, pad=0):
        self.n = n
        self.pad = pad
        self.coords = ("e",) + tuple(f"q{i}" for i in range(n)) + tuple(f"p{i}" for i in range(pad))
        self.rank = {c: i for i, c in enumerate(self.coords)}

    @property
    def bits(self):
        return len(self.coords)

    @property
    def words(self):
        return 1 << self.bits

    @property
    def points(self):
        return 1 << self.n

    def q(self, i):
        return f"q{i}"


@dataclasses.dataclass(frozen=True)
class Layout:
    """A vector stream over a :class:`Space`: ``lanes[k]`` is the coordinate of lane bit ``k``,
    ``order`` the coordinates counting vectors (fastest first), ``fixed`` coordinates held at a
    value (a partial stream)."""

    lanes: tuple
    order: tuple
    fixed: tuple = ()

    @property
    def vectors(self):
        return 1 << len(self.order)

    def lane_bit(self, c):
        return self.lanes.index(c) if c in self.lanes else None

    def index(self, space):
        """Natural word index of every (vector, lane) slot: ``(V, L)`` int64."""
        L = 1 << len(self.lanes)
        lane = np.arange(L)
        v = np.arange(self.vectors)
        idx = np.zeros((self.vectors, L), np.int64)
        for k, c in enumerate(self.lanes):
            idx += (((lane >> k) & 1) << space.rank[c])[None, :]
        for j, c in enumerate(self.order):
            idx += (((v >> j) & 1) << space.rank[c])[:, None]
        for c, val in self.fixed:
            idx += int(val) << space.rank[c]
        return idx

    def check(self, space):
        got = list(self.lanes) + list(self.order) + [c for c, _ in self.fixed]
        if sorted(got) != sorted(space.coords):
            raise AssertionError(f"layout {self} does not cover {space.coords}")


def natural(space, lanes_bits, coords=None):
    """The natural layout of ``coords`` (default: the space's order): first ``lB`` in the
    lanes, the rest counting vectors."""
    cs = tuple(coords or space.coords)
    return Layout(cs[:lanes_bits], cs[lanes_bits:])


def grouped(space, lanes_bits, bits):
    """Lanes ``(e, *bits, fillers)``; the rest in natural order."""
    lanes = ["e"] + list(bits)
    for c in space.coords:
        if len(lanes) >= lanes_bits:
            break
        if c not in lanes:
            lanes.append(c)
    lanes = tuple(lanes[:lanes_bits])
    return Layout(lanes, tuple(c for c in space.coords if c not in lanes))


def level_base_layout(space, lanes_bits, m):
    """Baseline layout of level ``m``: ``q_m`` on the top lane bit, ``e`` on lane bit 0."""
    qm = space.q(m)
    mid = [c for c in space.coords if c not in ("e", qm)][:lanes_bits - 2]
    lanes = ("e", *mid, qm)
    return Layout(lanes, tuple(c for c in space.coords if c not in lanes))


def freq_layout(space, lanes_bits):
    """Natural order of the *frequency* index ``k = bitrev(q)`` (the ``fft`` output)."""
    cs = ("e",) + tuple(space.q(space.n - 1 - i) for i in range(space.n)) + \
        tuple(f"p{i}" for i in range(space.pad))
    return natural(space, lanes_bits, cs)


# --------------------------------------------------------------------------------------------
# PMU reorders
# --------------------------------------------------------------------------------------------

def _runs(order, pos):
    """Counters ``[(count, stride)]`` walking ``order`` with address bit positions ``pos``
    (consecutive coordinates at consecutive positions share a counter)."""
    runs, i = [], 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and pos[order[j + 1]] == pos[order[j]] + 1:
            j += 1
        runs.append((1 << (j - i + 1), 1 << pos[order[i]]))
        i = j + 1
    return runs


def _side(order, pos, counters):
    """(counters, bitrev) for one pipeline, or ``None`` if it needs more counters than the PMU
    has. A block of descending positions uses the ``bitrev`` field with one counter."""
    if not order:
        return [(1, 0)], 0
    runs = _runs(order, pos)
    if len(runs) <= counters:
        return runs, 0
    ps = [pos[c] for c in order]
    if all(ps[j + 1] == ps[j] - 1 for j in range(len(ps) - 1)):
        return [(1 << len(ps), 1)], ps[-1] + len(ps)
    return None


def _lane_offsets(layout, pos, lanes, flip_e=False):
    offs = []
    for ln in range(lanes):
        a = 0
        for k, c in enumerate(layout.lanes):
            bit = (ln >> k) & 1
            if flip_e and c == "e":
                bit ^= 1
            a += bit << pos[c]
        for c, val in layout.fixed:
            a += int(val) << pos[c]
        offs.append(a)
    return offs


@dataclasses.dataclass
class Reorder:
    """A solved PMU reorder: address bit position of each coordinate, bank mapping, counters."""

    pos: dict
    skew: int | None
    wcounters: list
    wbitrev: int
    rcounters: list
    rbitrev: int
    conflicts: bool = False


def solve_reorder(space, lw, lr, lanes_bits, addr_bits, counters):
    """Address layout for a PMU written in layout ``lw`` and read in ``lr`` (see the module
    docstring): returns a :class:`Reorder`, conflict-free if possible."""
    lB = lanes_bits
    best = None
    for major, minor in ((lw, lr), (lr, lw)):
        ML = list(major.lanes)
        MI = list(major.order) + [c for c, _ in major.fixed]
        base_pos = {c: lB + i for i, c in enumerate(MI)}
        ys = [c for c in minor.lanes if c not in ML]
        common = [c for c in ML if c in minor.lanes]
        xs = [c for c in ML if c not in minor.lanes]
        if ys:
            yp = sorted(base_pos[c] for c in ys)
            if yp[-1] - yp[0] >= lB:
                continue
            prange = range(max(lB, yp[-1] - lB + 1), min(yp[0], addr_bits - lB) + 1)
        else:
            prange = [None]
        for p in prange:
            yslots = sorted(base_pos[c] - p for c in ys) if ys else []
            free = [s for s in range(lB) if s not in yslots]
            for xperm in itertools.permutations(yslots):
                for cperm in itertools.permutations(free):
                    pos = dict(base_pos)
                    for c, s in zip(xs, xperm):
                        pos[c] = s
                    for c, s in zip(common, cperm):
                        pos[c] = s
                    w = _side(lw.order, pos, counters)
                    r = _side(lr.order, pos, counters)
                    if w is None or r is None:
                        continue
                    cost = len(w[0]) + len(r[0]) + (p or 0) * 1e-3
                    if best is None or cost < best[0]:
                        best = (cost, Reorder(pos, p, w[0], w[1], r[0], r[1]))
    if best is not None:
        return best[1]
    # fallback: natural positions, conflicts allowed
    pos = {c: space.rank[c] for c in space.coords}
    w = _side(lw.order, pos, counters)
    r = _side(lr.order, pos, counters)
    if w is None or r is None:
        raise MappingError(f"fft: no PMU address pattern reorders {lw.lanes}/{lw.order} into "
                           f"{lr.lanes}/{lr.order} with {counters} counters per pipeline")
    return Reorder(pos, None, w[0], w[1], r[0], r[1], conflicts=True)


def reorder_program(params, space, lw, lr, *, batch=1, swap=False, name="reorder"):
    """PMU program writing a stream in layout ``lw`` and reading it in layout ``lr`` (``swap``:
    re/im exchanged on every point, the baseline's lane-permuted copy), ``batch`` transforms
    back to back (one pass each, double-buffered when two fit)."""
    p = params.pmu
    L = params.lanes
    lB = log2_exact(L)
    words = space.words
    if words > p.size_words:
        raise MappingError(f"fft: a transform of {words} words ({space.points} points with "
                           f"padding) does not fit a PMU of {p.size_words} words "
                           f"({p.banks} banks x {p.words_per_bank}); limit n <= "
                           f"{p.size_words // 2} points")
    ro = solve_reorder(space, lw, lr, lB, p.addr_bits, p.counters)
    buffers = 2 if batch > 1 and p.buffers >= 2 and 2 * words <= p.size_words else 1
    mode = "skewed" if ro.skew is not None else "strided"
    prog = PMUProgram(
        mode=mode, skew_shift=ro.skew, buffers=buffers, region=words,
        allow_conflicts=ro.conflicts,
        write=Pipe(counters=tuple(ro.wcounters), lane_offsets=tuple(_lane_offsets(lw, ro.pos, L)),
                   bitrev=ro.wbitrev, passes=batch),
        read=Pipe(counters=tuple(ro.rcounters),
                  lane_offsets=tuple(_lane_offsets(lr, ro.pos, L, flip_e=swap)),
                  bitrev=ro.rbitrev, passes=batch),
        name=name)
    return prog, ro


# --------------------------------------------------------------------------------------------
# Twiddle vectors
# --------------------------------------------------------------------------------------------

def twiddle_vectors(space, layout, m, inverse=False):
    """The ``T`` stream of level ``m`` for ``layout`` (``(V, L)`` fp32): bottom lanes
    (``q_m = 1``) ``wr``, top lanes ``-wi`` (re lane) / ``+wi`` (im lane) of their partner's
    twiddle ``W_{2h}^j = twiddles(N)[j·N/2h]``, ``j = q mod 2**m``."""
    N = space.points
    idx = layout.index(space)
    e = idx & 1
    q = (idx >> 1) & (N - 1)
    j = q & ((1 << m) - 1)
    bottom = (q >> m) & 1
    w = nx.twiddles(N, inverse=inverse)
    k = j * (N >> (m + 1))
    wr, wi = nx.fp32(w.real)[k], nx.fp32(w.imag)[k]
    top = np.where(e == 1, wi, nx.fp32_neg(wi))
    return np.where(bottom == 1, wr, top).astype(np.float32)


def _const_of(T):
    """The per-lane constant if every vector of ``T`` is the same, else ``None``."""
    T = np.asarray(T)
    if (T == T[0]).all():
        return [float(v) for v in T[0]]
    return None


# --------------------------------------------------------------------------------------------
# PCU programs
# --------------------------------------------------------------------------------------------

def _counters(total):
    """Counters for ``total`` iterations (16-bit counts)."""
    if total < (1 << 16):
        return [Counter(total)]
    for a in range((1 << 16) - 1, 0, -1):
        if total % a == 0 and total // a < (1 << 16):
            return [Counter(a), Counter(total // a)]
    raise MappingError(f"fft: {total} iterations do not fit two 16-bit PCU counters")


def _place(params, items, name):
    """Put ``items`` ``[(Stage, needs_tree)]`` on the main stages in order, tree users on the
    last ``log2 L`` stages (the reduction tree's), padding with nops."""
    S, lB = params.stages, log2_exact(params.lanes)
    first_tree = S - lB
    out = []
    for st, tree in items:
        if tree and len(out) < first_tree:
            out += [Stage("nop")] * (first_tree - len(out))
        out.append(st)
    if len(out) > S:
        raise MappingError(f"fft: program {name} needs {len(out)} stages (tree operands on the "
                           f"last log2 L = {lB}); the PCU has {S}")
    return out


def _lane_mask(L, pred):
    return [1 if pred(i) else 0 for i in range(L)]


def _partner(T, d):
    T = list(T)
    return [T[i ^ (1 << d)] for i in range(len(T))]


def dif_program(params, d, T=None, iters=1, name="dif"):
    """One DIF level with the butterfly network, ``q_m`` on lane bit ``d``, ``e`` on lane bit 0.
    ``T``: per-lane constants, or ``None`` for a twiddle stream on ``vec_in[1]``."""
    b2 = "r1" if T is None else "const"
    b3 = "bfly(r1)" if T is None else "const"
    c2 = 0 if T is None else list(T)
    c3 = 0 if T is None else _partner(T, d)
    stages = [Stage("fadd", a="r0", neg="fp", b="bfly(r0)", dist=d, dst="r0"),
              Stage("pass", a="bfly(r0)", dist=0, dst="r2"),
              Stage("fmul", a="r0", b=b2, const=c2, mask="bit", dist=d, dst="r3"),
              Stage("fma", a="r2", b=b3, c="r3", const=c3, mask="bit", dist=d, dst="r0")]
    vin = {0: "every"} if T is not None else {0: "every", 1: "every"}
    return Program(name=name, counters=_counters(iters), vec_in=vin, stages=stages,
                   vec_out={0: Out(reg="r0")})


def dit_program(params, d, T=None, iters=1, name="dit"):
    """One DIT level with the butterfly network (twiddle multiply of the bottom points, then
    ``a ± t``); operands as :func:`dif_program`."""
    b1 = "r1" if T is None else "const"
    b2 = "bfly(r1)" if T is None else "const"
    c1 = 0 if T is None else list(T)
    c2 = 0 if T is None else _partner(T, d)
    stages = [Stage("pass", a="bfly(r0)", dist=0, dst="r2"),
              Stage("fmul", a="r0", b=b1, const=c1, mask="bit", dist=d, dst="r0"),
              Stage("fma", a="r2", b=b2, c="r0", const=c2, mask="bit", dist=d, dst="r0"),
              Stage("fadd", a="r0", neg="fp", b="bfly(r0)", dist=d, dst="r0")]
    vin = {0: "every"} if T is not None else {0: "every", 1: "every"}
    return Program(name=name, counters=_counters(iters), vec_in=vin, stages=stages,
                   vec_out={0: Out(reg="r0")})


def _masks(L):
    D = log2_exact(L) - 1
    top = _lane_mask(L, lambda i: not (i >> D) & 1)
    neg = [0 if t else SIGN for t in top]
    return D, top, neg


def _twiddle_stages(T, D, top):
    """The baseline levels' twiddle multiply (shared by DIF and DIT): ``r3 = x·T + swap(x)·T'``
    with the twiddles streamed on ``vec2`` (``T is None``) or as lane constants, then the top
    lanes keep ``x`` (``sel`` with the ``top`` mask). Returns ``(stage items, vec_in)``."""
    if T is None:
        items = [(Stage("fmul", a="vec0", b="vec2", dst="r3"), False),
                 (Stage("fma", a="vec1", b="tree(r2)", c="r3", dist=D, dst="r3"), True)]
        vin = {0: "every", 1: "every", 2: "every"}
    else:
        items = [(Stage("fmul", a="vec0", b="const", const=list(T), dst="r3"), False),
                 (Stage("fma", a="vec1", b="const", c="r3", const=_partner(T, D), dst="r3"),
                  False)]
        vin = {0: "every", 1: "every"}
    items.append((Stage("sel", a="vec0", b="r3", c="const", const=top, dst="r0"), False))
    return items, vin


def dif_base_programs(params, T=None, iters=1, name="difb"):
    """The DIF level without the butterfly network, ``q_m`` on the top lane bit: PCU A
    (``vec0`` = x, ``vec1`` = re/im-swapped x) → sums / differences of both (sign flip by ``xor``,
    partner through the reduction tree at distance ``L/2``); PCU B (``vec0``, ``vec1`` = A's
    outputs, ``vec2`` = twiddles or constants) → twiddle multiply of the bottom lanes, ``sel``."""
    L = params.lanes
    D, top, neg = _masks(L)
    a = Program(name=f"{name}_a", counters=_counters(iters), vec_in={0: "every", 1: "every"},
                stages=_place(params, [
                    (Stage("xor", a="r0", b="const", const=neg, dst="r2"), False),
                    (Stage("xor", a="r1", b="const", const=neg, dst="r3"), False),
                    (Stage("fadd", a="r2", b="tree(r0)", dist=D, dst="r0"), True),
                    (Stage("fadd", a="r3", b="tree(r1)", dist=D, dst="r1"), True)], name),
                vec_out={0: Out(reg="r0"), 1: Out(reg="r1")})
    items, vin = _twiddle_stages(T, D, top)
    b = Program(name=f"{name}_b", counters=_counters(iters), vec_in=vin,
                stages=_place(params, items, name), vec_out={0: Out(reg="r0")})
    return a, b


def dit_base_programs(params, T=None, iters=1, name="ditb"):
    """The DIT level without the butterfly network: PCU A (``vec0`` = x, ``vec1`` = swapped x,
    ``vec2`` = twiddles) → ``[a | t]``; PCU B → ``[a + t | a - t]`` (tree at distance ``L/2``)."""
    L = params.lanes
    D, top, neg = _masks(L)
    items, vin = _twiddle_stages(T, D, top)
    a = Program(name=f"{name}_a", counters=_counters(iters), vec_in=vin,
                stages=_place(params, items, name), vec_out={0: Out(reg="r0")})
    b = Program(name=f"{name}_b", counters=_counters(iters), vec_in={0: "every"},
                stages=_place(params, [
                    (Stage("xor", a="r0", b="const", const=neg, dst="r2"), False),
                    (Stage("fadd", a="r2", b="tree(r0)", dist=D, dst="r0"), True)], name),
                vec_out={0: Out(reg="r0")})
    return a, b


def _swap_operand(params, layout):
    """(``params``: PCUParams) The re/im swap network for ``layout``: ``tree`` at distance ``L/2`` when ``e`` is on the
    top lane bit, else ``bfly`` at ``e``'s lane bit (butterfly extension)."""
    lB = log2_exact(params.lanes)
    be = layout.lane_bit("e")
    if be == lB - 1:
        return "tree", lB - 1
    if params.butterfly:
        return "bfly", be
    return None, None


def product_programs(params, layout, iters, name="prod"):
    """Hyena's pointwise product ``U·K`` (golden ``_cmul(ur, ui, kr, ki)``): PCU E expands K to
    ``Kc = (kr, kr)`` and ``Kb = (-ki, ki)`` per point; PCU P computes ``U·Kc + swap(U)·Kb``
    (``fmul`` then ``fma``)."""
    L = params.lanes
    net, dist = _swap_operand(params, layout)
    be = layout.lane_bit("e")
    e0 = _lane_mask(L, lambda i: not (i >> be) & 1)
    sign_e1 = [0 if t else SIGN for t in e0]
    tree = net == "tree"

    def sw(r):
        return f"{net}({r})"
    e = Program(name=f"{name}_e", counters=_counters(iters), vec_in={0: "every"},
                stages=_place(params, [
                    (Stage("xor", a="r0", b="const", const=sign_e1, dst="r1"), False),
                    (Stage("sel", a="r0", b=sw("r0"), c="const", const=e0, dist=dist, dst="r2"),
                     tree),
                    (Stage("sel", a=sw("r1"), b="r0", c="const", const=e0, dist=dist, dst="r3"),
                     tree)], name),
                vec_out={0: Out(reg="r2"), 1: Out(reg="r3")})
    pp = Program(name=f"{name}_p", counters=_counters(iters),
                 vec_in={0: "every", 1: "every", 2: "every"},
                 stages=_place(params, [
                     (Stage("fmul", a="r0", b="r1", dst="r3"), False),
                     (Stage("fma", a=sw("r0"), b="vec2", c="r3", dist=dist, dst="r0"), tree)],
                     name),
                 vec_out={0: Out(reg="r0")})
    return e, pp


def complexify_program(params, n_in, name="cplx"):
    """Real vectors (``L`` points) → complex vectors with ``e`` on the top lane bit: iteration
    ``c`` of each input vector takes lanes ``c·L/2 ..`` (``tree`` shift for ``c = 1``) and zero
    imaginary parts (``+0.0``). Two iterations per input vector (popped on ``wrap0``)."""
    L = params.lanes
    D = log2_exact(L) - 1
    low = _lane_mask(L, lambda i: i < L // 2)
    ctrs = [Counter(2)] + _counters(n_in)
    return Program(name=name, counters=ctrs, vec_in={0: In("wrap0")},
                   stages=_place(params, [
                       (Stage("sel", a="zero", b="r0", c="const", const=low, dst="r2"), False),
                       (Stage("sel", a="r0", b="zero", c="const", const=low, dst="r3"), False),
                       (Stage("pass", a="tree(r2)", dist=D, dst="r1"), True),
                       (Stage("sel", a="r1", b="r3", c="ctr0", dst="r0"), False)], name),
                   vec_out={0: Out(reg="r0")})


def combine_program(params, scale, iters, name="combine"):
    """Hyena's last step: ``y·scale + d·u`` (``vec0`` = real parts of y, ``vec1`` = u,
    ``arg0`` = d) as ``fp32_add(fp32_mul(y, scale), fp32_mul(d, u))``."""
    return Program(name=name, counters=_counters(iters), vec_in={0: "every", 1: "every"},
                   stages=[Stage("fmul", a="vec1", b="arg0", dst="r2"),
                           Stage("fmul", a="r0", b="const", const=float(scale), dst="r0"),
                           Stage("fadd", a="r0", b="r2", dst="r0")],
                   vec_out={0: Out(reg="r0")})


# --------------------------------------------------------------------------------------------
# Operations of a chain, segments, phases
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Op:
    """One step of a chain: it consumes the chain's stream (unless ``head``: it loads its own
    inputs from HBM), adds units to a phase graph (``emit(phase, src) -> endpoint``) and produces
    the stream in layout ``out``. ``agcus`` counts its own AGCU loads (twiddle tables, extra
    inputs)."""

    name: str
    out: Layout
    emit: object
    pcus: int = 0
    pmus: int = 0
    agcus: int = 0
    head: bool = False
    levels: int = 0
    desc: str = ""


@dataclasses.dataclass
class Segment:
    """A chain from HBM to HBM: ``source`` = (byte address, layout) of the stream the first op
    consumes (``None`` if the first op is a head), ``sink`` byte address, ``batch`` transforms per
    stream."""

    name: str
    ops: list
    batch: int
    source: tuple | None
    sink: int
    space: Space


class _PhaseCtx:
    """Helpers while emitting one phase graph."""

    def __init__(self, fp, graph, batch):
        self.fp = fp
        self.g = graph
        self.batch = batch
        self.n = 0
        self.agcus = {}      # name -> (mode, base byte, loops)

    def uname(self, stem):
        self.n += 1
        return f"{stem}{self.n}"

    def load(self, stem, base_bytes, loops):
        p = self.fp.params
        L = p.lanes
        loops = [lp for lp in loops if lp[0] > 1] or [(1, 1)]
        name = self.uname(stem)
        self.g.agcu(name, agcu_program(p.agcu, L, p.memory.hbm, mode="load",
                                       base=base_bytes // (4 * L), loops=loops))
        self.agcus[name] = ("load", base_bytes, loops)
        return f"{name}.vec_out[0]"

    def store(self, stem, src, base_bytes, loops):
        p = self.fp.params
        L = p.lanes
        loops = [lp for lp in loops if lp[0] > 1] or [(1, 1)]
        name = self.uname(stem)
        self.g.agcu(name, agcu_program(p.agcu, L, p.memory.hbm, mode="store",
                                       base=base_bytes // (4 * L), loops=loops))
        self.g.connect(src, f"{name}.vec_in[0]")
        self.agcus[name] = ("store", base_bytes, loops)
        return name

    def table(self, stem, base_bytes, vectors):
        """An AGCU stream of a per-transform table, repeated for every transform of the batch."""
        return self.load(stem, base_bytes, [(vectors, 1), (self.batch, 0)])


@dataclasses.dataclass
class FFTPlan:
    """Everything the mapping decided: segments of operations, the phase graphs (with their
    AGCU walks, for :func:`model_run`), the HBM image and where the result is."""

    req: object
    params: object
    baseline: bool
    segments: list
    graphs: list = dataclasses.field(default_factory=list)
    phase_ops: list = dataclasses.field(default_factory=list)
    agcu_walks: list = dataclasses.field(default_factory=list)
    hbm: object = None
    out_base: int = 0
    out_words: int = 0
    useful_ops: int = 0
    notes: str = ""
    max_units: dict = dataclasses.field(default_factory=dict)

    def describe(self):
        lines = []
        for i, ops in enumerate(self.phase_ops):
            lines.append(f"phase {i}: " + " -> ".join(ops))
        return "\n".join(lines)


def _level_groups(n, lB):
    """Level bits grouped per reorder (butterfly mapping): the natural vector's bits, then
    groups of ``lB - 1``."""
    g0 = min(n, lB - 1)
    groups = [list(range(g0))] if g0 else []
    m = g0
    while m < n:
        groups.append(list(range(m, min(n, m + lB - 1))))
        m += lB - 1
    return groups


class _Builder:
    """Builds the operations of the chains (see the module docstring)."""

    def __init__(self, params, hbm, baseline, batch):
        self.params = params
        self.pcu = params.pcu
        self.L = params.lanes
        self.lB = log2_exact(self.L)
        self.hbm = hbm
        self.baseline = baseline
        self.batch = batch
        self.count = 0

    def _name(self, stem):
        self.count += 1
        return f"{stem}{self.count}"

    # -- PMU reorder -----------------------------------------------------------------------
    def reorder(self, space, lw, lr, why="reorder"):
        prog, ro = reorder_program(self.params, space, lw, lr, batch=self.batch,
                                   name=self._name("reorder"))

        def emit(ph, src):
            name = ph.uname("pmu")
            ph.g.pmu(name, prog)
            ph.g.connect(src, f"{name}.vec_in[0]")
            return f"{name}.vec_out[0]"
        return Op(prog.name, lr, emit, pmus=1, desc=f"PMU {why}")

    # -- one radix-2 level -------------------------------------------------------------------
    def level(self, space, layout, m, kind, inverse, src_layout=None):
        """Level ``m`` (``kind`` ``dif`` / ``dit``) on ``layout`` (butterfly mapping), or with its
        reorder pair from ``src_layout`` (baseline)."""
        V = layout.vectors
        iters = V * self.batch
        T = twiddle_vectors(space, layout, m, inverse=inverse)
        const = _const_of(T)
        tw = None
        if const is None:
            tw = self.hbm.place(f"tw_{kind}{m}_{self.count}", nx.fp32_words(T))
        label = f"{kind.upper()} h={1 << m}"
        if not self.baseline:
            d = layout.lane_bit(space.q(m))
            fn = dif_program if kind == "dif" else dit_program
            prog = fn(self.pcu, d, T=const, iters=iters, name=self._name(f"{kind}{m}_"))

            def emit(ph, src):
                name = ph.uname("pcu")
                ph.g.pcu(name, prog)
                ph.g.connect(src, f"{name}.vec_in[0]")
                if tw is not None:
                    ph.g.connect(ph.table("tw", tw, V), f"{name}.vec_in[1]")
                return f"{name}.vec_out[0]"
            return Op(prog.name, layout, emit, pcus=1, agcus=int(tw is not None), levels=1,
                      desc=f"PCU {label}" + ("" if tw is None else " (+twiddles)"))
        # baseline: reorder pair + two PCUs
        x_prog, _ = reorder_program(self.params, space, src_layout, layout, batch=self.batch,
                                    name=self._name("reorder"))
        s_prog, _ = reorder_program(self.params, space, src_layout, layout, batch=self.batch,
                                    swap=True, name=self._name("swapcopy"))
        fn = dif_base_programs if kind == "dif" else dit_base_programs
        pa, pb = fn(self.pcu, T=const, iters=iters, name=self._name(f"{kind}{m}_"))

        def emit(ph, src):
            xa, xs = ph.uname("pmu"), ph.uname("pmu")
            ph.g.pmu(xa, x_prog)
            ph.g.pmu(xs, s_prog)
            ph.g.connect(src, f"{xa}.vec_in[0]").connect(src, f"{xs}.vec_in[0]")
            a, b = ph.uname("pcu"), ph.uname("pcu")
            ph.g.pcu(a, pa)
            ph.g.pcu(b, pb)
            ph.g.connect(f"{xa}.vec_out[0]", f"{a}.vec_in[0]")
            ph.g.connect(f"{xs}.vec_out[0]", f"{a}.vec_in[1]")
            if kind == "dif":
                ph.g.connect(f"{a}.vec_out[0]", f"{b}.vec_in[0]")
                ph.g.connect(f"{a}.vec_out[1]", f"{b}.vec_in[1]")
                if tw is not None:
                    ph.g.connect(ph.table("tw", tw, V), f"{b}.vec_in[2]")
            else:
                if tw is not None:
                    ph.g.connect(ph.table("tw", tw, V), f"{a}.vec_in[2]")
                ph.g.connect(f"{a}.vec_out[0]", f"{b}.vec_in[0]")
            return f"{b}.vec_out[0]"
        return Op(pa.name[:-2], layout, emit, pcus=2, pmus=2, agcus=int(tw is not None),
                  levels=1, desc=f"2 PMU + 2 PCU {label}" + ("" if tw is None else " (+twiddles)"))

    def levels(self, space, cur, ms, kind, inverse):
        """Operations for levels ``ms`` (in order) starting from layout ``cur``."""
        ops = []
        lB = self.lB
        groups = _level_groups(space.n, lB)
        for m in ms:
            qm = space.q(m)
            if self.baseline:
                target = level_base_layout(space, lB, m)
                ops.append(self.level(space, target, m, kind, inverse, src_layout=cur))
                cur = target
                continue
            d = cur.lane_bit(qm)
            if d is None or d == 0 or cur.lane_bit("e") != 0:
                grp = next(g for g in groups if m in g)
                target = natural(space, lB) if 0 in grp else \
                    grouped(space, lB, [space.q(i) for i in grp])
                ops.append(self.reorder(space, cur, target,
                                        why=f"reorder (levels {', '.join(map(str, grp))})"))
                cur = target
            ops.append(self.level(space, cur, m, kind, inverse))
        return ops, cur


def _fft_ops(b, space, x_base, out_base):
    cur = natural(space, b.lB)
    ops, cur = b.levels(space, cur, list(range(space.n - 1, -1, -1)), "dif", False)
    target = freq_layout(space, b.lB)
    if cur != target:
        ops.append(b.reorder(space, cur, target, why="bit reversal"))
    return [Segment("fft", ops, 1, (x_base, natural(space, b.lB)), out_base, space)]


def _hyena_ops(b, space, uk_base, u_base, d_bits, uk_scratch, out_base):
    """Hyena: chain 1 (complexify + both DIF transforms), chain 2 (product, DIT, combine)."""
    L, lB = b.L, b.lB
    n2 = space.n
    real = tuple(space.q(i) for i in range(n2)) + tuple(f"p{i}" for i in range(space.pad))
    nin = 1 << (len(real) - lB)                 # real vectors per transform
    cx_layout = Layout(real[:lB - 1] + ("e",), (real[lB - 1],) + real[lB:])
    cprog = complexify_program(b.pcu, nin * b.batch, name="complexify")

    def cx_emit(ph, src):
        ld = ph.load("ld", uk_base, [(nin * ph.batch, 1)])
        name = ph.uname("pcu")
        ph.g.pcu(name, cprog)
        ph.g.connect(ld, f"{name}.vec_in[0]")
        return f"{name}.vec_out[0]"
    ops = [Op("complexify", cx_layout, cx_emit, pcus=1, agcus=1, head=True,
              desc="PCU real -> complex")]
    more, cur = b.levels(space, cx_layout, list(range(n2 - 1, -1, -1)), "dif", False)
    ops += more
    if _swap_operand(b.pcu if not b.baseline else _no_bfly(b.pcu), cur)[0] is None:
        ops.append(b.reorder(space, cur, cx_layout, why="re/im on the top lane bit"))
        cur = cx_layout
    seg1 = Segment("hyena-dif", ops, 2, None, uk_scratch, space)

    # chain 2 (one transform)
    uk = cur
    V = uk.vectors
    pcu = b.pcu if not b.baseline else _no_bfly(b.pcu)
    e_prog, p_prog = product_programs(pcu, uk, V, name="product")

    def prod_emit(ph, src):
        lu = ph.load("ld", uk_scratch, [(V, 1)])
        lk = ph.load("ld", uk_scratch + 4 * L * V, [(V, 1)])
        e, p = ph.uname("pcu"), ph.uname("pcu")
        ph.g.pcu(e, e_prog)
        ph.g.pcu(p, p_prog)
        ph.g.connect(lk, f"{e}.vec_in[0]")
        ph.g.connect(lu, f"{p}.vec_in[0]")
        ph.g.connect(f"{e}.vec_out[0]", f"{p}.vec_in[1]")
        ph.g.connect(f"{e}.vec_out[1]", f"{p}.vec_in[2]")
        return f"{p}.vec_out[0]"
    saved = b.batch
    b.batch = 1
    ops2 = [Op("product", uk, prod_emit, pcus=2, agcus=2, head=True, desc="2 PCU U*K")]
    more, cur = b.levels(space, uk, list(range(n2)), "dit", True)
    ops2 += more
    useful = set(space.q(i) for i in range(n2 - 1))
    lanes = real[:lB]
    order = tuple(c for c in real[lB:] if c in useful)
    fixed = (("e", 0),) + tuple((c, 0) for c in real[lB:] if c not in useful)
    yre = Layout(lanes, order, fixed)
    ops2.append(b.reorder(space, cur, yre, why="real parts of the first n"))
    Vr = yre.vectors
    scale = np.float32(1.0 / (2 * (1 << (n2 - 1))))
    cprog2 = combine_program(b.pcu, scale, Vr, name="combine")

    def comb_emit(ph, src):
        lu = ph.load("ld", u_base, [(Vr, 1)])
        name = ph.uname("pcu")
        ph.g.pcu(name, cprog2, args={0: d_bits})
        ph.g.connect(src, f"{name}.vec_in[0]")
        ph.g.connect(lu, f"{name}.vec_in[1]")
        return f"{name}.vec_out[0]"
    ops2.append(Op("combine", yre, comb_emit, pcus=1, agcus=1, desc="PCU y/2n + d*u"))
    b.batch = saved
    seg2 = Segment("hyena-dit", ops2, 1, None, out_base, space)
    return [seg1, seg2], Vr


def _no_bfly(pcu):
    return pcu.replace(butterfly=False) if pcu.butterfly else pcu




def _emit_phase(fp, seg, ops, src_base, src_layout, dst_base, index):
    g = Graph(f"{seg.name}[{index}]")
    ph = _PhaseCtx(fp, g, seg.batch)
    src = None
    if not ops[0].head:
        src = ph.load("ld", src_base, [(src_layout.vectors * seg.batch, 1)])
    for op in ops:
        src = op.emit(ph, src)
    out = ops[-1].out
    ph.store("st", src, dst_base, [(out.vectors * seg.batch, 1)])
    g.finish_on(*g.nodes)
    g.useful_ops = 0
    return g, ph


def _pack(fp, seg, scratch, fmap, limits):
    """Cut ``seg`` into phases (greedy, shrinking a phase that does not route)."""
    ops = seg.ops
    i = 0
    src = seg.source
    phases = []
    while i < len(ops):
        j = i
        while j < len(ops) and (j == i or not ops[j].head):
            cand = ops[i:j + 1]
            need = {"pcu": sum(o.pcus for o in cand), "pmu": sum(o.pmus for o in cand),
                    "agcu": sum(o.agcus for o in cand) + (0 if cand[0].head else 1) + 1}
            if any(need[k] > limits[k] for k in need):
                break
            j += 1
        if j == i:
            o = ops[i]
            raise MappingError(f"fft: step {o.desc!r} needs {o.pcus} PCUs, {o.pmus} PMUs and "
                               f"{o.agcus + 2} AGCUs; the fabric {fp.params.name!r} has "
                               f"{limits['pcu']} PCUs, {limits['pmu']} PMUs, {limits['agcu']} "
                               f"AGCUs")
        while True:
            last = j == len(ops)
            dst = seg.sink if last else scratch[len(fp.graphs) % 2]
            g, ph = _emit_phase(fp, seg, ops[i:j], src[0] if src else None,
                                src[1] if src else None, dst, len(phases))
            try:
                phase, _ = build_phase(g, fp.params, fmap)
                break
            except (RouteError, MappingError) as e:
                if j - i == 1:
                    raise MappingError(f"fft: phase {g.name} ({ops[i].desc}) cannot be mapped: "
                                       f"{e}") from None
                j -= 1
            except AsmError as e:
                raise MappingError(f"fft: {e}") from None
        clear_before_start(phase)
        k = len(fp.graphs)
        for name, node in g.nodes.items():
            if node.kind == "pcu":
                for ctr in ("active", "stall_input", "stall_output"):
                    phase.reads[f"p{k}.{name}.{ctr}"] = (node.site.id,
                                                        AddressMap.PERF + PERF_NAMES.index(ctr))
            elif node.kind == "pmu":
                phase.reads[f"p{k}.{name}.high_water"] = (
                    node.site.id, AddressMap.PERF + PERF_COUNTERS.index("high_water"))
        fp.graphs.append(g)
        fp.agcu_walks.append(ph.agcus)
        fp.phase_ops.append([o.desc for o in ops[i:j]])
        phases.append(phase)
        src = (dst, ops[j - 1].out)
        i = j
    return phases


def _check_fabric(params, baseline, kernel):
    p = params.pcu
    L = params.lanes
    if L < 4 or L & (L - 1):
        raise MappingError(f"{kernel}: lanes = {L}: the FFT mapping needs a power of two >= 4 "
                           f"(two complex points per vector)")
    need = [("stages", 4), ("regs", 4), ("vec_in", 3), ("vec_out", 2)]
    for key, v in need:
        if getattr(p, key) < v:
            raise MappingError(f"{kernel}: pcu.{key} = {getattr(p, key)}: the FFT mapping "
                               f"needs >= {v}")
    for s in range(p.stages):
        cl = p.classes_of(s)
        if "fp32" not in cl or "int" not in cl:
            raise MappingError(f"{kernel}: PCU stage {s} has op classes {', '.join(cl)}: the FFT "
                               f"mapping needs int and fp32 in every stage")
    if not baseline and not p.butterfly:
        raise MappingError(f"{kernel}: the butterfly mapping needs the PCU's butterfly extension "
                           f"(pcu.butterfly = false on {params.name!r}); use --baseline")
    if p.args < 1:
        raise MappingError(f"{kernel}: the PCU needs an argument register (pcu.args = 0)")


def plan(req, params, inputs, baseline=False, max_units=None, hbm=None):
    """Decide the whole mapping (see the module docstring); returns an :class:`FFTPlan`.
    ``hbm``: a shared HBM allocator (:func:`compile_many`); the caller then finishes it."""
    kernel = req.kernel
    _check_fabric(params, baseline, kernel)
    L = params.lanes
    lB = log2_exact(L)
    fmap = fabric_map(params)
    limits = {"pcu": sum(u.kind == "pcu" for u in fmap.units),
              "pmu": sum(u.kind == "pmu" for u in fmap.units), "agcu": len(fmap.agcus)}
    for k, v in (max_units or {}).items():
        limits[k] = min(limits[k], v)
    own = hbm is None
    hbm = hbm or HbmAllocator(params, f"{kernel}: n = {req.shape['n']}")
    fp = FFTPlan(req, params, baseline, [], max_units=limits)
    if kernel == "fft":
        n = log2_exact(req.shape["n"])
        space = Space(n, max(0, lB - 1 - n))
        b = _Builder(params, hbm, baseline, 1)
        x = np.asarray(inputs["x"]).astype(np.complex64)
        words = np.zeros(space.words, np.uint32)
        words[:2 * x.size] = np.ascontiguousarray(x).view(np.uint32)
        x_base = hbm.place("x", words)
        out_base = hbm.alloc("y", 4 * space.words)
        fp.segments = _fft_ops(b, space, x_base, out_base)
        fp.out_base, fp.out_words = out_base, space.words
        N = space.points
        fp.useful_ops = 5 * N * n
    elif kernel == "hyena":
        nn = req.shape["n"]
        n2 = log2_exact(golden.hyena_fft_points(nn))     # zero-padded to a power of two >= 2n
        space = Space(n2, max(0, lB - n2))
        pmu = params.pmu
        if space.words > pmu.size_words:
            m_max = 1 << ((pmu.size_words // 2).bit_length() - 1)
            raise MappingError(f"hyena: n = {nn} is zero-padded to a {1 << n2}-point FFT "
                               f"({space.words} words), which does not fit a PMU of "
                               f"{pmu.size_words} words ({pmu.banks} banks x "
                               f"{pmu.words_per_bank}) on {params.name!r}; limit n <= {m_max // 2}")
        b = _Builder(params, hbm, baseline, 2)
        rw = 1 << (n2 + space.pad)               # real words per transform (with padding)
        blk = np.zeros(2 * rw, np.uint32)
        blk[:nn] = nx.fp32_words(inputs["u"])
        blk[rw:rw + nn] = nx.fp32_words(inputs["k"])
        uk_base = hbm.place("uk", blk)
        d_bits = int(nx.fp32_words(np.asarray(inputs["d"]).reshape(-1)[:1])[0])
        uk_scratch = hbm.alloc("UK", 4 * 2 * space.words)
        out_base = hbm.alloc("y", 4 * (max(1 << (n2 - 1), L) + L))   # the first M/2 real parts
        fp.segments, vr = _hyena_ops(b, space, uk_base, uk_base, d_bits, uk_scratch, out_base)
        fp.out_base, fp.out_words = out_base, vr * L
        N2 = 1 << n2
        fp.useful_ops = 3 * 5 * N2 * n2 + 6 * N2 + 3 * nn
    else:
        raise MappingError(f"compiler.fft: kernel {kernel!r}: not an FFT kernel (fft, hyena)")
    big = max(s.space.words * s.batch for s in fp.segments)
    scratch = [hbm.alloc("scratch0", 4 * big), hbm.alloc("scratch1", 4 * big)]
    hbm.check()
    fp.hbm = hbm
    phases = []
    for seg in fp.segments:
        phases += _pack(fp, seg, scratch, fmap, limits)
    fp.phases = phases
    if own:
        fp.hbm_image = hbm.image
    return fp


def compile(req, params, inputs, *, baseline=False, max_units=None):
    """Map ``fft`` / ``hyena`` (see the module docstring). Options: ``baseline`` (default False),
    ``max_units`` ({"pcu": n, "pmu": n, "agcu": n}: cap the units a phase may use)."""
    return _compiled(plan(req, params, inputs, baseline=bool(baseline), max_units=max_units))


def compile_many(entries, params):
    """Several kernels in one :class:`~compiler.job.Job` (one simulation run; the phases run one
    after the other, each kernel in its own HBM regions). ``entries``: ``[(req, inputs,
    options)]`` (the declared options of each kernel). Returns ``(job, [(Compiled, first phase,
    phase count)])``; a kernel's result is ``compiled.output(job_outputs)`` (its output is named
    ``y<i>``) and its cycles are the sum of its phases' cycles. The kernels share one
    :class:`~compiler.hbm.HbmAllocator`."""
    hbm = HbmAllocator(params, "compile_many")
    plans = []
    for req, inputs, o in entries:
        o = _BY_NAME[req.kernel].check_options(o)
        plans.append(plan(req, params, inputs, baseline=bool(o.get("baseline", False)),
                          max_units=o.get("max_units"), hbm=hbm))
    hbm.check()
    img = hbm.image
    phases, outputs, res = [], {}, []
    for i, fp in enumerate(plans):
        fp.hbm_image = img
        c = _compiled(fp)
        first = len(phases)
        phases += fp.phases
        outputs[f"y{i}"] = (fp.out_base, (fp.out_words,), np.uint32)
        inner = c.output
        c.output = (lambda f, k: lambda outs: f({"y": outs[k]}))(inner, f"y{i}")
        res.append((c, first, len(fp.phases)))
    return Job(phases, img, outputs), res


def _compiled(fp):
    req, params = fp.req, fp.params
    L = params.lanes
    job = Job(fp.phases, fp.hbm_image, {"y": (fp.out_base, (fp.out_words,), np.uint32)})
    out = _output_fn(fp)
    pcus = max(sum(n.kind == "pcu" for n in g.nodes.values()) for g in fp.graphs)
    pmus = max(sum(n.kind == "pmu" for n in g.nodes.values()) for g in fp.graphs)
    agcus = max(sum(n.kind == "agcu" for n in g.nodes.values()) for g in fp.graphs)
    stall = tuple(sorted(k for ph in fp.phases for k in ph.reads if k.endswith("stall_input")
                         or k.endswith("stall_output")))
    buf = tuple(sorted(k for ph in fp.phases for k in ph.reads if k.endswith("high_water")))
    mode = "baseline (no butterfly network)" if fp.baseline else "butterfly"
    notes = (f"{req.kernel} {mode}: {len(fp.phases)} phases; " +
             "; ".join(f"[{i}] " + ", ".join(ops) for i, ops in enumerate(fp.phase_ops)))
    c = Compiled(job=job, output=out, golden_lanes=L, useful_ops=fp.useful_ops,
                 peak_ops_per_cycle=float(L * params.pcu.stages * pcus),
                 units={"pcu": pcus, "pmu": pmus, "agcu": agcus}, buffer_reads=buf,
                 stall_reads=stall, notes=notes)
    c.plan = fp
    return c


def _output_fn(fp):
    req = fp.req
    if req.kernel == "fft":
        n = req.shape["n"]

        def out(outs):
            return nx.from_bits(outs["y"][:2 * n]).view(np.complex64)
        return out
    n = req.shape["n"]

    def out(outs):
        return nx.from_bits(outs["y"][:n])
    return out


# --------------------------------------------------------------------------------------------
# Python model of a plan (no Verilator)
# --------------------------------------------------------------------------------------------

def model_run(fp):
    """Run every phase of ``fp`` with the Python PCU / PMU models (:mod:`tiles.pcu_model`,
    :mod:`tiles.pmu_model`) and an AGCU walk over the HBM words; returns the job's outputs
    ``{"y": words}`` (what the RTL run fetches from HBM)."""
    params = fp.params
    L = params.lanes
    mem = fp.hbm_image.words().copy()
    for g, walks in zip(fp.graphs, fp.agcu_walks):
        inputs = {}
        for s, d in g.edges:
            du, dport = d.split(".", 1)
            inputs.setdefault(du, {})[int(dport.split("[")[1][:-1])] = s
        streams = {}
        done = set()
        todo = list(g.nodes)
        while todo:
            for name in todo:
                ins = inputs.get(name, {})
                if all(s in streams for s in ins.values()):
                    break
            else:
                raise MappingError(f"model_run: {g.name}: a cycle in the graph")
            todo.remove(name)
            node = g.nodes[name]
            vin = {k: np.asarray(streams[s], np.uint32).reshape(-1, L) for k, s in ins.items()}
            if node.kind == "agcu":
                mode, base, loops = walks[name]
                addrs = vector_addresses(base // (4 * L), loops)
                if mode == "load":
                    streams[f"{name}.vec_out[0]"] = mem.reshape(-1, L)[addrs].copy()
                else:
                    data = vin[0]
                    if len(data) != len(addrs):
                        raise MappingError(f"model_run: {g.name}: store {name} got {len(data)} "
                                           f"vectors, walks {len(addrs)}")
                    mem.reshape(-1, L)[addrs] = data
            elif node.kind == "pmu":
                cfg = pmu_asm.assemble(node.program, params.pmu, L)
                res = PMUModel(params.pmu, L).run(cfg, wdata=vin[0])
                streams[f"{name}.vec_out[0]"] = res.reads.astype(np.uint32)
            else:
                asm = pcu_asm.assemble(params.pcu, node.program)
                args = [0] * params.pcu.args
                for k, v in node.args.items():
                    args[k] = int(v)
                r = pcu_model.run(asm, vec_in=vin, args=args, max_iterations=1 << 30)
                for k, v in r.vec_out.items():
                    if len(v):
                        streams[f"{name}.vec_out[{k}]"] = np.asarray(v, np.uint32).reshape(-1, L)
            done.add(name)
    base = fp.out_base // 4
    return {"y": mem[base:base + fp.out_words].copy()}


# ------------------------------------------------------------------------------------------------
# Declarations (compiler.registry)
# ------------------------------------------------------------------------------------------------

def _fft_inputs(req, rng):
    n = req.shape["n"]
    re = rng.standard_normal(n).astype(np.float32)
    return {"x": (re + 1j * rng.standard_normal(n).astype(np.float32)).astype(np.complex64)}


def _hyena_inputs(req, rng):
    n = req.shape["n"]
    return {"u": rng.standard_normal(n).astype(np.float32),
            "k": (rng.standard_normal(n) * (1.0 / np.sqrt(n))).astype(np.float32),
            "d": rng.standard_normal(1).astype(np.float32)[0:1].reshape(())}


_OPTIONS = (
    Option("baseline", bool, False, "map without the PCU's butterfly network (same bits, more "
           "units and cycles)"),
    Option("max_units", dict, None, "cap the units of a phase, e.g. pcu=2,pmu=3 "
           "(experiments)"),
)

SPECS = (
    KernelSpec("fft", ("n",), ("fp32",), "complex radix-2 FFT of n points",
               pow2=("n",), limits={"n": (2, 1 << 16)}, dim_help={"n": "points"},
               options=_OPTIONS, inputs=_fft_inputs,
               golden=lambda req, i, lanes: golden.fft(i["x"]),
               reference=lambda req, i: ref.fft(i["x"]), mapping=compile,
               input_words=lambda s: 2 * s["n"]),
    KernelSpec("hyena", ("n",), ("fp32",),
               "Hyena long convolution via FFT (zero-padded to a power of two >= 2n), "
               "pointwise product, inverse FFT",
               limits={"n": (1, 1 << 15)},
               dim_help={"n": "sequence length (any: zero-padded to a power of two >= 2n)"},
               options=_OPTIONS, inputs=_hyena_inputs,
               golden=lambda req, i, lanes: golden.hyena_conv(i["u"], i["k"], i["d"]),
               reference=lambda req, i: ref.hyena_conv(i["u"], i["k"], i["d"]), mapping=compile,
               input_words=lambda s: 2 * s["n"] + 1),
)
_BY_NAME = {s.name: s for s in SPECS}
