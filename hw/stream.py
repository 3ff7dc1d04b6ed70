"""Stream building blocks shared by every unit: FIFO, skid buffer, pipeline register.

All ports are ``amaranth.lib.stream`` interfaces named ``i`` (sink side) and ``o`` (source side).
A transfer happens in a cycle where ``valid & ready``; none of these blocks ever drops or duplicates
a word, whatever the backpressure.
"""

from __future__ import annotations

from amaranth import Module, Mux, Shape, Signal, unsigned
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["PipeReg", "SkidBuffer", "StreamFIFO", "payload_register"]


def payload_register(m, name, shape, en, data):
    """A reset-less register of ``shape`` loaded with ``data`` in cycles where ``en`` is high;
    returns its value. Built as a one-word :class:`~amaranth.lib.memory.Memory` (submodule
    ``name``) with a combinational read port.

    Why not ``m.d.sync += q.eq(data)`` under ``m.If(en)``: Amaranth emits such a register as
    ``next = q; if (en) next = data; if (rst) next = 0; q <= next``, which Verilator runs as
    about three copies of the whole value every cycle, loaded or not. A memory write is
    ``if (en) mem[0] <= data``: a cycle without a load costs one flag test, and a wide payload
    (a 256-bit vector word, a 2048-bit configuration) stops dominating the model's cycle
    (docs/architecture.md §6, ``scripts/ircount.py``). ``ram_style = "logic"`` keeps it in
    flip-flops on an FPGA. Payload registers need no reset: a ``valid`` bit beside them says
    whether they hold a word.
    """
    width = Shape.cast(shape).width
    m.submodules[name] = mem = Memory(shape=unsigned(width), depth=1, init=[],
                                      attrs={"ram_style": "logic"})
    wp = mem.write_port()
    rp = mem.read_port(domain="comb")
    m.d.comb += [wp.en.eq(en), wp.data.eq(data)]
    return rp.data


class StreamFIFO(wiring.Component):
    """Synchronous stream FIFO of ``depth`` words.

    ``depth >= 3``: an ``amaranth.lib.fifo.SyncFIFOBuffered``: a word is offered on ``o`` 2 cycles
    after its transfer on ``i`` (memory, then the output register); throughput 1 word/cycle.
    ``depth == 2``: a :class:`SkidBuffer` (latency 1, throughput 1 word/cycle): the buffered FIFO
    of depth 2 is a one-word FIFO in front of its output register, which cannot take a word in the
    cycle it hands one on, so it ran at half rate (found by the formal check,
    docs/verification.md). ``depth == 1``: one word, latency 1, at most one word every 2 cycles.
    ``level`` is the current occupancy and ``high_water`` the maximum since reset (buffer-memory
    measurements read it as a performance counter).

    Parameters: ``shape`` (payload shape or layout), ``depth`` (>= 1).
    """

    def __init__(self, shape, depth):
        if depth < 1:
            raise ValueError(f"StreamFIFO: depth = {depth}: must be >= 1")
        self._shape = shape
        self._depth = depth
        bits = (depth).bit_length()
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
            "level": Out(unsigned(bits)),
            "high_water": Out(unsigned(bits)),
        })

    @property
    def depth(self):
        return self._depth

    def elaborate(self, platform):
        m = Module()
        width = Shape.cast(self._shape).width
        if self._depth == 2:
            m.submodules.skid = q = SkidBuffer(self._shape)
            wiring.connect(m, wiring.flipped(self.i), q.i)
            wiring.connect(m, q.o, wiring.flipped(self.o))
            # words inside: the output register, and the skid slot (full exactly when not ready)
            level = q.o.valid + ~q.i.ready
        else:
            m.submodules.fifo = q = fifo.SyncFIFOBuffered(width=width, depth=self._depth)
            m.d.comb += [
                q.w_data.eq(self.i.payload),
                q.w_en.eq(self.i.valid),
                self.i.ready.eq(q.w_rdy),
                self.o.payload.eq(q.r_data),
                self.o.valid.eq(q.r_rdy),
                q.r_en.eq(self.o.ready),
            ]
            level = q.level
        m.d.comb += self.level.eq(level)
        with m.If(level > self.high_water):
            m.d.sync += self.high_water.eq(level)
        return m


class SkidBuffer(wiring.Component):
    """Two-entry skid buffer: registers ``valid``/``payload`` forward and ``ready`` backward, so
    long ready chains (switch hops, the config ring) stay short paths.

    Latency 1 cycle; throughput 1 word/cycle under any backpressure pattern.
    """

    def __init__(self, shape):
        self._shape = shape
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
        })

    def elaborate(self, platform):
        m = Module()
        skid_valid = Signal()
        advance = Signal()
        # ready to the producer is a register: true while the skid slot is empty.
        m.d.comb += [self.i.ready.eq(~skid_valid),
                     advance.eq(self.o.ready | ~self.o.valid)]
        # The skid slot copies the input on every cycle it is empty, whether or not a word is
        # parked: its enable is then the register `skid_valid` alone, not a function of the
        # input's valid and the consumer's ready (on an FPGA the payload flip-flops of a switch
        # hop spread far from its control logic, and a deep enable was a critical path).
        skid = payload_register(m, "skid", self._shape, ~skid_valid, self.i.payload)
        # Output register can advance: take the skid word first, else the input.
        m.d.comb += self.o.payload.eq(payload_register(
            m, "out", self._shape, advance, Mux(skid_valid, skid, self.i.payload)))
        with m.If(advance):
            with m.If(skid_valid):
                m.d.sync += [self.o.valid.eq(1), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += self.o.valid.eq(self.i.valid)
        with m.Elif(self.i.valid & self.i.ready):
            # Output is stalled and a word arrives: it is in the skid slot from this edge on.
            m.d.sync += skid_valid.eq(1)
        return m


class PipeReg(wiring.Component):
    """Pipeline register with forward-registered ``valid``/``payload`` and combinational ``ready``
    (``i.ready = o.ready | ~o.valid``). Latency 1, throughput 1; cheaper than :class:`SkidBuffer`
    where the ready path is short."""

    def __init__(self, shape):
        self._shape = shape
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
        })

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(self.o.ready | ~self.o.valid)
        # payload: a memory-style register (payload_register says why)
        m.d.comb += self.o.payload.eq(payload_register(m, "out", self._shape, self.i.ready,
                                                       self.i.payload))
        with m.If(self.i.ready):
            m.d.sync += self.o.valid.eq(self.i.valid)
        return m
