"""PMU assembler: a readable program description → the PMU's configuration (and ring packets).

A program (:class:`Program`, or the same thing as a ``dict`` / YAML mapping) says::
    mode: strided | skewed | duplicate | fifo
    bank_shift: k            # strided / skewed: bank = address bits [k, k + log2 B)
    skew_shift: p            # skewed: bank += address bits [p, p + log2 B)   (p >= k + log2 B)
    buffers: N               # 0 = no synchronisation, 1 = write then read, 2..params.buffers
    region: words            # N-buffering: words per buffer (default: the write pattern's span)
    fifo_depth: vectors      # fifo mode: capacity in vectors
    fifo_length: vectors     # fifo mode: vectors per run (0 = forever)
    fill_in / free_in: j     # slot filled / freed by tokens on ctrl_in[j] instead of internally
    write_done_out / read_done_out: j   # a token on ctrl_out[j] per finished write / read pass
    allow_conflicts: false   # accept lane patterns that hit a bank twice (they cost cycles)
    write: {pipe}            # omit for no writes
    read: {pipe}             # omit for no reads

    pipe:
      port: j                # write: data from vec_in[j]; read: data to vec_out[j]
      counters: [[count, stride], ...]   # innermost first; stride may be "arg:K"
      base: a                # word address; base_arg: K adds argument register K per pass
      base_scalar: j         # add one word from scal_in[j] at every pass start
      addr_scalar: j         # add one word from scal_in[j] to every vector
      addr_vector: j         # gather / scatter: lane i adds word i of a vector from vec_in[j]
      lane_stride: s         # lane i at + i*s (or lane_offsets: [..] explicitly)
      lane_bitrev: false     # lane i at + bitrev(i)*s
      bitrev: r              # reverse the low r bits of the counter offset
      wrap: w                # offsets (before the base) modulo 2**w
      passes: 1              # passes over the counters per run (0 = forever)

:func:`assemble` validates against a PMU's parameters and returns the layout description
(a ``dict`` for :func:`tiles.pmu_layout.config_layout`); :func:`config_writes` /
:func:`program_packets` give ring packets. Every error is a :class:`PMUProgramError` naming the
field, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hw.config import ConfigPackets
from hw.config import config_words as _config_words
from hw.config import config_writes as _config_writes
from hw.params.base import ConfigError
from hw.util import did_you_mean

from .pmu_layout import PERF_COUNTERS, Mode, Sync, config_layout
from .pmu_model import bitrev, map_address, vector_cycles

__all__ = ["PMUProgramError", "Pipe", "Program", "assemble", "config_words", "config_writes",
           "program_packets", "pipe_addresses", "MODES", "Cost", "cost"]

MODES = ("strided", "skewed", "duplicate", "fifo")
_ENUM_LIMIT = 1 << 20    # vectors per pass enumerated for range / conflict checks


class PMUProgramError(ConfigError):
    """A PMU program that this PMU cannot run: one line naming the field and what is allowed."""


def _fail(field, value, allowed):
    raise PMUProgramError(f"pmu program: {field} = {value!r}: {allowed}")


def _check_fields(cls, d, prefix):
    """Reject the first key of mapping ``d`` that is not a field of dataclass ``cls``
    (``prefix`` goes before the key in the message)."""
    names = [f.name for f in dataclasses.fields(cls)]
    for key in d:
        if key not in names:
            raise PMUProgramError(f"pmu program: {prefix}{key}: unknown field"
                                  f"{did_you_mean(key, names)}; allowed: {', '.join(names)}")


@dataclasses.dataclass(frozen=True)
class Pipe:
    """One address pipeline (see the module docstring)."""

    counters: tuple = ((1, 0),)
    port: int = 0
    base: int = 0
    base_arg: int | None = None
    base_scalar: int | None = None
    addr_scalar: int | None = None
    addr_vector: int | None = None
    lane_stride: int = 1
    lane_offsets: tuple | None = None
    lane_bitrev: bool = False
    bitrev: int = 0
    wrap: int = 0
    passes: int = 1

    @classmethod
    def from_dict(cls, d, where):
        if isinstance(d, Pipe):
            return d
        if not isinstance(d, dict):
            _fail(where, d, "must be a mapping of pipeline fields")
        _check_fields(cls, d, f"{where}.")
        d = dict(d)
        if "counters" in d:
            d["counters"] = tuple(tuple(c) if isinstance(c, (list, tuple)) else c
                                  for c in d["counters"])
        if d.get("lane_offsets") is not None:
            d["lane_offsets"] = tuple(d["lane_offsets"])
        return cls(**d)

    @property
    def vectors_per_pass(self):
        return int(np.prod([c[0] for c in self.counters])) if self.counters else 1


@dataclasses.dataclass(frozen=True)
class Program:
    """A PMU program: bank mapping, synchronisation and the two pipelines."""

    mode: str = "strided"
    write: Pipe | None = None
    read: Pipe | None = None
    bank_shift: int = 0
    skew_shift: int | None = None
    buffers: int = 0
    region: int | None = None
    fifo_depth: int | None = None
    fifo_length: int = 0
    fifo_base: int = 0
    fill_in: int | None = None
    free_in: int | None = None
    write_done_out: int | None = None
    read_done_out: int | None = None
    allow_conflicts: bool = False
    name: str = ""
    doc: str = ""

    @classmethod
    def from_dict(cls, d):
        if isinstance(d, Program):
            return d
        if not isinstance(d, dict):
            _fail("program", d, "must be a mapping")
        _check_fields(cls, d, "")
        d = dict(d)
        for side in ("write", "read"):
            if d.get(side) is not None:
                d[side] = Pipe.from_dict(d[side], side)
        return cls(**d)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def _check_int(field, v, lo, hi, allowed=None):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        _fail(field, v, "must be an integer")
    if not lo <= v <= hi:
        _fail(field, v, allowed or f"must be in {lo}..{hi}")
    return int(v)


def _opt_port(field, v, n, what):
    if v is None:
        return 0
    if n == 0:
        _fail(field, v, f"this PMU has no {what} ports")
    return _check_int(field, v, 0, n - 1, f"must be a {what} port in 0..{n - 1}") + 1


def _lane_offsets(pipe, lanes, aw, where):
    if pipe.lane_offsets is not None:
        if len(pipe.lane_offsets) != lanes:
            _fail(f"{where}.lane_offsets", list(pipe.lane_offsets),
                  f"must list one offset per lane ({lanes})")
        offs = list(pipe.lane_offsets)
    else:
        order = [bitrev(i, (lanes - 1).bit_length()) if pipe.lane_bitrev else i
                 for i in range(lanes)]
        offs = [o * pipe.lane_stride for o in order]
    lim = 1 << (aw - 1)
    for i, o in enumerate(offs):
        if not -lim <= o < lim:
            _fail(f"{where}.lane_offsets[{i}]" if pipe.lane_offsets is not None
                  else f"{where}.lane_stride", pipe.lane_stride if pipe.lane_offsets is None else o,
                  f"lane offsets must fit {aw}-bit signed addresses (|offset| < {lim})")
    return offs


def _pipe_desc(params, lanes, pipe, where, side):
    """Validate one pipeline; return its layout description."""
    p = params
    aw = p.addr_width
    if not isinstance(pipe.counters, (tuple, list)) or not pipe.counters:
        _fail(f"{where}.counters", pipe.counters, "must be a non-empty list of [count, stride]")
    if len(pipe.counters) > p.counters:
        _fail(f"{where}.counters", [list(c) for c in pipe.counters],
              f"at most {p.counters} counters in this PMU (params.counters)")
    cmax = (1 << p.counter_bits) - 1
    slim = 1 << (aw - 1)
    counters = []
    for i, c in enumerate(pipe.counters):
        if not isinstance(c, (tuple, list)) or len(c) != 2:
            _fail(f"{where}.counters[{i}]", c, "must be [count, stride]")
        count, stride = c
        count = _check_int(f"{where}.counters[{i}].count", count, 1, cmax,
                           f"must be in 1..{cmax} (counter_bits = {p.counter_bits})")
        arg = 0
        if isinstance(stride, str):
            if not stride.startswith("arg:") or not stride[4:].isdigit():
                _fail(f"{where}.counters[{i}].stride", stride,
                      "must be an integer or 'arg:K' (argument register K)")
            k = int(stride[4:])
            if k >= p.args:
                _fail(f"{where}.counters[{i}].stride", stride,
                      f"argument register must be in 0..{p.args - 1}" if p.args else
                      "this PMU has no argument registers (params.args = 0)")
            arg, stride = k + 1, 0
        else:
            stride = _check_int(f"{where}.counters[{i}].stride", stride, -slim, slim - 1,
                                f"must fit {aw}-bit signed addresses (-{slim}..{slim - 1})")
        counters.append({"count": count, "stride": stride, "arg": arg})
    while len(counters) < p.counters:
        counters.append({"count": 1, "stride": 0, "arg": 0})
    port_n = p.vec_in if side == "write" else p.vec_out
    port_kind = "vec_in" if side == "write" else "vec_out"
    port = _check_int(f"{where}.port", pipe.port, 0, port_n - 1,
                      f"must be a {port_kind} port in 0..{port_n - 1}")
    base = _check_int(f"{where}.base", pipe.base, 0, (1 << aw) - 1,
                      f"must be a word address in 0..{(1 << aw) - 1}")
    base_arg = 0
    if pipe.base_arg is not None:
        if not p.args:
            _fail(f"{where}.base_arg", pipe.base_arg, "this PMU has no argument registers")
        base_arg = _check_int(f"{where}.base_arg", pipe.base_arg, 0, p.args - 1,
                              f"must be an argument register in 0..{p.args - 1}") + 1
    passes = _check_int(f"{where}.passes", pipe.passes, 0, (1 << 32) - 1,
                        "must be >= 0 (0 = forever)")
    bitrev_bits = _check_int(f"{where}.bitrev", pipe.bitrev, 0, min(31, aw),
                             f"must be in 0..{min(31, aw)}")
    wrap = _check_int(f"{where}.wrap", pipe.wrap, 0, min(31, aw - 1),
                      f"must be in 0..{min(31, aw - 1)} (bits; 0 = no wrap)")
    return {
        "enable": 1, "port": port, "passes": passes, "base": base, "base_arg": base_arg,
        "base_scalar": _opt_port(f"{where}.base_scalar", pipe.base_scalar, p.scal_in, "scal_in"),
        "addr_scalar": _opt_port(f"{where}.addr_scalar", pipe.addr_scalar, p.scal_in, "scal_in"),
        "addr_vector": _opt_port(f"{where}.addr_vector", pipe.addr_vector, p.vec_in, "vec_in"),
        "bitrev": bitrev_bits, "wrap": wrap,
        "lane_off": _lane_offsets(pipe, lanes, aw, where),
        "counters": counters,
    }


def _disabled_pipe(params, lanes):
    return {"enable": 0, "port": 0, "passes": 1, "base": 0, "base_arg": 0, "base_scalar": 0,
            "addr_scalar": 0, "addr_vector": 0, "bitrev": 0, "wrap": 0,
            "lane_off": [0] * lanes,
            "counters": [{"count": 1, "stride": 0, "arg": 0}] * params.counters}


def _fifo_pipe(params, lanes, prog, pipe, side):
    """The pipeline of fifo mode: vector slots round a ring of 2**wrap words. Both sides walk
    the same address sequence, continuous modulo the ring (passes restart at the ring's start,
    so a forever-running pass covers the ring exactly)."""
    p = params
    depth = prog.fifo_depth
    ring = 1 << max(0, (depth * lanes - 1).bit_length())
    ring = max(ring, lanes)
    wrap = ring.bit_length() - 1
    cmax = (1 << p.counter_bits) - 1
    n, passes = prog.fifo_length, 1
    if n == 0:
        n, passes = ring // lanes, 0
    if n <= cmax:
        counters = ((n, lanes),)
    else:
        inner = next((d for d in range(cmax, 0, -1) if n % d == 0 and n // d <= cmax), None)
        if inner is None or p.counters < 2:
            _fail("fifo_length", prog.fifo_length,
                  f"must be a product of two counts <= {cmax} (or 0 = forever)")
        # The address wraps modulo the ring, so the outer stride can be taken modulo the ring
        # too (the same addresses; the raw stride would not fit the address width for long runs).
        counters = ((inner, lanes), (n // inner, (inner * lanes) % ring))
    return Pipe(counters=counters, port=pipe.port, base=prog.fifo_base, lane_stride=1, wrap=wrap,
                passes=passes), ring


def pipe_addresses(params, lanes, desc, cfg, max_vectors=_ENUM_LIMIT):
    """Lane addresses of the first pass of a pipeline (numpy ``(vectors, lanes)``), with argument
    registers and scalar inputs taken as 0, or ``None`` for data-dependent (gather) addressing or
    patterns longer than ``max_vectors``."""
    if desc["addr_vector"]:
        return None
    aw = params.addr_width
    mask = (1 << aw) - 1
    counts = [c["count"] for c in desc["counters"]]
    total = int(np.prod(counts))
    if total > max_vectors:
        return None
    strides = [0 if c["arg"] else c["stride"] for c in desc["counters"]]
    idx = np.indices(counts[::-1]).reshape(len(counts), -1)[::-1]   # innermost fastest
    acc = (sum(i.astype(np.int64) * s for i, s in zip(idx, strides)) & mask).astype(np.int64)
    if desc["bitrev"]:
        acc = np.array([bitrev(int(a), desc["bitrev"]) for a in acc], dtype=np.int64)
    wmask = ((1 << desc["wrap"]) - 1) if desc["wrap"] else mask
    lane = np.array(desc["lane_off"], dtype=np.int64)
    return (desc["base"] + (((acc[:, None] + lane[None, :]) & mask) & wmask)) & mask


def assemble(program, params, lanes):
    """Validate ``program`` (a :class:`Program` or a mapping) for a PMU with ``params`` and
    ``lanes``; return the configuration description for
    :func:`tiles.pmu_layout.config_layout`. Raises :class:`PMUProgramError`."""
    prog = Program.from_dict(program)
    p = params
    aw = p.addr_width
    lb = (p.banks - 1).bit_length()
    if prog.mode not in MODES:
        _fail("mode", prog.mode,
              f"unknown mode{did_you_mean(prog.mode, MODES)}; allowed: {', '.join(MODES)}")
    hw_mode = {"strided": Mode.STRIDED, "skewed": Mode.SKEWED, "duplicate": Mode.DUPLICATE,
               "fifo": Mode.STRIDED}[prog.mode]
    capacity = p.words_per_bank if hw_mode == Mode.DUPLICATE else p.size_words
    k = _check_int("bank_shift", prog.bank_shift, 0, p.addr_bits - lb,
                   f"must be in 0..{p.addr_bits - lb} (the bank bits must lie inside the "
                   f"{p.addr_bits}-bit address)")
    sk = 0
    if prog.mode == "skewed":
        if prog.skew_shift is None:
            _fail("skew_shift", None, "skewed mode needs skew_shift = log2 of the row pitch")
        sk = _check_int("skew_shift", prog.skew_shift, k + lb, p.addr_bits - lb if lb else
                        p.addr_bits, f"must be in {k + lb}..{p.addr_bits - lb} (>= bank_shift + "
                        f"log2 banks, so rows of 2**skew_shift words rotate across the banks)")
    elif prog.skew_shift is not None:
        _fail("skew_shift", prog.skew_shift, f"only meaningful in skewed mode (mode is "
                                             f"{prog.mode!r})")
    if prog.mode in ("fifo", "duplicate") and prog.bank_shift:
        _fail("bank_shift", prog.bank_shift, f"must be 0 in {prog.mode} mode")

    # Synchronisation.
    buffers = _check_int("buffers", prog.buffers, 0, p.buffers,
                         f"N must be in 0..{p.buffers} (params.buffers = {p.buffers}; 0 = none)")
    write, read = prog.write, prog.read
    slots, region = 0, 0
    if prog.mode == "fifo":
        if buffers:
            _fail("buffers", buffers, "fifo mode synchronises per vector; leave buffers at 0")
        if prog.fifo_depth is None:
            _fail("fifo_depth", None, "fifo mode needs fifo_depth (vectors)")
        _check_int("fifo_depth", prog.fifo_depth, 1, capacity // lanes,
                   f"must be in 1..{capacity // lanes} vectors ({capacity} words / {lanes} lanes)")
        _check_int("fifo_length", prog.fifo_length, 0, (1 << 32) - 1, "must be >= 0")
        for side, pipe in (("write", write), ("read", read)):
            if pipe is None:
                _fail(side, None, "fifo mode needs both a write and a read side (at least the port)")
            if pipe.counters != Pipe().counters or pipe.lane_offsets or pipe.addr_vector is not None:
                _fail(f"{side}.counters", [list(c) for c in pipe.counters],
                      "fifo mode generates its own addresses; give only the port")
        write, ring = _fifo_pipe(p, lanes, prog, write, "write")
        read, _ = _fifo_pipe(p, lanes, prog, read, "read")
        _check_int("fifo_base", prog.fifo_base, 0, capacity - ring,
                   f"the {ring}-word ring must fit the memory: base in 0..{capacity - ring}")
        if prog.fifo_base % ring:
            _fail("fifo_base", prog.fifo_base, f"must be a multiple of the ring size ({ring})")
        sync, slots, region = Sync.VECTOR, prog.fifo_depth, lanes
    elif buffers:
        sync, slots = Sync.PASS, buffers
    else:
        sync = Sync.NONE
    if prog.fifo_depth is not None and prog.mode != "fifo":
        _fail("fifo_depth", prog.fifo_depth, "only meaningful in fifo mode")

    wdesc = _pipe_desc(p, lanes, write, "write", "write") if write else _disabled_pipe(p, lanes)
    rdesc = _pipe_desc(p, lanes, read, "read", "read") if read else _disabled_pipe(p, lanes)
    if not write:
        wdesc["enable"] = 0
    if not read:
        rdesc["enable"] = 0
    if write and read and wdesc["addr_vector"] and wdesc["addr_vector"] == rdesc["addr_vector"]:
        _fail("read.addr_vector", read.addr_vector, "is already the write pipeline's scatter "
                                                    "address port; use another vec_in port")
    if write and wdesc["addr_vector"] and wdesc["addr_vector"] - 1 == wdesc["port"]:
        _fail("write.addr_vector", write.addr_vector,
              f"is the write data port (vec_in[{wdesc['port']}]); use another vec_in port")
    if write and read and rdesc["addr_vector"] and rdesc["addr_vector"] - 1 == wdesc["port"]:
        _fail("read.addr_vector", read.addr_vector,
              f"is the write data port (vec_in[{wdesc['port']}]); use another vec_in port")
    scal_users = {}
    for side, d, pipe in (("write", wdesc, write), ("read", rdesc, read)):
        if not pipe:
            continue
        for f in ("base_scalar", "addr_scalar"):
            if d[f]:
                other = scal_users.get(d[f])
                if other:
                    _fail(f"{side}.{f}", d[f] - 1, f"scal_in[{d[f] - 1}] is already used by "
                                                   f"{other}; each scalar port feeds one field")
                scal_users[d[f]] = f"{side}.{f}"

    # Addresses: range, N-buffer regions and bank conflicts, from the first pass of each pipe.
    wa = pipe_addresses(p, lanes, wdesc, None) if write else None
    ra = pipe_addresses(p, lanes, rdesc, None) if read else None
    if sync == Sync.PASS:
        if prog.region is None:
            spans = [int(a.max()) - d["base"] + 1 for a, d in ((wa, wdesc), (ra, rdesc))
                     if a is not None]
            region = max(spans, default=0)
            region = -(-region // lanes) * lanes
            if buffers > 1 and region == 0:
                _fail("region", None, "N-buffering needs region (words per buffer)")
        else:
            region = _check_int("region", prog.region, 1, capacity,
                                f"must be in 1..{capacity} words")
    elif prog.region is not None:
        _fail("region", prog.region, "only meaningful with buffers >= 1")
    for side, a, d in (("write", wa, wdesc), ("read", ra, rdesc)):
        if a is None:
            continue
        lo, hi = int(a.min()), int(a.max())
        if hi >= capacity:
            vec, lane = np.argwhere(a >= capacity)[0]
            _fail(f"{side}.counters", _show_counters(d),
                  f"address out of range for this PMU: vector {vec} lane {lane} reaches word "
                  f"{int(a[vec][lane])} (highest {hi}); the {prog.mode} memory has {capacity} "
                  f"words (0..{capacity - 1})")
        if sync == Sync.PASS:
            if lo < d["base"] or hi >= d["base"] + region:
                _fail(f"{side}.counters", _show_counters(d),
                      f"a pass must stay inside its buffer [{d['base']}, {d['base'] + region}) "
                      f"(base + region words); it reaches words {lo}..{hi}")
            top = d["base"] + buffers * region
            if top > capacity:
                _fail("region", region, f"{buffers} buffers of {region} words from base "
                                        f"{d['base']} need {top} words; this PMU has {capacity}")
        if not prog.allow_conflicts and not (hw_mode == Mode.DUPLICATE and side == "write"):
            _check_conflicts(p, lanes, a, hw_mode, k, sk, side, d, prog.mode)

    if sync == Sync.PASS and write and read and prog.fill_in is None:
        wp_, rp_ = wdesc["passes"], rdesc["passes"]
        if wp_ and (rp_ == 0 or rp_ > wp_):
            _fail("read.passes", rp_, f"must be <= write.passes ({wp_}): each read pass waits "
                                      f"for a written buffer")
        if rp_ and prog.free_in is None and (wp_ == 0 or wp_ > rp_ + buffers):
            _fail("write.passes", wp_, f"must be <= read.passes + buffers ({rp_ + buffers}): "
                                       f"each write pass waits for a free buffer")

    # Tokens.
    if (prog.fill_in is not None or prog.free_in is not None) and sync == Sync.NONE:
        _fail("fill_in" if prog.fill_in is not None else "free_in",
              prog.fill_in if prog.fill_in is not None else prog.free_in,
              "token inputs need synchronisation (buffers >= 1 or fifo mode)")
    fill_in = _opt_port("fill_in", prog.fill_in, p.ctrl_in, "ctrl_in")
    free_in = _opt_port("free_in", prog.free_in, p.ctrl_in, "ctrl_in")
    if fill_in and fill_in == free_in:
        _fail("free_in", prog.free_in, "is already fill_in; use two ctrl_in ports")
    wdone = _opt_port("write_done_out", prog.write_done_out, p.ctrl_out, "ctrl_out")
    rdone = _opt_port("read_done_out", prog.read_done_out, p.ctrl_out, "ctrl_out")
    if wdone and wdone == rdone:
        _fail("read_done_out", prog.read_done_out, "is already write_done_out; use two ctrl_out "
                                                   "ports")
    if wdone and not write:
        _fail("write_done_out", prog.write_done_out, "the program has no write side")
    if rdone and not read:
        _fail("read_done_out", prog.read_done_out, "the program has no read side")
    return {
        "mode": int(hw_mode), "bank_shift": k, "skew_shift": sk, "sync": int(sync),
        "slots": slots, "region": region, "fill_in": fill_in, "free_in": free_in,
        "wdone_out": wdone, "rdone_out": rdone, "write": wdesc, "read": rdesc,
    }


def _show_counters(d):
    return [[c["count"], c["stride"] if not c["arg"] else f"arg:{c['arg'] - 1}"]
            for c in d["counters"] if c["count"] != 1 or c["stride"]] or [[1, 0]]


def _check_conflicts(p, lanes, a, mode, k, sk, side, d, mode_name):
    """Reject lane patterns that hit a bank more often than the ``lanes / banks`` minimum."""
    nb = p.banks
    per = -(-lanes // nb)          # accesses per bank a vector needs anyway (banks < lanes)
    if mode == Mode.DUPLICATE:
        return                     # lane i reads bank i mod B: never more than the minimum
    lb = (nb - 1).bit_length()
    low = a & ((1 << (lb + (p.words_per_bank - 1).bit_length())) - 1)
    bank = (low >> k) & (nb - 1)
    if mode == Mode.SKEWED:
        bank = (bank + ((low >> sk) & (nb - 1))) & (nb - 1)
    counts = np.stack([(bank == b).sum(axis=1) for b in range(nb)], axis=1)
    over = counts.max(axis=1) > per
    if over.any():
        v = int(np.argmax(over))
        row = [int(x) for x in bank[v]]
        b = int(np.argmax(counts[v]))
        ln = [i for i, x in enumerate(row) if x == b][:per + 1]
        hint = {"strided": f"lane offsets that are odd multiples of 2**bank_shift "
                           f"(= {1 << k}) are conflict-free",
                "skewed": "lane stride 1 (rows) or 2**skew_shift (columns) is conflict-free",
                "fifo": "fifo mode is conflict-free"}.get(mode_name, "")
        _fail(f"{side}.lane_offsets", d["lane_off"],
              f"lanes {', '.join(map(str, ln))} of vector {v} all hit bank {b} (addresses "
              f"{', '.join(str(int(a[v][i])) for i in ln)}) in {mode_name} mode with bank_shift "
              f"{k}; {hint}; or set allow_conflicts: true (a conflict costs a cycle)")


def config_words(program, params, lanes):
    """The 32-bit configuration words of ``program``."""
    return _config_words(config_layout(params, lanes), assemble(program, params, lanes))


def config_writes(program, params, lanes, unit):
    """Ring WRITE packets that load ``program`` into PMU ``unit``."""
    return _config_writes(unit, config_layout(params, lanes), assemble(program, params, lanes))


def program_packets(program, params, lanes, unit, args=(), start=True):
    """A :class:`hw.config.ConfigPackets` that loads ``program`` (and argument registers), then
    starts the unit."""
    bits = ConfigPackets()
    bits.packets += config_writes(program, params, lanes, unit)
    for i, v in enumerate(args):
        bits.arg(unit, i, v & 0xFFFFFFFF)
    if start:
        bits.start(unit)
    return bits


@dataclasses.dataclass(frozen=True)
class Cost:
    """Static cost of one run: vectors moved, bank-conflict cycles and an ideal cycle count."""

    write_vectors: int
    read_vectors: int
    write_conflicts: int
    read_conflicts: int
    cycles: int

    def as_dict(self):
        return dataclasses.asdict(self)


def cost(program, params, lanes):
    """Ideal cycles of one run without backpressure, from start to done: per pass
    ``vectors + conflicts`` on each side; N = 1 runs write then read (plus ~3 cycles of hand-over
    per pass), N >= 2 overlaps them (``fill + passes·max(write, read)``), free-running pipelines
    and fifo mode run both at once; plus the pipeline latency ``addr_stages + 6``. Duplicate-mode
    writes cost one cycle per active lane. Data-dependent (gather) conflicts count as 0;
    pipelines that run forever count one pass. Within ~10% of the RTL for the library programs
    (``tests/tiles/test_pmu.py`` checks it)."""
    desc = assemble(program, params, lanes)
    per = {}
    for side in ("write", "read"):
        d = desc[side]
        if not d["enable"]:
            per[side] = (0, 0, 0)
            continue
        a = pipe_addresses(params, lanes, d, desc)
        vpp = int(np.prod([c["count"] for c in d["counters"]]))
        conf = 0
        if a is not None:
            for row in a:
                mapped = [map_address(params, int(x), i, desc["mode"], desc["bank_shift"],
                                      desc["skew_shift"], side == "write")
                          for i, x in enumerate(row)]
                conf += vector_cycles(params, lanes, [m_[0] for m_ in mapped],
                                      [m_[2] for m_ in mapped], side == "write", desc["mode"]) - 1
        per[side] = (vpp, conf, max(1, d["passes"]))
    (wv, wc, wp), (rv, rc, rp) = per["write"], per["read"]
    wcyc, rcyc = wv + wc, rv + rc
    lat = params.addr_stages + 6
    if desc["sync"] == Sync.PASS and wv and rv:
        if desc["slots"] == 1:
            cyc = wp * wcyc + rp * rcyc + 3 * max(wp, rp) + lat
        else:
            cyc = wcyc + max(wp, rp) * max(wcyc, rcyc) + lat
    else:
        cyc = max(wp * wcyc, rp * rcyc) + lat
    return Cost(wv * wp, rv * rp, wc * wp, rc * rp, cyc)


def perf_index(name):
    """Index of a performance counter (``AddressMap.PERF + index``)."""
    return PERF_COUNTERS.index(name)
