"""Free-running stream simulations: HDL-side source/sink (``tb.harness``), Python wakes rarely.

:func:`run` builds (cached) a :class:`~tb.harness.StreamHarness` design under Verilator, writes the
input words to the source memory's hex file, and runs the cocotb module ``tb.cocotb_freerun``,
which pulses ``load``/``start``, waits for ``done`` (or the harness watchdog's ``stalled``), pulses
``dump`` and reports cycles and wall time. Returns the output words and the measurements.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

from hw.backdoor import VERILOG_SOURCE, read_hex, write_hex
from tb import runner

__all__ = ["FreeRunResult", "design_for", "run"]


@dataclasses.dataclass
class FreeRunResult:
    outputs: list
    cycles: int
    wall_s: float
    seed: int
    #: CPU seconds of the simulator process over the same span as ``wall_s`` (the measure to
    #: compare on a shared machine)
    cpu_s: float = 0.0

    @property
    def cycles_per_s(self):
        return self.cycles / self.wall_s if self.wall_s else float("inf")

    @property
    def cycles_per_cpu_s(self):
        return self.cycles / self.cpu_s if self.cpu_s else float("inf")


def design_for(harness, top, arith=None):
    """The Verilator :class:`~tb.runner.Design` of a harness (adds the backdoor memory source);
    ``arith``: the arithmetic mode (:func:`tb.runner.arith_mode`)."""
    return runner.Design.from_component(harness, top, sources=(VERILOG_SOURCE,), arith=arith)


def run(design, harness, words, n_out, *, seed=None, pause_src=0, pause_sink=0, passthrough=None,
        repeat=1, timeout_cycles=None):
    """Run ``harness`` (already converted to ``design``) on ``words``; collect ``n_out`` outputs.

    ``pause_src`` / ``pause_sink``: pause probabilities in 1/256. ``passthrough``: values for the
    harness's passthrough ports. ``repeat``: run the same data ``repeat`` times in one simulator
    process (the reported wall time and cycles are for the last run, so the Verilator start-up is
    not counted). ``timeout_cycles``: a cocotb-level watchdog on top of the harness's own.
    """
    if len(words) > harness.depth_in:
        raise ValueError(f"freerun: {len(words)} input words exceed the source memory "
                         f"({harness.depth_in} words)")
    if n_out > harness.depth_out:
        raise ValueError(f"freerun: {n_out} outputs exceed the sink memory ({harness.depth_out} words)")
    with tempfile.TemporaryDirectory(prefix="rdu-freerun-") as tmp:
        tmp = Path(tmp)
        write_hex(tmp / "src.hex", words, harness.in_width, harness.depth_in)
        cfg = {"n_in": len(words), "n_out": n_out, "pause_src": pause_src,
               "pause_sink": pause_sink, "passthrough": passthrough or {}, "repeat": repeat,
               "timeout_cycles": timeout_cycles or max(100_000, 64 * (len(words) + n_out))}
        (tmp / "freerun.json").write_text(json.dumps(cfg))
        seed, _ = runner.simulate(design, "tb.cocotb_freerun", seed=seed,
                                  plusargs=[f"+rdu_mem_dir={tmp}"],
                                  env={"RDU_FREERUN_DIR": str(tmp)}, test_dir=tmp / "sim")
        res = json.loads((tmp / "result.json").read_text())
        out = read_hex(tmp / "snk.out.hex")[:n_out]
    return FreeRunResult(out, res["cycles"], res["wall_s"], seed, res.get("cpu_s", 0.0))
