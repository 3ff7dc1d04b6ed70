"""Formal checks of hw.stream: StreamFIFO, SkidBuffer, PipeReg (docs/verification.md).

Each block runs under :class:`hw.formal.StreamContract`: any producer and consumer the handshake
rules allow; no word lost, duplicated or reordered; valid held and payload stable while stalled;
occupancy within the block's capacity; a non-empty block offers a word. The FIFO and the skid
buffer are checked to a bound past their depth (their stored words are not visible at the ports,
so k-induction would need internal invariants); the pipeline register is proved for every cycle.
Each mutant in :mod:`tests.formal.mutants` breaks one property and must be caught naming it.
"""

import pytest

from hw.formal import StreamContract
from hw.stream import PipeReg, SkidBuffer, StreamFIFO

from . import mutants

W = 8   # payload bits: the properties do not depend on the width


def fifo_contract(fifo):
    d = fifo.depth
    # depth >= 3 (SyncFIFOBuffered): a word is offered 2 cycles after it enters, and a FIFO with
    # depth - 1 words may refuse one while its output register refills; depth 2 is a skid buffer;
    # depth 1 offers its word the cycle after.
    return StreamContract(fifo, capacity=d, offer_within=1 if d >= 3 else 0,
                          level=lambda f: f.level, accept_below=d - 1 if d >= 3 else d)


#: (block, mode, depth): BMC to FIFO depth + 4 (>= depth + 2), k-induction where it closes
CHECKS = {
    "fifo4": (lambda: StreamFIFO(W, 4), fifo_contract, "bmc", 8),
    "fifo3": (lambda: StreamFIFO(W, 3), fifo_contract, "bmc", 7),
    "fifo2": (lambda: StreamFIFO(W, 2), fifo_contract, "bmc", 6),
    "fifo1": (lambda: StreamFIFO(W, 1), fifo_contract, "bmc", 5),
    "skid": (lambda: SkidBuffer(W), lambda b: StreamContract(b, capacity=2), "bmc", 8),
    "pipereg": (lambda: PipeReg(W), lambda b: StreamContract(b, capacity=1), "prove", 2),
}


@pytest.mark.parametrize("name", CHECKS)
def test_stream_block_contract(prove, name):
    make, contract, mode, depth = CHECKS[name]
    prove(contract(make()), name, mode, depth)


MUTANTS = {
    # (without the `level` comparison, which the dropped word breaks at the same step)
    "fifo_accepts_when_full": (lambda: mutants.FIFOAcceptsWhenFull(W, 4),
                               lambda b: StreamContract(b, capacity=4, offer_within=1,
                                                        accept_below=3),
                               "stream: occupancy"),
    "fifo_holds_last_word": (lambda: mutants.FIFOHoldsLastWord(W, 4), fifo_contract,
                             "stream: progress"),
    "skid_payload_wobbles": (lambda: mutants.SkidPayloadWobbles(W),
                             lambda b: StreamContract(b, capacity=2),
                             "o: payload stable while stalled"),
    "skid_corrupts_word": (lambda: mutants.SkidCorruptsWord(W),
                           lambda b: StreamContract(b, capacity=2), "stream: order"),
    "pipereg_drops_valid": (lambda: mutants.PipeRegDropsValid(W),
                            lambda b: StreamContract(b, capacity=1),
                            "o: valid held until accepted"),
    "pipereg_starves": (lambda: mutants.PipeRegStarves(W), lambda b: StreamContract(b, capacity=1),
                        "stream: accepts when not full"),
}


@pytest.mark.parametrize("name", MUTANTS)
def test_stream_mutant_is_caught(refute, name):
    make, contract, prop = MUTANTS[name]
    refute(contract(make()), name, "bmc", 8, prop)
