"""Fixtures shared by the test suite: virtual nodes running the real firmware.

FirmwareNode lives in straja.hil.virtual (the HIL plugin's virtual nodes use it too); it is
re-exported here for the tests that import it from conftest.
"""
from __future__ import annotations

import time

import pytest

from straja.hil.virtual import FirmwareNode
from straja.vboard.sources import ToneSource

__all__ = ["FirmwareNode"]

# The HIL suite's fixtures and options (installing straja does not register the plugin).
pytest_plugins = ["straja.hil.plugin"]


# The files that take longest, slowest first (`make test`'s --durations, summed by file, on this
# machine): `make test` runs them first (its pytest-xdist hands out one file at a time, in
# collection order: --no-loadscope-reorder), so that no long file starts last and runs on alone
# while the other process idles. A file not listed runs after these, in its usual order.
SLOWEST_FILES = (
    "test_gateway_presence.py",
    "test_gateway_known.py",
    "test_gateway_chaos.py",
    "test_gateway_position_bands.py",
    "test_web_browser.py",
    "test_classify_scanned.py",
    "test_eval_scene.py",
    "test_cot.py",
    "test_cli.py",
    "test_hq_bridge.py",
    "test_detect_video_scenes.py",
    "test_cli_safety.py",
    "test_gateway_remoteid_link.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: k for k, name in enumerate(SLOWEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: in-file order kept


def pytest_configure(config):
    config.addinivalue_line("markers", "chaos: the gateway's fault-injection suite (`make chaos`)")
    config.addinivalue_line("markers", "realtime: holds a virtual node's real-time timing against "
                            "a model or the truth; `make test` runs these alone, after the rest")


@pytest.fixture
def tone_rf():
    """A carrier in the middle of every virtual front end's band, over a thermal noise floor."""
    return ToneSource()


@pytest.fixture
def firmware_node(tmp_path, tone_rf):
    node = FirmwareNode(tmp_path / "flash", tone_rf)
    yield node
    node.stop()


@pytest.fixture(scope="module")
def module_node(tmp_path_factory):
    """One virtual node (node 7) for a whole test module, hearing a carrier at 2.44 GHz."""
    node = FirmwareNode(tmp_path_factory.mktemp("node") / "flash", ToneSource(2.44e9, -60.0))
    time.sleep(0.5)  # (its firmware starts)
    yield node
    node.stop()


@pytest.fixture
def video_recording(tmp_path):
    """A recording (gateway/record.py) of nodes 1 and 2 hearing one 20 MHz video at 5.8 GHz,
    -70 dBm from 1 s to 8 s of 10 s."""
    from straja.gateway import record
    from straja.testing import synth

    video = synth.Emitter(5_800_000, 20_000, lambda t: -70.0 if 1 < t < 8 else None)
    chunks = synth.merge([synth.node_chunks(n, [video], t0_ns=1_700_000_000 * 10**9,
                                            duration_s=10) for n in (1, 2)])
    path = tmp_path / "run.rec"
    writer = record.RecordWriter(path)
    for c in chunks:
        writer.data(c.source, c.t_ns, c.data)
    writer.close()
    return path
