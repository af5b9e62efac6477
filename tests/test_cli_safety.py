"""What a technician meets outside the happy path: a node without its board profile boots to safe
mode, replay writes only where told, readers that leave early, Ctrl-C exits 130."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial
from test_cli_signals import sigint_as_on_a_terminal

from straja import cli
from straja.gateway import events as ev, record, store
from straja.testing import synth
from straja.vnode.bridge import VirtualNode
from straja.vnode.image import write_image

STRAJA = str(Path(sys.executable).with_name("straja"))


def read_until(port: serial.Serial, marker: bytes, timeout: float = 20.0) -> bytes:
    got = bytearray()
    deadline = time.monotonic() + timeout
    while marker not in got:
        assert time.monotonic() < deadline, f"{marker!r} not seen in {bytes(got[-400:])!r}"
        got += port.read(port.in_waiting or 1)
    return bytes(got)


def test_a_node_without_board_json_boots_to_safe_mode(tmp_path):
    flash = write_image(tmp_path / "flash", config={"node_id": 5})
    (flash / "board.json").unlink()  # as flash-micropython then deploy leave a board
    with VirtualNode(flash, name="bare") as node, \
            serial.Serial(node.port, 115200, timeout=0.1) as port:
        out = read_until(port, b">>> ")
    assert b"SAFE MODE (boot check failed: OSError" in out
    assert b"Traceback" not in out  # the app never ran, nothing crashed


def test_info_on_a_node_without_board_json_says_what_is_missing(tmp_path, capsys):
    flash = write_image(tmp_path / "flash", config={"node_id": 5})
    (flash / "board.json").unlink()
    with VirtualNode(flash, name="bare") as node:
        time.sleep(1.0)  # (booted to safe mode)
        assert cli.main(["info", node.port]) == 0
    rows = dict(line.strip().split("  ", 1) for line in capsys.readouterr().out.splitlines())
    assert rows["board"].strip().startswith("none: the firmware cannot start without "
                                            "/board.json (straja deploy PORT --board NAME")
    assert rows["node id"].strip() == "5"
    assert rows["application"].strip().startswith("not answering commands")


def recording(path: Path) -> Path:
    video = synth.Emitter(5_800_000, 20_000, lambda t: -70.0 if 1 < t < 8 else None)
    writer = record.RecordWriter(path)
    for c in synth.merge([synth.node_chunks(n, [video], t0_ns=1_700_000_000 * 10**9,
                                            duration_s=10) for n in (1, 2)]):
        writer.data(c.source, c.t_ns, c.data)
    writer.close()
    return path


def test_replay_writes_only_where_told(tmp_path, capsys):
    live = tmp_path / "live.db"
    config = tmp_path / "gateway.toml"
    config.write_text(f'[gateway]\ndb = "{live}"\njsonl = "{tmp_path / "live.jsonl"}"\n'
                      '[mqtt]\nhost = "127.0.0.1"\nport = 1\n')
    rec = recording(tmp_path / "run.rec")
    assert cli.main(["replay", str(rec), "--config", str(config)]) == 0
    out = capsys.readouterr()
    assert "stored nowhere" in out.err
    assert [json.loads(line)["kind"] for line in out.out.splitlines()].count("alert_raised") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gateway.toml", "run.rec"]
    assert cli.main(["replay", str(rec), "--config", str(config), "--mqtt"]) == 2
    assert "--mqtt needs" in capsys.readouterr().err


def test_events_into_a_closed_pipe_end_quietly(tmp_path):
    db = tmp_path / "gw.db"
    event_store = store.Store(str(db))
    event_store.write([ev.NodeOnline(t_ns=1_700_000_000 * 10**9 + i, node_id=1, port="/dev/x")
                       for i in range(50)])
    event_store.close()
    rec = recording(tmp_path / "run.rec")
    for argv in (["events", "--db", str(db)], ["events", "--db", str(db), "--json"],
                 ["replay", str(rec), "--jsonl", "-"]):
        proc = subprocess.Popen([STRAJA, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.close()  # `| head -0`: the reader is gone before the first line
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0, err
        assert "Traceback" not in err and "BrokenPipe" not in err, argv


def interrupt(proc: subprocess.Popen, after_s: float) -> None:
    """Ctrl-C to `proc` after `after_s` seconds: it exits 130, without a traceback."""
    time.sleep(after_s)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.args, err)
    assert "Traceback" not in err


def test_ctrl_c_exits_130(tmp_path):
    def run(*argv):
        return subprocess.Popen([STRAJA, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, preexec_fn=sigint_as_on_a_terminal)

    nodes = run("sim", "node", "--json")
    port = json.loads(nodes.stdout.readline())["nodes"][0]["port"]
    interrupt(run("monitor", port), 3)
    interrupt(run("gateway", "--no-discover", "--port", port, "--db", str(tmp_path / "g.db")), 3)
    interrupt(nodes, 0)


def test_flash_and_deploy_say_what_is_wrong(tmp_path, monkeypatch, capsys):
    image = tmp_path / "mp.bin"
    image.write_bytes(b"\xe9" + bytes(15))
    assert cli.main(["flash-micropython", "/dev/nope", str(image)]) == 3
    assert "no such serial port: /dev/nope" in capsys.readouterr().err
    assert cli.main(["flash-micropython", "bootsel", str(image)]) == 2
    assert "`bootsel` takes an RP2 .uf2" in capsys.readouterr().err
    monkeypatch.delenv("STRAJA_EXTRA_PORTS", raising=False)
    monkeypatch.setattr("straja.commands.deploy.candidates", lambda: [])  # no board plugged in
    assert cli.main(["deploy", "--all"]) == 3
    assert "--all found no USB serial port" in capsys.readouterr().err


def test_config_set_refuses_a_calibration_for_a_front_end_the_board_lacks(firmware_node, capsys):
    """docs/firmware.md's `cal` example names a front end of the board; a name it lacks (the
    old example's "rx") is refused, and nothing changes."""
    assert '`cal={"vid58": {"offset": -4}}`' in (Path(__file__).parents[1] /
                                                  "docs/firmware.md").read_text()
    time.sleep(0.5)
    assert cli.main(["config", firmware_node.port, "set", 'cal={"rx": {"offset": -4}}']) == 2
    err = capsys.readouterr().err
    assert "cal: no front end rx on this board (vid58, ism24" in err, err
    assert cli.main(["config", firmware_node.port, "set", 'cal={"vid58": {"offset": -4}}']) == 0
    capsys.readouterr()
    assert cli.main(["config", firmware_node.port, "get", "cal", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"cal": {"vid58": {"offset": -4}}}


def test_sim_node_says_how_straja_ports_finds_its_nodes():
    # (--duration: a bound if the test dies; long enough that a slow `ports --probe` under load
    # ends before it, so that the Ctrl-C below finds the nodes running)
    nodes = subprocess.Popen([STRAJA, "sim", "node", "--duration", "180"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             preexec_fn=sigint_as_on_a_terminal)
    try:
        port = nodes.stdout.readline().split("\t")[2].strip()
        hint = nodes.stderr.readline()
        assert f"export STRAJA_EXTRA_PORTS={port}" in hint, hint
        listed = subprocess.run([STRAJA, "ports", "--probe"], capture_output=True, text=True,
                                timeout=60, env={**os.environ, "STRAJA_EXTRA_PORTS": port})
        assert port in listed.stdout and "Straja " in listed.stdout, listed.stdout
    finally:
        interrupt(nodes, 0)


@pytest.mark.parametrize("key, value, says", [
    ("jsonl", "/missing/dir/g.jsonl", "jsonl: no such folder: /missing/dir"),
    ("record", "/missing/dir/g.rec", "record: no such folder: /missing/dir"),
    ("db", "/missing/dir/g.db", "db: no such folder: /missing/dir"),
    ("db", "notes.txt", "notes.txt is not a gateway event store")])
def test_the_gateway_configs_bad_paths_are_refused_before_anything_opens(key, value, says,
                                                                         tmp_path, monkeypatch,
                                                                         capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("not a database\n" * 20)
    db = "" if key == "db" else 'db = "new.db"\n'
    (tmp_path / "gw.toml").write_text(f'[gateway]\n{db}{key} = "{value}"\ndiscover = false\n'
                                      'ports = ["/dev/straja-none*"]\n')
    assert cli.main(["gateway", "--config", "gw.toml", "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert says in err and "fix:" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gw.toml", "notes.txt"]


def test_replay_into_a_file_that_is_not_a_store_is_refused(tmp_path, video_recording, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 20)
    assert cli.main(["replay", str(video_recording), "--db", str(notes)]) == 2
    assert "is not a gateway event store" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["events"], ["known", "list"], ["replay", "REC"],
                                  ["gateway", "--no-discover", "--port", "/dev/straja-none*",
                                   "--duration", "1"]])
def test_another_programs_database_is_refused_and_left_as_it_was(argv, tmp_path, video_recording,
                                                                 capsys):
    """A SQLite file with another program's tables (a typo, the wrong path) is neither read as a
    store nor given the store's tables and WAL mode."""
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE contacts (name TEXT)")
    db.commit()
    db.close()
    before = other.read_bytes()
    argv = [str(video_recording) if word == "REC" else word for word in argv]
    assert cli.main([*argv, "--db", str(other)]) == 2
    err = capsys.readouterr().err
    assert "is not a gateway event store (its tables (contacts) are another program's)" in err
    assert other.read_bytes() == before and not list(tmp_path.glob("other.db-*"))


def test_sim_node_workdir_keeps_other_files_but_writes_a_fresh_config(tmp_path):
    """docs/virtual-node.md: with --workdir the flash folders stay, but each start writes the
    firmware, board.json and config.json again (settings made with straja config are lost)."""
    def start():
        done = subprocess.run([STRAJA, "sim", "node", "--workdir", str(tmp_path), "--duration",
                               "1"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

    start()
    flash = tmp_path / "n1" / "flash"
    (flash / "config.json").write_text(json.dumps({"node_id": 99}))
    (flash / "keep.txt").write_text("a file the node wrote")
    start()
    assert json.loads((flash / "config.json").read_text())["node_id"] == 1
    assert (flash / "keep.txt").read_text() == "a file the node wrote"
    assert "starting again replaces the\nfirmware files, `board.json` and `config.json`" in \
        (Path(__file__).parents[1] / "docs/virtual-node.md").read_text()
