"""Live ingestion: one reader thread per node port, one processing thread, outputs.

Ports come from the config (paths or globs such as /dev/serial/by-id/*) and, with `discover`,
from USB identity (`straja.tools.ports.candidates`: the known boards' VID:PIDs). Every `rescan_s` the
watcher opens ports that appeared; a reader whose port fails (unplugged) closes it and ends, and
the node is picked up again on whatever path it comes back on, matched by the node id in its
frames. Readers never wait for each other: one node's trouble never stops the others.

Readers put (kind, port, arrival ns, bytes) on one queue; the processing thread feeds the pure
`Pipeline`, records, stores and publishes its events and sends its node commands.
"""
from __future__ import annotations

import glob
import logging
import queue
import threading
import time

import serial

from .. import protocol
from ..serial_port import PortError, open_port
from ..tools.ports import candidates
from . import record as rec
from .events import AlertEvent, ConsoleKeys, Output, Stored
from .pipeline import Pipeline
from .remoteid import COMPANION

log = logging.getLogger("straja.gateway")

def configured_ports(patterns, discover: bool) -> list[str]:
    """Ports the config names (globs expanded) plus, with discover, known USB boards."""
    found = []
    for pattern in patterns:
        found += sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    if discover:
        found += [p.device for p in candidates()]  # USB boards, then STRAJA_EXTRA_PORTS
    return list(dict.fromkeys(found))


class PortReader:
    """A thread reading one port until it fails or is stopped."""

    def __init__(self, path: str, port: serial.Serial, out: queue.Queue):
        self.path = path
        self.port = port
        self.out = out
        self._ids = iter(range(1, 1 << 62))
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"reader-{path}", daemon=True)

    def start(self) -> None:
        self.out.put(("open", self.path, time.time_ns(), b""))
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.port.read(max(1, self.port.in_waiting))
            except (OSError, serial.SerialException, TypeError, AttributeError):
                break  # unplugged or closed
            if data:
                self.out.put(("data", self.path, time.time_ns(), data))
        try:
            self.port.close()
        except OSError:
            pass
        self.out.put(("close", self.path, time.time_ns(), b""))

    def send(self, verb: str, args: str | None = None) -> None:
        self.write(protocol.format_command(next(self._ids) % 65535 + 1, verb, args))

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (OSError, serial.SerialException, ValueError) as e:
            log.warning("cannot write %r to %s: %s", data[:16], self.path, e)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()


class Gateway:
    """The running service. `sinks` get every batch of events as `Stored` (with ids if stored)."""

    def __init__(self, cfg, pipeline: Pipeline, *, store=None, publisher=None, sinks=(),
                 recorder: rec.RecordWriter | None = None):
        self.cfg = cfg
        self.pipeline = pipeline
        self.store = store
        self.publisher = publisher
        self.sinks = list(sinks)
        self.recorder = recorder
        self.queue: queue.Queue = queue.Queue()
        self.readers: dict[str, PortReader] = {}
        self.latencies_ns: list[int] = []  # arrival to alert, for the log and the benchmark
        self._stop = threading.Event()

    def scan_ports(self) -> None:
        for path in configured_ports(self.cfg.ports, self.cfg.discover):
            reader = self.readers.get(path)
            if reader is not None and reader.alive:
                continue
            try:
                port = open_port(path, timeout=0.05)
            except PortError as e:
                log.debug("%s: %s", path, e)
                continue
            reader = self.readers[path] = PortReader(path, port, self.queue)
            reader.start()  # the pipeline's port_opened output asks the node what it is

    def handle(self, kind: str, path: str, t_ns: int, data: bytes) -> Output:
        if kind == "data":
            if self.recorder:
                self.recorder.data(path, t_ns, data)
            out = self.pipeline.feed(path, t_ns, data)
        elif kind == "open":
            if self.recorder:
                self.recorder.open(path, t_ns)
            out = self.pipeline.open_source(path, t_ns)
        elif kind == COMPANION:
            out = self.pipeline.remote_id_line(t_ns, data.decode())
        elif kind == "close":
            if self.recorder:
                self.recorder.close_source(path, t_ns)
            out = self.pipeline.close_source(path, t_ns)
        else:
            out = self.pipeline.tick(t_ns)
        self.send(out)
        if out.events:
            self.emit(out.events, arrival_ns=t_ns if kind == "data" else None)
        return out

    def send(self, out: Output) -> None:
        for command in out.commands:
            reader = self.readers.get(command.port)
            if reader is None:
                continue
            if isinstance(command, ConsoleKeys):
                reader.write(command.keys)
            else:
                reader.send(command.verb, command.args)

    def emit(self, events: list, arrival_ns: int | None = None) -> None:
        stored = self.store.write(events) if self.store else [Stored(e) for e in events]
        if arrival_ns is not None:
            now = time.time_ns()
            self.latencies_ns += [now - arrival_ns for e in events if isinstance(e, AlertEvent)]
        if self.publisher:
            self.publisher.wake()
        for sink in self.sinks:
            sink(stored)

    def run(self, duration_s: float | None = None) -> None:
        """Until stop() (or duration_s): watch ports, process what the readers deliver."""
        end = time.monotonic() + duration_s if duration_s else None
        next_scan = 0.0
        while not self._stop.is_set() and (end is None or time.monotonic() < end):
            if time.monotonic() >= next_scan:
                self.scan_ports()
                next_scan = time.monotonic() + self.cfg.rescan_s
            try:
                item = self.queue.get(timeout=0.1)
            except queue.Empty:
                item = ("tick", "", time.time_ns(), b"")
            self.handle(*item)
        self.close()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        for reader in self.readers.values():
            reader.stop()
        while True:
            try:
                self.handle(*self.queue.get_nowait())
            except queue.Empty:
                break
        if self.recorder:
            self.recorder.close()
