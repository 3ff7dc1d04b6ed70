"""A real, configurable traffic unit for testing the mesh and measuring it (not a model of a PCU).

:class:`TestUnit` has the standard unit ports (:func:`hw.net.unit_members`) with any port counts,
so it can stand in every grid cell of a fabric
(``interconnect.fabric.Fabric(params, factory=test_factory)``).
Configured through its :class:`hw.config.ConfigStore` (kind ``SMOKE``), each port does one of:

* **output, mode 1 (source)**: emits ``count`` words of a pseudo-random sequence from ``seed``
  (xorshift32, :func:`sequence`), withholding ``valid`` with probability ``pause/256`` per cycle;
* **output, mode 2 (pass)**: forwards input ``src`` of the same network combinationally (that input
  must be in mode 2) and counts ``count`` words;
* **input, mode 1 (sink)**: accepts words (``ready`` low with probability ``pause/256``),
  regenerates the expected sequence from ``seed`` and counts mismatches, folds every word into an
  order-sensitive checksum, and records the local cycle of the first and last word;
* **input, mode 2 (pass)**: consumed by the output(s) passing it;
* mode 0: off (``valid`` / ``ready`` low).

A start pulse (ring WRITE of ``START`` to ``CONTROL``, or a broadcast) clears every counter,
reloads the generators and sets ``busy``; ``done`` rises (and ``busy`` falls) once every source and
pass output has sent ``count`` words and every sink has received ``count`` words, and stays high
until the next start. **Nothing moves while the unit is not busy**: a unit whose start pulse
arrives a few cycles after its neighbours' (the ring reaches stops one cycle apart) holds their
words back instead of losing them, and reconfiguring a finished unit is inert. A sink stops being
ready at ``count`` words; a word that then still waits at it (a duplicate, or one too many) is
counted in ``overflow``.

Vector words: lane ``l`` of word ``t`` is ``x_t ^ lane_key(l)`` (``x_t`` the xorshift state);
scalar words are ``x_t``; control tokens are ``x_t & 1``.

Performance counters (ring ``PERF + i``), in :func:`counter_names` order: per input ``received``,
``errors``, ``checksum``, ``first`` (cycle of the first word, counted from the start pulse),
``last``, ``overflow`` (cycles a word waited at a full sink); then per output ``sent``; then
``cycles`` (since start, stops at done).

Latency: 0 cycles for pass (combinational), sources drive from a register (1 word/cycle).
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring

from hw.config import ConfigStore, UnitKind
from hw.net import NETWORKS, PORT_GROUPS, unit_members
from hw.util import xorshift32, xorshift32_rtl

__all__ = ["TestUnit", "config_layout", "sequence", "payloads", "checksum", "lane_key",
           "counter_names", "test_factory", "MODE_OFF", "MODE_SOURCE", "MODE_SINK", "MODE_PASS",
           "COUNT_BITS"]

MODE_OFF, MODE_SOURCE, MODE_SINK, MODE_PASS = 0, 1, 1, 2
COUNT_BITS = 24
SRC_BITS = 3


def lane_key(lane):
    return (lane * 0x9E3779B9) & 0xFFFFFFFF


def sequence(seed, n):
    """The first ``n`` states ``x_1..x_n`` of the generator seeded with ``seed``."""
    out = []
    x = seed & 0xFFFFFFFF
    for _ in range(n):
        x = xorshift32(x)
        out.append(x)
    return out


def payloads(network, seed, n, lanes):
    """The payload integers a source on ``network`` emits (as the Verilog port carries them)."""
    xs = sequence(seed, n)
    if network == "scalar":
        return xs
    if network == "control":
        return [x & 1 for x in xs]
    return [sum(((x ^ lane_key(lane)) & 0xFFFFFFFF) << (32 * lane) for lane in range(lanes))
            for x in xs]


def _fold(network, payload, lanes):
    if network == "vector":
        f = 0
        for lane in range(lanes):
            w = (payload >> (32 * lane)) & 0xFFFFFFFF
            f ^= ((w << lane) | (w >> (32 - lane))) & 0xFFFFFFFF if lane else w
        return f
    return payload & 0xFFFFFFFF


def checksum(network, words, lanes):
    """The order-sensitive checksum a sink computes over ``words`` (payload integers)."""
    c = 0
    for w in words:
        c = (((c << 1) | (c >> 31)) & 0xFFFFFFFF) ^ _fold(network, w, lanes)
    return c


def _port_layout(is_input):
    fields = {"mode": unsigned(2), "seed": unsigned(32), "count": unsigned(COUNT_BITS),
              "pause": unsigned(8)}
    if not is_input:
        fields["src"] = unsigned(SRC_BITS)
    return data.StructLayout(fields)


def config_layout(ports):
    """The configuration layout of a test unit with ``ports`` (``{group: count}``): a struct with
    one field per non-empty port group, each an array of per-port structs
    (``mode``, ``seed``, ``count``, ``pause``, and ``src`` for outputs)."""
    fields = {}
    for net in NETWORKS:
        for group, is_in in zip(PORT_GROUPS[net], (True, False)):
            n = ports.get(group, 0)
            if n:
                fields[group] = data.ArrayLayout(_port_layout(is_in), n)
    return data.StructLayout(fields)


INPUT_COUNTERS = ("received", "errors", "checksum", "first", "last", "overflow")


def counter_names(ports):
    """Names of the performance counters in ``PERF + i`` order, e.g. ``vec_in[0].received``."""
    names = []
    for net in NETWORKS:
        g = PORT_GROUPS[net][0]
        for k in range(ports.get(g, 0)):
            names += [f"{g}[{k}].{c}" for c in INPUT_COUNTERS]
    for net in NETWORKS:
        g = PORT_GROUPS[net][1]
        for k in range(ports.get(g, 0)):
            names.append(f"{g}[{k}].sent")
    return names + ["cycles"]


class TestUnit(wiring.Component):
    """A traffic source / sink / pass-through unit (see the module docstring).

    Parameters: ``lanes``; ``ports`` (``{group: count}`` for the six port groups); ``unit_id``
    (ring id).
    """

    __test__ = False   # not a pytest class

    def __init__(self, lanes, ports, unit_id):
        self.lanes = lanes
        self.ports = {g: ports.get(g, 0) for gs in PORT_GROUPS.values() for g in gs}
        self.unit_id = unit_id
        self.layout = config_layout(self.ports)
        self.counter_names = counter_names(self.ports)
        super().__init__(self.members())

    def members(self):
        """The signature members (subclasses may add some)."""
        return unit_members(self.lanes, **self.ports)

    def elaborate(self, platform):
        m = Module()
        m.submodules.store = store = ConfigStore(self.unit_id, UnitKind.SMOKE, self.layout,
                                                 n_counters=len(self.counter_names))
        wiring.connect(m, wiring.flipped(self.cfg_i), store.ring_i)
        wiring.connect(m, store.ring_o, wiring.flipped(self.cfg_o))
        cfg = store.config
        start = store.start

        # running: from a start pulse until done. Nothing moves outside it, so a unit whose start
        # pulse arrives later than its neighbours' (the ring reaches stops one cycle apart) takes
        # no word before it has cleared its counters, and reconfiguring a finished unit is inert.
        running = Signal()
        cycles = Signal(32)
        with m.If(start):
            m.d.sync += cycles.eq(0)
        with m.Elif(running):
            m.d.sync += cycles.eq(cycles + 1)
        counters = []
        finished = []

        def rng(name, seed_value):
            st = Signal(32, name=f"{name}_rng")
            nxt = xorshift32_rtl(m, st, f"{name}_rng")
            m.d.sync += st.eq(nxt)
            with m.If(start):
                m.d.sync += st.eq((seed_value ^ 0x6A09E667) | 1)
            return st

        def expand(net, x):
            if net == "vector":
                return Cat(*[x ^ lane_key(lane) for lane in range(self.lanes)])
            if net == "control":
                return x[0]
            return x

        def fold(net, payload):
            if net != "vector":
                return payload
            f = 0
            for lane in range(self.lanes):
                w = payload[32 * lane: 32 * lane + 32]
                f = f ^ (Cat(w[32 - lane:], w[:32 - lane]) if lane else w)
            return f

        # ---- inputs -------------------------------------------------------------------
        pass_ready = {}
        for net in NETWORKS:
            g = PORT_GROUPS[net][0]
            for k in range(self.ports[g]):
                port = getattr(self, g)[k]
                c = cfg[g][k]
                name = f"{g}{k}"
                pay = port.payload.as_value() if hasattr(port.payload, "as_value") else port.payload
                received, errors, chk, first, last, over = (Signal(32, name=f"{name}_{s}")
                                                            for s in INPUT_COUNTERS)
                expect = Signal(32, name=f"{name}_expect")
                nxt = xorshift32_rtl(m, expect, f"{name}_exp")
                pause = rng(f"{name}_p", c.seed)
                paused = pause[:8] < c.pause
                pr = Signal(name=f"{name}_pass_ready")
                pass_ready[(net, k)] = pr
                sink = running & (c.mode == MODE_SINK)
                full = received >= c.count
                m.d.comb += port.ready.eq(Mux(c.mode == MODE_PASS, pr, sink & ~paused & ~full))
                xfer = port.valid & port.ready
                with m.If(start):
                    m.d.sync += [received.eq(0), errors.eq(0), chk.eq(0), first.eq(0),
                                 last.eq(0), over.eq(0), expect.eq(c.seed)]
                with m.Elif(port.valid & (c.mode == MODE_SINK) & full & (over != 0xFFFFFFFF)):
                    m.d.sync += over.eq(over + 1)
                with m.Elif(xfer):
                    m.d.sync += [received.eq(received + 1), last.eq(cycles)]
                    with m.If(received == 0):
                        m.d.sync += first.eq(cycles)
                    with m.If(c.mode == MODE_SINK):
                        m.d.sync += [expect.eq(nxt),
                                     chk.eq(Cat(chk[31], chk[:31]) ^ fold(net, pay))]
                        with m.If(pay != expand(net, nxt)):
                            m.d.sync += errors.eq(errors + 1)
                counters += [received, errors, chk, first, last, over]
                finished.append((c.mode != MODE_SINK) | (received >= c.count))

        # ---- outputs ------------------------------------------------------------------
        out_counters = []
        for net in NETWORKS:
            gi, g = PORT_GROUPS[net]
            for k in range(self.ports[g]):
                port = getattr(self, g)[k]
                c = cfg[g][k]
                name = f"{g}{k}"
                pay = port.payload.as_value() if hasattr(port.payload, "as_value") else port.payload
                sent = Signal(32, name=f"{name}_sent")
                issued = Signal(COUNT_BITS, name=f"{name}_issued")
                state = Signal(32, name=f"{name}_state")
                nxt = xorshift32_rtl(m, state, f"{name}_gen")
                pause = rng(f"{name}_p", c.seed ^ 0x5BE0CD19)
                paused = pause[:8] < c.pause
                src_valid = Signal(name=f"{name}_src_valid")
                src_payload = Signal(len(pay), name=f"{name}_src_payload")
                xfer = port.valid & port.ready
                with m.If(start):
                    m.d.sync += [sent.eq(0), issued.eq(0), state.eq(c.seed), src_valid.eq(0)]
                with m.Else():
                    with m.If(xfer):
                        m.d.sync += sent.eq(sent + 1)
                    with m.If(~src_valid | port.ready):
                        load = running & (c.mode == MODE_SOURCE) & (issued < c.count) & ~paused
                        m.d.sync += src_valid.eq(load)
                        with m.If(load):
                            m.d.sync += [src_payload.eq(expand(net, nxt)), state.eq(nxt),
                                         issued.eq(issued + 1)]
                # pass-through: combinational from input `src` of this network
                n_in = self.ports[gi]
                with m.If(c.mode == MODE_PASS):
                    with m.Switch(c.src):
                        for j in range(n_in):
                            ip = getattr(self, gi)[j]
                            ipay = ip.payload.as_value() if hasattr(ip.payload, "as_value") \
                                else ip.payload
                            with m.Case(j):
                                m.d.comb += [port.valid.eq(running & ip.valid &
                                                           (cfg[gi][j].mode == MODE_PASS)),
                                             pay.eq(ipay)]
                with m.Elif(c.mode == MODE_SOURCE):
                    m.d.comb += [port.valid.eq(src_valid), pay.eq(src_payload)]
                out_counters.append(sent)
                finished.append((c.mode == MODE_OFF) | (sent >= c.count))
        # input ready for pass mode: OR over outputs passing it
        for net in NETWORKS:
            gi, g = PORT_GROUPS[net]
            for j in range(self.ports[gi]):
                terms = []
                for k in range(self.ports[g]):
                    c = cfg[g][k]
                    terms.append(running & (c.mode == MODE_PASS) & (c.src == j) &
                                 getattr(self, g)[k].ready)
                r = 0
                for t in terms:
                    r = r | t
                m.d.comb += pass_ready[(net, j)].eq(r)

        all_done = 1
        for f in finished:
            all_done = all_done & f
        with m.If(start):
            m.d.sync += [self.done.eq(0), running.eq(1)]
        with m.Elif(running & all_done):
            m.d.sync += [self.done.eq(1), running.eq(0)]
        m.d.comb += [self.busy.eq(running), store.busy.eq(self.busy),
                     store.done.eq(self.done)]
        for i, s in enumerate(counters + out_counters + [cycles]):
            m.d.comb += store.counters[i].eq(s)
        return m


def test_factory(site, params):
    """A :class:`TestUnit` in every unit site of :class:`interconnect.fabric.Fabric`; AGCU slots
    are plain ports."""
    if site.kind == "agcu":
        return None
    return TestUnit(params.lanes, dict(site.ports), site.id)


test_factory.__test__ = False   # a factory, not a pytest test
