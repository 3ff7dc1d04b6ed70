"""The sequential-state-sum variant of the Mamba golden model (``selective_scan(...,
reduce_lanes=1)``: the order of ``compiler/scan.py``, whose lanes run along time so the states are
folded one vector at a time) against the float64 reference and against plain loops.

The error bound is the one of ``tests/golden/test_kernels.py`` (``test_selective_scan_accuracy``)
with the readout charged ``gamma(S + 1)`` — a sequential sum of S products has depth S, which
bounds every order (the default tree order included)."""

import numpy as np
import pytest

from hw import golden as g
from hw import numerics as nx
from hw.golden import reference as ref
from tests.golden.test_kernels import gamma, report, rng_for


def _inputs(rng, t, dch, s):
    return (nx.fp32(rng.uniform(0.3, 1.0, (t, dch, s))), nx.fp32(rng.standard_normal((t, dch, s))),
            nx.fp32(rng.standard_normal((t, s))), nx.fp32(rng.standard_normal(dch)),
            nx.fp32(rng.standard_normal((t, dch))))


@pytest.mark.parametrize("lanes", [4, 8])
@pytest.mark.parametrize("t, dch, s", [(1, 1, 1), (40, 3, 16), (100, 2, 5), (33, 5, 9)])
def test_selective_scan_sequential_states_accuracy(lanes, t, dch, s):
    rng = rng_for("sscan-seq", lanes, t, dch, s)
    a_bar, bx, c, d, x = _inputs(rng, t, dch, s)
    y = g.selective_scan(a_bar, bx, c, d, x, lanes, reduce_lanes=1)
    assert y.shape == (t, dch) and y.dtype == np.float32
    r = ref.selective_scan(a_bar, bx, c, d, x)
    habs = ref.selective_scan(np.abs(a_bar), np.abs(bx), np.abs(c), np.zeros(dch),
                              np.zeros((t, dch)))
    bound = (gamma(2 * t + 2) + gamma(s + 1)) * habs * 1.01 + gamma(2) * (np.abs(r) +
                                                                         np.abs(d * x))
    assert np.all(np.abs(y - r) <= bound)
    if t == 100:
        report(f"selective_scan lanes={lanes} reduce_lanes=1 T={t} D={dch} S={s}", y, r, bound)


def test_selective_scan_sequential_states_is_the_loop_order():
    """reduce_lanes=1: h by the lanes-L pair scan, then acc = -0 + c_0·h_0 + … + c_{S-1}·h_{S-1}
    (in that order), then + d·x — the same bits as explicit loops with the numerics operators;
    the default (reduce_lanes = lanes) is unchanged and differs for S > 2."""
    rng = rng_for("sscan-seq-loops")
    t, dch, s, lanes = 21, 3, 7, 4
    a_bar, bx, c, d, x = _inputs(rng, t, dch, s)
    h = np.moveaxis(g.linear_scan(np.moveaxis(a_bar, 0, -1), np.moveaxis(bx, 0, -1), lanes),
                    -1, 0)
    want = np.empty((t, dch), np.float32)
    for tt in range(t):
        acc = np.full(dch, -0.0, np.float32)
        for ss in range(s):
            acc = nx.fp32_add(acc, nx.fp32_mul(c[tt, ss], h[tt, :, ss]))
        want[tt] = nx.fp32_add(acc, nx.fp32_mul(d, x[tt]))
    y = g.selective_scan(a_bar, bx, c, d, x, lanes, reduce_lanes=1)
    assert np.array_equal(nx.bits(y), nx.bits(want))
    default = g.selective_scan(a_bar, bx, c, d, x, lanes)
    assert np.array_equal(nx.bits(default), nx.bits(g.selective_scan(a_bar, bx, c, d, x, lanes,
                                                                      reduce_lanes=lanes)))
    assert np.any(nx.bits(default) != nx.bits(y))
