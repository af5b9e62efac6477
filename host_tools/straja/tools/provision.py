"""Provisioning (`straja provision`): one node from blank (or anything) to tested, recorded in
the fleet inventory.

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

from .. import protocol, term
from ..errors import StrajaError
from ..argtypes import read_text
from ..boards import load_profile
from ..protocol import CommandError
from .deploy import PUT_FILE, Deployer, wait_for_firmware
from .flash import check_image, flash_image
from .ports import candidates, resolve
from .session import NoMicroPython, Session, probe

# Writes config.json on the node (after PUT_FILE), keeping the keys already there.
WRITE_SETTINGS = PUT_FILE + """\
import json
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


def identify(port: str) -> dict | None:
    """The node's probe, or None when no MicroPython answers (a blank board)."""
    try:
        with Session(port) as s:
            return probe(s)
    except NoMicroPython:
        return None


def usb_serial(port: str) -> str | None:
    return next((p.serial_number for p in candidates() if p.device == port), None)


def provision(args, say=print) -> dict:
    if not 1 <= args.node_id <= 65535:
        raise StrajaError("--node-id must be 1..65535 (0 means not provisioned)",
                          code=term.EXIT_USAGE)
    check_inventory(args.inventory)  # (before the node: its record would have nowhere to go)
    if args.image:
        check_image(args.port, args.image)
    port = args.port if args.port == "bootsel" else resolve(args.port)
    info = None if port == "bootsel" else identify(port)
    wrong = info and args.micropython and info["micropython"] != args.micropython
    if info is None or wrong:
        if not args.image:
            why = "no MicroPython answers" if info is None else (
                f"it runs MicroPython {info['micropython']}, not {args.micropython}")
            raise StrajaError(f"{port}: {why}", "give the MicroPython image: --image FILE",
                              term.EXIT_NO_DEVICE)
        say(f"flashing {args.image.name} ...")
        port = flash_image(port, args.image, erase=info is None)["port"]
        info = identify(port)
    board = args.board or info.get("board")
    if not board:
        raise StrajaError(f"{port}: the node has no board profile yet", "name it: --board NAME "
                          "(see hardware/boards/)", term.EXIT_USAGE)
    try:
        load_profile(board)
    except (ValueError, FileNotFoundError) as e:
        raise StrajaError(f"{port}: {e}", "name the board's profile: --board NAME (see "
                          "hardware/boards/)", term.EXIT_USAGE) from e

    say(f"deploying the firmware to {port} ...")
    result = Deployer(args.source, board=board, reset=False, log=lambda text: None).deploy(port)
    if result.status == "failed":
        raise StrajaError(result.error or "deploy failed", result.fix or "", result.code)
    with Session(port) as s:
        s.exec(WRITE_SETTINGS.format(node_id=args.node_id), "writing the node id")
        s.soft_reset()
    say("waiting for the firmware ...")
    with wait_for_firmware(port) as link:
        if args.settings:
            try:
                link.call("set", " ".join(args.settings))
            except CommandError as e:
                raise StrajaError(f"the node refused --set: {e}", "see docs/firmware.md for the "
                                  "config keys; the node id is already written", term.EXIT_USAGE) from e
        info_reply = link.call_object("info")
        reply = link.command("selftest", timeout=20)
    outcome = protocol.parse_reply_json(reply.text) if reply.text else {}
    tests = outcome.get("parts") if isinstance(outcome, dict) else None
    tests = tests if isinstance(tests, dict) else {}  # (none readable: no pass, below)
    # a self-test that tested no part is no pass, whatever the node answered
    passed = reply.status == 0 and bool(tests)
    return {
        "node_id": args.node_id, "board": board, "usb_serial": usb_serial(port), "port": port,
        "firmware_hash": result.firmware_hash, "firmware_version": info_reply.get("version"),
        "micropython": info["micropython"],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "technician": getpass.getuser(), "selftest_ok": passed, "selftest": tests,
        "position": getattr(args, "position", None),
    }


def nodes_table(node_id: int, position: dict) -> str:
    """The gateway config's [nodes.<id>] table (TOML) of a surveyed position."""
    return (f"[nodes.{node_id}]\nlatitude = {position['latitude']:.7f}\n"
            f"longitude = {position['longitude']:.7f}\nheight_m = {position['height_m']:.1f}")


def latest_record(path: Path, node_id: int) -> dict | None:
    """The inventory's newest record of node_id (None without one, or without the file)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    found = None
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # (a line cut by a crash: the others still count)
        if isinstance(record, dict) and record.get("node_id") == node_id:
            found = record
    return found


def check_inventory(path: Path) -> None:
    """A usage error unless `path` is new, empty or an inventory: every whole line a JSON object
    (a last line without its line break may be cut by a crash). Another file named by mistake
    would get a node's record appended to it."""
    if not path.exists():
        return
    fix = "name the fleet inventory (the JSON lines straja provision writes), or a new file"
    try:
        lines = read_text(path).split("\n")[:-1]  # (the last part: empty, or cut short)
    except OSError as e:
        raise StrajaError(f"--inventory {path}: {e.strerror}", fix, term.EXIT_USAGE) from None
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            raise StrajaError(f"--inventory {path}: line {number} is not an inventory record "
                              "(a JSON object)", fix, term.EXIT_USAGE)


def append_record(path: Path, record: dict) -> None:
    """One JSON object per line: appending never rewrites what earlier nodes recorded."""
    with path.open("a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
