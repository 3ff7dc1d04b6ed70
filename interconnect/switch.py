"""The switch: vector, scalar and control crossbars with static per-output selects.

One :class:`Switch` serves all three networks (docs/architecture.md §2). Per network it has, on
each side that has a neighbour (``N``, ``E``, ``S``, ``W``), ``links`` input and ``links`` output
streams, plus unit-side inputs (unit outputs entering the switch) and outputs (driving unit inputs), as
described by a :class:`~interconnect.floorplan.SwitchSpec`.

Datapath (per network, per output ``o``)::
    inputs ──► select mux (config: 0 = off, 1 + i = input i) ──► output buffer ──► o

* **Static select** from the configuration register (a ``View`` of :attr:`SwitchSpec.layout`,
  loaded through the switch's own :class:`hw.config.ConfigStore`, kind ``SWITCH``), decoded
  into registered one-hot masks: a new select takes effect 1 cycle after its ring write.
* **Registered hop**: every output has a buffer — a :class:`hw.stream.SkidBuffer` when
  ``buffer_depth == 2`` (``valid``/``payload`` *and* ``ready`` registered), else a
  :class:`hw.stream.StreamFIFO` of ``buffer_depth`` words. Latency: **1 cycle** per switch with
  the skid buffer, 2 with a FIFO (``buffer_depth >= 3``: memory, then its output register);
  throughput **1 word/cycle** per output under any backpressure.
* **Fan-out** (multicast): several outputs may select the same input. The input is consumed when
  *every* output that selects it can take the word (``ready = AND`` of their buffers' registered
  ``ready``), and then all of them take it in the same cycle, so no branch drops or duplicates a
  word. An input that no output selects has ``ready = 0`` (nothing is ever dropped).
* An output may not select an input on its own side (a U-turn) unless ``switch.uturn``; such a
  select value, or one past the last input, turns the output off.

Ports (per network ``n`` in ``vec``/``scal``/``ctrl``): ``{n}_{side}_i`` / ``{n}_{side}_o``
(``side`` in ``n e s w``, arrays of ``links`` streams) and ``{n}_u_i`` / ``{n}_u_o`` (unit side).
With a ring id, ``cfg_i``/``cfg_o`` (the configuration ring); without one, a ``config`` input
(for unit tests). With :data:`hw.config.UNIT_ID_PORT` as the ring id, the ring and a ``unit_id``
input port: the module shared by the switches of a mesh with the same spec
(:func:`hw.generate.shared_unit`).
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.config import UNIT_ID_PORT, ConfigStore, UnitKind
from hw.generate import Generated, shared_unit
from hw.net import CONFIG_RING, NETWORKS, signature_of
from hw.stream import SkidBuffer, StreamFIFO

from .floorplan import NET_SHORT, FabricMap, SwitchSpec

__all__ = ["Switch", "port_member", "typical_spec", "generate"]


def port_member(network, port, is_input):
    """``(member name, index)`` of a switch port, e.g. ``("vector", "E1", True)`` →
    ``("vec_e_i", 1)``."""
    side = "u" if port[0] == "U" else port[0].lower()
    return f"{NET_SHORT[network]}_{side}_{'i' if is_input else 'o'}", int(port[1:])


class Switch(wiring.Component):
    """A switch with the ports of ``spec`` (see the module docstring).

    ``unit_id``: ring id (``None`` → a ``config`` input port instead of the ring;
    :data:`~hw.config.UNIT_ID_PORT` → the ring and a ``unit_id`` input port).
    """

    def __init__(self, spec: SwitchSpec, unit_id=None):
        self.spec = spec
        if unit_id != UNIT_ID_PORT:
            self.unit_id = unit_id      # else the port of that name
        members = {}
        for net in NETWORKS:
            sig = signature_of(net, spec.lanes)
            short = NET_SHORT[net]
            n = spec.n_links(net)
            if n:
                for d in spec.sides:
                    members[f"{short}_{d.lower()}_i"] = In(sig).array(n)
                    members[f"{short}_{d.lower()}_o"] = Out(sig).array(n)
            if dict(spec.unit_in)[net]:
                members[f"{short}_u_i"] = In(sig).array(dict(spec.unit_in)[net])
            if dict(spec.unit_out)[net]:
                members[f"{short}_u_o"] = Out(sig).array(dict(spec.unit_out)[net])
        if unit_id is None:
            members["config"] = In(spec.layout)
        else:
            members["cfg_i"] = In(CONFIG_RING)
            members["cfg_o"] = Out(CONFIG_RING)
        if unit_id == UNIT_ID_PORT:
            members["unit_id"] = In(12)
        super().__init__(members)

    def port(self, network, name, is_input):
        member, k = port_member(network, name, is_input)
        return getattr(self, member)[k]

    def elaborate(self, platform):
        # In a design converted to Verilog: an instance of the one module of this spec.
        if self.unit_id is not None:
            shared = shared_unit(self, platform, self.spec,
                                 lambda: Switch(self.spec, UNIT_ID_PORT), unit_id=self.unit_id)
            if shared is not None:
                return shared
        m = Module()
        spec = self.spec
        if self.unit_id is None:
            config = self.config
        else:
            id_port = not isinstance(self.unit_id, int)
            m.submodules.store = store = ConfigStore(UNIT_ID_PORT if id_port else self.unit_id,
                                                     UnitKind.SWITCH, spec.layout)
            if id_port:
                m.d.comb += store.unit_id.eq(self.unit_id)
            wiring.connect(m, wiring.flipped(self.cfg_i), store.ring_i)
            wiring.connect(m, store.ring_o, wiring.flipped(self.cfg_o))
            config = store.config
        for net in NETWORKS:
            outs = spec.outputs(net)
            if not outs:
                # Unit-side inputs with nowhere to go: never ready.
                continue
            ins = spec.inputs(net)
            in_ports = [self.port(net, i, True) for i in ins]
            sel = {o: config[net][o] for o in outs}
            bufs = {}
            for o in outs:
                out_port = self.port(net, o, False)
                shp = out_port.payload.shape()
                buf = (SkidBuffer(shp) if spec.buffer_depth == 2
                       else StreamFIFO(shp, spec.buffer_depth))
                m.submodules[f"{NET_SHORT[net]}_{o}_buf"] = bufs[o] = buf
                wiring.connect(m, buf.o, wiring.flipped(out_port))
            # One-hot decode of every select (bit i = input i; disallowed inputs masked off), then
            # per input: ready = selected by some output and no selecting output is full. The
            # decodes are registers: the selects are static while a kernel runs (they change only
            # by a ring write, which a fence READ separates from any start), and registering them
            # takes the select decode off every valid/ready path through the switch.
            n = len(ins)
            onehot = {}
            taken_next = 0
            blocked = 0
            for o in outs:
                mask = sum(1 << ins.index(i) for i in spec.allowed(net, o))
                oh = Signal(n, name=f"{NET_SHORT[net]}_{o}_oh")
                oh_next = (Const(1, n + 1) << sel[o])[1:] & mask
                m.d.sync += oh.eq(oh_next)
                onehot[o] = oh
                taken_next = taken_next | oh_next
                blocked = blocked | (oh & Mux(bufs[o].i.ready, 0, (1 << n) - 1))
            taken = Signal(n, name=f"{NET_SHORT[net]}_taken")
            m.d.sync += taken.eq(taken_next)
            in_ready = Signal(n, name=f"{NET_SHORT[net]}_ready")
            in_valid = Signal(n, name=f"{NET_SHORT[net]}_valid")
            m.d.comb += [in_ready.eq(taken & ~blocked),
                         in_valid.eq(Cat(*[p.valid for p in in_ports]))]
            for idx, port in enumerate(in_ports):
                m.d.comb += port.ready.eq(in_ready[idx])
            # Output muxes: the payload by a case on the select, valid from the one-hot.
            go = in_valid & in_ready
            for o in outs:
                buf = bufs[o]
                m.d.comb += buf.i.valid.eq((go & onehot[o]).any())
                with m.Switch(sel[o]):
                    for name in spec.allowed(net, o):
                        idx = ins.index(name)
                        with m.Case(idx + 1):
                            m.d.comb += buf.i.payload.eq(in_ports[idx].payload)
        return m


def typical_spec(params):
    """The spec of the busiest interior switch of the fabric ``params`` describes (the one with the
    most unit ports), or the busiest switch at all if there is no interior."""
    fm = FabricMap(params)

    def weight(s):
        return (len(s.spec.sides), sum(len(s.spec.inputs(n)) + len(s.spec.outputs(n))
                                       for n in NETWORKS))
    return max(fm.switches, key=weight).spec


def generate(fabric_params):
    """``rdu gen CONFIG --unit switch``: the fabric's busiest interior switch, with its ring stop."""
    spec = typical_spec(fabric_params)
    return Generated(Switch(spec, unit_id=1), f"rdu_switch_{fabric_params.name}")
