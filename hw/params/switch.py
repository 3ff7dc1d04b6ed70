"""Parameters of the switches and the three static networks (docs/architecture.md §2, §3 switches).

Link counts are per direction and per network: ``vec_links = 2`` means two vector links go from
every switch to each of its (up to four) neighbours, and two come back. Plasticine used 2 vector and
4 scalar links. A network with 0 links still connects the unit ports at each switch (routes then
stay inside one switch). See ``docs/interconnect.md``.
"""

from __future__ import annotations

import dataclasses

from .base import Params, int_range, one_of, param

__all__ = ["SwitchParams"]


@dataclasses.dataclass(frozen=True)
class SwitchParams(Params):
    """Links per direction on each network and the flow-control scheme."""

    vec_links: int = param(2, check=int_range(1, 4), doc="vector links per direction")
    scal_links: int = param(2, check=int_range(0, 8), doc="scalar links per direction")
    ctrl_links: int = param(2, check=int_range(0, 8), doc="control links per direction")
    flow: str = param("ready_valid", check=one_of("ready_valid", "credit"),
                      doc="flow control on every hop")
    buffer_depth: int = param(2, check=int_range(2, 16), doc="words buffered per hop (>= 2 for full rate)")
    uturn: bool = param(False, doc="allow an output to select the input on its own side "
                                   "(a U-turn; never needed by shortest routes, costs mux inputs)")

    def check(self, fail):
        if self.flow == "credit":
            fail("flow", self.flow, "credit-based flow control is not built; use 'ready_valid' "
                                    "(ready/valid with a skid buffer or FIFO on every hop)")

    def links(self, network):
        """Links per direction on ``network`` (``"vector"``, ``"scalar"`` or ``"control"``)."""
        return {"vector": self.vec_links, "scalar": self.scal_links,
                "control": self.ctrl_links}[network]
