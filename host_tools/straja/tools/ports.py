"""The serial ports a node can be on, what is on them, and selecting one by USB
serial number or node id rather than by list order (which changes with every replug).

Only USB ports are candidates: a laptop's Bluetooth serial ports and a PC's built-in UARTs have no
USB identity and are never a node. A port with no USB identity that does carry a node (the gateway
Pi's GPIO UART, a virtual node's pseudo-terminal) is added with STRAJA_EXTRA_PORTS (colon-separated
paths) or by naming it on the command line.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from serial.tools import list_ports

from .. import term
from ..argtypes import EXTRA_PORTS_ENV, extra_ports  # noqa: F401 (the name, for callers)
from ..errors import StrajaError
from .session import Session, firmware_link, probe

# USB vendor:product -> what it is. A product of None matches every product of the vendor.
# Sources: Espressif's USB PID list (github.com/espressif/usb-pids), Silicon Labs AN197 (CP210x),
# WCH's CH34x/CH9102 datasheets, FTDI TN_100, Raspberry Pi's USB PID list (2E8A).
USB_KINDS = {
    (0x303A, None): "Espressif native USB",
    (0x10C4, 0xEA60): "CP210x",
    (0x10C4, 0xEA70): "CP210x",
    (0x1A86, 0x7523): "CH340",
    (0x1A86, 0x5523): "CH341",
    (0x1A86, 0x55D4): "CH9102",
    (0x1A86, 0x55D3): "CH343",
    (0x0403, None): "FTDI",
    (0x2E8A, 0x0005): "RP2 MicroPython",
}
# RP2 boot ROMs (BOOTSEL held at power-up): a USB drive, not a serial port.
RP2_BOOTSEL = {(0x2E8A, 0x0003): "RP2040 BOOTSEL", (0x2E8A, 0x000F): "RP2350 BOOTSEL"}


@dataclass
class PortInfo:
    device: str
    kind: str
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    description: str = ""
    location: str | None = None
    probe: dict = field(default_factory=dict)

    @property
    def usb_id(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}" if self.vid is not None else "-"


def usb_kind(vid: int | None, pid: int | None) -> str | None:
    if vid is None:
        return None
    return USB_KINDS.get((vid, pid)) or USB_KINDS.get((vid, None)) or RP2_BOOTSEL.get((vid, pid))


def candidates(extra: list[str] | tuple[str, ...] = ()) -> list[PortInfo]:
    """USB serial ports (with what their USB identity says), then the extra ports, by path."""
    found = []
    for p in list_ports.comports():
        if p.vid is None:
            continue  # Bluetooth, built-in UARTs, virtual ports: not a node unless named
        found.append(PortInfo(p.device, usb_kind(p.vid, p.pid) or "USB serial", p.vid, p.pid,
                              p.serial_number, p.description or "", p.location))
    found.sort(key=lambda p: p.device)
    named = list(extra) + extra_ports()
    for path in named:
        if not any(p.device == path for p in found):
            found.append(PortInfo(path, "named port"))
    return found


def bootsel_devices(sysfs: Path = Path("/sys/bus/usb/devices")) -> list[PortInfo]:
    """RP2 boards waiting in BOOTSEL mode (seen on the USB bus; they have no serial port)."""
    found = []
    for dev in sorted(sysfs.glob("*")):
        try:
            vid = int((dev / "idVendor").read_text(), 16)
            pid = int((dev / "idProduct").read_text(), 16)
        except (OSError, ValueError):
            continue
        if (vid, pid) in RP2_BOOTSEL:
            serial = dev / "serial"
            found.append(PortInfo(f"usb:{dev.name}", RP2_BOOTSEL[(vid, pid)], vid, pid,
                                  serial.read_text().strip() if serial.exists() else None))
    return found


def probe_port(path: str) -> dict:
    """What answers on `path`: MicroPython (version) and the Straja firmware and node id.

    The raw REPL interrupts the application; a soft reset afterwards starts it again.
    """
    try:
        with Session(path) as s:
            info = probe(s)
            s.soft_reset()
    except StrajaError as e:  # PortError too
        return {"error": str(e), "micropython": None}
    keep = ("micropython", "mpy", "firmware", "firmware_hash", "node_id", "board", "machine")
    return {k: info.get(k) for k in keep}


def wait_for_application(port: str, tries: int = 5) -> None:
    """Until the firmware on `port` answers again (the probe restarted it), so that the command
    that follows does not find it still booting; one that never answers is left for that command
    to report."""
    for _ in range(tries):
        try:
            firmware_link(port).close()
            return
        except StrajaError:
            time.sleep(0.2)


def resolve(spec: str) -> str:
    """A port path from PORT, `serial:USBSERIAL` or `node:ID` (the latter probes every candidate)."""
    kind, _, value = spec.partition(":")
    if kind == "serial" and value:
        matches = [p.device for p in candidates() if p.serial_number == value]
        what = f"USB serial number {value}"
    elif kind == "node" and value:
        matches = [p.device for p in candidates() if str(probe_port(p.device).get("node_id")) == value]
        what = f"node id {value}"
    else:
        return spec
    if len(matches) == 1:
        if kind == "node":
            wait_for_application(matches[0])
        return matches[0]
    if not matches:
        raise StrajaError(f"no port with {what}", "straja ports --probe lists what is connected",
                          term.EXIT_NO_DEVICE)
    raise StrajaError(f"{len(matches)} ports have {what}: {', '.join(matches)}",
                      "give the port path instead", term.EXIT_USAGE)
