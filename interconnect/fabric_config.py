"""Whole-fabric configuration: assemble the ring packets from per-unit configs, read them back,
check them.

:class:`FabricConfig` collects the configuration of every ring stop of a fabric — units (any
``amaranth.lib.data`` layout), switches (from a :class:`~interconnect.router.Routing`) and the
fabric stop (``done_mask``) — and turns it into :class:`hw.config.ConfigPackets` transactions:

* :meth:`FabricConfig.load` — WRITEs of every config word in ring order, ending with a READ of the
  last ring stop's identity as a **fence**: its response returns only after every earlier packet
  has passed every stop, so when the host has it the whole fabric is configured;
* :meth:`FabricConfig.start` — START pulses (after a load, so no unit starts before the switches
  downstream of it are set);
* :meth:`FabricConfig.readback` / :meth:`FabricConfig.check` — READ every config word back and
  compare, naming the first unit and word that differ; :meth:`FabricConfig.decode` turns read words
  back into descriptions (:func:`unpack`), e.g. switch selects for :func:`interconnect.router.trace`.

Loading time: one packet per cycle enters the ring, so a load of ``W`` words takes about
``W + ring length`` cycles (the fence's round trip); ``scripts/bench_interconnect.py`` measures it.
"""

from __future__ import annotations

from amaranth import Shape
from amaranth.lib import data

from hw.config import AddressMap, ConfigPackets, UnitKind, config_words, layout_words
from interconnect.fabric import fabric_layout

from .floorplan import FABRIC_ID, FabricMap

__all__ = ["FabricConfig", "unpack", "ConfigMismatch"]


class ConfigMismatch(AssertionError):
    pass


def unpack(layout, bits):
    """The description (nested ``dict`` / ``list`` / ``int``) of ``bits`` in ``layout`` — the
    inverse of ``layout.const(description)`` for struct, array and plain unsigned fields."""
    if isinstance(layout, data.StructLayout):
        return {name: unpack(f.shape, (bits >> f.offset) & ((1 << f.width) - 1))
                for name, f in layout}
    if isinstance(layout, data.ArrayLayout):
        w = _width(layout.elem_shape)
        return [unpack(layout.elem_shape, (bits >> (w * i)) & ((1 << w) - 1))
                for i in range(layout.length)]
    return bits


def _width(shape):
    return shape.size if isinstance(shape, data.Layout) else Shape.cast(shape).width


class FabricConfig:
    """The configuration of every ring stop of the fabric ``fmap`` (see the module docstring)."""

    def __init__(self, fmap: FabricMap):
        self.fmap = fmap
        self.stops = {}     # id -> (layout, description)
        self.stops[FABRIC_ID] = (fabric_layout(fmap), {"done_mask": 0})

    # ---- assembling --------------------------------------------------------------------

    def set(self, unit, layout, description):
        """Configure ``unit`` (name, id or site) with ``description`` of ``layout``."""
        uid = unit if isinstance(unit, int) else self.fmap.site(unit).id
        config_words(layout, description)   # validate now: ValueError naming the field
        self.stops[uid] = (data.Layout.cast(layout), description)
        return self

    def routing(self, routing):
        """Configure every switch from a :class:`~interconnect.router.Routing` (unused outputs off)."""
        for sid, desc in routing.switch_configs(all_switches=True).items():
            self.stops[sid] = (self.fmap.switch(sid).spec.layout, desc)
        return self

    def clear_switches(self):
        for s in self.fmap.switches:
            self.stops[s.id] = (s.spec.layout, s.spec.describe({}))
        return self

    def done_mask(self, units):
        """Select the units whose ``done`` the fabric's ``done`` port waits for."""
        mask = 0
        for u in units:
            mask |= 1 << self.fmap.done_bit(u)
        self.stops[FABRIC_ID] = (self.stops[FABRIC_ID][0], {"done_mask": mask})
        return self

    def _ordered(self):
        order = {uid: n for n, uid in enumerate(self.fmap.ring)}
        return sorted(self.stops.items(), key=lambda kv: order.get(kv[0], 1 << 30))

    def words(self):
        """Total configuration words (what a load writes)."""
        return sum(layout_words(layout) for layout, _ in self.stops.values())

    def load(self, fence=True):
        """ConfigPackets writing every configured stop in ring order (+ a fence READ)."""
        bits = ConfigPackets()
        for uid, (layout, desc) in self._ordered():
            bits.config(uid, layout, desc)
        if fence:
            bits.read(self.fmap.ring[-1], AddressMap.IDENT)
        return bits

    def start(self, units=None):
        """START pulses: to the fabric stop and ``units`` (default: every unit and AGCU stop), in
        ring order; ``units="broadcast"`` uses one broadcast write."""
        bits = ConfigPackets()
        if units == "broadcast":
            return bits.start()
        ids = [FABRIC_ID] + sorted(self.fmap.site(u).id for u in (
            units if units is not None else [s.id for s in self.fmap.all_units
                                             if s.id in self.stops]))
        for uid in ids:
            bits.start(uid)
        return bits

    # ---- reading back ------------------------------------------------------------------

    def readback(self):
        """ConfigPackets READing every configured stop's config words (ring order)."""
        bits = ConfigPackets()
        for uid, (layout, _) in self._ordered():
            for w in range(layout_words(layout)):
                bits.read(uid, AddressMap.CONFIG + w)
        return bits

    def decode(self, read_data):
        """``{id: description}`` from the data of :meth:`readback` (in the same order)."""
        out = {}
        pos = 0
        for uid, (layout, _) in self._ordered():
            n = layout_words(layout)
            bits = 0
            for w, word in enumerate(read_data[pos: pos + n]):
                bits |= int(word) << (32 * w)
            pos += n
            out[uid] = unpack(layout, bits)
        return out

    def check(self, read_data):
        """Compare read-back words with what :meth:`load` wrote; raise :class:`ConfigMismatch`
        naming the first stop and word that differ."""
        pos = 0
        expected_total = sum(layout_words(layout) for layout, _ in self.stops.values())
        if len(read_data) != expected_total:
            raise ConfigMismatch(f"read back {len(read_data)} words, expected {expected_total}")
        for uid, (layout, desc) in self._ordered():
            want = config_words(layout, desc)
            got = [int(x) for x in read_data[pos: pos + len(want)]]
            pos += len(want)
            for w, (a, b) in enumerate(zip(want, got)):
                if a != b:
                    raise ConfigMismatch(f"{self._name(uid)} (id {uid}) config word {w}: wrote "
                                         f"{a:#010x}, read {b:#010x}")
        return True

    def selects(self, read_data):
        """Switch selects ``{switch id: {network: {out: input}}}`` decoded from read-back data."""
        dec = self.decode(read_data)
        return {s.id: s.spec.decode(dec[s.id]) for s in self.fmap.switches if s.id in dec}

    def identity(self):
        """Packets READing every ring stop's identity; :meth:`check_identity` checks the answers
        against the floorplan (kind and id)."""
        bits = ConfigPackets()
        for uid in self.fmap.ring:
            bits.read(uid, AddressMap.IDENT)
        return bits

    def check_identity(self, read_data, kinds=None):
        """``kinds``: ``{unit kind name: UnitKind}`` expected per floorplan kind (default: switches
        SWITCH, fabric FABRIC; units are accepted with any kind)."""
        for uid, word in zip(self.fmap.ring, read_data):
            if (word & 0xFFFF) != uid:
                raise ConfigMismatch(f"{self._name(uid)}: identity {word:#x} names unit "
                                     f"{word & 0xFFFF}, expected {uid}")
            want = None
            if uid == FABRIC_ID:
                want = UnitKind.FABRIC
            elif isinstance(self.fmap.site(uid), type(self.fmap.switches[0])):
                want = UnitKind.SWITCH
            elif kinds:
                want = kinds.get(self.fmap.site(uid).kind)
            if want is not None and (word >> 16) != int(want):
                raise ConfigMismatch(f"{self._name(uid)}: kind {word >> 16}, expected "
                                     f"{int(want)} ({want.name})")
        return True

    def _name(self, uid):
        return "fabric" if uid == FABRIC_ID else self.fmap.site(uid).name
