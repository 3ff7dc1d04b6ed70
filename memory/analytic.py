"""Analytic model of the memory system: bandwidth and latency per access pattern.

Reads the same :class:`~hw.params.DRAMParams` as the RTL and mirrors its policies (address map,
open-page FR-FCFS with a ``queue_depth`` window, refresh modes), but computes in closed form from
pattern statistics, so it answers in milliseconds for sizes the RTL cannot simulate (real row
counts: ``rows=``; gigabytes of traffic: statistics come from a window of the pattern and are
scaled). ``scripts/bench_memory.py`` cross-checks it against RTL measurements and reports the error.

Model, per channel ``c`` of the pattern's address stream (requests in arrival order):

* **bus**: ``n_c · burst_length`` cycles (one beat per cycle);
* **banks**: an activation serving ``k`` row hits occupies its bank for
  ``occ = tRCD + max((k-1)·BL + t_end, tRAS - tRCD) + tRP`` (``t_end`` = ``BL`` for reads,
  ``tCL + BL + tWR`` for writes); no bank can do more than ``Σ occ`` of its activations.
  *Regular* patterns (sequential, strided): the next banks' PRE/ACT overlap current transfers as
  far as FR-FCFS sees — ``P`` = mean distinct banks in a window of ``queue_depth`` requests — and a
  bank's tail overlaps later banks, so bank time is ``Σ (tRP + tRCD + k·BL) / P``. *Random*
  patterns: requests to busy banks pile up; ``P`` = busy banks of a closed queueing network of
  ``N = queue_depth`` requests over the banks (mean-value analysis, deterministic service), bank
  time ``Σ occ / P``. *In-order*: one request at a time, ``Σ (tRP + tRCD + k·BL)``;
* **commands**: one per cycle: ``n_c`` column commands plus a PRE and an ACT per activation;
* **channel time** ``T_c = max(bus, bank time, commands)``, then refresh: all-bank multiplies by
  ``tREFI / (tREFI - tRFC - tRP - tRCD)``; per-bank adds ``max(0, tRFCpb - 2·cols·BL)`` per ``tREFI``
  for streams (the controller refreshes idle banks at the interval start and the stream reaches
  one of them two banks later) and scales bank-limited time by ``tREFI / (tREFI - tRFCpb)``;
* **concurrency** (Little's law): at most ``N = min(requesters · outstanding,
  channels · (queue_depth + response buffer))`` requests in flight, each taking at least the
  unloaded latency ``L0`` → rate ≤ ``N / L0``; each requester issues ≤ 1 request per cycle;
* total cycles = ``max(max_c T_c, n·L0/N, n/requesters) + L0``.

Row hits are counted per bank in arrival order (FR-FCFS may do a little better on interleaved
streams by grouping hits inside its window; the model ignores that).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["Pattern", "Estimate", "addresses", "estimate", "estimate_copy", "estimate_agcu",
           "unloaded_latency"]

#: Cycles the request queue adds to the DRAM's own timing (RTL: a request is scheduled the cycle
#: after its handshake; see the latencies in memory.dram).
OVERHEAD = 1


@dataclasses.dataclass(frozen=True)
class Pattern:
    """An access pattern over access indices (units of ``access_bytes``).

    ``kind``: ``sequential`` / ``strided`` / ``random``; ``stride``: accesses between consecutive
    requests of the collective stream (strided); ``span``: window size in accesses (addresses wrap;
    random addresses are uniform in it; default the whole memory); ``write_frac``: fraction of
    writes; ``requesters`` × ``outstanding``: concurrency; ``base``: first access.
    """

    kind: str = "sequential"
    stride: int = 1
    span: int | None = None
    write_frac: float = 0.0
    requesters: int = 1
    outstanding: int = 32
    base: int = 0
    seed: int = 1

    def __post_init__(self):
        if self.kind not in ("sequential", "strided", "random"):
            raise ValueError(f"Pattern kind = {self.kind!r}: must be sequential, strided or random")
        if not 0.0 <= self.write_frac <= 1.0:
            raise ValueError(f"Pattern write_frac = {self.write_frac}: must be in [0, 1]")
        if self.requesters < 1 or self.outstanding < 1:
            raise ValueError("Pattern requesters and outstanding must be >= 1")


@dataclasses.dataclass
class Estimate:
    cycles: float
    bytes: int
    requests: int
    bytes_per_cycle: float
    fraction_of_peak: float
    latency: float            # mean read latency (cycles), loaded
    unloaded_latency: float
    row_hit_rate: float
    bound: str                # what limits: "bus", "banks", "concurrency", "requesters"
    gbps: float

    def as_dict(self):
        return dataclasses.asdict(self)


def _decode(params, acc, rows):
    C, B, cols = params.channels, params.banks, params.cols
    ch = acc % C
    la = acc // C
    col = la % cols
    bank = (la // cols) % B
    row = (la // (cols * B)) % rows
    return ch, bank, row, col


def addresses(params, pattern, n, rows=None):
    """The first ``n`` access indices of the collective stream (numpy int64)."""
    rows = rows or params.rows
    cap = params.channels * params.banks * rows * params.cols
    span = pattern.span or cap
    i = np.arange(n, dtype=np.int64)
    if pattern.kind == "sequential":
        off = i % span
    elif pattern.kind == "strided":
        off = (i * pattern.stride) % span
    else:
        off = np.random.default_rng(pattern.seed).integers(0, span, n)
    return (pattern.base + off) % cap


def _distinct_in_windows(seq, q, max_windows=4096):
    """Mean number of distinct values in sliding windows of ``q`` consecutive items."""
    n = len(seq)
    if n == 0:
        return 1.0
    if n <= q:
        return float(len(np.unique(seq)))
    starts = np.arange(n - q + 1)
    if starts.size > max_windows:       # random positions: a regular grid could alias with rows
        starts = np.random.default_rng(0).choice(starts, max_windows, replace=False)
    win = seq[starts[:, None] + np.arange(q)[None, :]]
    win = np.sort(win, axis=1)
    return float(1 + (np.diff(win, axis=1) != 0).sum(axis=1).mean())


def _mva_parallelism(banks, occupancy, n):
    """Busy banks (throughput × occupancy) of a closed network: ``n`` requests, each visiting one
    of ``banks`` uniformly and holding it for a deterministic ``occupancy`` (mean-value analysis
    with the residual-service correction: a request found in service has half its time left)."""
    if banks <= 1:
        return 1.0
    q = u = 0.0
    x = 0.0
    for k in range(1, n + 1):
        r = occupancy * (1.0 + q - u / 2.0)
        x = k / r
        q = x * r / banks
        u = x * occupancy / banks
    return x * occupancy


def unloaded_latency(params, hit_rate=0.0, conflict_rate=None):
    """Mean read latency (cycles, request handshake to response) of an isolated request."""
    miss = 1.0 - hit_rate
    conflict = miss if conflict_rate is None else conflict_rate
    return OVERHEAD + params.tCL + params.burst_length + miss * params.tRCD + conflict * params.tRP


def estimate(params, pattern, n, rows=None, window=1 << 16, policy=None):
    """Estimate moving ``n`` requests of ``pattern`` through a DRAM with ``params``.

    ``rows``: model a deeper memory than the simulated one (real device row count);
    ``window``: requests analysed (statistics are scaled to ``n``); ``policy``: ``"in-order"``
    serialises each request's row commands (no bank overlap) instead of FR-FCFS.
    """
    p = params
    rows = rows or p.rows
    policy = policy or p.policy
    m = int(min(n, window))
    acc = addresses(p, pattern, m, rows)
    ch, bank, row, _ = _decode(p, acc, rows)
    BL = p.burst_length
    w = pattern.write_frac
    scale = n / m
    resp_depth = max(2, -(-(p.tCL + BL) // BL) + 2)
    in_flight_total = min(pattern.requesters * pattern.outstanding,
                          p.channels * (p.queue_depth + resp_depth))
    t_channels = []
    hits_total = 0
    bank_limited = False
    for c in range(p.channels):
        sel = ch == c
        n_c = int(sel.sum())
        if n_c == 0:
            continue
        b = bank[sel]
        r = row[sel]
        order = np.argsort(b, kind="stable")
        bb, rr = b[order], r[order]
        new = np.ones(n_c, bool)
        new[1:] = (bb[1:] != bb[:-1]) | (rr[1:] != rr[:-1])
        acts = int(new.sum())
        hits_total += n_c - acts
        run_id = np.cumsum(new) - 1
        k = np.bincount(run_id)                          # hits + 1 per activation
        # expectation over the type of the activation's last request (it sets the PRE time)
        occ = p.tRCD + p.tRP + (1 - w) * np.maximum(k * BL, p.tRAS - p.tRCD) + \
            w * np.maximum((k - 1) * BL + p.tCL + BL + p.tWR, p.tRAS - p.tRCD)
        bank_of_run = bb[new]
        per_bank = np.bincount(bank_of_run, weights=occ, minlength=p.banks)
        lead = p.tRP + p.tRCD                             # PRE + ACT before the first CAS
        if policy == "in-order":
            # only the oldest request is served: its PRE, ACT and column commands run serially
            # (the next request's PRE may overlap the data of the previous one)
            t_bank = float((lead + k * BL).sum())
        elif pattern.kind == "random":
            # random banks: a bank is busy for the whole occupancy and requests to busy banks
            # pile up in the queue; parallelism from a closed network of N queued requests over
            # the B_c banks (mean-value analysis, deterministic service)
            b_used = int((per_bank > 0).sum())
            n_q = max(1, int(min(p.queue_depth, in_flight_total / p.channels)))
            par = min(_distinct_in_windows(b, p.queue_depth),
                      _mva_parallelism(b_used, float(occ.mean()), n_q))
            t_bank = max(float(per_bank.max()), float(occ.sum()) / par)
        else:
            # regular patterns: the next banks' activations overlap the current transfers as far
            # as the queue window reaches; a bank's tail (tRAS, write recovery) overlaps with later
            # banks, so only the lead and the column time count against the window's parallelism
            par = _distinct_in_windows(b, p.queue_depth)
            t_bank = max(float(per_bank.max()), float((lead + k * BL).sum()) / par)
        t_bus = n_c * BL
        t_cmd = n_c + 2 * acts            # one command per cycle: CAS, and PRE + ACT per activation
        t_bank = max(t_bank, t_cmd)
        t = max(t_bus, t_bank)
        limited_by_banks = t_bank > t_bus
        # refresh
        if p.tREFI:
            if p.refresh == "all-bank":
                t = t * p.tREFI / (p.tREFI - p.tRFC - p.tRP - p.tRCD)
            elif limited_by_banks:
                t = t * p.tREFI / (p.tREFI - p.tRFCpb)
            else:
                t = t + (t / p.tREFI) * max(0.0, p.tRFCpb - 2 * p.cols * BL)
        bank_limited |= limited_by_banks
        t_channels.append(t * scale)
    hit_rate = hits_total / m
    l0 = unloaded_latency(p, hit_rate)
    in_flight = min(pattern.requesters * pattern.outstanding,
                    p.channels * (p.queue_depth + resp_depth))
    t_dram = max(t_channels)
    t_conc = n * l0 / in_flight
    t_req = n / pattern.requesters
    t = max(t_dram, t_conc, t_req)
    bound = ("banks" if bank_limited else "bus") if t == t_dram else \
        ("concurrency" if t == t_conc else "requesters")
    cycles = t + l0
    nbytes = n * p.access_bytes
    bpc = nbytes / cycles
    # Little's law: when the DRAM is the bottleneck the in-flight requests queue up
    latency = l0 if bound == "concurrency" else max(l0, in_flight / (n / t))
    return Estimate(cycles=cycles, bytes=nbytes, requests=n, bytes_per_cycle=bpc,
                    fraction_of_peak=bpc / p.peak_bytes_per_cycle, latency=latency,
                    unloaded_latency=l0, row_hit_rate=hit_rate, bound=bound,
                    gbps=bpc * p.clock_mhz / 1000.0)


def estimate_copy(mem, nbytes, direction="ddr->hbm", outstanding=None, rows=None):
    """Estimate a DMA copy of ``nbytes`` (contiguous) between the tiers of ``mem``
    (:class:`~hw.params.MemoryParams`). Returns ``(cycles, details)``."""
    blk = mem.dma_block_bytes
    nblk = math.ceil(nbytes / blk)
    src, dst = (mem.ddr, mem.hbm) if direction == "ddr->hbm" else (mem.hbm, mem.ddr)
    slots = outstanding or mem.dma_outstanding
    n_rd = nblk * (blk // src.access_bytes)
    n_wr = nblk * (blk // dst.access_bytes)
    rd = estimate(src, Pattern("sequential", requesters=1,
                               outstanding=slots * (blk // src.access_bytes)), n_rd, rows=rows)
    wr = estimate(dst, Pattern("sequential", write_frac=1.0, requesters=1,
                               outstanding=1 << 30), n_wr, rows=rows)
    cycles = max(rd.cycles, wr.cycles, n_rd, n_wr) + wr.unloaded_latency
    return cycles, {"read": rd.as_dict(), "write": wr.as_dict(), "blocks": nblk}


def estimate_agcu(dram, lanes, outstanding, burst, hit_rate=None):
    """Vectors per cycle of an AGCU streaming a contiguous load (its output always accepted).

    A reorder-buffer slot is held from request issue (1 cycle in the request register) through
    the DRAM latency until its ``burst`` vectors have left (``burst`` cycles + 2 pipeline
    stages), so by Little's law the rate is ``outstanding · burst / hold``, at most one vector per
    cycle. ``hit_rate`` defaults to a sequential stream's (``1 - 1/cols`` accesses per row).
    """
    if hit_rate is None:
        hit_rate = 1.0 - 1.0 / dram.cols
    hold = 1 + unloaded_latency(dram, hit_rate) + burst + 2
    return min(1.0, outstanding * burst / hold)
