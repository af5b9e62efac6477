"""The pytest plugin for hardware-in-the-loop tests. Not registered by installing straja: a test
suite loads it (tests/conftest.py: `pytest_plugins = ["straja.hil.plugin"]`; hardware/hil-rig.md).

    pytest tests/hil                                   # virtual nodes (the real firmware)
    pytest tests/hil --node-port /dev/ttyACM0 --board esp32s3_devkitc1
    pytest tests/hil --node-port /dev/ttyACM0,/dev/ttyACM1 --power-cmd "uhubctl -l 1-1 -p {index} -a {action}"

Fixtures: `node` (one straja.hil.node.Node) and `nodes` (a factory: `nodes(2)` gives two; the
first is `node` if a test asks for both); `node_rf`, the RF a virtual node's radios hear, for a
test or conftest to override. Markers: `hil` (needs real nodes), `virtual_only` (fault injection
a board cannot do), `power_switch` (switches power: virtual nodes, or a rig with --power-cmd).
hardware/hil-rig.md describes a rig. This module imports only pytest and the standard library at
load time, so the plugin costs nothing in test runs that do not use it: the imports inside its
functions are deliberately lazy.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

MARKERS = {
    "hil": "needs real nodes on serial ports (--node-port); skipped on virtual nodes",
    "virtual_only": "fault injection only a virtual node allows; skipped with --node-port",
    "power_switch": "switches a node's power: virtual nodes, or a rig with --power-cmd",
}
VIRTUAL_NODE_IDS = 7  # virtual nodes get node ids 7, 8, ... (7 as tests/conftest.py's node)
VIRTUAL_OFF_S = 0.3  # a virtual node has no capacitors to drain


def pytest_addoption(parser) -> None:
    group = parser.getgroup("straja", "Straja hardware-in-the-loop (hardware/hil-rig.md)")
    group.addoption("--node-port", action="append", default=[], metavar="PORT[,PORT...]",
                    help="a real node's serial port; repeat it, or give several separated by "
                    "commas, for multi-node tests. Without it the fixtures start virtual nodes")
    group.addoption("--board", default=None, metavar="NAME",
                    help="the nodes' board profile (hardware/boards/NAME.json); for virtual "
                    "nodes, the virtual board's profile (default: virtual)")
    group.addoption("--power-cmd", default=None, metavar="TEMPLATE",
                    help="command switching a node's power, with {action} (off/on), {index} "
                    "and {port}, e.g. \"uhubctl -l 1-1 -p {index} -a {action}\"")
    group.addoption("--power-index", default=None, metavar="N[,N...]",
                    help="{index} of each --node-port in order (default 1, 2, ...)")
    group.addoption("--power-off-s", type=float, default=2.0,
                    help="how long a power cycle keeps a node off (default 2 s)")
    group.addoption("--hil-log-dir", type=Path, default=None,
                    help="where per-node logs go (default: each test's tmp_path)")
    group.addoption("--hil-frames", type=int, default=2000,
                    help="frames the streaming test must receive without loss (default 2000)")
    group.addoption("--hil-soak-s", type=float, default=20.0,
                    help="length of the memory stability run in seconds (default 20)")
    group.addoption("--micropython-image", type=Path, default=None, metavar="FILE",
                    help="a MicroPython image for the boards under test (.bin for ESP32, .uf2 "
                         "for RP2040): enables the test that flashes it and redeploys")


def pytest_configure(config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def node_ports(config) -> list[str]:
    """--node-port values, each split at commas and spaces."""
    return [p for value in config.getoption("node_port") or [] for p in re.split(r"[,\s]+", value)
            if p]


def pytest_runtest_setup(item) -> None:
    if item.get_closest_marker("hil") and not node_ports(item.config):
        pytest.skip("needs real hardware: run with --node-port PORT (hardware/hil-rig.md)")
    if item.get_closest_marker("virtual_only") and node_ports(item.config):
        pytest.skip("fault injection only a virtual node allows (the nodes here are real)")
    if (item.get_closest_marker("power_switch") and node_ports(item.config)
            and not item.config.getoption("power_cmd")):
        pytest.skip("needs a power switch for the nodes: give --power-cmd (hardware/hil-rig.md)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, the tail of each node's log goes into the report, beside captured output."""
    outcome = yield
    report = outcome.get_result()
    handles = getattr(item, "_straja_nodes", None)
    if report.failed and handles:
        for handle in handles:
            lines = handle.log_path.read_text(errors="replace").splitlines()[-60:]
            report.sections.append((f"straja {handle.name} log ({handle.log_path})",
                                    "\n".join(lines)))


@pytest.fixture
def node_rf():
    """The RF a virtual node's radios hear: a carrier in each virtual front end's band."""
    from ..vboard.sources import ToneSource

    return ToneSource()


class Rig:
    """The nodes of one test: real ports from the options, or virtual nodes started on demand."""

    def __init__(self, request, tmp_path: Path, rf):
        self.config = request.config
        self.item = request.node
        self.tmp_path = tmp_path
        self.rf = rf
        self.ports = node_ports(self.config)
        self.handles = []
        self._virtual = []
        self._saved_configs = []
        self.item._straja_nodes = self.handles

    def log_path(self, name: str) -> Path:
        from .node import log_name

        folder = self.config.getoption("hil_log_dir") or self.tmp_path
        return Path(folder) / log_name(self.item.nodeid, name)

    def __call__(self, n: int = 1) -> list:
        while len(self.handles) < n:
            self.handles.append(self._real(len(self.handles)) if self.ports
                                else self._start_virtual(len(self.handles)))
        return self.handles[:n]

    def _real(self, i: int):
        from .node import Node
        from .power import CommandPower

        if i >= len(self.ports):
            pytest.skip(f"needs {i + 1} nodes; --node-port gave {len(self.ports)}")
        port = self.ports[i]
        template = self.config.getoption("power_cmd")
        power = None
        if template:
            indexes = (self.config.getoption("power_index") or "").split(",")
            index = indexes[i] if i < len(indexes) and indexes[i] else str(i + 1)
            power = CommandPower(template, int(index), port)
        handle = Node(port, f"node{i}", self.log_path(f"node{i}"), power=power,
                      power_off_s=self.config.getoption("power_off_s"))
        try:
            self._settle(handle)
        except BaseException:
            handle.close()
            raise
        self._saved_configs.append(handle.call("get"))
        return handle

    @staticmethod
    def _settle(handle) -> None:
        """Bring a board to a known state: the firmware answering, not streaming."""
        try:
            handle.wait_ready(timeout=3)
        except TimeoutError:
            handle.soft_reset()  # left at the REPL by an earlier run, or stuck
            handle.wait_ready()
        handle.call("stop")

    def _start_virtual(self, i: int):
        from .node import Node
        from .power import VirtualPower
        from .virtual import FirmwareNode

        board = self.config.getoption("board") or "virtual"
        vnode = FirmwareNode(self.tmp_path / f"node{i}" / "flash", self.rf,
                             node_id=VIRTUAL_NODE_IDS + i, board=board)
        self._virtual.append(vnode)
        handle = Node(vnode.port, f"node{i}", self.log_path(f"node{i}"),
                      power=VirtualPower(vnode), virtual=vnode, power_off_s=VIRTUAL_OFF_S)
        handle.wait_ready()
        return handle

    def close(self) -> None:
        for handle, saved in zip(self.handles, self._saved_configs):
            self._restore(handle, saved)
        for handle in self.handles:
            handle.close()
        for vnode in self._virtual:
            vnode.stop()

    @staticmethod
    def _restore(handle, saved: dict) -> None:
        """Leave a board as the test found it: not streaming, its config unchanged."""
        try:
            handle.wait_ready(timeout=10)
            handle.call("stop")
            if handle.call("get") != saved:
                handle.set_config(saved)
        except Exception as e:  # noqa: BLE001 - the test's own result matters more
            handle.note(f"could not restore the node: {e}")


@pytest.fixture
def nodes(request, tmp_path, node_rf):
    """A factory: `nodes(n)` gives n node handles (the same ones on every call)."""
    rig = Rig(request, tmp_path, node_rf)
    yield rig
    rig.close()


@pytest.fixture
def node(nodes):
    """One node handle (straja.hil.node.Node)."""
    return nodes(1)[0]


@pytest.fixture
def hil_options(request) -> dict:
    """The suite's tunables: `frames` for the streaming test, `soak_s` for the memory run,
    `board` (--board or None)."""
    config = request.config
    return {"frames": config.getoption("hil_frames"), "soak_s": config.getoption("hil_soak_s"),
            "board": config.getoption("board")}
