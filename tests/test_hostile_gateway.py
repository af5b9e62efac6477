"""Hostile nodes against the whole running gateway (hard2, session 22): a real `straja gateway`
process with every output on (SQLite, a real mosquitto, Cursor on Target to a UDP listener, the
web dashboard) reads an honest node (a scene's node on the evaluation's fast path, answering the
gateway's commands) beside hostile nodes on ptys. The hostile nodes send well-framed data whose
fields lie at and past their edges (`hostile_wire`: times going back, jumping 2^50 us and
repeating, sequence numbers wrapping and repeating, sweeps of 0 or the most bins at every RSSI
code, start and step at their limits and against the plan the node announced, absurd STATUS
counters, text with control characters, NUL, HTML and XML metacharacters, Remote ID positions
at the poles and the antimeridian) and answer `info` and `get plan` with lies.

Checked: no traceback anywhere, the honest node's alert raised, the hostile ports' losses
counted and their refusals stated, every CoT message XML, every MQTT payload, dashboard reply
and websocket message strict JSON, `straja events --json` reads the store, and `straja replay`
of the recording ends with 0. `python -m pytest tests/test_hostile_gateway.py` (seeds in SEEDS;
HOSTILE_SEEDS=1,2,3 for others)."""
from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from array import array

import pytest
from websockets.sync.client import connect as ws_connect

from straja import protocol as P
from straja.eval.scenes import SceneNode
from straja.sim import remoteid as rid
from straja.sim.scene import load_scene
from straja_node.limits import CHANNELS_MAX, KHZ_MAX, TEMP_S_MAX
from test_gateway_mqtt import Broker, Subscriber, free_port, wait_for

SEEDS = [int(s) for s in os.environ.get("HOSTILE_SEEDS", "1,2").split(",")]
SCENE = "analog_video_alone"
RUN_S = 14.0        # seconds of the honest node's scene the gateway reads
HONEST_FROM_S = 30.0  # (the drone is near the nodes from about 30 s on: its alert comes early)
FLOOD = 3000          # frames a hostile node sends at once, halfway
HOSTILE_IDS = (50, 51, 52, 1)  # 1: a hostile port claiming the honest node's id
# Text a node controls (LOG, STATUS firmware, reply strings, Remote ID ids) that a consumer must
# carry through escaped: control characters, NUL, HTML/JS and CoT XML metacharacters, very long
ODD_TEXT = ["\x00", "\x01\x07\x1b[2J\x7f", "<script>alert('x')</script>", '"/><event uid="x">',
            "&amp;&#0;&", "\u202eevil", "\ufffd\u2028", "x" * 1500, ""]


def strict_json(text):
    """JSON as a browser or another program reads it: no NaN or Infinity."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def edge(rng, bits: int) -> int:
    top = (1 << bits) - 1
    return rng.choice([0, 1, top, top - 1, rng.randrange(top + 1)])


def odd_ascii(rng, size: int) -> str:
    """ODD_TEXT squeezed into `size` ASCII characters (Remote ID's text fields are ASCII)."""
    text = rng.choice(ODD_TEXT).encode("ascii", "replace").decode()
    return (text or "<&\"")[:size]


def remoteid_message(rng) -> bytes:
    """A Remote ID message: a valid one with absurd values, or garbage."""
    return rng.choice([
        lambda: rid.location(rng.choice([90.0, -90.0, 0.0]), rng.choice([180.0, -180.0, 0.0]),
                             rng.choice([-1000.0, 31767.0, None]), rng.choice([-1000.0, 31767.0]),
                             rng.choice([0.0, 254.25, None]), rng.choice([0.0, 359.0, None]),
                             rng.choice([-62.0, 62.0, None]), rng.choice([0.0, 3599.9, None])),
        lambda: rid.basic_id(odd_ascii(rng, 20), rng.randrange(16), rng.randrange(16)),
        lambda: rid.operator_id(odd_ascii(rng, 20)),
        lambda: rid.self_id(odd_ascii(rng, 23)),
        lambda: rid.system(rng.choice([90.0, -90.0]), rng.choice([180.0, -180.0]), 31767.0),
        lambda: bytes(rng.randrange(256) for _ in range(25)),
    ])()


def video_codes(rng, n: int, at: int) -> bytes:
    """A sweep's codes with a strong 20 MHz-wide bump at bin `at` (an analog video to the core)."""
    return bytes(min(255, 200 if abs(i - at) <= 1 else 40 + rng.randrange(6)) for i in range(n))


def hostile_body(rng, plan):
    """One frame body: a sweep of the announced plan (a drone-like bump, so tracks, fusion,
    alerts and positions run on it), or one at the fields' edges, or any other frame type."""
    start, step, total = plan
    kind = rng.choice(["plan", "plan", "plan", "edge", "status", "log", "reply", "rid",
                       "envelope", "unknown"])
    if kind == "plan":
        return P.Sweep(0, rng.choice([0, 0, P.FLAG_SATURATED]), rng.randrange(65536), start,
                       step, 300, 300 * total, 0, total, video_codes(rng, total, total // 2))
    if kind == "edge":
        n = rng.choice([0, 1, total, P.MAX_FRAME - 14 - 24 - 2])
        codes = bytes(rng.choice([range(256), [0] * 256, [255] * 256])[i % 256] for i in range(n))
        return P.Sweep(rng.choice([0, 1, 255]), edge(rng, 8), edge(rng, 16),
                       rng.choice([start, edge(rng, 32)]), rng.choice([step, edge(rng, 32)]),
                       edge(rng, 32), edge(rng, 32), rng.choice([0, edge(rng, 16)]),
                       rng.choice([total, n, edge(rng, 16)]), codes)
    if kind == "status":
        return P.Status(edge(rng, 32), edge(rng, 16), edge(rng, 8), edge(rng, 8), edge(rng, 32),
                        edge(rng, 32), edge(rng, 32), edge(rng, 32), edge(rng, 16),
                        edge(rng, 16), odd_ascii(rng, 200))
    if kind == "log":
        return P.Log(edge(rng, 8), rng.choice(ODD_TEXT))
    if kind == "reply":  # an info or get plan reply to no command (the gateway takes them)
        return P.Reply(edge(rng, 16), rng.choice([P.OK, P.FAILED, 255]), lie(rng))
    if kind == "rid":
        address = bytes([rng.randrange(3)] * 6)
        return P.RemoteId(edge(rng, 8), rng.choice([-128, 127, -60]), address,
                          rid.advertising(remoteid_message(rng), rng.randrange(256))[2:])
    if kind == "envelope":
        return P.Envelope(edge(rng, 8), edge(rng, 8), edge(rng, 16), edge(rng, 32),
                          edge(rng, 32), rng.choice([-2**31, 2**31 - 1]),
                          rng.choice([-2**31, 2**31 - 1]),
                          array("H", [edge(rng, 16) for _ in range(rng.choice([0, 1, 1006]))]))
    return bytes(rng.randrange(256) for _ in range(rng.randrange(40)))


def lie(rng) -> str:
    """An `info` or `get plan` reply that lies: a front-end kind the gateway does not know, a
    plan of thousands of channels, strings with control characters and metacharacters."""
    name = rng.choice(ODD_TEXT[:7])
    entry = rng.choice([{"front_end": name, "start_khz": 1, "stop_khz": KHZ_MAX, "step_khz": 1},
                        {"front_end": name, "n_channels": CHANNELS_MAX, "dwell_us": 50},
                        {"front_end": name, "n_channels": 65535},  # (past the firmware's)
                        {"front_end": name, "channels": list(range(1, 300))},
                        {"front_end": "vid58", "start_khz": 5_645_000, "stop_khz": 5_945_000,
                         "step_khz": 20_000}])
    value = rng.choice([
        {"front_ends": [{"name": name, "kind": rng.choice(["warp\x00drive", name, "rx5808"]),
                         "band_khz": [0, KHZ_MAX], "settle_us": 0, "filter_khz": 0}],
         "plan": [entry] * rng.choice([1, 2, 40]), "temp_plan_s": rng.choice([0, TEMP_S_MAX])},
        {"plan": [entry], "temp_plan_s": rng.choice([0, TEMP_S_MAX])},
        {"front_ends": [], "plan": []},
    ])
    text = json.dumps(value, ensure_ascii=rng.random() < 0.5)
    return text if len(text) < 1900 else json.dumps({"plan": [entry]})


def hostile_times(rng, n: int):
    """t_us of n frames: rising mostly, then going back, jumping 2^50 us, repeating, at the top."""
    t = rng.randrange(2**40)
    for _ in range(n):
        t = rng.choice([t + 50_000] * 20 + [t, max(t - 10**7, 0), t + 2**50, (1 << 51) - 1, 0])
        t = min(t, (1 << 51) - 1)
        yield t


def hostile_seqs(rng, n: int):
    """Sequence numbers: consecutive from near the wrap, repeating, jumping, going back."""
    seq = 65530
    for _ in range(n):
        seq = (seq + rng.choice([1] * 6 + [0, 2, 1000, 40000])) & 0xFFFF
        yield seq


PLANS = [(5_645_000, 20_000, 16), (5_645_000, 20_000, 64), (KHZ_MAX - 20_000 * 16, 20_000, 16),
         (1, 1, 64)]  # (start kHz, step kHz, channels): the hostile nodes' sweeps


def hostile_wire(rng, node_ids, n: int, plan) -> list[bytes]:
    """n frames of the hostile node(s) `node_ids`, each encoded (one list item per frame); their
    sweeps mostly of `plan` (one for all the hostile nodes: their drone-like bump is one track of
    several nodes, placed from the map's edges)."""
    ids = rng.choice([node_ids[:1], node_ids])
    return [P.encode_frame(P.Frame(0, rng.choice(ids), seq, t_us, hostile_body(rng, plan)))
            for seq, t_us in zip(hostile_seqs(rng, n), hostile_times(rng, n))]


CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]")
COMMAND = re.compile(rb"\s*(\d+) ([a-z_-]+)(?: (.*))?")


class PtyNode(threading.Thread):
    """A node on a pty: sends `chunks` ((s after start, bytes), in time order) at their time
    and answers each command line with `answer(request_id, verb, args, t_s)` (wire bytes or
    None)."""

    def __init__(self, chunks, answer):
        super().__init__(daemon=True)
        self.master, self.slave = os.openpty()
        self.port = os.ttyname(self.slave)
        self.chunks, self.answer, self.t0 = chunks, answer, 0.0  # (t0: set at start)
        self.stop = threading.Event()
        self.verbs: list[str] = []

    def run(self):
        pending = b""
        os.set_blocking(self.master, False)
        for t_s, data in self.chunks:
            while not self.stop.is_set():
                try:
                    pending += os.read(self.master, 4096)
                except (BlockingIOError, OSError):
                    pass
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._command(line)
                if time.monotonic() - self.t0 >= t_s:
                    break
                time.sleep(0.005)
            if self.stop.is_set():
                return
            self._write(data)

    def _command(self, line: bytes):
        found = COMMAND.fullmatch(line.rstrip(b"\r"))
        if found:
            verb, args = found.group(2).decode(), (found.group(3) or b"").decode() or None
            self.verbs.append(verb)
            reply = self.answer(int(found.group(1)), verb, args, time.monotonic() - self.t0)
            if reply:
                self._write(reply)

    def _write(self, data: bytes):
        view = memoryview(data)
        while view and not self.stop.is_set():
            try:
                view = view[os.write(self.master, view):]
            except BlockingIOError:
                time.sleep(0.002)

    def close(self):
        self.stop.set()
        self.join(timeout=5)
        os.close(self.master)
        os.close(self.slave)


def honest_node(scene) -> PtyNode:
    """Node 1 of the scene from HONEST_FROM_S for RUN_S s, its times as it would send them."""
    name = next(iter(scene.nodes))
    node = SceneNode(scene, name, 1, HONEST_FROM_S + RUN_S)
    start_ns = round(HONEST_FROM_S * 1e9)
    while node.next is not None and node.next[0] < start_ns:
        node.advance()

    def chunks():
        while node.next is not None:
            t_ns, data = node.next
            node.advance()
            yield (t_ns - start_ns) / 1e9, data

    def answer(request_id, verb, args, t_s):
        return node.command(verb, args, HONEST_FROM_S + t_s)
    return PtyNode(chunks(), answer)


def hostile_node(rng, node_ids, plan, after_s: float = 0.0) -> PtyNode:
    """A hostile node sending from after_s on (an impostor of a bound id comes after the node),
    400 frames spread out and, halfway, a flood of FLOOD more at once."""
    frames = hostile_wire(rng, list(node_ids), 400, plan)
    chunks = [(after_s + (RUN_S - after_s) * i / len(frames), f) for i, f in enumerate(frames)]
    chunks.insert(len(chunks) // 2, (chunks[len(chunks) // 2][0],
                                     b"".join(hostile_wire(rng, list(node_ids), FLOOD, plan))))

    def answer(request_id, verb, args, t_s):
        if t_s < after_s:
            return None
        status = rng.choice([P.OK, P.OK, P.OK, P.FAILED, P.BAD_ARG])
        return P.encode_frame(P.Frame(0, node_ids[0], rng.randrange(65536), rng.randrange(2**40),
                                      P.Reply(request_id, status, lie(rng))))
    return PtyNode(chunks, answer)


class CotListener(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.got: list[bytes] = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.got.append(self.sock.recv(65536))
            except socket.timeout:
                pass


class Dashboard(threading.Thread):
    """Reads the dashboard's websocket, and its JSON API every second."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.base = f"127.0.0.1:{port}"
        self.got: list[str] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://{self.base}{path}", timeout=5) as response:
            return response.read().decode()

    def run(self):
        if not wait_for(lambda: self._up(), 20):
            self.errors.append("the dashboard never answered")
            return
        try:
            with ws_connect(f"ws://{self.base}/ws", origin=f"http://{self.base}") as ws:
                next_poll = 0.0
                while not self.stop.is_set():
                    if time.monotonic() >= next_poll:
                        self.got += [self.get("/api/state"), self.get("/api/events?limit=500")]
                        next_poll = time.monotonic() + 1.0
                    try:
                        self.got.append(ws.recv(timeout=0.2))
                    except TimeoutError:
                        pass
        except Exception as e:  # (what the page would see: reported, and the test fails)
            self.errors.append(f"{type(e).__name__}: {e}")

    def _up(self) -> bool:
        try:
            self.get("/api/state")
            return True
        except OSError:
            return False


def stopped(gw: subprocess.Popen) -> tuple[bool, int]:
    """Whether the gateway process still ran, then its exit code once SIGTERM stopped it."""
    running = gw.poll() is None
    gw.send_signal(signal.SIGTERM)
    return running, gw.wait(timeout=30)


def straja(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "straja.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def gateway_config(tmp_path, scene, mqtt_port: int) -> str:
    nodes = scene.gateway_nodes()
    # the hostile nodes stand at the map's edges: poles, antimeridian, heights at the limits
    edges = [(89.999999, 179.999999, 9000.0), (-90.0, -180.0, -500.0), (0.0, 0.0, 0.0)]
    lines = ['[gateway]', 'gateway_id = "hostile"', 'stats_interval_s = 1.0',
             f'db = "{tmp_path / "gw.db"}"', f'record = "{tmp_path / "run.rec"}"',
             '[mqtt]', 'host = "127.0.0.1"', f'port = {mqtt_port}', 'keepalive_s = 2']
    for node_id, (lat, lon, height) in zip(HOSTILE_IDS, edges):
        lines += [f'[nodes.{node_id}]', f'latitude = {lat}', f'longitude = {lon}',
                  f'height_m = {height}']
    for node_id, pos in nodes.items():
        if int(node_id) not in HOSTILE_IDS[:3]:
            lines += [f'[nodes.{node_id}]'] + [f'{k} = {v}' for k, v in pos.items()]
    path = tmp_path / "gateway.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("seed", SEEDS)
def test_hostile_nodes_beside_an_honest_one_through_every_output(tmp_path, seed):
    rng = random.Random(seed)
    scene = load_scene(SCENE)
    broker = Broker(tmp_path, free_port())
    broker.start()
    sub = Subscriber(broker.port, "#")
    cot = CotListener()
    cot.start()
    web_port = free_port()
    plan = rng.choice(PLANS)
    nodes = [honest_node(scene), hostile_node(rng, HOSTILE_IDS[:1], plan),
             hostile_node(rng, HOSTILE_IDS[1:3], plan),
             hostile_node(rng, HOSTILE_IDS[3:], plan, 3.0)]
    log = open(tmp_path / "gateway.log", "w")
    gw = subprocess.Popen(
        [sys.executable, "-m", "straja.cli", "gateway", "--config",
         gateway_config(tmp_path, scene, broker.port), "--no-discover", "--cot",
         f"udp://127.0.0.1:{cot.port}", "--web", f"127.0.0.1:{web_port}",
         *[a for n in nodes for a in ("--port", n.port)]], stdout=log, stderr=log)
    dashboard = Dashboard(web_port)
    dashboard.start()
    try:  # the nodes send once the gateway has opened their ports (it starts slowly when loaded)
        assert wait_for(lambda: (tmp_path / "gateway.log").read_text().count("port_opened")
                        == len(nodes), 60), (tmp_path / "gateway.log").read_text()
        t0 = time.monotonic()
        for node in nodes:
            node.t0 = t0
            node.start()
        time.sleep(RUN_S + 2.0)
        dashboard.stop.set()  # (before the gateway's stop closes its socket)
        dashboard.join(timeout=10)
        running, code = stopped(gw)
    finally:
        if gw.poll() is None:
            gw.kill()
        dashboard.stop.set()
        for node in nodes:
            node.close()
        cot.stop.set()
        sub.client.loop_stop()
        sub.client.disconnect()
        broker.stop()
    output = (tmp_path / "gateway.log").read_text()
    assert running and code == 0, output[-3000:]
    assert "Traceback" not in output and "Error" not in output, output[-3000:]
    # what a node sent forges no log line and sends nothing to the terminal (term.visible)
    assert not CONTROL.search(output.replace("\n", "")), CONTROL.search(output)

    listed = straja("events", "--db", str(tmp_path / "gw.db"), "--json")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    events = strict_json(listed.stdout)
    kinds = {e["kind"] for e in events}
    # every hostile frame the gateway read is a node's data: none quarantines a port
    assert "source_quarantined" not in kinds, [e for e in events
                                               if e["kind"] == "source_quarantined"]
    # the honest node's drone is alerted
    assert [e for e in events if e["kind"] == "alert_raised"
            and 1 in [n["node_id"] for n in e["nodes"]]], kinds
    # the hostile ports' losses are counted, their lies and claims refused with a reason
    stats = [e for e in events if e["kind"] == "node_stats" and e["node_id"] in HOSTILE_IDS[:3]]
    assert stats and max(s["lost"] for s in stats) > 0
    assert {"reply_rejected", "node_id_conflict"} <= kinds, kinds
    text = straja("events", "--db", str(tmp_path / "gw.db"))
    assert text.returncode == 0 and "Traceback" not in text.stderr, text.stderr
    assert not CONTROL.search(text.stdout.replace("\n", ""))

    for message in cot.got:  # every CoT message is XML (its text escaped)
        ET.fromstring(message)
    for topic, payload, _ in sub.got:
        if not topic.endswith("/status"):  # ("online" / "offline", the broker's will)
            strict_json(payload)
    assert not dashboard.errors, dashboard.errors
    assert dashboard.got and cot.got and sub.got
    for message in dashboard.got:
        strict_json(message)

    replayed = straja("replay", str(tmp_path / "run.rec"), "--db", str(tmp_path / "replay.db"),
                      "--cot", f"udp://127.0.0.1:{cot.port}")
    assert replayed.returncode == 0 and "Traceback" not in replayed.stderr, replayed.stderr[-3000:]
