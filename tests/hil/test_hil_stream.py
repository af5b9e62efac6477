"""Streaming: thousands of frames with no loss, free memory that does not drift, two nodes at once."""
from __future__ import annotations

import time

from hil_plans import start_streaming

from straja import protocol

# Free memory may move by this much over a run (a STATUS frame reports gc.mem_free(); the
# firmware allocates nothing per sweep, so while streaming it should not move at all).
DRIFT_TOLERANCE = 1024


def assert_unbroken(frames: list, node_id: int) -> None:
    """Consecutive sequence numbers, one node id, node timestamps going forward for each
    front end and for STATUS (the front ends scan at once and a frame is stamped with the start
    of its content: a long sweep that ends later was stamped before short ones sent meanwhile)."""
    seqs = [f.seq for f in frames]
    gaps = [(a, b) for a, b in zip(seqs, seqs[1:]) if (b - a) & 0xFFFF != 1]
    assert not gaps, f"sequence gaps: {gaps[:5]}"
    assert {f.node_id for f in frames} == {node_id}
    streams: dict = {}
    for f in frames:
        streams.setdefault((f.type, getattr(f.body, "front_end", None)), []).append(f.t_us)
    for key, t in streams.items():
        assert t == sorted(t), f"node timestamps go forward ({key})"


def test_streaming_n_frames_without_loss(node, hil_options):
    info = start_streaming(node)
    n = hil_options["frames"]
    frames = node.frames(n, timeout=max(60.0, n / 20), drain=True)
    assert_unbroken(frames, info["node_id"])
    counters = node.counters()
    assert counters["lost"] == 0 and counters["corrupt"] == 0 and counters["oversize"] == 0
    kinds = {fe["kind"] for fe in info["front_ends"]}
    types = {f.type for f in frames}
    assert {protocol.SWEEP, protocol.STATUS} <= types
    assert (protocol.ENVELOPE in types) == ("logdet" in kinds)
    statuses = [f.body for f in frames if f.type == protocol.STATUS]
    assert all(s.mode == 1 for s in statuses)
    assert statuses[-1].frames_dropped == statuses[0].frames_dropped, "the node dropped frames"
    assert node.call("stop")["streaming"] is False


def test_free_memory_does_not_drift(node, hil_options):
    """A bounded run (--hil-soak-s), STATUS every 100 ms: the highest mem_free of the last
    third (just after a collection, if any) is within DRIFT_TOLERANCE of the first third's."""
    start_streaming(node, heartbeat_ms=100)
    node.frames(50, timeout=30, drain=True)  # past the plan change's allocations
    samples = []
    t_end = time.monotonic() + hil_options["soak_s"]
    while time.monotonic() < t_end:
        samples += [f.body for f in node.frames(10, timeout=10, types=[protocol.STATUS])]
    assert len(samples) >= 30, "too few STATUS frames for a trend"
    third = len(samples) // 3
    first = max(s.mem_free for s in samples[:third])
    last = max(s.mem_free for s in samples[-third:])
    node.note(f"mem_free first third max {first}, last third max {last}, "
              f"min {min(s.mem_free for s in samples)}, {len(samples)} samples")
    assert first - last <= DRIFT_TOLERANCE, f"mem_free fell from {first} to {last}"
    assert len({s.boot_count for s in samples}) == 1, "the node restarted during the run"
    assert node.counters()["lost"] == 0


def test_two_nodes_at_once(nodes):
    a, b = nodes(2)
    infos = [start_streaming(n) for n in (a, b)]
    for n, info in zip((a, b), infos):
        assert_unbroken(n.frames(300, timeout=60, drain=True), info["node_id"])
        assert n.call("ping")["pong"] is True  # commands are served while both stream
        assert n.counters()["lost"] == 0 and n.counters()["corrupt"] == 0
    if a.virtual:
        assert infos[0]["node_id"] != infos[1]["node_id"]
    for n in (a, b):
        assert n.call("stop")["streaming"] is False
