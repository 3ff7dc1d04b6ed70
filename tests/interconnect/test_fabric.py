"""Fabric generator: floorplan and id numbering, unit attachment, bad configurations, generated
Verilog (lint), `rdu gen`, and the PMU → PCU → PMU smoke kernel through the mesh."""

import gc
import importlib.util
import warnings

import pytest
from amaranth.hdl import UnusedElaboratable

from hw.net import NETWORKS, PORT_GROUPS
from hw.params import ConfigError, FabricParams, load
from interconnect.fabric import Fabric, default_factory
from interconnect.floorplan import FABRIC_ID, IN_CORNERS, OUT_CORNERS, FabricMap
from tb import env, runner
from tb.testunit import test_factory

TILES = all(importlib.util.find_spec(m) is not None for m in ("tiles.pcu", "tiles.pmu"))


@pytest.mark.parametrize("name", ["tiny", "sim", "fpga", "plasticine"])
def test_floorplan_ids_and_attachment(name):
    p = load(name)
    fm = FabricMap(p)
    R, C, A = p.rows, p.cols, p.agcu.count
    assert [u.id for u in fm.units] == list(range(1, 1 + R * C))
    assert [a.id for a in fm.agcus] == list(range(1 + R * C, 1 + R * C + A))
    assert [s.id for s in fm.switches] == list(range(1 + R * C + A, 1 + R * C + A + (R + 1) * (C + 1)))
    assert fm.unit_at(1, 0).id == 1 + C and fm.switch_at(R, C).id == fm.n_ids - 1
    assert fm.ring[0] == FABRIC_ID and fm.ring == sorted(fm.ring)
    assert {a.row for a in fm.agcus} <= {-1, R}
    assert sum(a.row < 0 for a in fm.agcus) == (A + 1) // 2
    # every unit port attaches to exactly one switch port, as the corner round-robin says
    seen = set()
    for u in fm.units:
        for net in NETWORKS:
            for group, corners in zip(PORT_GROUPS[net], (IN_CORNERS, OUT_CORNERS)):
                for k in range(u.count(group)):
                    a = fm.attach[(u.id, group, k)]
                    di, dj = {"NW": (0, 0), "NE": (0, 1), "SE": (1, 1), "SW": (1, 0)}[corners[k % 4]]
                    sw = fm.switch(a.switch)
                    assert (sw.row, sw.col) == (u.row + di, u.col + dj)
                    assert (a.switch, net, a.port, group.endswith("_in")) not in seen
                    seen.add((a.switch, net, a.port, group.endswith("_in")))
    for a in fm.agcus:
        for group, n in a.ports:
            assert fm.switch(fm.attach[(a.id, group, 0)].switch).row == (0 if a.row < 0 else R)
    # switch unit-side port counts add up
    total = sum(len(s.spec.inputs(n)) - len(s.spec.sides) * s.spec.n_links(n)
                + len(s.spec.outputs(n)) - len(s.spec.sides) * s.spec.n_links(n)
                for s in fm.switches for n in NETWORKS)
    assert total == len(fm.attach)


def test_lookup_errors():
    fm = FabricMap(load("tiny"))
    with pytest.raises(KeyError, match=r"no unit or switch 'pcu_5_5' in the 2x2 fabric 'tiny'"):
        fm.site("pcu_5_5")
    with pytest.raises(KeyError, match=r"sw_0_0 is a switch, not a unit"):
        fm.unit("sw_0_0")


def test_bad_fabric_configurations():
    with pytest.raises(ConfigError, match=r"switch.flow = 'credit': credit-based flow control is "
                                          r"not built; use 'ready_valid'"):
        FabricParams.from_dict({"switch": {"flow": "credit"}})
    with pytest.raises(ConfigError, match=r"switch.vec_links = 0: must be an integer in 1..4"):
        FabricParams.from_dict({"switch": {"vec_links": 0}})
    with pytest.raises(ConfigError, match=r"agcu.count = 9: must be <= the 8 edge slots"):
        FabricParams.from_dict({"rows": 2, "cols": 2, "agcu": {"count": 9}})
    with pytest.raises(ConfigError, match=r"switch.vec_link: unknown key \(did you mean 'vec_links'\?\)"):
        FabricParams.from_dict({"switch": {"vec_link": 2}})


def test_factory_port_count_mismatch_is_named():
    p = FabricParams.from_dict({"name": "bad", "rows": 1, "cols": 2, "lanes": 2})

    def wrong(site, params):
        from tb.testunit import TestUnit
        if site.kind == "agcu":
            return None
        ports = dict(site.ports)
        if site.kind == "pmu":
            ports["vec_in"] += 1
        return TestUnit(params.lanes, ports, site.id)
    with pytest.raises(ConfigError, match=r"fabric 'bad': pmu_0_1 \(TestUnit\) has 3 vec_in port\(s\), "
                                          r"the floorplan expects 2 \(pmu.vec_in in the fabric "
                                          r"parameters\)"):
        Fabric(p, factory=wrong)
    with pytest.raises(ConfigError, match=r"the unit factory returned nothing for pcu_0_0"):
        Fabric(p, factory=lambda site, params: None)


def test_default_factory_uses_tiles_when_present():
    p = load("tiny")
    site = FabricMap(p).unit("pcu_0_0")
    # The units are built only to look at their classes, never elaborated: Amaranth's warning
    # about unused elaboratables is beside the point for them (and only for them: what earlier
    # tests left is collected first, outside the block).
    gc.collect()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        kinds = [type(u).__name__ for u in (default_factory(site, p), test_factory(site, p))]
        gc.collect()    # they sit in reference cycles: collect them while the warning is ignored
    assert kinds == ["PCU" if TILES else "TestUnit", "TestUnit"]


def test_rdu_gen_switch(tmp_path):
    """`rdu gen CONFIG --unit switch` (the fabric's busiest switch; `--unit fabric` is the smoke
    test's design below)."""
    from scripts.cli import main
    assert main(["gen", "tiny", "--unit", "switch", "-o", str(tmp_path)]) == 0
    text = (tmp_path / "rdu_switch_tiny.v").read_text()
    assert "module rdu_switch_tiny" in text and "vec_n_i__0__valid" in text
    assert main(["gen", "tiny", "--unit", "switchx", "-o", str(tmp_path)]) == 2


@pytest.mark.verilator
@pytest.mark.parametrize("name", ["tiny", "fpga", "sim"])
def test_switch_lint(name):
    from interconnect.switch import generate
    runner.lint(runner.Design.of(generate(load(name))))


# ---- the real fabric: PMU → PCU → PMU ---------------------------------------------------

@pytest.mark.verilator
@pytest.mark.skipif(not TILES, reason="tiles.pcu / tiles.pmu not available")
def test_fabric_smoke_pmu_pcu_pmu():
    """`rdu gen tiny --unit fabric` (real PCUs and PMUs), linted, computes a small kernel
    bit-exactly with data moving PMU → PCU → PMU through the switches."""
    from interconnect.fabric import generate
    d = runner.Design.of(generate(load("tiny")))
    runner.lint(d)
    seed = runner.seed_from_env()
    runner.simulate(d, "tests.interconnect.cocotb_fabric_smoke", seed=seed,
                    env=env.encode(seed=seed, config="tiny", vectors=24),
                    extra_args=("-CFLAGS", "-O0"))


def test_real_agcu_slots_join_the_ring_and_expose_their_extra_ports():
    """A factory that builds the AGCU slots: they get ring stops (ids after the units) and their
    non-standard members appear on the fabric top as agcu<a>_<member>; identities read back in
    ring order under the Amaranth simulator."""
    from amaranth.lib.wiring import Out

    from hw.config import AddressMap, UnitKind, responses
    from interconnect.fabric_config import FabricConfig
    from tb import amsim
    from tb.testunit import TestUnit

    class MemUnit(TestUnit):
        def members(self):
            return {**super().members(), "mem_addr": Out(8)}

    def factory(site, params):
        cls = MemUnit if site.kind == "agcu" else TestUnit
        return cls(params.lanes, dict(site.ports), site.id)

    p = FabricParams.from_dict({"name": "ag", "rows": 1, "cols": 1, "lanes": 2,
                                "agcu": {"count": 2}})
    fab = Fabric(p, factory=factory)
    fm = fab.fmap
    assert fm.agcu_stops and fm.ring == [0, 1, 2, 3, 4, 5, 6, 7]
    assert "agcu0_mem_addr" in fab.signature.members and "agcu1_mem_addr" in fab.signature.members
    assert "agcu_vec_i" not in fab.signature.members
    bits = FabricConfig(fm).identity()
    got = []
    amsim.run(fab, amsim.source(fab.cfg_i, bits.words()), amsim.sink(fab.cfg_o, len(bits), got),
              what="fabric ring")
    ids = responses(bits.packets, got)
    assert [w & 0xFFFF for w in ids] == fm.ring
    assert [w >> 16 for w in ids] == [UnitKind.FABRIC] + [UnitKind.SMOKE] * 3 + [UnitKind.SWITCH] * 4
    assert AddressMap.IDENT == 0x600


def test_fabric_reset_goes_through_the_platform_global_buffer():
    """A platform with a global buffer (the ECP5 boards: a DCCA, fpga.boards) gets the fabric's
    clock-domain reset through it, once; without one (simulation) nothing is inserted."""
    from amaranth.back import rtlil

    from fpga.boards import ecp5_global_buffer

    class Plat:
        def __init__(self):
            self.names = []

        def global_buffer(self, m, sig, name):
            self.names.append(name)
            return ecp5_global_buffer(m, sig, name)

    p = FabricParams.from_dict({"name": "g", "rows": 1, "cols": 1, "lanes": 2})
    plat = Plat()
    text = rtlil.convert(Fabric(p, factory=test_factory), platform=plat)
    assert plat.names == ["fabric_rst"]
    assert text.count("cell \\DCCA ") == 1 and "fabric_rst_g" in text
    assert "DCCA" not in rtlil.convert(Fabric(p, factory=test_factory))
