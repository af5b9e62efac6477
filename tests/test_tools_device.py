"""`straja provision`, `info`, `config`, `reset`, `repl` against a virtual node running the real
firmware (deployed by the tools as .mpy), and the port errors a technician meets."""
from __future__ import annotations

import errno
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from straja import cli as straja_cli
from straja import serial_port
from straja import term
from straja.commands import device
from straja.tools import deploy
from straja.link import NodeLink

STRAJA = str(Path(sys.executable).with_name("straja"))


def cli(*argv: str) -> int:
    """`straja ARGV` in this process: its exit code (errors printed as the command prints them)."""
    return straja_cli.main(list(argv))


@pytest.fixture
def fw_node(tmp_path):
    from conftest import FirmwareNode
    from straja.vboard.sources import ToneSource

    node = FirmwareNode(tmp_path / "flash", ToneSource(2.44e9, -60.0), node_id=7)
    time.sleep(0.5)
    yield node
    node.stop()


def test_provision_info_config_reset(fw_node, tmp_path, capsys):
    inventory = tmp_path / "inventory.jsonl"
    code = cli("provision", fw_node.port, "--node-id", "42", "--board", "virtual",
               "--set", "stream_on_boot=false", "--inventory", str(inventory), "--json",
               "--position", "45.1,25.2,310.5")
    out = capsys.readouterr()
    assert code == term.EXIT_OK, out.err
    record = json.loads(inventory.read_text().splitlines()[-1])
    manifest = json.loads((fw_node.flash / ".deploy/manifest.json").read_text())
    assert record["node_id"] == 42 and record["board"] == "virtual"
    assert record["firmware_hash"] == manifest["id"] and record["selftest_ok"] is True
    assert set(record["selftest"]) >= {"ism24", "subg"}
    assert record["position"] == {"latitude": 45.1, "longitude": 25.2, "height_m": 310.5}
    assert json.loads(out.out)["node_id"] == 42

    assert cli("info", fw_node.port, "--json", "--inventory", str(inventory)) == term.EXIT_OK
    info = json.loads(capsys.readouterr().out)
    assert info["position"] == record["position"]  # the inventory's newest record of node 42
    assert info["node_id"] == 42 and info["firmware"] and info["firmware_hash"] == manifest["id"]
    assert info["mpy"] == 2822 and info["board"] == "virtual"

    time.sleep(1.0)  # the firmware starts again after info's soft reset
    assert cli("config", fw_node.port, "get", "node_id", "--json") == term.EXIT_OK
    assert json.loads(capsys.readouterr().out) == {"node_id": 42}
    assert cli("config", fw_node.port, "set", "node_id=70000") == term.EXIT_USAGE
    assert "the node refused" in capsys.readouterr().err

    assert cli("reset", fw_node.port) == term.EXIT_OK
    time.sleep(1.0)
    with NodeLink(fw_node.port) as link:
        assert link.call("info", timeout=5)["reset_cause"] == 3  # soft reset


@pytest.mark.parametrize("name", ["../boards/virtual", "/etc/hostname", "Virtual", 7])
def test_provision_takes_only_a_plain_board_name_from_the_node(fw_node, tmp_path, capsys, name):
    """Without --board, the profile is the one the node names: a name that is a path would read
    any JSON file of the host and write it onto the node."""
    board = json.loads((fw_node.flash / "board.json").read_text())
    (fw_node.flash / "board.json").write_text(json.dumps(dict(board, name=name)))
    inventory = tmp_path / "inventory.jsonl"
    code = cli("provision", fw_node.port, "--node-id", "5", "--inventory", str(inventory))
    assert code == term.EXIT_USAGE
    assert "is not a board profile name (a-z, 0-9, _ and - only)" in capsys.readouterr().err
    assert not inventory.exists()
    assert json.loads((fw_node.flash / "board.json").read_text())["name"] == name  # untouched


def test_provision_failed_selftest_is_recorded_and_reported(fw_node, tmp_path, capsys):
    from straja.vboard.chips import Sx127x

    for chip in fw_node.board.chips:
        if isinstance(chip, Sx127x):  # a dead SX127x: RegVersion reads 0, not 0x12, even after reset
            chip.reset = lambda chip=chip, reset=chip.reset: (reset(), chip.regs.__setitem__(0x42, 0))
            chip.reset()
    inventory = tmp_path / "inventory.jsonl"
    code = cli("provision", fw_node.port, "--node-id", "5", "--board", "virtual",
               "--inventory", str(inventory))
    out = capsys.readouterr()
    record = json.loads(inventory.read_text())
    assert code == term.EXIT_FAILED and record["selftest_ok"] is False
    # a provisioned node streams after any reset, with or without a host's `start`
    assert json.loads((fw_node.flash / "config.json").read_text())["stream_on_boot"] is True
    assert "FAIL" in out.out and "self-test failed" in out.err


def read_until(stream, marker: bytes, timeout: float = 15.0) -> bytes:
    """What `stream` (a pipe) gives up to and including `marker`; fails after `timeout` s."""
    got = b""
    deadline = time.monotonic() + timeout
    while marker not in got:
        assert select.select([stream], [], [], max(0.0, deadline - time.monotonic()))[0], \
            f"{marker!r} not seen in {got[-300:]!r}"
        got += stream.read1(4096)
    return got


def test_repl_takes_over_and_leaves_with_ctrl_bracket_restarting_the_app(fw_node):
    code = "import sys\nfrom straja import cli\nsys.exit(cli.main(sys.argv[1:]))"
    keyboard, terminal = pty.openpty()  # the technician's terminal
    proc = subprocess.Popen([sys.executable, "-c", code, "repl", fw_node.port],
                            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(terminal)
    assert b"Ctrl-]" in read_until(proc.stderr, b"leaves")  # connected, terminal in raw mode
    os.write(keyboard, b"\x03")  # stops the application
    read_until(proc.stdout, b">>> ")
    os.write(keyboard, b"print(6*7)\r")
    read_until(proc.stdout, b"42")
    os.write(keyboard, device.REPL_EXIT_KEY)
    out, err = proc.communicate(timeout=15)
    os.close(keyboard)
    assert proc.returncode == 0, err
    assert b"restarted its application" in err
    time.sleep(1.0)
    with NodeLink(fw_node.port) as link:
        assert link.call("ping", timeout=5)["pong"]


def test_repl_without_a_terminal_says_so(fw_node):
    r = subprocess.run([STRAJA, "repl", fw_node.port], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == term.EXIT_USAGE and "needs a terminal" in r.stderr
    assert "Traceback" not in r.stderr


def test_info_shows_the_full_hash_and_the_running_application(fw_node, capsys):
    assert cli("info", fw_node.port) == term.EXIT_OK
    out = capsys.readouterr().out
    rows = dict(line.strip().split("  ", 1) for line in out.splitlines())
    manifest = json.loads((fw_node.flash / ".deploy/manifest.json").read_text()) \
        if (fw_node.flash / ".deploy/manifest.json").exists() else None
    assert rows["firmware hash"].strip() == (manifest["id"] if manifest else
                                             "none (never deployed)")
    assert rows["node id"].strip() == "7" and rows["board"].strip() == "virtual"
    assert rows["application"].strip() in ("streaming", "running, not streaming")
    assert "ism24 (" in rows["front ends"] and rows["uptime"].strip().endswith(")")
    assert rows["overruns"].strip().split()[0].isdigit() and "entries" in rows["plan"]


def silent_port():
    """A serial port where nothing answers (a pty nobody reads): (its path, the fd to close)."""
    controller, device_fd = pty.openpty()
    return os.ttyname(device_fd), (controller, device_fd)


def test_reset_where_nothing_answers_fails_with_exit_3(capsys):
    path, fds = silent_port()
    try:
        assert cli("reset", path) == term.EXIT_NO_DEVICE
    finally:
        for fd in fds:
            os.close(fd)
    assert "error:" in capsys.readouterr().err


def test_monitor_start_where_no_firmware_answers_fails_with_exit_3(capsys):
    path, fds = silent_port()
    try:
        assert cli("monitor", path, "--start", "--duration", "1") == term.EXIT_NO_DEVICE
    finally:
        for fd in fds:
            os.close(fd)
    err = capsys.readouterr().err
    assert "the Straja firmware did not start" in err and "fix: " in err


def test_busy_port_names_the_holder(fw_node, capsys):
    holder = subprocess.Popen([sys.executable, "-c", "import serial, sys, time\n"
                               "s = serial.Serial(sys.argv[1], exclusive=True)\n"
                               "print('open', flush=True)\ntime.sleep(30)", fw_node.port],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "open\n"
        assert cli("info", fw_node.port) == term.EXIT_NO_DEVICE
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert "is busy (held by python" in err and "close the other program" in err


def test_a_port_closed_while_a_forked_child_lives_is_free_at_once():
    """A process forked while the port was open (another thread's child: a virtual node's
    interpreter restarting, not yet at its exec) shares the open file and its lock: closing the
    port unlocks it first, so the next open does not find it busy."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    try:
        port = serial_port.open_port(path)
        child = os.fork()
        if child == 0:  # holds a copy of the port's descriptor until it exits
            time.sleep(5)
            os._exit(0)
        try:
            port.close()
            serial_port.open_port(path).close()
        finally:
            os.kill(child, 9)
            os.waitpid(child, 0)
    finally:
        os.close(master)
        os.close(slave)


def test_no_such_port(capsys):
    assert cli("info", "/dev/ttyACM99") == term.EXIT_NO_DEVICE
    err = capsys.readouterr().err
    assert "no such port: /dev/ttyACM99" in err and "straja ports" in err


def test_permission_denied_says_how_to_join_the_group(fw_node, monkeypatch, capsys):
    """Tests run as root here, so the kernel's EACCES is produced at pyserial's open."""
    def denied(*a, **kw):
        raise serial.SerialException(errno.EACCES, f"could not open port {fw_node.port}: "
                                     "[Errno 13] Permission denied")
    monkeypatch.setattr(serial_port, "ExclusivePort", denied)
    assert cli("info", fw_node.port) == term.EXIT_NO_DEVICE
    err = capsys.readouterr().err
    assert "permission denied" in err and "usermod -aG dialout" in err


def test_provision_without_micropython_asks_for_an_image(monkeypatch, capsys):
    import os
    import tty

    from straja import rawrepl

    monkeypatch.setattr(rawrepl, "SETTLE_DELAYS", (0.01,))
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        code = cli("provision", os.ttyname(slave), "--node-id", "3")
    finally:
        os.close(master)
        os.close(slave)
    err = capsys.readouterr().err
    assert code == term.EXIT_NO_DEVICE
    assert "no MicroPython answers" in err and "--image" in err


def answers_after(port: str) -> str:
    """The firmware version the node on `port` reports, once its firmware answers again."""
    with deploy.wait_for_firmware(port, tries=8) as link:
        assert link.call("ping")["pong"] is True
        return link.call("info")["version"]


@pytest.mark.parametrize("cut_s", [0.15, 0.3, 0.45, 0.6, 0.75, 0.9, "staged", "switching"])
def test_deploy_cut_anywhere_never_leaves_the_node_stopped(fw_node, cut_s):
    """Power cuts at many points of a deploy of the real firmware: afterwards the node answers
    `ping` by itself (before, 16 of 17 cuts during the transfer left it halted at its REPL: the
    deploy's Ctrl-C reached the app of a node that had just rebooted)."""
    import threading

    from straja.paths import FIRMWARE

    cuts = []

    def cut(name=None, detail=None):
        if name in (None, cut_s) and not cuts:
            cuts.append(name)
            fw_node.node.power_cut()
            time.sleep(0.2)

    if isinstance(cut_s, float):  # else at the first file staged, or at the switch
        threading.Timer(cut_s, cut).start()
    result = deploy.Deployer(FIRMWARE, force=True, on_event=cut).deploy(fw_node.port)
    assert result.status in ("failed", "deployed"), result
    if result.status == "failed":
        assert result.code != term.EXIT_OK and "did not answer" not in result.error
    assert answers_after(fw_node.port) == deploy.source_version(FIRMWARE)


def test_deploy_that_cannot_confirm_the_new_firmware_fails(fw_node, tmp_path):
    from straja.paths import FIRMWARE
    from straja.vnode.image import IGNORED

    tree = tmp_path / "broken"
    shutil.copytree(FIRMWARE, tree, ignore=IGNORED)
    (tree / "main.py").write_text("print('no app today')\n")
    result = deploy.Deployer(tree).deploy(fw_node.port)
    assert result.status == "failed" and result.code != term.EXIT_OK
    assert "not answering" in result.error


def test_deploy_to_a_node_without_a_board_profile_asks_for_one(fw_node, capsys):
    """flash-micropython then deploy leaves no /board.json: the firmware would stop at boot, so
    the deploy sends nothing and asks for --board, which installs the profile."""
    (fw_node.flash / "board.json").unlink()
    assert cli("deploy", fw_node.port) == term.EXIT_USAGE
    err = capsys.readouterr().err
    assert "no board profile (/board.json)" in err and "nothing was sent" in err
    assert "fix: name the board: straja deploy PORT --board NAME" in err
    assert not (fw_node.flash / ".deploy/manifest.json").exists()

    code = cli("deploy", fw_node.port, "--board", "virtual")
    assert code == term.EXIT_OK and " deployed " in capsys.readouterr().out
    profile = json.loads((fw_node.flash / "board.json").read_text())
    assert profile == json.loads(deploy.board_profile_path("virtual").read_text())
    assert cli("info", fw_node.port, "--json") == term.EXIT_OK
    assert json.loads(capsys.readouterr().out)["board"] == "virtual"


def holding(path: str) -> subprocess.Popen:
    """Another process with `path` open and no lock on it, as screen or miniterm hold a port."""
    holder = subprocess.Popen([sys.executable, "-c", "import os, sys, time\n"
                               "fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)\n"
                               "print('open', flush=True)\ntime.sleep(30)", path],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "open\n"
    return holder


def test_a_port_held_without_a_lock_names_its_holder(monkeypatch, capsys):
    from straja import rawrepl

    monkeypatch.setattr(rawrepl, "SETTLE_DELAYS", (0.01,))
    path, fds = silent_port()
    try:
        assert cli("info", path) == term.EXIT_NO_DEVICE
        alone = capsys.readouterr().err
        holder = holding(path)
        try:
            assert cli("info", path) == term.EXIT_NO_DEVICE
        finally:
            holder.kill()
            holder.wait()
    finally:
        for fd in fds:
            os.close(fd)
    err = capsys.readouterr().err
    assert f"python (pid {holder.pid}) also has the port open and may be taking its bytes" in err
    assert f"close python (pid {holder.pid})" in err
    assert "also has the port open" not in alone
    assert "if another program (screen, miniterm, a monitor) may be reading the port" in alone


def test_a_virtual_nodes_own_bridge_is_no_holder(fw_node):
    from straja.serial_port import holders

    node = subprocess.Popen([STRAJA, "sim", "node", "--json"], stdout=subprocess.PIPE, text=True)
    try:
        port = json.loads(node.stdout.readline())["nodes"][0]["port"]
        assert holders(port) == []
        holder = holding(port)
        try:
            assert holders(port) == [f"python (pid {holder.pid})"]
        finally:
            holder.kill()
            holder.wait()
    finally:
        node.terminate()
        node.wait(timeout=30)


def test_power_cut_mid_deploy_is_told_plainly_and_its_staging_cleared(fw_node):
    """A cut while files are staged: a short message (no binary), the fix says what runs now,
    and the next deploy clears what was staged even when nothing else is to be sent."""
    from straja.paths import FIRMWARE

    assert deploy.Deployer(FIRMWARE).deploy(fw_node.port).status == "deployed"
    cuts = []

    def cut(name=None, detail=None):
        if name == "staged" and not cuts:
            cuts.append(name)
            fw_node.node.power_cut()
            time.sleep(0.2)

    result = deploy.Deployer(FIRMWARE, force=True, on_event=cut).deploy(fw_node.port)
    assert result.status == "failed" and result.code == term.EXIT_NO_DEVICE
    assert "stopped answering while writing files" in result.error
    assert "the node runs its previous firmware" in result.error and len(result.error) < 500
    assert all(c.isprintable() for c in result.error)
    assert "deploy again" in result.fix
    assert (fw_node.flash / ".deploy/new").exists()
    again = deploy.Deployer(FIRMWARE).deploy(fw_node.port)
    assert again.status == "up to date" and not (fw_node.flash / ".deploy/new").exists()


@pytest.mark.parametrize("after_s", [0.0, 0.1, 0.3])
def test_power_cut_during_the_switch_tells_which_firmware_runs(fw_node, after_s):
    """Cut during the switch, before or after its commit: the message says which one the node
    booted, as its manifest shows."""
    import threading

    from straja.paths import FIRMWARE

    def cut(name=None, detail=None):
        if name == "switching":
            threading.Timer(after_s, fw_node.node.power_cut).start()

    result = deploy.Deployer(FIRMWARE, force=True, on_event=cut).deploy(fw_node.port)
    time.sleep(after_s + 0.3)
    manifest = fw_node.flash / ".deploy/manifest.json"
    committed = manifest.exists() and json.loads(manifest.read_text())["id"] == \
        result.firmware_hash
    if result.status == "failed":
        assert ("the switch had committed" in result.error) == committed, result.error
        assert ("runs its previous firmware" in result.error) == (not committed)
        assert "nothing is lost" in result.fix if committed else "deploy again" in result.fix
    else:
        assert committed
