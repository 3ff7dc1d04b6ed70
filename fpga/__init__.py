"""FPGA prototyping: board tops, the UART host bridge, open-toolchain builds (docs/fpga.md).

* :mod:`fpga.bridge` — UART + framed command protocol (RTL); :mod:`fpga.host` — its Python side
  over a transport (serial port or the simulated UART pins), the same code for boards and tests;
* :mod:`fpga.top` — bridge + design under control + on-chip memory; :mod:`fpga.memory` — the
  on-chip memory standing in for HBM; :mod:`fpga.smoke` — the smoke MAC units;
  :mod:`fpga.fabric_duc` — the fabric with real AGCUs on the on-chip memory (the kernel design)
  or with AGCU stand-ins;
* :mod:`fpga.boards` — ULX3S, OrangeCrab, iCEBreaker tops (clocks, PLLs, pins);
  :mod:`fpga.build` — yosys / nextpnr / pack with a resource and Fmax report;
  :mod:`fpga.timing` — one unit placed and routed alone; :mod:`fpga.paths` — the worst paths of
  a placed netlist; :mod:`fpga.cli` — ``rdu fpga build|run|timing|route|paths|boards``;
* :mod:`fpga.executor` — :class:`~fpga.executor.BoardExecutor`, the compiler's jobs on a board;
  :mod:`fpga.kernels` — GEMM, 1-D convolution (smoke design) and fabric traffic through the host
  API. The bit-level cocotb UART model that simulates the board path is :mod:`tb.uart`.
"""
