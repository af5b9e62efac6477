"""Host tools against a hostile node (the project's hidden check "recordings of hostile nodes"):
a device on a pty that sends crafted frames (empty and odd sweeps, extreme fields, text that is
not UTF-8, replies to commands never sent, floods) and answers commands with replies of the
wrong shape. `monitor`, `info`, `config`, `replay` and the node link never crash: they go on,
count what they dropped and say what was wrong. (The gateway's own: tests/test_gateway_faults.py
and tests/test_gateway_chaos.py.)"""
from __future__ import annotations

import array
import json
import os
import random
import re
import struct
import threading

import pytest

from straja import cli, protocol as P
from straja.commands import device
from straja.gateway import record
from straja.gateway.config import GatewayConfig
from straja.gateway.events import SourceQuarantined
from straja.gateway.pipeline import Pipeline
from straja.gateway.spectrum import Thinner
from straja.errors import StrajaError
from straja.link import NodeLink
from straja.tools.monitor import PortView, frame_json
from straja.tools.session import Session, probe


class Wire(bytes):
    """A frame already encoded, sent as it is (a bytes body is one of an unknown frame type)."""


def raw_frame(ftype: int, body: bytes, seq: int = 1, node_id: int = 9) -> Wire:
    """A framed, checksummed frame whose body is any bytes (text that is not UTF-8 included)."""
    head = P.HEADER_FMT.pack(P.VERSION, ftype, node_id, seq, seq * 1000)
    data = head + body
    return Wire(P.cobs_encode(data + P.crc16(data).to_bytes(2, "big")) + b"\x00")


def crafted_bodies() -> list:
    """Bodies a broken or hostile node may send: every field at its extremes."""
    bodies = []
    for flags in (0, P.FLAG_REVISIT, P.FLAG_REVISIT | P.FLAG_PAIRS):
        for codes in (b"", b"\x05", b"\x00\xff\x80"):
            for start, step, first, total in [(2_400_000, 500, 0, 0), (2_400_000, 0, 0, 3),
                                              (2**32 - 1, 2**32 - 1, 0, 65535),
                                              (2_400_000, 1000, 65535, 1), (0, 0, 0, 1)]:
                bodies.append(P.Sweep(0, flags, 1, start, step, 0, 0, first, total, codes))
    bodies += [
        P.Sweep(255, 255, 65535, 5_645_000, 2000, 2**32 - 1, 2**32 - 1, 0, 3, b"\xff\x00\x80"),
        P.Envelope(0, 0, 1, 0, 0, 0, 0, array.array("H")),
        P.Envelope(255, 255, 1, 2**32 - 1, 2**32 - 1, -2**31, 2**31 - 1,
                   array.array("H", [65535] * 10)),
        P.Status(2**32 - 1, 65535, 255, 255, 2**32 - 1, 2**32 - 1, 2**32 - 1, 2**32 - 1, 65535,
                 65535, "v" * 500),
        P.Log(255, "é" * 300),
        P.RemoteId(255, -128, bytes(6), b""),
        P.RemoteId(0, 127, bytes(6), bytes(range(200))),
        b"\x00" * 50,  # a frame type no firmware sends
    ]
    for text in ("NaN", "[" * 900 + "]" * 900, '{"error": 5}', "", "1e999"):
        bodies += [P.Reply(65535, status, text) for status in (P.OK, P.BAD_ARG, 255)]
    return bodies


def crafted_wire() -> bytes:
    """Every crafted body as a frame, then bodies that are not UTF-8 where text is expected."""
    wire = b"".join(P.encode_frame(P.Frame(0, 9, seq, seq * 1000, body))
                    for seq, body in enumerate(crafted_bodies(), 1))
    return wire + b"".join(not_utf8_frames(seq=60_000))


def not_utf8_frames(seq: int = 50_000) -> list[Wire]:
    return [raw_frame(P.LOG, b"\x01\xff\xfe\xc3", seq),
            raw_frame(P.REPLY, P.REPLY_FMT.pack(3, P.OK) + b"\xff\xfe", seq + 1),
            raw_frame(P.STATUS, P.STATUS_FMT.pack(*[0] * 11) + b"\xff\xfe", seq + 2)]


class HostileNode:
    """A device on a pty: answers each command line with `answer(verb)` -> (status, text), and
    sends `flood` (bodies, and Wire sent as it is) before every answer."""

    def __init__(self, answer, flood=()):
        self.master, self.slave = os.openpty()
        self.port = os.ttyname(self.slave)
        self.answer, self.flood = answer, flood
        self.seq = 0
        self.verbs: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def frame(self, body) -> bytes:
        self.seq += 1  # (the decoder drops a repeated sequence number as a duplicate)
        return P.encode_frame(P.Frame(0, 9, self.seq & 0xFFFF, self.seq * 1000, body))

    def _serve(self):
        pending = b""
        os.set_blocking(self.master, False)
        while not self._stop.wait(0.01):
            try:
                pending += os.read(self.master, 4096)
            except (BlockingIOError, OSError):
                continue
            *lines, pending = pending.split(b"\n")
            for line in lines:
                found = re.fullmatch(rb"\s*(\d+) ([a-z_-]+).*", line)
                if not found:
                    continue
                verb = found.group(2).decode()
                self.verbs.append(verb)
                status, text = self.answer(verb)
                reply = P.Reply(int(found.group(1)), status, text)
                flood = b"".join(b if isinstance(b, Wire) else self.frame(b) for b in self.flood)
                self._write(flood + self.frame(reply))

    def _write(self, data: bytes):
        os.set_blocking(self.master, True)
        os.write(self.master, data)
        os.set_blocking(self.master, False)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def hostile():
    nodes = []

    def make(answer, flood=()):
        nodes.append(HostileNode(answer, flood))
        return nodes[-1]
    yield make
    for node in nodes:
        node.close()


def pong_then(reply):
    """Answers `ping` as the firmware does, and every other verb with `reply`."""
    return lambda verb: (P.OK, '{"pong": true}') if verb == "ping" else reply


def test_the_monitor_shows_and_prints_every_crafted_frame():
    view = PortView("/dev/hostile")
    events = [e for e in __import__("straja.framing", fromlist=["Decoder"]).Decoder()
              .feed(crafted_wire()) if not isinstance(e, P.Console)]
    assert len(events) == len(crafted_bodies()) + 3
    for frame in events:
        json.dumps(frame_json(view.port, frame), allow_nan=False)
        view.note(frame)
        text = "\n".join(view.lines())
        assert view.port in text
        view.sweeps.clear()
    empty = P.Sweep(0, 0, 1, 2_400_000, 500, 0, 0, 0, 0, b"")
    view.note(P.Frame(P.SWEEP, 9, 1, 0, empty))
    assert "a sweep with no readings" in view.lines()[-1]


def test_monitor_on_a_hostile_node_counts_what_it_dropped(hostile, capsys):
    """`monitor --start` with the crafted frames (and a flood of replies to commands never sent)
    before the reply: it runs its time, prints JSON, and counts the unasked replies."""
    unasked = [P.Reply(i, P.OK, "{}") for i in range(100, 600)]
    node = hostile(lambda verb: (P.OK, "{}"), flood=[*crafted_bodies(), *unasked,
                                                      *not_utf8_frames()])
    code = cli.main(["monitor", node.port, "--start", "--duration", "1.5", "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err, err
    *frames, summary = [json.loads(line) for line in out.splitlines()]
    counts = summary["summary"][node.port]
    assert counts["unasked_replies"] >= 500
    shown = [b for b in crafted_bodies() if not isinstance(b, P.Reply)]
    assert len(frames) == len(shown) + 2  # (and the LOG and STATUS that are not UTF-8)
    assert counts["unknown"] == 1  # the frame of a type no firmware sends: counted
    assert [f["body_hex"] for f in frames if "body_hex" in f] == ["00" * 50]
    assert counts["frames"] >= len(frames) + len(unasked)  # the decoder's count: replies too


def test_the_link_keeps_only_replies_a_command_waits_for(hostile):
    """Replies to commands never sent are counted and dropped (not kept: a flood would grow the
    host's memory); the command's own reply still comes through the flood."""
    flood = [P.Reply(i, P.OK, "x" * 200) for i in range(2, 3001)]  # (the ping is request 1)
    node = hostile(lambda verb: (P.OK, '{"pong": true}'), flood=flood)
    with NodeLink(node.port) as link:
        assert link.call("ping", timeout=10) == {"pong": True}
        assert link.unasked_replies >= 2998 and not link._replies
        assert link.counters()["unasked_replies"] == link.unasked_replies


@pytest.mark.parametrize("reply, reason", [
    ((P.OK, "[1, 2]"), "not an OK reply with a JSON object"),
    ((P.OK, "[" * 1000 + "]" * 1000), "nested deeper than"),
    ((P.BAD_ARG, '{"error": "no"}'), "not an OK reply"),
    ((P.OK, json.dumps({"front_ends": 5, "plan": []})), "front_ends"),
    ((P.OK, json.dumps({"front_ends": [], "plan": [], "uptime_s": "long", "boot_count": 1,
                        "overruns": 0, "frames_dropped": 0, "streaming": True})), "uptime_s"),
    ((P.OK, json.dumps({"front_ends": [], "plan": [], "uptime_s": 1, "boot_count": 1,
                        "overruns": float("nan"), "frames_dropped": 0, "streaming": True})),
     "overruns"),
    ((P.OK, json.dumps({"front_ends": [], "plan": [], "uptime_s": 1, "boot_count": 1,
                        "overruns": 0, "frames_dropped": -1, "streaming": "yes",
                        "reset_cause": 0})), "streaming"),
    ((P.OK, json.dumps({"front_ends": [], "uptime_s": 1})), "no plan"),
    # (hard5's fuzzer: info_rows's KeyError)
    ((P.OK, json.dumps({"front_ends": [], "plan": [], "uptime_s": 1, "boot_count": 1,
                        "overruns": 0, "frames_dropped": 0, "streaming": True})), "reset_cause"),
])
def test_info_says_when_the_applications_info_reply_is_malformed(hostile, reply, reason):
    node = hostile(pong_then(reply))
    running = device.running_info(node.port)
    assert reason in running["malformed"]
    rows = dict(device.info_rows({"port": node.port, "micropython": "1.24", "machine": "x",
                                  "mpy": None, "firmware": None, "firmware_hash": None,
                                  "board": None, "node_id": None, "running": running}))
    assert "cannot read" in rows["application"] and reason in rows["application"]


def test_info_shows_a_well_formed_reply_from_the_same_node(hostile):
    good = {"front_ends": [{"name": "vid58", "kind": "rx5808", "band_khz": [5645000, 5945000]}],
            "plan": [{"front_end": "vid58"}], "uptime_s": 5, "boot_count": 2, "overruns": 0,
            "frames_dropped": 0, "streaming": True, "reset_cause": 0}
    node = hostile(pong_then((P.OK, json.dumps(good))))
    assert device.running_info(node.port) == good


@pytest.mark.parametrize("text", ["[1, 2]", "7", "[" * 1000 + "]" * 1000])
def test_config_get_answered_with_no_object_is_an_error_not_a_traceback(hostile, capsys, text):
    node = hostile(pong_then((P.OK, text)))
    code = cli.main(["config", node.port, "get"])
    err = capsys.readouterr().err
    assert code == 1 and "not a JSON object" in err and "Traceback" not in err, err


def write_recording(path, records: list[tuple[int, int, int, bytes]], header=b"{}"):
    with open(path, "wb") as f:
        f.write(record.MAGIC + struct.pack("<BI", record.VERSION, len(header)) + header)
        for kind, sid, t_ns, data in records:
            f.write(record.RECORD.pack(kind, sid, t_ns, len(data)) + data)


@pytest.mark.parametrize("contents, says", [
    (record.MAGIC + b"\x01", "ends inside its header"),
    (record.MAGIC + struct.pack("<BI", 1, 5) + b"{oops", "header is damaged"),
    (record.MAGIC + struct.pack("<BI", 1, 4) + b"[1] ", "header is damaged"),
    (record.MAGIC + struct.pack("<BI", 1, 2**32 - 1) + b"{}", "header is damaged"),
    # a record's length no port read gives: refused, not a 4 GiB read taken for a cut-short end
    (record.MAGIC + struct.pack("<BI", 1, 2) + b"{}"
     + record.RECORD.pack(record.DATA, 0, 0, 2**32 - 1) + b"\0", "the recording is damaged"),
    # an arrival time no clock gives: the gateway's times made of it would not fit 64 bits
    (record.MAGIC + struct.pack("<BI", 1, 2) + b"{}"
     + record.RECORD.pack(record.DATA, 0, -2**63, 1) + b"\0", "the recording is damaged"),
])
def test_replay_of_a_damaged_recording_is_refused_with_its_reason(tmp_path, capsys, contents,
                                                                   says):
    (tmp_path / "bad.rec").write_bytes(contents)
    code = cli.main(["replay", str(tmp_path / "bad.rec"), "--db", str(tmp_path / "x.db")])
    err = capsys.readouterr().err
    assert code == 2 and says in err and "Traceback" not in err, err


def test_replay_of_a_hostile_nodes_recording_runs_to_its_end(tmp_path, capsys):
    """A source name that is not UTF-8, records of an unknown kind, time going backwards and
    every crafted frame: replayed, with its events."""
    wire = crafted_wire()
    records = [(record.OPEN, 0, 10**9, b"/dev/\xff\xfe"), (9, 0, 10**9, b"?"),
               *[(record.DATA, 0, 10**9 + (-1) ** i * i * 10**6, wire[i * 512:(i + 1) * 512])
                 for i in range(len(wire) // 512 + 1)],
               (record.CLOSE, 0, 3 * 10**9, b"")]
    write_recording(tmp_path / "hostile.rec", records)
    code = cli.main(["replay", str(tmp_path / "hostile.rec"), "--jsonl", "-"])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err, err
    kinds = {json.loads(line)["kind"] for line in out.splitlines()}
    assert {"port_opened", "port_closed"} <= kinds, kinds


def test_the_pipeline_reads_every_crafted_frame_without_quarantining_the_port():
    """Crafted frames are frames a node may send: each is read, or dropped with its count, and
    none puts the port in quarantine (the handling of an exception nothing else caught)."""
    pipeline = Pipeline(GatewayConfig())
    pipeline.open_source("/dev/hostile", 0)
    wire = crafted_wire()
    for i in range(0, len(wire), 256):
        out = pipeline.feed("/dev/hostile", (i + 1) * 10**6, wire[i:i + 256])
        assert not [e for e in out.events if isinstance(e, SourceQuarantined)], out.events
    assert pipeline.nodes[9].frames >= len(crafted_bodies()) - 20


def random_sweep_stream(rng: random.Random) -> bytes:
    """A node's stream of SWEEP frames of a few plans whose fields lie at and around their edges
    (steps, totals, firsts and lengths that do not fit each other, flags no firmware sets, the
    sweep id going back), segments of one plan among the others', a STATUS now and then."""
    def edge(bits):
        top = (1 << bits) - 1
        return rng.choice([0, 1, 2, top, top - 1, rng.randrange(top + 1), rng.randrange(300)])
    plans = [(rng.choice([0, 1, 2, 255]),
              rng.choice([0, P.FLAG_REVISIT, P.FLAG_PAIRS, P.FLAG_INTERLEAVED, rng.randrange(256)]),
              rng.choice([2_400_000, 5_645_000, 863_000, edge(32)]),
              rng.choice([1000, 812, 20_000, 0, edge(32)]),
              rng.choice([64, 16, 1, 0, edge(16)])) for _ in range(rng.randint(1, 4))]
    frames, sweep_id = [], 0
    for seq in range(1, rng.randint(20, 120)):
        front_end, flags, start, step, total = rng.choice(plans)
        first = rng.choice([0, 0, rng.randrange(total + 2), edge(16)])
        size = min(max(rng.choice([total, total - first, 2 * total, rng.randrange(300)]), 0), 900)
        codes = bytes(rng.choice([rng.randrange(256), rng.randrange(20, 60), 255])
                      for _ in range(size))
        sweep_id = (sweep_id + rng.choice([0, 1, 1, 2, 65535])) & 0xFFFF
        body = (P.Status(seq, 1, 0, 1, 1000, 1000, 0, 0, 0, 0, "0.1.0") if seq % 25 == 0 else
                P.Sweep(front_end, flags, sweep_id, start, step, rng.choice([300, edge(32)]),
                        edge(32), first, total, codes))
        frames.append(P.encode_frame(P.Frame(0, 9, seq, seq * 50_000, body)))
    return b"".join(frames)


def test_random_sweeps_at_their_fields_edges_never_quarantine_the_port():
    """The compiled sweep path (the gateway's lane, the detector's stages) takes a node's sweeps
    whatever their fields: each is read or refused, and nothing raises."""
    rng = random.Random(20261206)
    for trial in range(60):
        pipeline = Pipeline(GatewayConfig())
        pipeline.open_source("/dev/hostile", 0)
        wire = random_sweep_stream(rng)
        for i in range(0, len(wire), 512):
            out = pipeline.feed("/dev/hostile", (i + 1) * 10**7, wire[i:i + 512])
            assert not [e for e in out.events if isinstance(e, SourceQuarantined)], (trial, out)


class AnsweringSession:
    """A Session whose raw REPL prints `answer` to the probe (a board that answers anything)."""

    port = "/dev/hostile"

    def __init__(self, answer: str):
        self.answer = answer

    def exec(self, code, doing, timeout=10.0) -> bytes:
        return self.answer.encode()

    eval_json = Session.eval_json


@pytest.mark.parametrize("answer", ["[1, 2]", "7", "null", '"text"'])
def test_a_probe_answered_with_no_object_is_an_error(answer):
    with pytest.raises(StrajaError, match="unexpected answer while reading the node's state"):
        probe(AnsweringSession(answer))


def test_a_probe_answered_with_wrong_types_shows_what_it_can():
    """Fields of the wrong type become unknown (None), so `info`, `deploy` and `ports --probe`
    print them as such instead of failing on them."""
    answer = json.dumps({"micropython": [1], "mpy": "6.3", "machine": 5, "firmware": {},
                         "config": [7], "manifest": "x", "board": {"name": "esp32s3"}})
    info = probe(AnsweringSession(answer))
    assert info["micropython"] is info["machine"] is info["firmware"] is info["mpy"] is None
    assert info["node_id"] is None and info["firmware_hash"] is None
    assert info["board"] == "esp32s3"
    rows = dict(device.info_rows({**info, "port": "/dev/hostile", "running": None}))
    assert rows["mpy"] == "no .mpy support" and rows["MicroPython"] == "unknown (unknown machine)"


def test_the_dashboards_spectra_take_every_crafted_sweep():
    """The live spectra (dashboard, MQTT spectrum topic) from sweeps of any shape: a row out or
    none, never an exception; what goes out is JSON without NaN."""
    thinner = Thinner(rate_hz=1e6, max_bins=64, now=iter(range(10**6)).__next__)
    rows = [thinner.sweep(9, 0, body) for body in crafted_bodies() if isinstance(body, P.Sweep)]
    sent = [row for row in rows if row is not None]
    assert sent and all(json.dumps(row, allow_nan=False) for row in sent)


def test_the_monitor_shows_a_firmware_version_escaped():
    """A STATUS's firmware version is ASCII a node chose: its ESC sequences (clear the screen)
    are shown escaped, not sent to the technician's terminal (hard2)."""
    from types import SimpleNamespace
    view = PortView("/dev/hostile")
    view.link = SimpleNamespace(counters=dict, node_id=9, last_status=P.Status(
        1, 1, 0, 1, 1000, 1000, 0, 0, 0, 0, "0.1\x1b[2J\n"))
    text = "\n".join(view.lines())
    assert "\x1b[2J" not in text and r"fw 0.1\x1b[2J\n, up" in text
