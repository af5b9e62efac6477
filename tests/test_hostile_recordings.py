"""Recordings of hostile nodes (straja.testing.hostile) through `straja replay` and, on ptys,
through a live `straja gateway`: no traceback, no hang, memory bounded, every bad item counted
under its reason (the counts the generator made, independently of the gateway), the honest
node's frames all taken, exit codes that mean something (docs/gateway.md, "Hostile
recordings", under "Fault injection"). Seeds in HOSTILE_RECORDING_SEEDS (default 1,2,3)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc

import pytest

from straja.gateway import config, record
from straja.gateway.pipeline import Pipeline
from straja.testing import hostile
from test_gateway_mqtt import wait_for
from test_hostile_gateway import PtyNode, stopped

SEEDS = [int(s) for s in os.environ.get("HOSTILE_RECORDING_SEEDS", "1,2,3").split(",")]
SUMMARY = "input not taken as it came: "
# runs a command of `straja` and says its peak memory on stderr's last line
# The process's own peak (VmHWM: its memory's high-water mark, new at exec): ru_maxrss carries
# over exec the RSS of the process that forked it, here the pytest worker's (448 MiB in CI).
PEAK = ("import sys\nfrom straja import cli\ntry:\n    code = cli.main(sys.argv[1:])\n"
        "finally:\n    hwm = next(line for line in open('/proc/self/status') "
        "if line.startswith('VmHWM:'))\n    print('peak_kib', hwm.split()[1], file=sys.stderr)\n"
        "sys.exit(code)\n")
REPLAY_TIMEOUT_S = 240
PEAK_MIB = 400  # the replay process's whole peak (Python, NumPy, the core): what grew is not
PEAK_GROWTH_KIB = 20_000  # ten times the wild frames: at most this much more


def counts_said(stderr: str) -> dict[str, int]:
    """The input counts of the summary line (replay's, or the live gateway's log)."""
    line = next(line for line in stderr.splitlines() if SUMMARY in line)
    said = line.split(SUMMARY, 1)[1].strip()
    if said == "none":
        return {}
    return {key: int(n) for key, n in (item.rsplit(" ", 1) for item in said.split(", "))}


def replay(path, tmp_path, *extra) -> tuple[int, str, list[dict], int]:
    """`straja replay` of path: exit code, stderr, the events, peak memory in KiB. No hang: a
    replay of these takes 4 s idle (80 s with the machine loaded), REPLAY_TIMEOUT_S at most."""
    events = tmp_path / "events.jsonl"
    done = subprocess.run([sys.executable, "-c", PEAK, "replay", str(path), "--jsonl",
                           str(events), *extra], capture_output=True, text=True,
                          timeout=REPLAY_TIMEOUT_S)
    peak = int(done.stderr.strip().splitlines()[-1].split()[1])
    lines = events.read_text().splitlines() if events.exists() else []
    return done.returncode, done.stderr, [json.loads(line) for line in lines], peak


def last_stats(events: list[dict], node_id: int) -> dict:
    return [e for e in events if e["kind"] == "node_stats" and e["node_id"] == node_id][-1]


def expected(manifest: hostile.Manifest) -> dict[str, int]:
    return {key: n for key, n in sorted(manifest.counts.items()) if n}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", SEEDS)
def test_a_hostile_recording_replays_with_every_bad_item_counted(seed, tmp_path):
    manifest = hostile.write(seed, tmp_path / "h.rec")
    code, err, events, peak = replay(tmp_path / "h.rec", tmp_path)
    assert code == 0 and "Traceback" not in err, err[-3000:]
    assert counts_said(err) == expected(manifest), err
    honest = last_stats(events, hostile.HONEST_ID)
    assert honest["frames"] == manifest.honest_frames and honest["lost"] == 0
    # the liar's good plan report between its lies is its normal plan
    plans = [e for e in events if e["kind"] == "node_plan" and e["node_id"] == hostile.LIAR_ID]
    assert plans and plans[-1]["plan"] == hostile.PLAN_REPLY["plan"]
    rejected = [e for e in events if e["kind"] == "reply_rejected"]
    coalesced = [e["count"] for e in events if e["kind"] == "events_coalesced"
                 and e["event_kind"] == "reply_rejected"]
    assert len(rejected) + sum(coalesced) == manifest.counts["replies_rejected"]
    assert all(e["reason"] for e in rejected)
    assert not [e for e in events if e["kind"] == "source_quarantined"]
    assert peak < PEAK_MIB * 1024


@pytest.mark.timeout(600)
def test_memory_does_not_grow_with_the_hostile_streams_length(tmp_path):
    """Ten times the wild frames: the replay's peak grows by less than PEAK_GROWTH_KIB (what a
    gateway keeps of a node is bounded: its plans, its latest sweeps, not what it was sent)."""
    peaks = []
    for frames in (300, 3000):
        hostile.write(1, tmp_path / "h.rec", frames=frames)
        code, err, _, peak = replay(tmp_path / "h.rec", tmp_path)
        assert code == 0, err[-3000:]
        peaks.append(peak)
    assert peaks[1] - peaks[0] < PEAK_GROWTH_KIB, peaks


def test_a_pipeline_keeps_no_more_for_more_hostile_frames():
    """The same in-process, traced: the memory the pipeline holds after 3000 wild frames is
    that after 1000 (within 2 MB)."""
    chunks, _ = hostile.chunks(2, frames=3000)
    pipeline = Pipeline(config.GatewayConfig())
    tracemalloc.start()
    try:
        held = []
        for i, chunk in enumerate(chunks):
            pipeline.feed(chunk.source, chunk.t_ns, chunk.data)
            if i in (len(chunks) // 3, len(chunks) - 1):
                held.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert held[1] - held[0] < 2_000_000, held


def test_a_truncated_hostile_recording_is_replayed_to_its_last_whole_record(tmp_path):
    manifest = hostile.write(4, tmp_path / "cut.rec", truncate=True)
    code, err, events, _ = replay(tmp_path / "cut.rec", tmp_path)
    assert code == 0 and "Traceback" not in err, err
    assert f"ends inside the record at byte {manifest.cut_at} (cut short" in err
    assert last_stats(events, hostile.HONEST_ID)["frames"] >= manifest.honest_frames - 1


@pytest.mark.parametrize("field, value, says", [
    ("size", record.MAX_DATA + 1, f"{record.MAX_DATA + 1} bytes"),
    ("t_ns", -1, "at -1 ns (0 to 2**62)")])
def test_a_damaged_record_refuses_the_replay_before_any_event_is_written(field, value, says,
                                                                         tmp_path):
    """A record no writer makes (a length past any read, a time before 1970), however far in:
    the recording is checked whole first, so exit 2 naming its byte offset, and no output made
    (a replay stopped there left the events before it in --db or --jsonl, hard5)."""
    path = tmp_path / "h.rec"
    hostile.write(5, path)
    data = bytearray(path.read_bytes())
    at = _record_offsets(data)[200]
    kind, sid, t_ns, size = record.RECORD.unpack_from(data, at)
    values = {"kind": kind, "sid": sid, "t_ns": t_ns, "size": size, field: value}
    record.RECORD.pack_into(data, at, values["kind"], values["sid"], values["t_ns"],
                            values["size"])
    path.write_bytes(bytes(data))
    code, err, events, _ = replay(path, tmp_path, "--db", str(tmp_path / "events.db"))
    assert code == 2 and "Traceback" not in err, err
    assert f"the record at byte {at} is" in err and says in err and "damaged" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.rec"] and SUMMARY not in err


def test_records_of_a_kind_not_known_are_skipped_and_said(tmp_path):
    """(A later version's kinds, as frame types a receiver lacks): not fed as a port's bytes."""
    path = tmp_path / "h.rec"
    manifest = hostile.write(6, path)
    data = bytearray(path.read_bytes())
    for at in _record_offsets(data)[-30:]:
        data[at] = 9
    path.write_bytes(bytes(data))
    code, err, events, _ = replay(path, tmp_path)
    assert code == 0 and "replay: 30 records of a kind this version does not know skipped" in err
    assert last_stats(events, hostile.HONEST_ID)["frames"] < manifest.honest_frames


def _record_offsets(data: bytes) -> list[int]:
    at = len(record.MAGIC) + record._PREFIX.size
    at += record._PREFIX.unpack_from(data, len(record.MAGIC))[1]
    offsets = []
    while at < len(data):
        offsets.append(at)
        at += record.RECORD.size + record.RECORD.unpack_from(data, at)[3]
    return offsets


@pytest.mark.timeout(240)
def test_the_live_gateway_reads_the_hostile_streams_on_ptys_and_counts_the_same(tmp_path):
    """The same streams on three ptys to `straja gateway` (12 s, their times compressed): it
    runs and stops with 0, no traceback, the honest node's frames all taken, and its log's
    counts at the stop are the generator's; its own recording replays to the same counts."""
    chunks, manifest = hostile.chunks(3)
    t_first, span = chunks[0].t_ns, chunks[-1].t_ns - chunks[0].t_ns
    by_source: dict[str, list] = {}
    for chunk in chunks:
        by_source.setdefault(chunk.source, []).append(
            (12.0 * (chunk.t_ns - t_first) / span, chunk.data))
    nodes = {source: PtyNode(pieces, lambda *command: None)
             for source, pieces in by_source.items()}
    log = open(tmp_path / "gateway.log", "w")
    (tmp_path / "gateway.toml").write_text("[gateway]\nstats_interval_s = 1.0\n")
    gw = subprocess.Popen(
        [sys.executable, "-m", "straja.cli", "gateway", "--config", str(tmp_path / "gateway.toml"),
         "--no-discover", "--db", str(tmp_path / "gw.db"),
         "--jsonl", str(tmp_path / "live.jsonl"), "--record", str(tmp_path / "live.rec"),
         *[a for node in nodes.values() for a in ("--port", node.port)]],
        stdout=log, stderr=log)
    try:
        assert wait_for(lambda: (tmp_path / "gateway.log").read_text().count("port_opened") == 3,
                     60), (tmp_path / "gateway.log").read_text()
        t0 = time.monotonic()
        for node in nodes.values():
            node.t0 = t0
            node.start()
        for node in nodes.values():
            node.join(timeout=60)
        time.sleep(1.0)  # (the last bytes read)
        running, code = stopped(gw)
    finally:
        if gw.poll() is None:
            gw.kill()
        for node in nodes.values():
            node.close()
    output = (tmp_path / "gateway.log").read_text()
    assert running and code == 0 and "Traceback" not in output, output[-3000:]
    assert counts_said(output) == expected(manifest), output[-3000:]
    events = [json.loads(line) for line in (tmp_path / "live.jsonl").read_text().splitlines()]
    assert last_stats(events, hostile.HONEST_ID)["frames"] == manifest.honest_frames
    code, err, _, _ = replay(tmp_path / "live.rec", tmp_path)
    assert code == 0 and counts_said(err) == expected(manifest), err

