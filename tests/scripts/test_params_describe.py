"""``rdu params CONFIG --describe`` (every key: value, what is allowed, whether the YAML set it;
:func:`hw.params.describe`) and ``rdu gen CONFIG --unit system`` (the System ``rdu run``
simulates), which ``rdu lint`` leaves out unless asked for."""

from __future__ import annotations

import types

import pytest

from hw.params import ConfigError, FabricParams, describe, load
from memory.chip import System
from scripts import cli


def _flat(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flat(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}"


def _rows(config):
    params, rows = describe(config)
    return params, {r[0]: r[1:] for r in rows}, [r[0] for r in rows]


def test_tiny_every_key_once_with_value_allowed_and_origin():
    params, rows, keys = _rows("tiny")
    assert keys == list(_flat(params.to_dict()))
    assert rows["pcu.stages"] == ("3", "must be an integer in 1..16", "yaml")
    assert rows["pcu.counter_bits"] == ("16", "must be an integer in 4..32", "default")
    allowed = "must be a list of distinct items from 'int', 'shift', 'fixed', 'fp32', 'cast'"
    assert rows["pcu.op_classes"] == ("['int', 'shift', 'fixed']", allowed, "yaml")
    assert rows["pcu.systolic"] == ("False", "must be true or false", "default")
    assert rows["pcu.stage_op_classes"] == ("None", "must be a list of lists of strings or null",
                                            "default")
    assert rows["name"] == ("'tiny'", "must be letters, digits and _ only (it names the Verilog "
                                      "modules, e.g. rdu_system_<name>)", "yaml")
    # imposed by the fabric section (lanes), not written in tiny.yaml
    assert rows["pcu.lanes"] == ("4", "must be a power of two in 2..32", "enclosing section")
    assert rows["pmu.banks"][2] == "enclosing section"
    # memory.hbm: tiny names configs/memory/tiny.yaml
    assert rows["memory.hbm.channels"][2] == "preset memory/tiny"
    assert rows["memory.hbm.starve_limit"][2] == "default"
    assert rows["memory.dma_outstanding"][2] == "default"


@pytest.mark.parametrize("key, bad", [("pcu.stages", 99), ("lanes", 6), ("switch.flow", "x"),
                                      ("pcu.systolic", 1), ("agcu.outstanding", 3)])
def test_allowed_is_the_error_text(key, bad):
    """The allowed text of a key is what loading a wrong value for it reports."""
    _, rows, _ = _rows("tiny")
    section, _, name = key.rpartition(".")
    data = {section: {name: bad}} if section else {key: bad}
    with pytest.raises(ConfigError) as e:
        FabricParams.from_dict(data)
    assert str(e.value) == f"{key} = {bad!r}: {rows[key][1]}"


def test_yaml_file_and_mapping(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nlanes: 4\npcu:\n  lanes: 4\n  stages: 2\n"
                    "memory:\n  hbm:\n    channels: 2\n")
    _, rows, _ = _rows(str(path))
    assert rows["lanes"] == ("4", "must be a power of two in 2..32", "yaml")
    assert rows["pcu.lanes"][2] == "yaml"            # written, and equal to lanes
    assert rows["pcu.stages"][0::2] == ("2", "yaml")
    assert rows["rows"][0::2] == ("2", "default")
    assert rows["memory.hbm.channels"][0::2] == ("2", "yaml")
    assert rows["memory.hbm.banks"][2] == "default"
    assert rows["switch.vec_links"][2] == "default"
    _, rows, _ = _rows({"cols": 4})
    assert rows["cols"][0::2] == ("4", "yaml") and rows["rows"][2] == "default"


def test_default_config_is_the_sim_preset():
    params, rows, _ = _rows(None)
    assert params.name == "sim"
    assert rows["pcu.systolic"] == ("True", "must be true or false", "yaml")
    assert rows["memory.hbm.channels"][2] == "preset memory/hbm3"


def test_cli_describe(capsys):
    assert cli.main(["params", "tiny", "--describe"]) == 0
    out = capsys.readouterr().out
    for word in ("pcu.stages", "memory.hbm.tRCD", "set by", "enclosing section", "default"):
        assert word in out
    assert cli.main(["params", "nosuch", "--describe"]) == 2
    assert "rdu: error: config 'nosuch': no such preset" in capsys.readouterr().err


def test_gen_unit_system_is_the_simulated_system():
    assert cli.build_parser().parse_args(["gen", "tiny", "--unit", "system"]).unit == "system"
    gen = cli.generate_unit("system", load("tiny"))
    assert isinstance(gen.component, System) and gen.top == "rdu_system_tiny"
    assert gen.sources


def test_lint_leaves_the_system_out_unless_asked(monkeypatch, capsys):
    assert "system" in cli.UNITS and "system" not in cli.LINT_UNITS
    assert cli.LINT_UNITS == ("smoke", "pcu", "pmu", "switch", "fabric", "memory")
    seen = []

    def fake_generate(unit, params):
        seen.append((params.name, unit))
        return types.SimpleNamespace(top=f"{unit}_top")

    monkeypatch.setattr(cli, "generate_unit", fake_generate)
    monkeypatch.setattr(cli.runner.Design, "of", staticmethod(lambda gen, **kw: gen))
    monkeypatch.setattr(cli.runner, "lint", lambda design: None)
    assert cli.main(["lint", "--all"]) == 0
    assert seen == [(c, u) for c in ("tiny", "sim", "fpga") for u in cli.LINT_UNITS]
    seen.clear()
    assert cli.main(["lint", "--config", "tiny", "--unit", "system"]) == 0
    assert seen == [("tiny", "system")]
    capsys.readouterr()
