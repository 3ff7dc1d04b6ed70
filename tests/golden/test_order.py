"""The PCU's reduction and scan orders (``hw/golden/order.py``), checked against hand-written loops.

Each reference below is written from the module docstring with plain Python loops over scalars and
the :mod:`hw.numerics` operators (so it shares the arithmetic but not the slicing/reshaping code of
the module under test).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from hw import numerics as nx
from hw.golden import order

#: Random seed: ``RDU_SEED`` if set (as for the simulation tests), else a fixed default.
SEED = int(os.environ.get("RDU_SEED") or "31337", 0)
LANES = [1, 2, 4, 8, 16, 32, 64]


def add(a, b):
    return nx.fp32_add(np.float32(a), np.float32(b))[()]


def mul(a, b):
    return nx.fp32_mul(np.float32(a), np.float32(b))[()]


def same_bits(x, y):
    np.testing.assert_array_equal(nx.bits(x), nx.bits(y))


def nasty(rng, shape):
    """fp32 values whose sums depend on the order: wide dynamic range, cancellation, signed
    zeros."""
    x = rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 7, shape)
    x[rng.random(shape) < 0.05] = 0.0
    x[rng.random(shape) < 0.05] = -0.0
    x[rng.random(shape) < 0.05] = 1e30
    x[rng.random(shape) < 0.05] = -1e30
    return nx.fp32(x)


def seq_fold(row):
    acc = np.float32(-0.0)
    for v in row:
        acc = add(acc, v)
    return acc


def hand_tree(vals):
    """Level k combines lanes i and i + 2**k for i a multiple of 2**(k+1), in place."""
    v = list(vals)
    step = 1
    while step < len(v):
        for i in range(0, len(v), 2 * step):
            v[i] = add(v[i], v[i + step])
        step *= 2
    return v[0]


def hand_reduce(row, lanes):
    row = list(row)
    while len(row) % lanes or not row:
        row.append(np.float32(-0.0))
    acc = np.float32(-0.0)
    for g in range(0, len(row), lanes):
        acc = add(acc, hand_tree(row[g:g + lanes]))
    return acc


def hand_scan(row, lanes, op=add, zero=np.float32(-0.0)):
    """Kogge-Stone within each group of ``lanes`` plus a carry register."""
    n = len(row)
    row = list(row)
    while len(row) % lanes:
        row.append(zero)
    out = []
    carry = zero
    for g in range(0, len(row), lanes):
        y = row[g:g + lanes]
        d = 1
        while d < lanes:
            y = [y[i] if i < d else op(y[i - d], y[i]) for i in range(lanes)]
            d *= 2
        y = [op(carry, v) for v in y]
        out += y
        carry = y[-1]
    return out[:n]


# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lanes", [1, 2, 4, 8, 16, 32, 64, np.int64(8)])
def test_check_lanes_accepts_powers_of_two(lanes):
    assert order.check_lanes(lanes) == int(lanes)


@pytest.mark.parametrize("lanes", [0, 3, 6, 128, -2, True, 2.0, "4", None])
def test_check_lanes_rejects(lanes):
    with pytest.raises(ValueError) as e:
        order.check_lanes(lanes)
    assert str(e.value) == (f"lanes = {lanes!r}: must be a power of two in 1..64 "
                            f"(1 = sequential order)")


def test_dtype_errors():
    with pytest.raises(ValueError, match=r"^dtype = 'fp16': must be one of 'fp32', 'int32'$"):
        order.reduce_add([1.0], 4, dtype="fp16")
    with pytest.raises(ValueError, match=r"^lanes = 3: must be a power of two"):
        order.scan_add([1.0], 3)
    with pytest.raises(ValueError, match=r"^lanes = 5: must be a power of two"):
        order.scan_pairs([1.0], [1.0], 5)


def test_reduce_lanes1_is_sequential_left_fold():
    rng = np.random.default_rng(SEED)
    x = nasty(rng, (20, 37))
    got = order.reduce_add(x, 1)
    want = np.array([seq_fold(r) for r in x], np.float32)
    same_bits(got, want)


def test_reduce_lanes4_is_the_hand_coded_tree():
    rng = np.random.default_rng(SEED + 1)
    x = nasty(rng, (40, 11))                     # 3 groups of 4, the last padded with one -0.0
    got = order.reduce_add(x, 4)
    want = []
    for r in x:
        p = list(r) + [np.float32(-0.0)]
        acc = np.float32(-0.0)
        for g in range(3):
            a, b, c, d = p[4 * g:4 * g + 4]
            acc = add(acc, add(add(a, b), add(c, d)))     # ((x0+x1)+(x2+x3))
        want.append(acc)
    same_bits(got, np.array(want, np.float32))
    # the order matters: on these inputs the tree differs from the sequential fold somewhere
    assert np.any(nx.bits(got) != nx.bits(order.reduce_add(x, 1)))


@pytest.mark.parametrize("lanes", LANES)
@pytest.mark.parametrize("n", [1, 5, 8, 64, 100])
def test_reduce_matches_hand_tree_any_lanes(lanes, n):
    rng = np.random.default_rng(SEED + 17 * lanes + n)
    x = nasty(rng, (6, n))
    same_bits(order.reduce_add(x, lanes), np.array([hand_reduce(r, lanes) for r in x], np.float32))


def test_reduce_batch_shapes():
    rng = np.random.default_rng(SEED + 2)
    x = nasty(rng, (3, 4, 9))
    r = order.reduce_add(x, 4)
    assert r.shape == (3, 4) and r.dtype == np.float32
    same_bits(r, order.reduce_add(x.reshape(12, 9), 4).reshape(3, 4))
    assert order.reduce_add(np.float32([1.0, 2.0]), 2).shape == ()


def test_negative_zero_is_the_identity_of_fp32_add():
    specials = nx.from_bits(np.array([0, 0x80000000, 0x3F800000, 0xBF800000, 0x7F800000,
                                      0xFF800000, 0x7F7FFFFF, 0x00800000, 0x80800000,
                                      0x7FC00000], np.uint64))
    same_bits(nx.fp32_add(specials, np.float32(-0.0)), specials)
    same_bits(nx.fp32_add(np.float32(-0.0), specials), specials)
    # +0.0 would not be: -0 + +0 = +0
    assert nx.bits(nx.fp32_add(np.float32(-0.0), np.float32(0.0))) == 0


@pytest.mark.parametrize("lanes", [1, 2, 4, 8, 64])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 9])
def test_negative_zero_padding_never_changes_results(lanes, n):
    negz = np.full(n, -0.0, np.float32)
    # all -0: every result is -0 (padding or an initial accumulator of +0 would give +0)
    assert nx.bits(order.reduce_add(negz, lanes)) == 0x80000000
    assert np.all(nx.bits(order.scan_add(negz, lanes)) == 0x80000000)
    assert np.all(nx.bits(order.scan_pairs(np.ones(n), negz, lanes)) == 0x80000000)
    # a single +0 makes the sum +0, wherever it sits
    for i in range(n):
        z = negz.copy()
        z[i] = 0.0
        assert nx.bits(order.reduce_add(z, lanes)) == 0
    # filling the padded slots of the last group with explicit -0.0 changes nothing
    rng = np.random.default_rng(SEED + n * lanes)
    x = nasty(rng, (8, n))
    pad = (-n) % lanes
    xp = np.concatenate([x, np.full((8, pad), -0.0, np.float32)], axis=1)
    same_bits(order.reduce_add(x, lanes), order.reduce_add(xp, lanes))
    same_bits(order.scan_add(x, lanes), order.scan_add(xp, lanes)[:, :n])
    # the reduction of an empty axis is the identity
    assert nx.bits(order.reduce_add(np.zeros((0,), np.float32), lanes)) == 0x80000000


@pytest.mark.parametrize("lanes", LANES)
@pytest.mark.parametrize("n", [1, 3, 8, 13, 64, 70])
def test_scan_add_is_kogge_stone_plus_carry(lanes, n):
    rng = np.random.default_rng(SEED + 3 + lanes + 100 * n)
    x = nasty(rng, (4, n))
    got = order.scan_add(x, lanes)
    assert got.shape == x.shape and got.dtype == np.float32
    same_bits(got, np.array([hand_scan(r, lanes) for r in x], np.float32))
    # the last element of the scan is not necessarily the tree reduction (different order), but
    # with lanes=1 both are the sequential fold
    if lanes == 1:
        same_bits(got[:, -1], order.reduce_add(x, 1))


def test_scan_lanes1_is_sequential_cumsum():
    rng = np.random.default_rng(SEED + 4)
    x = nasty(rng, (5, 50))
    got = order.scan_add(x, 1)
    for r, g in zip(x, got):
        acc = np.float32(-0.0)
        for v, gv in zip(r, g):
            acc = add(acc, v)
            assert nx.bits(gv) == nx.bits(acc)


@pytest.mark.parametrize("lanes", [1, 4, 8, 32])
def test_int32_scan_and_reduce_wrap(lanes):
    rng = np.random.default_rng(SEED + 5)
    x = rng.integers(-2**31, 2**31, (4, 45))
    x[0, :] = 2**31 - 1
    got = order.scan_add(x, lanes, dtype="int32")
    assert got.dtype == np.int64
    wrap = lambda v: (v + 2**31) % 2**32 - 2**31  # noqa: E731
    for r, g in zip(x, got):
        acc = 0
        for v, gv in zip(r, g):
            acc = wrap(acc + int(v))
            assert int(gv) == acc
    red = order.reduce_add(x, lanes, dtype="int32")
    assert [int(v) for v in red] == [wrap(sum(int(v) for v in r)) for r in x]
    # the hand-written Kogge-Stone with integer ops agrees too
    iadd = lambda a, b: int(nx.int_add(a, b, 32))  # noqa: E731
    assert [int(v) for v in got[1]] == hand_scan([int(v) for v in x[1]], lanes, iadd, 0)
    # inputs outside int32 are wrapped on entry (the operand is a 32-bit word)
    assert int(order.reduce_add([2**32 + 1, 2], lanes, dtype="int32")) == 3


def test_reduce_max_rules():
    nz = np.float32(-0.0)
    assert nx.bits(order.reduce_max([nz, nz, nz], 4)) == 0x80000000   # -inf padding keeps -0
    assert nx.bits(order.reduce_max([nz, 0.0, nz], 4)) == 0            # max(-0, +0) = +0
    assert nx.bits(order.reduce_max([0.0, nz], 1)) == 0
    assert nx.bits(order.reduce_max([1.0, np.nan, 3.0], 2)) == nx.FP32_CANONICAL_NAN
    assert order.reduce_max([-np.inf, -1e38], 4) == np.float32(-1e38)
    assert order.reduce_max(np.zeros((0,), np.float32), 4) == -np.inf
    rng = np.random.default_rng(SEED + 6)
    x = nasty(rng, (10, 23))
    for lanes in LANES:
        np.testing.assert_array_equal(order.reduce_max(x, lanes), x.max(axis=-1))


def seq_pairs(a, b, h0=np.float32(-0.0)):
    h = np.float32(h0)
    out = []
    for at, bt in zip(a, b):
        h = add(mul(at, h), bt)
        out.append(h)
    return out


def hand_pair_scan(a, b, lanes, h0=np.float32(-0.0)):
    """The docstring's Kogge-Stone on pairs, with scalars and lists."""
    n = len(a)
    a, b = list(a), list(b)
    while len(a) % lanes:
        a.append(np.float32(1.0))
        b.append(np.float32(-0.0))
    out, carry = [], np.float32(h0)
    for g in range(0, len(a), lanes):
        A, B = a[g:g + lanes], b[g:g + lanes]
        d = 1
        while d < lanes:
            A, B = ([A[i] if i < d else mul(A[i - d], A[i]) for i in range(lanes)],
                    [B[i] if i < d else add(mul(A[i], B[i - d]), B[i]) for i in range(lanes)])
            d *= 2
        h = [add(mul(A[i], carry), B[i]) for i in range(lanes)]
        out += h
        carry = h[-1]
    return out[:n]


@pytest.mark.parametrize("lanes", [1, 2, 4, 8, 16])
@pytest.mark.parametrize("n", [1, 6, 16, 37])
def test_scan_pairs_matches_hand_written_loops(lanes, n):
    rng = np.random.default_rng(SEED + 7 + lanes * n)
    a = nx.fp32(rng.uniform(-1.1, 1.1, (3, n)))
    b = nasty(rng, (3, n))
    got = order.scan_pairs(a, b, lanes)
    assert got.shape == (3, n) and got.dtype == np.float32
    same_bits(got, np.array([hand_pair_scan(x, y, lanes) for x, y in zip(a, b)], np.float32))
    if lanes == 1:
        same_bits(got, np.array([seq_pairs(x, y) for x, y in zip(a, b)], np.float32))
    h0 = nx.fp32(rng.standard_normal(3))
    got0 = order.scan_pairs(a, b, lanes, h0=h0)
    same_bits(got0, np.array([hand_pair_scan(x, y, lanes, h) for x, y, h in zip(a, b, h0)],
                             np.float32))
