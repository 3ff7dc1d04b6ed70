"""The parameter schema (``hw/params``): presets, validation messages, immutability.

docs/architecture.md §6 "Bad input": malformed YAML and impossible parameters produce one clear
error naming the key, the value and what is allowed; these tests assert the messages.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from hw import params
from hw.params import (
    AGCUParams,
    ConfigError,
    DRAMParams,
    FabricParams,
    MemoryParams,
    PCUParams,
    PMUParams,
    SwitchParams,
    load,
)

PRESETS = ["fpga", "plasticine", "sim", "small", "tiny"]


def error_of(config):
    with pytest.raises(ConfigError) as e:
        load(config)
    msg = str(e.value)
    assert "\n" not in msg, "ConfigError messages are one line"
    assert isinstance(e.value, ValueError)
    return msg


# --------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------

def test_preset_names():
    assert params.preset_names() == PRESETS
    assert params.DEFAULT_CONFIG in PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads(name):
    p = load(name)
    assert isinstance(p, FabricParams)
    assert p.name == name
    assert p.pcu.lanes == p.lanes                        # one vector width
    assert p.pmu.banks == p.lanes                        # banks default to the lane count
    assert p.n_pcu + p.n_pmu == p.units == p.rows * p.cols
    # by name, by path (absolute and with .yaml) and from its own dict: the same object
    path = params.configs_dir() / f"{name}.yaml"
    assert load(path) == p
    assert load(str(path)) == p
    assert load(p.to_dict()) == p
    assert load(p) is p
    for mem in (p.memory.hbm, p.memory.ddr):
        assert isinstance(mem, DRAMParams)
        assert mem.tRAS >= mem.tRCD


def test_default_preset():
    assert load() == load(params.DEFAULT_CONFIG) == load(None)


def test_plasticine_preset_is_the_isca_2017_design():
    p = load("plasticine")
    assert (p.lanes, p.pcu.lanes, p.pcu.stages) == (16, 16, 6)       # 16 lanes x 6 stages
    assert (p.rows, p.cols) == (8, 16)
    assert p.units == 128 and p.n_pcu == 64 and p.n_pmu == 64
    assert p.pmu.banks == 16
    assert p.pmu.size_bytes == 256 * 1024                           # 256 KB per PMU
    assert p.pcu.peak_macs_per_cycle == 96
    assert p.memory.hbm.kind == "hbm" and p.memory.ddr.kind == "ddr"


def test_small_presets():
    tiny = load("tiny")
    assert (tiny.rows, tiny.cols, tiny.lanes, tiny.pcu.stages) == (2, 2, 4, 3)
    assert tiny.pcu.op_classes == ("int", "shift", "fixed")
    assert tiny.memory.hbm == tiny.memory.ddr == DRAMParams.from_dict("tiny")
    fpga = load("fpga")
    assert (fpga.rows, fpga.cols, fpga.lanes, fpga.pcu.stages) == (2, 2, 2, 2)
    assert fpga.pcu.classes_of(0) == fpga.pcu.classes_of(1) == ("int",)
    sim = load("sim")
    assert sim.pcu.scan and sim.pcu.butterfly and sim.pcu.systolic and sim.pcu.tail


def test_checkerboard():
    p = load("tiny")
    assert p.unit_kind(0, 0) == "pcu" and p.unit_kind(0, 1) == "pmu" and p.unit_kind(1, 1) == "pcu"
    odd = load({"rows": 3, "cols": 3})
    assert odd.n_pcu == 5 and odd.n_pmu == 4


def test_memory_presets():
    hbm = DRAMParams.from_dict("hbm3")
    ddr = DRAMParams.from_dict("ddr5")
    assert hbm.kind == "hbm" and ddr.kind == "ddr"
    assert hbm.capacity_bytes == hbm.channels * hbm.banks * hbm.rows * hbm.row_bytes
    assert hbm.peak_bytes_per_cycle == hbm.channels * hbm.bytes_per_cycle
    assert hbm.channels > ddr.channels                 # many narrow channels vs few wide ones
    assert load("sim").memory.hbm == hbm


def test_defaults_and_partial_configs():
    p = load({})
    assert p.name == "custom" and p.lanes == 8 and p.pcu.lanes == 8 and p.pmu.banks == 8
    p = load({"lanes": 4, "pmu": {"banks": 2}})
    assert p.pcu.lanes == 4 and p.pmu.banks == 2
    p = load({"lanes": 16, "pcu": {"lanes": 16}})       # restating the enclosing value is allowed
    assert p.pcu.lanes == 16
    assert load({"pcu": None}).pcu == PCUParams()
    assert load({"clock_mhz": 250}).clock_mhz == 250.0  # an integer is a valid number
    assert isinstance(load({"clock_mhz": 250}).clock_mhz, float)


# --------------------------------------------------------------------------------------------
# Unknown keys
# --------------------------------------------------------------------------------------------

def keys(cls):
    """The allowed-keys list of an error message (derived, so new fields don't break tests)."""
    return ", ".join(f.name for f in dataclasses.fields(cls))


PCU_KEYS = keys(PCUParams)
TOP_KEYS = keys(FabricParams)


def test_key_lists():
    for key in ("lanes", "stages", "op_classes", "stage_op_classes", "scan"):
        assert key in PCU_KEYS.split(", ")
    assert TOP_KEYS.startswith("name, rows, cols, lanes, clock_mhz, pcu, pmu, switch, agcu, memory")


@pytest.mark.parametrize("config, message", [
    ({"pcu": {"stagse": 4}},
     f"pcu.stagse: unknown key (did you mean 'stages'?); allowed keys: {PCU_KEYS}"),
    ({"lane": 8}, f"lane: unknown key (did you mean 'lanes'?); allowed keys: {TOP_KEYS}"),
    ({"zzz": 1}, f"zzz: unknown key; allowed keys: {TOP_KEYS}"),
    ({"memory": {"hbm": {"tRSD": 3}}},
     f"memory.hbm.tRSD: unknown key (did you mean 'tRCD'?); allowed keys: {keys(DRAMParams)}"),
    ({"switch": {"vec_link": 2}},
     f"switch.vec_link: unknown key (did you mean 'vec_links'?); allowed keys: "
     f"{keys(SwitchParams)}"),
    ({"memory": {"hmb": "hbm3"}},
     f"memory.hmb: unknown key (did you mean 'hbm'?); allowed keys: {keys(MemoryParams)}"),
])
def test_unknown_keys(config, message):
    assert error_of(config) == message


# --------------------------------------------------------------------------------------------
# Wrong types
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("config, message", [
    ({"lanes": True}, "lanes = True: must be an integer"),                 # bool is not an int
    ({"pcu": {"stages": False}}, "pcu.stages = False: must be an integer"),
    ({"rows": "4"}, "rows = '4': must be an integer"),                      # string for int
    ({"rows": 2.0}, "rows = 2.0: must be an integer"),
    ({"rows": None}, "rows = None: must be an integer"),
    ({"clock_mhz": "fast"}, "clock_mhz = 'fast': must be a number"),
    ({"clock_mhz": True}, "clock_mhz = True: must be a number"),
    ({"name": 5}, "name = 5: must be a string"),
    ({"pcu": {"systolic": "yes"}}, "pcu.systolic = 'yes': must be true or false"),
    ({"pcu": {"systolic": 1}}, "pcu.systolic = 1: must be true or false"),
    ({"pcu": "big"}, "pcu = 'big': must be a mapping"),
    ({"memory": {"ddr": 5}}, "memory.ddr = 5: must be a mapping"),
    ({"pcu": {"op_classes": "int"}}, "pcu.op_classes = 'int': must be a list of strings"),
    ({"pcu": {"op_classes": ["int", 3]}}, "pcu.op_classes[1] = 3: must be a string"),
    ({"pcu": {"stage_op_classes": "int"}},
     "pcu.stage_op_classes = 'int': must be a list of lists of strings"),
    ({"pcu": {"stage_op_classes": ["int"] * 4}},
     "pcu.stage_op_classes[0] = 'int': must be a list of strings"),
])
def test_wrong_types(config, message):
    assert error_of(config) == message


# --------------------------------------------------------------------------------------------
# Impossible values
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("config, message", [
    ({"lanes": 6}, "lanes = 6: must be a power of two in 2..32"),
    ({"lanes": 64}, "lanes = 64: must be a power of two in 2..32"),
    ({"lanes": 0}, "lanes = 0: must be a power of two in 2..32"),
    ({"lanes": -4}, "lanes = -4: must be a power of two in 2..32"),
    ({"pcu": {"stages": 0}}, "pcu.stages = 0: must be an integer in 1..16"),
    ({"rows": 17}, "rows = 17: must be an integer in 1..16"),
    ({"clock_mhz": 0}, "clock_mhz = 0.0: must be a number in 1.0..5000.0"),
    ({"clock_mhz": float("nan")}, "clock_mhz = nan: must be a number in 1.0..5000.0"),
    ({"pcu": {"counter_bits": 3}}, "pcu.counter_bits = 3: must be an integer in 4..32"),
    ({"pcu": {"counter_bits": 33}}, "pcu.counter_bits = 33: must be an integer in 4..32"),
    ({"pmu": {"word_bits": 128}}, "pmu.word_bits = 128: must be an integer in 8..64"),
    ({"pmu": {"word_bits": 12}}, "pmu.word_bits = 12: must be a multiple of 8"),
    ({"pmu": {"banks": 3}}, "pmu.banks = 3: must be a power of two in 1..64"),
    ({"pmu": {"words_per_bank": 1000}},
     "pmu.words_per_bank = 1000: must be a power of two in 16..1048576"),
    ({"agcu": {"counter_bits": 40}}, "agcu.counter_bits = 40: must be an integer in 4..32"),
    ({"switch": {"buffer_depth": 1}}, "switch.buffer_depth = 1: must be an integer in 2..16"),
    ({"switch": {"flow": "credits"}},
     "switch.flow = 'credits': must be one of 'ready_valid', 'credit'"),
    ({"pcu": {"op_classes": ["int", "fp64"]}},
     "pcu.op_classes = ['int', 'fp64']: must be a list of distinct items from 'int', 'shift', "
     "'fixed', 'fp32', 'cast'"),
    ({"pcu": {"op_classes": ["int", "int"]}},
     "pcu.op_classes = ['int', 'int']: must be a list of distinct items from 'int', 'shift', "
     "'fixed', 'fp32', 'cast'"),
    ({"pcu": {"op_classes": ["fp32"]}},
     "pcu.op_classes = ['fp32']: must include 'int' (moves and counters)"),
    # memory
    ({"memory": {"hbm": {"tRAS": 3, "tRCD": 4}}}, "memory.hbm.tRAS = 3: must be >= tRCD (4)"),
    ({"memory": {"ddr": {"tREFI": 20}}}, "memory.ddr.tREFI = 20: must be 0 or > tRFC (20)"),
    ({"memory": {"hbm": {"kind": "gddr"}}},
     "memory.hbm.kind = 'gddr': must be one of 'hbm', 'ddr', 'tiny'"),
    ({"memory": {"hbm": {"policy": "fifo"}}},
     "memory.hbm.policy = 'fifo': must be one of 'fr-fcfs', 'in-order'"),
    ({"memory": {"hbm": {"channels": 3}}},
     "memory.hbm.channels = 3: must be a power of two in 1..32"),
    ({"memory": {"hbm": "hbm9"}}, "memory.hbm = 'hbm9': no such preset; allowed: ddr5, hbm3, tiny"),
    ({"memory": {"dma_outstanding": 0}},
     "memory.dma_outstanding = 0: must be a power of two in 1..64"),
    # cross-field rules
    ({"pcu": {"lanes": 4}},
     "pcu.lanes = 4: conflicts with 8 set by the enclosing section; omit it or make them equal"),
    ({"pmu": {"banks": 16}}, "pmu.banks = 16: must be <= lanes (8)"),
    ({"agcu": {"count": 9}}, "agcu.count = 9: must be <= the 8 edge slots of a 2x2 grid"),
    ({"pcu": {"stage_op_classes": [["int"]] * 3}},
     "pcu.stage_op_classes = [['int'], ['int'], ['int']]: must have one entry per stage (4)"),
    ({"pcu": {"stage_op_classes": [["fp32"]] * 4}},
     "pcu.stage_op_classes[0] = ['fp32']: must include 'int' (moves and counters)"),
    ({"pcu": {"stage_op_classes": [["int"], ["int", "int"], ["int"], ["int"]]}},
     "pcu.stage_op_classes[1] = ['int', 'int']: must be a list of distinct items from 'int', "
     "'shift', 'fixed', 'fp32', 'cast'"),
    ({"lanes": 16, "pcu": {"stages": 3, "scan": True}},
     "pcu.stages = 3: must be >= log2(lanes) = 4 for the scan/butterfly networks"),
    ({"pcu": {"regs": 1, "systolic": True}},
     "pcu.regs = 1: must be >= 2 with systolic (stationary + partial sum)"),
])
def test_impossible_values(config, message):
    assert error_of(config) == message


@pytest.mark.parametrize("config, pattern", [
    # the exact wording of these belongs to the memory model; the key and the value must be named
    ({"memory": {"hbm": {"clock_mhz": -5}}}, r"memory\.hbm\.clock_mhz = -5\.0: must be .+"),
    ({"memory": {"ddr": {"clock_mhz": 0}}}, r"memory\.ddr\.clock_mhz = 0\.0: must be .+"),
    ({"memory": {"hbm": {"row_bytes": 48}}},
     r"memory\.hbm\.row_bytes = 48: must be a power of two in \d+\.\.\d+"),
])
def test_impossible_memory_values(config, pattern):
    msg = error_of(config)
    assert re.fullmatch(pattern, msg), msg


def test_errors_in_nested_presets_name_the_preset_file(tmp_path, monkeypatch):
    """A memory preset is validated like inline YAML; an error names the preset's own file."""
    (tmp_path / "memory").mkdir()
    bad = tmp_path / "memory" / "slow.yaml"
    bad.write_text("kind: ddr\ntRCD: 10\ntRAS: 5\n")
    typo = tmp_path / "memory" / "typo.yaml"
    typo.write_text("kind: ddr\nchanels: 2\n")
    monkeypatch.setattr("hw.params.base.configs_dir", lambda: tmp_path)
    assert error_of({"memory": {"ddr": "slow"}}) == f"{bad}: tRAS = 5: must be >= tRCD (10)"
    assert error_of({"memory": {"ddr": "typo"}}).startswith(
        f"{typo}: chanels: unknown key (did you mean 'channels'?); allowed keys: kind, ")
    assert error_of({"memory": {"hbm": "hbm3"}}) == \
        "memory.hbm = 'hbm3': no such preset; allowed: slow, typo"
    # a preset name for a section that has no presets is just a wrong type
    monkeypatch.undo()
    assert error_of({"switch": "fast"}) == "switch = 'fast': must be a mapping"


# --------------------------------------------------------------------------------------------
# Files: malformed YAML, missing files and presets
# --------------------------------------------------------------------------------------------

def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, where, problem", [
    ("name: bad\nrows: [1, 2\n", "3:1", "expected ',' or ']', but got '<stream end>'"),
    ("name: x\npcu:\n\tstages: 3\n", "3:1", "found character '\\t' that cannot start any token"),
    ("rows: 2\n  cols: 3\n", "2:7", "mapping values are not allowed here"),
    ("name: 'unterminated\n", "2:1", "found unexpected end of stream"),
    ("lanes: 8\nrows: 2\nlanes: 4\n", "3:1", "duplicate key 'lanes' (first on line 1)"),
    ("pcu:\n  stages: 3\n  regs: 2\n  stages: 4\n", "4:3", "duplicate key 'stages' (first on line 2)"),
])
def test_malformed_yaml(tmp_path, text, where, problem):
    p = write(tmp_path, "cfg.yaml", text)
    assert error_of(p) == f"{p}:{where}: malformed YAML: {problem}"


def test_yaml_file_errors_name_the_file(tmp_path):
    p = write(tmp_path, "l6.yaml", "name: six\nlanes: 6\n")
    assert error_of(p) == f"{p}: lanes = 6: must be a power of two in 2..32"
    p = write(tmp_path, "deep.yaml", "memory:\n  hbm:\n    tRAS: 2\n")
    assert error_of(str(p)) == f"{p}: memory.hbm.tRAS = 2: must be >= tRCD (4)"
    p = write(tmp_path, "list.yaml", "- 1\n- 2\n")
    assert error_of(p) == f"{p} = [1, 2]: must be a mapping"
    p = write(tmp_path, "typo.yml", "pcu:\n  stagse: 4\n")
    assert error_of(p).startswith(f"{p}: pcu.stagse: unknown key (did you mean 'stages'?)")
    missing = tmp_path / "missing.yaml"
    assert error_of(missing) == f"{missing}: no such config file"
    # an empty file (or one of comments only) is an error, not a default fabric
    for text in ("", "# nothing here\n"):
        p = write(tmp_path, "empty.yaml", text)
        assert error_of(p) == f"{p}: empty configuration"
    p = tmp_path / "folder.yaml"
    p.mkdir()
    assert error_of(p).startswith(f"{p}: is a folder, not a config file")
    # YAML that is fine: merge keys still work with duplicate-key detection
    p = write(tmp_path, "merge.yaml",
              "name: m\nlanes: 8\npcu: &p\n  stages: 5\npmu:\n  buffers: 2\n")
    assert load(p).pcu.stages == 5


def test_a_file_must_set_lanes_and_is_named_after_itself(tmp_path):
    """A file without ``lanes`` does not silently get 8; without ``name`` it takes the file's
    stem (never a preset's name), and a stem that cannot name a Verilog module is an error."""
    p = write(tmp_path, "nolanes.yaml", "name: n\nrows: 2\n")
    assert error_of(p) == (f"{p}: lanes: missing; a configuration file must set it "
                           f"(vector lanes L (32-bit words); must be a power of two in 2..32)")
    assert load(write(tmp_path, "wide_2.yaml", "lanes: 16\n")).name == "wide_2"
    p = write(tmp_path, "my-fab.yaml", "lanes: 4\n")
    assert error_of(p).startswith(f"{p}: name: missing, and the file name 'my-fab' cannot")
    # a mapping given in Python keeps the defaults
    assert load({}).lanes == 8


@pytest.mark.parametrize("name", ["my fab", "a/b", "a-b", ""])
def test_name_must_make_a_verilog_module_name(tmp_path, name):
    p = write(tmp_path, "n.yaml", f"name: '{name}'\nlanes: 4\n")
    assert error_of(p) == (f"{p}: name = {name!r}: must be letters, digits and _ only (it names "
                           f"the Verilog modules, e.g. rdu_system_<name>)")


def test_unknown_preset():
    msg = error_of("huge")
    assert msg == "config 'huge': no such preset or file; presets: fpga, plasticine, sim, small, tiny"


# --------------------------------------------------------------------------------------------
# Read-only after construction
# --------------------------------------------------------------------------------------------

def test_parameters_are_read_only():
    p = load("sim")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.lanes = 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.pcu.stages = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.memory.hbm.tRAS = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.pmu.words_per_bank = 16
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.new_attribute = 1
    with pytest.raises(TypeError):
        p.pcu.op_classes[0] = "fp32"                     # lists from YAML are stored as tuples
    assert isinstance(p.pcu.op_classes, tuple)
    from hw.params.pcu import PCUParams
    f = PCUParams.from_dict({"stages": 2, "stage_op_classes": [["int", "shift"], ["int"]]})
    assert all(isinstance(s, tuple) for s in f.stage_op_classes)
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.name
    assert p == load("sim")                              # nothing changed
    assert hash(p.switch) == hash(load("sim").switch)    # frozen dataclasses are hashable


def test_replace_validates():
    p = load("tiny")
    q = p.replace(name="tiny2", clock_mhz=48)
    assert q.name == "tiny2" and q.clock_mhz == 48 and p.name == "tiny"
    with pytest.raises(ConfigError, match=r"^pcu\.lanes = 4: must equal lanes \(8\): one vector width$"):
        p.replace(lanes=8)
    with pytest.raises(ConfigError, match=r"^stages = 0: must be an integer in 1\.\.16$"):
        p.pcu.replace(stages=0)
    with pytest.raises(ConfigError, match=r"^lanes = True: must be an integer$"):
        PCUParams(lanes=True)


def test_direct_construction_validates_each_unit():
    assert SwitchParams().flow == "ready_valid"
    assert AGCUParams(count=4).count == 4
    assert MemoryParams().hbm == DRAMParams()
    with pytest.raises(ConfigError, match=r"^tRAS = 2: must be >= tRCD \(4\)$"):
        DRAMParams(tRAS=2)
    with pytest.raises(ConfigError, match=r"^word_bits = 20: must be a multiple of 8$"):
        PMUParams(word_bits=20)
    with pytest.raises(ConfigError, match=r"^banks = 0: must be a power of two in 1\.\.64$"):
        PMUParams.from_dict({"banks": 0})


def test_describe_lists_every_field():
    rows = PCUParams.describe()
    names = [r[0] for r in rows]
    assert names == PCU_KEYS.split(", ")
    stages = dict((r[0], r) for r in rows)["stages"]
    assert stages[1:4] == ("an integer", 4, "must be an integer in 1..16")
    soc = dict((r[0], r) for r in rows)["stage_op_classes"]
    assert soc[1] == "a list of lists of strings or null"
    top = dict((r[0], r) for r in FabricParams.describe())
    assert top["pcu"][1] == "a mapping"
