"""cocotb driver of the configuration ring (:mod:`hw.config`): loads configuration packets and
reads registers through a ring's host ports.

:class:`RingDriver` drives ``cfg_i`` and watches ``cfg_o`` (by default) through the stream
components of :mod:`tb.stream`; :func:`hw.config.responses` checks what came back.
"""

from __future__ import annotations

from cocotb.triggers import with_timeout
from cocotb.utils import get_sim_time

from hw.config import responses
from tb.stream import StreamSink, StreamSource

__all__ = ["RingDriver"]


class RingDriver:
    """Loads configuration packets and reads registers through a ring's host ports in a cocotb test.

    ``dut``: the toplevel; ``clk``: its clock; ``i``/``o``: the names of the ring's input and output
    stream ports; ``pause``: optional (source, sink) pause generators for random backpressure.
    """

    def __init__(self, dut, clk, i="cfg_i", o="cfg_o", pause=(None, None)):
        self.src = StreamSource(dut, i, clk, pause[0])
        self.snk = StreamSink(dut, o, clk, pause[1])
        self.cycles = 0

    async def run(self, packets, timeout_cycles=None):
        """Send ``packets``; wait until every READ is answered and all packets have left the
        source; return the read data. Raises :class:`RingError` (lost packets) or on timeout."""
        start = len(self.snk.items)
        t0 = get_sim_time("ns")
        self.src.send(packets.words())
        limit = timeout_cycles or (100 * len(packets) + 10_000)
        await with_timeout(self.src.wait_idle(), limit * 10, "ns")
        if packets.n_returns:
            await with_timeout(self.snk.wait_for(start + packets.n_returns), limit * 10, "ns")
        self.cycles = int((get_sim_time("ns") - t0) // 10)
        return responses(packets.packets, self.snk.items[start:])
