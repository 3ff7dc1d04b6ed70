"""Access-pattern library: PMU programs (:class:`tiles.pmu_asm.Program`) for the kernels.

Every function takes the PMU's parameters and the lane count L first, validates what it is asked
for (raising :class:`tiles.pmu_asm.PMUProgramError` naming the argument and what is allowed) and
returns a program whose ``doc`` states its stream formats and cycle cost. ``assemble`` them with
:func:`tiles.pmu_asm.assemble` / load them with :func:`tiles.pmu_asm.program_packets`;
:func:`tiles.pmu_asm.cost` gives the ideal cycle count.

Conventions: matrices are row-major with ``cols`` (the *pitch*) words per row; a vector is L
consecutive words of a row unless stated otherwise; "write stream" is ``vec_in[0]``, "read stream"
``vec_out[0]``. Unless noted, programs are conflict-free (one vector per cycle on each side).

=====================  ===========================================================================
function               use
=====================  ===========================================================================
tile_buffer            linear write then linear read (tile buffer), N-buffered if asked
linear_write           load words in order (e.g. a matrix read later in tiles)
matrix_tile_reads      2-D tiles of a stored matrix, row vectors (GEMM operand tiles);
                       tile_origins gives the scalar stream when the tile loop runs as passes
transpose              write rows, read columns (skewed banking: conflict-free transposes)
gather                 table in every bank (duplicate mode), L independent reads per cycle
fifo                   a deep FIFO between units (high-water mark as a performance counter)
nbuffer                N-buffered producer / consumer (double / triple buffering)
twiddles               FFT twiddle-factor reads for one radix-2 stage (duplicate mode)
bit_reverse            read a vector sequence in bit-reversed order (FFT input / output)
=====================  ===========================================================================
"""

from __future__ import annotations

from hw.util import log2_exact

from .pmu_asm import Pipe, PMUProgramError, Program

__all__ = ["tile_buffer", "linear_write", "tile_origins", "matrix_tile_reads", "transpose", "gather", "fifo", "nbuffer",
           "twiddles", "bit_reverse"]


def _multiple(name, v, of, what):
    if not isinstance(v, int) or v < 1 or v % of:
        raise PMUProgramError(f"pmu program: {name} = {v!r}: must be a positive multiple of "
                              f"{what} ({of})")


def _counters(params, needed, what):
    if needed > params.counters:
        raise PMUProgramError(f"pmu program: {what}: needs {needed} counters, this PMU has "
                              f"{params.counters} (params.counters)")


def tile_buffer(params, lanes, rows, cols, *, base=0, buffers=1, passes=1, reads=1):
    """A ``rows × cols`` tile written once and read ``reads`` times, row-major, per pass.

    Write stream: ``rows·cols/L`` vectors (row-major, L words each). Read stream: the same
    vectors, ``reads`` times over. ``buffers`` = 1 writes the whole tile then reads it; 2 or 3
    overlap the next pass's writes with this pass's reads (N-buffering). Cycles per pass:
    ``V`` to write, ``reads·V`` to read (``V = rows·cols/L``); the total is
    ``passes·(1 + reads)·V`` with N = 1 and about ``(passes·max(1, reads) + 1)·V`` with N >= 2.
    """
    _multiple("cols", cols, lanes, "the lane count")
    v = rows * cols // lanes
    rd = [(v, lanes)] + ([(reads, 0)] if reads > 1 else [])
    _counters(params, len(rd), f"tile_buffer with reads = {reads}")
    return Program(
        mode="strided", buffers=buffers, region=rows * cols if buffers else None,
        write=Pipe(counters=((v, lanes),), base=base, passes=passes),
        read=Pipe(counters=tuple(rd), base=base, passes=passes),
        name=f"tile_buffer {rows}x{cols}", doc=tile_buffer.__doc__)


def linear_write(params, lanes, words, *, base=0):
    """Load ``words`` words in order (``words/L`` vectors) at ``base``: the write half of a
    tile buffer, e.g. a matrix that later runs read in tiles. Cycles: ``words/L``."""
    _multiple("words", words, lanes, "the lane count")
    return Program(mode="strided", write=Pipe(counters=((words // lanes, lanes),), base=base),
                   name=f"linear write {words}", doc=linear_write.__doc__)


def tile_origins(rows, cols, tile_rows, tile_cols, *, base=0):
    """Word address of each tile's first element, in the order :func:`matrix_tile_reads`
    visits the tiles (the scalar stream that drives it when the tile loop runs as passes)."""
    return [base + ti * tile_rows * cols + tj * tile_cols
            for ti in range(rows // tile_rows) for tj in range(cols // tile_cols)]


def matrix_tile_reads(params, lanes, rows, cols, tile_rows, tile_cols, *, base=0,
                      origins_port=None):
    """Read a stored ``rows × cols`` matrix (row-major at ``base``) as ``tile_rows × tile_cols``
    tiles (GEMM operand tiles): tile (0, 0), (0, 1), … along a row of tiles, then the next row
    of tiles; inside a tile, row by row, L words per vector.

    Read stream: for each tile, ``tile_rows·tile_cols/L`` vectors. The tile loop uses counters
    when the PMU has enough (up to 4 loop levels; levels of count 1 are dropped); otherwise pass
    ``origins_port``: each tile is then one pass whose origin is popped from
    ``scal_in[origins_port]`` (send :func:`tile_origins`). Cycles: ``rows·cols/L``, no conflicts
    (``tile_cols`` a multiple of L). The matrix is loaded by an earlier run
    (:func:`linear_write`) or by another unit.
    """
    _multiple("cols", cols, lanes, "the lane count")
    _multiple("tile_cols", tile_cols, lanes, "the lane count")
    if cols % tile_cols:
        raise PMUProgramError(f"pmu program: tile_cols = {tile_cols}: must divide cols ({cols})")
    if rows % tile_rows:
        raise PMUProgramError(f"pmu program: tile_rows = {tile_rows}: must divide rows ({rows})")
    inner = [c for c in [(tile_cols // lanes, lanes), (tile_rows, cols)] if c[0] > 1] or [(1, 0)]
    outer = [c for c in [(cols // tile_cols, tile_cols), (rows // tile_rows, tile_rows * cols)]
             if c[0] > 1]
    name = f"matrix tiles {tile_rows}x{tile_cols} of {rows}x{cols}"
    if len(inner) + len(outer) <= params.counters:
        read = Pipe(counters=tuple(inner + outer), base=base)
    elif origins_port is not None:
        _counters(params, len(inner), name)
        n = (rows // tile_rows) * (cols // tile_cols)
        read = Pipe(counters=tuple(inner), base=0, base_scalar=origins_port, passes=n)
    else:
        raise PMUProgramError(f"pmu program: {name}: needs {len(inner) + len(outer)} counters, "
                              f"this PMU has {params.counters} (params.counters); give "
                              f"origins_port to take each tile's origin from a scalar input")
    return Program(mode="strided", read=read, name=name, doc=matrix_tile_reads.__doc__)


def transpose(params, lanes, rows, cols, *, base=0, buffers=1, passes=1):
    """Write a ``rows × cols`` matrix row by row, read it column by column (the transpose),
    conflict-free in skewed mode (element (r, c) in bank (c + r) mod B).

    Write stream: ``rows·cols/L`` vectors, row-major (vector = L consecutive words of a row).
    Read stream: for each column c, for each block of L rows: one vector
    ``[M[r0][c], M[r0+1][c], …, M[r0+L-1][c]]`` — i.e. the transpose, row-major, when
    ``rows = L`` — ``rows·cols/L`` vectors. ``cols`` must be a power of two >= B (the row pitch
    sets the skew) and ``rows`` a multiple of L. Cycles: ``rows·cols/L`` per side, no conflicts
    (strided banking would serialise every column read on one bank: L cycles per vector).
    """
    p = log2_exact(cols, "pmu program: cols", PMUProgramError)
    if cols < params.banks:
        raise PMUProgramError(f"pmu program: cols = {cols}: must be >= banks ({params.banks}) "
                              f"for skewed banking")
    _multiple("rows", rows, lanes, "the lane count")
    if cols % lanes:
        raise PMUProgramError(f"pmu program: cols = {cols}: must be a multiple of lanes ({lanes})")
    rd = [(cols, 1)] + ([(rows // lanes, lanes * cols)] if rows > lanes else [])
    _counters(params, len(rd), f"transpose of {rows}x{cols}")
    return Program(
        mode="skewed", skew_shift=p, buffers=buffers, region=rows * cols if buffers else None,
        write=Pipe(counters=((rows * cols // lanes, lanes),), base=base, passes=passes),
        read=Pipe(counters=tuple(rd), base=base, lane_stride=cols, passes=passes),
        name=f"transpose {rows}x{cols}", doc=transpose.__doc__)


def gather(params, lanes, table_words, n_vectors, *, addr_port=1, base=0):
    """A table of ``table_words`` words copied into every bank (duplicate mode), then
    ``n_vectors`` gathers: lane i of each read vector is ``table[a_i]`` where ``a`` is the next
    address vector on ``vec_in[addr_port]`` (addresses relative to ``base``; an address at or
    past the end of a bank, ``base + a_i >= words_per_bank``, reads 0 and is counted in the
    ``oob`` counter; one inside the bank but past the table reads whatever the bank holds).

    Write stream: ``table_words/L`` vectors (table order). Address stream:
    ``n_vectors`` vectors of L word addresses. Read stream: ``n_vectors`` vectors. Cycles: the
    table load costs L cycles per vector (each word is broadcast to every bank); gathers run at
    one vector per cycle (each lane reads its own copy).
    """
    _multiple("table_words", table_words, lanes, "the lane count")
    if base + table_words > params.words_per_bank:
        raise PMUProgramError(f"pmu program: table_words = {table_words}: a duplicated table "
                              f"holds at most {params.words_per_bank - base} words from base "
                              f"{base} (words_per_bank)")
    if addr_port == 0 or addr_port >= params.vec_in:
        raise PMUProgramError(f"pmu program: addr_port = {addr_port}: must be a vec_in port in "
                              f"1..{params.vec_in - 1} (vec_in[0] carries the table)")
    return Program(
        mode="duplicate", buffers=1,
        write=Pipe(counters=((table_words // lanes, lanes),), base=base),
        read=Pipe(counters=((n_vectors, 0),), base=base, lane_stride=0, addr_vector=addr_port),
        region=params.words_per_bank - base,
        name=f"gather from {table_words} words", doc=gather.__doc__)


def fifo(params, lanes, depth, length=0, *, base=0):
    """A FIFO of ``depth`` vectors between two units (e.g. the naive-SDPA score-row buffer): the
    write stream comes out of the read stream in order; writes stall when ``depth`` vectors are
    held, reads when none is. ``length`` vectors per run (0 = run forever).

    Streams: vectors in = vectors out, unchanged. Cycles: one vector per cycle each side; a
    vector is readable 2 cycles after it is written. The ``high_water`` performance counter
    reports the most words held at once ("buffer high-water in words").
    """
    return Program(mode="fifo", fifo_depth=depth, fifo_length=length, fifo_base=base,
                   write=Pipe(), read=Pipe(), name=f"fifo {depth}", doc=fifo.__doc__)


def nbuffer(params, lanes, words, buffers, passes, *, reads=1, base=0, write_done_out=None,
            read_done_out=None):
    """N-buffered producer / consumer: the producer writes ``words`` words (``words/L`` vectors)
    per pass into buffer ``q mod N``, the consumer reads each buffer ``reads`` times, for
    ``passes`` passes. With N = 1 each pass is written, then read (sequential); with N = 2 or 3
    the producer fills the next buffer while the consumer reads this one.

    Streams: write ``passes·words/L`` vectors; read ``passes·reads·words/L`` vectors (pass by
    pass, in write order). Tokens (optional): one on ``ctrl_out[write_done_out]`` per filled
    buffer, one on ``ctrl_out[read_done_out]`` per consumed buffer (payload 1 on the last).
    Cycles: N = 1: ``passes·(1 + reads)·V``; N >= 2: about ``(passes·max(1, reads) + 1)·V``.
    """
    _multiple("words", words, lanes, "the lane count")
    v = words // lanes
    rd = [(v, lanes)] + ([(reads, 0)] if reads > 1 else [])
    _counters(params, len(rd), f"nbuffer with reads = {reads}")
    return Program(
        mode="strided", buffers=buffers, region=words,
        write=Pipe(counters=((v, lanes),), base=base, passes=passes),
        read=Pipe(counters=tuple(rd), base=base, passes=passes),
        write_done_out=write_done_out, read_done_out=read_done_out,
        name=f"nbuffer N={buffers}", doc=nbuffer.__doc__)


def twiddles(params, lanes, n, stage, *, base=0, load=True):
    """Twiddle factors of radix-2 FFT stage ``stage`` (butterfly span ``h = 2**stage``) for an
    ``n``-point transform, from a table ``T[k] = W_n**k`` (``k < n/2``) held in duplicate mode.

    Write stream (``load``): the table, ``n/(2L)`` vectors. Read stream: ``n/(2L)`` vectors; lane
    i of vector t is ``T[((t·L + i) mod h) · n/(2h)]`` — the twiddle of butterfly ``e = t·L + i``
    of the stage (butterflies numbered within their groups, groups consecutive). Cycles: the
    table load L cycles per vector (once), reads one vector per cycle (any stride: each lane has
    its own copy).
    """
    log2_exact(n, "pmu program: n", PMUProgramError)
    if not 0 <= stage < n.bit_length() - 1:
        raise PMUProgramError(f"pmu program: stage = {stage!r}: must be in "
                              f"0..{n.bit_length() - 2} for n = {n}")
    half = n // 2
    if base + half > params.words_per_bank:
        raise PMUProgramError(f"pmu program: n = {n}: the {half}-word twiddle table must fit one "
                              f"bank ({params.words_per_bank - base} words from base {base})")
    _multiple("n / 2", half, lanes, "the lane count")
    h = 1 << stage
    s = n // (2 * h)
    return Program(
        mode="duplicate", buffers=1 if load else 0,
        write=Pipe(counters=((half // lanes, lanes),), base=base) if load else None,
        read=Pipe(counters=((half // lanes, lanes * s),), lane_stride=s, base=base,
                  wrap=half.bit_length() - 1),
        region=params.words_per_bank - base if load else None,
        name=f"twiddles n={n} stage {stage}", doc=twiddles.__doc__)


def bit_reverse(params, lanes, n, *, base=0, write=True):
    """Write ``n`` words in order, read them in bit-reversed order: lane i of read vector t is
    ``x[bitrev(t·L + i)]`` (``log2 n`` bits) — the input order of a decimation-in-time FFT.

    Skewed banking with rows of ``n/L`` words makes both sides conflict-free: lane i of a read
    vector is in row ``bitrev(i)``, all at one column. Write stream: ``n/L`` vectors in order;
    read stream: ``n/L`` vectors. Needs ``n/L >= banks``. Cycles: ``n/L`` per side.
    """
    m = log2_exact(n, "pmu program: n", PMUProgramError)
    lb = log2_exact(lanes, "pmu program: lanes", PMUProgramError)
    pitch = n // lanes
    if pitch < params.banks:
        raise PMUProgramError(f"pmu program: n = {n}: must be >= lanes·banks "
                              f"({lanes * params.banks}) for a conflict-free bit reversal")
    return Program(
        mode="skewed", skew_shift=m - lb, buffers=1 if write else 0,
        write=Pipe(counters=((pitch, lanes),), base=base) if write else None,
        read=Pipe(counters=((pitch, 1),), bitrev=m - lb, lane_stride=pitch, lane_bitrev=True,
                  base=base),
        name=f"bit_reverse {n}", doc=bit_reverse.__doc__)
