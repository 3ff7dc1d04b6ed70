"""Small RTL helpers shared by the memory-system units (priority encoders, round-robin arbiter)."""

from __future__ import annotations

from amaranth import Cat, Const, Mux, Signal

from hw.util import bits_for

__all__ = ["first_set", "RoundRobin", "popcount", "field", "le_const"]


def first_set(m, bits, n, name):
    """``(any, index)`` of the lowest set bit of ``bits`` (``n`` wide); combinational."""
    idx = Signal(bits_for(n), name=f"{name}_idx")
    any_ = Signal(name=f"{name}_any")
    m.d.comb += any_.eq(bits[:n].any())
    expr = Const(0, idx.shape())
    for i in reversed(range(n)):
        expr = Mux(bits[i], i, expr)
    m.d.comb += idx.eq(expr)
    return any_, idx


class RoundRobin:
    """Round-robin choice among ``n`` requesters: the first requester at or after the one after the
    last grant. ``update`` (a Value) advances the pointer past the current grant; 0 cycles latency."""

    def __init__(self, m, requests, n, name, update=None):
        self.n = n
        if n == 1:
            self.any = requests[0]
            self.grant = Const(0, 1)
            return
        ptr = Signal(bits_for(n), name=f"{name}_ptr")
        hi = Signal(n, name=f"{name}_hi")
        m.d.comb += hi.eq(requests[:n] & Cat(*[le_const(ptr, i) for i in range(n)]))
        any_hi, idx_hi = first_set(m, hi, n, f"{name}_h")
        any_all, idx_all = first_set(m, requests, n, f"{name}_a")
        self.any = any_all
        self.grant = Signal(bits_for(n), name=f"{name}_grant")
        m.d.comb += self.grant.eq(Mux(any_hi, idx_hi, idx_all))
        self._ptr = ptr
        self._m = m

    def advance(self, cond):
        if self.n == 1:
            return
        with self._m.If(cond):
            self._m.d.sync += self._ptr.eq(Mux(self.grant == self.n - 1, 0, self.grant + 1))


def le_const(value, k):
    """``value <= k`` without a constant comparison when ``k`` covers the whole range (lint)."""
    if k >= (1 << len(value)) - 1:
        return Const(1, 1)
    return value <= k


def popcount(bits):
    """Sum of the bits of a list of 1-bit Values."""
    bits = list(bits)
    if not bits:
        return Const(0, 1)
    total = bits[0]
    for b in bits[1:]:
        total = total + b
    return total


def field(value, lo, width):
    """``value[lo:lo+width]`` or a 1-bit zero when ``width`` is 0 (zero-width address fields)."""
    if width <= 0:
        return Const(0, 1)
    return value[lo: lo + width]
