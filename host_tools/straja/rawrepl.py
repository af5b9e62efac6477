"""MicroPython's raw REPL over an open serial port: enter it, run code, leave it.

The protocol is MicroPython's (docs "MicroPython remote control: mpremote", and pyexec.c): Ctrl-C
interrupts whatever runs, Ctrl-A enters the raw REPL, Ctrl-B leaves it, Ctrl-D ends a block of code.
Raw-paste mode (Ctrl-E 'A' Ctrl-A, flow-controlled by a window the device grants) is used when the
device offers it, with the plain raw REPL as the fallback, as mpremote does.
"""
from __future__ import annotations

import ast
import struct
import time

RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"
FRIENDLY_PROMPT = b">>> "  # the friendly REPL waiting for a line
# Delays known to let a board's USB stack and interpreter settle between Ctrl-C and Ctrl-A.
SETTLE_DELAYS = (0.1, 0.3, 1.0)


def printable(data: bytes, limit: int = 60) -> str:
    """The printable text at the end of what a device sent (a node that rebooted streams binary
    frames: those are no help in an error message), at most `limit` characters."""
    text = "".join(chr(b) if 32 <= b < 127 else " " for b in data)
    return " ".join(text.split())[-limit:]


class ReplError(Exception):
    """The device did not answer as MicroPython's raw REPL does."""


class RemoteError(ReplError):
    """The code ran on the device and raised; `.traceback` is the device's text."""

    def __init__(self, traceback: str):
        super().__init__(traceback.strip().splitlines()[-1] if traceback.strip() else "error")
        self.traceback = traceback


class RawRepl:
    """Drive the raw REPL of the device on `port` (an open pyserial Serial)."""

    def __init__(self, port):
        self.port = port
        self.raw_paste = True  # until the device says it cannot
        self._buf = bytearray()

    def read_until(self, marker: bytes, timeout: float) -> bytes:
        """Bytes up to and including `marker`; what came after it stays for the next read."""
        deadline = time.monotonic() + timeout
        while marker not in self._buf:
            chunk = self.port.read(max(1, self.port.in_waiting))
            if chunk:
                self._buf += chunk
            elif time.monotonic() > deadline:
                raise ReplError(f"timed out waiting for {marker!r} after {len(self._buf)} other "
                                f"bytes, ending {printable(self._buf)!r}")
        end = self._buf.index(marker) + len(marker)
        data = bytes(self._buf[:end])
        del self._buf[:end]
        return data

    def read_exactly(self, n: int, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self._buf) < n:
            chunk = self.port.read(n - len(self._buf))
            self._buf += chunk
            if not chunk and time.monotonic() > deadline:
                raise ReplError(f"timed out reading {n} bytes from the device")
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def enter(self) -> None:
        """Interrupt the application and enter the raw REPL, retrying with longer settle delays."""
        last = None
        for delay in SETTLE_DELAYS:
            self.port.write(b"\r\x03")
            time.sleep(delay)
            self.port.write(b"\x03")
            time.sleep(delay)
            self.port.reset_input_buffer()
            self._buf.clear()
            self.port.write(b"\r\x01")
            try:
                self.read_until(RAW_PROMPT, timeout=1 + 2 * delay)
                return
            except ReplError as e:
                last = e
        raise ReplError(f"could not enter the raw REPL: no MicroPython prompt ({last})")

    def exit(self) -> None:
        self.port.write(b"\r\x02")

    def exec(self, code: str | bytes, timeout: float = 10.0) -> bytes:
        """Run `code`, return what it printed; raise RemoteError with the device's traceback."""
        self.start(code)
        return self.finish(timeout)

    def start(self, code: str | bytes) -> None:
        """Send `code` and have it start running; the caller may talk to it (its stdin and
        stdout are the port) before collecting its end with finish()."""
        self._send(code.encode() if isinstance(code, str) else code)

    def finish(self, timeout: float = 10.0) -> bytes:
        """Wait for the code started with start() to end; what it printed, or RemoteError."""
        out = self.read_until(b"\x04", timeout)[:-1]
        err = self.read_until(b"\x04", timeout)[:-1]
        self.read_until(b">", timeout)
        if err:
            raise RemoteError(err.decode(errors="replace"))
        return out

    def eval(self, expression: str, timeout: float = 10.0):
        """The value of a Python literal expression on the device (repr round trip)."""
        return ast.literal_eval(self.exec(f"print(repr({expression}))", timeout).decode().strip())

    def _send(self, code: bytes) -> None:
        if self.raw_paste:
            self.port.write(b"\x05A\x01")
            answer = self.read_exactly(2)
            if answer == b"R\x01":
                self._paste(code)
                return
            if answer != b"R\x00":
                # An old device echoed the bytes instead: resync on its raw prompt.
                self.read_until(RAW_PROMPT, timeout=2)
            self.raw_paste = False
        for i in range(0, len(code), 256):
            self.port.write(code[i:i + 256])
            time.sleep(0.01)
        self.port.write(b"\x04")
        if self.read_exactly(2) != b"OK":
            raise ReplError("the raw REPL did not accept the code")

    def _paste(self, code: bytes) -> None:
        header = self.read_exactly(2)
        window = struct.unpack("<H", header)[0]
        remain = window
        i = 0
        while i < len(code):
            while remain == 0 or self._buf or self.port.in_waiting:
                flow = self.read_exactly(1)
                if flow == b"\x01":
                    remain += window
                elif flow == b"\x04":  # the device ends the paste early (e.g. out of memory)
                    self.port.write(b"\x04")
                    return
                else:
                    raise ReplError(f"unexpected byte {flow!r} during raw paste")
            chunk = code[i:i + remain]
            self.port.write(chunk)
            remain -= len(chunk)
            i += len(chunk)
        self.port.write(b"\x04")
        self.read_until(b"\x04", timeout=10)
