"""`straja ports`: USB identities, Bluetooth left out, selection by serial number and node id
(a virtual node named in STRAJA_EXTRA_PORTS, probed through its raw REPL)."""
from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from straja import ports, term
from straja.deploy import Deployer
from straja.vnode.bridge import VirtualNode
from test_tools_deploy import make_tree
from test_tools_device import cli

FAKE = [
    SimpleNamespace(device="/dev/ttyACM0", vid=0x303A, pid=0x1001, serial_number="S3-A",
                    description="USB JTAG/serial debug unit", location="1-1"),
    SimpleNamespace(device="/dev/ttyUSB0", vid=0x1A86, pid=0x55D4, serial_number="CH-B",
                    description="USB Single Serial", location="1-2"),
    SimpleNamespace(device="/dev/ttyACM1", vid=0x2E8A, pid=0x0005, serial_number="E66",
                    description="Board in FS mode", location="1-3"),
    SimpleNamespace(device="/dev/rfcomm0", vid=None, pid=None, serial_number=None,
                    description="Bluetooth", location=None),
    SimpleNamespace(device="/dev/ttyS0", vid=None, pid=None, serial_number=None,
                    description="ttyS0", location=None),
]


@pytest.fixture
def fake_usb(monkeypatch):
    monkeypatch.setattr(ports.list_ports, "comports", lambda: FAKE)
    monkeypatch.delenv(ports.EXTRA_PORTS_ENV, raising=False)


def test_usb_identities_and_no_bluetooth(fake_usb, capsys):
    assert cli(ports, "ports", "--json") == term.EXIT_OK
    rows = {r["device"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["/dev/ttyACM0"]["kind"] == "Espressif native USB"
    assert rows["/dev/ttyUSB0"]["kind"] == "CH9102"
    assert rows["/dev/ttyACM1"]["kind"] == "RP2 MicroPython"
    assert "/dev/rfcomm0" not in rows and "/dev/ttyS0" not in rows
    assert ports.usb_kind(0x10C4, 0xEA60) == "CP210x" and ports.usb_kind(0x0403, 0x6015) == "FTDI"
    assert ports.usb_kind(0x2E8A, 0x0003) == "RP2040 BOOTSEL"


def test_select_by_serial_number(fake_usb):
    assert ports.resolve("serial:CH-B") == "/dev/ttyUSB0"
    assert ports.resolve("/dev/ttyACM9") == "/dev/ttyACM9"
    with pytest.raises(ports.ToolError, match="no port with USB serial number NOPE"):
        ports.resolve("serial:NOPE")


def test_bootsel_boards_on_the_usb_bus(tmp_path):
    dev = tmp_path / "1-4"
    dev.mkdir()
    (dev / "idVendor").write_text("2e8a\n")
    (dev / "idProduct").write_text("000f\n")
    (dev / "serial").write_text("ABC\n")
    found = ports.bootsel_devices(tmp_path)
    assert [(p.kind, p.serial_number) for p in found] == [("RP2350 BOOTSEL", "ABC")]


def test_probe_and_select_by_node_id(fake_usb, tmp_path, monkeypatch, capsys):
    tree = make_tree(tmp_path / "fw", "3")
    with VirtualNode(tmp_path / "flash", name="p") as node:
        time.sleep(0.3)
        assert Deployer(tree, confirm=False).deploy(node.port).status == "deployed"
        (node.flash_dir / "config.json").write_text('{"node_id": 12}')
        monkeypatch.setattr(ports.list_ports, "comports", lambda: [])
        monkeypatch.setenv(ports.EXTRA_PORTS_ENV, node.port)
        assert ports.resolve("node:12") == node.port
        assert cli(ports, "ports", "--probe", "--json") == term.EXIT_OK
        rows = json.loads(capsys.readouterr().out)
        assert rows[0]["probe"]["node_id"] == 12 and rows[0]["probe"]["firmware"] == "3"
        assert rows[0]["probe"]["micropython"].startswith("1.")
