"""cocotb tests of the board path: the system top (UART bridge + design + on-chip memory) under
Verilator, its UART pins driven bit by bit by :class:`tb.uart.UartModel`, and the host
side being the real :class:`fpga.host.Host` (the code that drives boards), running in a thread via
``cocotb.task.bridge`` over :class:`fpga.host.SimTransport`.

Every test has a simulated-time watchdog; bytes from the host arrive with random gaps (seeded by
``RDU_SEED``).
"""

import os
import struct

import cocotb
import numpy as np
from cocotb.task import bridge
from cocotb.triggers import with_timeout

from fpga.bridge import Cmd, Status
from fpga.host import BridgeError, BridgeTimeout, ChecksumError, Host, SimTransport
from fpga.kernels import KERNELS, run_plan
from fpga.smoke import SMOKE_LAYOUT, decode_ident
from hw.config import AddressMap, ConfigPackets, RingError, UnitKind, config_words
from tb import env
from tb.clock import PERIOD_NS, reset, start_clock
from tb.uart import UartModel

WATCHDOG_MS = 200


async def _setup(dut, gap_ns=(0, 0), baud_error=1.0):
    args = env.decode()
    seed = int(os.environ.get("RDU_SEED", "1"))
    start_clock(dut)
    dut.uart_rx.value = 1
    await reset(dut)
    model = UartModel(dut.uart_rx, dut.uart_tx, args["divisor"] * PERIOD_NS, seed=seed,
                      gap_ns=tuple(args.get("gap_ns", gap_ns)), baud_error=baud_error)
    return args, seed, model


async def _run_host(fn, model, time_scale=1e-3):
    host = Host(SimTransport(model, time_scale), timeout=0.2)
    return await with_timeout(bridge(fn)(host), WATCHDOG_MS, "ms")


@cocotb.test()
async def bridge_memory_and_ring(dut):
    """INFO, memory load/read-back in several frames, config load + read-back through the ring,
    counters, unknown units, all with random gaps between host bytes."""
    args, seed, model = await _setup(dut, gap_ns=(0, 200))
    rng = np.random.default_rng(seed)

    def host_code(h):
        info = h.info()
        assert info.mem_words == args["mem_words"], info
        assert decode_ident(info.ident) == {"kind": 1, "lanes": args["lanes"],
                                            "units": args["units"], "in_bits": 16}
        data = rng.integers(0, 1 << 32, 300, dtype=np.uint64).astype(np.uint32)
        h.write_mem(17, data)                         # 300 words: several frames
        back = h.read_mem(17, 300)
        np.testing.assert_array_equal(back, data)
        np.testing.assert_array_equal(h.read_mem(info.mem_words - 3, 3), np.zeros(3, np.uint32))
        desc = {"src": 0x000123, "dst": 0x00ABCD, "n_in": 5, "acc_len": 7}
        bits = ConfigPackets().config(1, SMOKE_LAYOUT, desc)
        for w in range(3):
            bits.read(1, AddressMap.CONFIG + w)
        for u in range(1, args["units"] + 1):
            bits.read(u, AddressMap.IDENT)
        got = h.load_packets(bits)
        assert got[:3] == config_words(SMOKE_LAYOUT, desc), got
        assert got[3:] == [(UnitKind.SMOKE << 16) | u for u in range(1, args["units"] + 1)]
        assert h.read_reg(1, AddressMap.CONTROL) == 0      # not busy, not done
        # a long packet list: more packets than one frame holds
        big = ConfigPackets()
        for i in range(100):
            big.write(2, AddressMap.CONFIG + (i % 3), i)
        big.read(2, AddressMap.CONFIG + 0)
        assert h.load_packets(big) == [99]
        try:
            h.load_packets(ConfigPackets().read(99, AddressMap.IDENT))
            raise AssertionError("a READ of unit 99 must fail")
        except RingError as e:
            assert "no unit 99 on the ring" in str(e), e
        st = h.status()
        assert st.crc_errors == 0 and st.timeouts == 0 and st.overruns == 0, st
        return h.stats

    stats = await _run_host(host_code, model)
    dut._log.info(f"host stats {stats}")


@cocotb.test()
async def kernels_bit_exact(dut):
    """GEMM and 1-D convolution through the board path (same flow as ``rdu fpga run``)."""
    args, seed, model = await _setup(dut, gap_ns=(0, 40))
    results = []

    def host_code(h):
        for name, shape in args["kernels"]:
            plan = KERNELS[name](args["lanes"], args["units"], seed=seed, **shape)
            r = run_plan(h, plan, timeout=5.0)
            assert r["bit_exact"]
            assert r["run_cycles"] > 0
            for unit, ctr in r["counters"].items():
                job = next(j for j in plan.jobs if j.unit == unit)
                assert ctr["outputs"] == job.n_out, (unit, ctr)
                assert 0 < ctr["cycles"] <= r["run_cycles"] + 8, (unit, ctr)
            results.append(r)

    await _run_host(host_code, model)
    for r in results:
        dut._log.warning(f"{r['kernel']} {r['shape']}: bit-exact, {r['run_cycles']} cycles, "
                         f"{r['macs_per_cycle']} MAC/cycle, counters {r['counters']}")


@cocotb.test()
async def corrupted_frames_give_clear_errors(dut):
    """Faults on the line: each gives an error naming the command, and the next command works."""
    args, seed, model = await _setup(dut, gap_ns=(0, 30))

    def flip(i):
        def f(data):
            data = bytearray(data)
            data[i % len(data)] ^= 0x10
            return bytes(data)
        return f

    def drop(i):
        def f(data):
            data = bytearray(data)
            del data[i]
            return bytes(data)
        return f

    def expect(exc, text, fn):
        try:
            fn()
        except exc as e:
            assert text in str(e), f"{e!r} does not mention {text!r}"
            return e
        raise AssertionError(f"expected {exc.__name__} ({text})")

    def host_code(h):
        h.info()
        h.write_mem(0, [1, 2, 3, 4])
        # a payload byte flipped on the way to the board: the bridge rejects the frame
        model.mangle_next(flip(8))
        e = expect(BridgeError, "write_mem(addr=0x0, n=4): the bridge reported BAD_CRC",
                   lambda: h.write_mem(0, [9, 9, 9, 9]))
        assert e.status == Status.BAD_CRC
        np.testing.assert_array_equal(h.read_mem(0, 4), [1, 2, 3, 4])   # nothing was written
        # a byte lost on the way: the bridge times out inside the frame
        model.mangle_next(drop(5))
        expect(BridgeError, "read_mem(addr=0x0, n=4): the bridge reported TIMEOUT",
               lambda: h.read_mem(0, 4))
        # a response byte corrupted on the way back: the host's checksum catches it
        model.corrupt_rx(6)
        expect(ChecksumError, "read_mem(addr=0x0, n=4): the response failed its checksum",
               lambda: h.read_mem(0, 4))
        # the bridge checks ranges itself (bypassing the host's own check)
        expect(BridgeError, "raw read: the bridge reported RANGE",
               lambda: h._exchange("raw read", Cmd.READ,
                                   struct.pack("<II", args["mem_words"] - 1, 2)))
        # a frame whose response never comes: the host times out with a clear message
        model.mangle_next(lambda d: b"")
        expect(BridgeTimeout, "status: no answer from the bridge within 0.2 s",
               lambda: h.status())
        # nothing started: wait_done times out naming the state
        expect(BridgeTimeout, "wait_done: the design is not done after 0.05 s",
               lambda: h.wait_done(0.05))
        st = h.status()
        assert (st.crc_errors, st.timeouts, st.overruns, st.framing_errors) == (1, 1, 0, 0), st
        np.testing.assert_array_equal(h.read_mem(0, 4), [1, 2, 3, 4])

    await _run_host(host_code, model)


@cocotb.test()
async def baud_mismatch_tolerated(dut):
    """The receiver samples at bit centres with a majority vote: a host 2% slow still works."""
    args, seed, model = await _setup(dut, gap_ns=(0, 10), baud_error=1.02)

    def host_code(h):
        data = np.arange(64, dtype=np.uint32) * 0x01010101
        h.write_mem(100, data)
        np.testing.assert_array_equal(h.read_mem(100, 64), data)
        assert h.status().framing_errors == 0

    await _run_host(host_code, model)


@cocotb.test()
async def fabric_traffic(dut):
    """The fabric (test units, switches, router configuration) behind the bridge: vectors from
    the board memory enter at AGCU slots, cross the fabric (some through pass-through units) and
    return to memory; every test unit's counters are checked, all over the UART."""
    from fpga.kernels import fabric_traffic as plan_traffic
    from fpga.kernels import run_fabric_traffic
    from hw.params import load
    args, seed, model = await _setup(dut, gap_ns=(0, 20))
    results = []

    def host_code(h):
        tp = plan_traffic(load(args["config"]), seed=seed % 1000, count=args["count"])
        results.append(run_fabric_traffic(h, tp, timeout=5.0))

    await _run_host(host_code, model)
    dut._log.warning(f"fabric traffic through the UART bridge: {results[0]}")


@cocotb.test()
async def compiler_kernels(dut):
    """The kernel compiler's jobs on the board path: the fabric with real AGCUs behind the UART
    bridge (``fpga.fabric_duc.KernelSystem``), tensors loaded over the UART into the on-chip
    memory, each phase's configuration packets through the ring, results read back — ``tb.run.
    run_kernel`` with :class:`fpga.executor.BoardExecutor`, the flow of ``rdu fpga run``."""
    from compiler.requests import KernelRequest
    from fpga.executor import BoardExecutor
    from fpga.fabric_duc import board_params
    from hw.params import FabricParams, load
    from tb.run import run_kernel
    args, seed, model = await _setup(dut, gap_ns=(0, 20))
    params = board_params(FabricParams.from_dict(args["params"]), args["mem_words"])
    results = []

    def host_code(h):
        # a job compiled for another configuration is refused before anything is sent
        try:
            BoardExecutor(h, board_params(load("tiny"), args["mem_words"]))
            raise AssertionError("BoardExecutor must refuse a board built for another config")
        except ValueError as e:
            assert "is not the kernel design of configuration 'tiny'" in str(e), e
        ex = BoardExecutor(h, params)
        for kernel, dtype, shape in args["kernels"]:
            req = KernelRequest.make(kernel, dtype, **shape) if dtype else \
                KernelRequest.make(kernel, **shape)
            r = run_kernel(req, params, seed=seed % 1000, executor=ex)
            assert r["passed"], (kernel, shape, r["mismatch"])
            assert r["cycles"] > 0
            results.append(r)

    await with_timeout(bridge(host_code)(Host(SimTransport(model), timeout=0.2)), 2000, "ms")
    for r in results:
        dut._log.warning(f"board path {r['kernel']} {r['shape']} {r['dtype']}: bit-exact, "
                         f"{r['cycles']} cycles, {r['phases']} phase(s), utilization "
                         f"{r['utilization']}")
