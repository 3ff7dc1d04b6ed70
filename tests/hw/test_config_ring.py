"""The configuration ring (hw.config) under the Amaranth simulator."""

import pytest
from amaranth import Module, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.config import (
    BROADCAST,
    CFG_PACKET,
    UNIT_ID_PORT,
    AddressMap,
    ConfigPackets,
    ConfigStore,
    Op,
    Packet,
    RingError,
    UnitKind,
    config_words,
    layout_words,
    responses,
)
from tb import amsim
from tb.stream import PauseGenerator

LAYOUT_A = data.StructLayout({"op": unsigned(5), "const": unsigned(32), "mode": unsigned(3)})
LAYOUT_B = data.StructLayout({"stride": data.ArrayLayout(unsigned(16), 5)})


class Ring(wiring.Component):
    """Three stops: unit 3 (layout A, 2 args, 2 counters), unit 9 (layout B), unit 4 (no config).
    ``id_ports``: every stop takes its id from its ``unit_id`` port (driven here)."""

    cfg_i: In(stream.Signature(CFG_PACKET))
    cfg_o: Out(stream.Signature(CFG_PACKET))

    IDS = (3, 9, 4)

    def __init__(self, id_ports=False):
        super().__init__()
        ids = [UNIT_ID_PORT] * 3 if id_ports else self.IDS
        self.id_ports = id_ports
        self.stops = [ConfigStore(ids[0], UnitKind.PCU, LAYOUT_A, n_args=2, n_counters=2),
                      ConfigStore(ids[1], UnitKind.PMU, LAYOUT_B),
                      ConfigStore(ids[2], UnitKind.SWITCH)]

    def elaborate(self, platform):
        m = Module()
        for i, s in enumerate(self.stops):
            m.submodules[f"stop{i}"] = s
            if self.id_ports:
                m.d.comb += s.unit_id.eq(self.IDS[i])
        wiring.connect(m, wiring.flipped(self.cfg_i), self.stops[0].ring_i)
        for a, b in zip(self.stops, self.stops[1:]):
            wiring.connect(m, a.ring_o, b.ring_i)
        wiring.connect(m, self.stops[-1].ring_o, wiring.flipped(self.cfg_o))
        m.d.comb += [self.stops[0].counters[0].eq(0xC0FFEE), self.stops[0].counters[1].eq(77),
                     self.stops[1].busy.eq(1)]
        return m


def _run(bits, pauses=(0.0, 0.0), seed=1, probe=None, id_ports=False):
    dut = Ring(id_ports)
    got = []
    testbenches = [amsim.source(dut.cfg_i, bits.words(), PauseGenerator(pauses[0], seed)),
               amsim.sink(dut.cfg_o, bits.n_reads, got, PauseGenerator(pauses[1], seed + 1))]
    if probe:
        testbenches.append(probe(dut))
    amsim.run(dut, *testbenches, what="config ring")
    return dut, got


def test_layout_words():
    assert layout_words(LAYOUT_A) == 2
    assert layout_words(LAYOUT_B) == 3


@pytest.mark.parametrize("pauses,id_ports", [((0.0, 0.0), False), ((0.5, 0.5), False),
                                             ((0.5, 0.5), True)])
def test_load_and_read_back(pauses, id_ports):
    a = {"op": 17, "const": 0xDEADBEEF, "mode": 5}
    b = {"stride": [1, 2, 3, 0xFFFF, 9]}
    bits = ConfigPackets().config(3, LAYOUT_A, a).config(9, LAYOUT_B, b).arg(3, 1, 1234)
    for w in range(2):
        bits.read(3, AddressMap.CONFIG + w)
    for w in range(3):
        bits.read(9, AddressMap.CONFIG + w)
    bits.read(3, AddressMap.ARG + 1).read(3, AddressMap.PERF + 0).read(3, AddressMap.PERF + 1)
    bits.read(9, AddressMap.IDENT).read(4, AddressMap.IDENT).read(9, AddressMap.CONTROL)
    _, got = _run(bits, pauses, id_ports=id_ports)
    data_ = responses(bits.packets, got)
    assert data_[:2] == config_words(LAYOUT_A, a)
    assert data_[2:5] == config_words(LAYOUT_B, b)
    assert data_[5:8] == [1234, 0xC0FFEE, 77]
    assert data_[8:] == [(UnitKind.PMU << 16) | 9, (UnitKind.SWITCH << 16) | 4, 1]


def test_broadcast_start_reaches_every_unit():
    starts = []

    def probe(dut):
        async def testbench(ctx):
            seen = set()
            for _ in range(60):
                await ctx.tick()
                for i, s in enumerate(dut.stops):
                    if ctx.get(s.start):
                        seen.add(i)
            starts.append(seen)
        return testbench
    _run(ConfigPackets().start(), probe=probe)
    assert starts[0] == {0, 1, 2}


@pytest.mark.parametrize("id_ports", [False, True])
def test_unknown_unit_is_reported(id_ports):
    bits = ConfigPackets().read(5, AddressMap.IDENT)
    _, got = _run(bits, id_ports=id_ports)
    with pytest.raises(RingError, match=r"READ to unit 5 \(addr 0x600\) came back unanswered: "
                                        r"no unit 5 on the ring"):
        responses(bits.packets, got)


def test_packet_encode_decode_roundtrip():
    for p in [Packet(Op.WRITE, 0, 0, 0), Packet(Op.READ, 0xFFE, 0xFFF, 0xFFFFFFFF),
              Packet(Op.RESP, 17, 0x123, 0x89ABCDEF)]:
        assert Packet.decode(p.encode()) == p


def test_packet_range_errors():
    with pytest.raises(ValueError, match=r"Packet: addr = 0x1000: must be in 0..0xfff"):
        Packet.write(1, 0x1000, 0)
    with pytest.raises(ValueError, match=r"unit = 4096"):
        Packet.write(4096, 0, 0)


def test_config_store_rejects_bad_parameters():
    with pytest.raises(ValueError, match=f"unit = {BROADCAST}: must be in 0..{BROADCAST - 1}"):
        ConfigStore(BROADCAST, UnitKind.PCU)
    with pytest.raises(ValueError, match="n_args = 300"):
        ConfigStore(1, UnitKind.PCU, n_args=300)
