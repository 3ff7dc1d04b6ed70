"""Memory-system parameters, presets and configuration assemblers: clear one-line errors."""

import numpy as np
import pytest

from hw.config import config_words
from hw.params import AGCUParams, ConfigError, DRAMParams, MemoryParams, load
from hw.util import xorshift32
from memory.agcu import AGCU, agcu_layout, agcu_program, tensor_loops, vector_addresses
from memory.dma import dma_program
from memory.traffic import pattern_words, tg_config


@pytest.mark.parametrize("name", ["tiny", "hbm3", "ddr5"])
def test_presets_load_and_fit_simulation(name):
    p = DRAMParams.from_dict(name)
    assert p.capacity_bytes <= 4 << 20          # a few MiB at most: Verilator backing store
    assert p.row_bytes % p.access_bytes == 0
    assert p.accesses * p.access_bytes == p.capacity_bytes


@pytest.mark.parametrize("cfg", ["tiny", "sim", "fpga", "plasticine"])
def test_every_fabric_preset_loads(cfg):
    p = load(cfg)
    assert p.memory.dma_block_bytes >= p.memory.hbm.access_bytes


@pytest.mark.parametrize("changes, match", [
    (dict(tRAS=2, tRCD=4), r"tRAS = 2: must be >= tRCD \(4\)"),
    (dict(tREFI=10, tRFC=20), r"tREFI = 10: must be 0 or > tRFC \(20\)"),
    (dict(refresh="per-bank", tREFI=30, tRFCpb=40), r"tREFI = 30: must be 0 or > tRFCpb \(40\)"),
    (dict(row_bytes=64, bytes_per_cycle=64, burst_length=4),
     r"row_bytes = 64: must be >= one access, burst_length x bytes_per_cycle = 256"),
    (dict(rows=1 << 16), r"rows = 65536: simulated capacity .* must be <= 64 MiB"),
    (dict(refresh="sometimes"), r"refresh = 'sometimes': must be one of 'all-bank', 'per-bank'"),
    (dict(policy="lifo"), r"policy = 'lifo': must be one of 'fr-fcfs', 'in-order'"),
])
def test_dram_params_errors(changes, match):
    with pytest.raises(ConfigError, match=match):
        DRAMParams.from_dict({**DRAMParams().to_dict(), **changes})


def test_memory_section_errors():
    with pytest.raises(ConfigError, match=r"memory.hbm = 'hbm4': no such preset; allowed: ddr5, "
                                          r"hbm3, tiny"):
        load({"memory": {"hbm": "hbm4"}})
    with pytest.raises(ConfigError, match=r"memory.ddr.bank: unknown key \(did you mean 'banks'\?\)"):
        load({"memory": {"ddr": {"bank": 4}}})
    # 512-byte DDR accesses = 8 HBM accesses per DMA block: 64 blocks need 512 tags
    with pytest.raises(ConfigError, match=r"dma_outstanding = 64: x 8 hbm accesses per DMA block "
                                          r"must be <= 256 \(8-bit request tags\)"):
        MemoryParams(hbm=DRAMParams(bytes_per_cycle=16, burst_length=4),
                     ddr=DRAMParams(bytes_per_cycle=32, burst_length=16, row_bytes=1024),
                     dma_outstanding=64)


def test_dram_decode_matches_documented_map():
    p = DRAMParams.from_dict("hbm3")
    # channel in the low bits, then column, bank, row
    assert p.decode(0) == (0, 0, 0, 0)
    assert p.decode(1) == (1, 0, 0, 0)
    assert p.decode(p.channels) == (0, 0, 0, 1)
    assert p.decode(p.channels * p.cols) == (0, 1, 0, 0)
    assert p.decode(p.channels * p.cols * p.banks) == (0, 0, 1, 0)


# ---- AGCU ---------------------------------------------------------------------------------------

def test_tensor_loops_tiling_order():
    shape, tile, L = (8, 16), (4, 8), 4
    loops = tensor_loops(shape, L, tile=tile)
    assert len(loops) == 4
    va = vector_addresses(0, loops)
    # reference: tiles row-major, each tile row-major, vector = 4 consecutive words
    ref = []
    for ti in range(2):
        for tj in range(2):
            for r in range(4):
                for v in range(2):
                    ref.append(((ti * 4 + r) * 16 + tj * 8 + v * 4) // 4)
    assert list(va) == ref


def test_tensor_loops_errors():
    with pytest.raises(ConfigError, match=r"strides\[-1\] = 2: the last dimension must be contiguous"):
        tensor_loops((4, 8), 4, strides=(16, 2))
    with pytest.raises(ConfigError, match=r"tile\[0\] = 3: must divide shape\[0\] = 8"):
        tensor_loops((8, 8), 4, tile=(3, 8))
    with pytest.raises(ConfigError, match=r"tile\[-1\] = 6: must be a multiple of the lane count \(4\)"):
        tensor_loops((8, 12), 4, tile=(8, 6))
    with pytest.raises(ConfigError, match=r"strides\[0\] = 10: must be a multiple of the lane count"):
        tensor_loops((8, 8), 4, strides=(10, 1))


def test_agcu_program_errors():
    p, L, d = AGCUParams(counters=3, counter_bits=8, outstanding=4), 4, DRAMParams()
    ok = agcu_program(p, L, d, mode="load", base=0, loops=[(4, 1)])
    assert ok["burst"] == 2 and ok["outstanding"] == 4      # burst_words 8 / 4 lanes
    # 1+1+1+1+8+8 control bits + 32-bit base + 3 x (8-bit size + 32-bit stride) = 172 bits
    assert len(config_words(agcu_layout(p), ok)) == 6
    with pytest.raises(ConfigError, match=r"agcu mode = 'copy': must be 'load' or 'store'"):
        agcu_program(p, L, d, mode="copy", base=0, loops=[(4, 1)])
    with pytest.raises(ConfigError, match=r"agcu loops: 4 loops; this AGCU has counters = 3"):
        agcu_program(p, L, d, mode="load", base=0, loops=[(2, 1)] * 4)
    with pytest.raises(ConfigError, match=r"agcu loops\[0\].size = 256: must be in 1..255"):
        agcu_program(p, L, d, mode="load", base=0, loops=[(256, 1)])
    with pytest.raises(ConfigError, match=r"agcu burst = 5: must be in 1..4 vectors"):
        agcu_program(p, L, d, mode="load", base=0, loops=[(4, 1)], burst=5)
    with pytest.raises(ConfigError, match=r"agcu outstanding = 8: must be in 1..4"):
        agcu_program(p, L, d, mode="load", base=0, loops=[(4, 1)], outstanding=8)
    cap = d.capacity_bytes // 16
    with pytest.raises(ConfigError, match=rf"agcu tensor reaches vector address {cap} .*outside the "
                                          rf"tiny memory of {cap} vectors"):
        agcu_program(p, L, d, mode="store", base=cap - 4, loops=[(5, 1)])
    with pytest.raises(ConfigError, match=r"reaches vector address -4"):
        agcu_program(p, L, d, mode="load", base=0, loops=[(2, -4)])


def test_agcu_rejects_vectors_wider_than_an_access():
    with pytest.raises(ConfigError, match=r"a vector of 32 lanes \(128 bytes\) is wider than one DRAM "
                                          r"access \(burst_length x bytes_per_cycle = 64 bytes\)"):
        AGCU(AGCUParams(), 32, dram=DRAMParams())


def test_cli_gen_reports_impossible_memory_config(tmp_path, capsys):
    from scripts.cli import main
    cfg = tmp_path / "wide.yaml"
    cfg.write_text("name: wide\nlanes: 32\npcu: {stages: 2}\nmemory: {hbm: tiny, ddr: tiny}\n")
    assert main(["gen", str(cfg), "--unit", "memory", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rdu: error: AGCU: a vector of 32 lanes (128 bytes) is wider than one "
                          "DRAM access"), err


# ---- DMA, traffic generator -------------------------------------------------------------------

def test_dma_program():
    mem = load("sim").memory
    blk = mem.dma_block_bytes
    p = dma_program(mem, "ddr->hbm", src=blk, dst=2 * blk, rows=3, row_bytes=2 * blk,
                    src_pitch=5 * blk)
    assert (p["src"], p["dst"], p["rows"], p["cols"], p["src_stride"], p["dst_stride"]) == \
        (1, 2, 3, 2, 5, 2)
    with pytest.raises(ConfigError, match=rf"dma src = 0x40: must be a non-negative multiple of the "
                                          rf"DMA block \({blk} bytes"):
        dma_program(mem, "ddr->hbm", src=64, dst=0, nbytes=blk)
    with pytest.raises(ConfigError, match=r"dma dst region \[0x1f0000, 0x210000\) exceeds the ddr "
                                          r"capacity \(0x200000 bytes\)"):
        dma_program(mem, "hbm->ddr", src=0, dst=0x1F0000, nbytes=0x20000)
    with pytest.raises(ConfigError, match=r"dma direction = 'up': must be"):
        dma_program(mem, "up", src=0, dst=0, nbytes=blk)


def test_traffic_config_and_pattern():
    with pytest.raises(ConfigError, match=r"traffic span = 0x6: must be 2\^k - 1"):
        tg_config(span=6, count=1)
    with pytest.raises(ConfigError, match=r"traffic pattern = 'zigzag'"):
        tg_config("zigzag", span=7, count=1)
    assert pattern_words(3, 5, 2) == [(3 * 0x9E3779B1 + 5) & 0xFFFFFFFF,
                                      (3 * 0x9E3779B1 + 5 + 0x85EBCA77) & 0xFFFFFFFF]
    assert xorshift32(1) == 270369


# ---- host images ------------------------------------------------------------------------------

def test_host_image_roundtrip(tmp_path):
    from memory.host import DRAMImage
    p = DRAMParams.from_dict("tiny").replace(channels=2, rows=16)
    img = DRAMImage(p, "hbm")
    rng = np.random.default_rng(1)
    a = rng.standard_normal((12, 20)).astype(np.float32)
    img.place(0x1000, a)
    b = rng.integers(0, 1 << 16, (5, 3), dtype=np.uint16)
    img.place(0x8000, b, strides=(7, 2))
    paths = img.write_files(tmp_path)
    assert [x.name for x in paths] == ["hbm_ch0.hex", "hbm_ch1.hex"]
    # access interleaving: access 1 (bytes 64..127) is channel 1's first access
    lines = paths[1].read_text().split()
    assert len(lines) == p.beats_per_channel and len(lines[0]) == 2 * p.bytes_per_cycle
    assert bytes.fromhex(lines[0])[::-1] == img.bytes[64:64 + p.bytes_per_cycle].tobytes()
    for x in paths:
        x.rename(x.with_suffix("").with_suffix(".out.hex"))
    back = DRAMImage.from_dump(p, "hbm", tmp_path)
    assert back == img
    np.testing.assert_array_equal(back.fetch(0x1000, a.shape, np.float32), a)
    np.testing.assert_array_equal(back.fetch(0x8000, b.shape, np.uint16, strides=(7, 2)), b)
    with pytest.raises(ValueError, match=r"hbm: write of 64 bytes at byte address 0x1ffe0 exceeds"):
        img.write_bytes(p.capacity_bytes - 32, bytes(64))
    with pytest.raises(FileNotFoundError, match=r"no dump of hbm channel 0"):
        DRAMImage.from_dump(p, "hbm", tmp_path / "none")
