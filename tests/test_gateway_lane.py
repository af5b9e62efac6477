"""The gateway's compiled quiet-sweep lane (straja._gateway_lane) against the Python path it
short-cuts (Pipeline._frame for every frame): the same events, commands and state on random
streams with emitters, several frames a chunk, duplicates, losses, other plans, restarts, a
node id on two ports, garbage and u64 node times."""
from __future__ import annotations

import random

import pytest

from straja import protocol
from straja._gateway_lane import DRIFT_ALLOWANCE, NODE_LIMIT_NS, ClockOffset, Heard
from straja.gateway import config
from straja.gateway.pipeline import Pipeline
from straja.gateway.record import T_NS_MAX
from straja.testing import synth

T0 = 1_700_000_000_000_000_000
BAND = (5_645_000, 5_945_000, 10_000)


class PythonPath:
    """A lane that takes nothing: every frame goes through Pipeline._frame."""
    detected = None

    def take(self, items, start, source, t_ns):
        return start


def hostile(chunks: list, rng: random.Random) -> list:
    """The chunks with a stream's faults mixed in, in arrival order."""
    out = []
    for c in chunks:
        roll = rng.random()
        if roll < 0.03:
            continue  # lost: a sequence gap
        if roll < 0.06:
            out.append(c)  # a duplicate
        elif roll < 0.08:
            other = protocol.Sweep(0, 0, 1, BAND[0], BAND[2] // 2, 500, 50_000, 0, 31, bytes(31))
            out.append(synth.Chunk(c.t_ns, c.source, protocol.encode_frame(
                protocol.Frame(0, 1 + rng.randrange(4), rng.randrange(65536),
                               rng.randrange(2**64) if rng.random() < 0.3 else 6_000_000,
                               other))))
        elif roll < 0.09:
            out.append(synth.Chunk(c.t_ns, c.source, bytes(rng.randrange(256)
                                                            for _ in range(40)) + b"\0"))
        elif roll < 0.10:
            out.append(synth.Chunk(c.t_ns, "/dev/other", c.data))  # its id on another port
        elif roll < 0.11:  # a restart: a STATUS of another boot
            status = protocol.Status(1, 2 + rng.randrange(3), 0, 1, 100_000, 50_000, 0, 0, 0, 0,
                                     "0.1.0")
            node_id = int(c.source[-1])
            out.append(synth.Chunk(c.t_ns, c.source, protocol.encode_frame(
                protocol.Frame(0, node_id, rng.randrange(65536), 1_000_000, status))))
        if out and out[-1].source == c.source and rng.random() < 0.3:
            out[-1] = synth.Chunk(c.t_ns, c.source, out[-1].data + c.data)  # one read, 2 frames
        else:
            out.append(c)
    return out


def state(p: Pipeline) -> tuple:
    return (sorted(p.counts.items()), sorted(p.source_node.items()),
            [(n, h.online, h.source, h.frames, h.last_seen_ns, h.clock.offset_ns, h.restarts)
             for n, h in sorted(p.nodes.items())],
            sorted(p.seq.lost_by_node.items()), p.seq.duplicates, p.seq.reordered,
            p.seq.restarts, [len(d._plans) for _, d in sorted(p.detectors.items())],
            [(node, front_end, [s.sweep_id for s in floor])
             for node, floors in sorted(p.profiler._floors.items())
             for front_end, floor in sorted(floors.items())])


def test_the_lane_gives_what_the_python_path_gives_on_hostile_streams():
    rng = random.Random(16)
    video = synth.Emitter(5_800_000, 20_000, lambda t: -85 + 2 * t if 1 < t < 6 else None)
    streams = [synth.node_chunks(n, [video] if n <= 2 else [], t0_ns=T0, duration_s=9,
                                 band=BAND, offset_ns=n * 1_000_000, seed=rng.randrange(99))
               for n in range(1, 5)]
    chunks = hostile(synth.merge(streams), rng)
    lane, python = Pipeline(config.GatewayConfig()), Pipeline(config.GatewayConfig())
    python._lane = PythonPath()
    in_python = []  # the frames the lane left to Pipeline._frame
    frame = lane._frame
    lane._frame = lambda *args: in_python.append(1) or frame(*args)
    taps = []
    for k, c in enumerate(chunks):
        if k == len(chunks) // 2:  # a dashboard's tap: its sweeps are not the lane's
            before_tap = len(in_python), lane.counts["frames"]
            for p in (lane, python):
                p.sweep_taps.append(lambda node_id, t_ns, sweep: taps.append(node_id))
        got, want = (p.feed(c.source, c.t_ns, c.data) for p in (lane, python))
        assert repr(got) == repr(want), f"chunk {k}"
    assert state(lane) == state(python)
    # most frames before the tap settled by the lane; alerts raised (what it hands back was
    # detected on)
    assert before_tap[1] > 150 and before_tap[0] < before_tap[1] / 2
    assert lane.alerts.raised


# a node's times: t_us below 2**T_US_BITS (both decoders refuse a later one); arrivals below
# T_NS_MAX (2**62 ns); the extremes of both, where ClockOffset's 64-bit sums come nearest 2**63
NODE_US_END = 2**protocol.T_US_BITS
assert NODE_LIMIT_NS == NODE_US_END * 1000 < 2**61


def test_clock_offset_follows_the_minimum_delay_with_any_node_time():
    """ClockOffset of any node time: up to the last µs a header can carry."""
    clock = ClockOffset()
    assert clock.offset_ns is None
    assert clock.update(5_000, 10_000) == 5_000
    assert clock.update(6_000, 11_500) == 5_000           # a later frame: never pulled up
    assert clock.update(7_000, 11_600) == 4_600           # an earlier one lowers it
    # it rises at most by the drift allowance of the time elapsed
    assert clock.update(7_000, 11_600 + 10**9) == 4_600 + int(10**9 * 200e-6)
    last = (NODE_US_END - 1) * 1000
    assert clock.update(last, T0) == T0 - last


class ReferenceClock:
    """ClockOffset in Python integers: its test oracle (the compiled one computes in 64-bit C
    integers)."""

    def __init__(self):
        self.offset_ns, self._last = None, 0

    def update(self, t_node_ns, arrival_ns):
        sample = arrival_ns - t_node_ns
        if self.offset_ns is None:
            self.offset_ns = sample
        else:
            allowed = self.offset_ns + int((arrival_ns - self._last) * DRIFT_ALLOWANCE)
            self.offset_ns = min(sample, allowed)
        self._last = arrival_ns
        return self.offset_ns


def test_clock_offset_is_its_python_reference_on_random_times():
    """Delays, drift both ways, gaps of any size, node times up to the last µs a header carries
    and arrivals from 0 to T_NS_MAX (either way round: offsets near +-2**62): every offset
    equal, as an int."""
    rng = random.Random(22)
    for case in range(300):
        clock, reference = ClockOffset(), ReferenceClock()
        t_node = rng.choice((0, 10**6, T0, NODE_LIMIT_NS - 2**60, NODE_LIMIT_NS - 10**15))
        arrival = rng.choice((0, 10**3, T0, T_NS_MAX - 2**61, T_NS_MAX - 10**15))
        for _ in range(40):
            gap = rng.choice((1, 10**3, 10**8, 10**9, 10**12, 2**54))
            delay = rng.randrange(-10**6, 10**7) + int(gap * rng.uniform(-5e-4, 5e-4))
            if t_node + gap >= NODE_LIMIT_NS or not 0 <= arrival + gap + delay < T_NS_MAX:
                break
            t_node += gap
            arrival += gap + delay
            got, want = clock.update(t_node, arrival), reference.update(t_node, arrival)
            assert type(got) is int and got == want, (case, t_node, arrival)


def test_a_frame_heard_by_its_us_is_heard_by_its_ns():
    """heard_us (the lane's: t_us * 1000 made in C) leaves what heard(t_us * 1000) leaves, on
    node times up to the last µs a header carries."""
    rng = random.Random(25)
    for case in range(200):
        by_us, by_ns = Heard(), Heard()
        t_us = rng.choice((0, 10**6, NODE_US_END - 2**50, NODE_US_END - 10**9))
        arrival = rng.choice((T0, T_NS_MAX - 2**61, 10**3))
        for _ in range(30):
            gap = rng.choice((1, 10**3, 10**6, 10**9, 2**44))
            if t_us + gap >= NODE_US_END:
                break
            t_us += gap
            arrival += gap * 1000 + rng.randrange(-10**6, 10**7)
            by_us.heard_us(t_us, arrival)
            by_ns.heard(t_us * 1000, arrival)
            got = (by_us.frames, by_us.last_seen_ns, by_us.clock.offset_ns)
            assert got == (by_ns.frames, by_ns.last_seen_ns, by_ns.clock.offset_ns), case
            assert type(got[2]) is int


def test_a_time_beyond_the_clock_range_is_refused_with_nothing_changed():
    """A node time from 2**T_US_BITS µs on, or an arrival from T_NS_MAX on (either sign), is
    refused, in ns or in µs, and the clock and the count keep what they had."""
    health = Heard()
    health.heard_us(10**6, T0)
    for t_node, arrival in ((NODE_LIMIT_NS, T0), (-NODE_LIMIT_NS, T0), (0, T_NS_MAX),
                            (0, -T_NS_MAX), (2**64, T0)):
        with pytest.raises(OverflowError):
            health.heard(t_node, arrival)
    for t_us in (NODE_US_END, -NODE_US_END, 2**64 - 1):
        with pytest.raises(OverflowError):
            health.heard_us(t_us, T0)
    assert (health.frames, health.clock.offset_ns) == (1, T0 - 10**9)
    last = Heard()
    last.heard_us(NODE_US_END - 1, T_NS_MAX - 1)  # (the last µs and ns inside)
    assert last.clock.offset_ns == T_NS_MAX - 1 - (NODE_US_END - 1) * 1000


def test_a_node_is_heard_by_one_method_and_its_clock_is_always_one():
    from straja.gateway.health import NodeHealth
    health = NodeHealth(3, 5)
    health.heard(1_000, 5_000)
    health.heard(2_000, 5_500)
    assert (health.frames, health.last_seen_ns, health.clock.offset_ns) == (2, 5_500, 3_500)
    with pytest.raises(TypeError):
        health.clock = None  # (the compiled path calls it without a check)
