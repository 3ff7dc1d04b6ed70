"""PCU assembler: a readable program description → the PCU's configuration words.

A :class:`Program` says, per stage, which op runs and where its operands come from, plus counters,
which inputs are popped when, what goes out, folds, scan carry, stationary loads and tokens::

    Program(
        counters=[Counter(16)],                        # 16 iterations
        vec_in={0: "every", 1: "every"},               # pop both vector inputs every iteration
        stages=[Stage("mul", a="vec0", b="vec1", dst="r0"),
                Stage("add", a="r0", b="tree(r0)", dist=0, dst="r0"), ...],
        vec_out={0: Out(reg="r0")},
    )

Operands: ``zero``, ``r<k>`` (previous stage's register), ``vec<k>`` (this lane of vector input k),
``scal<k>``, ``ctr<k>`` (counter k + lane·lane_stride), ``const`` (this stage's per-lane
constant), ``arg<k>``, ``lane``, ``tree(r<k>)`` (lane i + 2**dist), ``bfly(r<k>)`` (lane i XOR
2**dist), ``shift(r<k>)`` (lane i - 2**dist), ``carry``, ``bvec<k>`` (lane ``lane`` of vector input
k, broadcast), ``breg(r<k>)``, ``stat``. ``when``: ``never``, ``every``, ``wrap<j>`` (the last
iteration of counter j's block) or ``done`` (the last iteration of the run).

:func:`assemble` checks the program against the PCU's parameters and raises :class:`AsmError`
(one line: where, what, what is allowed) for an unknown op, a source this PCU does not have, an op
class not built into that stage or an extension that is not built. It returns an
:class:`Assembled` whose ``writes(unit)`` are the configuration-ring packets
(:func:`hw.config.config_writes`).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from hw import numerics as nx
from hw.config import AddressMap, Packet, config_words, config_writes
from hw.util import did_you_mean

from .pcu_isa import (
    MUL_OPS,
    OP_CLASS,
    SRC_NEEDS,
    AccOp,
    Isa,
    Mask,
    Neg,
    Op,
    OutSrc,
    Src,
    when_code,
    when_decode,
)

__all__ = ["AsmError", "Stage", "Counter", "In", "Out", "Acc", "Carry", "Stationary", "Credit",
           "Program", "Assembled", "assemble", "parse_operand", "parse_when", "word"]


class AsmError(ValueError):
    """An invalid PCU program; the message names the stage/field, the value and what is allowed."""


def word(x):
    """A 32-bit word from an int (two's complement) or a float (fp32 encoding)."""
    if isinstance(x, (float, np.floating)):
        return int(nx.bits(x)[0])
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        if not -(1 << 31) <= int(x) < (1 << 32):
            raise AsmError(f"constant {x}: does not fit 32 bits")
        return int(x) & 0xFFFFFFFF
    raise AsmError(f"constant {x!r}: must be an int or a float")


@dataclasses.dataclass
class Stage:
    """One stage: ``dst = op(a, b, c)`` on every lane (lanes outside ``mask`` keep ``dst``).

    ``dist`` is the neighbour distance exponent (tree / butterfly / shift / lane masks),
    ``lane`` the broadcast lane, ``neg`` negates operand ``a`` on lanes whose bit ``dist`` is set
    (``"fp"`` or ``"int"``; butterfly), ``frac`` the fixed-point fraction bits, ``const`` the
    stage constant (one value for every lane or a list of ``L``; floats are fp32)."""

    op: str
    a: str = "zero"
    b: str = "zero"
    c: str = "zero"
    dst: int | str = 0
    dist: int = 0
    lane: int = 0
    mask: str = "all"
    neg: str = "none"
    frac: int = 0
    const: object = 0


@dataclasses.dataclass
class Counter:
    """``count`` values ``start, start+stride, ...`` (0 = never wraps: runs until reconfigured);
    lane i sees ``value + i·lane_stride``; ``count_arg = k`` reads the count from argument k."""

    count: int
    stride: int = 1
    start: int = 0
    lane_stride: int = 0
    count_arg: int | None = None


@dataclasses.dataclass
class In:
    """An input port's pop condition (``Program.vec_in`` / ``scal_in`` values; a plain string is
    ``In(when=string)``).

    ``when`` ``every`` / ``wrap<j>`` / ``done``: the input is needed on every iteration, popped when
    ``when`` holds and otherwise peeked (the head is read again). ``when`` ``first<j>`` /
    ``last<j>`` / ``notfirst<j>`` / ``notlast<j>`` (*predicated*): on iterations where it is false
    the input is neither needed nor popped, and operands reading it (``vec<k>``, ``bvec<k>``,
    ``scal<k>``, stage 0's ``r<k>``) get ``init`` on every lane (int or float: fp32 encoding,
    e.g. ``-0.0`` for a partial sum); where it holds the input is popped. ``skip`` overrides the
    default (``True`` for the predicated kinds): ``In("wrap0", init=0, skip=True)`` reads ``init``
    except on the last iteration of counter 0's blocks."""

    when: str = "every"
    init: object = 0
    skip: bool | None = None


@dataclasses.dataclass
class Out:
    """An output: ``src`` ``"reg"`` (register ``reg`` of the last stage), ``"acc"`` (the
    accumulator after this iteration's update) or ``"acc_prev"`` (before it: the value carried in
    from the previous iteration, or the accumulator's ``init`` on the first iteration of a block);
    written on iterations selected by ``when`` (any ``when`` including the counter predicates
    ``first<j>``, ``last<j>``, ``notfirst<j>``, ``notlast<j>``); ``lane`` for scalar outputs."""

    reg: int | str = 0
    when: str = "every"
    src: str = "reg"
    lane: int = 0


@dataclasses.dataclass
class Acc:
    """Per-lane fold ``acc = op(acc, reg)`` restarting (from ``init``) on the first iteration of
    each block ``when`` selects (``wrap<j>``: blocks of counter j; ``every``: every iteration) or,
    with a counter predicate (``first<j>``, ``last<j>``, ``notfirst<j>``, ``notlast<j>``), on the
    iterations where it holds; ``op``: ``add``, ``max``, ``fadd``, ``fmax``, ``muladd``, ``fma``."""

    op: str
    reg: int | str = 0
    when: str = "wrap0"
    init: object = 0


@dataclasses.dataclass
class Carry:
    """Scan carry: the stage reading ``carry`` gets ``init`` on the first iteration of each block
    of counter ``level`` and otherwise lane L-1 of its own previous result."""

    init: object = -0.0
    level: int = 0


@dataclasses.dataclass
class Stationary:
    """Systolic weight load: before the first iteration of each block of counter ``level``, S load
    iterations pop vector input ``vec`` into stages 0..S-1's stationary registers."""

    vec: int
    level: int = 0


@dataclasses.dataclass
class Credit:
    """Token credits on a control input: the first iteration of each block of counter ``level``
    needs (and consumes) one; ``init`` credits at start (e.g. N for an N-buffered consumer)."""

    level: int = 0
    init: int = 0


@dataclasses.dataclass
class Program:
    """A whole PCU configuration (see the module docstring)."""

    stages: list = dataclasses.field(default_factory=list)
    counters: list = dataclasses.field(default_factory=lambda: [Counter(1)])
    vec_in: dict = dataclasses.field(default_factory=dict)
    scal_in: dict = dataclasses.field(default_factory=dict)
    vec_out: dict = dataclasses.field(default_factory=dict)
    scal_out: dict = dataclasses.field(default_factory=dict)
    acc: Acc | None = None
    carry: Carry | None = None
    stationary: Stationary | None = None
    ctrl_in: dict = dataclasses.field(default_factory=dict)
    ctrl_out: dict = dataclasses.field(default_factory=dict)
    tail: Stage | None = None
    ii: int | None = None
    name: str = "program"


_OPERAND = re.compile(r"^(?:(?P<fn>tree|bfly|shift|breg)\((?P<inner>[a-z]+\d*)\)|"
                      r"(?P<kind>[a-z]+?)(?P<idx>\d*))$")
_PLAIN = {"zero": Src.ZERO, "r": Src.REG, "vec": Src.VEC, "scal": Src.SCAL, "ctr": Src.CTR,
          "const": Src.CONST, "arg": Src.ARG, "lane": Src.LANE, "carry": Src.CARRY,
          "bvec": Src.BVEC, "stat": Src.STAT}
_FN = {"tree": Src.TREE, "bfly": Src.BFLY, "shift": Src.SHIFT, "breg": Src.BREG}
_INDEXED = {Src.REG, Src.VEC, Src.SCAL, Src.CTR, Src.ARG, Src.BVEC}


def parse_operand(text, where=""):
    """``"tree(r1)"`` → ``(Src.TREE, 1)``; raises :class:`AsmError` for malformed text."""
    t = str(text).strip().lower()
    mt = _OPERAND.match(t)
    if mt and mt.group("fn"):
        inner = mt.group("inner")
        if not re.fullmatch(r"r\d+", inner):
            raise AsmError(f"{where}: {text!r}: {mt.group('fn')}(...) takes a register r<k>")
        return _FN[mt.group("fn")], int(inner[1:])
    if mt and mt.group("kind") in _PLAIN:
        src = _PLAIN[mt.group("kind")]
        if src in _INDEXED and not mt.group("idx"):
            raise AsmError(f"{where}: {text!r}: needs an index, e.g. {mt.group('kind')}0")
        if src not in _INDEXED and mt.group("idx"):
            raise AsmError(f"{where}: {text!r}: {mt.group('kind')} takes no index")
        return src, int(mt.group("idx") or 0)
    raise AsmError(f"{where}: operand {text!r} not understood; allowed: zero, r<k>, vec<k>, "
                   f"scal<k>, ctr<k>, const, arg<k>, lane, tree(r<k>), bfly(r<k>), shift(r<k>), "
                   f"carry, bvec<k>, breg(r<k>), stat")


_WHEN_RE = re.compile(r"(wrap|first|last|notfirst|notlast)(\d+)")


def parse_when(text, counters, where="", defined=None):
    """``"every"`` → 1, ``"wrap<j>"`` → 2 + j, ``"done"`` → 2 + (C-1), ``"never"`` → 0, and the
    counter predicates ``first<j>`` / ``last<j>`` / ``notfirst<j>`` / ``notlast<j>``
    (:func:`tiles.pcu_isa.when_code`). ``counters`` = C of the PCU; ``defined`` = counters the
    program defines (predicates on other counters are errors; default: all C)."""
    t = str(text).strip().lower()
    defined = counters if defined is None else defined
    allowed = (f"allowed: never, every, done, wrap0..wrap{counters - 1}, first<j>, last<j>, "
               f"notfirst<j>, notlast<j> (j in 0..{defined - 1})")
    if t == "never":
        return 0
    if t == "every":
        return 1
    if t == "done":
        return 2 + counters - 1
    mt = _WHEN_RE.fullmatch(t)
    if mt:
        kind, j = mt.group(1), int(mt.group(2))
        if kind == "wrap" and j < counters:
            return 2 + j
        if kind != "wrap" and j < defined:
            return when_code(kind, j, counters)
        if kind != "wrap":
            have = (f"the program has {defined} counter{'s' if defined != 1 else ''} "
                    f"(0..{defined - 1})")
            raise AsmError(f"{where}: when = {text!r}: counter {j} does not exist; {have}")
    raise AsmError(f"{where}: when = {text!r}: {allowed}")


#: ``when`` kinds of inputs that, when false, do not need the input (operands read its ``init``)
SKIP_KINDS = ("first", "last", "notfirst", "notlast")


def _reg(x, regs, where):
    if isinstance(x, str):
        if not re.fullmatch(r"r\d+", x.strip()):
            raise AsmError(f"{where}: register {x!r}: must be r0..r{regs - 1}")
        x = int(x.strip()[1:])
    if not 0 <= int(x) < regs:
        raise AsmError(f"{where}: register r{x}: this PCU has {regs} registers (r0..r{regs - 1})")
    return int(x)


def _enum(cls, text, where, what):
    names = [e.name.lower() for e in cls]
    t = str(text).strip().lower()
    if t not in names:
        raise AsmError(f"{where}: {what} {text!r} unknown{did_you_mean(t, names)}; "
                       f"allowed: {', '.join(names)}")
    return cls[t.upper()]


@dataclasses.dataclass
class Assembled:
    """An assembled program: ``config`` (the description for the layout), ``words`` (32-bit config
    words), ``ii`` (issue interval), ``uses`` (per-stage source kinds, for reports)."""

    program: Program
    isa: Isa
    config: dict
    words: list
    ii: int
    ops_per_iter: int

    def writes(self, unit):
        """Configuration-ring WRITE packets loading this program into PCU ``unit``."""
        return config_writes(unit, self.isa.layout, self.config)

    def diff_writes(self, unit, previous):
        """Only the config words that differ from ``previous`` (an :class:`Assembled`)."""
        return [Packet.write(unit, AddressMap.CONFIG + i, w)
                for i, (w, old) in enumerate(zip(self.words, previous.words)) if w != old]


def _stage_config(isa, s, st, where, n_lanes):
    p = isa.params
    if not isinstance(st, Stage):
        raise AsmError(f"{where}: must be a Stage, not {type(st).__name__}")
    op = _enum(Op, st.op, where, "op")
    cls = OP_CLASS[op]
    built = isa.stage_classes(s)
    if cls not in built:
        if cls == "tail":
            raise AsmError(f"{where}: op {st.op!r} runs only in the tail stage (pcu.tail; "
                           f"use Program.tail)")
        raise AsmError(f"{where}: op {st.op!r} needs the {cls!r} class, not built into this "
                       f"stage (built: {', '.join(built)})")
    srcs = isa.stage_sources(s)
    conf = {"op": int(op)}
    used = []
    for name in ("a", "b", "c"):
        w = f"{where} operand {name}"
        kind, ix = parse_operand(getattr(st, name), w)
        text = getattr(st, name)
        if kind not in srcs:
            need = SRC_NEEDS.get(kind)
            if need and not getattr(p, need):
                raise AsmError(f"{w}: {text!r} needs the {need} extension, not built into this "
                               f"PCU (pcu.{need} = false)")
            if kind == Src.TREE:
                ts = isa.tree_stages()
                raise AsmError(f"{w}: {text!r}: the reduction tree reaches stages "
                               f"{ts[0]}..{ts[-1]} only")
            if kind == Src.SCAL:
                raise AsmError(f"{w}: {text!r}: this PCU has no scalar inputs")
            if kind == Src.ARG:
                raise AsmError(f"{w}: {text!r}: this PCU has no argument registers")
            raise AsmError(f"{w}: {text!r}: not available in this stage")
        limits = {Src.REG: (p.regs, "registers", "r"), Src.TREE: (p.regs, "registers", "r"),
                  Src.BFLY: (p.regs, "registers", "r"), Src.SHIFT: (p.regs, "registers", "r"),
                  Src.BREG: (p.regs, "registers", "r"), Src.VEC: (p.vec_in, "vector inputs", "vec"),
                  Src.BVEC: (p.vec_in, "vector inputs", "bvec"),
                  Src.SCAL: (p.scal_in, "scalar inputs", "scal"),
                  Src.CTR: (p.counters, "counters", "ctr"), Src.ARG: (p.args, "arguments", "arg")}
        if kind in limits:
            n, what, pre = limits[kind]
            if ix >= n:
                raise AsmError(f"{w}: {text!r}: this PCU has {n} {what} ({pre}0..{pre}{n - 1})")
        conf[name] = {"kind": int(kind), "idx": ix}
        used.append(kind)
    neg = _enum(Neg, st.neg, where, "neg")
    mask = _enum(Mask, st.mask, where, "mask")
    if (neg != Neg.NONE or mask == Mask.BIT) and not p.butterfly:
        raise AsmError(f"{where}: neg={st.neg!r} / mask={st.mask!r} needs the butterfly extension, "
                       f"not built into this PCU (pcu.butterfly = false)")
    if mask == Mask.GE and not p.scan:
        raise AsmError(f"{where}: mask='ge' needs the scan extension, not built into this PCU "
                       f"(pcu.scan = false)")
    if not 0 <= st.dist < max(isa.log_lanes, 1):
        raise AsmError(f"{where}: dist = {st.dist}: must be in 0..{isa.log_lanes - 1} "
                       f"(lane distance 2**dist < {n_lanes})")
    if not 0 <= st.lane < n_lanes:
        raise AsmError(f"{where}: lane = {st.lane}: must be in 0..{n_lanes - 1}")
    if not 0 <= st.frac < 32:
        raise AsmError(f"{where}: frac = {st.frac}: must be in 0..31")
    const = st.const
    if isinstance(const, (list, tuple, np.ndarray)):
        if len(const) != n_lanes:
            raise AsmError(f"{where}: const has {len(const)} values; needs one or {n_lanes}")
        consts = [word(x) for x in const]
    else:
        consts = [word(const)] * n_lanes
    conf.update(neg=int(neg), dst=_reg(st.dst, p.regs, f"{where} dst"), mask=int(mask),
                dist=st.dist, lane=st.lane, frac=st.frac, const=consts)
    return conf, used


def assemble(params_or_isa, program):
    """Check ``program`` against the PCU and build its configuration. Raises :class:`AsmError`."""
    isa = params_or_isa if isinstance(params_or_isa, Isa) else Isa(params_or_isa)
    p = isa.params
    L, C = p.lanes, p.counters
    if not isinstance(program, Program):
        raise AsmError(f"program must be a Program, not {type(program).__name__}")
    name = program.name
    stages = list(program.stages)
    if len(stages) > p.stages:
        raise AsmError(f"{name}: {len(stages)} stages; this PCU has {p.stages} (pcu.stages)")
    nop = Stage("nop")
    stages += [nop] * (p.stages - len(stages))
    if program.tail is not None:
        if not p.tail:
            raise AsmError(f"{name}: tail stage used; needs the tail extension, not built into "
                           f"this PCU (pcu.tail = false)")
        stages.append(program.tail)
    elif p.tail:
        stages.append(nop)
    confs, uses = [], []
    for s, st in enumerate(stages):
        where = f"{name}: tail stage" if s == isa.tail_stage else f"{name}: stage {s}"
        conf, used = _stage_config(isa, s, st, where, L)
        confs.append(conf)
        uses.append(used)

    counters = list(program.counters)
    if not counters or len(counters) > C:
        raise AsmError(f"{name}: {len(counters)} counters; this PCU has 1..{C} (pcu.counters)")
    ctr_conf = []
    lim = 1 << p.counter_bits
    for j, c in enumerate(counters + [Counter(1)] * (C - len(counters))):
        where = f"{name}: counter {j}"
        for fld in ("count", "stride", "start", "lane_stride"):
            v = getattr(c, fld)
            if not -(lim >> 1) <= v < lim:
                raise AsmError(f"{where}: {fld} = {v}: must fit {p.counter_bits} bits")
        if c.count_arg is not None and not 0 <= c.count_arg < p.args:
            raise AsmError(f"{where}: count_arg = {c.count_arg}: this PCU has {p.args} arguments")
        ctr_conf.append({"start": c.start % lim, "stride": c.stride % lim, "count": c.count % lim,
                         "lane_stride": c.lane_stride % lim,
                         "count_arg": 0 if c.count_arg is None else c.count_arg + 1})

    def ports(d, n, what):
        for k in d:
            if not isinstance(k, int) or not 0 <= k < n:
                raise AsmError(f"{name}: {what} {k!r}: this PCU has {n} ({what} 0..{n - 1})"
                               if n else f"{name}: {what} {k!r}: this PCU has none")

    ports(program.vec_in, p.vec_in, "vector input")
    ports(program.scal_in, p.scal_in, "scalar input")
    ports(program.vec_out, p.vec_out, "vector output")
    ports(program.scal_out, p.scal_out, "scalar output")
    ports(program.ctrl_in, p.ctrl_in, "control input")
    ports(program.ctrl_out, p.ctrl_out, "control output")
    ND = len(counters)

    def when(text, where):
        return parse_when(text, C, where, defined=ND)

    def inport(v, where):
        if isinstance(v, In):
            i = v
        elif isinstance(v, str):
            i = In(when=v)
        else:
            raise AsmError(f"{where}: must be a when string or an In(...), not {v!r}")
        w = when(i.when, where)
        kind, _ = when_decode(w, C)
        skip = (kind in SKIP_KINDS) if i.skip is None else bool(i.skip)
        if skip and w == 0:
            skip = False
        return {"when": w, "skip": int(skip), "init": word(i.init)}

    config = {
        "stages": confs,
        "counters": ctr_conf,
        "vin": [inport(program.vec_in.get(k, "never"), f"{name}: vec_in[{k}]")
                for k in range(p.vec_in)],
        "vout": [],
        "ii": 1,
    }
    if p.scal_in:
        config["sin"] = [inport(program.scal_in.get(k, "never"), f"{name}: scal_in[{k}]")
                         for k in range(p.scal_in)]
    # inputs read by some stage must be popped at some point (else the FIFO head is stale forever)
    for s, used in enumerate(uses):
        for name_, (kind, ix) in zip("abc", [(Src(x["kind"]), x["idx"]) for x in
                                             (confs[s]["a"], confs[s]["b"], confs[s]["c"])]):
            if kind in (Src.VEC, Src.BVEC) and config["vin"][ix]["when"] == 0 and not (
                    program.stationary and program.stationary.vec == ix):
                raise AsmError(f"{name}: stage {s} operand {name_} reads vec{ix} but vec_in[{ix}] "
                               f"is not popped (set vec_in={{{ix}: 'every'}} or a wrap level)")
            if kind == Src.SCAL and config["sin"][ix]["when"] == 0:
                raise AsmError(f"{name}: stage {s} operand {name_} reads scal{ix} but scal_in[{ix}] "
                               f"is not popped (set scal_in={{{ix}: 'every'}} or a wrap level)")

    def out(o, where, scalar):
        if not isinstance(o, Out):
            raise AsmError(f"{where}: must be an Out(...), not {o!r}")
        c = {"when": when(o.when, where),
             "src": int(_enum(OutSrc, o.src, where, "src")),
             "reg": _reg(o.reg, p.regs, where)}
        if scalar:
            if not 0 <= o.lane < L:
                raise AsmError(f"{where}: lane = {o.lane}: must be in 0..{L - 1}")
            c["lane"] = o.lane
        return c

    for k in range(p.vec_out):
        config["vout"].append(out(program.vec_out.get(k, Out(when="never")),
                                  f"{name}: vec_out[{k}]", False))
    if p.scal_out:
        config["sout"] = [out(program.scal_out.get(k, Out(when="never")),
                              f"{name}: scal_out[{k}]", True) for k in range(p.scal_out)]
    acc = program.acc
    if acc is not None:
        aop = _enum(AccOp, acc.op, f"{name}: acc", "op")
        if aop in (AccOp.FADD, AccOp.FMAX, AccOp.FMA) and "fp32" not in p.classes_of(p.stages - 1):
            raise AsmError(f"{name}: acc op {acc.op!r} needs the 'fp32' class in the last stage "
                           f"(built: {', '.join(p.classes_of(p.stages - 1))})")
        if aop in (AccOp.MULADD, AccOp.FMA) and not p.loop_mul:
            raise AsmError(f"{name}: acc op {acc.op!r} multiplies in the accumulator loop, not "
                           f"built into this PCU (pcu.loop_mul = false); allowed: add, max"
                           f"{', fadd, fmax' if 'fp32' in p.classes_of(p.stages - 1) else ''}")
        config["acc"] = {"op": int(aop), "reg": _reg(acc.reg, p.regs, f"{name}: acc"),
                         "when": when(acc.when, f"{name}: acc"), "init": word(acc.init)}
    else:
        config["acc"] = {"op": 0, "reg": 0, "when": 0, "init": 0}
    uses_out_acc = [o.src for o in list(program.vec_out.values()) +
                    list(program.scal_out.values()) if str(o.src).lower() in ("acc", "acc_prev")]
    if uses_out_acc and acc is None:
        raise AsmError(f"{name}: an output reads {uses_out_acc[0]!r} but the program has no Acc")

    # scan carry
    carry_stages = [s for s, used in enumerate(uses) if Src.CARRY in used]
    ii = 1
    if len(carry_stages) > 1:
        raise AsmError(f"{name}: stages {carry_stages} read the carry; only one stage may")
    if p.scan and carry_stages and not p.loop_mul:
        cop = Op(confs[carry_stages[0]]["op"])
        if cop in MUL_OPS:
            raise AsmError(f"{name}: stage {carry_stages[0]} reads the carry with op "
                           f"{cop.name.lower()!r}: the carry loop has no multiplier in this PCU "
                           f"(pcu.loop_mul = false); use an op without a multiply there")
    if p.scan:
        cr = program.carry or Carry()
        if not 0 <= cr.level < C:
            raise AsmError(f"{name}: carry level = {cr.level}: must be in 0..{C - 1}")
        config["carry"] = {"stage": carry_stages[0] if carry_stages else 0, "lvl": cr.level,
                           "init": word(cr.init)}
    elif program.carry is not None:
        raise AsmError(f"{name}: carry needs the scan extension, not built into this PCU "
                       f"(pcu.scan = false)")
    # systolic stationary loads
    if p.systolic:
        st = program.stationary
        if st is None:
            config["stat"] = {"en": 0, "vec": 0, "lvl": 0}
        else:
            if not 0 <= st.vec < p.vec_in:
                raise AsmError(f"{name}: stationary vec = {st.vec}: this PCU has {p.vec_in} vector "
                               f"inputs")
            if not 0 <= st.level < C:
                raise AsmError(f"{name}: stationary level = {st.level}: must be in 0..{C - 1}")
            config["stat"] = {"en": 1, "vec": st.vec, "lvl": st.level}
    elif program.stationary is not None:
        raise AsmError(f"{name}: stationary loads need the systolic extension, not built into "
                       f"this PCU (pcu.systolic = false)")
    if p.ctrl_in:
        config["cin"] = []
        for k in range(p.ctrl_in):
            c = program.ctrl_in.get(k)
            if c is None:
                config["cin"].append({"en": 0, "lvl": 0, "init": 0})
            else:
                if not 0 <= c.init < 256 or not 0 <= c.level < C:
                    raise AsmError(f"{name}: ctrl_in[{k}]: init must be in 0..255 and level in "
                                   f"0..{C - 1}")
                config["cin"].append({"en": 1, "lvl": c.level, "init": c.init})
    if p.ctrl_out:
        config["cout"] = [when(program.ctrl_out.get(k, "never"), f"{name}: ctrl_out[{k}]")
                          for k in range(p.ctrl_out)]
    if program.ii is not None:
        if not ii <= program.ii <= 31:
            raise AsmError(f"{name}: ii = {program.ii}: must be in {ii}..31 (the carry loop needs "
                           f">= {ii})")
        ii = program.ii
    config["ii"] = ii
    try:
        words = config_words(isa.layout, config)
    except (ValueError, TypeError) as e:
        raise AsmError(f"{name}: {e}") from None
    ops = sum(1 for c in confs if c["op"] != Op.NOP) * L
    return Assembled(program, isa, config, words, ii, ops)
