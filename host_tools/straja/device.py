"""A session with one node's MicroPython, with errors a technician can act on, and the small
commands built on it: `straja info`, `straja config`, `straja reset`, `straja repl`.

Every error a command meets is a ToolError carrying the fix (docs/field-guide.md lists them all);
`command()` turns it into the message and exit code of term.py.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import time

import serial

from . import rawrepl, term
from .rawrepl import RawRepl, ReplError
from .serial_port import PortError, open_port

REPL_EXIT_KEY = b"\x1d"  # Ctrl-], as telnet, miniterm and mpremote use: never sent to the board
REPL_EXIT_NAME = "Ctrl-]"
DISCONNECT_FIX = ("check the USB cable and the node's power, then run the command again "
                  "(an interrupted deploy leaves the previous firmware in place)")


class ToolError(Exception):
    """What went wrong (`str(e)`), what to do about it (`fix`), and the exit code."""

    def __init__(self, message: str, fix: str = "", code: int = term.EXIT_FAILED):
        super().__init__(message)
        self.fix = fix
        self.code = code


class NoMicroPython(ToolError):
    pass


class RawReplFailed(ToolError):
    pass


class Disconnected(ToolError):
    pass


def command(func):
    """Wrap a command's `run(args)`: print a ToolError or PortError as message + fix, return its
    exit code."""
    @functools.wraps(func)
    def run(args) -> int:
        try:
            return func(args)
        except ToolError as e:
            term.error(str(e), e.fix)
            return e.code
        except PortError as e:
            term.error(str(e), e.fix)
            return term.EXIT_NO_DEVICE
    return run


class Session:
    """One node's port, held exclusively, with its raw REPL entered on first use."""

    def __init__(self, port: str):
        from .ports import resolve

        self.port = resolve(port)
        self.serial = open_port(self.port)
        self.repl = RawRepl(self.serial)
        self.in_raw_repl = False

    def close(self) -> None:
        with contextlib.suppress(OSError, serial.SerialException):
            self.serial.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def wire(self, doing: str):
        """Turn a lost port or a silent device during `doing` into a Disconnected error."""
        try:
            yield
        except (serial.SerialException, OSError) as e:
            raise Disconnected(f"{self.port}: device disconnected while {doing} ({e})",
                               DISCONNECT_FIX, term.EXIT_NO_DEVICE) from e
        except rawrepl.RemoteError:
            raise
        except ReplError as e:
            raise Disconnected(f"{self.port}: the node stopped answering while {doing} "
                               f"(it reset or lost power?) ({e})", DISCONNECT_FIX,
                               term.EXIT_NO_DEVICE) from e

    def enter_raw_repl(self) -> RawRepl:
        if self.in_raw_repl:
            return self.repl
        try:
            self._quick_enter() or self.repl.enter()
        except ReplError as e:
            self._explain_no_raw_repl(e)
        except (serial.SerialException, OSError) as e:
            raise Disconnected(f"{self.port}: device disconnected while connecting ({e})",
                               DISCONNECT_FIX, term.EXIT_NO_DEVICE) from e
        self.in_raw_repl = True
        return self.repl

    def _quick_enter(self) -> bool:
        """One try without the settle delays, which most nodes do not need (a deploy where
        nothing changed is then under half a second); RawRepl.enter() retries with them."""
        self.serial.reset_input_buffer()
        self.serial.write(b"\r\x03\x03\r\x01")
        try:
            self.repl.read_until(rawrepl.RAW_PROMPT, timeout=0.3)
        except ReplError:
            return False
        return True

    def _explain_no_raw_repl(self, cause: ReplError):
        """Tell a silent port (no MicroPython) from a MicroPython that would not take Ctrl-A."""
        self.serial.reset_input_buffer()
        self.serial.write(b"\r\x03")
        heard = b""
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            heard += self.serial.read(256)
        delays = ", ".join(f"{d:g}" for d in rawrepl.SETTLE_DELAYS)
        if not heard:
            raise NoMicroPython(
                f"{self.port}: no MicroPython answering (nothing came back to Ctrl-C)",
                "a blank board needs MicroPython first: straja flash-micropython PORT IMAGE "
                "(or straja provision); an ESP32 left in its download mode needs its RESET button "
                "pressed", term.EXIT_NO_DEVICE) from cause
        tail = heard[-80:].decode("ascii", "replace").strip()
        raise RawReplFailed(
            f"{self.port}: could not enter the raw REPL (tried {len(rawrepl.SETTLE_DELAYS)} times "
            f"with settle delays {delays} s); the device said: {tail!r}",
            "press the node's RESET button (or unplug and replug it) and run the command again; "
            "if it keeps failing, boot it in safe mode (hold the safe pin low at reset)",
            term.EXIT_NO_DEVICE) from cause

    def exec(self, code: str | bytes, doing: str, timeout: float = 10.0) -> bytes:
        """Run `code` in the raw REPL; a device-side exception is a ToolError with its last line."""
        repl = self.enter_raw_repl()
        try:
            with self.wire(doing):
                return repl.exec(code, timeout)
        except rawrepl.RemoteError as e:
            raise ToolError(f"{self.port}: the node failed while {doing}: {e}",
                            "see the traceback with -v; report it with the node's `straja info`"
                            ) from e

    def eval_json(self, code: str, doing: str, timeout: float = 10.0):
        """Run `code`, whose last line prints one JSON value, and return the value."""
        out = self.exec(code, doing, timeout).decode(errors="replace").strip().splitlines()
        try:
            return json.loads(out[-1])
        except (IndexError, ValueError) as e:
            raise ToolError(f"{self.port}: unexpected answer while {doing}: {out[-3:]!r}") from e

    def soft_reset(self) -> None:
        """Stop whatever runs, leave the raw REPL and soft-reset, so boot.py and main.py run
        again: from any state (the app, code in the raw REPL, either REPL), as the port cannot
        tell which one a node that reset behind the host's back is in."""
        with self.wire("resetting"):
            self.serial.write(b"\r\x03\x03")
            time.sleep(0.05)
            # Ctrl-B: a soft reset in the raw REPL comes back there, without main.py
            self.serial.write(b"\r\x02")
            time.sleep(0.05)
            self.serial.write(b"\x04")
            self.serial.flush()
        self.in_raw_repl = False


# Run on the node by probe(): what a technician and the deploy need to know, as one JSON line.
PROBE_CODE = """\
import sys, os, json
def _probe():
    r = {'micropython': '%d.%d.%d' % sys.implementation.version[:3],
         'platform': sys.platform, 'mpy': getattr(sys.implementation, '_mpy', None)}
    try:
        r['machine'] = os.uname().machine
    except AttributeError:
        r['machine'] = sys.platform
    for key, path in (('manifest', '/.deploy/manifest.json'), ('config', '/config.json'),
                      ('board', '/board.json')):
        try:
            with open(path) as f:
                r[key] = json.load(f)
        except (OSError, ValueError):
            r[key] = None
    try:
        import straja_node
        r['firmware'] = straja_node.VERSION
    except Exception:
        r['firmware'] = None
    try:
        os.stat('/.deploy/journal.json')
        r['journal'] = True
    except OSError:
        r['journal'] = False
    return r
print(json.dumps(_probe()))
"""


def probe(session: Session) -> dict:
    """MicroPython version, .mpy version, firmware version, node id, manifest, board of a node."""
    info = session.eval_json(PROBE_CODE, "reading the node's state")
    config = info.get("config") or {}
    info["node_id"] = config.get("node_id") if isinstance(config, dict) else None
    manifest = info.get("manifest") or {}
    info["firmware_hash"] = manifest.get("id") if isinstance(manifest, dict) else None
    board = info.get("board") or {}
    info["board"] = board.get("name") if isinstance(board, dict) else None
    return info


# -- straja info / config / reset / repl ------------------------------------------------------------
def add_parser(subparsers) -> None:
    p = subparsers.add_parser("info", help="what runs on a node: MicroPython, firmware, node id",
                              description="Show the MicroPython version, .mpy version, Straja "
                              "firmware version and hash, board and node id of the node on PORT. "
                              "The application is interrupted and restarted (soft reset).")
    p.add_argument("port", metavar="PORT", help="serial port, serial:USBSERIAL or node:ID")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_info)

    p = subparsers.add_parser("config", help="read or change a node's configuration",
                              description="Read (get) or change (set KEY=VALUE ...) the config of "
                              "the Straja firmware running on PORT, through its `get`/`set` "
                              "commands (docs/protocol.md): the node validates every key and "
                              "changes nothing if one is bad. Values are JSON or bare words.")
    p.add_argument("port", metavar="PORT", help="serial port, serial:USBSERIAL or node:ID")
    p.add_argument("action", choices=("get", "set"))
    p.add_argument("items", nargs="*", metavar="KEY | KEY=VALUE")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_config)

    p = subparsers.add_parser("reset", help="restart a node",
                              description="Soft-reset the node on PORT (boot.py and main.py run "
                              "again); with --hard, reset the chip (machine.reset()).")
    p.add_argument("port", metavar="PORT", help="serial port, serial:USBSERIAL or node:ID")
    p.add_argument("--hard", action="store_true", help="reset the whole chip")
    p.set_defaults(func=run_reset)

    p = subparsers.add_parser("repl", help="a plain terminal to the node's REPL",
                              description=f"Connect this terminal to the node's MicroPython REPL. "
                              f"Ctrl-C interrupts the application, Ctrl-D soft-resets; "
                              f"{REPL_EXIT_NAME} (Ctrl and the closing square bracket) leaves.")
    p.add_argument("port", metavar="PORT", help="serial port, serial:USBSERIAL or node:ID")
    p.set_defaults(func=run_repl)


@command
def run_info(args) -> int:
    with Session(args.port) as s:
        info = probe(s)
        s.soft_reset()
    info["port"] = s.port
    if args.json:
        term.print_json(info)
        return term.EXIT_OK
    rows = [("port", s.port), ("MicroPython", f"{info['micropython']} ({info['machine']})"),
            ("mpy", describe_mpy(info["mpy"])), ("firmware", info["firmware"] or "none"),
            ("firmware hash", (info["firmware_hash"] or "none (never deployed)")[:16]),
            ("board", info["board"] or "none"), ("node id", info["node_id"])]
    for key, value in rows:
        print(f"{key:>14}  {value}")
    return term.EXIT_OK


def describe_mpy(mpy: int | None) -> str:
    from .deploy import MpyVersion

    return str(MpyVersion.from_sys(mpy)) if mpy is not None else "no .mpy support"


def firmware_link(port: str):
    """A NodeLink to the Straja firmware on `port`, or a ToolError saying it is not answering."""
    from .link import NodeLink
    from .ports import resolve

    link = NodeLink(resolve(port))
    try:
        link.call("ping", timeout=1.5)
    except TimeoutError as e:
        link.close()
        raise ToolError(f"{link.serial.port}: the Straja firmware is not answering commands",
                        "deploy it (straja deploy PORT), or see why it stopped with "
                        "straja repl PORT", term.EXIT_NO_DEVICE) from e
    return link


@command
def run_config(args) -> int:
    from .protocol import CommandError

    if args.action == "get" and len(args.items) > 1:
        raise ToolError("config get takes at most one KEY", code=term.EXIT_USAGE)
    if args.action == "set" and (not args.items or any("=" not in i for i in args.items)):
        raise ToolError("config set needs KEY=VALUE ...", code=term.EXIT_USAGE)
    with firmware_link(args.port) as link:
        try:
            result = link.call(args.action, " ".join(args.items) or None)
        except CommandError as e:
            raise ToolError(f"the node refused: {e}", "see docs/firmware.md for the config keys",
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


@command
def run_reset(args) -> int:
    with Session(args.port) as s:
        if args.hard:
            repl = s.enter_raw_repl()
            # No answer comes (the chip resets), and a board's USB port drops meanwhile.
            with contextlib.suppress(ReplError, serial.SerialException, OSError):
                repl.exec(RESET_CODE, timeout=1)
        else:
            s.soft_reset()
    print(f"{s.port}: {'hard' if args.hard else 'soft'} reset")
    return term.EXIT_OK


@command
def run_repl(args) -> int:
    import selectors
    import termios
    import tty

    with Session(args.port) as s:
        stdin = sys.stdin.fileno()
        saved = termios.tcgetattr(stdin) if os.isatty(stdin) else None
        sys.stderr.write(f"connected to {s.port}; {REPL_EXIT_NAME} leaves\r\n")
        if saved:
            tty.setraw(stdin)
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
            if saved:
                termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
    sys.stderr.write("\r\nleft the REPL\r\n")
    return term.EXIT_OK
