"""Passing test parameters from pytest to a cocotb module (which runs in the simulator process)."""

import json
import os

__all__ = ["encode", "decode"]

_VAR = "RDU_TB_ARGS"


def encode(**kwargs):
    """``env=`` entry for :func:`tb.runner.simulate` carrying ``kwargs`` (JSON)."""
    return {_VAR: json.dumps(kwargs)}


def decode():
    """Inside the cocotb module: the ``kwargs`` given to :func:`encode` (``{}`` if none)."""
    return json.loads(os.environ.get(_VAR, "{}"))
