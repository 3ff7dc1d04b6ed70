"""hw.generate: shared unit modules — each unique unit elaborated and emitted once, instanced
everywhere with its ring id driven by the parent; the Amaranth simulator sees plain units."""

import gc
import re
import warnings

import pytest
from amaranth import Module
from amaranth.hdl import UnusedElaboratable
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.config import UNIT_ID_PORT, AddressMap, ConfigPackets, ConfigStore, UnitKind, responses
from hw.generate import SHARED_PREFIX, shared_modules, shared_unit, to_verilog
from hw.net import CONFIG_RING
from tb import amsim, runner


class Stop(wiring.Component):
    """A ring stop as a unit: ``n_args`` argument registers, the first one on ``arg0``."""

    def __init__(self, unit_id, n_args=1):
        self.n_args = n_args
        if unit_id != UNIT_ID_PORT:
            self.unit_id = unit_id
        members = {"cfg_i": In(CONFIG_RING), "cfg_o": Out(CONFIG_RING), "arg0": Out(32)}
        if unit_id == UNIT_ID_PORT:
            members["unit_id"] = In(12)
        super().__init__(members)

    def elaborate(self, platform):
        shared = shared_unit(self, platform, self.n_args,
                             lambda: Stop(UNIT_ID_PORT, self.n_args), unit_id=self.unit_id)
        if shared is not None:
            return shared
        m = Module()
        port = not isinstance(self.unit_id, int)
        m.submodules.store = cs = ConfigStore(UNIT_ID_PORT if port else self.unit_id,
                                              UnitKind.SMOKE, n_args=self.n_args)
        if port:
            m.d.comb += cs.unit_id.eq(self.unit_id)
        wiring.connect(m, wiring.flipped(self.cfg_i), cs.ring_i)
        wiring.connect(m, cs.ring_o, wiring.flipped(self.cfg_o))
        m.d.comb += self.arg0.eq(cs.args[0])
        return m


class Chain(wiring.Component):
    """Stops 1 and 2 (one argument each) and 3 (two): two unique units."""

    cfg_i: In(CONFIG_RING)
    cfg_o: Out(CONFIG_RING)
    args: Out(32).array(3)

    def __init__(self):
        super().__init__()
        self.stops = [Stop(1), Stop(2), Stop(3, n_args=2)]

    def elaborate(self, platform):
        m = Module()
        prev = wiring.flipped(self.cfg_i)
        for i, s in enumerate(self.stops):
            m.submodules[f"stop{i}"] = s
            wiring.connect(m, prev, s.cfg_i)
            prev = s.cfg_o
            m.d.comb += self.args[i].eq(s.arg0)
        wiring.connect(m, prev, wiring.flipped(self.cfg_o))
        return m


def _defined(text):
    return re.findall(rf"^module ({SHARED_PREFIX}\w+)\(", text, re.M)


def test_one_module_per_unique_unit():
    text = to_verilog(Chain(), "chain")
    mods = _defined(text)
    assert len(mods) == 2 and all(n.startswith(f"{SHARED_PREFIX}stop_") for n in mods)
    assert shared_modules(text) == [mods[0]]            # instanced twice
    assert shared_modules(text, 1) == mods
    # the ids are constants on the instances, not modules of their own
    assert re.findall(r"\.unit_id\((12'h\w+)\)", text) == ["12'h001", "12'h002", "12'h003"]
    assert text.count("module ") == len(re.findall(r"^module ", text, re.M))


def test_unshared_and_top_are_plain():
    assert _defined(to_verilog(Chain(), "chain", shared=False)) == []
    # the top is never replaced by an instance of itself
    text = to_verilog(Stop(5), "stop")
    assert _defined(text) == [] and "module stop(" in text


def test_template_must_match_the_unit():
    class Odd(wiring.Component):
        """A stop's ports and one more, with a stop as its template."""

        cfg_i: In(CONFIG_RING)
        cfg_o: Out(CONFIG_RING)
        arg0: Out(32)
        extra: Out(1)

        def elaborate(self, platform):
            return shared_unit(self, platform, "odd", lambda: Stop(UNIT_ID_PORT), unit_id=1)

    class Top(Chain):
        def __init__(self):
            super().__init__()
            self.stops[0] = Odd()
    # The conversion stops half way, leaving units it never elaborated: Amaranth's warning about
    # those is beside the point here (collected inside the block, as they sit in cycles).
    gc.collect()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match=r"template's ports and the unit's differ: only the "
                                             r"template has \[\], only the unit \['extra'\]"):
            to_verilog(Top(), "top")
        gc.collect()


def test_simulator_sees_plain_units():
    """Under the Amaranth simulator (platform None) the stops are ordinary submodules and answer
    with their own ids."""
    dut = Chain()
    bits = ConfigPackets().arg(2, 0, 77)
    for u in (1, 2, 3):
        bits.read(u, AddressMap.IDENT)
    got = []
    amsim.run(dut, amsim.source(dut.cfg_i, bits.words()), amsim.sink(dut.cfg_o, bits.n_reads, got),
              what="chain")
    assert [w & 0xFFF for w in responses(bits.packets, got)] == [1, 2, 3]


@pytest.mark.verilator
def test_shared_verilog_lints():
    runner.lint(runner.Design.from_component(Chain(), "chain"))
