"""Through the real `straja` process: a reader that leaves early (`straja X | head -1`) ends every
command that prints quietly with exit 0, and Ctrl-C ends every command that runs long with exit
130 within two seconds, without a traceback (README, "Exit codes")."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_tools_docs import REMOTE_ID  # (remoteid.md's example)

STRAJA = str(Path(sys.executable).with_name("straja"))
PASSWORD = "correct horse battery\n" * 2  # (web-password asks twice)


@pytest.fixture
def store(tmp_path, video_recording) -> Path:
    """A gateway event store with the replayed recording's events (an alert among them)."""
    db = tmp_path / "gw.db"
    done = subprocess.run([STRAJA, "replay", str(video_recording), "--db", str(db)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return db


def sigint_as_on_a_terminal() -> None:
    """A child's SIGINT back to its default (Python's KeyboardInterrupt): a job started in the
    background by a shell without job control, as a CI script may run the tests, ignores it, and
    its children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_until_python_handles_sigint(proc: subprocess.Popen) -> None:
    """Until the interpreter has started (its SIGINT handler installed: /proc's SigCgt): a Ctrl-C
    before it is the interpreter's start's, not the command's (on a machine loaded enough to
    take seconds over it, the fixed waits below fell there)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:"))
                     .split()[1], 16)
        if caught & (1 << (signal.SIGINT - 1)):
            return
        time.sleep(0.01)


def start(argv: list[str], cwd: Path, port: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    """`straja ARGV` in a session of its own (a shell's job: Ctrl-C reaches its whole process
    group), with SIGINT handled as on a terminal."""
    return subprocess.Popen([STRAJA, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=stdin, cwd=cwd, start_new_session=True,
                            env=dict(os.environ, STRAJA_EXTRA_PORTS=port),
                            preexec_fn=sigint_as_on_a_terminal)


# What each printing command is run with (PORT: the virtual node; DB: a store; REC: a recording).
PRINTING = [["doctor"], ["ports"], ["ports", "--probe"], ["info", "PORT"],
            ["info", "PORT", "--json"], ["config", "PORT", "get"], ["monitor", "PORT"],
            ["monitor", "PORT", "--json"], ["sim", "check", "demo_incursion"],
            ["sim", "truth", "demo_incursion", "--out", "-"], ["remoteid", "decode", REMOTE_ID],
            ["remoteid", "decode", "--json", REMOTE_ID],
            ["hq", "bridge-config", "--site", "A", "--central", "h:1883"],
            ["events", "--db", "DB"], ["events", "--db", "DB", "--json"],
            ["known", "list", "--db", "DB"], ["replay", "REC", "--jsonl", "-"],
            ["replay", "REC", "--db", "new.db", "--jsonl", "-"],
            ["gateway", "--no-discover", "--port", "PORT", "--db", "gw2.db", "--jsonl", "-"],
            ["web-password", "olga"]]


@pytest.mark.parametrize("argv", PRINTING, ids=" ".join)
def test_a_reader_that_leaves_after_one_line_ends_the_command_quietly(argv, module_node, store,
                                                                     video_recording, tmp_path):
    words = {"PORT": module_node.port, "DB": str(store), "REC": str(video_recording)}
    proc = start([words.get(w, w) for w in argv], tmp_path, module_node.port, stdin=subprocess.PIPE)
    proc.stdin.write(PASSWORD.encode())
    proc.stdin.close()
    first = proc.stdout.readline()
    proc.stdout.close()  # `| head -1` has its line and leaves
    left = time.monotonic()
    try:
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert first, err
    assert code == 0, (argv, err)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert time.monotonic() - left < 10
    time.sleep(0.5)  # (info, config and ports --probe restart the node's application)


# What each command that runs until stopped is run with, and how long before the Ctrl-C.
LONG_RUNNING = [(["monitor", "PORT"], 2), (["monitor", "PORT", "--json"], 2),
                (["gateway", "--no-discover", "--port", "PORT", "--db", "gw.db"], 3),
                (["sim", "node"], 4), (["sim", "node", "--count", "2", "--json"], 0.3),
                (["demo", "--nodes", "1", "--duration", "0", "--db", "demo.db"], 6),
                (["demo", "--nodes", "1", "--db", "demo.db"], 0.5),
                (["replay", "REC", "--speed", "1"], 2),
                (["hq", "--broker", "127.0.0.1:1", "--db", "hq.db"], 3),
                (["eval", "--quick", "--out", "report"], 4)]


@pytest.mark.parametrize("argv, after_s", LONG_RUNNING, ids=[" ".join(a) for a, _ in LONG_RUNNING])
def test_ctrl_c_ends_a_long_command_within_two_seconds(argv, after_s, module_node, video_recording,
                                                       tmp_path):
    words = {"PORT": module_node.port, "REC": str(video_recording)}
    proc = start([words.get(w, w) for w in argv], tmp_path, module_node.port)
    wait_until_python_handles_sigint(proc)
    time.sleep(after_s)
    assert proc.poll() is None, proc.communicate()
    pressed = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C on a terminal does
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    took = time.monotonic() - pressed
    assert proc.returncode == 130, (argv, err.decode())
    assert "Traceback" not in err.decode(), err.decode()
    assert took < 2.0, f"{argv}: {took:.1f} s to stop"
    left = subprocess.run(["ps", "-o", "pid=", "-g", str(proc.pid)], capture_output=True,
                          text=True)
    assert left.stdout.strip() == "", f"{argv} left processes running"


def test_ctrl_c_mid_deploy_exits_130_and_the_node_runs_its_firmware(module_node, tmp_path):
    proc = start(["deploy", module_node.port, "--force", "-v", "--log-dir", str(tmp_path / "logs")],
                 tmp_path, module_node.port)
    steps = [proc.stderr.readline().decode()]
    while " sent " not in steps[-1]:  # the first file is on the node, the others to come
        assert steps[-1], steps
        steps.append(proc.stderr.readline().decode())
    pressed = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err.decode(), err.decode()
    assert "switched to" not in err.decode()  # (stopped before the switch)
    assert time.monotonic() - pressed < 2.0
    time.sleep(1.0)
    info = subprocess.run([STRAJA, "info", module_node.port], capture_output=True, text=True,
                          timeout=60)
    assert info.returncode == 0, info.stderr
    assert "application  running" in info.stdout or "application  streaming" in info.stdout, \
        info.stdout


SLOW_IMPORT = """
import sys, time

class SlowCli:  # the command's modules take a while to import (a slow SD card, a cold cache)
    def find_spec(self, name, path=None, target=None):
        if name == "straja.cli":
            print("importing", flush=True)
            time.sleep(20)

sys.meta_path.insert(0, SlowCli())
sys.argv = ["straja", "doctor"]
from straja.__main__ import main
sys.exit(main())
"""


def test_ctrl_c_while_the_command_still_imports_exits_130():
    assert "from straja.__main__ import main" in Path(STRAJA).read_text()  # the entry point
    proc = subprocess.Popen([sys.executable, "-c", SLOW_IMPORT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=sigint_as_on_a_terminal)
    assert proc.stdout.readline() == "importing\n"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130 and err == ""
