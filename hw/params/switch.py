"""Parameters of the switches and the three static networks (DESIGN.md §2, §3 switches)."""

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
