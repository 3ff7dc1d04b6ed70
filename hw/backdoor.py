"""A memory whose whole contents the testbench loads and dumps in bulk.

Under Verilator it is the Verilog module ``hw/verilog/rdu_backdoor_mem.v`` (``$readmemh`` /
``$writememh`` on a one-cycle ``load`` / ``dump`` pulse, files ``<dir>/<name>.hex`` and
``<dir>/<name>.out.hex`` with ``<dir>`` from the ``+rdu_mem_dir=`` plusarg). Under the Amaranth
simulator (``backend="amaranth"``) it is an ``amaranth.lib.memory.Memory`` preloaded with ``init``
(``load``/``dump`` are ignored; read the contents through the simulator).

Ports: synchronous read (``raddr`` → ``rdata`` one cycle later), write (``we``/``waddr``/``wdata``),
``load``, ``dump``. Latency 1 cycle, one read and one write per cycle.
"""

from __future__ import annotations

from pathlib import Path

from amaranth import ClockSignal, Instance, Module, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["BackdoorMemory", "VERILOG_SOURCE", "write_hex", "read_hex"]

#: The Verilog source that must be compiled with any design using the Verilator backend.
VERILOG_SOURCE = Path(__file__).parent / "verilog" / "rdu_backdoor_mem.v"


class BackdoorMemory(wiring.Component):
    """``depth`` words of ``width`` bits; ``name`` names its hex files (unique per design)."""

    def __init__(self, width, depth, name, backend="verilator", init=()):
        if backend not in ("verilator", "amaranth"):
            raise ValueError(f"BackdoorMemory: backend = {backend!r}: must be 'verilator' or 'amaranth'")
        if depth < 2:
            raise ValueError(f"BackdoorMemory: depth = {depth}: must be >= 2")
        self.width = width
        self.depth = depth
        self.abits = (depth - 1).bit_length()
        self.name = name
        self.backend = backend
        self.init = list(init)
        super().__init__({
            "raddr": In(unsigned(self.abits)),
            "rdata": Out(unsigned(width)),
            "we": In(1),
            "waddr": In(unsigned(self.abits)),
            "wdata": In(unsigned(width)),
            "load": In(1),
            "dump": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        if self.backend == "verilator":
            m.submodules.mem = Instance(
                "rdu_backdoor_mem",
                p_WIDTH=self.width, p_DEPTH=self.depth, p_ABITS=self.abits, p_NAME=self.name,
                i_clk=ClockSignal(),
                i_raddr=self.raddr, o_rdata=self.rdata,
                i_we=self.we, i_waddr=self.waddr, i_wdata=self.wdata,
                i_load=self.load, i_dump=self.dump)
        else:
            m.submodules.mem = mem = memory.Memory(shape=unsigned(self.width), depth=self.depth,
                                                   init=self.init)
            rd = mem.read_port()
            wr = mem.write_port()
            m.d.comb += [rd.addr.eq(self.raddr), self.rdata.eq(rd.data),
                         wr.addr.eq(self.waddr), wr.data.eq(self.wdata), wr.en.eq(self.we)]
        return m


def write_hex(path, words, width, depth=None):
    """Write ``words`` (ints) as a ``$readmemh`` file; pad with zeros up to ``depth``."""
    digits = -(-width // 4)
    mask = (1 << width) - 1
    words = [int(w) & mask for w in words]
    if depth is not None:
        if len(words) > depth:
            raise ValueError(f"write_hex: {len(words)} words do not fit depth {depth}")
        words = words + [0] * (depth - len(words))
    Path(path).write_text("".join(f"{w:0{digits}x}\n" for w in words))


def read_hex(path):
    """Read a ``$writememh`` file (comments and ``@addr`` lines handled) into a list of ints."""
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.split("//")[0].strip()
        if not line:
            continue
        for tok in line.split():
            if tok.startswith("@"):
                addr = int(tok[1:], 16)
                out.extend([0] * (addr - len(out)))
                continue
            out.append(int(tok.replace("x", "0").replace("X", "0").replace("z", "0"), 16))
    return out
