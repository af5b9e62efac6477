"""`straja provision`: blank board to tested node, recorded in the fleet inventory
(straja.tools.provision)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .. import term
from ..paths import FIRMWARE
from ..argtypes import (board_name, existing_file, existing_folder, key_value, node_id,
                        port_name, version, writable_path)

DEFAULT_INVENTORY = Path("straja-inventory.jsonl")


def position(text: str) -> dict:
    """LAT,LON,HEIGHT (degrees, degrees, metres above the WGS84 ellipsoid) as the inventory and
    the gateway config's [nodes.<id>] keep it; refused while parsing when not one."""
    from ..locate import GeoPoint  # (NumPy: only once a position is given)
    try:
        point = GeoPoint.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return {"latitude": point.lat, "longitude": point.lon, "height_m": point.hae_m}


def configure(p) -> None:
    p.description = ("Identify the board, flash MicroPython if it is missing or not the wanted "
                     "version (needs --image), deploy the firmware, write the board profile and "
                     "node id, reset, run the self-test and append the result to the inventory "
                     "file.")
    p.add_argument("port", metavar="PORT", type=port_name, help="serial port, serial:USBSERIAL, or `bootsel`")
    p.add_argument("--node-id", type=node_id, required=True, help="the node's id, 1..65535")
    p.add_argument("--board", type=board_name, help="board profile name (hardware/boards/NAME.json); default: the "
                   "one already on the node")
    p.add_argument("--image", type=existing_file, help="MicroPython image (.bin or .uf2) to flash if needed")
    p.add_argument("--micropython", metavar="VERSION", type=version,
                   help="flash --image unless the node runs this MicroPython version (e.g. 1.24.1)")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   type=key_value,
                   help="a config value to set after the node id (repeatable)")
    p.add_argument("--position", type=position, metavar="LAT,LON,HEIGHT",
                   help="the node's surveyed antenna position (degrees; metres above the WGS84 "
                   "ellipsoid, as GNSS gives it): recorded, and printed as the gateway config's "
                   "[nodes.<id>] table")
    p.add_argument("--source", type=existing_folder, default=FIRMWARE, help="firmware folder")
    p.add_argument("--inventory", type=writable_path, default=DEFAULT_INVENTORY,
                   help=f"inventory file to append to (default: ./{DEFAULT_INVENTORY})")
    p.add_argument("--json", action="store_true", help="print the inventory record as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..tools.provision import append_record, nodes_table, provision
    record = provision(args, say=lambda text: print(text) if not args.json else None)
    append_record(args.inventory, record)
    if args.json:
        term.print_json(record)
    else:
        for name, part in sorted(record["selftest"].items()):
            mark = term.paint("ok  ", "green") if part["ok"] else term.paint("FAIL", "red")
            print(f"  {mark} {name}: {part['detail']}")
        verdict = "passed" if record["selftest_ok"] else "FAILED its self-test"
        print(f"node {record['node_id']} ({record['board']}) on {record['port']} {verdict}; "
              f"recorded in {args.inventory}")
        if record.get("position"):
            print("for the gateway config (docs/gateway.md, \"Node positions\"):\n"
                  + nodes_table(record["node_id"], record["position"]))
    if not record["selftest_ok"]:
        term.error("the self-test failed", "check the failed part's wiring and antenna, then run "
                   "straja provision again (the record above stays in the inventory)")
        return term.EXIT_FAILED
    return term.EXIT_OK
