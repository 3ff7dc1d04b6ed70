"""FPGA prototyping: board tops, the UART host bridge, open-toolchain builds (docs/fpga.md).

* :mod:`fpga.bridge` — UART + framed command protocol (RTL); :mod:`fpga.host` — its Python side
  over a transport (serial port or the simulated UART pins), the same code for boards and tests;
* :mod:`fpga.top` — bridge + design under control + on-chip memory; :mod:`fpga.memory` — the
  on-chip memory standing in for HBM; :mod:`fpga.smoke` — the smoke MAC units;
  :mod:`fpga.fabric_duc` — the fabric with AGCU stand-ins;
* :mod:`fpga.boards` — ULX3S, OrangeCrab, iCEBreaker tops (clocks, PLLs, pins);
  :mod:`fpga.build` — yosys / nextpnr / pack with a resource and Fmax report;
  :mod:`fpga.cli` — ``rdu fpga build|run|boards``;
* :mod:`fpga.kernels` — GEMM, 1-D convolution and fabric traffic through the host API;
  :mod:`tb.uart` — the bit-level cocotb UART model.
"""
