"""The kernel suite ``make sim`` runs, on the ``small`` System with **gate-level** arithmetic.

Every other RTL test simulates the behavioural functional units (the default of Verilator
builds, docs/architecture.md §6); this one runs the synthesizable ones — what an FPGA build
gets — end to end: every kernel of the suite bit-exact against its golden model. It needs its own
System build (about 3 CPU minutes), so it runs in ``make test-slow``; ``make test`` checks the
gate-level units against the behavioural ones word for word on every opcode
(``tests/tiles/test_pcu_simfu.py``) and against ``hw.numerics`` (``tests/hw/test_arith_verilator.py``).
"""

from __future__ import annotations

import json

import pytest

from tb.simjob import SUITE, main_job

pytestmark = [pytest.mark.verilator, pytest.mark.slow]


def test_make_sim_suite_with_gate_level_arithmetic(monkeypatch, tmp_path):
    monkeypatch.setenv("RDU_ARITH", "gates")
    out = tmp_path / "sim.json"
    assert main_job("small", seed=1, json_out=out) == 0
    res = json.loads(out.read_text())
    assert [r["case"].split()[0] for r in res["results"]] == [k for k, _, _ in SUITE]
    assert all(r["passed"] for r in res["results"]), res["results"]
