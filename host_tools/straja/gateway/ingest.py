"""Live ingestion: one thread reads every node port and processes what it read, outputs.

Ports come from the config (paths or globs such as /dev/serial/by-id/*) and, with `discover`,
from USB identity (`straja.tools.ports.candidates`: the known boards' VID:PIDs). Every `rescan_s` the
watcher opens ports that appeared; a port that fails (unplugged) is closed and its close queued,
and the node is picked up again on whatever path it comes back on, matched by the node id in its
frames. Reads never wait on one port (they are non-blocking, of ready ports only): one node's
trouble never stops the others.

A round's reads put (kind, port, arrival ns, bytes) on one `IngestQueue`, bounded per port; the
same thread then feeds them to the pure `Pipeline`, records, stores and publishes its events and
sends its node commands, and reads again (docs/benchmarks.md, "One thread reads and processes").
"""
from __future__ import annotations

import collections
import glob
import logging
import os
import queue
import select
import threading
import time

import serial

from .. import protocol
from ..framing import PORT_EVENTS, FrameSplitter, wait_ready
from ..serial_port import PortError, open_port
from ..tools.ports import candidates
from . import record as rec
from .events import AlertEvent, ConsoleKeys, Output, Overload, Stored
from .pipeline import Pipeline, describe_counts
from .remoteid import COMPANION

log = logging.getLogger("straja.gateway")
WRITE_TIMEOUT_S, WRITE_RETRY_S = 0.05, 1.0  # writes to a node that does not read its input
READ_SIZE = 1 << 16  # at most this much of a port's bytes a read (a pty holds up to 64 KiB)
# The gateway reads the ports at most once per READ_INTERVAL_S: what arrives meanwhile waits in
# the kernel and is taken in the next round, so one wake-up serves the frames of many ports once
# they come faster than that (16 nodes on the default plan: 450 frames a second; 100 nodes:
# 2800), not one wake-up a frame. Latency added to a frame: at most this much (a busy fleet's:
# BUSY_READ_INTERVAL_S), against the alert target of p99 < 20 ms (docs/benchmarks.md, "On a
# Raspberry Pi").
READ_INTERVAL_S = 0.004
# Ports that bring BUSY_CHUNKS_S chunks a second or more (about 70 nodes on the default plan; 16
# bring 450) are read every BUSY_READ_INTERVAL_S instead: a round's fixed cost (the wake-up, the
# caches it finds cold) is then shared by twice the chunks, for 4 ms more a frame may wait. A small
# fleet's frames keep the 4 ms bound (the alert target is met at 16 nodes with it). The rate is
# counted over RATE_WINDOW_S of rounds (ReadCadence).
BUSY_CHUNKS_S = 2000.0
BUSY_READ_INTERVAL_S = 0.008
RATE_WINDOW_S = 1.0
TICK_S = 0.1  # with no port ready for this long, the pipeline is ticked (node timeouts, expiry)


def read_interval(chunks_s: float) -> float:
    """The time between two rounds of reads of ports that bring `chunks_s` chunks a second."""
    return BUSY_READ_INTERVAL_S if chunks_s >= BUSY_CHUNKS_S else READ_INTERVAL_S


class ReadCadence:
    """The interval of the gateway's rounds of reads: `read_interval` of the chunks a second
    its rounds read over the last RATE_WINDOW_S (READ_INTERVAL_S until a window has passed)."""

    def __init__(self) -> None:
        self.interval = READ_INTERVAL_S
        self._since: float | None = None  # the window's start (monotonic s)
        self._chunks = 0  # read in the window so far

    def count(self, now: float, chunks: int) -> None:
        """A round at `now` (monotonic s) read `chunks` chunks."""
        if self._since is None:
            self._since = now
        self._chunks += chunks
        elapsed = now - self._since
        if elapsed >= RATE_WINDOW_S and elapsed > 0:
            self.interval = read_interval(self._chunks / elapsed)
            self._since, self._chunks = now, 0


def is_sweep(piece: bytes) -> bool:
    """Whether a COBS-encoded frame (between two 0x00) is a SWEEP: its first block (code >= 3)
    holds the header's version and type bytes as they are (docs/protocol.md, Framing)."""
    return len(piece) >= 3 and piece[0] >= 3 and piece[2] == protocol.SWEEP


class ReferenceSplitter:
    """`straja.framing.FrameSplitter` in Python, its test oracle: one port's bytes cut at frame
    delimiters, `split(data)` -> (is_sweep, bytes) pairs in stream order. Each whole SWEEP frame
    (with its closing delimiter) is a pair of its own, the bytes between them (other frames,
    console text) one pair; a delimiter right after one is dropped; the start of a frame at the
    end of the data is held until the data that ends it, console text there goes on at once."""

    def __init__(self) -> None:
        self._held = b""  # the start of a frame, held for its end
        self._at_start = False  # the held bytes (or, none held, the next bytes) begin a frame

    def split(self, data: bytes) -> list[tuple[bool, bytes]]:
        pieces = (self._held + data).split(b"\0")
        self._held = b""
        last = len(pieces) - 1
        pairs, other = [], b""
        for i, piece in enumerate(pieces[:last]):
            whole = i > 0 or self._at_start
            if whole and not piece:
                continue  # a delimiter right after one: nothing for the decoder
            if whole and is_sweep(piece):
                if other:
                    pairs.append((False, other))
                    other = b""
                pairs.append((True, piece + b"\0"))
            else:
                other += piece + b"\0"
        tail = pieces[last]
        if tail.translate(None, protocol.CONSOLE_BYTES) and len(tail) < protocol.MAX_WIRE:
            self._held = tail  # the start of a frame: whole with the next data
            self._at_start = last > 0 or self._at_start
        else:
            other += tail  # console text (a REPL prompt waits for no delimiter) goes on now
            self._at_start = not tail
        if other:
            pairs.append((False, other))
        return pairs


class IngestQueue:
    """What the reads read, for the processing, in arrival order; never unbounded.

    A port's bytes are split at frame delimiters (`FrameSplitter`, one a port): each whole SWEEP
    frame is an item of its own, the bytes between them (other frames, console text) items in
    between; the start of a frame at the end of a read is held until the read that ends it. When
    more than `backlog` items of one port wait (a read brought more than the gateway takes a
    round: it fell behind and the port's bytes piled up in the kernel meanwhile), the port's
    oldest waiting sweep is dropped, or its oldest item when no sweep waits (a port flooding
    other frames), and counted in `dropped` (port -> items not yet reported in an overload
    event). Other threads (a Remote ID companion) put items too: `wake` (the gateway's
    `PortReaders.wake`) is called after each `put`, so that they are taken at once.
    """

    def __init__(self, backlog: int, wake=None):
        self.backlog = backlog
        self.wake = wake
        self._items: collections.deque[list] = collections.deque()  # [kind, port, t_ns, data]
        # port -> its items waiting: sweeps, others (the port's two deques, kept: a round's reads
        # made two for every port they read, 2 % of the gateway's instructions at 128 nodes)
        self._waiting: dict[str, tuple[collections.deque, collections.deque]] = {}
        self._touched: list[tuple] = []  # the ports' deques given items since take_all
        self._splitters: dict[str, FrameSplitter] = {}
        self.dropped: dict[str, int] = {}
        self._lock = threading.Lock()

    def put(self, item: tuple) -> None:
        """An open or close, or another thread's item: never dropped."""
        with self._lock:
            self._items.append(list(item))
        if self.wake is not None:
            self.wake()

    def data(self, port: str, t_ns: int, data: bytes) -> None:
        """A port's bytes, split (the queue's own `FrameSplitter` for the port) and queued."""
        splitter = self._splitters.get(port)
        if splitter is None:
            splitter = self._splitters[port] = FrameSplitter()
        self.reads(t_ns, [(port, splitter.split(data))])

    def reads(self, t_ns: int, reads: list) -> None:
        """A round of reads, (port, its bytes as `FrameSplitter` cut them) each, all at t_ns,
        queued under one taking of the lock."""
        with self._lock:
            for port, pairs in reads:
                waiting = self._waiting.get(port)
                if waiting is None:  # (not setdefault: it would make the two deques every read)
                    waiting = self._waiting[port] = (collections.deque(), collections.deque())
                sweeps, others = waiting
                if not sweeps and not others:
                    self._touched.append(waiting)
                for sweep, chunk in pairs:
                    item = ["data", port, t_ns, chunk]
                    self._items.append(item)
                    (sweeps if sweep else others).append(item)
                    if len(sweeps) + len(others) > self.backlog:
                        oldest = (sweeps or others).popleft()
                        oldest[3] = None
                        self.dropped[port] = self.dropped.get(port, 0) + 1

    def get(self) -> tuple:
        """The oldest item not dropped; queue.Empty when none is left."""
        with self._lock:
            while self._items:
                kind, port, t_ns, data = item = self._items.popleft()
                if kind != "data":
                    return kind, port, t_ns, data
                if data is not None:
                    sweeps, others = self._waiting[port]
                    (sweeps if sweeps and sweeps[0] is item else others).popleft()
                    return kind, port, t_ns, data
            raise queue.Empty

    def take_all(self) -> list:
        """Every item not dropped, oldest first, under one taking of the lock; the queue left
        empty. The gateway's round takes what its reads queued so (`get` took the lock and
        matched the port's backlog for each item): its reads and its processing are one thread,
        so nothing the backlog would drop is queued while the round's items are handled."""
        with self._lock:
            items = [item for item in self._items if item[3] is not None]
            self._items.clear()
            for sweeps, others in self._touched:
                sweeps.clear()
                others.clear()
            self._touched.clear()
        return items

    def waiting(self, port: str) -> int:
        with self._lock:
            sweeps, others = self._waiting.get(port, ((), ()))
            return len(sweeps) + len(others)

    def take_dropped(self, port: str) -> int:
        with self._lock:
            return self.dropped.pop(port, 0)


def configured_ports(patterns, discover: bool) -> list[str]:
    """Ports the config names (globs expanded) plus, with discover, known USB boards."""
    found = []
    for pattern in patterns:
        found += sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    if discover:
        found += [p.device for p in candidates()]  # USB boards, then STRAJA_EXTRA_PORTS
    return list(dict.fromkeys(found))


class PortReader:
    """One node's port: read in the gateway's rounds (`PortReaders`), written (commands) by the
    processing between them."""

    def __init__(self, path: str, port: serial.Serial, out: IngestQueue):
        self.path = path
        self.port = port
        self.out = out
        # never wait long for a node that does not read its input (hung, hostile): the
        # gateway's one thread serves every node. A write that times out is dropped, said once, and
        # the port is not written again for WRITE_RETRY_S (a timeout costs WRITE_TIMEOUT_S).
        self.port.write_timeout = WRITE_TIMEOUT_S
        os.set_blocking(self.port.fd, False)  # (pyserial's is): a read never waits on one port
        self.fd = self.port.fd  # its number in the poller, even once the port is closed
        self.splitter = FrameSplitter()  # the port's bytes cut into the queue's items
        self._write_failing = False
        self._unsendable = False  # the last command held no line (said once)
        self._no_write_until = 0.0
        self._ids = iter(range(1, 1 << 62))
        self.closed = False  # once the port is closed and its close queued

    def close(self) -> None:
        try:
            self.port.close()
        except OSError:
            pass
        held = self.splitter.flush()  # the start of a frame cut by the close: every byte read
        if held:
            self.out.reads(time.time_ns(), [(self.path, [(False, held)])])
        self.out.put(("close", self.path, time.time_ns(), b""))
        self.closed = True

    def send(self, verb: str, args: str | None = None) -> None:
        try:
            line = protocol.format_command(next(self._ids) % 65535 + 1, verb, args)
        except ValueError as e:  # a plan made of what a node said (its stored plan, a focus of
            # it) that no command line holds: not sent, said once until a command goes out
            if not self._unsendable:
                log.warning("not sent to %s: %s (%s; further such commands not logged until "
                            "one is sent)", self.path, verb, e)
            self._unsendable = True
            return
        self._unsendable = False
        self.write(line)

    def write(self, data: bytes) -> None:
        if time.monotonic() < self._no_write_until:
            return
        try:
            self.port.write(data)
            self._write_failing = False
        except (OSError, serial.SerialException, ValueError) as e:
            if not self._write_failing:
                log.warning("cannot write %r to %s: %s (further failures not logged until a "
                            "write succeeds)", data[:16], self.path, e)
            self._write_failing = True
            self._no_write_until = time.monotonic() + WRITE_RETRY_S

    @property
    def alive(self) -> bool:
        return not self.closed


class PortReaders:
    """Every open port, read in rounds by the thread that processes what they read
    (`Gateway.run`): `round` sleeps in the kernel (epoll) until some port has bytes, takes each
    ready port's bytes in one read, cut into the queue's items in C (`FrameSplitter.read`) and
    queued under one taking of the queue's lock; the gateway processes them, then the next round
    waits until the cadence's interval (`ReadCadence`: 4 ms, 8 ms for a busy fleet) after this one
    began. A port that fails (a read error, or ready with no bytes: unplugged), or whose bytes the
    round fails on (logged), is closed and its close queued (the rescan opens it again); the
    others go on. The ports are registered edge-triggered (`PORT_EVENTS`): a port is reported
    when bytes come, once, and its read takes all it has (a read that may have left some has it
    reported again); level-triggered, every port read was polled again at the next round's wait.

    One thread for both: a reading thread of its own handed each round to the processing thread
    (a thread woken, the GIL passed twice), and woke, read and took the GIL while the processing
    ran; that cost more than the reads (docs/benchmarks.md, "One thread reads and processes").
    The bytes that come while a round is processed wait in the kernel (a pty or a USB serial port
    holds tens of KiB; what a read brings beyond the queue's backlog is dropped, oldest first, and
    counted). Other threads only `wake` a waiting round (a pipe), and the gateway's `stop`.
    """

    def __init__(self) -> None:
        self._poller = select.epoll()
        self._epoll_fd = self._poller.fileno()
        self._readers: dict[int, PortReader] = {}  # fd -> its reader, as registered
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poller.register(self._wake_r, select.EPOLLIN)
        self._lock = threading.Lock()  # the wake pipe against its closing
        self._stopped = False
        self._not_before = 0.0
        self.cadence = ReadCadence()

    def add(self, reader: PortReader) -> None:
        """Read `reader`'s port from now on (its open queued first)."""
        reader.out.put(("open", reader.path, time.time_ns(), b""))
        stale = self._readers.get(reader.fd)
        if stale is not None:  # its port closed under the reads, the number reused
            self._close(stale)
        try:
            self._poller.register(reader.fd, PORT_EVENTS)
            reader.splitter.epfd = self._epoll_fd  # (a read that may leave bytes: reported)
        except (OSError, ValueError, TypeError):  # closed meanwhile
            reader.close()
        else:
            self._readers[reader.fd] = reader

    def wake(self) -> None:
        """A waiting round returns now (any thread)."""
        with self._lock:
            if self._stopped:
                return
            try:
                os.write(self._wake_w, b"\0")
            except BlockingIOError:
                pass  # the pipe is full: a wake-up is pending anyway

    def stop(self) -> None:
        """Every port closed (each close queued); once."""
        if self._stopped:
            return
        for reader in list(self._readers.values()):
            self._close(reader)
        with self._lock:
            self._stopped = True
            self._poller.close()
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _close(self, reader: PortReader) -> None:
        try:
            self._poller.unregister(reader.fd)  # before the fd's number can be reused
        except OSError:
            pass  # closed elsewhere: epoll dropped it with its last fd
        del self._readers[reader.fd]
        reader.close()

    def round(self, timeout_s: float) -> bool:
        """One round of reads: the cadence's interval (READ_INTERVAL_S, or BUSY_READ_INTERVAL_S
        for a busy fleet) after the last round began (more ports' frames gather meanwhile), the
        ports ready then, or the first to be within timeout_s, each read once and queued. Whether
        a port was ready (False: the timeout passed, or woken)."""
        ready = wait_ready(self._epoll_fd, self._not_before, timeout_s)
        now, t_ns = time.monotonic(), time.time_ns()
        self._not_before = now + self.cadence.interval
        reads: list = []
        chunks = 0
        out = None  # the readers' queue (the gateway's one)
        any_port = False
        readers = self._readers
        try:
            for fd in ready:
                reader = readers.get(fd)
                if reader is None:  # woken
                    try:
                        os.read(self._wake_r, 4096)  # (more wake-ups: woken again)
                    except BlockingIOError:
                        pass
                    continue
                any_port = True
                # what the port has, one read (non-blocking), as FrameSplitter cuts it ([] when
                # nothing ends a frame yet); None when it failed (unplugged: ready with no
                # bytes, or EIO) or was closed (its number may be another file's now). Here, not
                # in a method of the reader: a Python call a ready port, every round
                try:
                    pairs = (None if reader.port.fd is None
                             else reader.splitter.read(fd, READ_SIZE))
                except OSError:
                    pairs = None
                except Exception:  # a fault of the reads' own: they serve every port, so they
                    # go on
                    log.exception("reading %s failed; the port is closed and opened again",
                                  reader.path)
                    pairs = None
                if pairs is None:
                    self._close(reader)
                elif pairs:
                    out = reader.out
                    reads.append((reader.path, pairs))
                    chunks += len(pairs)
        finally:
            if reads:
                out.reads(t_ns, reads)
            self.cadence.count(now, chunks)
        return any_port


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
        self.reading = PortReaders()
        self.queue = IngestQueue(cfg.port_backlog, wake=self.reading.wake)
        self.overload_ns = int(cfg.event_window_s * 1e9)
        self._next_overload: dict[str, int] = {}  # port -> no overload event before (ns)
        self.readers: dict[str, PortReader] = {}
        self._unopened: dict[str, str] = {}  # port -> why it could not be opened (warned once)
        self.latencies_ns: list[int] = []  # arrival to alert, for the log and the benchmark
        self._stop = threading.Event()

    def scan_ports(self) -> None:
        for path in configured_ports(self.cfg.ports, self.cfg.discover):
            reader = self.readers.get(path)
            if reader is not None and reader.alive:
                continue
            try:
                port = open_port(path)
            except PortError as e:
                self._not_opened(path, e)
                continue
            if self._unopened.pop(path, None):
                log.info("%s opened", path)
            reader = self.readers[path] = PortReader(path, port, self.queue)
            self.reading.add(reader)  # the pipeline's port_opened output asks the node what it is

    def _not_opened(self, path: str, e: PortError) -> None:
        """A warning when a port cannot be opened, once for each reason (the rescans try it again
        every rescan_s: a node plugged in later, a terminal closed later, is read then)."""
        if self._unopened.get(path) != str(e):
            self._unopened[path] = str(e)
            log.warning("%s%s; tried again every %g s", e, f" (fix: {e.fix})" if e.fix else "",
                        self.cfg.rescan_s)

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
        # events first: an alert is stored and published before the focus plans it causes are
        # written to the nodes' ports (a system call each)
        if out.events:
            self.emit(out.events, arrival_ns=t_ns if kind == "data" else None)
        if out.commands:  # (most chunks: none)
            self.send(out)
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
        """Until stop() (or duration_s): watch ports; read them in rounds, and process what each
        round read before the next (PortReaders); a tick when no port was ready for TICK_S."""
        end = time.monotonic() + duration_s if duration_s else None
        next_scan = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if end is not None and now >= end:
                break
            if now >= next_scan:
                self.scan_ports()
                self.sync_known()
                next_scan = time.monotonic() + self.cfg.rescan_s
            wait = min(TICK_S, next_scan - now, TICK_S if end is None else end - now)
            ready = self.reading.round(max(wait, 0.0))
            if not self.take() and not ready:
                self.handle("tick", "", time.time_ns(), b"")
            self.report_overload(time.time_ns())
        self.close()

    def take(self) -> bool:
        """Every queued item handled, in order (a round's items taken at once, then any another
        thread queued meanwhile); whether there was one."""
        took = False
        while items := self.queue.take_all():
            for item in items:
                self.handle(*item)
            took = True
        return took

    def sync_known(self) -> None:
        """The store's known emitters to the pipeline when another writer (`straja known`, the
        dashboard's acknowledgement) may have changed them."""
        if self.store and self.store.changed_elsewhere():
            self.pipeline.set_known(self.store.known_emitters())

    def report_overload(self, now_ns: int) -> None:
        """An overload event per port that dropped sweeps, at most one per event_window_s."""
        events = []
        for port in list(self.queue.dropped):
            if now_ns >= self._next_overload.get(port, 0):
                self._next_overload[port] = now_ns + self.overload_ns
                events.append(Overload(now_ns, port, self.pipeline.source_node.get(port),
                                       self.queue.take_dropped(port)))
        if events:
            self.emit(events)

    def stop(self) -> None:
        """run() returns (any thread)."""
        self._stop.set()
        self.reading.wake()

    def close(self) -> None:
        """A clean stop: focused nodes get their normal plan back, the store notes the stop."""
        out = self.pipeline.stop(time.time_ns())
        self.send(out)
        if out.events:
            self.emit(out.events)
        self.reading.stop()
        self.take()
        log.info("input not taken as it came: %s", describe_counts(self.pipeline.input_counts()))
        if self.recorder:
            self.recorder.close()
        if self.store:
            self.store.end_run()
