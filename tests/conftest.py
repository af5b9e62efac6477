"""Fixtures shared by the test suite: virtual nodes running the real firmware.

FirmwareNode lives in straja.hil.virtual (the HIL plugin's virtual nodes use it too); it is
re-exported here for the tests that import it from conftest.
"""
from __future__ import annotations

import pytest

from straja.hil.virtual import FirmwareNode
from straja.vboard.sources import ToneSource

__all__ = ["FirmwareNode"]

# The HIL suite's fixtures and options (installing straja does not register the plugin).
pytest_plugins = ["straja.hil.plugin"]


def pytest_configure(config):
    config.addinivalue_line("markers", "chaos: the gateway's fault-injection suite (`make chaos`)")


@pytest.fixture
def tone_rf():
    """A carrier in the middle of every virtual front end's band, over a thermal noise floor."""
    return ToneSource()


@pytest.fixture
def firmware_node(tmp_path, tone_rf):
    node = FirmwareNode(tmp_path / "flash", tone_rf)
    yield node
    node.stop()
