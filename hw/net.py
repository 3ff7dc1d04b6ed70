"""The three static networks and the port convention every fabric unit follows.

Networks (docs/architecture.md §2): one topology, three widths —

* **vector**: ``lanes`` × 32-bit words per transfer (:func:`vector_signature`);
* **scalar**: one 32-bit word (:data:`SCALAR`);
* **control**: 1-bit tokens (:data:`CONTROL`; the payload bit is free for the sender, e.g. "last").

All three are ``amaranth.lib.stream`` ready/valid streams on every hop.

Unit port convention (PCU, PMU, AGCU; what the fabric generator and the router rely on):

=============  ============================================================================
member         meaning
=============  ============================================================================
``vec_in``     ``In(vector_signature(L)).array(n)`` — vector inputs (each unit buffers them)
``vec_out``    ``Out(vector_signature(L)).array(n)``
``scal_in``    ``In(SCALAR).array(n)`` / ``scal_out`` likewise
``ctrl_in``    ``In(CONTROL).array(n)`` / ``ctrl_out`` likewise
``cfg_i``      ``In(CONFIG_RING)`` — the configuration ring enters the unit ...
``cfg_o``      ``Out(CONFIG_RING)`` — ... and leaves it (one :class:`hw.config.ConfigStore` hop)
``busy``       ``Out(1)`` — started and not finished
``done``       ``Out(1)`` — finished since the last start (sticky until the next start)
``unit_id``    ``In(12)`` — only in a unit built with :data:`hw.config.UNIT_ID_PORT`: its ring
               id, from the parent (the shared module of :func:`hw.generate.shared_unit`)
=============  ============================================================================

:func:`unit_members` builds that dictionary from port counts, so every unit declares it once.
Verilog names are ``vec_in__<i>__valid`` / ``__ready`` / ``__payload`` (Amaranth joins with ``__``).
"""

from __future__ import annotations

from amaranth import unsigned
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from hw.config import CFG_PACKET

__all__ = ["WORD_BITS", "NETWORKS", "vector_layout", "vector_signature", "SCALAR", "CONTROL",
           "CONFIG_RING", "unit_members", "PORT_GROUPS"]

WORD_BITS = 32

#: Network names, in the order used everywhere (router, switch configs, reports).
NETWORKS = ("vector", "scalar", "control")

#: Port-group member names per network: (inputs, outputs).
PORT_GROUPS = {"vector": ("vec_in", "vec_out"), "scalar": ("scal_in", "scal_out"),
               "control": ("ctrl_in", "ctrl_out")}


def vector_layout(lanes):
    return data.ArrayLayout(unsigned(WORD_BITS), lanes)


def vector_signature(lanes):
    return stream.Signature(vector_layout(lanes))


SCALAR = stream.Signature(unsigned(WORD_BITS))
CONTROL = stream.Signature(unsigned(1))
CONFIG_RING = stream.Signature(CFG_PACKET)


def signature_of(network, lanes):
    return {"vector": vector_signature(lanes), "scalar": SCALAR, "control": CONTROL}[network]


def unit_members(lanes, vec_in=0, vec_out=0, scal_in=0, scal_out=0, ctrl_in=0, ctrl_out=0):
    """The standard members of a fabric unit (see module docstring)."""
    return {
        "vec_in": In(vector_signature(lanes)).array(vec_in),
        "vec_out": Out(vector_signature(lanes)).array(vec_out),
        "scal_in": In(SCALAR).array(scal_in),
        "scal_out": Out(SCALAR).array(scal_out),
        "ctrl_in": In(CONTROL).array(ctrl_in),
        "ctrl_out": Out(CONTROL).array(ctrl_out),
        "cfg_i": In(CONFIG_RING),
        "cfg_o": Out(CONFIG_RING),
        "busy": Out(1),
        "done": Out(1),
    }
