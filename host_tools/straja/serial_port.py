"""Open a node's serial port with errors a technician can act on."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import serial

from .errors import StrajaError
from .term import EXIT_NO_DEVICE


class PortError(StrajaError):
    """A port could not be used; `fix` says what to do about it."""

    CODE = EXIT_NO_DEVICE


def _holders(path: str) -> list[str]:
    """Processes that have `path` open (by scanning /proc), as 'name (pid N)'."""
    try:
        target = os.path.realpath(path)
    except OSError:
        return []
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            for fd in (proc / "fd").iterdir():
                if os.path.realpath(fd) == target:
                    name = (proc / "comm").read_text().strip()
                    found.append(f"{name} (pid {proc.name})")
                    break
        except OSError:
            continue
    return found


def open_port(path: str, *, baudrate: int = 115200, timeout: float = 0.05) -> serial.Serial:
    """Open `path` exclusively (a second reader would steal bytes) or raise PortError."""
    if not os.path.exists(path):
        raise PortError(f"no such port: {path}", "check the cable; `straja ports` lists the ports")
    try:
        return serial.Serial(path, baudrate=baudrate, timeout=timeout, exclusive=True)
    except serial.SerialException as e:
        code = e.errno if e.errno is not None else getattr(e.__cause__, "errno", None)
        text = str(e)
        if code == errno.EACCES or "Permission denied" in text:
            raise PortError(f"permission denied opening {path}",
                            "add yourself to the serial group: sudo usermod -aG dialout $USER, "
                            "then log out and in again") from e
        if code in (errno.EBUSY, errno.EAGAIN) or "exclusively lock" in text or "busy" in text:
            holders = [h for h in _holders(path) if f"pid {os.getpid()})" not in h]
            who = f" by {', '.join(holders)}" if holders else ""
            raise PortError(f"port {path} is busy (held{who})",
                            "close the other program (a monitor, a terminal, the gateway) first") from e
        raise PortError(f"cannot open {path}: {text}") from e
