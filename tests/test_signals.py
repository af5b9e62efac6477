"""straja.signals: a Ctrl-C (or the SIGTERM/SIGHUP a command turns into one) that comes while a
child is forked is raised once the child exists, not lost in Python's at-fork handlers.

Each case runs in a Python process of its own: the at-fork handler that makes the signal come
mid-fork (as a Ctrl-C did once in `straja demo`, at random) cannot be unregistered."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from straja.signals import STOP_SIGNALS, deferred_stops

# A fork whose at-fork handler (as logging's `_releaseLock`) receives the signal and runs Python
# code after it: the signal's handler runs inside the at-fork handler.
PROGRAM = textwrap.dedent("""
    import os, signal, subprocess, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)  # (as on a terminal: CI may ignore it)
    from straja.signals import deferred_stops, stop_on_signals

    SIGNUM = getattr(signal, sys.argv[2])

    def signal_mid_fork():
        os.kill(os.getpid(), SIGNUM)
        for _ in range(100):  # (a backward jump: where Python runs a signal's handler)
            pass

    os.register_at_fork(after_in_parent=signal_mid_fork)
    if sys.argv[3] == "stop_on_signals":
        stop_on_signals()

    child = None
    try:
        if sys.argv[1] == "deferred":
            with deferred_stops():
                child = subprocess.Popen(["true"], preexec_fn=lambda: None)
        else:
            child = subprocess.Popen(["true"], preexec_fn=lambda: None)
        child.wait()
        print("ran on", flush=True)
    except KeyboardInterrupt:
        print("interrupted", "with its child started" if child else "before the child", flush=True)
        sys.exit(130)
""")


def run(mode: str, signame: str = "SIGINT", handlers: str = "python") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROGRAM, mode, signame, handlers],
                          capture_output=True, text=True, timeout=60)


def test_without_deferral_the_signal_is_lost_in_the_fork():
    """What deferred_stops is for (Python's behaviour, checked so the cases below mean something):
    the KeyboardInterrupt is raised inside the at-fork handler, printed as ignored, and the
    program runs on."""
    done = run("plain")
    assert done.returncode == 0 and "ran on" in done.stdout, done
    assert "Exception ignored" in done.stderr and "KeyboardInterrupt" in done.stderr


@pytest.mark.parametrize("signame, handlers", [("SIGINT", "python"),
                                               ("SIGTERM", "stop_on_signals"),
                                               ("SIGHUP", "stop_on_signals")])
def test_a_stop_during_the_fork_is_raised_once_the_child_exists(signame, handlers):
    done = run("deferred", signame, handlers)
    assert done.returncode == 130 and "interrupted with its child started" in done.stdout, done
    assert "Exception ignored" not in done.stderr, done.stderr


def test_a_signal_without_a_python_handler_acts_as_it_would_have():
    """SIGTERM left at its default ends the process, after the fork as before it."""
    done = run("deferred", "SIGTERM", "default")
    assert done.returncode == -signal.SIGTERM, done
    assert "ran on" not in done.stdout


def test_outside_the_main_thread_nothing_changes():
    seen = []

    def in_thread():
        before = signal.getsignal(signal.SIGINT)
        with deferred_stops():
            seen.append(signal.getsignal(signal.SIGINT) is before)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert seen == [True]


# A child forked from a thread other than the main one (a node's interpreter restarted by its
# bridge thread) receives the process group's Ctrl-C in its own at-fork handlers, before its exec.
FORK_FROM_A_THREAD = textwrap.dedent("""
    import os, signal, subprocess, threading
    signal.signal(signal.SIGINT, signal.default_int_handler)  # (as on a terminal: CI may ignore it)
    from straja.signals import stop_on_ctrl_c

    def ctrl_c_in_the_child():
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(100):
            pass

    stop_on_ctrl_c()
    os.register_at_fork(after_in_child=ctrl_c_in_the_child)
    started = threading.Thread(target=lambda: subprocess.Popen(["true"],
                                                               preexec_fn=lambda: None).wait())
    started.start()
    started.join()
    print("ran on", flush=True)
""")


def test_a_child_forked_from_another_thread_leaves_the_stop_to_its_parent():
    """Its inherited handler does nothing there (no traceback on the terminal from the child):
    the parent, which got the same Ctrl-C, ends it."""
    done = subprocess.run([sys.executable, "-c", FORK_FROM_A_THREAD], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "ran on" in done.stdout, done
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_the_handlers_are_restored_after_the_block():
    before = [signal.getsignal(s) for s in STOP_SIGNALS]
    with deferred_stops():
        assert [signal.getsignal(s) for s in STOP_SIGNALS] != before
    assert [signal.getsignal(s) for s in STOP_SIGNALS] == before


# `straja` with its parser's making cut short by an error, a Ctrl-C before it or not (as CPython's
# PyCapsule_Import reports an import a Ctrl-C cut short: an ImportError, the Ctrl-C gone).
CUT_SHORT = textwrap.dedent("""
    import os, signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)  # (as on a terminal: CI may ignore it)
    from straja import cli

    def build_parser_cut_short(load=frozenset()):
        try:
            if sys.argv[1] == "ctrl-c":
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(100):
                    pass
        except KeyboardInterrupt:
            pass
        raise ImportError('PyCapsule_Import could not import module "_socket"')

    cli.build_parser = build_parser_cut_short
    sys.exit(cli.main(["doctor"]))
""")


@pytest.mark.parametrize("ctrl_c", [True, False], ids=["after a Ctrl-C", "alone"])
def test_an_error_a_ctrl_c_became_ends_as_the_ctrl_c(ctrl_c):
    done = subprocess.run([sys.executable, "-c", CUT_SHORT, "ctrl-c" if ctrl_c else "none"],
                          capture_output=True, text=True, timeout=60)
    if ctrl_c:
        assert done.returncode == 130 and "Traceback" not in done.stderr, done
    else:  # a real error stays one
        assert done.returncode == 1 and "ImportError" in done.stderr, done


# The loss `straja demo` met, made to happen every time: a Ctrl-C while xml.etree.ElementTree's C
# accelerator (`_elementtree`) imports pyexpat's capsule (PyCapsule_Import turns the
# KeyboardInterrupt into an ImportError, ElementTree's fallback swallows it); then the program's
# work (a sleep).
CUT_IMPORT = textwrap.dedent("""
    import os, signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)  # (as on a terminal: CI may ignore it)
    from straja.signals import stop_on_ctrl_c

    sent = []

    def ctrl_c_as_pyexpat_imports(event, args):
        # one Ctrl-C: pyexpat's import is audited again where the first was swallowed
        if event == "import" and args[0] == "pyexpat" and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)

    sys.addaudithook(ctrl_c_as_pyexpat_imports)
    if sys.argv[1] == "stop_on_ctrl_c":
        stop_on_ctrl_c()
    try:
        import xml.etree.ElementTree as ET
        print("imported", "with" if ET.Element is not ET._Element_Py else "without",
              "its C accelerator", flush=True)
        time.sleep(0.5 if sys.argv[1] == "python" else 60)  # (the stop comes in ~50 ms)
        print("ran on", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
""")


@pytest.mark.parametrize("handler", ["python", "stop_on_ctrl_c"])
def test_a_ctrl_c_a_c_extension_import_swallowed_comes_again_once_it_is_done(handler):
    done = subprocess.run([sys.executable, "-c", CUT_IMPORT, handler],
                          capture_output=True, text=True, timeout=120)
    if handler == "python":  # Python's own handler: lost (what stop_on_ctrl_c is for)
        assert done.returncode == 0 and "ran on" in done.stdout, done
        assert "without its C accelerator" in done.stdout
    else:
        assert done.returncode == 130, done
        assert done.stdout.splitlines() == ["imported with its C accelerator", "interrupted"], done
