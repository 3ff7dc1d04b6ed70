"""The PCU-order variant of the SDPA golden models (``lanes=L``: scores as dot products in the
PCU's reduction order, the order of ``compiler/sdpa.py``) against the float64 reference.

The error bound is the one of ``tests/golden/test_kernels.py`` (``sdpa_bound``): it charges the
scores ``gamma(d)·Σ|q||k|``, which bounds every summation order of d products — the tree order
(depth log2 L + ⌈d/L⌉ - 1 <= d) included.
"""

import numpy as np
import pytest

from hw import golden as g
from hw.golden import reference as ref
from tests.golden.test_kernels import attention_inputs, report, rng_for, sdpa_bound


@pytest.mark.parametrize("lanes", [4, 8])
@pytest.mark.parametrize("nq, nk, d, qscale", [
    (8, 40, 8, 1.0), (5, 100, 3, 1.0), (3, 17, 7, 4.0), (4, 64, 16, 0.01), (1, 1, 1, 1.0),
])
def test_sdpa_pcu_order_accuracy(lanes, nq, nk, d, qscale):
    rng = rng_for("sdpa-pcu-order", nq, nk, d, lanes)
    q, k, v = attention_inputs(rng, nq, nk, d, d, qscale)
    r = ref.sdpa(q, k, v)
    for form, fn in (("naive", g.sdpa_naive), ("streaming", g.sdpa_streaming)):
        o = fn(q, k, v, lanes=lanes)
        assert o.shape == (nq, d) and o.dtype == np.float32
        bound = sdpa_bound(q, k, v, form)
        err = np.abs(o - r)
        assert np.all(err <= bound), f"{form}: max err/bound = {np.max(err / bound)}"
        report(f"sdpa_{form} lanes={lanes} q{nq} k{nk} d{d} qscale={qscale}", o, r, bound)


def test_sdpa_pcu_order_defaults_and_structure():
    rng = rng_for("sdpa-pcu-order-structure")
    q, k, v = attention_inputs(rng, 6, 30, 5, 5)
    # default = GEMM order (unchanged); d = 1: both orders are one product, same bits
    np.testing.assert_array_equal(g.sdpa_streaming(q, k, v), g.sdpa_streaming(q, k, v, lanes=None))
    q1, k1, v1 = q[:, :1], k[:, :1], v
    for fn in (g.sdpa_naive, g.sdpa_streaming):
        np.testing.assert_array_equal(fn(q1, k1, v1), fn(q1, k1, v1, lanes=8))
    # the scores of the variant are hw.golden.dot products (the PCU reduction order)
    s = g.kernels._scores(q, k, 4)
    want = np.array([[g.dot(q[i], k[j], 4) for j in range(30)] for i in range(6)], np.float32)
    from hw import numerics as nx
    np.testing.assert_array_equal(s, nx.fp32_mul(want, g.attention_scale(5)))
    with pytest.raises(ValueError, match=r"^lanes = 3: must be a power of two"):
        g.sdpa_naive(q, k, v, lanes=3)
