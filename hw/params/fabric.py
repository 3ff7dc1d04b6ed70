"""Parameters of a whole fabric (docs/architecture.md §2): the grid, the lane count and every
unit."""

from __future__ import annotations

import dataclasses
import os
import re

from .base import (
    ConfigError,
    Params,
    _as_path,
    identifier,
    int_range,
    load_yaml,
    param,
    pow2,
    preset_file,
    preset_files,
    real_range,
)
from .memory import AGCUParams, MemoryParams
from .pcu import PCUParams
from .pmu import PMUParams
from .switch import SwitchParams

__all__ = ["FabricParams", "load", "describe", "preset_names", "DEFAULT_CONFIG"]

DEFAULT_CONFIG = "sim"


@dataclasses.dataclass(frozen=True)
class FabricParams(Params):
    """An R×C checkerboard of PCUs and PMUs with a switch at every grid corner.

    ``lanes`` is fabric-wide (the vector network width); the PCU section inherits it and the PMU's
    bank count defaults to it.
    """

    name: str = param("custom", check=identifier(),
                      doc="configuration name (part of the Verilog module names)")
    rows: int = param(2, check=int_range(1, 16), doc="unit rows R")
    cols: int = param(2, check=int_range(1, 16), doc="unit columns C")
    lanes: int = param(8, check=pow2(2, 32), doc="vector lanes L (32-bit words)")
    clock_mhz: float = param(100.0, check=real_range(1.0, 5000.0), doc="nominal clock for reports")
    pcu: PCUParams = param(factory=PCUParams, doc="pattern compute units")
    pmu: PMUParams = param(factory=PMUParams, doc="pattern memory units")
    switch: SwitchParams = param(factory=SwitchParams, doc="switches and networks")
    agcu: AGCUParams = param(factory=AGCUParams, doc="address generation / coalescing units")
    memory: MemoryParams = param(factory=MemoryParams, doc="HBM and DDR tiers")

    @classmethod
    def child_overrides(cls, data):
        lanes = data.get("lanes", 8) if isinstance(data, dict) else 8
        pmu = data.get("pmu") if isinstance(data, dict) else None
        banks = {} if isinstance(pmu, dict) and "banks" in pmu else {"banks": lanes}
        return {"pcu": {"lanes": lanes}, "pmu": banks}

    def check(self, fail):
        if self.pcu.lanes != self.lanes:
            fail("pcu.lanes", self.pcu.lanes, f"must equal lanes ({self.lanes}): one vector width")
        if self.pmu.banks > self.lanes:
            fail("pmu.banks", self.pmu.banks, f"must be <= lanes ({self.lanes})")
        if self.agcu.count > 2 * self.cols + 2 * self.rows:
            fail("agcu.count", self.agcu.count,
                 f"must be <= the {2 * (self.rows + self.cols)} edge slots of a "
                 f"{self.rows}x{self.cols} grid")

    @property
    def units(self):
        return self.rows * self.cols

    def unit_kind(self, row, col):
        """``"pcu"`` or ``"pmu"`` at grid position (row, col): a checkerboard with a PCU at (0, 0)."""
        return "pcu" if (row + col) % 2 == 0 else "pmu"

    @property
    def n_pcu(self):
        return sum(self.unit_kind(r, c) == "pcu" for r in range(self.rows) for c in range(self.cols))

    @property
    def n_pmu(self):
        return self.units - self.n_pcu


def preset_names():
    return list(preset_files())


#: Keys a configuration *file* must set (a mapping given in Python may rely on the defaults): the
#: lane count shapes every unit, so a file without it must not silently get the default 8.
REQUIRED_FILE_KEYS = ("lanes",)


def load(config=None):
    """Load a fabric configuration: a preset name (``tiny``, ``sim``, ...), a YAML path, a mapping
    or ``None`` for the default preset. Raises :class:`ConfigError` with a one-line message.

    A YAML file must be a non-empty mapping and set ``lanes``; without ``name`` it is named after
    the file (``wide.yaml`` → ``wide``) when that stem is letters, digits and ``_``."""
    if config is None:
        config = DEFAULT_CONFIG
    if isinstance(config, FabricParams):
        return config
    if isinstance(config, dict):
        return FabricParams.from_dict(config)
    return _load_file(_path(config))


def _path(config):
    """The YAML file of a preset name or path (a folder is returned as is: load_yaml says so)."""
    name = os.fspath(config) if isinstance(config, (str, os.PathLike)) else None
    if name == "":
        raise ConfigError("config '': empty name; give a preset name or a YAML file")
    if name is not None and not name.endswith((".yaml", ".yml")) and "/" not in name:
        path = preset_file(name)
        if path is not None:
            return path
        if not os.path.isdir(name):
            raise ConfigError(f"config {config!r}: no such preset or file; presets: "
                              f"{', '.join(preset_names())}")
        return name
    return config


def _load_file(path):
    path = _as_path(path)
    data = load_yaml(path)
    stem = path.name.rsplit(".", 1)[0]
    named = isinstance(data, dict) and "name" not in data and re.fullmatch(r"[A-Za-z0-9_]+", stem)
    if named:
        data = {"name": stem, **data}
    params = FabricParams.from_dict(data, source=str(path))
    if "name" not in data:
        raise ConfigError(f"{path}: name: missing, and the file name {stem!r} cannot stand in "
                          f"for it (it names the Verilog modules: letters, digits and _ only)")
    for key in REQUIRED_FILE_KEYS:
        if key not in data:
            _, _, _, allowed, doc = next(r for r in FabricParams.describe() if r[0] == key)
            raise ConfigError(f"{path}: {key}: missing; a configuration file must set it "
                              f"({doc}; {allowed})")
    return params


def describe(config=None):
    """``(params, rows)``: the configuration :func:`load` gives for ``config`` and
    :meth:`Params.explain` of it against the YAML mapping it came from, so every row says whether
    the YAML set the key or it was defaulted (``rdu params CONFIG --describe``)."""
    params = load(config)
    if isinstance(config, FabricParams):
        data = {}
    elif isinstance(config, dict):
        data = config
    else:
        data = load_yaml(_path(DEFAULT_CONFIG if config is None else config))
    return params, params.explain(data)
