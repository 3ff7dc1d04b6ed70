"""Reference model of the PMU: a Python memory that executes an assembled configuration.

It works from the *assembled* description (the dictionary :func:`tiles.pmu_asm.assemble` returns,
i.e. exactly what the hardware's config register holds), so it checks the RTL's interpretation of
every field, not the assembler's intent. It models the physical banks (``mem[bank][offset]``) so
data written under one bank mapping and read under another comes out the way the RTL delivers it.

What it predicts, bit-exact: the read vectors, the final memory, and the performance counters that
do not depend on timing (``wr_vectors``, ``rd_vectors``, ``wr_conflicts``, ``rd_conflicts``,
``oob``, output token counts). Ordering: the RTL's synchronisation makes results independent of
timing — N-buffering (``sync`` per pass) behaves as write pass q, then read pass q; FIFO (per
vector) as write vector v, then read vector v; without synchronisation the model refuses programs
in which a read may see a write of the same run (:class:`ModelRace`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hw.util import log2_exact

from .pmu_layout import Mode, Sync

__all__ = ["PMUModel", "ModelResult", "ModelRace", "map_address", "pipe_vectors",
           "vector_cycles", "bitrev"]


class ModelRace(ValueError):
    """A program whose result would depend on timing (reads and writes of the same addresses
    without synchronisation), or one that cannot finish (reads waiting for missing writes)."""


def bitrev(x, bits):
    """Reverse the low ``bits`` bits of ``x`` (higher bits unchanged)."""
    if bits == 0:
        return x
    low = x & ((1 << bits) - 1)
    r = int(f"{low:0{bits}b}"[::-1], 2)
    return (x & ~((1 << bits) - 1)) | r


def map_address(params, addr, lane, mode, k, p, write):
    """(bank, offset, in_range) of word address ``addr`` (twin of :func:`tiles.pmu_addr.bank_map`).
    ``bank`` is ``None`` for a duplicate-mode write (every bank)."""
    nb, nd = params.banks, params.words_per_bank
    lb, ld = log2_exact(nb), log2_exact(nd)
    ab = lb + ld
    dup = mode == Mode.DUPLICATE
    act = addr < (nd if dup else nb * nd)
    low = addr & ((1 << ab) - 1)
    if dup:
        return (None if write else lane % nb), low & ((1 << max(ld, 1)) - 1), act
    win = (low >> k) & (nb - 1)
    skw = (low >> p) & (nb - 1) if mode == Mode.SKEWED else 0
    bank = (win + skw) & (nb - 1)
    off = (low & ((1 << k) - 1)) | ((low >> (k + lb)) << k)
    return bank, off & ((1 << max(ld, 1)) - 1), act


def vector_cycles(params, lanes, banks_of_lanes, active, write, mode):
    """Cycles the bank arbiter needs for one vector (1 if no conflict)."""
    if mode == Mode.DUPLICATE and write:
        return max(1, int(sum(active)))
    counts = {}
    for b, a in zip(banks_of_lanes, active):
        if a:
            counts[b] = counts.get(b, 0) + 1
    return max(counts.values(), default=1)


def _sext(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def pipe_vectors(params, lanes, pipe, sync, slots, region, args=(), pass_bases=None):
    """Yield ``(q, first, last, final, off, base)`` for every vector of a pipeline, in order
    (twin of :class:`tiles.pmu_addr.AddrGen`). ``pass_bases``: an iterator giving the scalar base of
    each pass (when ``pipe["base_scalar"]``). Infinite for ``passes == 0``."""
    aw = params.addr_width
    mask = (1 << aw) - 1
    counters = pipe["counters"]
    counts = [max(1, c["count"]) for c in counters]
    q = 0
    while pipe["passes"] == 0 or q < pipe["passes"]:
        strides = []
        for c in counters:
            s = args[c["arg"] - 1] if c["arg"] else c["stride"]
            strides.append(s & mask)
        base = pipe["base"] + (args[pipe["base_arg"] - 1] if pipe["base_arg"] else 0)
        if pipe["base_scalar"]:
            base += next(pass_bases)
        if sync == Sync.PASS:
            base += (q % max(1, slots)) * region if slots else 0
        base &= mask
        idx = [0] * len(counters)
        total = int(np.prod(counts))
        for n in range(total):
            acc = sum(i * s for i, s in zip(idx, strides)) & mask
            off = bitrev(acc, pipe["bitrev"]) & mask
            first = n == 0
            last = n == total - 1
            final = last and pipe["passes"] != 0 and q + 1 == pipe["passes"]
            yield q, first, last, final, off, base
            for lvl in range(len(idx)):
                idx[lvl] += 1
                if idx[lvl] < counts[lvl]:
                    break
                idx[lvl] = 0
        q += 1


@dataclasses.dataclass
class ModelResult:
    reads: np.ndarray                       # (n, lanes) read vectors, in order
    perf: dict                              # timing-independent performance counters
    tokens: dict                            # ctrl_out port -> [payload bits]
    consumed: dict                          # what was taken from each input stream
    read_addresses: list = dataclasses.field(default_factory=list)
    write_addresses: list = dataclasses.field(default_factory=list)


class PMUModel:
    """The PMU's memory plus the semantics of one run of an assembled configuration."""

    def __init__(self, params, lanes):
        self.params = params
        self.lanes = lanes
        self.mem = np.zeros((params.banks, params.words_per_bank), dtype=np.int64)

    # -- one vector ----------------------------------------------------------------------
    def _lane_addrs(self, pipe, off, base, scalar, gather):
        aw = self.params.addr_width
        mask = (1 << aw) - 1
        wmask = ((1 << pipe["wrap"]) - 1) if pipe["wrap"] else mask
        o = (off + (scalar or 0)) & mask
        out = []
        for i in range(self.lanes):
            v = (int(gather[i]) & mask) if gather is not None else (pipe["lane_off"][i] & mask)
            out.append((base + ((o + v) & mask & wmask)) & mask)
        return out

    def _access(self, cfg, addrs, write, data, perf):
        p = self.params
        mode, k, sk = cfg["mode"], cfg["bank_shift"], cfg["skew_shift"]
        mapped = [map_address(p, a, i, mode, k, sk, write) for i, a in enumerate(addrs)]
        active = [m[2] for m in mapped]
        perf["oob"] += sum(not a for a in active)
        cyc = vector_cycles(p, self.lanes, [m[0] for m in mapped], active, write, mode)
        perf["wr_conflicts" if write else "rd_conflicts"] += cyc - 1
        perf["wr_vectors" if write else "rd_vectors"] += 1
        wmask = (1 << p.word_bits) - 1
        if write:
            for i, (bank, off, act) in enumerate(mapped):
                if act:
                    if bank is None:
                        self.mem[:, off] = int(data[i]) & wmask
                    else:
                        self.mem[bank, off] = int(data[i]) & wmask
            return None
        return [int(self.mem[bank, off]) if act else 0 for bank, off, act in mapped]

    # -- a run ---------------------------------------------------------------------------
    def run(self, cfg, wdata=(), vec_in=None, scal_in=None, args=(), max_vectors=1_000_000):
        """Execute one run of ``cfg`` (an assembled description).

        ``wdata``: write data vectors (``(n, lanes)``); ``vec_in`` / ``scal_in``: ``{port: [items]}``
        for gather / scatter address vectors and scalar bases / addresses; ``args``: argument
        register values. Pipelines with ``passes == 0`` run until their input runs out.
        """
        p = self.params
        L = self.lanes
        vec_in = {k: list(v) for k, v in (vec_in or {}).items()}
        scal_in = {k: list(v) for k, v in (scal_in or {}).items()}
        wdata = [list(map(int, row)) for row in np.asarray(wdata, dtype=np.int64).reshape(-1, L)] \
            if len(wdata) else []
        used = {"wdata": 0, "vec_in": {k: 0 for k in vec_in}, "scal_in": {k: 0 for k in scal_in}}
        perf = {k: 0 for k in ("wr_vectors", "rd_vectors", "wr_conflicts", "rd_conflicts", "oob")}
        tokens = {}
        args = list(args) + [0] * 16
        sync = cfg["sync"]

        def pop_scalar(port):
            j = port - 1
            if j not in scal_in or used["scal_in"][j] >= len(scal_in[j]):
                raise _Starved(f"scal_in[{j}]")
            v = scal_in[j][used["scal_in"][j]]
            used["scal_in"][j] += 1
            return int(v)

        def pass_bases(pipe):
            while True:
                yield pop_scalar(pipe["base_scalar"])

        def steps(pipe, write):
            """Generator of per-vector actions for one pipeline; yields (q, last, final) after
            each vector so the scheduler can interleave."""
            if not pipe["enable"]:
                return
            for q, first, last, final, off, base in pipe_vectors(
                    p, L, pipe, sync, cfg["slots"], cfg["region"], args, pass_bases(pipe)):
                scalar = pop_scalar(pipe["addr_scalar"]) if pipe["addr_scalar"] else None
                gather = None
                if pipe["addr_vector"]:
                    j = pipe["addr_vector"] - 1
                    if j not in vec_in or used["vec_in"][j] >= len(vec_in[j]):
                        raise _Starved(f"vec_in[{j}]")
                    gather = vec_in[j][used["vec_in"][j]]
                    used["vec_in"][j] += 1
                data = None
                if write:
                    if used["wdata"] >= len(wdata):
                        raise _Starved("write data")
                    data = wdata[used["wdata"]]
                    used["wdata"] += 1
                addrs = self._lane_addrs(pipe, off, base, scalar, gather)
                yield addrs, data, q, last, final

        reads = []
        raddrs, waddrs = [], []

        def emit_token(sel, final):
            if sel:
                tokens.setdefault(sel - 1, []).append(1 if final else 0)

        wgen = steps(cfg["write"], True)
        rgen = steps(cfg["read"], False)

        def do_write():
            addrs, data, q, last, final = next(wgen)
            waddrs.append(addrs)
            self._access(cfg, addrs, True, data, perf)
            if last:
                emit_token(cfg["wdone_out"], final)
            return last

        def do_read():
            addrs, _, q, last, final = next(rgen)
            raddrs.append(addrs)
            reads.append(self._access(cfg, addrs, False, None, perf))
            if last:
                emit_token(cfg["rdone_out"], final)
            return last

        def drain(fn):
            n = 0
            try:
                while n < max_vectors:
                    fn()
                    n += 1
            except (StopIteration, _Starved):
                pass

        if sync == Sync.NONE or not (cfg["write"]["enable"] and cfg["read"]["enable"]):
            drain(do_write)
            drain(do_read)
            if sync == Sync.NONE and cfg["write"]["enable"] and cfg["read"]["enable"]:
                written = {a for v in waddrs for a in v}
                clash = [a for v in raddrs for a in v if a in written]
                if clash:
                    raise ModelRace(f"pmu model: address {clash[0]} is written and read in the "
                                    f"same run without synchronisation (sync none): the result "
                                    f"depends on timing; use buffers >= 1 or separate runs")
        else:
            # Slot by slot: one write slot, then one read slot (a slot = a pass or a vector);
            # a read slot only after its write slot (the hardware's token counter).
            per_vector = sync == Sync.VECTOR
            w_done = r_done = False
            w_slots = r_slots = 0
            while True:
                progressed = False
                if not w_done:
                    try:
                        while True:
                            last = do_write()
                            progressed = True
                            if per_vector or last:
                                w_slots += 1
                                break
                    except (StopIteration, _Starved):
                        w_done = True
                if not r_done and r_slots < w_slots:
                    try:
                        while True:
                            last = do_read()
                            progressed = True
                            if per_vector or last:
                                r_slots += 1
                                break
                    except (StopIteration, _Starved):
                        r_done = True
                if not progressed or len(reads) + len(waddrs) > 2 * max_vectors:
                    break
        out = np.array(reads, dtype=np.int64).reshape(-1, L)
        return ModelResult(out, perf, tokens, used, raddrs, waddrs)


class _Starved(Exception):
    pass
