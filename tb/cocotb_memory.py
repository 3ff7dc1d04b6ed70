"""cocotb side of ``scripts/bench_memory.py``: executes a plan of measurements in one simulation.

The plan (JSON, ``RDU_TB_ARGS``) is a list of steps; the simulator process runs them in order and
writes the counters to ``result``. Python only configures units over the ring and waits for
``done`` flags: the traffic comes from HDL traffic generators, the DMA and the AGCU (whose output
is always accepted), so no Python runs per cycle while measuring.

Steps: ``{"kind": "traffic", "policy": ..., "tgs": {index: tg_config}}``,
``{"kind": "dma", "program": dma_config}``, ``{"kind": "agcu", "program": agcu_config}``.
"""

import json
import time
from pathlib import Path

import cocotb
from cocotb.triggers import RisingEdge

from hw.config import ConfigPackets
from memory.agcu import AGCU_COUNTERS
from tb import env
from tb.memory import MemSysHost


@cocotb.test()
async def bench(dut):
    args = env.decode()
    host = MemSysHost(dut, args["info"], Path(args["dir"]))
    await host.start()
    results = []
    for step in args["plan"]:
        t0 = time.perf_counter()
        if step["kind"] == "traffic":
            for tier in ("hbm", "ddr"):
                await host.set_policy(tier, step.get("policy", "preset"))
            res = await host.run_traffic({int(k): v for k, v in step["tgs"].items()},
                                         timeout_cycles=step.get("timeout", 2_000_000))
            out = {"tgs": {str(k): v for k, v in res.items()}}
        elif step["kind"] == "dma":
            out = {"dma": await host.run_dma(step["program"], step.get("timeout", 2_000_000))}
        elif step["kind"] == "agcu":
            dut.agcu_vec_out__0__ready.value = 1
            uid = host.ids["agcu"][0]
            await host.ring.run(ConfigPackets().clear_counters(uid))
            await host.configure_agcu(0, step["program"])
            await host.start_units(uid)
            for _ in range(step.get("timeout", 2_000_000)):
                await RisingEdge(host.clk)
                if int(dut.agcu_done.value) & 1:
                    break
            out = {"agcu": await host.counters(uid, AGCU_COUNTERS)}
        else:
            raise ValueError(f"bench step kind {step['kind']!r}")
        for tier in ("hbm", "ddr"):
            c, msg = await host.dram_status(tier)
            out[tier] = c
            assert msg is None, msg
        out["wall_s"] = time.perf_counter() - t0
        results.append(out)
        # clear DRAM counters between steps
        await host.ring.run(ConfigPackets().clear_counters(host.ids["hbm"])
                            .clear_counters(host.ids["ddr"]))
    Path(args["result"]).write_text(json.dumps(results))
