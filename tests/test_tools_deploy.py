"""`straja deploy` against virtual nodes: only changes are sent, each verified, and a deploy cut off
anywhere (the node's power, the host process, the switch itself at every step) leaves the node
booting its previous version, after which a re-deploy succeeds.

The firmware deployed here is a small tree of the same shape as firmware/ (boot.py with the fwswap
stanza, main.py, a straja_node package with a viper function), so these tests hold whatever the
application does; test_tools_device.py deploys the real firmware.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from straja import rawrepl, term
from straja.errors import StrajaError
from straja.tools import deploy
from straja.tools.deploy import Deployer
from straja.mp import mpy_cross_command, run_micropython
from straja.vnode.bridge import VirtualNode
from test_vnode_bridge import read_until

BOOT = """\
try:
    import fwswap
    fwswap.recover()
except Exception as e:  # a failed recovery must never stop the node from booting
    print("fwswap:", e)
"""
MAIN = """\
import straja_node
from straja_node import ver
print("FW", straja_node.VERSION, ver.check(40))
"""
VER = """\
import micropython
@micropython.viper
def check(x: int) -> int:
    return x + 2
"""


def Deployer(tree, *a, **kw) -> deploy.Deployer:
    """The trees here print their version at boot but do not speak the protocol: no `ping` to
    confirm them by (test_tools_device.py deploys the real firmware, confirmed)."""
    return deploy.Deployer(tree, *a, confirm=False, **kw)


def make_tree(root: Path, version: str, *, big: int = 0, extra: str | None = None) -> Path:
    """A firmware tree printing `FW version 42` at boot; `big` adds a module of that many bytes
    of data (a transfer of several blocks), `extra` a module of that name."""
    pkg = root / "straja_node"
    pkg.mkdir(parents=True, exist_ok=True)
    (root / "boot.py").write_text(BOOT)
    (root / "main.py").write_text(MAIN)
    (pkg / "__init__.py").write_text(f"VERSION = {version!r}\n")
    (pkg / "ver.py").write_text(VER)
    if big:
        blob = hashlib.sha256(version.encode()).hexdigest() * (big // 64 + 1)
        (pkg / "table.py").write_text(f"DATA = {blob[:big]!r}\n")
    if extra:
        (pkg / f"{extra}.py").write_text(f"NAME = {extra!r}\n")
    return root


def boots_version(node: VirtualNode, version: str) -> None:
    """Cut the power and check that the node boots `version` (main.py prints it)."""
    with serial.Serial(node.port, 115200, timeout=0.1) as port:
        port.reset_input_buffer()
        node.power_cut()
        out = read_until(port, b" 42\n")
    assert f"FW {version} 42".encode() in out, out


@pytest.fixture
def trees(tmp_path):
    v1 = make_tree(tmp_path / "v1", "1", extra="old_only")
    v2 = make_tree(tmp_path / "v2", "2", big=30000, extra="new_only")
    return v1, v2


@pytest.fixture
def node(tmp_path):
    with VirtualNode(tmp_path / "flash", name="d") as n:  # deployed to as it boots
        yield n


def deployed(node, tree, **kw) -> deploy.DeployResult:
    result = Deployer(tree, **kw).deploy(node.port)
    assert result.status in ("deployed", "up to date"), (result.error, result.fix)
    return result


def test_deploy_sends_only_changes_and_boots_the_new_version(node, trees):
    v1, v2 = trees
    first = deployed(node, v1)
    assert first.status == "deployed" and first.files_sent == 6 and len(first.sent) == 7  # + manifest
    boots_version(node, "1")
    t0 = time.monotonic()
    again = deployed(node, v1)
    assert again.status == "up to date" and again.files_sent == 0
    assert time.monotonic() - t0 < 1.0
    second = deployed(node, v2)
    # __init__ (version), table (new), new_only, the manifest; old_only set aside.
    assert sorted(second.sent) == sorted([".deploy/new/straja_node/__init__.mpy",
                                          ".deploy/new/straja_node/table.mpy",
                                          ".deploy/new/straja_node/new_only.mpy",
                                          ".deploy/manifest.new"])
    assert second.files_set_aside == 1
    flash = node.flash_dir
    assert not (flash / "straja_node/old_only.mpy").exists()
    assert not (flash / ".deploy/old").exists() and not (flash / ".deploy/journal.json").exists()
    boots_version(node, "2")


def test_first_deploy_replaces_a_source_image(node, tmp_path):
    """A factory image has .py modules: they are set aside, since a .py shadows its .mpy."""
    src = make_tree(tmp_path / "src", "7")
    shutil.copytree(src, node.flash_dir, dirs_exist_ok=True)
    result = deployed(node, src)
    assert result.files_set_aside == 2  # straja_node/__init__.py, ver.py
    assert not list(node.flash_dir.glob("straja_node/*.py"))
    boots_version(node, "7")


def test_mpremote_reads_back_the_same_hashes(node, trees):
    deployed(node, trees[1], reset=False)
    manifest = json.loads((node.flash_dir / ".deploy/manifest.json").read_text())
    paths = sorted(manifest["files"])
    out = subprocess.run(
        [str(Path(sys.executable).with_name("mpremote")), "connect", node.port, "resume", "exec",
         "import hashlib, binascii\n"
         f"for p in {paths!r}:\n"
         "    print(p, binascii.hexlify(hashlib.sha256(open(p, 'rb').read()).digest()).decode())"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    read_back = dict(line.split() for line in out.stdout.splitlines() if line.strip())
    assert read_back == manifest["files"]
    local = node.flash_dir.parent / "copy.mpy"
    cp = subprocess.run([str(Path(sys.executable).with_name("mpremote")), "connect", node.port,
                         "resume", "fs", "cp", ":straja_node/table.mpy", str(local)],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert hashlib.sha256(local.read_bytes()).hexdigest() == manifest["files"]["straja_node/table.mpy"]


@pytest.mark.parametrize("cut_at", ["staged:1", "staged:3", "switching"])
def test_power_cut_during_deploy_keeps_the_previous_version(node, trees, cut_at):
    v1, v2 = trees
    deployed(node, v1)
    event, _, count = cut_at.partition(":")
    seen = []

    def on_event(name, detail=None):
        if name == event:
            seen.append(detail)
            if len(seen) == int(count or 1):
                node.power_cut()
                time.sleep(0.2)

    result = Deployer(v2, on_event=on_event).deploy(node.port)
    assert result.status == "failed" and result.code == term.EXIT_NO_DEVICE
    assert "stopped answering" in result.error
    boots_version(node, "1")
    deployed(node, v2)
    boots_version(node, "2")


def deploy_cli(*argv: str, **kw) -> subprocess.Popen:
    """`straja deploy ARGV` in a process of its own (the command parser, as cli.py builds it)."""
    code = "import sys\nfrom straja import cli\nsys.exit(cli.main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, "deploy", "--no-confirm", *argv],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, **kw)


def test_host_killed_mid_transfer_keeps_the_previous_version(node, trees, tmp_path):
    v1, v2 = trees
    # The kill follows the first "sent" line; on a loaded machine the deploy can finish its
    # transfer and switch before the signal lands, so a late kill is tried again from v1.
    for _attempt in range(3):
        deployed(node, v1)
        proc = deploy_cli(node.port, "--source", str(v2), "-v", "--log-dir", str(tmp_path / "logs"))
        for line in proc.stderr:
            if "sent .deploy/new/" in line:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        if (node.flash_dir / ".deploy/new").exists():  # it was cut mid-transfer
            break
    else:
        pytest.fail("the deploy finished its transfer before the kill three times")
    boots_version(node, "1")
    again = deploy_cli(node.port, "--source", str(v2), "--log-dir", str(tmp_path / "logs"))
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert "deployed" in out
    boots_version(node, "2")


def switch_state(flash: Path) -> dict[str, bytes]:
    return {p.relative_to(flash).as_posix(): p.read_bytes() for p in sorted(flash.rglob("*"))
            if p.is_file() and not p.relative_to(flash).as_posix().startswith(".deploy/")}


# Run under MicroPython on a flash folder: fwswap's switch() or recover(), with the power cut
# (SystemExit, so nothing after it runs) before the (n+1)th change to the file system.
CUT = """\
import os, sys, vfs
vfs.umount('/')
vfs.mount(vfs.VfsPosix(sys.argv[1]), '/')
os.chdir('/')
sys.path[:] = ['']
import fwswap
left = [int(sys.argv[3])]
class CutOs:
    def __getattr__(self, name):
        f = getattr(os, name)
        if name not in ('rename', 'remove', 'mkdir', 'rmdir'):
            return f
        def step(*a):
            if left[0] == 0:
                raise SystemExit(9)
            left[0] -= 1
            return f(*a)
        return step
fwswap.os = CutOs()
if sys.argv[2] == 'switch':
    fwswap.switch(sys.argv[4].split(','), sys.argv[5].split(',') if sys.argv[5] else [])
else:
    fwswap.recover()
print('COMPLETED')
"""


def test_switch_cut_at_every_step_rolls_back_or_completes(node, trees, tmp_path):
    """Stage v2 over v1 with the real deploy, then cut fwswap.switch() before each of its file
    system changes in turn (and the recovery too, once): after recover() the flash holds exactly
    v1, or exactly v2 once the switch committed."""
    v1, v2 = trees
    deployed(node, v1)
    staged = {}

    def stop_before_switch(name, detail=None):
        if name == "switching":
            staged["put"] = detail
            raise StrajaError("stopped for the test")

    stopped = Deployer(v2, on_event=stop_before_switch).deploy(node.port)
    assert stopped.status == "failed" and "stopped for the test" in stopped.error, stopped
    node.stop()
    before = node.flash_dir
    v1_state = switch_state(before)
    manifest = json.loads((before / ".deploy/manifest.new").read_text())
    drop = "straja_node/old_only.mpy"
    script = tmp_path / "cut.py"
    script.write_text(CUT)
    outcomes = set()
    for n in range(200):
        flash = tmp_path / f"cut{n}"
        shutil.copytree(before, flash, symlinks=True)
        run = run_micropython(str(script), args=[str(flash), "switch", str(n),
                                                 ",".join(staged["put"]), drop], check=False)
        if "COMPLETED" in run.stdout:
            break
        assert run.returncode == 9, run.stdout + run.stderr
        if n % 3 == 0:  # a cut during the recovery itself, then a full recovery
            run_micropython(str(script), args=[str(flash), "recover", "1", "", ""], check=False)
        run_micropython(str(script), args=[str(flash), "recover", "99999", "", ""])
        after = switch_state(flash)
        committed = json.loads((flash / ".deploy/manifest.json").read_text())["id"] == manifest["id"]
        assert not (flash / ".deploy/journal.json").exists()
        if committed:
            assert after["straja_node/__init__.mpy"] != v1_state["straja_node/__init__.mpy"]
            assert drop not in after and "straja_node/new_only.mpy" in after
        else:
            assert after == v1_state, n
        outcomes.add(committed)
        shutil.rmtree(flash)
    assert n > 10 and outcomes == {False, True}

    # At boot: boot.py's fwswap.recover() rolls back a switch cut half-way, before main.py runs.
    flash = tmp_path / "boot-cut"
    shutil.copytree(before, flash, symlinks=True)
    run_micropython(str(script), args=[str(flash), "switch", "6", ",".join(staged["put"]), drop],
                    check=False)
    assert (flash / ".deploy/journal.json").exists()
    with VirtualNode(flash, name="cut") as cut, serial.Serial(cut.port, timeout=0.1) as port:
        out = read_until(port, b" 42\n")
    assert b"fwswap: an interrupted deploy was rolled back" in out and b"FW 1 42" in out
    assert switch_state(flash) == v1_state


def corrupting(real, damage, times):
    """stream_batch with a link that damages ver.mpy on its way, `times` times."""
    corrupted = []

    def stream(s, batch, staged):
        sent = dict(staged)
        for path in batch:
            if path.endswith("ver.mpy") and len(corrupted) < times:
                corrupted.append(path)
                sent[path] = damage(sent[path])
        return real(s, batch, sent)
    return stream, corrupted


def test_a_file_that_fails_verification_is_sent_again(node, trees, monkeypatch):
    stream, corrupted = corrupting(deploy.stream_batch, lambda d: bytes([d[0] ^ 1]) + d[1:], 1)
    monkeypatch.setattr(deploy, "stream_batch", stream)
    logged = []
    result = Deployer(trees[0], log=logged.append).deploy(node.port)
    assert result.status == "deployed" and corrupted
    assert any("verify failed for .deploy/new/straja_node/ver.mpy" in line for line in logged)
    boots_version(node, "1")


def test_a_file_that_keeps_failing_verification_is_reported(node, trees, monkeypatch):
    stream, _ = corrupting(deploy.stream_batch, lambda d: d[:-1] + b"!", 99)
    monkeypatch.setattr(deploy, "stream_batch", stream)
    result = Deployer(trees[0]).deploy(node.port)
    assert result.status == "failed"
    assert "straja_node/ver.mpy failed verification 3 times" in result.error
    assert "flash" in result.fix
    assert not (node.flash_dir / ".deploy/manifest.json").exists()


def test_mismatched_bytecode_version_is_refused(node, trees, tmp_path):
    fake = tmp_path / "mpy-cross"
    fake.write_text("#!/bin/sh\n"
                    'if [ "$1" = --version ]; then echo "MicroPython v1.18; mpy-cross emitting '
                    f'mpy v5"; else exec {mpy_cross_command()} "$@"; fi\n')
    fake.chmod(0o755)
    result = Deployer(trees[0], deploy.Compiler(str(fake), tmp_path / "cache")).deploy(node.port)
    assert result.status == "failed"
    assert "bytecode version mismatch" in result.error and "v6.3" in result.error
    assert "mpy-cross" in result.fix
    assert not (node.flash_dir / "straja_node").exists()


def test_mpy_version_decoding_and_native_check():
    v = deploy.MpyVersion.from_sys(2822)  # the unix port on x86-64
    assert (v.version, v.sub, v.arch) == (6, 3, "x64")
    assert deploy.MpyVersion.from_sys(6 | 3 << 8 | 10 << 10).arch == "xtensawin"
    native = {"a.mpy": b"M\x06\x0b\x1f"}
    deploy.check_bytecode(v, (6, 3), native)
    deploy.check_bytecode(v, (6, 1), {"a.mpy": b"M\x06\x00\x1f"})  # bytecode only: sub-version free
    with pytest.raises(deploy.BytecodeMismatch):
        deploy.check_bytecode(v, (6, 1), native)
    with pytest.raises(deploy.BytecodeMismatch):
        deploy.check_bytecode(deploy.MpyVersion(6, 3, None), (6, 3), native)


def test_node_disconnected_mid_deploy(tmp_path, trees):
    node = VirtualNode(tmp_path / "gone", name="gone").start()
    time.sleep(0.3)

    def unplug(name, detail=None):
        if name == "staged":
            node.stop()  # the port itself goes away, as a USB CDC port does when unplugged

    try:
        result = Deployer(trees[1], on_event=unplug).deploy(node.port)
    finally:
        node.stop()
    assert result.status == "failed" and result.code == term.EXIT_NO_DEVICE
    assert "disconnected" in result.error or "stopped answering" in result.error
    assert "cable" in result.fix


def test_parallel_deploy_cli_with_a_summary_and_a_log_per_port(tmp_path, trees):
    nodes = [VirtualNode(tmp_path / f"p{i}", name=f"p{i}").start() for i in range(2)]
    try:
        time.sleep(0.3)
        proc = deploy_cli(*[n.port for n in nodes], "--source", str(trees[0]), "--json",
                          "--log-dir", str(tmp_path / "logs"))
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        rows = json.loads(out)
        assert [r["status"] for r in rows] == ["deployed", "deployed"]
        assert len({r["firmware_hash"] for r in rows}) == 1
        for row in rows:
            assert "switched to" in Path(row["log"]).read_text()
        bad = deploy_cli(nodes[0].port, "/dev/ttyNOPE", "--source", str(trees[0]),
                         "--log-dir", str(tmp_path / "logs"))
        out, err = bad.communicate(timeout=60)
        assert bad.returncode == term.EXIT_NO_DEVICE
        assert "up to date" in out and "no such port: /dev/ttyNOPE" in err
    finally:
        for n in nodes:
            n.stop()


def test_no_micropython_and_no_raw_repl_are_told_apart(monkeypatch):
    """A silent port (blank board), then a device that talks but never gives the raw REPL."""
    from straja.tools.session import NoMicroPython, RawReplFailed, Session

    monkeypatch.setattr(rawrepl, "SETTLE_DELAYS", (0.01, 0.02))
    master, slave = os.openpty()
    import tty
    tty.setraw(slave)
    path = os.ttyname(slave)
    try:
        with Session(path) as s, pytest.raises(NoMicroPython) as silent:
            s.enter_raw_repl()
        assert "no MicroPython answering" in str(silent.value)
        assert "flash-micropython" in silent.value.fix
        os.set_blocking(master, False)

        with Session(path) as s:
            def chatter():  # a prompt to anything, never the raw REPL banner
                time.sleep(0.02)
                try:
                    if os.read(master, 4096):
                        os.write(master, b"\r\n>>> ")
                except BlockingIOError:
                    pass
            import threading
            stop = threading.Event()
            t = threading.Thread(target=lambda: [chatter() for _ in iter(stop.is_set, True)])
            t.start()
            try:
                with pytest.raises(RawReplFailed) as talking:
                    s.enter_raw_repl()
            finally:
                stop.set()
                t.join()
        assert "could not enter the raw REPL (tried 2 times" in str(talking.value)
        assert "RESET" in talking.value.fix
    finally:
        os.close(master)
        os.close(slave)


def test_mpremote_lists_real_file_sizes(node, trees):
    """A board's filesystem lists each file with its size; so does the virtual node's flash, so
    the official mpremote's `fs ls` shows sizes, not 0."""
    deployed(node, trees[1], reset=False)
    out = subprocess.run([str(Path(sys.executable).with_name("mpremote")), "connect", node.port,
                          "resume", "fs", "ls", ":straja_node"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    listed = dict(reversed(line.split()) for line in out.stdout.splitlines()[1:])
    on_flash = {p.name: p.stat().st_size for p in (node.flash_dir / "straja_node").iterdir()}
    assert {name: int(size) for name, size in listed.items()} == on_flash
    assert on_flash["table.mpy"] > 30000


def test_compiler_asks_mpy_cross_its_version_once_per_command_file(tmp_path):
    """A deploy where nothing changed starts no process: mpy-cross's version is remembered for
    the command file it came from, and asked again once that file changes (an upgrade)."""
    runs = tmp_path / "runs"
    command = tmp_path / "mpy-cross"

    def install(note: str) -> None:  # mpy-cross itself, behind a script that counts its runs
        command.write_text(f"#!/bin/sh\n# {note}\necho run >> {runs}\n"
                           f"exec {mpy_cross_command()} \"$@\"\n")
        command.chmod(0o755)

    install("first")
    real = subprocess.run([mpy_cross_command(), "--version"], capture_output=True,
                          text=True).stdout.strip()
    cache = tmp_path / "cache"
    assert deploy.Compiler(str(command), cache).version_text == real
    assert deploy.Compiler(str(command), cache).version_text == real  # a later deploy
    assert runs.read_text().count("run") == 1
    install("upgraded")
    assert deploy.Compiler(str(command), cache).version == deploy.Compiler().version
    assert runs.read_text().count("run") == 2


def test_compiler_threads_share_one_version_question_and_cache_writes(tmp_path):
    """build() compiles on a thread pool: with a fresh cache, every thread needs mpy-cross's
    version at once. It is asked once, and writers of one cache entry never collide (each
    writes a part file of its own: a shared one was truncated under another writer, or moved
    away before it could be, failing the deploy)."""
    runs = tmp_path / "runs"
    command = tmp_path / "mpy-cross"
    command.write_text(f"#!/bin/sh\nif [ \"$1\" = --version ]; then echo run >> {runs}; sleep 0.2; fi\n"
                       f"exec {mpy_cross_command()} \"$@\"\n")
    command.chmod(0o755)
    compiler = deploy.Compiler(str(command), tmp_path / "cache")
    source = b"X = 1\n"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda i: compiler.compile(source, "m.py", None), range(8)))
    assert len(set(done)) == 1 and done[0].startswith(b"M")
    assert runs.read_text().count("run") == 1
    assert not list((tmp_path / "cache").glob("*.part"))
