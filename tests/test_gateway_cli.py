"""The documented config parses to the defaults; `straja events` and `straja replay` run."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from straja import cli
from straja.gateway import config, record
from straja.gateway.detector import GATEWAY_DEFAULTS

DOC = Path(__file__).resolve().parents[1] / "docs" / "gateway.md"


def test_documented_config_is_the_default_config(tmp_path):
    section = DOC.read_text().split("\n## Configuration", 1)[1]
    toml = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "gateway.toml"
    path.write_text(toml)
    cfg = config.load(path)
    assert cfg == config.GatewayConfig(detect=GATEWAY_DEFAULTS)  # the documented [detect] too
    path.write_text("[alerts]\nconfirm_hit = 3\n")
    with pytest.raises(config.ConfigError, match="unknown key 'confirm_hit'"):
        config.load(path)


def test_replay_into_a_store_then_events_lists_the_alert(tmp_path, capsys, video_recording):
    rec_path = video_recording
    db = tmp_path / "gw.db"
    assert cli.main(["replay", str(rec_path), "--db", str(db), "--jsonl", "-"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["kind"] for e in lines].count("alert_raised") == 1
    assert cli.main(["events", "--db", str(db), "--kind", "alert_raised", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [e for e in lines if e["kind"] == "alert_raised"]
    assert cli.main(["events", "--db", str(db), "--node", "2", "--kind", "node_online",
                     "--kind", "node_offline", "--limit", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "node_offline" in out[0] and "port=/dev/fake2" in out[0]


def test_a_paced_replay_skips_a_gap_in_the_recording_and_says_so(tmp_path, capsys):
    """Two hours between a node's chunks (the gateway was stopped): `--speed 1` does not wait
    them, but --max-gap's 0.2 s, and says so on stderr."""
    path = tmp_path / "gap.rec"
    w = record.RecordWriter(path)
    t0 = 1_700_000_000_000_000_000
    for t in (t0, t0 + 100_000_000, t0 + 7200 * 10**9, t0 + 7200 * 10**9 + 100_000_000):
        w.data("/dev/fake1", t, b"\x00")
    w.close()
    began = time.monotonic()
    assert cli.main(["replay", str(path), "--speed", "1", "--max-gap", "0.2", "--settle", "0",
                     "--jsonl", str(tmp_path / "out.jsonl")]) == 0
    # the paced 0.1 s steps and the gap's 0.2 s at least; what would fail is waiting the gap's two
    # hours (the upper bound is that, not this machine's speed, 5 s before)
    assert 0.4 <= time.monotonic() - began < 120
    err = capsys.readouterr().err
    assert "the recording's times jump 7200 s forwards at 2023-11-15T00:13:20+00:00: paced as " \
           "0.2 s (--max-gap)" in err, err
