"""Parameters of the Pattern Compute Unit (docs/architecture.md §3, PCU)."""

from __future__ import annotations

import dataclasses

from .base import Params, int_range, param, pow2, subset_of

__all__ = ["OP_CLASSES", "PCUParams"]

#: Operator classes a PCU stage can be built with: ``int`` (moves, add/sub, multiply, compares,
#: logic), ``shift`` (``shl shr shrl``: a funnel shifter per FU, about 550 LUT4 each on ECP5, which
#: is why it is a class of its own), ``fixed`` (``fxmul``; brings the shifter for its rescale),
#: ``fp32`` and ``cast``.
OP_CLASSES = ("int", "shift", "fixed", "fp32", "cast")


@dataclasses.dataclass(frozen=True)
class PCUParams(Params):
    """One PCU: ``stages`` × ``lanes`` functional units, counters, FIFOs and extension networks."""

    lanes: int = param(8, check=pow2(2, 32), doc="SIMD lanes L (the vector network width)")
    stages: int = param(4, check=int_range(1, 16), doc="pipeline stages S, one opcode each")
    regs: int = param(4, check=int_range(1, 16), doc="pipeline registers per lane R")
    counters: int = param(3, check=int_range(1, 8), doc="counters in the counter chain")
    counter_bits: int = param(16, check=int_range(4, 32), doc="width of each counter")
    vec_in: int = param(2, check=int_range(1, 8), doc="vector input ports (each with a FIFO)")
    vec_out: int = param(1, check=int_range(1, 4), doc="vector output ports")
    scal_in: int = param(2, check=int_range(0, 8), doc="scalar input ports (each with a FIFO)")
    scal_out: int = param(1, check=int_range(0, 8), doc="scalar output ports")
    ctrl_in: int = param(2, check=int_range(0, 8), doc="control (token) inputs")
    ctrl_out: int = param(2, check=int_range(0, 8), doc="control (token) outputs")
    fifo_depth: int = param(4, check=pow2(2, 256), doc="depth of each input FIFO")
    op_classes: tuple[str, ...] = param(OP_CLASSES, check=subset_of(*OP_CLASSES),
                                        doc="operator classes built into every stage")
    stage_op_classes: tuple[tuple[str, ...], ...] | None = param(
        None, doc="per-stage operator classes (overrides op_classes; one list per stage)")
    args: int = param(4, check=int_range(0, 16), doc="argument registers writable at run time")
    loop_mul: bool = param(
        True, doc="a multiplier in the one-cycle loops: the scan carry unit (a multiplying op in "
                  "the stage that reads the carry) and the accumulator (acc ops muladd, fma); "
                  "off takes it out of those loops so an FPGA closes timing, and the assembler "
                  "rejects those ops there")
    min_stage_latency: int = param(
        1, check=int_range(1, 8),
        doc="cycles per stage at least (an integer stage needs 1; more pipelines the functional "
            "units — operand registers, then the multiplier — to close timing on an FPGA)")
    end_regs: bool = param(
        False, doc="register both ends of the stage pipeline (+2 cycles of latency): the issued "
                   "iteration before stage 0, so the issue logic ends at a flip-flop instead of "
                   "running on through stage 0's operand muxes and the scan carry loop, and the "
                   "last stage's results before the accumulator loop and the outputs (what an "
                   "FPGA needs to close timing)")
    systolic: bool = param(False, doc="weight-stationary systolic GEMM mode")
    butterfly: bool = param(False, doc="butterfly network: lane i reads lane i XOR 2**k")
    scan: bool = param(False, doc="Kogge-Stone scan network with carry register")
    tail: bool = param(False, doc="tail stage: exp2, reciprocal and casts")
    perf_counters: bool = param(True, doc="performance counters in RTL")

    def check(self, fail):
        if self.stage_op_classes is not None:
            if len(self.stage_op_classes) != self.stages:
                fail("stage_op_classes", self.stage_op_classes,
                     f"must have one entry per stage ({self.stages})")
            for i, classes in enumerate(self.stage_op_classes):
                if not subset_of(*OP_CLASSES)(classes):
                    fail(f"stage_op_classes[{i}]", classes, subset_of(*OP_CLASSES).allowed)
                if "int" not in classes:
                    fail(f"stage_op_classes[{i}]", classes, "must include 'int' (moves and counters)")
        elif "int" not in self.op_classes:
            fail("op_classes", self.op_classes, "must include 'int' (moves and counters)")
        if (self.scan or self.butterfly) and self.stages < (self.lanes.bit_length() - 1):
            fail("stages", self.stages, f"must be >= log2(lanes) = {self.lanes.bit_length() - 1} "
                                        f"for the scan/butterfly networks")
        if self.regs < 2 and self.systolic:
            fail("regs", self.regs, "must be >= 2 with systolic (stationary + partial sum)")

    def classes_of(self, stage):
        """Operator classes built into ``stage``."""
        if self.stage_op_classes is not None:
            return tuple(self.stage_op_classes[stage])
        return tuple(self.op_classes)

    @property
    def peak_macs_per_cycle(self):
        return self.lanes * self.stages
