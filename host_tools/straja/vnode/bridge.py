"""The virtual node: the real firmware under the MicroPython unix port, seen through a serial port.

A host opens the node's port (a pseudo-terminal slave such as /dev/pts/7) with pyserial, as it would
open a board's USB CDC port. Behind it, this bridge plays the board's USB-serial hardware:

    host --pyserial--> pty A --bridge--> pty B (controlling tty of micropython, ISIG on) --> firmware

- 0x03 from the host reaches the interpreter through pty B's line discipline, which turns it into
  SIGINT: the unix port raises KeyboardInterrupt while code runs, and reads it as a plain Ctrl-C byte
  while its REPL reads a line (it switches its tty to raw mode then), just as a board's USB stack does.
- When the interpreter exits (Ctrl-D soft reset, `machine.reset()`-style exit code, crash), the
  bridge starts it again on the same pseudo-terminal, so the host's port never goes away.
- Output is buffered up to a bound while nobody reads the port, then dropped and counted, as a
  board's USB CDC drops output with no host attached.
"""
from __future__ import annotations

import collections
import ctypes
import errno
import fcntl
import os
import select
import signal
import subprocess
import termios
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path

from straja_node.wire import RESET_HARD, RESET_POWER_ON, RESET_SOFT

from ..mp import micropython_command
from ..rawrepl import FRIENDLY_PROMPT, RAW_PROMPT
from ..signals import deferred_stops

ROM = Path(__file__).with_name("_boot.py")

# Exit code with which the firmware's unix hardware layer asks for a hard reset.
RESET_EXIT_CODE = 86

OUTPUT_BOUND = 256 * 1024


def _interpreter_tty(fd: int) -> None:
    """Raw, except that 0x03 raises SIGINT without flushing queued input (NOFLSH)."""
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[3] |= termios.ISIG | termios.NOFLSH
    cc = attrs[6]
    cc[termios.VINTR] = 3
    for name in ("VQUIT", "VSUSP"):
        cc[getattr(termios, name)] = 0  # _POSIX_VDISABLE on Linux: only Ctrl-C is special
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """In a child (preexec_fn): get `signum` when the process that started it dies (even by
    SIGKILL), so no virtual node outlives what runs it."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum)


def new_session() -> None:
    """In a child: its own session (a terminal's Ctrl-C and hang-up are its parent's to handle),
    at its parent's priority. Linux schedules each session as an autogroup, and a process's nice
    value only ranks it within its own group: without this, a fleet started at nice 19 (the live
    gateway benchmark) would get as much CPU as the gateway, one full share per node."""
    os.setsid()
    try:
        with open("/proc/self/autogroup", "w") as group:
            group.write(str(os.nice(0)))
    except OSError:  # no autogroups (kernel option, another OS), or a nice below 0 not allowed
        pass


def precise_sleeps() -> None:
    """In a child (preexec_fn): its sleeps end when asked, as a board's timer does, not up to the
    50 us of timer slack Linux adds by default (docs/virtual-node.md, "Timing")."""
    PR_SET_TIMERSLACK = 29
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1)


def _set_nonblocking(fd: int) -> None:
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)


@dataclass(frozen=True)
class UsbLink:
    """The timing of a board's USB full-speed CDC link: bytes cross in 1 ms USB frames, at most
    `bytes_per_frame` each way per frame (full-speed bulk pipes carry up to 19 packets of 64 bytes
    in a frame; CDC stacks reach about 1 MB/s), so every command/answer exchange costs at least a
    frame each way, as on a board. Without a link model the virtual node's pty is instant."""

    frame_s: float = 1e-3
    bytes_per_frame: int = 1024


class VirtualNode:
    """One virtual node: run it with start(), find it at `.port`, end it with stop().

    flash_dir plays the node's flash. `env` adds environment variables for the interpreter (the
    virtual board's socket, its unique id). `heap` is the interpreter's heap, as a board's RAM.
    `cpus`: the CPUs every run of its interpreter may use (None: any; see Fleet, which puts a
    node's interpreter and its board on one).
    """

    def __init__(self, flash_dir, *, env: dict[str, str] | None = None, heap: str = "320K",
                 name: str = "node", link: UsbLink | None = None, cpus: set[int] | None = None):
        self.flash_dir = Path(flash_dir).resolve()
        self.cpus = cpus
        self.env = dict(env or {})
        self.heap = heap
        self.name = name
        self.port: str | None = None
        self.boots = 0
        self.output_dropped = 0
        self.exit_codes: list[int] = []
        self._host_master = self._host_slave = -1
        self._mp_master = -1
        self._proc: subprocess.Popen | None = None
        self._pending = bytearray()
        self._tail = bytearray()  # recent output, to tell which REPL mode the interpreter is in
        self._swallow_until_prompt = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._requests: collections.deque = collections.deque()
        self._plugged = True
        self.link = link
        self._inbound = bytearray()  # host bytes waiting for the next USB frame (with a link)

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> "VirtualNode":
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        self._open_host_port()
        # The interpreter is spawned by the pump thread: its death signal (below) is tied to the
        # thread that forked it, and the pump thread lives exactly as long as the node.
        spawned = threading.Event()
        self._thread = threading.Thread(target=self._pump, args=(spawned,),
                                        name=f"vnode-{self.name}", daemon=True)
        self._thread.start()
        spawned.wait(timeout=10)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._kill()
        if self._thread:
            self._thread.join(timeout=5)
        for fd in (self._mp_master, self._host_master, self._host_slave):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._mp_master = self._host_master = self._host_slave = -1

    def __enter__(self) -> "VirtualNode":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _open_host_port(self) -> None:
        self._host_master, self._host_slave = os.openpty()
        tty.setraw(self._host_slave)
        _set_nonblocking(self._host_master)
        self.port = os.ttyname(self._host_slave)

    def unplug(self) -> None:
        """Pull the USB cable of a USB-powered node: the port disappears and the node is off."""
        def pull():
            self._plugged = False
            self._kill()
            for fd in (self._host_master, self._host_slave, self._mp_master):
                os.close(fd)
            self._host_master = self._host_slave = self._mp_master = -1
            self._proc = None
            self._pending.clear()
            self.port = None
        self._in_pump(pull)

    def replug(self) -> str:
        """Plug it back: a new port path (as USB may give), and the node powers on. Returns the path."""
        def plug():
            self._open_host_port()
            self._plugged = True
            self._spawn(RESET_POWER_ON)
        self._in_pump(plug)
        return self.port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def power_cut(self) -> None:
        """Kill the interpreter at once (SIGKILL), as pulling a board's power; it boots again."""
        with self._lock:
            if self._proc and self._proc.poll() is None:
                self._proc.kill()

    # -- the interpreter ------------------------------------------------------------------------
    def _spawn(self, cause: int, repl_mode: str = "friendly") -> None:
        master, slave = os.openpty()
        _interpreter_tty(slave)
        env = dict(os.environ)
        env.update(self.env)
        env.update({
            "STRAJA_FLASH": str(self.flash_dir),
            "STRAJA_RESET_CAUSE": str(cause),
            "STRAJA_REPL_MODE": repl_mode,
        })
        env.pop("MICROPYPATH", None)

        def become_session_leader_with_tty():
            new_session()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            # A Ctrl-C before the interpreter runs is lost, as bytes sent to a board still
            # booting are: ignored until MicroPython installs its handler (SIG_IGN passes through
            # exec, and `micropython`'s CPython start then installs none). At SIG_DFL it killed
            # the start, which on a loaded machine lasts seconds: every retry of a host's
            # Ctrl-C rebooted the node again, and the host read CPython's traceback.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            die_with_parent()
            precise_sleeps()
            if self.cpus:
                os.sched_setaffinity(0, self.cpus)

        cmd = [micropython_command(), "-X", f"heapsize={self.heap}", "-i", str(ROM)]
        with deferred_stops():
            proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env,
                                    cwd=self.flash_dir, preexec_fn=become_session_leader_with_tty,
                                    close_fds=True)
        os.close(slave)
        _set_nonblocking(master)
        with self._lock:
            old, self._mp_master, self._proc = self._mp_master, master, proc
        if old >= 0:
            os.close(old)
        self.boots += 1

    def _kill(self) -> None:
        with self._lock:
            proc = self._proc
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)

    def _restart_after_exit(self, code: int) -> None:
        """The interpreter ended: boot it again, as the board would."""
        self.exit_codes.append(code)
        in_raw_repl = self._tail.rfind(RAW_PROMPT) > self._tail.rfind(FRIENDLY_PROMPT)
        if code in (0, -signal.SIGUSR1):  # Ctrl-D at the REPL; sys.exit() in main.py (_boot.py)
            cause = RESET_SOFT
            self._to_host(b"MPY: soft reboot\r\n")
        else:
            cause = RESET_HARD
        if code == 0 and in_raw_repl:
            # A soft reset from the raw REPL comes back in the raw REPL, without main.py.
            self._swallow_until_prompt = True
            self._spawn(cause, repl_mode="raw")
        else:
            self._spawn(cause)
        self._tail.clear()

    # -- byte pump ----------------------------------------------------------------------------------
    def _to_host(self, data: bytes) -> None:
        if not self._plugged:
            return
        room = OUTPUT_BOUND - len(self._pending)
        if len(data) > room:
            self.output_dropped += len(data) - max(room, 0)
            data = data[:max(room, 0)]
        self._pending += data
        if self.link is None:
            self._flush_to_host()

    def _flush_to_host(self, limit: int | None = None) -> None:
        while self._pending and limit != 0:
            chunk = self._pending if limit is None else self._pending[:limit]
            try:
                n = os.write(self._host_master, chunk)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in (errno.EIO, errno.EAGAIN):
                    return
                raise
            del self._pending[:n]
            if limit is not None:
                limit -= n

    def _from_interpreter(self, data: bytes) -> None:
        self._tail += data
        del self._tail[:-512]
        if self._swallow_until_prompt:
            # A raw-REPL soft reset: hide the new interpreter's friendly banner, then enter raw REPL.
            if self._tail.endswith(FRIENDLY_PROMPT):
                self._swallow_until_prompt = False
                os.write(self._mp_master, b"\x01")
            return
        self._to_host(data)

    def _pump(self, spawned: threading.Event) -> None:
        self._spawn(RESET_POWER_ON)
        spawned.set()
        next_frame = time.monotonic()
        while not self._stopping.is_set():
            while self._requests:
                request, done = self._requests.popleft()
                request()
                done.set()
            timeout = 0.02
            if self.link is not None:
                now = time.monotonic()
                if now >= next_frame:
                    self._usb_frame()
                    next_frame = max(next_frame + self.link.frame_s, now)
                timeout = max(0.0, next_frame - time.monotonic())
            fds = [fd for fd in (self._host_master, self._mp_master) if fd >= 0]
            readable, _, _ = select.select(fds, [], [], timeout)
            for fd in readable:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""  # EIO: the other side closed (the interpreter exited)
                if fd == self._host_master:
                    if not data or self._mp_master < 0:
                        continue
                    if self.link is None:
                        self._to_interpreter(data)
                    else:
                        self._inbound += data
                elif data:
                    self._from_interpreter(data)
            if self.link is None:
                self._flush_to_host()
            proc = self._proc
            if proc is not None and proc.poll() is not None and not self._stopping.is_set():
                self._drain_interpreter()
                self._restart_after_exit(proc.returncode)

    def _usb_frame(self) -> None:
        """One USB frame: move at most a frame's worth of bytes each way."""
        size = self.link.bytes_per_frame
        if self._inbound and self._mp_master >= 0:
            self._to_interpreter(bytes(self._inbound[:size]))
            del self._inbound[:size]
        self._flush_to_host(limit=size)

    def _in_pump(self, request) -> None:
        """Run `request` in the pump thread (which owns the file descriptors) and wait for it."""
        done = threading.Event()
        self._requests.append((request, done))
        if not done.wait(timeout=10):
            raise TimeoutError(f"virtual node {self.name} did not respond")

    def _drain_interpreter(self) -> None:
        while True:
            try:
                data = os.read(self._mp_master, 65536)
            except OSError:
                return
            if not data:
                return
            self._from_interpreter(data)

    def _to_interpreter(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + 2
        while view:
            try:
                n = os.write(self._mp_master, view)
                view = view[n:]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return  # the interpreter is not reading: a board's RX buffer overflows too
                time.sleep(0.001)
            except OSError:
                return
