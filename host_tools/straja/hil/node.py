"""The handle a HIL test gets for one node, board or virtual: commands, frames, the raw REPL, and
`expect()` on the serial text, with everything logged to one file per node and test.

The serial text is what a person would read on the port: console text (the REPL, tracebacks,
boot.py's prints) and the LOG frames, one line each (`LOG 20: text`). The protocol decoder reports
console text only when a 0x00 ends it, so the text after the last 0x00 (a REPL prompt waiting for
input) is kept aside and searched as well while it is all printable.
"""
from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from pathlib import Path

from .. import protocol
from ..link import NodeLink
from ..serial_port import PortError

PRINTABLE = re.compile(rb"[\x20-\x7e\t\r\n]*")


class PowerUnavailable(Exception):
    """The node has no power switch (a board without --power-cmd)."""


class Node:
    """One node on `port`. `power`: an object with `cycle(off_s) -> port` (straja.hil.power) or
    None; `virtual`: the FirmwareNode behind a virtual node (fault injection), None for a board."""

    def __init__(self, port: str, name: str, log_path: Path, *, power=None, virtual=None,
                 power_off_s: float = 2.0, reopen_s: float = 15.0):
        self.port = port
        self.name = name
        self.power = power
        self.power_off_s = power_off_s
        self.virtual = virtual
        self.reopen_s = reopen_s
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("a", buffering=1, encoding="utf-8")
        self._t0 = time.monotonic()
        self._cond = threading.Condition()
        self._text = ""      # serial text so far (console chunks and LOG lines)
        self._pending: bytes | None = b""  # since the last 0x00 if printable: an unended prompt
        self._pos = 0  # expect() consumed the text up to here (may reach into _pending)
        self.replies: list[protocol.Reply] = []  # every REPLY seen, solicited or not
        self.link: NodeLink | None = None
        self._open(port)

    # -- the link ---------------------------------------------------------------------------------
    def _open(self, port: str) -> None:
        """(Re)open `port`, waiting for it to come back (a board re-enumerating after a reset)."""
        with self._cond:  # a prompt the old port never finished is gone with it
            self._pending = b""
            self._pos = min(self._pos, len(self._text))
        deadline = time.monotonic() + self.reopen_s
        while True:
            try:
                self.link = NodeLink(port, on_frame=self._on_frame, on_console=self._on_console,
                                     on_data=self._on_data)
                break
            except PortError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.port = port
        self.note(f"port {port} open")

    def close(self) -> None:
        if self.link:
            self.link.close()
            self.link = None
        self.note("closed")
        self._log.close()

    @contextlib.contextmanager
    def released(self):
        """Let go of the port for another tool (`straja deploy`) and take it back afterwards.
        Yields the port path."""
        self.link.close()
        self.link = None
        self.note("port released")
        try:
            yield self.port
        finally:
            self._open(self.port)

    # -- what comes in -----------------------------------------------------------------------------
    def _on_data(self, data: bytes) -> None:
        _, zero, tail = data.rpartition(b"\0")
        with self._cond:
            chunk = tail if zero else (None if self._pending is None else self._pending + data)
            self._pending = chunk if chunk is not None and PRINTABLE.fullmatch(chunk) else None
            self._cond.notify_all()

    def _on_console(self, text: str) -> None:
        self._add_text(text)

    def _on_frame(self, frame) -> None:
        body = frame.body
        if isinstance(body, protocol.Log):
            self._add_text(f"LOG {body.level}: {body.text}\n")
        elif isinstance(body, protocol.Reply):
            self.replies.append(body)
            self.note(f"< {body.request_id} {protocol.STATUS_NAMES.get(body.status, body.status)} "
                      f"{body.text[:300]}")
        elif isinstance(body, protocol.Status):
            self.note(f"STATUS boot {body.boot_count} cause {body.reset_cause} mode {body.mode} "
                      f"up {body.uptime_s} s, mem_free {body.mem_free}, bad {body.commands_bad}")

    def _add_text(self, text: str) -> None:
        with self._cond:
            self._text += text
            self._cond.notify_all()
        for line in text.splitlines():
            self.note(f"| {line}")

    def note(self, text: str) -> None:
        """A line in the node's log file, stamped with seconds since the handle was made."""
        if not self._log.closed:
            self._log.write(f"{time.monotonic() - self._t0:9.3f} {self.name}: {text}\n")

    # -- expect -----------------------------------------------------------------------------------
    def _seen(self) -> str:
        return self._text + (self._pending or b"").decode("ascii")

    @property
    def text(self) -> str:
        """All serial text seen so far (and a prompt still waiting for its end)."""
        with self._cond:
            return self._seen()

    def expect(self, pattern: str | re.Pattern, timeout: float = 10.0) -> re.Match:
        """Wait for `pattern` (a regular expression) in the serial text not yet consumed by an
        earlier expect(); consume up to the end of the match and return the match. Raises
        TimeoutError with the text seen, as pexpect does."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                done = self._seen()
                m = regex.search(done, min(self._pos, len(done)))
                if m:
                    self._pos = m.end()
                    self.note(f"expect {regex.pattern!r}: matched {m.group(0)[:120]!r}")
                    return m
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = done[self._pos:][-400:]
                    self.note(f"expect {regex.pattern!r}: timed out")
                    raise TimeoutError(f"{self.name}: {regex.pattern!r} not seen in {timeout} s; "
                                       f"the node said: {tail!r}")
                self._cond.wait(min(left, 0.1))

    def skip_text(self) -> None:
        """Forget the text seen so far: later expect() calls look only at what comes next."""
        with self._cond:
            self._pos = len(self._seen())

    # -- commands and frames ----------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Raw bytes to the node (garbage, control characters)."""
        self.note(f"> raw {data[:80]!r}{'...' if len(data) > 80 else ''} ({len(data)} bytes)")
        self.link.send_line(data)

    def command(self, verb: str, args=None, timeout: float = 5.0) -> protocol.Reply:
        """Send one command; the decoded REPLY (status, JSON text). Non-string args are sent as
        compact JSON."""
        if args is not None and not isinstance(args, str):
            args = json.dumps(args, separators=(",", ":"))
        self.note(f"> {verb} {args or ''}"[:400])
        return self.link.command(verb, args, timeout)

    def call(self, verb: str, args=None, timeout: float = 5.0):
        """The command's result JSON; protocol.CommandError on an error reply."""
        return self.command(verb, args, timeout).result()

    def info(self) -> dict:
        return self.call("info")

    def frames(self, n: int, timeout: float = 10.0, types=None, drain: bool = False) -> list:
        """The next `n` decoded frames (of `types` if given); see NodeLink.frames."""
        got = self.link.frames(n, timeout, tuple(types) if types else None, drain)
        self.note(f"{len(got)} frames, counters {self.link.counters()}")
        return got

    def status(self, timeout: float = 10.0) -> protocol.Status:
        """The body of the next STATUS frame."""
        return self.frames(1, timeout, types=(protocol.STATUS,), drain=True)[0].body

    def counters(self) -> dict:
        return self.link.counters()

    def wait_ready(self, timeout: float = 20.0) -> dict:
        """Wait until the firmware answers `info` (reopening the port if it went away, as a
        board's USB port does across a hard reset); returns the info."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if not self.link.alive:
                    self.link.close()
                    self._open(self.port)
                return self.call("info", timeout=1.0)
            except (TimeoutError, PortError, OSError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name}: the firmware did not answer in {timeout} s; "
                                       f"it said: {self.text[-400:]!r}") from None
                time.sleep(0.2)

    # -- the REPL ---------------------------------------------------------------------------------
    def interrupt(self) -> None:
        """Ctrl-C: stop the application; the friendly REPL's prompt follows (expect '>>> ').
        Ctrl-B after it leaves the raw REPL if a tool left the node there."""
        self.write(b"\r\x03\x03\x02")

    def soft_reset(self) -> None:
        """Ctrl-C then Ctrl-D at the friendly REPL: boot.py and main.py run again."""
        self.interrupt()
        self.expect(r">>> $", timeout=5)
        self.write(b"\x04")

    @contextlib.contextmanager
    def repl(self, restart: bool = True):
        """Stop the application and hold the raw REPL (a straja.rawrepl.RawRepl); afterwards
        soft-reset so the application runs again, unless `restart` is false."""
        self.note("raw REPL")
        with self.link.repl() as raw:
            yield raw
        self.note("raw REPL left")
        if restart:
            self.write(b"\x04")
            self.wait_ready()

    # -- power ------------------------------------------------------------------------------------
    @property
    def can_power_cycle(self) -> bool:
        return self.power is not None

    def power_cycle(self, off_s: float | None = None) -> None:
        """Switch the node off for `off_s` seconds (default: the rig's --power-off-s) and on again,
        then reopen its port (the path may change, as with USB). `off_s=0` is a glitch: for a
        virtual node the supply drops for an instant and the port stays. Inside `released()`
        (another tool holds the port) the port is left for released() to reopen. Raises
        PowerUnavailable without a switch."""
        off_s = self.power_off_s if off_s is None else off_s
        if self.power is None:
            raise PowerUnavailable(f"{self.name}: no power switch (give --power-cmd)")
        self.note(f"power off for {off_s} s")
        held = self.link is not None
        if held:
            self.link.close()
        self.port = self.power.cycle(off_s) or self.port
        self.note("power on")
        if held:
            self._open(self.port)

    def set_config(self, config: dict) -> dict:
        """Set every key of `config` in one `set` (all or nothing, as the node validates first)."""
        args = " ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in config.items())
        return self.call("set", args, timeout=10)


def log_name(test_id: str, node: str) -> str:
    """A file name for `test_id`'s log of `node` (path separators and brackets made safe)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{test_id}-{node}").strip("_")
    return safe[-150:] + ".log"
