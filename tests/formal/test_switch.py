"""Formal checks of the switch crossbar and of a mesh link (interconnect.switch, interconnect.mesh;
docs/verification.md).

The switches get an arbitrary static configuration (``AnyConst``: every select of every output,
including off, out-of-range and disallowed values, with fan-out), every input outside the network
carries any words from a producer that follows the handshake rules and every output any
backpressure. Properties, per output that leaves the network (``out <switch>.<port>: ...``): the
words it delivers are exactly the words taken from the input its selects route to it, in order,
with no loss or duplication (:class:`hw.formal.OrderTracker`; an output whose selects lead nowhere
never offers a word), and the handshake rules; per switch input: it is ready only while some output
selects it (``... no word taken without a taker``), so nothing is dropped.

The single switch is the scalar network of a switch with an east and a west neighbour and one unit
port each way (inputs E0, W0, U0 → outputs E0, W0, U0), with a skid-buffer hop (buffer depth 2)
and with a FIFO hop (depth 3). The mesh link is two such switches side by side joined the way
:class:`interconnect.mesh.Mesh` joins neighbours (``E0`` output → neighbour's ``W0`` input and
back), so a route crosses the link through both switches' hops.
"""

import pytest
from amaranth import Elaboratable, Module, Mux, Value
from amaranth.asserts import AnyConst
from amaranth.hdl import Assert
from amaranth.lib import wiring

from hw.formal import OrderTracker, drive_stream, handshake_rules
from interconnect.floorplan import OPPOSITE, SwitchSpec
from interconnect.switch import Switch

from . import mutants

NET = "scalar"


def spec(sides=("E", "W"), buffer_depth=2):
    return SwitchSpec(lanes=1, links=(("vector", 0), ("scalar", 1), ("control", 0)), sides=sides,
                      unit_in=(("vector", 0), ("scalar", 1), ("control", 0)),
                      unit_out=(("vector", 0), ("scalar", 1), ("control", 0)),
                      buffer_depth=buffer_depth)


class NetworkContract(Elaboratable):
    """``switches``: ``{name: Switch}`` (each with a ``config`` port); ``links``: ``[((name, out
    port), (name, in port))]`` joined inside; every other port is the environment's."""

    def __init__(self, switches, links=(), link_stage=None):
        self.switches = switches
        self.links = list(links)
        #: a 2-word, latency-1 stream block inserted in every link (a mutant's faulty wire)
        self.link_stage = link_stage

    def elaborate(self, platform):
        m = Module()
        sw = self.switches
        for name, s in sw.items():
            m.submodules[name] = s
            m.d.comb += Value.cast(s.config).eq(AnyConst(s.spec.layout.size))
        feeds = {dst: src for src, dst in self.links}
        for (a, o), (b, i) in self.links:
            if self.link_stage is None:
                wiring.connect(m, sw[a].port(NET, o, False), sw[b].port(NET, i, True))
            else:
                m.submodules[f"link_{a}_{o}"] = stage = self.link_stage()
                wiring.connect(m, sw[a].port(NET, o, False), stage.i)
                wiring.connect(m, stage.o, sw[b].port(NET, i, True))
        stage_hop = 0 if self.link_stage is None else 1
        linked_out = {src for src, _ in self.links}

        def sel(name, out):
            return sw[name].config[NET][out]

        # nothing is taken unless an output of the same switch selects it
        for name, s in sw.items():
            ins = s.spec.inputs(NET)
            for i in ins:
                port = s.port(NET, i, True)
                if (name, i) not in feeds:
                    drive_stream(m, producer=port)
                takers = [sel(name, o) == 1 + ins.index(i) for o in s.spec.outputs(NET)
                          if i in s.spec.allowed(NET, o)]
                wanted = takers[0]
                for t in takers[1:]:
                    wanted = wanted | t
                m.d.comb += Assert(~port.ready | wanted, f"in {name}.{i}: no word taken without "
                                                         f"a taker")

        def routes(name, out):
            """(external input, condition, hops) of every route that ends at ``out``."""
            ins = sw[name].spec.inputs(NET)
            for i in sw[name].spec.allowed(NET, out):
                cond = sel(name, out) == 1 + ins.index(i)
                if (name, i) in feeds:
                    for src, c, hops in routes(*feeds[(name, i)]):
                        yield src, cond & c, hops + 1
                else:
                    yield (name, i), cond, 1

        for name, s in sw.items():
            for o in s.spec.outputs(NET):
                if (name, o) in linked_out:
                    continue
                port = s.port(NET, o, False)
                drive_stream(m, consumer=port)
                what = f"out {name}.{o}"
                handshake_rules(m, port, Assert, what)
                put = 0
                word = 0
                hops = 1
                for (src, i), cond, h in routes(name, o):
                    p = sw[src].port(NET, i, True)
                    put = put | (cond & p.valid & p.ready)
                    word = Mux(cond, p.payload, word)
                    hops = max(hops, h)
                links = (hops - 1) * stage_hop
                OrderTracker(m, put=put, put_word=word, take=port.valid & port.ready,
                             take_word=port.payload,
                             capacity=hops * s.spec.buffer_depth + 2 * links, what=what,
                             offered=port.valid,
                             offer_within=hops * (1 if s.spec.buffer_depth == 2 else 2) + links - 1,
                             head=port.payload)
        return m


def pair(link_stage=None):
    """Two switches joined like neighbours in a mesh (a's east side, b's west side)."""
    a, b = Switch(spec(("E",))), Switch(spec(("W",)))
    links = [(("a", f"{d}0"), ("b", f"{OPPOSITE[d]}0")) for d in ("E",)] + \
            [(("b", f"{d}0"), ("a", f"{OPPOSITE[d]}0")) for d in ("W",)]
    return NetworkContract({"a": a, "b": b}, links, link_stage)


def test_switch_skid_hop(prove):
    prove(NetworkContract({"s": Switch(spec())}), "switch_skid", "bmc", 6)


def test_switch_fifo_hop(prove):
    prove(NetworkContract({"s": Switch(spec(buffer_depth=3))}), "switch_fifo", "bmc", 6)


def test_mesh_link(prove):
    prove(pair(), "mesh_link", "bmc", 8)


@pytest.mark.parametrize("make, prop", [
    # the word taken from an input whose output cannot take it is lost: counted in, never offered
    (mutants.SwitchIgnoresBackpressure, "progress"),
    (mutants.SwitchTakesUnselected, "no word taken without a taker"),
], ids=["ignores_backpressure", "takes_unselected"])
def test_switch_mutant_is_caught(refute, make, prop):
    refute(NetworkContract({"s": make(spec())}), make.__name__, "bmc", 6, prop)


def test_mesh_link_mutant_is_caught(refute):
    """A link that changes every second word it carries (a skid-buffer stage that corrupts it)."""
    refute(pair(lambda: mutants.SkidCorruptsWord(32)), "link_corrupts_word", "bmc", 8, "order")
