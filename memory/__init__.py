"""Memory system: HBM and DDR DRAM models, AGCUs, the DDR <-> HBM DMA (docs/memory.md).

Modules: :mod:`memory.dram` (DRAM model and port), :mod:`memory.agcu` (address generation and
coalescing unit), :mod:`memory.dma`, :mod:`memory.traffic` (HDL traffic generator),
:mod:`memory.system` (``MemorySystem`` top, ``generate`` for ``rdu gen --unit memory``),
:mod:`memory.host` (tensor images), :mod:`memory.analytic` (analytic model),
:mod:`tb.memory` (cocotb components).
"""
