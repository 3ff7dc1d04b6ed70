"""`rdu gen CONFIG --unit memory` and lint of the generated memory systems."""

import pytest

from hw.params import load
from tb import runner

pytestmark = pytest.mark.verilator


@pytest.mark.parametrize("config", ["tiny", "fpga"])
def test_rdu_gen_memory_emits_lint_clean_verilog(tmp_path, config):
    from scripts.cli import main
    assert main(["gen", config, "--unit", "memory", "-o", str(tmp_path)]) == 0
    top = tmp_path / f"rdu_memory_{config}.v"
    backdoor = tmp_path / "rdu_backdoor_mem.v"
    assert top.exists() and backdoor.exists()
    text = top.read_text()
    for name in ("hbm_ch0", "ddr_ch0"):                  # backing stores, one per channel
        assert f'"{name}"' in text
    name = f"rdu_memory_{config}"
    runner.lint(runner.Design(text, name, runner._ports_of(text, name), (str(backdoor),)))


@pytest.mark.slow
@pytest.mark.parametrize("config", ["sim"])
def test_lint_generated_large(config):
    from memory.system import generate
    runner.lint(runner.Design.of(generate(load(config))))


@pytest.mark.slow
@pytest.mark.parametrize("quick", [True, False], ids=["quick", "full"])
def test_lint_bench_designs(quick):
    """The benchmark's systems (traffic generators on both tiers) are lint clean too."""
    from scripts import bench_memory as b
    mem, agcu, lanes, h, d = b._systems(quick)
    runner.lint(b._design(mem, agcu, lanes, h, d, quick)[1])


def test_external_agcus_fabric_style():
    """The fabric-integration path: AGCUs instantiated outside the memory system (as in edge
    slots), each on its own ring position, connected to ``agcu_dram[i]``."""
    from amaranth import Module
    from amaranth.back import rtlil
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    from hw.net import CONFIG_RING, vector_signature
    from memory.agcu import AGCU
    from memory.system import MemorySystem

    p = load("tiny")

    class Edge(wiring.Component):
        cfg_i: In(CONFIG_RING)
        cfg_o: Out(CONFIG_RING)
        vin: In(vector_signature(p.lanes)).array(p.agcu.count)
        vout: Out(vector_signature(p.lanes)).array(p.agcu.count)

        def elaborate(self, platform):
            m = Module()
            m.submodules.mem = mem = MemorySystem(p.memory, p.agcu, p.lanes, unit_base=100,
                                                  with_agcus=False)
            agcus = [AGCU(p.agcu, p.lanes, 10 + i, dram=p.memory.hbm) for i in range(p.agcu.count)]
            ring = [*agcus, mem]
            for i, a in enumerate(agcus):
                m.submodules[f"agcu{i}"] = a
                wiring.connect(m, a.dram, mem.agcu_dram[i])
                wiring.connect(m, wiring.flipped(self.vin[i]), a.vec_in[0])
                wiring.connect(m, a.vec_out[0], wiring.flipped(self.vout[i]))
            wiring.connect(m, wiring.flipped(self.cfg_i), ring[0].cfg_i)
            for x, y in zip(ring, ring[1:]):
                wiring.connect(m, x.cfg_o, y.cfg_i)
            wiring.connect(m, ring[-1].cfg_o, wiring.flipped(self.cfg_o))
            return m

    text = rtlil.convert(Edge(), name="edge")
    assert "agcu_dram" in text and "hbm_ch0" in text
