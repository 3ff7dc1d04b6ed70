"""Argument types shared by the ``rdu`` commands (:mod:`scripts.cli`, :mod:`scripts.regress`)."""

from __future__ import annotations

import argparse

__all__ = ["seed_arg"]


def seed_arg(text):
    """argparse type of ``--seed``: an integer >= 0 (decimal or 0x...)."""
    try:
        seed = int(text, 0)
    except ValueError:
        seed = -1
    if seed < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be an integer >= 0")
    return seed
