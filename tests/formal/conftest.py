"""Fixtures of the formal checks (docs/verification.md)."""

import pytest

from hw import formal


@pytest.fixture
def prove(tmp_path):
    """``prove(spec, name, mode, depth)``: run a formal check in the test's temporary directory and
    fail the test with the failed properties and the trace path unless it passes."""
    def run(spec, name, mode, depth):
        return formal.check(spec, name=name, mode=mode, depth=depth, workdir=tmp_path)
    return run


@pytest.fixture
def refute(tmp_path):
    """``refute(spec, name, mode, depth, prop)``: run a formal check of a mutant and assert that it
    fails with the property ``prop`` among the failed ones (``prop`` with no ``"port: "`` prefix
    matches that property of any port); returns the result."""
    def run(spec, name, mode, depth, prop):
        result = formal.run(spec, name=name, mode=mode, depth=depth, workdir=tmp_path)
        assert result.status == "FAIL", result.describe()
        found = result.failed_properties
        if ": " not in prop:
            found = [p.split(": ", 1)[-1] for p in found]
        assert prop in found, result.describe()
        assert result.trace is not None and result.trace.exists()
        return result
    return run
