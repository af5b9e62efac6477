"""`straja info`, `straja config`, `straja reset`, `straja repl`: small commands on one node.

Building their parsers imports neither pyserial nor the tools: the functions that run the
commands do."""
from __future__ import annotations

import contextlib
import json
import os
import selectors
import sys
import termios
import tty

from .. import term
from ..argtypes import existing_file, port_name
from ..errors import StrajaError
from ..gateway import replies
from ..protocol import OK, CommandError
from ..rawrepl import ReplError
from .provision import DEFAULT_INVENTORY

REPL_EXIT_KEY = b"\x1d"  # Ctrl-], as telnet, miniterm and mpremote use: never sent to the board
REPL_EXIT_NAME = "Ctrl-]"


def _port_argument(p) -> None:
    p.add_argument("port", metavar="PORT", type=port_name, help="serial port, serial:USBSERIAL or node:ID")


def configure_info(p) -> None:
    p.description = ("Show the MicroPython version, .mpy version, Straja firmware version and "
                     "hash, board and node id of the node on PORT. The application is "
                     "interrupted and restarted (soft reset).")
    _port_argument(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--inventory", type=existing_file, default=DEFAULT_INVENTORY,
                   help="fleet inventory whose newest record of the node gives its surveyed "
                   f"position (default: ./{DEFAULT_INVENTORY})")
    p.set_defaults(func=run_info)


def configure_config(p) -> None:
    p.description = ("Read (get) or change (set KEY=VALUE ...) the config of the Straja firmware "
                     "running on PORT, through its `get`/`set` commands (docs/protocol.md): the "
                     "node validates every key and changes nothing if one is bad. Values are "
                     "JSON or bare words.")
    _port_argument(p)
    p.add_argument("action", choices=("get", "set"))
    p.add_argument("items", nargs="*", metavar="KEY | KEY=VALUE")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_config)


def configure_reset(p) -> None:
    p.description = ("Soft-reset the node on PORT (boot.py and main.py run again); with --hard, "
                     "reset the chip (machine.reset()).")
    _port_argument(p)
    p.add_argument("--hard", action="store_true", help="reset the whole chip")
    p.set_defaults(func=run_reset)


def configure_repl(p) -> None:
    p.description = (f"Connect this terminal to the node's MicroPython REPL. Ctrl-C interrupts "
                     f"the application, Ctrl-D soft-resets; {REPL_EXIT_NAME} (Ctrl and the "
                     f"closing square bracket) leaves.")
    _port_argument(p)
    p.set_defaults(func=run_repl)


# What `info` prints of the running application's own info reply: its whole numbers (the reset
# cause is wire.py's STATUS code)
RUNNING_COUNTS = ("uptime_s", "boot_count", "overruns", "frames_dropped", "reset_cause")


def running_info(port: str) -> dict | None:
    """The running firmware's own `info` reply (uptime, front ends, plan, overruns), or None
    when no Straja application answers commands on `port`. A reply not of the documented shape
    (docs/firmware.md; a broken or crafted node) becomes {"malformed": why}."""
    from ..tools.session import firmware_link
    try:
        with contextlib.closing(firmware_link(port)) as link:
            reply = link.command("info")
    except (StrajaError, TimeoutError):
        return None
    try:
        running = replies.parse(reply.text)
        if reply.status != OK or not isinstance(running, dict):
            raise replies.ReplyError("not an OK reply with a JSON object")
        replies.check_info(running)
        if "plan" not in running:
            raise replies.ReplyError("no plan")
        replies.check_status_fields(running, RUNNING_COUNTS, ("streaming",))
    except replies.ReplyError as e:
        return {"malformed": str(e)}
    return running


def run_info(args) -> int:
    from ..tools.ports import resolve
    from ..tools.provision import check_inventory, latest_record
    from ..tools.session import Session, probe
    check_inventory(args.inventory)  # (a wrong file is told before the port is looked for)
    port = resolve(args.port)
    running = running_info(port)  # asked first: the probe below restarts the application
    with Session(port) as s:
        info = probe(s)
        s.soft_reset()
    info["port"] = s.port
    info["running"] = running
    record = latest_record(args.inventory, info["node_id"]) if info["node_id"] else None
    info["position"] = record.get("position") if record else None
    if args.json:
        term.print_json(info)
        return term.EXIT_OK
    for key, value in info_rows(info):
        print(f"{key:>14}  {value}")
    return term.EXIT_OK


def info_rows(info: dict) -> list[tuple[str, str]]:
    """What `straja info` prints of a probe (and the running application's info reply)."""
    rows = [("port", info["port"]), ("MicroPython", f"{info['micropython'] or 'unknown'} "
                                                 f"({info['machine'] or 'unknown machine'})"),
            ("mpy", describe_mpy(info["mpy"])), ("firmware", info["firmware"] or "none"),
            ("firmware hash", info["firmware_hash"] or "none (never deployed)"),
            ("board", info["board"] or term.paint("none: the firmware cannot start without "
                                                  "/board.json (straja deploy PORT --board "
                                                  "NAME installs it)", "yellow")),
            ("node id", info["node_id"] if info["node_id"] is not None
             else "none (straja provision PORT --node-id ID)"),
            ("position", describe_position(info.get("position")))]
    running = info.get("running")
    if not running:
        return rows + [("application", term.paint("not answering commands (stopped, or no "
                                                  "firmware): straja reset PORT starts it",
                                                  "yellow"))]
    if "malformed" in running:
        return rows + [("application", term.paint(f"answered `info` with a reply straja cannot "
                                                  f"read: {running['malformed']}", "yellow"))]
    front_ends = ", ".join(f"{fe['name']} ({fe['kind']} {fe['band_khz'][0] / 1000:g}-"
                           f"{fe['band_khz'][1] / 1000:g} MHz)" for fe in running["front_ends"])
    return rows + [
        ("application", "streaming" if running["streaming"] else "running, not streaming"),
        ("uptime", f"{running['uptime_s']} s (boot {running['boot_count']}, reset cause "
                   f"{running['reset_cause']})"),
        ("front ends", front_ends or "none"),
        ("plan", f"{len(running['plan'])} entries"),
        ("overruns", f"{running['overruns']} (frames dropped {running['frames_dropped']})"),
    ]


def describe_position(position: dict | None) -> str:
    if not position:
        return "not surveyed (straja provision PORT --node-id ID --position LAT,LON,HEIGHT)"
    return (f"{position['latitude']:.6f}, {position['longitude']:.6f}, "
            f"{position['height_m']:.1f} m (inventory)")


def describe_mpy(mpy: int | None) -> str:
    from ..tools.deploy import MpyVersion
    return str(MpyVersion.from_sys(mpy)) if mpy is not None else "no .mpy support"


def run_config(args) -> int:
    from ..tools.ports import resolve
    from ..tools.session import firmware_link
    if args.action == "get" and len(args.items) > 1:
        raise StrajaError("config get takes at most one KEY", code=term.EXIT_USAGE)
    if args.action == "set" and (not args.items or any("=" not in i for i in args.items)):
        raise StrajaError("config set needs KEY=VALUE ...", code=term.EXIT_USAGE)
    with firmware_link(resolve(args.port)) as link:
        try:
            result = link.call_object(args.action, " ".join(args.items) or None)
        except CommandError as e:
            raise StrajaError(f"the node refused: {e}", "see docs/firmware.md for the config keys",
                              term.EXIT_USAGE) from e
    if args.json:
        term.print_json(result)
    else:
        for key in sorted(result):
            print(f"{key} = {json.dumps(result[key])}")
    return term.EXIT_OK


RESET_CODE = """\
try:
    import machine
    machine.reset()
except ImportError:
    from straja_node import hw
    hw.reset()
"""


def run_reset(args) -> int:
    import serial

    from ..tools.ports import resolve
    from ..tools.session import Session
    with Session(resolve(args.port)) as s:
        repl = s.enter_raw_repl()  # fails, with its fix, when no MicroPython answers
        if args.hard:
            # No answer comes (the chip resets), and a board's USB port drops meanwhile.
            with contextlib.suppress(ReplError, serial.SerialException, OSError):
                repl.exec(RESET_CODE, timeout=1)
        else:
            s.soft_reset()
    print(f"{s.port}: {'hard' if args.hard else 'soft'} reset")
    return term.EXIT_OK


def run_repl(args) -> int:
    from ..tools.ports import resolve
    from ..tools.session import Session
    stdin = sys.stdin.fileno()
    if not os.isatty(stdin):
        raise StrajaError("straja repl needs a terminal to type into (its input is not one)",
                          "run it in a terminal; to run code on a node from a script use "
                          "mpremote", term.EXIT_USAGE)
    with Session(resolve(args.port)) as s:
        saved = termios.tcgetattr(stdin)
        tty.setraw(stdin)  # before the banner: what is typed after it reaches the node as is
        sys.stderr.write(f"connected to {s.port}; {REPL_EXIT_NAME} leaves (the application "
                         "restarts)\r\n")
        sel = selectors.DefaultSelector()
        sel.register(stdin, selectors.EVENT_READ)
        try:
            while True:
                with s.wire("in the REPL"):
                    data = s.serial.read(s.serial.in_waiting or 1)
                if data:
                    os.write(sys.stdout.fileno(), data)
                if sel.select(timeout=0):
                    typed = os.read(stdin, 1024)
                    if not typed or REPL_EXIT_KEY in typed:
                        s.serial.write(typed.split(REPL_EXIT_KEY)[0])
                        break
                    s.serial.write(typed)
        finally:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        # A Ctrl-C in the REPL stopped the application, and nothing restarts it: do so.
        s.soft_reset()
    sys.stderr.write("\r\nleft the REPL; the node restarted its application (soft reset)\r\n")
    return term.EXIT_OK
