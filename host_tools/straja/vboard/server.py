"""The virtual board server: answers the firmware's unix hardware layer over an AF_UNIX socket.

The wire format is defined in firmware/straja_node/hw/board_unix.py (the client). One
MicroPython connection is served at a time; when the interpreter restarts (a reset) it connects
again and the chips keep their state, as a board's radios keep theirs across an MCU reset.
"""
from __future__ import annotations

import gc
import mmap
import os
import random
import signal
import socket
import sys
import struct
import threading
import time

from .._vboard_serve import SCAN_PATHS, handler_table, serve
from ..signals import deferred_stops
from ..vnode.bridge import die_with_parent, new_session
from .ble import BluetoothRadio
from .chips import MODELS, Cc2500, Chip, Sx126x, Sx127x

(SPI_WRITE, SPI_XFER, WORD, ADC_READ, BLOCK, PIN_READ, PIN_WRITE, WDT_START, WDT_FEED, BLE_SCAN,
 PIN_FIXED) = range(1, 12)
ONE_WAY = (SPI_WRITE, WORD, PIN_WRITE, WDT_START, WDT_FEED)  # the client waits for no answer
HEADER = struct.Struct("<BBHI")  # op, dev, len, the firmware's ticks_us() mod 2**32
RESPONSE = struct.Struct("<BBH")
WORD_ARGS = struct.Struct("<IB")
BLOCK_ARGS = struct.Struct("<HI")
U16 = struct.Struct("<H")
NOTHING = (0, b"")  # a request's answer without value or payload
STAMP_WRAP_US = 1 << 32
RECV_MAX = 65536
OK, ERROR = 0, 1
# the chip models whose scan requests straja._vboard_serve serves in C (SCAN_PATHS)
COMPILED_MODELS = {Sx127x: "sx127x", Cc2500: "cc2500", Sx126x: "sx126x"}
SWITCH_INTERVAL_S = 100e-6
# The board's counters, in memory shared with a board serving from its own process.
(TRANSACTIONS, ROUND_TRIPS, FEEDS, WATCHDOG_MS, CONNECTIONS, SAFE_PIN_LOW) = range(6)
NO_WATCHDOG = -1
# the scene's next blocks are made in an envelope block's wait (25.6 ms by default) until this
# long before its answer is due: one is made in up to ~5 ms (the demo scene's, on this machine:
# ~7 ms a second in all for a node, 8 blocks, the longest 5.3 ms)
PREPARE_MARGIN_S = 6e-3
ERROR_MAX = 4096  # bytes of refused requests' descriptions a board in its own process keeps


def answer_at_once() -> None:
    """In a board's own process: the lowest real-time priority (SCHED_RR 1), above every ordinary
    process, as a board's radios answer its MCU whatever else runs. A board only works when its
    node asks (a reading, ~20-50 us of its CPU) or waits (an envelope block), never spinning, so
    it takes a fraction of what its interpreter does. Under the fair scheduler an interpreter
    and its board at normal policy delayed each other's wake-ups by milliseconds: one node at nice
    −20 overran 54-78 readings a second against 4.3-6.7 with its board at real-time priority
    (a process that only sleeps, the machine's floor, saw 0.9-2.1 stalls a second over 500 us;
    docs/virtual-node.md "Timing", tenth round). Only from the normal policy at a nice value of
    0 or below (a fleet started at nice 19 yields to the rest of the machine, its boards too; one
    under `chrt` keeps its policy), and only where the OS allows it (root, CAP_SYS_NICE,
    RLIMIT_RTPRIO): else the board stays as it is."""
    if os.sched_getscheduler(0) != os.SCHED_OTHER or os.nice(0) > 0:
        return
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(1))
    except OSError:  # not allowed (an ordinary user), or no real-time policy here
        pass


def _counter(index: int, doc: str) -> property:
    def get(self):
        return self._counts[index]

    def put(self, value):
        self._counts[index] = value
    return property(get, put, doc=doc)


class VirtualBoard:
    """Chip models for `profile`'s front ends, fed by `rf` (an object with
    `band_power_dbm(freq_hz, bw_hz, t0_s, t1_s)`, or a dict of them by front-end name, as a
    scene gives each front end its own antenna and noise figure), at time
    `time.monotonic() - t_origin`
    (t_origin defaults to when start() is called).

    Counters: `transactions` (requests served), `round_trips` (those the firmware waited for:
    reads; writes are one-way), `feeds` (watchdog feeds), `watchdog_ms` (the last
    watchdog timeout the firmware set), `connections`; `errors`, the requests it refused. Set
    `safe_pin_low` to hold the safe pin.
    `bluetooth`: what the board's Bluetooth radio hears (see straja.vboard.ble), None: nothing.

    `own_process`: serve from a child process (in its own session, so its own scheduling group)
    instead of a thread of this one: its answers then never wait for this process's Python
    threads (the GIL: other boards, the bridges, a gateway) nor split one CPU share with them,
    as a board's radios answer whatever its host does (docs/virtual-node.md, "Timing"). The
    counters and `safe_pin_low` live in shared memory; the chip models' state is the child's.
    The child takes the lowest real-time priority where allowed (`answer_at_once`), unless
    `real_time` is False. `cpus`: the CPUs that child may use (None: any).
    """

    transactions = _counter(TRANSACTIONS, "requests served")
    round_trips = _counter(ROUND_TRIPS, "requests the firmware waited for")
    feeds = _counter(FEEDS, "watchdog feeds")
    connections = _counter(CONNECTIONS, "interpreter runs that connected")
    safe_pin_low = _counter(SAFE_PIN_LOW, "hold the safe pin low (a technician's jumper)")

    def __init__(self, profile: dict, rf, socket_path: str, t_origin: float | None = None,
                 seed: int = 0, bluetooth=None, own_process: bool = False,
                 cpus: set[int] | None = None, real_time: bool = True):
        self.profile = profile
        self.cpus = cpus
        self.real_time = real_time
        self.rf = rf
        self.socket_path = str(socket_path)
        self.t_origin = t_origin
        self.rng = random.Random(seed)
        self.chips = [MODELS[e["kind"]](self, e) for e in profile.get("front_ends", [])]
        self.pins = {}
        for chip in self.chips:
            for role, number in chip.entry.get("pins", {}).items():
                self.pins[number] = (chip, role)
        self._shared = mmap.mmap(-1, 8 * (SAFE_PIN_LOW + 1))  # anonymous: shared across fork
        self._counts = memoryview(self._shared).cast("q")
        self.watchdog_ms = None
        self.bluetooth = BluetoothRadio(bluetooth) if bluetooth is not None else None
        self.own_process = own_process
        self._errors: list[str] = []
        self._error_pipe: tuple[int, int] | None = None  # (read, write): from a child to us
        self._listener: socket.socket | None = None
        self._conn: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stopping = threading.Event()
        # _handle's dispatch: op -> handler(dev, payload, t) -> (value, reply); the scan's ops
        # (some 10 000 requests a second) cost a lookup, not a chain of tests
        self._handlers = {SPI_WRITE: self._spi_write, SPI_XFER: self._spi_xfer, WORD: self._word,
                          ADC_READ: self._adc, BLOCK: self._block, PIN_READ: self._pin_read,
                          PIN_WRITE: self._pin_write, WDT_START: self._wdt_start,
                          WDT_FEED: self._wdt_feed, BLE_SCAN: self._ble_scan,
                          PIN_FIXED: self._pin_fixed}
        self._direct = self._direct_handlers()

    @property
    def watchdog_ms(self) -> int | None:
        """The last watchdog timeout the firmware set (None: never)."""
        value = self._counts[WATCHDOG_MS]
        return None if value == NO_WATCHDOG else value

    @watchdog_ms.setter
    def watchdog_ms(self, value: int | None) -> None:
        self._counts[WATCHDOG_MS] = NO_WATCHDOG if value is None else value

    @property
    def errors(self) -> list[str]:
        """The requests refused (op, device, why), oldest first."""
        self._collect_errors()
        return self._errors

    def _collect_errors(self) -> None:
        """Those a child reported since last asked."""
        if self._error_pipe:
            try:
                self._errors += os.read(self._error_pipe[0], ERROR_MAX).decode().splitlines()
            except BlockingIOError:
                pass

    def _refused(self, what: str) -> None:
        if self._pid == 0:  # the child: to the parent, one line each (a full pipe drops them)
            try:
                os.write(self._error_pipe[1], what.encode() + b"\n")
            except BlockingIOError:
                pass
        else:
            self._errors.append(what)

    def now(self) -> float:
        return time.monotonic() - self.t_origin

    def stamped(self, ticks_us: int, now_us: int | None = None) -> float:
        """The board time of a request the firmware stamped `ticks_us` (mod 2**32 of the unix
        port's ticks_us(), CLOCK_MONOTONIC microseconds as time.monotonic()): made about
        `now_us` (default: now), within half the stamp's wrap (a microsecond ahead after
        rounding, or minutes ago)."""
        if now_us is None:
            now_us = round(time.monotonic() * 1e6)
        half = STAMP_WRAP_US // 2
        age_us = (now_us - ticks_us + half) % STAMP_WRAP_US - half
        return (now_us - age_us) * 1e-6 - self.t_origin

    @property
    def task_path(self) -> str | None:
        """The /proc folder of the task that serves the bus (its CPU use: schedstat)."""
        if self._pid:
            return f"/proc/{self._pid}"
        return f"/proc/self/task/{self._thread.native_id}" if self._thread else None

    # -- life cycle

    def start(self) -> "VirtualBoard":
        if self.t_origin is None:
            self.t_origin = time.monotonic()
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.socket_path)
        self._listener.listen(1)
        self._listener.settimeout(0.2)
        self._stopping.clear()
        if self.own_process:
            self._fork()
        else:
            # A bus transaction must be answered within a dwell's margin (~0.5 ms), but Python
            # hands the GIL between threads only every 5 ms by default: another thread of this
            # process (the gateway, another board) would make the firmware overrun its dwells.
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
            self._thread = threading.Thread(target=self._serve, name="vboard", daemon=True)
            self._thread.start()
        return self

    def _fork(self) -> None:
        """Serve from a child process until stop() kills it, or the thread that called start()
        ends (the child's death signal is tied to it, as a VirtualNode's interpreter's is)."""
        self._error_pipe = os.pipe()
        for fd in self._error_pipe:
            os.set_blocking(fd, False)
        with deferred_stops():  # (a Ctrl-C meanwhile raised once the child is known)
            pid = os.fork()
            if pid == 0:
                self._serve_child()  # (never returns)
            self._pid = pid
        os.close(self._error_pipe[1])
        self._listener.close()  # the child's copy listens

    def _serve_child(self) -> None:
        """In the forked child: serve until killed, then exit (never back to the caller's code)."""
        try:
            self._pid = 0
            new_session()
            if self.real_time:
                answer_at_once()
            die_with_parent()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C is the parent's
            if self.cpus:
                os.sched_setaffinity(0, self.cpus)
            keep = sorted((self._listener.fileno(), self._error_pipe[1]))
            os.closerange(3, keep[0])  # no other node's pty or socket stays open through us
            os.closerange(keep[0] + 1, keep[1])
            os.closerange(keep[1] + 1, os.sysconf("SC_OPEN_MAX"))
            # what was built before serving (the scene, the models, the parent's objects) is
            # left out of every collection: a full one walking it held an answer up to 15 ms
            gc.freeze()
            self._serve()
        finally:
            os._exit(0)

    def stop(self) -> None:
        if self._pid:
            os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            self._pid = None
            self._collect_errors()  # what it reported before it went
            os.close(self._error_pipe[0])
            self._error_pipe = None
        self._stopping.set()
        conn = self._conn
        if conn:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread:
            self._thread.join(timeout=5)
        if self._listener:
            self._listener.close()
            self._listener = None
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)

    def __enter__(self) -> "VirtualBoard":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- serving

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(None)
            self._conn = conn
            self.connections += 1
            try:
                self._session(conn)
            except (ConnectionError, OSError):
                pass  # the interpreter went away (reset, power cut): wait for the next one
            finally:
                self._conn = None
                conn.close()

    def _session(self, conn: socket.socket) -> None:
        """Serve requests as _session_reference does, the loop in C (straja._vboard_serve):
        only the handlers are Python."""
        serve(self, conn.fileno(), handler_table(self._direct), self._handle, frozenset(ONE_WAY),
              self._counts, self._stopping, RECV_MAX)

    def _session_reference(self, conn: socket.socket) -> None:
        """Serve requests in order, each at the instant the firmware stamped it; the writes the
        client queues arrive with the request that waits (or before the node sleeps), and are
        handled in one pass, whose answers go in one send. A pass reads the clock once and
        counts once. The plain Python loop that straja._vboard_serve.serve() runs in C, its
        test oracle (tests/test_vboard.py): a virtual node sends some 10 000 requests a second,
        whose time here is the time its readings wait."""
        pending = b""  # a request that arrived in part
        refused = False  # a one-way request failed: the next response says so
        header, one_way, counts = HEADER.size, frozenset(ONE_WAY), self._counts
        unpack, handle, respond = HEADER.unpack_from, self._handle, RESPONSE.pack
        direct = self._direct.get
        recv, sendall, monotonic, stopping = conn.recv, conn.sendall, time.monotonic, self._stopping
        wrap, half = STAMP_WRAP_US, STAMP_WRAP_US // 2
        refusable = (ValueError, IndexError, KeyError, struct.error)
        while not stopping.is_set():
            data = recv(RECV_MAX)
            if not data:
                raise ConnectionError("closed")
            if pending:
                data = pending + data
            # a stamp's microseconds: the one within half a wrap of now (as stamped())
            latest = round(monotonic() * 1e6) + half
            origin = self.t_origin
            k = served = answered = 0
            size = len(data)
            answers = []  # this pass's, sent together: one system call, not one each
            while size - k >= header:
                op, dev, n, stamp = unpack(data, k)
                end = k + header + n
                if size < end:
                    break
                payload = data[k + header:end]
                k = end
                served += 1
                t = (latest - (latest - stamp) % wrap) * 1e-6 - origin
                try:
                    fast = direct(op << 8 | dev)
                    if fast is None:
                        if answers:  # (a block answers when sampled: the others not after it)
                            self._answer(counts, served - 1, answered, answers, sendall)
                            served, answered = 1, 0
                        value, reply = handle(op, dev, payload, t)
                    else:
                        value, reply = 0, fast(payload, t)
                    status = OK
                except refusable as e:
                    self._refused(f"op {op} dev {dev}: {e}")
                    value, reply, status = 0, b"", ERROR
                if op in one_way:
                    refused = refused or status == ERROR
                    continue
                if refused:
                    value, reply, status, refused = 0, b"", ERROR, False
                answers.append(respond(status, value, len(reply)))
                answers.append(reply)
                answered += 1
            self._answer(counts, served, answered, answers, sendall)
            pending = data[k:] if k < size else b""

    @staticmethod
    def _answer(counts, served: int, answered: int, answers: list, sendall) -> None:
        """Count `served` requests, `answered` of them round trips, then send their `answers`
        (the counts first: a test reads them once answered)."""
        counts[TRANSACTIONS] += served
        counts[ROUND_TRIPS] += answered
        if answers:
            sendall(b"".join(answers))
            answers.clear()

    def _direct_handlers(self, compiled: bool = True) -> dict:
        """The scan's requests, by `op << 8 | dev`: the chip's own method (or a one-line adapter),
        which takes (payload, t) and returns the answer's bytes (value 0) or None (one-way): a
        reading and a tune's writes cost one Python call each, not three (_handle, the op's
        handler, the chip's). Any other request goes through _handle. With `compiled`, an
        SX127x's, CC2500's and SX126x's tunes and readings are C (straja._vboard_serve's
        SCAN_PATHS, over the model's own state, its method for any other request): the models'
        Python was half of a board's CPU a reading (docs/virtual-node.md, "Timing")."""
        direct = {}
        for dev, chip in enumerate(self.chips):
            # a chip whose writes are its transfers unread: the transfer itself, one call less
            plain_write = type(chip).spi_write is Chip.spi_write
            write = direct[SPI_WRITE << 8 | dev] = chip.spi if plain_write else chip.spi_write
            direct[SPI_XFER << 8 | dev] = chip.spi
            paths = SCAN_PATHS.get(COMPILED_MODELS.get(type(chip)))  # (a subclass: its methods)
            if paths and compiled:  # the scan's tunes and readings in C over the model's state
                direct[SPI_WRITE << 8 | dev] = paths[0](chip, write)
                direct[SPI_XFER << 8 | dev] = paths[1](chip, chip.spi)
            direct[WORD << 8 | dev] = (lambda payload, t, word=chip.word, unpack=WORD_ARGS.unpack:
                                       word(*unpack(payload), t))
            direct[ADC_READ << 8 | dev] = (lambda payload, t, adc=chip.adc, pack=U16.pack:
                                           pack(adc(t)))
        return direct

    def _handle(self, op: int, dev: int, payload: bytes, t: float) -> tuple[int, bytes]:
        handler = self._handlers.get(op)
        if handler is None:
            raise ValueError(f"unknown op {op}")
        return handler(dev, payload, t)

    def _wdt_feed(self, dev: int, payload: bytes, t: float) -> tuple[int, bytes]:
        self.feeds += 1
        return NOTHING

    def _wdt_start(self, dev: int, payload: bytes, t: float) -> tuple[int, bytes]:
        self.watchdog_ms = struct.unpack("<I", payload)[0]
        return NOTHING

    def _pin_read(self, dev: int, payload: bytes, t: float) -> tuple[int, bytes]:
        if dev == self.profile.get("safe_pin"):
            return (0 if self.safe_pin_low else 1), b""
        chip, role = self.pins.get(dev, (None, None))
        return (chip.pin_read(role) if chip else 1), b""

    def _prepare_scene(self, t: float, until: float) -> None:
        """The RF inputs' and the Bluetooth radio's next blocks after board time `t`
        (NodeRF.prepare, NodeBluetooth.prepare), one at a time while board time is before
        `until`."""
        inputs = [*(self.rf.values() if isinstance(self.rf, dict) else (self.rf,)),
                  self.bluetooth and self.bluetooth.source]
        for source in {id(s): s for s in inputs if hasattr(s, "prepare")}.values():
            while self.now() < until and source.prepare(t):
                pass

    def _pin_fixed(self, dev: int, payload: bytes, t: float) -> tuple[int, bytes]:
        chip, role = self.pins.get(dev, (None, None))  # only a chip's: the safe pin is the test's
        level = chip.pin_fixed(role) if chip else None
        return (0 if level is None else 1 + level), b""

    def _ble_scan(self, dev: int, payload: bytes, t: float) -> tuple[int, bytes]:
        return (1, reply) if self.bluetooth and (reply := self.bluetooth.scan(t)) else NOTHING

    def _pin_write(self, dev: int, payload: bytes, t: float) -> tuple[int, bytes]:
        chip, role = self.pins.get(dev, (None, None))
        if chip:
            chip.pin_write(role, payload[0])
        return NOTHING

    def _spi_write(self, dev: int, payload: bytes, t: float) -> tuple[int, bytes]:
        self.chips[dev].spi_write(payload, t)
        return NOTHING

    def _spi_xfer(self, dev: int, payload: bytes, t: float) -> tuple[int, bytes]:
        return 0, self.chips[dev].spi(payload, t)

    def _word(self, dev: int, payload: bytes, t: float) -> tuple[int, bytes]:
        word, nbits = WORD_ARGS.unpack(payload)
        self.chips[dev].word(word, nbits, t)
        return NOTHING

    def _adc(self, dev: int, payload: bytes, t: float) -> tuple[int, bytes]:
        return 0, U16.pack(self.chips[dev].adc(t))

    def _block(self, dev: int, payload: bytes, t: float) -> tuple[int, bytes]:
        n, rate = BLOCK_ARGS.unpack(payload)
        samples = self.chips[dev].block(t, n, rate)
        # a board's read_block returns after its last sample: answer then, not before. Till
        # then the node waits for this answer alone, so the scene's next blocks are made
        # meanwhile, not when a reading first reaches them (a reading or a Bluetooth poll
        # waiting 1-5 ms for it made two thirds of one node's overruns at real-time priority:
        # docs/virtual-node.md, "Timing")
        end = t + (n - 1) / rate
        self._prepare_scene(t, end - PREPARE_MARGIN_S)
        wait = end - self.now()
        if wait > 0:
            time.sleep(wait)
        return 0, struct.pack(f"<{n}H", *samples)
