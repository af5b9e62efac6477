"""Argument types shared by the commands (straja.cli and the command modules of every layer):
argparse checks these while parsing, so a bad value is refused (exit 2, one line naming the
option) before any port, file or node is touched."""
from __future__ import annotations

import argparse
import errno
import functools
import ipaddress
import os
import re
import stat
from pathlib import Path

from .errors import StrajaError
from .boards import load_profile
from .term import EXIT_USAGE

# Ports without a USB identity (virtual nodes, UART adapters) that `straja ports` and --all list
EXTRA_PORTS_ENV = "STRAJA_EXTRA_PORTS"


# No count or quantity a command takes comes near these (1e9 s is 31 years): a larger one is a
# typo, and would overflow the clock (time.sleep, Event.wait) or SQLite's integers later on.
MAX_INT = 2**31 - 1
MAX_FLOAT = 1e9


def _number(kind, text: str, low, inclusive: bool, high=None):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    if high is not None and (value < low or value > high):
        raise argparse.ArgumentTypeError(f"must be {low}..{high}, got {text}")
    if value < low or (value == low and not inclusive):
        bound = f"at least {low}" if inclusive else f"more than {low}"
        raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
    if value > (MAX_INT if kind is int else MAX_FLOAT):
        top = MAX_INT if kind is int else f"{MAX_FLOAT:g}"
        raise argparse.ArgumentTypeError(f"must be at most {top}, got {text}")
    return value


def positive_int(text: str) -> int:
    return _number(int, text, 1, True)


def non_negative_int(text: str) -> int:
    return _number(int, text, 0, True)


def positive_float(text: str) -> float:
    return _number(float, text, 0.0, False)


def non_negative_float(text: str) -> float:
    return _number(float, text, 0.0, True)


def tcp_port(text: str) -> int:
    return _number(int, text, 1, True, 65535)


def host_port(text: str) -> tuple[str, int]:
    """"HOST:PORT" to serve on ("[v6]:PORT"; "PORT" alone is 127.0.0.1:PORT) as (host, port)."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]") if sep else "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536 or not is_host_name(host):
        raise argparse.ArgumentTypeError(f"not an address to serve on: {text!r} "
                                         "(give HOST:PORT, e.g. 127.0.0.1:8080)")
    return host, int(port)


def host_name(text: str) -> str:
    """A server's host name or address alone (a broker's: its port is an option of its own)."""
    if not is_host_name(text):
        raise argparse.ArgumentTypeError(f"not a host name or address: {text!r} "
                                         "(e.g. broker.example.net or 192.168.1.10)")
    return text


def is_host_name(host: str) -> bool:
    """A host name or address: not empty, no blank or control character (it is written into
    configs as one word: mosquitto's `address HOST:PORT`); an IP address, or a DNS name whose
    labels (in IDNA's ASCII: a name in another script is one too) are letters, digits, '-' and
    '_', not starting with '-' (a path, or a name IDNA cannot encode, failed only as the
    client's thread connected, with a traceback)."""
    if not host or _control(host) or any(c.isspace() for c in host):
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        name = host.encode("idna").decode()
    except UnicodeError:  # (a label too long, a character IDNA refuses)
        return False
    return len(name) <= 253 and DNS_NAME.fullmatch(name) is not None


DNS_NAME = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(\.(?!-)[A-Za-z0-9_-]{1,63})*\.?")


def _control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def remote_address(text: str) -> tuple[str, int]:
    """"HOST:PORT" of a server to connect to (a broker) as (host, port); the port is required."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not is_host_name(host) or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"not a server address: {text!r} "
                                         "(give HOST:PORT, e.g. broker.example.net:1883)")
    return host, int(port)


def listen_address(text: str) -> str:
    """An address `host_port` accepts, kept as given."""
    host_port(text)
    return text


def node_id(text: str) -> int:
    return _number(int, text, 1, True, 65535)


def board_name(text: str) -> str:
    """A board profile in hardware/boards/ (the error lists the known ones) that the firmware can
    run (straja.boards: its pins)."""
    try:
        load_profile(text)
    except (FileNotFoundError, ValueError) as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _file_system_errors_refused(check):
    """A path argument's check whose OSError (a name too long for the file system, a loop of
    links) refuses the argument, as argparse says of a value: it was exit 1 and "check the
    disk", a machine's fault, for a typo's."""
    @functools.wraps(check)
    def checked(text: str, *args):
        try:
            return check(text, *args)
        except OSError as e:
            shown = text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"
            raise argparse.ArgumentTypeError(f"{shown}: {e.strerror or e}") from None
    return checked


@_file_system_errors_refused
def _existing(text: str, is_kind, what: str) -> Path:
    path = Path(text)
    if is_kind(path):
        return path
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no such {what}: {text}")
    # (it is there, and another kind: "no such file" would send its user looking for it)
    kind = "a folder" if path.is_dir() else "a file" if path.is_file() else "a pipe or a device"
    raise argparse.ArgumentTypeError(f"{text} is {kind}, not a {what}")


def existing_file(text: str) -> Path:
    return _existing(text, Path.is_file, "file")


def existing_folder(text: str) -> Path:
    return _existing(text, Path.is_dir, "folder")


# The write ends `_pipe_has_reader` opened, held for the process's life: closing the only writer
# would give the reader (`cat fifo`) its end of file before the command writes a line.
_PIPE_PROBES: list[int] = []


def _pipe_has_reader(path: Path) -> bool:
    """Whether a program reads the pipe at `path` (`--jsonl /dev/stdout | jq`, `>(jq)`, a FIFO
    with `cat` at its end): opening it to write with none would wait for one."""
    try:
        _PIPE_PROBES.append(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError as err:
        if err.errno == errno.ENXIO:
            return False
        raise
    return True


@_file_system_errors_refused
def _writable(text: str, kind: str) -> Path:
    """A "file" or "folder" (`kind`) this command writes, made when missing: not the other
    kind, in a folder that is there (a typo's path is refused, never made with its parents) and
    writable. A socket, or a pipe no program reads, is refused as a file: opening it to write
    would wait (a FIFO named by mistake hung the command); a device (/dev/null) is taken."""
    path = Path(text)
    if path.exists():
        mode = path.stat().st_mode
        is_folder = stat.S_ISDIR(mode)
        if kind == "file" and (stat.S_ISSOCK(mode) or
                               stat.S_ISFIFO(mode) and not _pipe_has_reader(path)):
            raise argparse.ArgumentTypeError(f"{text} is a pipe or a socket that no program "
                                             "reads: writing it would wait for one")
        if is_folder != (kind == "folder"):
            raise argparse.ArgumentTypeError(f"{text} is {'a folder' if is_folder else 'a file'}, "
                                             f"not a {kind}")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{folder} is a file, not a folder (for {text})"
                                         if folder.exists() else
                                         f"no such folder: {folder} (for {text})")
    if not os.access(path if path.exists() else folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text}: permission denied")
    return path


def writable_file(text: str) -> str:
    """A file this command may create or append to (`_writable`). "-" (stdout) passes
    unchanged."""
    if text != "-":
        _writable(text, "file")
    return text


def recording_file(text: str) -> str:
    """A file a recording is written to (`writable_file`): never "-", which is stdout to the
    other outputs and was a file named "-" here."""
    if text == "-":
        raise argparse.ArgumentTypeError("a recording is written to a file, not to stdout (-)")
    return writable_file(text)


def add_force_option(parser, option: str) -> None:
    """--force: replace the file `option` names when it is there (`refuse_to_replace`)."""
    parser.add_argument("--force", action="store_true", help=f"replace the file {option} names "
                        "when there is one (without: refused, so nothing is lost by mistake)")


def refuse_to_replace(path, option: str, force: bool) -> None:
    """A file a command writes whole, refused when it holds something already (a recording, a
    config from before: what a typo would lose) unless --force; a device or a pipe (stdout,
    /dev/null) is written as ever."""
    if force or not path or path == "-" or not os.path.isfile(path) or \
            not os.path.getsize(path):
        return
    raise StrajaError(f"{option} {path}: the file is there already, and would be replaced",
                      "name a new file, or add --force to replace it", EXIT_USAGE)


def writable_path(text: str) -> Path:
    return Path(writable_file(text))


def writable_folder(text: str) -> Path:
    """A folder this command writes into (`_writable`), made when missing: its parent must be
    there."""
    return _writable(text, "folder")


def read_text(path) -> str:
    """The text of a file a person named (a config, a scene, a password file): UTF-8, from a
    regular file or a folder's error. An OSError whose strerror says what is wrong: a pipe or a
    device would block the command until something writes to it, and bytes that are not UTF-8
    are not text."""
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        raise OSError(errno.EINVAL, "not a regular file (a pipe or a device)", str(path))
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise OSError(errno.EILSEQ, f"not UTF-8 text (byte {e.start} is 0x{e.object[e.start]:02x})",
                      str(path)) from None


def user_name(text: str) -> str:
    """A user's name on a server (a broker's user): one line (`one_line`), and not blank (an
    empty --username was taken as none, silently)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"an empty user name: {text!r}")
    return one_line(text)


def one_line(text: str) -> str:
    """Text written into a line of another program's config (a user name, a folder): a line
    break or another control character would end the line and start one of the sender's."""
    if _control(text):
        raise argparse.ArgumentTypeError(f"a control character or line break in {text!r}")
    return text


def input_file(text: str) -> str:
    """A file to read, or "-" for stdin."""
    return text if text == "-" else str(existing_file(text))


def key_value(text: str) -> str:
    """A KEY=VALUE setting (the node checks the key and the value)."""
    key, sep, _ = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"not KEY=VALUE: {text!r}")
    return text


def version(text: str) -> str:
    """A release version such as 1.24.1."""
    parts = text.split(".")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"not a version: {text!r} (e.g. 1.24.1)")
    return text


def not_a_port(path: str) -> str | None:
    """What `path` is when it is there and cannot be a serial port (a port is a character
    device: a USB serial port, a UART, a pseudo-terminal), else None (a port, or nothing yet: a
    node plugged in later)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISCHR(mode):
        return None
    return "a folder" if stat.S_ISDIR(mode) else "a file" if stat.S_ISREG(mode) else \
        "a pipe or a socket"


def port_path(text: str) -> str:
    """A port's path as given, or a glob of them (the gateway's --port: a node plugged in later
    is found): no control character, and not something that cannot be a port."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty port name")
    if _control(text):
        raise argparse.ArgumentTypeError(f"a control character or line break in {text!r}")
    kind = not_a_port(text)
    if kind:
        raise argparse.ArgumentTypeError(f"{text} is {kind}, not a serial port")
    return text


def extra_ports() -> list[str]:
    """The paths STRAJA_EXTRA_PORTS names (colon-separated); an entry that cannot be a port (not
    an absolute path, a file, a folder) is a bad setting, not a port to list or open."""
    named = [e for e in os.environ.get(EXTRA_PORTS_ENV, "").split(":") if e]
    for entry in named:
        try:
            if not entry.startswith("/"):
                raise argparse.ArgumentTypeError(f"{entry!r} is not a port's path")
            port_path(entry)
        except argparse.ArgumentTypeError as e:
            raise StrajaError(f"{EXTRA_PORTS_ENV}: {e}", f"set {EXTRA_PORTS_ENV} to ports' "
                              "paths separated by colons (`straja sim node` prints it), or "
                              f"unset it: unset {EXTRA_PORTS_ENV}", EXIT_USAGE) from None
    return named


def port_name(text: str) -> str:
    """A serial port as every command takes it: a path, `serial:USBSERIAL` or `node:ID` (whether
    it is there is found when it is opened)."""
    kind, sep, value = text.partition(":")
    if not (sep and kind in ("serial", "node")):
        port_path(text)
    if sep and kind == "serial" and not value:
        raise argparse.ArgumentTypeError("serial: needs the USB serial number (straja ports)")
    if sep and kind == "node":
        try:
            node_id(value)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"{text}: a node id is 1..65535") from None
    return text
