"""`straja provision`: one node from blank (or anything) to tested, recorded in the fleet inventory.

Steps: identify what answers on the port; flash MicroPython if none answers or the version is
not the one asked for; deploy the firmware; write the board profile, the node id and
`stream_on_boot=true` (a node that resets streams again without a host's `start`; the rest of
the config already there stays) to the node; reset; wait for the firmware; apply --set values;
run the self-test; append one record to the inventory (docs/field-guide.md, "The fleet inventory").
"""
from __future__ import annotations

import datetime
import getpass
import json
from pathlib import Path

from . import term
from .deploy import Deployer, wait_for_firmware
from .device import NoMicroPython, Session, ToolError, command, probe
from .paths import FIRMWARE, board_profile_path
from .protocol import CommandError

DEFAULT_INVENTORY = Path("straja-inventory.jsonl")

# Writes board.json and config.json on the node, each through a temporary file and a rename (the
# firmware's store.py promotes a complete .tmp left by a cut on FAT).
WRITE_SETTINGS = """\
import os, json
def _put(name, text):
    os.chdir('/')
    with open(name + '.tmp', 'w') as f:
        f.write(text)
    os.rename(name + '.tmp', name)
_put('board.json', {board!r})
try:
    with open('config.json') as f:
        _c = json.load(f)
except (OSError, ValueError):
    _c = {{}}
_c['node_id'] = {node_id!r}
_c['stream_on_boot'] = True
_put('config.json', json.dumps(_c))
print(json.dumps(_c))
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "provision", help="blank board to tested node, recorded in the fleet inventory",
        description="Identify the board, flash MicroPython if it is missing or not the wanted "
        "version (needs --image), deploy the firmware, write the board profile and node id, "
        "reset, run the self-test and append the result to the inventory file.")
    p.add_argument("port", metavar="PORT", help="serial port, serial:USBSERIAL, or `bootsel`")
    p.add_argument("--node-id", type=int, required=True, help="the node's id, 1..65535")
    p.add_argument("--board", help="board profile name (hardware/boards/NAME.json); default: the "
                   "one already on the node")
    p.add_argument("--image", type=Path, help="MicroPython image (.bin or .uf2) to flash if needed")
    p.add_argument("--micropython", metavar="VERSION",
                   help="flash --image unless the node runs this MicroPython version (e.g. 1.24.1)")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="a config value to set after the node id (repeatable)")
    p.add_argument("--source", type=Path, default=FIRMWARE, help="firmware folder")
    p.add_argument("--inventory", type=Path, default=DEFAULT_INVENTORY,
                   help=f"inventory file to append to (default: ./{DEFAULT_INVENTORY})")
    p.add_argument("--json", action="store_true", help="print the inventory record as JSON")
    p.set_defaults(func=run)


def identify(port: str) -> dict | None:
    """The node's probe, or None when no MicroPython answers (a blank board)."""
    try:
        with Session(port) as s:
            return probe(s)
    except NoMicroPython:
        return None


def usb_serial(port: str) -> str | None:
    from .ports import candidates

    return next((p.serial_number for p in candidates() if p.device == port), None)


def provision(args, say=print) -> dict:
    from .flash import flash_image
    from .ports import resolve

    if not 1 <= args.node_id <= 65535:
        raise ToolError("--node-id must be 1..65535 (0 means not provisioned)",
                        code=term.EXIT_USAGE)
    port = args.port if args.port == "bootsel" else resolve(args.port)
    info = None if port == "bootsel" else identify(port)
    wrong = info and args.micropython and info["micropython"] != args.micropython
    if info is None or wrong:
        if not args.image:
            why = "no MicroPython answers" if info is None else (
                f"it runs MicroPython {info['micropython']}, not {args.micropython}")
            raise ToolError(f"{port}: {why}", "give the MicroPython image: --image FILE",
                            term.EXIT_NO_DEVICE)
        say(f"flashing {args.image.name} ...")
        port = flash_image(port, args.image, erase=info is None)["port"]
        info = identify(port)
    board = args.board or info.get("board")
    if not board:
        raise ToolError(f"{port}: the node has no board profile yet", "name it: --board NAME "
                        "(see hardware/boards/)", term.EXIT_USAGE)
    try:
        profile = board_profile_path(board).read_text()
    except (ValueError, FileNotFoundError) as e:
        raise ToolError(f"{port}: {e}", "name the board's profile: --board NAME (see "
                        "hardware/boards/)", term.EXIT_USAGE) from e

    say(f"deploying the firmware to {port} ...")
    result = Deployer(args.source, reset=False, log=lambda text: None).deploy(port)
    if result.status == "failed":
        raise ToolError(result.error or "deploy failed", result.fix or "", result.code)
    with Session(port) as s:
        s.exec(WRITE_SETTINGS.format(board=profile, node_id=args.node_id),
               "writing the board profile and node id")
        s.soft_reset()
    say("waiting for the firmware ...")
    with wait_for_firmware(port) as link:
        if args.settings:
            try:
                link.call("set", " ".join(args.settings))
            except CommandError as e:
                raise ToolError(f"the node refused --set: {e}", "see docs/firmware.md for the "
                                "config keys; the node id is already written", term.EXIT_USAGE) from e
        info_reply = link.call("info")
        reply = link.command("selftest", timeout=20)
    tests = json.loads(reply.text).get("parts", {}) if reply.text else {}
    # a self-test that tested no part is no pass, whatever the node answered
    passed = reply.status == 0 and bool(tests)
    return {
        "node_id": args.node_id, "board": board, "usb_serial": usb_serial(port), "port": port,
        "firmware_hash": result.firmware_hash, "firmware_version": info_reply.get("version"),
        "micropython": info["micropython"],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "technician": getpass.getuser(), "selftest_ok": passed, "selftest": tests,
    }


def append_record(path: Path, record: dict) -> None:
    """One JSON object per line: appending never rewrites what earlier nodes recorded."""
    with path.open("a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")


@command
def run(args) -> int:
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
    if not record["selftest_ok"]:
        term.error("the self-test failed", "check the failed part's wiring and antenna, then run "
                   "straja provision again (the record above stays in the inventory)")
        return term.EXIT_FAILED
    return term.EXIT_OK
