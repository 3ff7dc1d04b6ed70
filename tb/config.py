"""Host side of the configuration ring (:mod:`hw.config`): bitstreams, read-back, checking.

:class:`Bitstream` is an ordered list of :class:`~hw.config.Packet` (what the compiler emits and
what a board's host bridge streams). :func:`responses` interprets what came back around the ring:
RESP packets answer READs in order; a WRITE or READ that returns unchanged names a unit that does
not exist, which is an error naming that unit.

:class:`RingDriver` drives a ring through cocotb stream components (``cfg_i`` in, ``cfg_o`` out by
default) and is what simulations use to load configurations and read performance counters.
"""

from __future__ import annotations

import dataclasses

from hw.config import BROADCAST, AddressMap, Op, Packet, config_writes

__all__ = ["Bitstream", "RingError", "responses", "RingDriver"]


class RingError(RuntimeError):
    pass


@dataclasses.dataclass
class Bitstream:
    """An ordered list of configuration packets."""

    packets: list = dataclasses.field(default_factory=list)

    def config(self, unit, layout, value):
        self.packets += config_writes(unit, layout, value)
        return self

    def write(self, unit, addr, value):
        self.packets.append(Packet.write(unit, addr, value))
        return self

    def arg(self, unit, index, value):
        return self.write(unit, AddressMap.ARG + index, value)

    def read(self, unit, addr):
        self.packets.append(Packet.read(unit, addr))
        return self

    def start(self, unit=BROADCAST):
        return self.write(unit, AddressMap.CONTROL, AddressMap.START)

    def clear_counters(self, unit=BROADCAST):
        return self.write(unit, AddressMap.CONTROL, AddressMap.CLEAR)

    def extend(self, other):
        self.packets += list(other.packets if isinstance(other, Bitstream) else other)
        return self

    def words(self):
        """Encoded packets (integers, as the ring carries them)."""
        return [p.encode() for p in self.packets]

    @property
    def n_reads(self):
        return sum(p.op == Op.READ for p in self.packets)

    @property
    def n_returns(self):
        """Packets that come back around the ring: READ responses and BROADCAST writes (which
        every stop applies and passes on)."""
        return sum(p.op == Op.READ or (p.op == Op.WRITE and p.unit == BROADCAST)
                   for p in self.packets)

    def __len__(self):
        return len(self.packets)


def responses(sent, returned):
    """Check ``returned`` (decoded packets from the ring's end) against ``sent``; return the data of
    each READ in order. Raises :class:`RingError` for unanswered packets."""
    returned = [p if isinstance(p, Packet) else Packet.decode(p) for p in returned]
    # A broadcast WRITE is applied by every stop and comes back by design.
    returned = [p for p in returned if not (p.op == Op.WRITE and p.unit == BROADCAST)]
    lost = [p for p in returned if p.op != Op.RESP]
    if lost:
        p = lost[0]
        raise RingError(f"config ring: {p.op.name} to unit {p.unit} (addr {p.addr:#x}) came back "
                        f"unanswered: no unit {p.unit} on the ring ({len(lost)} packet(s) lost)")
    reads = [p for p in sent if p.op == Op.READ]
    if len(returned) != len(reads):
        raise RingError(f"config ring: sent {len(reads)} READs, got {len(returned)} responses")
    for q, r in zip(reads, returned):
        if (q.unit, q.addr) != (r.unit, r.addr):
            raise RingError(f"config ring: response for unit {r.unit} addr {r.addr:#x} where unit "
                            f"{q.unit} addr {q.addr:#x} was expected (reordered?)")
    return [r.data for r in returned]


class RingDriver:
    """Loads bitstreams and reads registers through a ring's host ports in a cocotb test.

    ``dut``: the toplevel; ``clk``: its clock; ``i``/``o``: the names of the ring's input and output
    stream ports; ``pause``: optional (source, sink) pause generators for random backpressure.
    """

    def __init__(self, dut, clk, i="cfg_i", o="cfg_o", pause=(None, None)):
        from tb.stream import StreamSink, StreamSource
        self.src = StreamSource(dut, i, clk, pause[0])
        self.snk = StreamSink(dut, o, clk, pause[1])
        self.cycles = 0

    async def run(self, bitstream, timeout_cycles=None):
        """Send ``bitstream``; wait until every READ is answered and all packets have left the
        source; return the read data. Raises :class:`RingError` (lost packets) or on timeout."""
        from cocotb.triggers import with_timeout
        from cocotb.utils import get_sim_time
        start = len(self.snk.items)
        t0 = get_sim_time("ns")
        self.src.send(bitstream.words())
        limit = timeout_cycles or (100 * len(bitstream) + 10_000)
        await with_timeout(self.src.wait_idle(), limit * 10, "ns")
        if bitstream.n_returns:
            await with_timeout(self.snk.wait_for(start + bitstream.n_returns), limit * 10, "ns")
        self.cycles = int((get_sim_time("ns") - t0) // 10)
        return responses(bitstream.packets, self.snk.items[start:])
