"""Firmware config (firmware/straja_node/config.py, store.py) under the MicroPython unix port:
the schema, canonical JSON, recovery of interrupted writes, and the power-cut property."""
import json
import os
import random
import signal
import subprocess
import time

import pytest

from straja.mp import micropython_command, run_micropython
from straja.paths import FIRMWARE, REPO

HELPERS = REPO / "tests" / "firmware_app"
PATH = [FIRMWARE, HELPERS]


REVISIT = {"front_end": "cc", "start_khz": 2400000, "stop_khz": 2400063, "step_khz": 1,
           "dwell_us": 1000, "revisit": 8}


def mp(code, flash):
    """Run MicroPython `code` with the fake flash `flash` as working directory; its JSON output."""
    out = run_micropython("import json\nfrom straja_node import config, store\n" + code,
                          path=PATH, cwd=flash).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_defaults_and_canonical_json_match_cpython(tmp_path):
    got = mp("c = config.defaults()\nprint(json.dumps([c, config.canonical(c)]))", tmp_path)
    cfg, text = got
    assert text == json.dumps(cfg, sort_keys=True, separators=(",", ":"))
    assert cfg["node_id"] == 0 and cfg["plan"] == [] and cfg["stream_on_boot"] is False


@pytest.mark.parametrize("bad, words", [
    ({"node_id": 70000}, "node_id: 70000 out of range"),
    ({"node_id": True}, "node_id: expected an integer"),
    ({"node_id": "7"}, "node_id: expected an integer"),
    ({"colour": 1}, "unknown key colour"),
    ({"stream_on_boot": 1}, "stream_on_boot: expected true or false"),
    ({"watchdog_ms": 9000}, "watchdog_ms: 9000 out of range"),
    ({"watchdog_ms": 500}, "watchdog_ms: 500 out of range 2000..8000"),
    ({"cal": {"rx": {"offset": 200}}}, "cal.rx.offset: 200 out of range"),
    ({"cal": {"rx": {"rssi_min": 1.5}}}, "cal.rx.rssi_min: expected an integer"),
    ({"cal": {"RX!": {}}}, "a name: 1..16 of a-z"),
    ({"plan": [{"front_end": "rx"}]}, "dwell_us missing"),
    ({"plan": [{"front_end": "rx", "dwell_us": 100}]}, "needs channels or start_khz"),
    ({"plan": [{"front_end": "rx", "channels": [], "dwell_us": 100}]}, "expected a list of 1.."),
    ({"plan": [{"front_end": "cc", "start_khz": 1, "stop_khz": 3000, "step_khz": 1,
                "dwell_us": 100}]}, "3000 channels"),
    ({"plan": [{"front_end": "logdet", "rate_hz": 10, "n": 64}]}, "rate_hz: 10 out of range"),
    ({"plan": [dict(REVISIT, revisit=65)]}, "plan[0].revisit: 65 out of range 0..64"),
    ({"plan": [dict(REVISIT, revisit=-1)]}, "plan[0].revisit: -1 out of range"),
    ({"plan": [dict(REVISIT, revisit=True)]}, "plan[0].revisit: expected an integer"),
    ({"plan": [dict(REVISIT, revisit="4")]}, "plan[0].revisit: expected an integer"),
    # 600 channels x 1 ms fit a sweep, read twice they do not
    ({"plan": [dict(REVISIT, stop_khz=2400599, dwell_us=1000)]}, "sweep takes 1200000 us"),
    ({"plan": [{"front_end": "logdet", "rate_hz": 1000, "revisit": 4}]}, "unknown key revisit"),
    ({"plan": [dict(REVISIT, interleave=2)]}, "plan[0].interleave: 2 out of range 0..1"),
    ({"plan": [dict(REVISIT, interleave="1")]}, "plan[0].interleave: expected an integer"),
    ({"plan": [{"front_end": "logdet", "rate_hz": 1000, "interleave": 1}]},
     "unknown key interleave"),
    ({"plan": {"front_end": "rx"}}, "plan: expected a list"),
])
def test_bad_config_refused_and_old_kept(tmp_path, bad, words):
    got = mp("config.save({'node_id': 5})\n"
             "try:\n    config.save(%r)\n    err = None\nexcept config.ConfigError as e:\n"
             "    err = str(e)\nprint(json.dumps([err, config.load()]))" % (bad,), tmp_path)
    err, (cfg, load_error) = got
    assert err is not None and words in err
    assert cfg["node_id"] == 5 and load_error is None


def test_revisit_entry_is_saved_and_loaded(tmp_path):
    plans = [[REVISIT], [dict(REVISIT, revisit=0, stop_khz=2400599)],  # 0: off, 600 x 1 ms
             [dict(REVISIT, interleave=1)]]
    for plan in plans:
        cfg, error = mp("config.save({'plan': %r})\nprint(json.dumps(config.load()))" % (plan,),
                        tmp_path)
        assert cfg["plan"] == plan and error is None


def test_unreadable_config_falls_back_to_defaults_with_reason(tmp_path):
    (tmp_path / "config.json").write_text('{"node_id": 12, "plan": [')
    cfg, error = mp("print(json.dumps(config.load()))", tmp_path)
    assert cfg["node_id"] == 0 and "config unreadable, using defaults" in error
    (tmp_path / "config.json").write_text('{"node_id": -3}')
    cfg, error = mp("print(json.dumps(config.load()))", tmp_path)
    assert cfg["node_id"] == 0 and "node_id: -3 out of range" in error


def test_leftover_tmp_recovery(tmp_path):
    # an unfinished write beside a committed config: the tmp file is dropped, never read
    (tmp_path / "config.json").write_text('{"node_id": 1}')
    (tmp_path / "config.tmp").write_text('{"node_id": 2}')
    assert mp("print(json.dumps(config.load()[0]['node_id']))", tmp_path) == 1
    assert not (tmp_path / "config.tmp").exists()
    # FAT's rename is unlink + rename: a complete tmp file with no config is the new config
    (tmp_path / "config.json").unlink()
    (tmp_path / "config.tmp").write_text('{"node_id": 3}')
    assert mp("print(json.dumps(config.load()[0]['node_id']))", tmp_path) == 3
    assert (tmp_path / "config.json").read_text() == '{"node_id": 3}'
    # a partial tmp file with no config: defaults, and the partial file is gone
    (tmp_path / "config.json").unlink()
    (tmp_path / "config.tmp").write_text('{"node_id": 4, "pl')
    assert mp("print(json.dumps(config.load()))", tmp_path) == [
        mp("print(json.dumps(config.defaults()))", tmp_path), None]
    assert sorted(os.listdir(tmp_path)) == []


def check(flash):
    out = run_micropython(HELPERS / "config_check.py", path=PATH, cwd=flash).stdout
    return json.loads(out)


def test_power_cut_leaves_old_or_new_config(tmp_path):
    """Kill a writer with SIGKILL at 50 moments; each time a fresh interpreter must load a whole
    config that the writer wrote, never an older one than the last check saw."""
    rng = random.Random(1234)
    writer = [micropython_command(), str(HELPERS / "config_writer.py")]
    env = dict(os.environ, MICROPYPATH=os.pathsep.join(str(p) for p in PATH))
    run_micropython("from config_writer import sample\nfrom straja_node import config\n"
                    "config.save(sample(0))", path=PATH, cwd=tmp_path)
    last = 0
    seen_tmp = 0
    for _ in range(50):
        p = subprocess.Popen(writer + [str(last + 1)], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE)
        assert p.stdout.readline() == b"writing\n"
        time.sleep(rng.uniform(0.0, 0.06))
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        seen_tmp += (tmp_path / "config.tmp").exists()
        got = check(tmp_path)
        assert got["error"] is None and got["whole"], got
        assert got["node_id"] >= last
        assert got["files"] == ["config.json"]
        last = got["node_id"]
    assert last > 50  # the writer made progress between kills
    assert seen_tmp > 0  # some kills landed in the middle of a write
