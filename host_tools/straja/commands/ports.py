"""`straja ports`: the serial ports a node can be on and what is on them (straja.tools.ports)."""
from __future__ import annotations

from dataclasses import asdict

from .. import term
from ..argtypes import EXTRA_PORTS_ENV, port_name


def configure(p) -> None:
    p.description = ("List USB serial ports with their USB identity and serial number, and RP2 "
                     "boards in BOOTSEL mode. With --probe, ask each port whether MicroPython, "
                     "which Straja firmware and which node id answer (this restarts the node's "
                     "application). Elsewhere, PORT may be serial:USBSERIAL or node:ID instead of "
                     "a path. Ports without a USB identity are listed only when named here or in "
                     f"${EXTRA_PORTS_ENV}.")
    p.add_argument("extra", nargs="*", metavar="PORT", type=port_name, help="also list these ports")
    p.add_argument("--probe", action="store_true", help="ask what runs on each port")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..tools.ports import bootsel_devices, candidates, probe_port  # (pyserial)
    ports = candidates(args.extra)
    if args.probe:
        for p in ports:
            p.probe = probe_port(p.device)
    ports += bootsel_devices()
    if args.json:
        term.print_json([asdict(p) | {"usb_id": p.usb_id} for p in ports])
        return term.EXIT_OK
    if not ports:
        print("no USB serial ports found (is the node plugged in, with a data cable?)")
        return term.EXIT_NO_DEVICE
    for p in ports:
        line = f"{p.device:<22} {p.usb_id:<10} {p.kind:<22} {p.serial_number or '-':<18}"
        if p.probe:
            line += "  " + describe_probe(p.probe)
        print(line)
    return term.EXIT_OK


def describe_probe(probe: dict) -> str:
    if probe.get("error"):
        return term.paint(probe["error"].split(": ", 1)[-1], "yellow")
    text = f"MicroPython {probe['micropython']}"
    if probe.get("firmware"):
        text += f", Straja {probe['firmware']}"
    if probe.get("node_id") is not None:
        text += f", node {probe['node_id']}"
    return text
