"""Open a node's serial port with errors a technician can act on."""
from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import serial

from .errors import StrajaError
from .term import EXIT_NO_DEVICE


class PortError(StrajaError):
    """A port could not be used; `fix` says what to do about it."""

    CODE = EXIT_NO_DEVICE


def _pty_master_index(fd: Path) -> int | None:
    """The pseudo-terminal number whose master `fd` (a /proc/PID/fd entry) is, else None."""
    if os.path.basename(os.path.realpath(fd)) != "ptmx":
        return None
    for line in (fd.parent.parent / "fdinfo" / fd.name).read_text().splitlines():
        if line.startswith("tty-index:"):
            return int(line.split()[1])
    return None


def holders(path: str) -> list[str]:
    """Other processes that have `path` open (by scanning /proc), as 'name (pid N)'. For a
    pseudo-terminal, a process that also holds its master plays the device (the virtual node's
    bridge, which keeps one descriptor of the port open): it counts only with a second one."""
    try:
        target = os.path.realpath(path)
    except OSError:
        return []
    pts = int(target.rsplit("/", 1)[1]) if target.startswith("/dev/pts/") and \
        target.rsplit("/", 1)[1].isdigit() else None
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        if proc.name == str(os.getpid()):
            continue
        try:
            fds = list((proc / "fd").iterdir())
            opened = sum(os.path.realpath(fd) == target for fd in fds)
            device = pts is not None and any(_pty_master_index(fd) == pts for fd in fds)
            if opened <= device:
                continue
            found.append(f"{(proc / 'comm').read_text().strip()} (pid {proc.name})")
        except (OSError, ValueError):
            continue
    return found


def readers_note(path: str) -> tuple[str, str]:
    """(words for the message, a fix) when the node on `path` does not answer: a program with
    the port open but no lock on it (screen, miniterm) takes the node's answers."""
    found = holders(path)
    if found:
        return (f"; {', '.join(found)} also has the port open and may be taking its bytes",
                f"close {', '.join(found)}, then run the command again")
    return "", "if another program (screen, miniterm, a monitor) may be reading the port, close it"


class ExclusivePort(serial.Serial):
    """A port opened with exclusive=True (a flock), unlocked before it is closed: the lock
    belongs to the open file, which a process forked while the port was open shares until it
    execs (a child of another thread: a virtual node's interpreter restarting in the same
    process, under load for a second), and closing this descriptor alone left the port busy."""

    def close(self) -> None:
        if self.is_open and self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            except OSError:
                pass  # a port gone (unplugged): closing is all that is left
        super().close()


def open_port(path: str, *, baudrate: int = 115200, timeout: float = 0.05) -> serial.Serial:
    """Open `path` exclusively (a second reader would steal bytes) or raise PortError."""
    if not os.path.exists(path):
        raise PortError(f"no such port: {path}", "check the cable; `straja ports` lists the ports")
    try:
        return ExclusivePort(path, baudrate=baudrate, timeout=timeout, exclusive=True)
    except serial.SerialException as e:
        code = e.errno if e.errno is not None else getattr(e.__cause__, "errno", None)
        text = str(e)
        if code == errno.EACCES or "Permission denied" in text:
            raise PortError(f"permission denied opening {path}",
                            "add yourself to the serial group: sudo usermod -aG dialout $USER, "
                            "then log out and in again") from e
        if code in (errno.EBUSY, errno.EAGAIN) or "exclusively lock" in text or "busy" in text:
            found = holders(path)
            who = f" by {', '.join(found)}" if found else ""
            raise PortError(f"port {path} is busy (held{who})",
                            "close the other program (a monitor, a terminal, the gateway) first") from e
        raise PortError(f"cannot open {path}: {text}", "check that it is the node's serial "
                        "port: `straja ports` lists them") from e
