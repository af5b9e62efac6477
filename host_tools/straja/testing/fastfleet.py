"""Every node of a scene scanned by the evaluation's fast path (straja.eval.readings) and streamed
into one gateway pipeline in virtual time, with the nodes answering the gateway's commands: the
`info` and `get plan` of its hello, and the `plan` commands of adaptive scanning, which change
what a node scans from its next sweep on. So the gateway runs as it does by default (adaptive
scanning on) over many minutes of a scene in seconds, without MicroPython.

A node's stored plan is [] (the firmware's default plan: here the evaluation's plan, EVAL_PLAN,
or the one given);
a plan command takes effect when the sweep under way ends (the generator switches between
sweeps), which is within one sweep of what the firmware does. A node also sends the REMOTEID
frames of the Remote ID advertisements it hears (what the virtual board's Bluetooth radio,
straja.sim.remoteid.NodeBluetooth, gives the firmware), at the time it hears them.
"""
from __future__ import annotations

import heapq
import json

from ..eval.readings import EVAL_PLAN, NodeReader, wire_chunks
from ..gateway.events import NodeCommand
from ..protocol import OK, REMOTEID, Frame, RemoteId, Reply, encode_frame
from ..sim.remoteid import NodeBluetooth

REPLY_DELAY_NS = 2_000_000  # a command's reply arrives this long after it was sent
REMOTEID_SEQ = 0xC000  # REMOTEID frames' sequence numbers, apart from sweeps' and replies'


class FastNode:
    def __init__(self, scene, name: str, node_id: int, t_end_s: float, default_plan: list):
        self.name, self.node_id, self.t_end_s = name, node_id, t_end_s
        self.port = f"fast/{name}"
        self.reader = NodeReader(scene, name, seed=node_id)
        self.stored_plan: list = []
        self.default_plan = default_plan
        self.plan = list(default_plan)
        self.pending: list | None = None
        self.plans_received = 0
        self.seq = 0x8000  # replies' sequence numbers, apart from the sweeps' (wire_chunks)

    def readings(self):
        t = 0.0
        while t < self.t_end_s:
            for r in self.reader.sweeps(self.plan, t, self.t_end_s):
                yield r
                if self.pending is not None:
                    self.plan, self.pending = self.pending, None
                    t = max((r.t_us + r.duration_us) / 1e6, self.reader.board.times[0])
                    break
            else:
                return

    def info(self) -> dict:
        return {"node_id": self.node_id, "plan": self.plan, "temp_plan_s": 0,
                "front_ends": [{"name": fe.name, "kind": fe.kind, "band_khz": list(fe.band_khz),
                                "settle_us": getattr(fe, "settle_us", 0),
                                "filter_khz": getattr(fe, "filter_khz", 0)}
                               for fe in self.reader.board.front_ends
                               if any(e["front_end"] == fe.name for e in self.default_plan)]}

    def command(self, verb: str, args: str | None, t_ns: int) -> bytes | None:
        """The wire bytes of the node's reply to a command (None: no reply needed here)."""
        if verb == "info":
            value = self.info()
        elif verb == "get" and args == "plan":
            value = {"plan": self.stored_plan, "temp_plan_s": 0}
        elif verb == "plan":
            plan = json.loads(args.split(" temp=")[0])
            self.pending = plan or list(self.default_plan)
            self.plans_received += 1
            value = "ok"
        else:
            return None
        self.seq += 1
        return encode_frame(Frame(0, self.node_id, self.seq & 0xFFFF, t_ns // 1000,
                                  Reply(self.seq, OK, json.dumps(value))))


def remote_id_chunks(scene, node: FastNode):
    """The node's REMOTEID frames, as (arrival ns, wire bytes), in time order."""
    heard = NodeBluetooth(scene, node.name).advertisements(0.0, node.t_end_s)
    for k, (t, addr_type, rssi, address, advertising) in enumerate(heard):
        body = RemoteId(addr_type, rssi, address, advertising[2:])  # without length and AD type
        yield int(t * 1e9), encode_frame(Frame(REMOTEID, node.node_id, (REMOTEID_SEQ + k) & 0xFFFF,
                                               int(t * 1e6), body))


def plan_of(front_ends, **changes) -> list:
    """The evaluation's plan entries of `front_ends` (names of the board's), with `changes`."""
    return [{**e, **changes} for e in EVAL_PLAN if e["front_end"] in front_ends]


def run(scene, pipeline, t_end_s: float, default_plan: list = EVAL_PLAN) -> list:
    """Stream `scene`'s nodes, running `default_plan` (the firmware's default plan here) until
    the gateway sends another, from t = 0 to t_end_s through `pipeline`; its events, with a
    final tick late enough to end every track still open."""
    nodes = [FastNode(scene, name, k + 1, t_end_s, list(default_plan))
             for k, name in enumerate(scene.nodes)]
    by_port = {node.port: node for node in nodes}
    streams = [wire_chunks(node.node_id, node.readings()) for node in nodes] + \
        [remote_id_chunks(scene, node) for node in nodes]
    ports = [node.port for node in nodes] * 2
    heap = []  # (arrival ns, stream index or -1 for a reply, (port, wire))
    events = []

    def take(out, t_ns):
        nonlocal events
        events += out.events
        for c in out.commands:
            node = by_port.get(c.port)
            wire = node and isinstance(c, NodeCommand) and node.command(c.verb, c.args, t_ns)
            if wire:
                heapq.heappush(heap, (t_ns + REPLY_DELAY_NS, -1, (c.port, wire)))

    for node in nodes:
        take(pipeline.open_source(node.port, 0), 0)
    heap += [(0, k, None) for k in range(len(streams))]
    heapq.heapify(heap)
    while heap:
        t_ns, k, item = heapq.heappop(heap)
        if item is not None:
            take(pipeline.feed(item[0], t_ns, item[1]), t_ns)
        if k >= 0:
            chunk = next(streams[k], None)
            if chunk is not None:
                heapq.heappush(heap, (chunk[0], k, (ports[k], chunk[1])))
    fusion = pipeline.cfg.fusion
    t_last = int((t_end_s + fusion.track_timeout_s + fusion.confirm_wait_s) * 1e9)
    take(pipeline.tick(t_last), t_last)
    return events
