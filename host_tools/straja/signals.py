"""How a long-running command stops: Ctrl-C (SIGINT), and SIGTERM/SIGHUP where the command asks,
each raising KeyboardInterrupt in the main thread, so the command's cleanup runs (exit code 130),
without a stop being lost on the way. Two places lost one, each at random, the command then
running on as if never stopped (`straja demo` in CI):

- an import: a KeyboardInterrupt raised while a C module imports another's capsule
  (PyCapsule_Import) becomes an ImportError, which the importer's fallback swallows
  (xml.etree.ElementTree's `except ImportError` around `_elementtree`, which imports pyexpat's):
  a stop that comes during a C extension's import comes again once that import is done;
- a fork: Python runs its at-fork handlers (logging's `_acquireLock`/`_releaseLock`) around
  `os.fork()` and a `subprocess.Popen` given a `preexec_fn`; a KeyboardInterrupt raised in one is
  reported as "Exception ignored" and dropped: `deferred_stops()` holds the stop until the child
  exists and raises it then, where the caller's cleanup ends the child.

A child forked from another thread (a node's interpreter restarted by its bridge thread)
inherits the handler itself, and a Ctrl-C sent to the process group reaches it before its exec:
there the handler does nothing (the parent got the same stop, and ends the child)."""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from importlib.machinery import ExtensionFileLoader

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
RETRY_S = 0.05  # a stop that came during an import is sent again this often until it is done
_stop_asked = False
_handling_pid = 0  # the process whose stop the handler is: not a child forked from it


def _stop(signum, frame):
    global _stop_asked
    if os.getpid() != _handling_pid:
        return
    _stop_asked = True
    if _importing_extension(frame):
        again = threading.Timer(RETRY_S, os.kill, (os.getpid(), signum))
        again.daemon = True
        again.start()
        return
    raise KeyboardInterrupt


def _importing_extension(frame) -> bool:
    """Whether the code that `frame` runs is part of a C extension's import (its C code alone
    turns a stop into an ImportError: elsewhere KeyboardInterrupt passes every `except`)."""
    while frame is not None:
        if isinstance(frame.f_locals.get("self"), ExtensionFileLoader):
            return True
        frame = frame.f_back
    return False


def stop_on_ctrl_c() -> None:
    """Ctrl-C raises KeyboardInterrupt, as Python's own handler does (once any C extension's
    import under way is done), and is remembered (`stop_asked`): code that turns the KeyboardInterrupt into an
    error of its own as it passes does not make a Ctrl-C a failure. A SIGINT ignored (a
    background job) stays ignored."""
    global _handling_pid
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        _handling_pid = os.getpid()
        signal.signal(signal.SIGINT, _stop)


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP (kill, systemd, a closed terminal) stop this process as Ctrl-C does:
    through its cleanup, which stops every child it started (exit code 130)."""
    global _handling_pid
    _handling_pid = os.getpid()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)


def stop_asked() -> bool:
    """Whether a Ctrl-C (or a signal stop_on_signals handles) came."""
    return _stop_asked


@contextlib.contextmanager
def deferred_stops():
    """Around a fork: SIGINT, SIGTERM and SIGHUP that come during the block are noted, not
    handled, and raised again at its end, to the handlers the process had. A child forked in
    the block inherits the noting handler until it execs (an exec resets it) or sets its own.
    Only the main thread runs Python's signal handlers: elsewhere nothing can be lost, and
    nothing is changed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    previous = {}
    try:
        for signum in STOP_SIGNALS:
            previous[signum] = signal.signal(signum, lambda signum, _: came.append(signum))
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(came):
            signal.raise_signal(signum)  # (its handler runs here: KeyboardInterrupt, or exit)
