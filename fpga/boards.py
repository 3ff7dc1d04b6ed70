"""Board tops for open FPGA boards (amaranth-boards): clock, UART pins, LEDs around a
:class:`fpga.top.SystemTop` (host bridge + design + on-chip memory standing in for HBM).

=============  ===============  ======  =========================================================
board          device           preset  clock, UART, LEDs
=============  ===============  ======  =========================================================
``ulx3s``      ECP5-85F         fpga    25 MHz oscillator → EHXPLLL → the preset's clock_mhz
               (CABGA381, -6)           (50 MHz); UART = the FTDI USB port; LEDs 0-3
``orangecrab`` ECP5-25F         fpga    48 MHz oscillator used directly (no PLL: 50 MHz is not
               (csfBGA285, -8)          reachable from 48 within the PFD limits); UART on the
                                        Feather header pins 0 (RX into the FPGA) and 1 (TX) for
                                        a 3.3 V USB-serial adapter (the board's USB port has no
                                        UART bridge); RGB LED (green activity, red error, blue
                                        done)
``icebreaker`` iCE40UP5K        tiny    12 MHz oscillator → SB_PLL40_PAD → 24 MHz (the
               (SG48)                   preset's clock_mhz); UART = the FTDI's second channel;
                                        LEDs red (activity), green (error); one smoke unit
                                        (two fill 93% of the logic cells and miss 24 MHz)
=============  ===============  ======  =========================================================

LEDs (ULX3S order): activity, protocol error, busy, done.

The PLL parameters are computed here (:func:`ecp5_pll`, :func:`ice40_pll`: the searches of
``ecppll`` / ``icepll``, VCO and PFD limits from the Lattice data sheets); the achieved frequency
is what the clock constraint and the bridge's baud divisor use. A ``--freq`` equal to the
oscillator skips the PLL.

The design under control (:func:`design_under_control`, ``--design``; each board has a default,
:attr:`Board.design`) is one of:

* ``kernel`` (the ULX3S default) — :class:`fpga.fabric_duc.KernelSystem`: the preset's fabric with
  real AGCUs on the on-chip memory, which runs the kernel compiler's jobs
  (``rdu fpga run gemm|scan|...``);
* ``smoke`` (the OrangeCrab and iCEBreaker default) — :class:`fpga.smoke.SmokeSystem`: the
  preset's lane count, one MAC unit per PCU of the grid (``rdu fpga run gemm|conv1d``);
* ``fabric`` — :class:`fpga.fabric_duc.FabricSystem`: the fabric generator's PCUs, PMUs and
  switches for the preset, with an AGCU stand-in on each edge slot;
* ``fabric-test`` — the same with :class:`tb.testunit.TestUnit` in every unit site
  (``rdu fpga run traffic``).
"""

from __future__ import annotations

import dataclasses
import importlib

from amaranth import ClockDomain, Elaboratable, Instance, Module, Signal
from amaranth.build import Attrs
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from fpga.bridge import BridgeParams
from fpga.fabric_duc import FabricSystem, KernelSystem, board_params
from fpga.smoke import SmokeSystem
from fpga.top import SystemTop
from hw.smoke import MacParams
from tb.testunit import test_factory

__all__ = ["Board", "BOARDS", "BoardTop", "board", "ecp5_global_buffer", "ecp5_pll", "ice40_pll",
           "design_under_control", "PllError", "DESIGNS"]


class PllError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Board:
    name: str
    family: str            # "ecp5" | "ice40"
    platform: str          # amaranth_boards module:class
    device: str
    preset: str
    clk_resource: str
    clk_in_mhz: float
    mem_words: int         # on-chip memory standing in for HBM
    max_payload: int = 1024
    baud: int = 1_000_000
    resources: dict = dataclasses.field(default_factory=dict)   # LUT/FF/BRAM/DSP available
    notes: str = ""
    default_mhz: float | None = None   # clock when --freq is not given (None: the preset's)
    max_units: int = 16                # smoke units at most (the iCE40 fits one)
    design: str = "smoke"              # what --design defaults to (see design_under_control)

    def make_platform(self):
        mod, cls = self.platform.split(":")
        platform = getattr(importlib.import_module(mod), cls)()
        if self.family == "ecp5":
            # the fabric's reset onto the clock network (interconnect.fabric.global_net);
            # nextpnr-ice40 promotes resets and enables to its global nets by itself
            platform.global_buffer = ecp5_global_buffer
        return platform


BOARDS = {
    "ulx3s": Board("ulx3s", "ecp5", "amaranth_boards.ulx3s:ULX3S_85F_Platform", "LFE5U-85F",
                   "fpga", "clk25", 25.0, mem_words=32768,
                   resources={"LUT": 83640, "FF": 83640, "BRAM": 208, "DSP": 156},
                   notes="UART over the FTDI USB port; the fpga preset's fabric with real AGCUs "
                         "(routes: 50.26 MHz, ~21 min build; --design smoke: 1 min)",
                   design="kernel"),
    "orangecrab": Board("orangecrab", "ecp5", "amaranth_boards.orangecrab_r0_2:"
                        "OrangeCrabR0_2_25FPlatform", "LFE5U-25F", "fpga", "clk", 48.0,
                        mem_words=8192,
                        resources={"LUT": 24288, "FF": 24288, "BRAM": 56, "DSP": 28},
                        notes="UART on Feather pins 0 (RX) / 1 (TX): attach a 3.3 V USB-serial "
                              "adapter", default_mhz=48.0),
    "icebreaker": Board("icebreaker", "ice40", "amaranth_boards.icebreaker:ICEBreakerPlatform",
                        "iCE40UP5K", "tiny", "clk12", 12.0, mem_words=2048, max_payload=512,
                        resources={"LUT": 5280, "FF": 5280, "BRAM": 30, "DSP": 8},
                        notes="UART over the FTDI's second channel; trimmed to one smoke unit",
                        max_units=1),
}


def board(name):
    if name not in BOARDS:
        raise ValueError(f"--board {name!r}: unknown board; allowed: {', '.join(BOARDS)}")
    return BOARDS[name]


# ------------------------------------------------------------------------------------------
# PLLs
# ------------------------------------------------------------------------------------------

def ecp5_global_buffer(m, sig, name):
    """``sig`` through an ECP5 ``DCCA`` (a clock-network buffer, enable tied high): the loads
    are reached over the global network instead of a tree of general wires over the whole
    die."""
    out = Signal(name=f"{name}_g")
    m.submodules[f"{name}_dcca"] = Instance("DCCA", i_CLKI=sig, i_CE=1, o_CLKO=out)
    return out


def ecp5_pll(f_in, f_out):
    """EHXPLLL dividers for ``f_out`` MHz from ``f_in`` MHz (feedback from CLKOP): returns
    ``(clki_div, clkfb_div, clkop_div, achieved_mhz, vco_mhz)``. Limits: PFD 3.125–400 MHz,
    VCO 400–800 MHz (nearest 600 preferred), output 3.125–400 MHz (ECP5 data sheet; the search
    of ``ecppll``)."""
    if not 3.125 <= f_out <= 400:
        raise PllError(f"ECP5 PLL: output {f_out} MHz: must be in 3.125..400 MHz")
    best = None
    for ref in range(1, 129):
        pfd = f_in / ref
        if not 3.125 <= pfd <= 400:
            continue
        for fb in range(1, 81):
            fout = pfd * fb
            if not 3.125 <= fout <= 400:
                continue
            for od in range(1, 129):
                vco = fout * od
                if not 400 <= vco <= 800:
                    continue
                key = (round(abs(fout - f_out), 9), abs(vco - 600))   # ecppll: VCO near 600
                if best is None or key < best[0]:
                    best = (key, ref, fb, od, fout, vco)
    if best is None:
        raise PllError(f"ECP5 PLL: no divider setting makes {f_out} MHz from {f_in} MHz")
    return best[1:]


def ice40_pll(f_in, f_out):
    """SB_PLL40 (SIMPLE feedback) settings for ``f_out`` MHz from ``f_in`` MHz: returns
    ``(divr, divf, divq, filter_range, achieved_mhz)``. Limits: PFD 10–133 MHz, VCO 533–1066 MHz,
    output 16–275 MHz (iCE40 sysCLOCK PLL guide; the search of ``icepll``)."""
    if not 16 <= f_out <= 275:
        raise PllError(f"iCE40 PLL: output {f_out} MHz: must be in 16..275 MHz")
    best = None
    for divr in range(16):
        pfd = f_in / (divr + 1)
        if not 10 <= pfd <= 133:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533 <= vco <= 1066:
                continue
            for divq in range(1, 7):
                fout = vco / (1 << divq)
                err = abs(fout - f_out)
                if best is None or err < best[0] - 1e-9:
                    best = (err, divr, divf, divq, pfd, fout)
    if best is None:
        raise PllError(f"iCE40 PLL: no divider setting makes {f_out} MHz from {f_in} MHz")
    _, divr, divf, divq, pfd, fout = best
    filter_range = next(i for i, lim in enumerate((17, 26, 44, 66, 101, 133), 1) if pfd < lim)
    return divr, divf, divq, filter_range, fout


# ------------------------------------------------------------------------------------------
# design under control
# ------------------------------------------------------------------------------------------

DESIGNS = ("smoke", "kernel", "fabric", "fabric-test")


def design_under_control(params, max_units=16, design="smoke", mem_words=4096):
    """The design behind the bridge for a fabric configuration: ``"smoke"`` —
    :class:`fpga.smoke.SmokeSystem` (one MAC unit per PCU of the grid, at most ``max_units``; runs
    ``rdu fpga run gemm|conv1d``); ``"kernel"`` — :class:`fpga.fabric_duc.KernelSystem` (the
    fabric with real AGCUs on the ``mem_words``-word on-chip memory; runs the kernel compiler's
    jobs: ``rdu fpga run gemm|scan|fft|...``); ``"fabric"`` —
    :class:`fpga.fabric_duc.FabricSystem` (the fabric generator's PCUs, PMUs and switches with an
    AGCU stand-in per edge slot);
    ``"fabric-test"`` — the same with :class:`tb.testunit.TestUnit` in every unit site
    (runs ``rdu fpga run traffic``: the interconnect checked on the board)."""
    if design == "kernel":
        return KernelSystem(board_params(params, mem_words))
    if design in ("fabric", "fabric-test"):
        return FabricSystem(params, factory=test_factory if design == "fabric-test" else None)
    if design != "smoke":
        raise ValueError(f"--design {design!r}: must be one of {', '.join(DESIGNS)}")
    return SmokeSystem(MacParams(lanes=params.lanes), units=max(1, min(params.n_pcu, max_units)))


class BoardTop(Elaboratable):
    """``board`` + fabric ``params``: the clock tree and pins around a :class:`SystemTop`.
    ``freq_mhz`` overrides the preset's ``clock_mhz``; ``baud``, ``mem_words`` the board's."""

    def __init__(self, board_, params, freq_mhz=None, baud=None, mem_words=None, duc=None,
                 design="smoke"):
        self.board = board_
        self.params = params
        want = float(freq_mhz or board_.default_mhz or params.clock_mhz)
        self.pll = None
        if abs(want - board_.clk_in_mhz) < 1e-6:
            self.freq_mhz = board_.clk_in_mhz
        elif board_.family == "ecp5":
            self.pll = ecp5_pll(board_.clk_in_mhz, want)
            self.freq_mhz = self.pll[3]
        else:
            self.pll = ice40_pll(board_.clk_in_mhz, want)
            self.freq_mhz = self.pll[4]
        self.duc = duc if duc is not None else design_under_control(
            params, board_.max_units, design, mem_words or board_.mem_words)
        self.bridge_params = BridgeParams(clk_hz=int(round(self.freq_mhz * 1e6)),
                                          baud=baud or board_.baud,
                                          mem_words=mem_words or board_.mem_words,
                                          max_payload=board_.max_payload, ident=self.duc.ident)
        self.system = SystemTop(self.duc, self.bridge_params)

    def _clock(self, m, platform):
        b = self.board
        m.domains.sync = cd = ClockDomain("sync")
        locked = Signal()
        clk = platform.request(b.clk_resource, 0, dir="-")
        if self.pll is None or b.family == "ecp5":
            m.submodules.clk_buf = clk_buf = io.Buffer("i", clk)
        if self.pll is None:
            m.d.comb += [cd.clk.eq(clk_buf.i), locked.eq(1)]
        elif b.family == "ecp5":
            ref, fb, od, fout, vco = self.pll
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=str(b.clk_in_mhz), a_FREQUENCY_PIN_CLKOP=f"{fout:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
                p_CLKI_DIV=ref, p_CLKOP_DIV=od, p_CLKOP_CPHASE=od // 2 - 1 if od > 1 else 0,
                p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=fb,
                i_RST=0, i_STDBY=0, i_CLKI=clk_buf.i, o_CLKOP=cd.clk, i_CLKFB=cd.clk,
                i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1,
                i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0, o_LOCK=locked)
        else:
            divr, divf, divq, frange, fout = self.pll
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE", p_DIVR=divr, p_DIVF=divf, p_DIVQ=divq,
                p_FILTER_RANGE=frange,
                io_PACKAGEPIN=clk.io, i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=cd.clk,
                o_LOCK=locked)
        platform.add_clock_constraint(cd.clk, self.freq_mhz * 1e6)
        # (the board top's own reset, 2.2k loads on the kernel design, stays on general routing:
        # placements with it on a second global buffer routed slower or not at all; CHANGELOG.md,
        # 2026-11-23)
        m.submodules.rst_sync = ResetSynchronizer(~locked, domain="sync")

    def elaborate(self, platform):
        m = Module()
        self._clock(m, platform)
        b = self.board
        if b.name == "orangecrab":
            # deferred: amaranth-boards is an optional dependency (the fpga extra)
            from amaranth_boards.resources import UARTResource
            platform.add_resources([UARTResource(0, rx="0", tx="1", conn=("io", 0),
                                                 attrs=Attrs(IO_TYPE="LVCMOS33"))])
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.submodules.system = sys_ = self.system
        m.d.comb += [sys_.uart_rx.eq(rx.i), tx.o.eq(sys_.uart_tx)]
        leds = sys_.leds
        if b.name == "orangecrab":
            rgb = platform.request("rgb_led", 0, dir="-")
            for color, bit in (("g", 0), ("r", 1), ("b", 3)):
                m.submodules[f"led_{color}"] = buf = io.Buffer("o", getattr(rgb, color))
                m.d.comb += buf.o.eq(leds[bit])
        else:
            n = 4 if b.name == "ulx3s" else 2
            for i in range(n):
                m.submodules[f"led{i}"] = buf = io.Buffer("o", platform.request("led", i, dir="-"))
                m.d.comb += buf.o.eq(leds[i])
        return m

    def describe(self):
        return {"board": self.board.name, "device": self.board.device,
                "preset": self.params.name, "clock_mhz": round(self.freq_mhz, 4),
                "pll": list(self.pll) if self.pll else None,
                "baud": self.bridge_params.baud, "divisor": self.bridge_params.divisor,
                "mem_words": self.bridge_params.mem_words,
                "design": type(self.duc).__name__, "ident": f"0x{self.duc.ident:08x}"}
