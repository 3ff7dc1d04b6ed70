"""Fixtures for every test."""

from __future__ import annotations

import os

import pytest

#: set for the whole process by ``rdu -q`` / ``rdu -v`` (so that the simulators it starts
#: inherit them): restored after each test, so that one test's flags do not silence the next
CLI_ENVIRONMENT = ("RDU_QUIET", "RDU_VERBOSE")


@pytest.fixture(autouse=True)
def _restore_cli_environment():
    saved = {k: os.environ.get(k) for k in CLI_ENVIRONMENT}
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
