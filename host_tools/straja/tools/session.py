"""A session with one node's MicroPython (its raw REPL), with errors a technician can act on.

Every error is a StrajaError carrying the fix (docs/field-guide.md lists them all).
"""
from __future__ import annotations

import contextlib
import json
import time

import serial

from .. import rawrepl, term
from ..errors import StrajaError
from ..link import NodeLink
from ..rawrepl import RawRepl, ReplError
from ..serial_port import open_port, readers_note

DISCONNECT_FIX = "check the USB cable and the node's power, then run the command again"


class NoMicroPython(StrajaError):
    pass


class RawReplFailed(StrajaError):
    pass


class Disconnected(StrajaError):
    pass


class Session:
    """One node's port, held exclusively, with its raw REPL entered on first use."""

    def __init__(self, port: str):
        """Open `port` (a path: `ports.resolve` turns serial:USBSERIAL or node:ID into one)."""
        self.port = port
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
            note, fix = readers_note(self.port)
            raise Disconnected(f"{self.port}: the node stopped answering while {doing} "
                               f"(it reset or lost power?) ({e}){note}", f"{DISCONNECT_FIX}; {fix}",
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
        note, readers_fix = readers_note(self.port)
        if not heard:
            raise NoMicroPython(
                f"{self.port}: no MicroPython answering (nothing came back to Ctrl-C){note}",
                "a blank board needs MicroPython first: straja flash-micropython PORT IMAGE "
                "(or straja provision); an ESP32 left in its download mode needs its RESET button "
                f"pressed; {readers_fix}", term.EXIT_NO_DEVICE) from cause
        raise RawReplFailed(
            f"{self.port}: could not enter the raw REPL (tried {len(rawrepl.SETTLE_DELAYS)} times "
            f"with settle delays {delays} s); the device said: {rawrepl.printable(heard)!r}{note}",
            "press the node's RESET button (or unplug and replug it) and run the command again; "
            "if it keeps failing, boot it in safe mode (hold the safe pin low at reset); "
            f"{readers_fix}", term.EXIT_NO_DEVICE) from cause

    def exec(self, code: str | bytes, doing: str, timeout: float = 10.0) -> bytes:
        """Run `code` in the raw REPL; a device-side exception is a StrajaError with its last line."""
        repl = self.enter_raw_repl()
        try:
            with self.wire(doing):
                return repl.exec(code, timeout)
        except rawrepl.RemoteError as e:
            raise StrajaError(f"{self.port}: the node failed while {doing}: {e}",
                              "see the traceback with -v; report it with the node's `straja info`"
                              ) from e

    def eval_json(self, code: str, doing: str, timeout: float = 10.0):
        """Run `code`, whose last line prints one JSON value, and return the value."""
        out = self.exec(code, doing, timeout).decode(errors="replace").strip().splitlines()
        try:
            return json.loads(out[-1])
        except (IndexError, ValueError) as e:
            raise StrajaError(f"{self.port}: unexpected answer while {doing}: {out[-3:]!r}") from e

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
    if not isinstance(info, dict):  # (not what PROBE_CODE prints: a broken or crafted node)
        raise StrajaError(f"{session.port}: unexpected answer while reading the node's state: "
                          f"{json.dumps(info)[:80]}")
    for key in ("micropython", "machine", "platform", "firmware"):
        if not isinstance(info.get(key), str):
            info[key] = None
    if not isinstance(info.get("mpy"), int) or isinstance(info["mpy"], bool):
        info["mpy"] = None
    config = info.get("config") or {}
    info["node_id"] = config.get("node_id") if isinstance(config, dict) else None
    manifest = info.get("manifest") or {}
    info["firmware_hash"] = manifest.get("id") if isinstance(manifest, dict) else None
    board = info.get("board") or {}
    info["board"] = board.get("name") if isinstance(board, dict) else None
    return info


def firmware_link(port: str):
    """A NodeLink to the Straja firmware on `port` (a path), or a StrajaError saying it is not
    answering."""
    link = NodeLink(port)
    try:
        link.call("ping", timeout=1.5)
    except TimeoutError as e:
        link.close()
        note, readers_fix = readers_note(port)
        raise StrajaError(f"{link.serial.port}: the Straja firmware is not answering commands"
                          f"{note}", "deploy it (straja deploy PORT), or see why it stopped with "
                          f"straja repl PORT; {readers_fix}", term.EXIT_NO_DEVICE) from e
    return link
