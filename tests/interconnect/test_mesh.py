"""Fabrics of test units under cocotb + Verilator: random route sets through meshes of 2×2 to 4×4.

One Verilator build per mesh size; each simulation loads many random route sets through the
configuration ring (random data, random backpressure at every source and sink, the ring itself
paused at random), checks that every word arrives in order exactly once (hardware sequence check +
checksum + host-side scoreboards), and reads the first configuration back.
"""

import pytest

from hw.params import FabricParams
from interconnect.fabric import Fabric
from tb import env, runner
from tb.testunit import test_factory

pytestmark = pytest.mark.verilator

#: Mesh sizes and link counts; the 4x4 trims the scalar/control port counts to keep its
#: Verilator build small (the attachment code is the same for every network).
FEW_PORTS = {"scal_in": 1, "ctrl_in": 1, "ctrl_out": 1}
MESHES = {
    "2x2": {"name": "mesh2", "rows": 2, "cols": 2, "lanes": 2, "agcu": {"count": 2},
            "switch": {"vec_links": 2, "scal_links": 1, "ctrl_links": 2, "buffer_depth": 4}},
    "3x3": {"name": "mesh3", "rows": 3, "cols": 3, "lanes": 2, "agcu": {"count": 3},
            "switch": {"vec_links": 2, "scal_links": 2, "ctrl_links": 1}},
    "4x4": {"name": "mesh4", "rows": 4, "cols": 4, "lanes": 2, "agcu": {"count": 4},
            "pcu": FEW_PORTS, "pmu": FEW_PORTS,
            "switch": {"vec_links": 1, "scal_links": 1, "ctrl_links": 1}},
}

_DESIGNS = {}

#: Functional tests are dominated by the Python testbench, not the model: compile the C++ without
#: optimisation (about 2.5x less build CPU than the runner's default -O2).
FAST_BUILD = ("-CFLAGS", "-O0")


def mesh_design(size):
    if size not in _DESIGNS:
        p = FabricParams.from_dict(MESHES[size])
        _DESIGNS[size] = runner.Design.from_component(Fabric(p, factory=test_factory),
                                                      f"rdu_mesh_{size}")
    return _DESIGNS[size]


# 3×3 and 4×4 (multi-hop routes through a bigger mesh: each its own build) run in make test-slow
@pytest.mark.parametrize("size", ["2x2", pytest.param("3x3", marks=pytest.mark.slow),
                                  pytest.param("4x4", marks=pytest.mark.slow)])
def test_mesh_random_routes(size):
    d = mesh_design(size)
    runner.lint(d)
    seed = runner.seed_from_env()
    runner.simulate(d, "tests.interconnect.cocotb_mesh", seed=seed, env=env.encode(
        params=MESHES[size], seed=seed, scenarios=8, flows=10, count=[10, 80], pause=[0, 180],
        ring_pause=0.2), extra_args=FAST_BUILD)
