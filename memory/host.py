"""Host-side helpers: tensors ↔ DRAM backing-store images, in bulk (numpy; no per-word Python).

A DRAM model's backing store is one :class:`hw.backdoor.BackdoorMemory` per channel, named
``<tier>_ch<c>`` (``hbm_ch0``...), of ``bytes_per_cycle``-byte words. The RTL address map
(:mod:`memory.dram`) interleaves *accesses* (``access_bytes`` each) across channels, so global
byte address ``x`` lives in channel ``(x // A) % C`` at channel-local byte
``(x // A // C) * A + x % A`` (``A`` = access bytes, ``C`` = channels). :class:`DRAMImage` holds the
whole memory as a flat byte array in *global* order and converts it to and from the per-channel
``$readmemh`` / ``$writememh`` files:
    img = DRAMImage(params.memory.hbm, "hbm")
    img.place(0x1000, np.arange(256, dtype=np.float32).reshape(16, 16))
    img.write_files(tmpdir)                      # hbm_ch<c>.hex, then pulse `load` in the sim
    ...                                          # pulse `dump`
    out = DRAMImage.from_dump(params.memory.hbm, "hbm", tmpdir)
    y = out.fetch(0x1000, (16, 16), np.float32)

Words are little-endian: byte 0 of a beat is bits 7:0 of the hex word; a 32-bit tensor element
at byte address ``x`` (a multiple of 4) is word ``x // 4`` — the same order the fabric's vector
lanes use (lane 0 in the low bits).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from hw.backdoor import read_hex

__all__ = ["DRAMImage", "hex_lines", "parse_hex"]


def hex_lines(words_u8):
    """``(n, w)`` uint8 array (little-endian words of ``w`` bytes) → ``$readmemh`` text."""
    words_u8 = np.ascontiguousarray(words_u8[:, ::-1])
    n, w = words_u8.shape
    text = words_u8.tobytes().hex()
    digits = 2 * w
    return "\n".join(text[i * digits:(i + 1) * digits] for i in range(n)) + "\n"


def parse_hex(text, width_bytes, depth):
    """``$writememh`` text → ``(depth, width_bytes)`` uint8 array (little-endian words).

    Handles ``//`` comments and ``@addr`` lines; missing words are zero; x/z digits read as 0."""
    digits = 2 * width_bytes
    lines = []
    plain = True
    for ln in text.splitlines():
        ln = ln.split("//")[0].strip()
        if not ln:
            continue
        if ln.startswith("@") or " " in ln or len(ln) != digits:
            plain = False
            break
        lines.append(ln)
    if plain and len(lines) <= depth:
        raw = "".join(lines).translate(str.maketrans("xXzZ", "0000"))
        arr = np.frombuffer(bytes.fromhex(raw), dtype=np.uint8).reshape(len(lines), width_bytes)
        out = np.zeros((depth, width_bytes), np.uint8)
        out[:len(lines)] = arr[:, ::-1]
        return out
    with tempfile.NamedTemporaryFile("w", suffix=".hex", delete=False) as f:
        f.write(text)
    words = read_hex(f.name)[:depth]
    Path(f.name).unlink()
    out = np.zeros((depth, width_bytes), np.uint8)
    for i, v in enumerate(words):
        out[i] = np.frombuffer(int(v).to_bytes(width_bytes, "little"), np.uint8)
    return out


class DRAMImage:
    """The whole simulated contents of one DRAM model (``params``: :class:`~hw.params.DRAMParams`),
    as bytes in global address order. ``name`` is the tier's store prefix (``"hbm"``, ``"ddr"``).
    """

    def __init__(self, params, name, data=None):
        self.params = params
        self.name = name
        cap = params.capacity_bytes
        if data is None:
            self.bytes = np.zeros(cap, np.uint8)
        else:
            data = np.asarray(data, dtype=np.uint8).reshape(-1)
            if data.size != cap:
                raise ValueError(f"DRAMImage {name}: {data.size} bytes given, capacity is {cap}")
            self.bytes = data.copy()
        #: End (byte address) of everything written or placed so far, zeros included: what a
        #: board must load so that stale memory cannot leak into a kernel (fpga.executor).
        nz = np.flatnonzero(self.bytes)
        self.written_end = int(nz[-1]) + 1 if nz.size else 0

    # ---- plain byte / word access -------------------------------------------------------

    @property
    def capacity(self):
        return self.params.capacity_bytes

    def _range(self, addr, nbytes, what):
        if addr < 0 or addr + nbytes > self.capacity:
            raise ValueError(f"{self.name}: {what} of {nbytes} bytes at byte address {addr:#x} "
                             f"exceeds the capacity ({self.capacity:#x} bytes)")

    def write_bytes(self, addr, data):
        data = np.frombuffer(bytes(data), np.uint8) if not isinstance(data, np.ndarray) else \
            np.ascontiguousarray(data).view(np.uint8).reshape(-1)
        self._range(addr, data.size, "write")
        self.bytes[addr:addr + data.size] = data
        self.written_end = max(self.written_end, addr + data.size)

    def read_bytes(self, addr, nbytes):
        self._range(addr, nbytes, "read")
        return self.bytes[addr:addr + nbytes].copy()

    def words(self):
        """The whole image as little-endian uint32 words (a view)."""
        return self.bytes.view("<u4")

    # ---- tensors ----------------------------------------------------------------------------

    def place(self, base, array, strides=None):
        """Lay out ``array`` at byte address ``base``.

        ``strides``: element strides per dimension (``None`` = contiguous row-major); e.g. a
        ``(M, K)`` matrix with a row pitch of ``P`` elements has ``strides=(P, 1)``. Elements are
        stored in their numpy dtype's little-endian bytes.
        """
        array = np.asarray(array)
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)
        if strides is None:
            self.write_bytes(base, array.tobytes())
            return self
        idx = self._element_offsets(base, array.shape, array.dtype.itemsize, strides)
        flat = np.ascontiguousarray(array).view(np.uint8).reshape(-1, array.dtype.itemsize)
        for b in range(array.dtype.itemsize):
            self.bytes[idx + b] = flat[:, b]
        if idx.size:
            self.written_end = max(self.written_end, int(idx.max()) + array.dtype.itemsize)
        return self

    def fetch(self, base, shape, dtype, strides=None):
        """Read back a tensor laid out as by :meth:`place`."""
        dtype = np.dtype(dtype).newbyteorder("<")
        shape = tuple(shape)
        n = int(np.prod(shape)) if shape else 1
        if strides is None:
            return np.frombuffer(self.read_bytes(base, n * dtype.itemsize).tobytes(),
                                 dtype).reshape(shape)
        idx = self._element_offsets(base, shape, dtype.itemsize, strides)
        out = np.empty((n, dtype.itemsize), np.uint8)
        for b in range(dtype.itemsize):
            out[:, b] = self.bytes[idx + b]
        return out.reshape(-1).view(dtype).reshape(shape)

    def _element_offsets(self, base, shape, itemsize, strides):
        if len(strides) != len(shape):
            raise ValueError(f"{self.name}: strides {tuple(strides)} do not match shape {shape}")
        grids = np.meshgrid(*[np.arange(s, dtype=np.int64) for s in shape], indexing="ij")
        off = np.zeros(shape, np.int64)
        for g, st in zip(grids, strides):
            off += g * int(st)
        idx = base + off.reshape(-1) * itemsize
        if idx.size and (idx.min() < 0 or idx.max() + itemsize > self.capacity):
            raise ValueError(f"{self.name}: tensor {shape} with strides {tuple(strides)} at "
                             f"{base:#x} reaches outside the capacity ({self.capacity:#x} bytes)")
        return idx

    # ---- backing-store files ------------------------------------------------------------------

    def channel_beats(self, c):
        """Channel ``c``'s backing store as a ``(beats, bytes_per_cycle)`` uint8 array."""
        p = self.params
        per = self.bytes.reshape(-1, p.channels, p.access_bytes)[:, c, :]
        return per.reshape(-1, p.bytes_per_cycle)

    def store_names(self):
        return [f"{self.name}_ch{c}" for c in range(self.params.channels)]

    def write_files(self, directory):
        """Write ``<name>_ch<c>.hex`` for every channel into ``directory`` (for the ``load``
        pulse; the simulator's ``+rdu_mem_dir=`` must point there). Returns the paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for c, name in enumerate(self.store_names()):
            path = directory / f"{name}.hex"
            path.write_text(hex_lines(self.channel_beats(c)))
            paths.append(path)
        return paths

    @classmethod
    def from_dump(cls, params, name, directory):
        """Read ``<name>_ch<c>.out.hex`` (written by the ``dump`` pulse) into an image."""
        directory = Path(directory)
        p = params
        per = np.empty((p.capacity_bytes // p.access_bytes // p.channels, p.channels,
                        p.access_bytes), np.uint8)
        for c in range(p.channels):
            path = directory / f"{name}_ch{c}.out.hex"
            if not path.exists():
                raise FileNotFoundError(f"{path}: no dump of {name} channel {c} (was `dump` "
                                        f"pulsed with +rdu_mem_dir={directory}?)")
            beats = parse_hex(path.read_text(), p.bytes_per_cycle, p.beats_per_channel)
            per[:, c, :] = beats.reshape(-1, p.access_bytes)
        return cls(params, name, per.reshape(-1))

    def copy(self):
        img = DRAMImage(self.params, self.name, self.bytes)
        img.written_end = self.written_end
        return img

    def __eq__(self, other):
        return isinstance(other, DRAMImage) and np.array_equal(self.bytes, other.bytes)

    def diff(self, other, limit=5):
        """Human-readable first differences (byte addresses) against another image."""
        bad = np.flatnonzero(self.bytes != other.bytes)
        if not bad.size:
            return "identical"
        words = np.unique(bad // 4)[:limit]
        parts = [f"{w * 4:#x}: {self.words()[w]:#010x} vs {other.words()[w]:#010x}"
                 for w in words]
        return f"{np.unique(bad // 4).size} words differ; first: " + ", ".join(parts)
