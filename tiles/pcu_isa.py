"""The PCU's instruction set and configuration layout, declared once for the RTL and the assembler.

Everything the PCU can be told lives in one ``amaranth.lib.data.StructLayout`` built from the unit's
parameters by :func:`config_layout`; the RTL (:class:`tiles.pcu.PCU`) holds it in its
:class:`hw.config.ConfigStore` register and the assembler (:mod:`tiles.pcu_asm`) packs descriptions
with ``layout.const``. This module also defines the opcodes (:class:`Op`, with the operator class each
belongs to), operand sources (:class:`Src`), lane masks, operand modifiers, accumulator ops and the
``when`` encoding shared by FIFO pops, outputs, folds and tokens. See ``docs/pcu.md`` for the manual.
"""

from __future__ import annotations

import enum

from amaranth import unsigned
from amaranth.lib import data

from hw.util import bits_for

__all__ = ["Op", "OP_CLASS", "MUL_OPS", "Src", "SRC_NEEDS", "Mask", "Neg", "AccOp", "OutSrc", "Kind",
           "WHEN_NEVER", "WHEN_EVERY", "WHEN_KINDS", "when_wrap", "when_code", "when_decode",
           "when_eval", "Isa", "N_PERF", "PERF_NAMES"]


class Op(enum.IntEnum):
    """Stage opcodes (one per stage, all lanes). ``a``, ``b``, ``c`` are the three operands."""

    NOP = 0       # the stage passes its registers through
    PASS = 1      # a
    ADD = 2       # a + b (wrap)
    SUB = 3       # a - b (wrap)
    MUL = 4       # low 32 bits of a·b
    MULADD = 5    # a·b + c (wrap)
    MIN = 6       # signed
    MAX = 7       # signed
    LT = 8        # a < b (signed) → 1/0
    EQ = 9        # a == b → 1/0
    SEL = 10      # c != 0 ? a : b
    AND = 11
    OR = 12
    XOR = 13
    SHL = 14      # a << (b mod 32)
    SHR = 15      # arithmetic a >> (b mod 32)
    SHRL = 16     # logical a >> (b mod 32)
    ADDS = 17     # saturating a + b
    SUBS = 18     # saturating a - b
    FXMUL = 20    # fixed point: saturate((a·b + 2**(frac-1)) >> frac)
    FADD = 24     # fp32 a + b
    FSUB = 25     # fp32 a - b
    FMUL = 26     # fp32 a · b
    FMA = 27      # fp32 unfused a·b + c
    FMAX = 28
    FMIN = 29
    FLT = 30      # fp32 a < b → 1/0
    FEQ = 31      # fp32 a == b → 1/0
    I2F = 36      # int32 → fp32 (RNE)
    F2I = 37      # fp32 → int32 (truncate, saturate, NaN → 0)
    F2BF = 38     # fp32 → bf16 encoding (low 16 bits, RNE, FTZ)
    BF2F = 39     # bf16 encoding (low 16 bits) → fp32
    FTZ = 40      # fp32 flush-to-zero / canonical NaN
    EXP2 = 44     # table exp2 (tail stage)
    RECIP = 45    # table reciprocal (tail stage)


#: Operator class of every opcode (a stage can run an op only if its class is built into it).
OP_CLASS = {
    **{op: "int" for op in (Op.NOP, Op.PASS, Op.ADD, Op.SUB, Op.MUL, Op.MULADD, Op.MIN, Op.MAX,
                            Op.LT, Op.EQ, Op.SEL, Op.AND, Op.OR, Op.XOR, Op.ADDS, Op.SUBS)},
    **{op: "shift" for op in (Op.SHL, Op.SHR, Op.SHRL)},
    Op.FXMUL: "fixed",
    **{op: "fp32" for op in (Op.FADD, Op.FSUB, Op.FMUL, Op.FMA, Op.FMAX, Op.FMIN, Op.FLT,
                             Op.FEQ)},
    **{op: "cast" for op in (Op.I2F, Op.F2I, Op.F2BF, Op.BF2F, Op.FTZ)},
    Op.EXP2: "tail", Op.RECIP: "tail",
}

#: Opcodes that use a functional unit's multiplier (what ``PCUParams.loop_mul = false`` keeps out
#: of the scan carry loop).
MUL_OPS = frozenset({Op.MUL, Op.MULADD, Op.FXMUL, Op.FMUL, Op.FMA})

#: Floating-point opcodes (operand negation of the ``butterfly`` modifier flips the sign bit).
FP_OPS = frozenset(op for op, c in OP_CLASS.items() if c in ("fp32", "tail")) | {Op.F2I, Op.F2BF,
                                                                                   Op.FTZ}


class Src(enum.IntEnum):
    """Operand sources. ``idx`` selects the register / input / counter / argument; ``dist`` and
    ``lane`` are per-stage fields."""

    ZERO = 0     # constant 0
    REG = 1      # previous stage's register idx, this lane
    VEC = 2      # this lane of vector input idx (the word popped with this iteration)
    SCAL = 3     # scalar input idx (popped with this iteration), every lane
    CTR = 4      # counter idx + lane·lane_stride
    CONST = 5    # this stage's constant for this lane
    ARG = 6      # argument register idx (writable at run time)
    TREE = 7     # register idx of lane (i + 2**dist) mod L (reduction tree network)
    LANE = 8     # the lane index i
    BFLY = 9     # register idx of lane i XOR 2**dist (butterfly extension)
    SHIFT = 10   # register idx of lane i - 2**dist, 0 for i < 2**dist (scan extension)
    CARRY = 11   # the scan carry register (scan extension)
    BVEC = 12    # lane `lane` of vector input idx, broadcast (systolic extension)
    BREG = 13    # register idx of lane `lane`, broadcast (systolic extension)
    STAT = 14    # this stage's stationary register for this lane (systolic extension)


#: Extension flag a source needs (``None`` = baseline).
SRC_NEEDS = {Src.BFLY: "butterfly", Src.SHIFT: "scan", Src.CARRY: "scan", Src.BVEC: "systolic",
             Src.BREG: "systolic", Src.STAT: "systolic"}


class Mask(enum.IntEnum):
    """Which lanes write the stage's result (the others keep the destination register)."""

    ALL = 0
    GE = 1       # lanes i >= 2**dist (Kogge-Stone step; needs scan)
    BIT = 2      # lanes whose bit `dist` is set (butterfly bottom half; needs butterfly)


class Neg(enum.IntEnum):
    """Modifier of operand ``a``: negate it on lanes whose bit ``dist`` is set (butterfly)."""

    NONE = 0
    FP = 1       # flip the fp32 sign bit
    INT = 2      # two's complement negation


class AccOp(enum.IntEnum):
    """The per-lane accumulator after the last stage: ``acc = op(acc, reg)``."""

    NONE = 0
    ADD = 1      # int32 wrap
    MAX = 2      # int32 signed
    FADD = 3     # fp32 (needs fp32 in the last stage's classes)
    FMAX = 4
    MULADD = 5   # acc = acc·x + y (int32 wrap), x = reg, y = reg + 1 (mod R): per-lane recurrence
    FMA = 6      # acc = acc·x + y (fp32 unfused): the sequential linear recurrence h = a·h + b


class OutSrc(enum.IntEnum):
    REG = 0      # a register of the last stage
    ACC = 1      # the accumulator (after this iteration's update)
    ACC_PREV = 2  # the accumulator before this iteration's update (its init on a block's first)


class Kind(enum.IntEnum):
    """Iteration kinds travelling down the pipeline."""

    COMPUTE = 0
    LOAD = 1     # stationary-register load (systolic)


#: ``when`` fields (pops, outputs, folds, tokens): 0 never, 1 every iteration, then for each
#: predicate kind ``k`` of :data:`WHEN_KINDS` and counter ``j``: ``2 + k·C + j``:
#: ``wrap<j>`` (counters 0..j all at their last value: the last iteration of counter j's block),
#: ``first<j>`` (counter j at its start value), ``last<j>`` (counter j at its final value),
#: ``notfirst<j>``, ``notlast<j>``. ``C`` = ``PCUParams.counters``.
WHEN_NEVER = 0
WHEN_EVERY = 1
WHEN_KINDS = ("wrap", "first", "last", "notfirst", "notlast")


def when_wrap(j):
    return 2 + j


def when_code(kind, j, counters):
    """The ``when`` encoding of predicate ``kind`` (one of :data:`WHEN_KINDS`) on counter ``j``."""
    return 2 + WHEN_KINDS.index(kind) * counters + j


def when_decode(code, counters):
    """``code`` → ``("never", None)``, ``("every", None)`` or ``(kind, j)``."""
    if code == 0:
        return "never", None
    if code == 1:
        return "every", None
    k, j = divmod(code - 2, counters)
    return WHEN_KINDS[k], j


def when_eval(code, counters, at_start, at_last):
    """Whether ``when`` = ``code`` holds for an iteration whose counters are at their start
    (``at_start[j]``) / last (``at_last[j]``) values (the model's and the RTL's definition)."""
    kind, j = when_decode(code, counters)
    if kind == "never":
        return False
    if kind == "every":
        return True
    if kind == "wrap":
        return all(at_last[:j + 1])
    return {"first": at_start[j], "last": at_last[j], "notfirst": not at_start[j],
            "notlast": not at_last[j]}[kind]


#: Performance counters (read at ``AddressMap.PERF + i``).
PERF_NAMES = ("cycles", "active", "stall_input", "stall_output", "stall_credit", "stall_interval",
              "fu_ops", "loads")
N_PERF = len(PERF_NAMES)


class Isa:
    """The PCU's configuration layout and per-stage facts derived from :class:`PCUParams`.

    ``n_stages`` counts the tail stage (the last one) when ``tail`` is set. ``stage_classes(s)``
    lists the operator classes built into stage ``s``; ``stage_sources(s)`` the operand sources.
    """

    def __init__(self, params):
        p = self.params = params
        self.lanes = p.lanes
        self.log_lanes = p.lanes.bit_length() - 1
        self.n_stages = p.stages + (1 if p.tail else 0)
        self.tail_stage = p.stages if p.tail else None
        self.idx_bits = bits_for(max(p.regs, p.vec_in, max(p.scal_in, 1), p.counters,
                                     max(p.args, 1)))
        self.reg_bits = bits_for(p.regs)
        self.lane_bits = bits_for(p.lanes)
        self.dist_bits = bits_for(max(self.log_lanes, 1))
        self.when_bits = bits_for(2 + len(WHEN_KINDS) * p.counters)
        self.stage_bits = bits_for(self.n_stages)
        cb = p.counter_bits
        operand = data.StructLayout({"kind": unsigned(4), "idx": unsigned(self.idx_bits)})
        stage = data.StructLayout({
            "op": unsigned(6),
            "a": operand, "b": operand, "c": operand,
            "neg": unsigned(2),
            "dst": unsigned(self.reg_bits),
            "mask": unsigned(2),
            "dist": unsigned(self.dist_bits),
            "lane": unsigned(self.lane_bits),
            "frac": unsigned(5),
            "const": data.ArrayLayout(unsigned(32), p.lanes),
        })
        inport = data.StructLayout({"when": unsigned(self.when_bits), "skip": unsigned(1),
                                    "init": unsigned(32)})
        counter = data.StructLayout({
            "start": unsigned(cb), "stride": unsigned(cb), "count": unsigned(cb),
            "lane_stride": unsigned(cb),
            "count_arg": unsigned(bits_for(p.args + 1)),   # 0: config count; k+1: argument k
        })
        fields = {
            "stages": data.ArrayLayout(stage, self.n_stages),
            "counters": data.ArrayLayout(counter, p.counters),
            # pop condition; skip = 1: when the condition is false the input is not needed and
            # operands reading it get `init` (else the head is peeked)
            "vin": data.ArrayLayout(inport, p.vec_in),
            "vout": data.ArrayLayout(data.StructLayout({
                "when": unsigned(self.when_bits), "src": unsigned(2),
                "reg": unsigned(self.reg_bits)}), p.vec_out),
            "acc": data.StructLayout({
                "op": unsigned(3), "reg": unsigned(self.reg_bits), "when": unsigned(self.when_bits),
                "init": unsigned(32)}),
            "ii": unsigned(5),
        }
        if p.scal_in:
            fields["sin"] = data.ArrayLayout(inport, p.scal_in)
        if p.scal_out:
            fields["sout"] = data.ArrayLayout(data.StructLayout({
                "when": unsigned(self.when_bits), "src": unsigned(2),
                "reg": unsigned(self.reg_bits), "lane": unsigned(self.lane_bits)}), p.scal_out)
        if p.ctrl_in:
            fields["cin"] = data.ArrayLayout(data.StructLayout({
                "en": unsigned(1), "lvl": unsigned(bits_for(p.counters)), "init": unsigned(8)}),
                p.ctrl_in)
        if p.ctrl_out:
            fields["cout"] = data.ArrayLayout(unsigned(self.when_bits), p.ctrl_out)
        if p.scan:
            fields["carry"] = data.StructLayout({
                "stage": unsigned(self.stage_bits), "lvl": unsigned(bits_for(p.counters)),
                "init": unsigned(32)})
        if p.systolic:
            fields["stat"] = data.StructLayout({
                "en": unsigned(1), "vec": unsigned(bits_for(p.vec_in)),
                "lvl": unsigned(bits_for(p.counters))})
        self.layout = data.StructLayout(fields)

    # ---- per-stage facts -------------------------------------------------------------------

    def stage_classes(self, s):
        """Operator classes built into stage ``s`` (the tail stage: int moves, casts, tail ops)."""
        if s == self.tail_stage:
            return ("int", "cast", "tail")
        return self.params.classes_of(s)

    def stage_ops(self, s):
        classes = self.stage_classes(s)
        return [op for op, c in OP_CLASS.items() if c in classes]

    def stage_sources(self, s):
        """Operand sources available in stage ``s`` (the reduction-tree network is built into the
        last log2(L) main stages, as in Plasticine; the extensions into every main stage)."""
        p = self.params
        srcs = [Src.ZERO, Src.REG, Src.VEC, Src.CTR, Src.CONST, Src.LANE]
        if p.scal_in:
            srcs.append(Src.SCAL)
        if p.args:
            srcs.append(Src.ARG)
        main = s != self.tail_stage
        if main and s >= p.stages - self.log_lanes:
            srcs.append(Src.TREE)
        if main and p.butterfly:
            srcs.append(Src.BFLY)
        if main and p.scan:
            srcs += [Src.SHIFT, Src.CARRY]
        if main and p.systolic:
            srcs += [Src.BVEC, Src.BREG, Src.STAT]
        return srcs

    def tree_stages(self):
        return [s for s in range(self.params.stages) if Src.TREE in self.stage_sources(s)]
