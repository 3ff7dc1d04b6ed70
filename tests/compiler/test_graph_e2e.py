"""The compiler's core on the RTL: a one-PCU graph placed, routed and run from HBM to HBM."""

import numpy as np
import pytest

from compiler.graph import Graph, MappingError, build_phase, fabric_map, place
from compiler.job import Job
from hw.params import load
from memory.agcu import agcu_program
from memory.host import DRAMImage
from tb.executor import SimExecutor
from tiles import pcu_programs as pp


def _map_graph(p, x, out_base):
    T, L = x.shape
    frag = pp.map_fp32(p.pcu, x, 1.5, -0.25)
    g = Graph("map")
    g.agcu("ld", agcu_program(p.agcu, L, p.memory.hbm, mode="load", base=0, loops=[(T, 1)]))
    g.agcu("st", agcu_program(p.agcu, L, p.memory.hbm, mode="store", base=out_base // (4 * L),
                              loops=[(T, 1)]))
    g.pcu("f", frag.program, args=dict(enumerate(frag.args)))
    g.connect("ld.vec_out[0]", "f.vec_in[0]").connect("f.vec_out[0]", "st.vec_in[0]")
    g.finish_on("st")
    return g, frag


@pytest.mark.verilator
def test_map_fp32_through_the_fabric():
    p = load("small")
    L = p.lanes
    x = np.random.default_rng(3).standard_normal((200, L)).astype(np.float32)
    out = 0x8000
    g, frag = _map_graph(p, x, out)
    phase, routing = build_phase(g, p)
    hbm = DRAMImage(p.memory.hbm, "hbm")
    hbm.place(0, x)
    r = SimExecutor(p).run(Job([phase], hbm, {"y": (out, x.shape, np.uint32)}))
    np.testing.assert_array_equal(r.outputs["y"], np.asarray(frag.vec_out[0]).reshape(x.shape))
    assert r.cycles >= 200


def test_placement_reports_missing_units():
    p = load("small")
    g = Graph("big")
    for i in range(3):
        g.pcu(f"p{i}", None)
    with pytest.raises(MappingError, match=r"big: needs 3 PCUs, the fabric 'small' has 2"):
        place(g, fabric_map(p))


def test_placement_is_near_neighbours():
    p = load("sim")
    x = np.zeros((8, p.lanes), np.float32)
    g, _ = _map_graph(p, x, 0x8000)
    placed = place(g, fabric_map(p))
    # the PCU sits next to the edge slots of its two AGCUs
    assert placed["f"].row in (0, p.rows - 1)
