"""A live link to one node over its serial port: decoded frames in, commands out.

A reader thread feeds everything the port delivers to the compiled frame decoder; replies are
matched to their commands by request id, every other frame is queued for `frames()` and handed to
`on_frame`. The REPL can be taken over with `repl()`, which pauses the reader.
"""
from __future__ import annotations

import collections
import contextlib
import itertools
import json
import threading
import time

from . import protocol
from .errors import StrajaError
from .framing import Decoder
from .protocol import Console, Frame, Reply
from .rawrepl import RawRepl
from .serial_port import open_port

QUEUE_LIMIT = 100_000  # frames kept for frames(); older ones are dropped first


class NodeLink:
    def __init__(self, port, *, on_frame=None, on_console=None, on_data=None, decoder=None):
        self.serial = open_port(port) if isinstance(port, str) else port
        self.decoder = decoder or Decoder()
        self.on_frame = on_frame
        self.on_console = on_console
        self.on_data = on_data  # raw bytes as read, before decoding (for recordings)
        self.console = collections.deque(maxlen=200)  # recent console text (REPL, tracebacks)
        self.last_status: protocol.Status | None = None
        self.node_id: int | None = None
        self._frames: collections.deque[Frame] = collections.deque(maxlen=QUEUE_LIMIT)
        self._replies: dict[int, Reply] = {}
        self._awaited: set[int] = set()  # request ids of commands waiting for their reply
        self.unasked_replies = 0  # replies to no command waiting (a node's own, or crafted)
        self._ids = itertools.cycle(range(1, 65536))
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.start()

    # -- reader ------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._read_loop, name=f"link-{self.serial.port}",
                                        daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        self._thread = None

    def close(self) -> None:
        self.pause()
        self.serial.close()

    def __enter__(self) -> "NodeLink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.serial.read(max(1, self.serial.in_waiting))
            except (OSError, TypeError, AttributeError):  # port gone (unplugged, closed)
                self._stop.set()
                with self._cond:
                    self._cond.notify_all()
                return
            if data:
                if self.on_data:
                    self.on_data(data)
                self._dispatch(self.decoder.feed(data))

    def _dispatch(self, events) -> None:
        for event in events:
            if isinstance(event, Console):
                self.console.append(event.text)
                if self.on_console:
                    self.on_console(event.text)
                continue
            if isinstance(event.body, protocol.Status):
                self.last_status = event.body
            self.node_id = event.node_id
            with self._cond:
                if isinstance(event.body, Reply):
                    # Only a command waiting takes its reply: others would pile up unbounded.
                    if event.body.request_id in self._awaited:
                        self._replies[event.body.request_id] = event.body
                    else:
                        self.unasked_replies += 1
                else:
                    self._frames.append(event)
                self._cond.notify_all()
            if self.on_frame:
                self.on_frame(event)

    # -- use -----------------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def counters(self) -> dict:
        return {**protocol.counters(self.decoder), "unasked_replies": self.unasked_replies}

    def send_line(self, line: bytes) -> None:
        self.serial.write(line)

    def command(self, verb: str, args: str | None = None, timeout: float = 3.0) -> Reply:
        """Send one command and wait for its reply frame (TimeoutError if none comes)."""
        request_id = next(self._ids)
        with self._cond:
            self._replies.pop(request_id, None)
            self._awaited.add(request_id)
        try:
            self.serial.write(protocol.format_command(request_id, verb, args))
            deadline = time.monotonic() + timeout
            with self._cond:
                while request_id not in self._replies:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self.alive:
                        raise TimeoutError(f"no reply to {verb!r} from {self.serial.port} in "
                                           f"{timeout} s")
                    self._cond.wait(left)
                return self._replies.pop(request_id)
        finally:
            with self._cond:
                self._awaited.discard(request_id)
                self._replies.pop(request_id, None)  # (a reply that came after the timeout)

    def call(self, verb: str, args: str | None = None, timeout: float = 3.0):
        """The command's result JSON; raises protocol.CommandError on an error reply."""
        return self.command(verb, args, timeout).result()

    def call_object(self, verb: str, args: str | None = None, timeout: float = 3.0) -> dict:
        """call() of a command whose result is a JSON object (info, get, set): any other answer
        (a broken or crafted node) is a StrajaError naming the port, not a crash later on."""
        reply = self.command(verb, args, timeout)
        result = reply.result()
        try:  # (result() takes text that is not JSON for an error message)
            is_object = isinstance(json.loads(reply.text), dict)
        except (ValueError, RecursionError):
            is_object = False
        if not is_object:
            raise StrajaError(f"{self.serial.port}: the node answered {verb!r} with "
                              f"{json.dumps(result)[:80]}, not a JSON object",
                              f"check what runs there: straja info {self.serial.port}")
        return result

    def frames(self, n: int, timeout: float = 10.0, types: tuple[int, ...] | None = None,
               drain: bool = False) -> list[Frame]:
        """The next `n` frames (of `types` if given; others are discarded). With `drain`, frames
        already queued are dropped first, so only frames that arrive from now on count."""
        got: list[Frame] = []
        deadline = time.monotonic() + timeout
        with self._cond:
            if drain:
                self._frames.clear()
            while len(got) < n:
                while self._frames and len(got) < n:
                    frame = self._frames.popleft()
                    if types is None or frame.type in types:
                        got.append(frame)
                if len(got) >= n:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(got)} of {n} frames from {self.serial.port} "
                                       f"in {timeout} s")
                self._cond.wait(left)
        return got

    @contextlib.contextmanager
    def repl(self):
        """Interrupt the application and hold the raw REPL (the reader is paused meanwhile)."""
        self.pause()
        repl = RawRepl(self.serial)
        repl.enter()
        try:
            yield repl
        finally:
            repl.exit()
            self.start()
