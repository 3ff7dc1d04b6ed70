"""Architecture parameters: one validated, read-only object per unit, loaded from YAML.

``load("sim")`` / ``load("configs/tiny.yaml")`` → :class:`FabricParams`; invalid input raises
:class:`ConfigError` with one line naming the key, the value and what is allowed.
"""

from .base import ConfigError, Params, configs_dir, load_yaml, param
from .fabric import DEFAULT_CONFIG, FabricParams, describe, load, preset_names
from .memory import AGCUParams, DRAMParams, MemoryParams
from .pcu import OP_CLASSES, PCUParams
from .pmu import PMUParams
from .switch import SwitchParams

__all__ = ["ConfigError", "Params", "param", "configs_dir", "load_yaml", "load", "describe",
           "preset_names", "DEFAULT_CONFIG", "FabricParams", "PCUParams", "PMUParams",
           "SwitchParams", "AGCUParams", "DRAMParams", "MemoryParams", "OP_CLASSES"]
