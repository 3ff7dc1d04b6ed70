"""Small helpers every layer uses: exact base-2 logarithms, index widths, "did you mean" hints for
unknown names, the xorshift32 generator (Python and RTL), and a component base class that checks
its constructor arguments before the object exists."""

from __future__ import annotations

import difflib
import inspect
import operator

from amaranth import Signal
from amaranth.lib import wiring

__all__ = ["CheckedComponent", "bits_for", "did_you_mean", "log2_exact", "xorshift32",
           "xorshift32_rtl"]


def log2_exact(n, what="n", error=ValueError):
    """``k`` with ``2**k == n``. Anything but a power of two raises ``error`` with the message
    ``"{what} = {n!r}: must be a power of two"``."""
    try:
        k = -1 if isinstance(n, bool) else operator.index(n)
    except TypeError:
        k = -1
    if k < 1 or k & (k - 1):
        raise error(f"{what} = {n!r}: must be a power of two")
    return k.bit_length() - 1


def bits_for(n):
    """Bits of an index into ``n`` items: to hold 0..n-1, at least 1 (no zero-width signals)."""
    return max(1, (max(n, 1) - 1).bit_length())


def did_you_mean(name, allowed):
    """``" (did you mean 'x'?)"`` naming the entry of ``allowed`` closest to ``name``, or ``""``
    when none is close (the hint of an unknown-key error)."""
    close = difflib.get_close_matches(str(name), list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def xorshift32(state):
    """The next state of the 32-bit xorshift generator (shifts 13, 17, 5) after ``state``."""
    state ^= (state << 13) & 0xFFFFFFFF
    state ^= state >> 17
    state ^= (state << 5) & 0xFFFFFFFF
    return state


def xorshift32_rtl(m, state, name=None):
    """A 32-bit signal equal to :func:`xorshift32` of the 32-bit signal ``state``: combinational
    logic added to module ``m``, its signals named after ``name`` (default: the name of
    ``state``)."""
    name = name or state.name
    s1, s2, s3 = (Signal(32, name=f"{name}_s{k}") for k in (1, 2, 3))
    m.d.comb += [s1.eq(state ^ (state << 13)[:32]), s2.eq(s1 ^ (s1 >> 17)),
                 s3.eq(s2 ^ (s2 << 5)[:32])]
    return s3


class CheckedComponent(wiring.Component):
    """A component that checks its constructor arguments before the object exists.

    Amaranth warns about every elaboratable that is never elaborated, including one whose
    ``__init__`` raised, because it tracks the object from ``__new__`` on. A subclass overrides
    :meth:`check_arguments`, which gets the arguments of its ``__init__`` (by name, defaults
    filled in) and raises on a bad one, so a rejected call leaves nothing behind to warn about.
    """

    def __new__(cls, *args, **kwargs):
        try:
            bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
        except TypeError:
            bound = None      # a call that does not fit __init__: __init__ itself says so
        if bound is not None:
            bound.apply_defaults()
            cls.check_arguments(**dict(list(bound.arguments.items())[1:]))
        # src_loc_at=1: the warning about an unused component names the line that created it
        return super().__new__(cls, src_loc_at=1)

    @classmethod
    def check_arguments(cls, **arguments):
        """Raise (``ValueError``, ``TypeError``) if the constructor arguments are invalid."""
