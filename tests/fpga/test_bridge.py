"""The host bridge's protocol engine under the Amaranth simulator (fast level).

The design is the real system top (bridge core + smoke units on the configuration ring + on-chip
memory) with the UART replaced by byte streams, driven under random backpressure on both byte
streams; responses are parsed by the host code's own frame reader (:class:`fpga.host.Host`).
The UART itself is tested at bit level below, and the whole board path with the UART under
Verilator in ``test_board_sim.py``.
"""

import struct

import numpy as np
import pytest
from amaranth.sim import Simulator

from fpga.bridge import (
    DATA_OP,
    FENCE,
    INFO_WORDS,
    MAGIC,
    BridgeParams,
    Cmd,
    Status,
    UARTRx,
    UARTTx,
    crc8,
)
from fpga.host import BridgeError, ChecksumError, Host, Transport, encode_request
from fpga.smoke import SMOKE_LAYOUT, decode_ident
from fpga.top import smoke_system
from hw.config import AddressMap, ConfigPackets, Packet, UnitKind, config_words, responses
from hw.params import ConfigError
from tb.stream import PauseGenerator

MEM = 256
MAXP = 64
TIMEOUT = 400


class BufferTransport(Transport):
    """Bytes already captured from the simulation, read back by the host's frame parser."""

    name = "captured bytes"

    def __init__(self, data):
        self.buf = bytearray(data)

    def read(self, n, timeout):
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def sleep(self, seconds):
        pass


def _top():
    return smoke_system(lanes=2, units=2, mem_words=MEM, uart=False, max_payload=MAXP,
                        timeout_cycles=TIMEOUT, ring_timeout_cycles=300, clk_hz=8_000_000,
                        baud=1_000_000)


def run_core(chunks, pauses=(0.0, 0.0), seed=1, quiet=600, deadline=200_000, top=None,
             seen=None):
    """Feed ``chunks`` (bytes, or ints = idle cycles) to the bridge's ``rx`` stream with random
    pauses; collect ``tx`` bytes until the source is done and ``tx`` was quiet for ``quiet``
    cycles. Returns the collected bytes; ``seen["leds"]`` gets the LEDs at the end."""
    dut = top if top is not None else _top()
    psrc = PauseGenerator(pauses[0], seed)
    psnk = PauseGenerator(pauses[1], seed + 1)
    got = bytearray()
    state = {"src_done": False}

    async def source(ctx):
        for c in chunks:
            if isinstance(c, int):
                await ctx.tick().repeat(c)
                continue
            for b in c:
                while psrc():
                    ctx.set(dut.rx.valid, 0)
                    await ctx.tick()
                ctx.set(dut.rx.payload, b)
                ctx.set(dut.rx.valid, 1)
                while True:
                    _, _, ready = await ctx.tick().sample(dut.rx.ready)
                    if ready:
                        break
            ctx.set(dut.rx.valid, 0)
        state["src_done"] = True

    async def sink(ctx):
        idle = 0
        while not (state["src_done"] and idle > quiet):
            ready = not psnk()
            ctx.set(dut.tx.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.tx.valid, dut.tx.payload)
            if ready and valid:
                got.append(payload)
                idle = 0
            else:
                idle += 1
        if seen is not None:
            seen["leds"] = ctx.get(dut.leds)
        state["finished"] = True

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)

    async def watchdog(ctx):
        for _ in range(deadline // 100):
            await ctx.tick().repeat(100)
            if state.get("finished"):
                return
        raise AssertionError(f"bridge core: still running after {deadline} cycles "
                             f"(sent all: {state['src_done']}, {len(got)} bytes back)")
    sim.add_testbench(watchdog)
    sim.run()
    return bytes(got)


def frames(data):
    """Parse every response frame in ``data`` → [(op, status, payload)]."""
    h = Host(BufferTransport(data), timeout=0)
    out = []
    while h.t.buf:
        out.append(h._read_frame("test"))
    return out


def words(payload):
    return list(struct.unpack(f"<{len(payload) // 4}I", payload))


def test_crc8_known_value():
    # CRC-8 (poly 0x07, init 0): the standard check value of "123456789" is 0xF4.
    assert crc8(b"123456789") == 0xF4


def test_bridge_params_errors():
    with pytest.raises(ConfigError, match=r"baud = 3000000: must be at most clk_hz / 8 = 1500000"):
        BridgeParams(clk_hz=12_000_000, baud=3_000_000)
    with pytest.raises(ConfigError, match=r"baud = 115200: gives a bit-rate error of 3\.5% at "
                                          r"clk_hz = 1000000"):
        BridgeParams(clk_hz=1_000_000, baud=115_200)
    with pytest.raises(ConfigError, match=r"max_payload = 100: must be a power of two"):
        BridgeParams(max_payload=100)


@pytest.mark.parametrize("pauses", [(0.0, 0.0), (0.5, 0.6)], ids=["full-rate", "backpressure"])
def test_info_write_read(pauses):
    rng = np.random.default_rng(3)
    data = rng.integers(0, 1 << 32, 40, dtype=np.uint64)
    wr = [struct.pack("<I", 100 + i) + b"".join(struct.pack("<I", int(w)) for w in data[i:i + 15])
          for i in (0, 15, 30)]      # 15 words = the 64-byte max_payload
    out = run_core([encode_request(Cmd.INFO), encode_request(Cmd.WRITE, wr[0]),
                    encode_request(Cmd.WRITE, wr[1]), encode_request(Cmd.WRITE, wr[2]),
                    encode_request(Cmd.READ, struct.pack("<II", 100, 40)),
                    encode_request(Cmd.READ, struct.pack("<II", 0, 0)),
                    encode_request(Cmd.STATUS)], pauses)
    f = frames(out)
    assert [(op, st) for op, st, _ in f] == [(Cmd.INFO, 0), (Cmd.WRITE, 0), (Cmd.WRITE, 0),
                                             (Cmd.WRITE, 0), (Cmd.READ, 0), (Cmd.READ, 0),
                                             (Cmd.STATUS, 0)]
    info = dict(zip(INFO_WORDS, words(f[0][2])))
    assert info["magic"] == MAGIC and info["mem_words"] == MEM and info["max_payload"] == MAXP
    assert info["divisor"] == 8
    assert decode_ident(info["ident"]) == {"kind": 1, "lanes": 2, "units": 2, "in_bits": 16}
    assert words(f[4][2]) == [int(w) for w in data]
    assert f[5][2] == b""
    st = words(f[6][2])
    assert st[2] == 7   # good frames, this STATUS included


def test_ring_config_readback_and_unknown_unit():
    desc = {"src": 0x123456, "dst": 0xABCDEF, "n_in": 77, "acc_len": 0xFFFF}
    bits = ConfigPackets().config(2, SMOKE_LAYOUT, desc)
    for w in range(3):
        bits.read(2, AddressMap.CONFIG + w)
    bits.read(1, AddressMap.IDENT)
    bits.start()          # broadcast: its echo is dropped by the bridge
    more = ConfigPackets().read(2, AddressMap.IDENT).read(9, AddressMap.IDENT)
    out = run_core([encode_request(Cmd.RING, b"".join(struct.pack("<Q", p.encode())
                                                      for p in b.packets))
                    for b in (bits, more)], (0.3, 0.5))
    f = frames(out)
    finals = [i for i, (op, _, _) in enumerate(f) if op == Cmd.RING]
    assert len(finals) == 2
    back = []
    start = 0
    for i in finals:
        data_frames = [Packet.decode(struct.unpack("<Q", d)[0]) for op, st, d in f[start:i]]
        assert all(op == DATA_OP for op, _, _ in f[start:i])
        assert f[i][1] == 0 and words(f[i][2]) == [len(data_frames)]
        back.append(data_frames)
        start = i + 1
    assert responses(bits.packets, back[0]) == config_words(SMOKE_LAYOUT, desc) + [
        (UnitKind.SMOKE << 16) | 1]
    assert back[1][0].data == (UnitKind.SMOKE << 16) | 2
    with pytest.raises(Exception, match=r"READ to unit 9 \(addr 0x600\) came back unanswered"):
        responses(more.packets, back[1])
    assert FENCE == Packet.read(0xFFF, 0xFFF).encode()


def test_protocol_errors_then_recovery():
    good = encode_request(Cmd.INFO)
    bad_crc = bytearray(encode_request(Cmd.READ, struct.pack("<II", 0, 4)))
    bad_crc[-1] ^= 0x55
    too_long = encode_request(Cmd.WRITE, bytes(MAXP + 8))
    out = run_core([
        b"\x00\x13\x37",                                     # stray bytes outside frames
        bytes(bad_crc),
        encode_request(Cmd.WRITE, b"\x01\x02\x03"),          # length not whole words
        encode_request(0x42),                                # unknown opcode
        too_long,
        encode_request(Cmd.READ, struct.pack("<II", MEM - 2, 3)),    # beyond the memory
        encode_request(Cmd.WRITE, struct.pack("<III", MEM - 1, 1, 2)),
        encode_request(Cmd.STATUS, b"\x00\x00\x00\x00"),     # STATUS takes no payload
        encode_request(Cmd.RING, bytes(12)),                 # not whole packets
        good[:3], TIMEOUT + 50,                              # truncated: the bridge times out
        good,
        encode_request(Cmd.STATUS),
    ], (0.2, 0.3), seen=(seen := {}))
    assert seen["leds"] & 2                 # the sticky error LED
    f = frames(out)
    got = [(op, st) for op, st, _ in f]
    assert got == [(Cmd.READ, Status.BAD_CRC), (Cmd.WRITE, Status.BAD_LENGTH),
                   (0x42, Status.BAD_OPCODE), (Cmd.WRITE, Status.BAD_LENGTH),
                   (Cmd.READ, Status.RANGE), (Cmd.WRITE, Status.RANGE),
                   (Cmd.STATUS, Status.BAD_LENGTH), (Cmd.RING, Status.BAD_LENGTH),
                   (Cmd.INFO, Status.TIMEOUT), (Cmd.INFO, Status.OK), (Cmd.STATUS, Status.OK)]
    st = words(f[-1][2])
    run_core([good], seen=(clean := {}))
    assert not clean["leds"] & 2            # no error: the LED stays off
    assert st[3] & 0xFFFF == 1          # one CRC error
    assert st[3] >> 16 == 1             # one timeout
    assert st[4] & 0xFFFF == 3          # three stray bytes


class StuckDesign:
    """A design whose configuration-ring stop swallows packets and never answers."""

    def __new__(cls):
        from amaranth import Module
        from amaranth.lib import stream, wiring
        from amaranth.lib.wiring import In, Out

        from fpga.bridge import MEM_REQ
        from hw.net import CONFIG_RING

        class Stuck(wiring.Component):
            ident = 0

            def __init__(self):
                super().__init__({
                    "cfg_i": In(CONFIG_RING), "cfg_o": Out(CONFIG_RING), "start": In(1),
                    "done": Out(1), "busy": Out(1),
                    "mem_req": Out(stream.Signature(MEM_REQ)).array(0),
                    "mem_rsp": In(stream.Signature(32)).array(0)})

            def elaborate(self, platform):
                m = Module()
                m.d.comb += self.cfg_i.ready.eq(1)
                return m
        return Stuck()


def test_stalled_ring_is_reported():
    from fpga.top import SystemTop
    top = SystemTop(StuckDesign(), BridgeParams(clk_hz=8_000_000, baud=1_000_000, mem_words=64,
                                                max_payload=64, ring_timeout_cycles=300),
                    uart=False)
    packet = struct.pack("<Q", Packet.read(1, AddressMap.IDENT).encode())
    out = run_core([encode_request(Cmd.RING, packet), encode_request(Cmd.INFO)], top=top)
    f = frames(out)
    assert [(op, st) for op, st, _ in f] == [(Cmd.RING, Status.RING_TIMEOUT), (Cmd.INFO, 0)]


def test_start_and_done_with_empty_job():
    """A unit configured with no input finishes at once: START → done seen in STATUS."""
    bits = ConfigPackets().config(1, SMOKE_LAYOUT, {"src": 0, "dst": 0, "n_in": 0, "acc_len": 1})
    bits.config(2, SMOKE_LAYOUT, {"src": 0, "dst": 0, "n_in": 0, "acc_len": 1})
    payload = b"".join(struct.pack("<Q", p.encode()) for p in bits.packets)
    out = run_core([encode_request(Cmd.STATUS), encode_request(Cmd.RING, payload),
                    encode_request(Cmd.START), 50, encode_request(Cmd.STATUS)])
    f = frames(out)
    before, after = words(f[0][2]), words(f[-1][2])
    assert before[0] & 1 == 0
    assert after[0] & 1 == 1 and after[0] & 2 and not after[0] & 4   # done seen, done, not busy
    assert 0 < after[1] < 50


def test_host_reports_response_checksum_errors():
    frame = bytearray(b"\x5a\x00\x00\x00\x00")
    frame.append(crc8(frame[1:]) ^ 1)
    h = Host(BufferTransport(bytes(frame)), timeout=0)
    with pytest.raises(ChecksumError, match=r"info: the response failed its checksum"):
        h._read_frame("info")
    h = Host(BufferTransport(b"\x5a\x00"), timeout=0.5)
    with pytest.raises(BridgeError, match=r"status: no answer from the bridge within 0\.5 s "
                                          r"\(response header: got 1 of 4 bytes\)"):
        h._read_frame("status")


# ---- UART at bit level ------------------------------------------------------------------

def _uart_loop(data, divisor, rx_pause=0.0, seed=0, line_hook=None):
    from amaranth import Module
    tx = UARTTx(divisor)
    rx = UARTRx(divisor)
    m = Module()
    m.submodules.tx = tx
    m.submodules.rx = rx
    m.d.comb += rx.rx.eq(tx.tx)
    got = []
    errors = {"overrun": 0, "frame": 0}
    pause = PauseGenerator(rx_pause, seed)

    async def bench(ctx):
        for b in data:
            ctx.set(tx.i.payload, b)
            ctx.set(tx.i.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(tx.i.ready)
                if ready:
                    break
        ctx.set(tx.i.valid, 0)
        await ctx.tick().repeat(12 * divisor)
        flags["drain"] = True        # take whatever the receiver still holds
        await ctx.tick().repeat(4)

    flags = {"drain": False}

    async def collect(ctx):
        while True:
            r = flags["drain"] or not pause()
            ctx.set(rx.o.ready, r)
            _, _, v, p, ov, fe = await ctx.tick().sample(rx.o.valid, rx.o.payload, rx.overrun,
                                                         rx.frame_error)
            if r and v:
                got.append(p)
            errors["overrun"] += ov
            errors["frame"] += fe

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_process(collect)
    sim.run()
    return got, errors


@pytest.mark.parametrize("divisor", [8, 13])
def test_uart_loopback(divisor):
    data = list(range(256))[::7] + [0x00, 0xFF, 0x55, 0xAA]
    got, errors = _uart_loop(data, divisor)
    assert got == data and errors == {"overrun": 0, "frame": 0}


def test_uart_overrun_is_counted_not_silent():
    """A consumer that stalls for many byte times loses bytes — and the receiver says so."""
    data = list(range(40))
    got, errors = _uart_loop(data, 8, rx_pause=0.995, seed=4)
    assert len(got) + errors["overrun"] == len(data)
    assert errors["overrun"] > 0
