"""What a command reads besides its arguments: scene files, gateway configs, password files,
event stores. A bad one (a pipe, bytes that are not UTF-8, an empty file, another program's
database, a config value that is not finite or out of its range, a scene that includes itself)
is refused with exit 2 and one error line naming it, without a traceback or a hang, and the
file is left as it was (the cases a sweep of every command found; README, "Exit codes")."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from straja import argtypes, cli

NOT_UTF8 = b"\xff\xfe[gateway]\n"


def refused(argv: list[str], capsys, says: str) -> str:
    """stderr of `straja ARGV`, which exits 2 saying `says`, without a traceback."""
    try:
        code = cli.main(argv)
    except SystemExit as e:  # (argparse's refusal)
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert says in err and "Traceback" not in err, err
    return err


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "latin1.toml").write_bytes(NOT_UTF8)
    return tmp_path


@pytest.mark.timeout(60)
@pytest.mark.parametrize("argv", [["sim", "check", "pipe"], ["sim", "truth", "pipe", "--out", "-"],
                                  ["eval", "--scene", "pipe"], ["sim", "node", "--scene", "pipe"]])
def test_a_pipe_named_as_a_scene_is_refused_not_waited_on(argv, folder, capsys):
    refused(argv, capsys, "pipe: cannot read scene: not a regular file (a pipe or a device)")


@pytest.mark.parametrize("argv, says", [
    (["sim", "check", "latin1.toml"], "latin1.toml: cannot read scene: not UTF-8 text (byte 0 "
                                      "is 0xff)"),
    (["eval", "--scene", "latin1.toml"], "not UTF-8 text"),
    (["events", "--config", "latin1.toml"], "cannot read latin1.toml: not UTF-8 text"),
    (["known", "list", "--config", "latin1.toml"], "not UTF-8 text"),
    (["gateway", "--config", "latin1.toml", "--duration", "1"], "not UTF-8 text"),
    (["hq", "--broker", "h:1883", "--db", "hq.db", "--config", "latin1.toml", "--duration",
      "1"], "not UTF-8 text"),
    (["hq", "bridge-config", "--site", "A", "--central", "h:1883", "--password-file",
      "latin1.toml"], "--password-file latin1.toml: not UTF-8 text")])
def test_a_file_that_is_not_utf8_is_refused(argv, says, folder, capsys):
    refused(argv, capsys, says)
    assert sorted(p.name for p in folder.iterdir()) == ["latin1.toml", "pipe"]


def test_a_scene_that_includes_itself_is_refused(folder, capsys):
    (folder / "a.toml").write_text("[scene]\nname = 'a'\nduration_s = 10.0\ninclude = ['b.toml']\n")
    (folder / "b.toml").write_text("[scene]\nname = 'b'\nduration_s = 10.0\ninclude = ['a.toml']\n")
    refused(["sim", "check", "a.toml"], capsys, "b.toml:4: scene.include: 'a.toml' includes this "
                                                "scene again (a loop of includes)")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_scene_value_that_is_not_finite_is_refused(value, folder, capsys):
    (folder / "s.toml").write_text(
        "[scene]\nname = 'x'\nduration_s = 10.0\ninclude = ['quiet.toml']\n[[emitter]]\n"
        f"name = 'cam'\nkind = 'analog_video'\nposition_m = [{value}, 0.0, 1.0]\nchannel = 'F4'\n"
        "eirp_dbm = 14.0\n")
    (folder / "quiet.toml").write_text(
        (Path(__file__).parents[1] / "scenes/quiet_rural.toml").read_text())
    refused(["sim", "check", "s.toml"], capsys, f"position_m: must be a finite number (got {value}")


def test_eval_checks_its_background_scenes_while_parsing(folder, capsys):
    (folder / "empty.toml").write_text("")
    (folder / "notes.toml").write_text("not a scene\n")
    refused(["eval", "empty.toml"], capsys, "argument scenes: empty.toml: scene.duration_s: "
                                            "missing required field")
    refused(["eval", "notes.toml"], capsys, "notes.toml:1: TOML syntax error")
    assert not (folder / "eval-report").exists()


@pytest.mark.parametrize("toml, says", [
    ("[alerts]\nconfirm_s = nan\n", "config.alerts.confirm_s: expected a finite number of at "
                                    "most 1e+09, not nan"),
    ("[fusion]\ntrack_timeout_s = inf\n", "config.fusion.track_timeout_s: expected a finite"),
    ("[mqtt]\nport = inf\n", "config.mqtt.port: expected a finite number"),
    ("[mqtt]\nport = 99999\n", "mqtt.port must be 1..65535 (got 99999)"),
    ("[mqtt]\nhost = \"-broker\"\n", "mqtt.host: not a host name or address: '-broker'"),
    ("[remote_id]\nhistory = -1\n", "config.remote_id.history: expected a whole number of at "
                                    "least 1, not -1"),
    ("[remote_id]\nhistory = 1e300\n", "config.remote_id.history: expected a finite number"),
    ("[alerts]\nconfirm_hits = 0\n", "config.alerts.confirm_hits: expected a whole number"),
    ("[alerts]\nconfirm_hits = 2.5\n", "not 2.5"),
    ("[mqtt]\nkeepalive_s = -1\n", "config.mqtt.keepalive_s: expected a whole number"),
    ("[web]\nsweep_rate_hz = -1.0\n", "config.web.sweep_rate_hz: a time or a rate is not "
                                      "negative, not -1.0"),
    ("[fusion]\ntrack_timeout_s = 0.0\nconfirm_wait_s = 0.0\n",
     "config.cot.stale_s (the track end, when not given): CoT queue_size and stale_s must be "
     "positive"),
    ("[gateway]\nports = [1, 2]\n", "config.ports: expected port paths or globs (strings), "
                                    "not [1, 2]"),
    ("[remote_id]\nprotected_areas = 5\n", "remote_id.protected_areas: expected a table"),
    ("[remote_id.protected_areas]\nx = [[100, 200], [1]]\n",
     "remote_id.protected_areas.x: expected a polygon of 3 or more [latitude, longitude]"),
    # (hard5's fuzzer: each was a TypeError, AttributeError or int()'s ValueError)
    ("gateway = 5\n", "config.gateway: expected a table, not 5"),
    ("[gateway]\nneighbours = 3\n", "config.neighbours: expected a table, not 3"),
    ("[gateway.neighbours]\n\"1\" = [2.5]\n", "config.neighbours: expected \"node id\" = "
                                               "[node ids] (0..65535), not '1' = [2.5]"),
    ("[gateway.neighbours]\n\"\u00b2\" = [2]\n", "config.neighbours: expected"),
    ("[gateway]\nnode_ids = [\"a\"]\n", "config.node_ids: expected node ids (0..65535), not "
                                         "['a']"),
    ("[nodes.\"\u00b2\"]\nlatitude = 1.0\nlongitude = 1.0\n",
     "config.nodes.\u00b2: a node id is a number 0..65535"),
    ("[detect]\npfa = \"x\"\n", "[detect]: pfa must be a finite number, not 'x'"),
    ("[detect]\nn_train = 2.5\n", "[detect]: n_train must be a whole number 0..2048, not 2.5"),
    ("[detect]\ntime_cfar = 1\n", "[detect]: time_cfar must be true or false, not 1"),
    ("[detect]\ncfar_kind = \"os\"\n", "[detect]: OS-CFAR is designed for single-look noise "
                                        "only; use CA for looks="),
    ("[detect]\npfa = 1.5\n", "[detect]: pfa must be in (0, 1), not 1.5"),
    ("[web]\nusers = [{name = \"a\", role = \"viewer\", password_hash = 5}]\n",
     "config web.users[0]: not a password hash made by `straja web-password`")])
def test_a_config_value_out_of_its_range_is_refused_before_anything_opens(toml, says, folder,
                                                                          capsys):
    """(The detection settings and the dashboard's users are a running gateway's only.)"""
    (folder / "gw.toml").write_text(toml)
    gateway = ["gateway", "--no-discover", "--db", "g.db", "--duration", "1", "--web",
               "127.0.0.1:8080"]
    for argv in ([["events"]] if "[detect]" not in says and "users" not in says else []) \
            + [gateway]:
        refused([*argv, "--config", "gw.toml"], capsys, says)
    assert sorted(p.name for p in folder.iterdir()) == ["gw.toml", "latin1.toml", "pipe"]


def test_a_whole_number_and_a_negative_height_are_still_taken(folder, capsys):
    (folder / "gw.toml").write_text("[alerts]\nconfirm_hits = 2.0\nfocus_dwell_us = 0\n"
                                    "[nodes.1]\nlatitude = 1.0\nlongitude = 2.0\n"
                                    "height_m = -20.0\n")
    from straja.gateway import config
    cfg = config.load(folder / "gw.toml")
    assert (cfg.alerts.confirm_hits, cfg.nodes[1].height_m) == (2, -20.0)


@pytest.mark.parametrize("argv", [["known", "forget", "1"], ["known", "add", "A1-1"],
                                  ["known", "list"], ["events"]])
def test_an_empty_file_is_no_event_store_and_stays_empty(argv, folder, capsys):
    (folder / "empty.db").write_bytes(b"")
    refused([*argv, "--db", "empty.db"], capsys, "empty.db is empty, not a gateway event store")
    assert (folder / "empty.db").read_bytes() == b""


@pytest.mark.parametrize("db, says", [("pipe", "argument --db: pipe is a pipe or a socket"),
                                      *((db, f"{db} is not a command post store")
                                        for db in ("/dev/null", "latin1.toml", "other.db"))])
def test_straja_hq_refuses_a_store_that_is_not_its_own_and_leaves_it(db, says, folder, capsys):
    other = sqlite3.connect(folder / "other.db")
    other.execute("CREATE TABLE contacts (name TEXT)")
    other.commit()
    other.close()
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    refused(["hq", "--broker", "127.0.0.1:1", "--db", db, "--duration", "1"], capsys, says)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


BRIDGE = ["hq", "bridge-config", "--site", "A", "--central", "h:1883"]


@pytest.mark.parametrize("password, says", [
    (b"", "holds 0 lines; the password is one line"),
    (b"secret\nconnection evil\naddress evil:1883\n", "holds 3 lines"),
    (b"sec\x01ret\n", "a control character or line break")])
def test_a_password_file_holds_one_line(password, says, folder, capsys):
    (folder / "pw").write_bytes(password)
    refused([*BRIDGE, "--password-file", "pw", "--out", "bridge.conf"], capsys, says)
    assert not (folder / "bridge.conf").exists()


@pytest.mark.parametrize("option, value", [("--username", "u\nconnection evil"),
                                           ("--data", "/var/lib/x\naddress evil:1"),
                                           ("--ca-file", "ca.pem\rtopic # both 1"),
                                           ("--central", "h\nconnection evil:1883"),
                                           ("--listen", "0.0.0.0 x:1883")])
def test_bridge_config_values_cannot_add_lines_to_the_config(option, value, folder, capsys):
    """Each value is written into a line of mosquitto's config: a line break would start a
    setting of the sender's."""
    refused([*BRIDGE, option, value], capsys, f"argument {option}")


def test_a_password_on_its_line_is_taken(folder, capsys):
    (folder / "pw").write_text("  s3cret \n")
    assert cli.main([*BRIDGE, "--username", "site-a", "--password-file", "pw"]) == 0
    out = capsys.readouterr().out
    assert "remote_password s3cret\n" in out and "remote_username site-a\n" in out


def test_pi_checks_counts_and_durations_are_checked_while_parsing():
    """bench/pi_check.py, which a technician runs on the gateway's Pi: nan and inf would pass a
    plain float, a count past the node ids would fill the memory."""
    import subprocess
    pi_check = Path(__file__).parents[1] / "bench/pi_check.py"
    for argv, says in ((["--seconds", "nan"], "argument --seconds: not a finite number"),
                       (["--live-seconds", "inf"], "argument --live-seconds: not a finite"),
                       (["--nodes", "99999999999"], "argument --nodes: must be 1..65535"),
                       (["--scene-nodes", "-1"], "argument --scene-nodes: must be at least 0"),
                       (["--scale", "nan"], "argument --scale: not a finite number")):
        done = subprocess.run([sys.executable, str(pi_check), *argv], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 2 and says in done.stderr, (argv, done.stderr)


@pytest.mark.parametrize("argv", [["sim", "truth", "demo_incursion", "--out", "/dev/full"],
                                  ["hq", "bridge-config", "--site", "A", "--central", "h:1883",
                                   "--out", "/dev/full"]])
def test_a_full_disk_is_one_error_line_and_exit_1(argv, folder, capsys):
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == ["error: No space left on device",
                                "  fix: check the disk and the file named: the command stopped "
                                "there"], err


@pytest.mark.parametrize("argv, says", [
    (["gateway", "--db", "g.db", "--jsonl", "g.db"], "db and jsonl name the same file: g.db"),
    (["gateway", "--db", "g.db", "--record", "./g.db"], "db and record name the same file"),
    (["gateway", "--jsonl", "out", "--record", "out"], "jsonl and record name the same file"),
    (["replay", "REC", "--jsonl", "REC"], "the recording and --jsonl name the same file"),
    (["gateway", "--web", "0.0.0.0:8080"], "refusing to serve the dashboard on 0.0.0.0 without "
                                           "a password")])
def test_outputs_that_would_ruin_each_other_are_refused_before_any_is_made(argv, says, folder,
                                                                          video_recording,
                                                                          capsys):
    before = video_recording.read_bytes()
    argv = [str(video_recording) if a == "REC" else a for a in argv]
    if argv[0] == "gateway":
        argv += ["--no-discover", "--duration", "1", *(["--db", "g.db"] * ("--db" not in argv))]
    refused(argv, capsys, says)
    assert sorted(p.name for p in folder.iterdir()) == ["latin1.toml", "pipe",
                                                       video_recording.name]
    assert video_recording.read_bytes() == before


@pytest.mark.parametrize("argv, says", [
    (["--sample", "1e-300"], "--sample 1e-300 s: 1.2e+302 readings a node, more than 1e+07"),
    (["--t1", "1e9"], "--t1 1e+09: the scene ends at 120 s"),
    (["--t0", "200"], "--t1 120 is not after --t0 200")])
def test_sim_truth_keeps_to_the_scene(argv, says, folder, capsys):
    refused(["sim", "truth", "demo_incursion", "--out", "t.jsonl", *argv], capsys, says)
    assert not (folder / "t.jsonl").exists()


@pytest.mark.parametrize("option", [["--trials", "3"], ["--hours", "1"], ["--vnode-trials", "0"],
                                    ["--quick"]])
def test_eval_refuses_options_scene_scoring_would_ignore(option, folder, capsys):
    refused(["eval", "--scene", "demo_incursion", *option], capsys,
            f"--scene scores its scenes alone: {option[0]} would be ignored")


@pytest.mark.parametrize("argv, says", [
    (["replay", "adir"], "argument file: adir is a folder, not a file"),
    (["replay", "pipe"], "argument file: pipe is a pipe or a device, not a file"),
    (["events", "--db", "/dev/null"], "--db: /dev/null is a pipe or a device, not a file"),
    (["gateway", "--no-discover", "--duration", "1", "--remoteid-source", "adir"],
     "--remoteid-source: adir is a folder, not a file"),
    (["replay", "missing.rec"], "argument file: no such file: missing.rec")])
def test_a_file_named_that_is_another_kind_is_said_to_be(argv, says, folder, capsys):
    """A folder, a pipe or a device named where a file is read is refused as what it is: "no
    such file" sent its user looking for one that is there (hard2's sweep)."""
    (folder / "adir").mkdir()
    refused(argv, capsys, says)


# hard4's sweep: inputs that are there but the wrong thing, settings that disagree, outputs that
# would replace a file, the environment. (argv, STRAJA_EXTRA_PORTS or None, what stderr says).
# Files in the folder: notes.txt, adir/, other.db (another program's SQLite), empty.rec, cut.rec
# (a recording cut inside its header), capture.pcap (another format), kept.out (an output from
# before), unknown.toml and typed.toml (gateway configs: an unknown key, a wrong type),
# extra.toml and wrong.toml (scenes: an unknown field, a wrong type), portdir.toml (a config
# naming a folder as a port), nodiscover.toml (discovery off, no port named), recstdout.toml
# (a recording to stdout), jsonlpipe.toml (JSON lines to the pipe), mp.bin (an ESP32 image's
# start). /proc/self/mem is a regular file whose reading fails (EIO): the unreadable input a
# root user meets (permissions do not stop root).
GATEWAY = ["gateway", "--no-discover", "--duration", "1", "--db", "g.db"]
BRIDGE_TO = ["hq", "bridge-config", "--site", "A", "--central", "h:1883"]
WRONG_INPUTS = [
    ([*GATEWAY, "--port", "notes.txt"], None, "--port: notes.txt is a file, not a serial port"),
    ([*GATEWAY, "--port", "adir"], None, "--port: adir is a folder, not a serial port"),
    ([*GATEWAY, "--port", ""], None, "--port: an empty port name"),
    (GATEWAY, None, "no port to read: discovery is off (--no-discover, or discover = false in "
                    "the config) and no port is named"),
    ([*GATEWAY[:1], *GATEWAY[2:], "--config", "nodiscover.toml"], None, "no port to read"),
    ([*GATEWAY, "--config", "portdir.toml"], None, "ports: adir is a folder, not a serial port"),
    ([*GATEWAY, "--mqtt-host", ""], None, "argument --mqtt-host: not a host name or address"),
    ([*GATEWAY, "--mqtt-port", "1884"], None, "--mqtt-port without a broker"),
    ([*GATEWAY, "--site", "A"], None, "--site without a broker"),
    ([*GATEWAY, "--survey", "5"], None, "--survey S runs for its S seconds: --duration would be "
                                        "ignored"),
    (["hq", "--broker", "h:1883", "--db", "hq.db", *BRIDGE_TO[1:]], None,
     "--broker, --db: straja hq's options, which bridge-config does not use"),
    ([*GATEWAY, "--record", "kept.out"], None, "--record kept.out: the file is there already"),
    (["gateway", "--duration", "1", "--db", "g.db"], "notes.txt",
     "STRAJA_EXTRA_PORTS: 'notes.txt' is not a port's path"),
    (["ports"], "/dev/null:{folder}/adir", "STRAJA_EXTRA_PORTS: {folder}/adir is a folder"),
    (["ports", "--probe"], "/dev/tty\x01", "STRAJA_EXTRA_PORTS: a control character"),
    (["deploy", "/dev/nope", "--mpy-cross", "notes.txt"], None, "--mpy-cross: cannot run "
                                                                 "mpy-cross (notes.txt)"),
    (["deploy", "/dev/nope", "--mpy-cross", "/bin/true"], None, "--mpy-cross: cannot tell which "
                                                                ".mpy version /bin/true emits"),
    (["provision", "/dev/nope", "--node-id", "3", "--inventory", "notes.txt"], None,
     "--inventory notes.txt: line 1 is not an inventory record (a JSON object)"),
    (["provision", "/dev/nope", "--node-id", "3", "--inventory", "/proc/self/mem"], None,
     "--inventory /proc/self/mem: Input/output error"),
    (["info", "notes.txt"], None, "argument PORT: notes.txt is a file, not a serial port"),
    (["monitor", "adir"], None, "argument PORT: adir is a folder, not a serial port"),
    (["monitor", "/dev/nope", "--record", "kept.out"], None, "--record kept.out: the file is "
                                                            "there already"),
    (["sim", "truth", "demo_incursion", "--out", "kept.out"], None, "--out kept.out: the file"),
    ([*BRIDGE_TO, "--out", "kept.out"], None, "--out kept.out: the file is there already"),
    ([*BRIDGE_TO, "--password-file", "/proc/self/mem"], None, "Input/output error"),
    (["hq", "--broker", "h:1883", "--db", "hq.db", "--ca-file", "/proc/self/mem", "--duration",
      "1"], None, "--ca-file /proc/self/mem: cannot read it: Input/output error"),
    (["replay", "empty.rec"], None, "empty.rec is not a Straja recording"),
    (["replay", "cut.rec"], None, "cut.rec: the recording ends inside its header"),
    (["replay", "capture.pcap"], None, "capture.pcap is not a Straja recording"),
    (["replay", "other.db"], None, "other.db is not a Straja recording"),
    (["replay", "/proc/self/mem"], None, "/proc/self/mem: cannot read it: Input/output error"),
    (["events", "--config", "/proc/self/mem"], None, "cannot read /proc/self/mem: Input/output"),
    (["sim", "check", "/proc/self/mem"], None, "cannot read scene: Input/output error"),
    (["events", "--config", "unknown.toml"], None, "unknown.toml: config: unknown key 'bogus'"),
    (["known", "list", "--config", "typed.toml"], None, "typed.toml: config.rescan_s: expected a "
                                                        "number, not 'fast'"),
    (["hq", "--broker", "h:1883", "--db", "hq.db", "--config", "unknown.toml", "--duration", "1"],
     None, "unknown key 'bogus'"),
    (["events", "--db", "other.db"], None, "its tables (contacts) are another program's"),
    (["known", "add", "A1-1", "--db", "other.db"], None, "another program's"),
    (["sim", "check", "wrong.toml"], None, "wrong.toml:3: scene.duration_s: must be float"),
    (["eval", "--scene", "extra.toml"], None, "extra.toml:4: scene.bogus: unknown field"),
    (["sim", "node", "--scene", "adir"], None, "adir: cannot read scene: Is a directory"),
    # hard5's sweep: a config named beside --db was passed over unread; a name too long for the
    # file system was exit 1, "check the disk"
    (["events", "--config", "notes.txt", "--db", "other.db"], None, "notes.txt: Expected '='"),
    (["known", "list", "--config", "unknown.toml", "--db", "other.db"], None, "unknown key"),
    (["events", "--db", "x" * 300], None, f"argument --db: {'x' * 60}... (300 characters): File "
                                          "name too long"),
    ([*GATEWAY, "--jsonl", "x" * 300 + "/a"], None, "(302 characters): File name too long"),
    (["eval", "--scene", "demo_incursion", "--out", "x" * 300], None, "File name too long"),
    (["sim", "check", "x" * 300], None, "no such scene file or catalogue scene"),
    (["sim", "check", "x" * 300 + ".toml"], None, "cannot read scene: File name too long"),
    (["deploy", "/dev/nope", "--board", "x" * 300], None, "is not a board profile name (a-z, "
                                                         "0-9, _ and - only) of at most 64"),
    # a broker that is a path, or a name IDNA cannot encode: the MQTT thread's traceback
    ([*GATEWAY, "--mqtt-host", "caf\u00e9\u202e"], None, "argument --mqtt-host: not a host name"),
    ([*GATEWAY, "--mqtt-host", "/dev/ttyACM0"], None, "argument --mqtt-host: not a host name"),
    ([*GATEWAY, "--mqtt-host", "x" * 64 + ".net"], None, "argument --mqtt-host: not a host"),
    ([*BRIDGE_TO[:-1], "a/b:1883"], None, "argument --central: not a server address"),
    # (a file named "-" was made: "-" is stdout to every other output)
    ([*GATEWAY, "--record", "-"], None, "argument --record: a recording is written to a file, "
                                        "not to stdout (-)"),
    (["monitor", "/dev/nope", "--record", "-"], None, "argument --record: a recording is"),
    ([*GATEWAY, "--config", "recstdout.toml"], None, "record: a recording is written to a file"),
    # hard6: a typo's folder was made with its parents; a pipe named as an output hung the
    # command until a program read it; a user name of control characters or blanks was taken;
    # a wrong --image or --inventory was told after the absent port (exit 3)
    (["deploy", "/dev/nope", "--log-dir", "missing/logs"], None,
     "argument --log-dir: no such folder: missing (for missing/logs)"),
    (["sim", "node", "--workdir", "notes.txt/flash"], None,
     "argument --workdir: notes.txt is a file, not a folder (for notes.txt/flash)"),
    (["eval", "--scene", "demo_incursion", "--out", "missing/report"], None, "no such folder"),
    ([*GATEWAY, "--jsonl", "pipe"], None, "argument --jsonl: pipe is a pipe or a socket that no "
                                          "program reads: writing it would wait for one"),
    ([*GATEWAY, "--record", "pipe"], None, "argument --record: pipe is a pipe or a socket"),
    ([*GATEWAY, "--config", "jsonlpipe.toml"], None, "jsonl: pipe is a pipe or a socket"),
    (["hq", "--broker", "h:1883", "--db", "hq.db", "--username", "site\x1b[2J", "--duration",
      "1"], None, "argument --username: a control character or line break"),
    (["hq", "--broker", "h:1883", "--db", "hq.db", "--username", " ", "--duration", "1"], None,
     "argument --username: an empty user name"),
    ([*BRIDGE_TO, "--username", ""], None, "argument --username: an empty user name"),
    (["provision", "/dev/nope", "--node-id", "3", "--image", "notes.txt"], None,
     "notes.txt is neither a .bin (ESP32) nor a .uf2 (RP2) image"),
    (["provision", "bootsel", "--node-id", "3", "--image", "mp.bin"], None,
     "mp.bin is an ESP32 image (.bin); `bootsel` takes an RP2 .uf2"),
    (["info", "/dev/nope", "--inventory", "notes.txt"], None,
     "--inventory notes.txt: line 1 is not an inventory record (a JSON object)"),
    (["info", "/dev/nope", "--inventory", "/proc/self/mem"], None,
     "--inventory /proc/self/mem: Input/output error")]


@pytest.fixture
def wrong_things(folder):
    """The folder with the files WRONG_INPUTS names."""
    (folder / "notes.txt").write_text("not a port, a recording or a database\n")
    (folder / "adir").mkdir()
    other = sqlite3.connect(folder / "other.db")
    other.execute("CREATE TABLE contacts (name TEXT)")
    other.commit()
    other.close()
    (folder / "empty.rec").write_bytes(b"")
    from straja.gateway import record
    writer = record.RecordWriter(folder / "cut.rec", {"gateway_id": "g"})
    writer.close()
    (folder / "cut.rec").write_bytes((folder / "cut.rec").read_bytes()[:len(record.MAGIC) + 1])
    (folder / "capture.pcap").write_bytes(bytes.fromhex("d4c3b2a102000400") + bytes(16))
    (folder / "kept.out").write_text("an output from before\n")
    (folder / "unknown.toml").write_text("[gateway]\nbogus = 1\n")
    (folder / "typed.toml").write_text("[gateway]\nrescan_s = \"fast\"\n")
    (folder / "portdir.toml").write_text("[gateway]\nports = [\"adir\"]\n")
    (folder / "nodiscover.toml").write_text("[gateway]\ndiscover = false\n")
    (folder / "recstdout.toml").write_text("[gateway]\nrecord = \"-\"\n")
    (folder / "jsonlpipe.toml").write_text("[gateway]\njsonl = \"pipe\"\n")
    (folder / "mp.bin").write_bytes(b"\xe9" + bytes(15))
    (folder / "wrong.toml").write_text("[scene]\nname = \"x\"\nduration_s = \"ten\"\n")
    (folder / "extra.toml").write_text("[scene]\nname = \"x\"\nduration_s = 10.0\nbogus = 1\n")
    return folder


@pytest.mark.timeout(60)
@pytest.mark.parametrize("argv, extra_ports, says", WRONG_INPUTS, ids=lambda v: repr(v)[:60])
def test_a_wrong_input_is_refused_naming_it_with_a_fix_and_nothing_changes(
        argv, extra_ports, says, wrong_things, monkeypatch, capsys):
    """Exit 2, the argument or file named, a fix (or argparse's usage, which names the option),
    no traceback, and every file in the folder as it was: nothing made, nothing replaced."""
    if extra_ports is None:
        monkeypatch.delenv("STRAJA_EXTRA_PORTS", raising=False)
    else:
        monkeypatch.setenv("STRAJA_EXTRA_PORTS", extra_ports.format(folder=wrong_things))
    monkeypatch.setattr("sys.stdin", open(os.devnull))
    before = contents(wrong_things)
    err = refused(argv, capsys, says.format(folder=wrong_things))
    assert "\n  fix: " in err or "usage: straja" in err, err
    assert contents(wrong_things) == before


def contents(folder: Path) -> dict:
    """Every entry's name, and each file's bytes (a pipe is not read: it would wait)."""
    return {p.name: p.read_bytes() if p.is_file() else None for p in folder.iterdir()}


def _virtual_profile() -> dict:
    import json

    from straja.paths import board_profile_path
    return json.loads(board_profile_path("virtual").read_text())


def _with(change) -> dict:
    profile = _virtual_profile()
    change(profile)
    return profile


# Board profiles a technician may have edited wrongly (hardware/README.md, "Board profile"):
# (the profile, what the refusal says)
BAD_PROFILES = [
    (_with(lambda p: p["front_ends"][1]["pins"].update(cs="10")), "front_ends[1].pins.cs: a "
                                                                  "pin is a GPIO number"),
    (_with(lambda p: p["front_ends"][1]["pins"].update(cs=-1)), "not -1"),
    (_with(lambda p: p["front_ends"][1]["pins"].update(cs=True)), "not True"),
    (_with(lambda p: p["front_ends"][2]["pins"].update(cs=10)), "front_ends[2].pins.cs: GPIO 10 "
                                                                "is also front_ends[1].pins.cs"),
    (_with(lambda p: p["front_ends"][1]["pins"].update(cs=21)), "GPIO 21 is also safe_pin"),
    (_with(lambda p: p["front_ends"][1]["pins"].update(cs=12)), "is also buses.spi 0 sck"),
    (_with(lambda p: p["front_ends"][2]["pins"].pop("busy")), "front_ends[2].pins: a sx126x has "
                                                               "busy, cs, reset (and dio1)"),
    (_with(lambda p: p["front_ends"][1]["pins"].update(irq=3)), "a cc2500 has cs (and gdo0)"),
    (_with(lambda p: p["front_ends"][1].update(spi=3)), "front_ends[1].spi: 3 is none of the "
                                                        "profile's SPI buses (0)"),
    (_with(lambda p: p["front_ends"][4]["pins"].update(out=3)), "front_ends[4].pins.out: GPIO 3 "
                                                                "is not among buses.adc"),
    (_with(lambda p: p["front_ends"][0].update(kind="rx5809")), "front_ends[0].kind: one of"),
    (_with(lambda p: p.update(front_ends=[])), "front_ends (a list of one or more)"),
    ([1, 2], "a board profile is a JSON object"),
    # (hard5's fuzzer: each was a TypeError's traceback)
    (_with(lambda p: p["buses"].update(spi=5.5)), "buses.spi: a list of buses, each an object "
                                                   "with its id (a number)"),
    (_with(lambda p: p["buses"]["spi"][0].update(id=[0])), "buses.spi: a list of buses"),
    (_with(lambda p: p["buses"].update(adc=26)), "buses.adc: a list of GPIO numbers, not 26"),
    (_with(lambda p: p["front_ends"][0].update(kind=["rx5808"])), "front_ends[0].kind: one of"),
    (_with(lambda p: p["front_ends"][1].update(spi=[0])), "front_ends[1].spi: [0] is none of "
                                                          "the profile's SPI buses (0)")]


@pytest.mark.parametrize("profile, says", BAD_PROFILES, ids=lambda v: str(v)[:40])
def test_a_board_profile_with_bad_pins_is_refused_before_the_port(profile, says, folder,
                                                                  monkeypatch, capsys):
    """deploy and provision would install it as the node's /board.json: refused while parsing,
    naming the file and the field, before any port is opened."""
    import json

    from straja import paths
    boards = folder / "boards"
    boards.mkdir()
    (boards / "edited.json").write_text(json.dumps(profile))
    monkeypatch.setattr(paths, "BOARDS", boards)
    for argv in (["deploy", "/dev/nope", "--board", "edited"],
                 ["provision", "/dev/nope", "--node-id", "3", "--board", "edited"]):
        with pytest.raises(SystemExit) as refusal:
            cli.main(argv)
        err = capsys.readouterr().err
        assert refusal.value.code == 2
        assert f"argument --board: {boards / 'edited.json'}: " in err and says in err, err


def test_a_board_profile_that_is_not_json_is_refused(folder, monkeypatch, capsys):
    from straja import paths
    (folder / "edited.json").write_text('{"name": "edited",\n')
    monkeypatch.setattr(paths, "BOARDS", folder)
    refused(["deploy", "/dev/nope", "--board", "edited"], capsys, "edited.json: Expecting "
                                                                  "property name")


def test_replacing_an_output_takes_force(folder, capsys):
    (folder / "bridge.conf").write_text("a config from before\n")
    assert cli.main([*BRIDGE_TO, "--out", "bridge.conf", "--force"]) == 0
    assert "connection straja-A\n" in (folder / "bridge.conf").read_text()
    (folder / "empty.out").write_text("")  # (nothing to lose: written without --force)
    assert cli.main(["sim", "truth", "demo_incursion", "--out", "empty.out", "--t1", "1"]) == 0
    assert (folder / "empty.out").read_text()


def test_eval_jobs_are_at_most_the_processors_said_when_asked_for_more(monkeypatch, capsys):
    """A typo's --jobs 100000 would fork until the machine gave out: the workers are at most
    the processors the command may use, and the cut is said (not when --jobs was not given)."""
    from straja.eval import cli as eval_cli
    scored = []
    monkeypatch.setattr(eval_cli, "processors", lambda: 2)
    monkeypatch.setattr(eval_cli, "run_scenes", lambda args: scored.append(args.jobs) or 0)
    for jobs in (["--jobs", "100000"], ["--jobs", "1"], []):
        assert cli.main(["eval", "--scene", "demo_incursion", *jobs]) == 0
    assert scored == [2, 1, 2]
    assert capsys.readouterr().err.splitlines() == [
        "eval: --jobs 100000 is more than the 2 processors this command may use: 2 worker "
        "processes"]
    monkeypatch.setattr(eval_cli, "processors", lambda: 1)
    assert cli.main(["eval", "--scene", "demo_incursion"]) == 0
    assert scored[-1] == 1 and not capsys.readouterr().err


NODE_A = '[[node]]\nname = "a"\nposition_m = [0.0, 0.0, 1.0]\n'


@pytest.mark.parametrize("scene, says", [
    (f'duration_s = 10.0\n{NODE_A}board = "nope"\n', "s.toml:6: node[0].board: no board "
                                                       "profile 'nope'"),
    (f"duration_s = 10.0\n{NODE_A}board = 7\n", "node[0].board: no board profile '7'"),
    (f"duration_s = 1e300\n{NODE_A}", "s.toml:2: scene.duration_s: must be <= 1000000000.0 "
                                       "(got 1e+300)")])
def test_a_scene_node_without_a_board_profile_or_a_scene_past_any_length_is_refused(
        scene, says, folder, capsys):
    """A virtual node runs on its board's profile: a name with none failed only as the node
    started (exit 1, "check the disk"), and `sim check` passed it; a length past 1e9 s (31
    years, argtypes.MAX_FLOAT) is a typo that `eval --scene` would run for ever."""
    (folder / "s.toml").write_text(f"[scene]\n{scene}")
    for argv in (["sim", "check", "s.toml"], ["sim", "node", "--scene", "s.toml"]):
        refused(argv, capsys, says)


SCENE_HEAD = '[scene]\nname = "x"\nduration_s = 10.0\n'


@pytest.mark.parametrize("name, text, says", [
    ("s.toml", f'emitter = 5\n{SCENE_HEAD}include = ["quiet.toml"]\n',
     "s.toml:1: emitter: must be a list of tables, not 5"),
    ("s.toml", f'{SCENE_HEAD}{NODE_A}front_end = "rx"\n',
     "s.toml:7: node[0].front_end: must be a list of tables, not 'rx'"),
    ("s.toml", f'{SCENE_HEAD}include = ["quiet.toml"]\n[[emitter]]\nname = "e"\nkind = ["elrs"]\n',
     "s.toml:7: emitter[0].kind: must be one of elrs, "),
    ("s.toml", f'{SCENE_HEAD}include = ["{"x" * 300}.toml"]\n',
     "s.toml:4: scene.include: 'xxxxx"),
    ("s.json", "[1, 2]", "s.json: a scene is a table of [scene], [[node]] and [[emitter]], not "
                         "[1, 2]")])
def test_a_scene_table_of_the_wrong_type_is_refused_naming_it(name, text, says, folder, capsys):
    """(hard5's fuzzer: each was a TypeError's traceback, or an OSError's for a name too long
    for the file system)"""
    (folder / "quiet.toml").write_text(
        (Path(__file__).parents[1] / "scenes/quiet_rural.toml").read_text())
    (folder / name).write_text(text)
    refused(["sim", "check", name], capsys, says)


def test_a_pipe_a_program_reads_is_taken_as_an_output(tmp_path):
    """`straja gateway --jsonl /dev/stdout | jq` and a FIFO with `cat` at its end: the pipe's
    check must not refuse them, nor end the reader before the command writes."""
    fifo = tmp_path / "events"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        for _ in range(500):  # until cat has opened its end
            if argtypes._pipe_has_reader(fifo):
                break
            time.sleep(0.01)
        assert argtypes.writable_file(str(fifo)) == str(fifo)
        with open(fifo, "w") as out:  # the command's own write, after the check
            out.write('{"event": "alert"}\n')
        for fd in argtypes._PIPE_PROBES:  # the command's exit
            os.close(fd)
        argtypes._PIPE_PROBES.clear()
        assert reader.communicate(timeout=10)[0] == b'{"event": "alert"}\n'
    finally:
        reader.kill()
