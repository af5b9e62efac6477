"""The firmware frame encoder under the real MicroPython: no allocation in steady state, viper CRC
equal to the reference, write failures counted, node time kept in two small ints."""
import json

import pytest

from straja import protocol as P
from straja.mp import run_micropython
from straja.paths import FIRMWARE

PRELUDE = """
import gc, json, sys
from array import array
from straja_node.clock import Clock, Stamp
from straja_node.frame import FrameWriter, crc16

class Sink:
    def __init__(self):
        self.n = 0
    def write(self, buf, n):
        self.n += n
        return n

class Keep:
    def __init__(self):
        self.data = bytearray()
    def write(self, buf, n):
        self.data.extend(memoryview(buf)[:n])
        return n
"""


def run(body: str):
    out = run_micropython(PRELUDE + body, path=[FIRMWARE], heap="512K")
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_encoder_allocates_nothing_in_steady_state():
    got = run("""
from straja_node.cmdline import LineReader
sink = Sink()
w = FrameWriter(sink.write, Clock(), 3)
codes = bytearray(5000)
samples = array("H", range(1000))
version = "0.1.0"
text = "scan plan loaded"
reply = '{"pong": true}'
stamp = Stamp()
reader = LineReader()
partial = bytearray(b"12 pi")

def burst(k):
    for i in range(k):
        w.sweep(0, 0, i, 5645000, 10000, 1000, 64000, 0, 64, codes, 64)
        w.sweep(1, 1, i, 2400000, 333, 350, 1750000, 0, 5000, codes, 5000, stamp)
        w.envelope(2, 0, i, 100000, 5800000, -22000, 15000, samples, 1000)
        w.status(i, 1, 0, 1, 100000, 2000, 0, w.frames_dropped, 0xBEEF, 0, version)
        w.log(20, text)
        w.reply(i, 0, reply)
        reader.feed(partial, 5)  # bytes of a line that has not ended yet

def grown():
    burst(10)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()  # a local: storing a new global could grow the globals dict
    burst(1000)
    after = gc.mem_alloc()
    gc.enable()
    return after - before

print(json.dumps({"grown": grown(), "sent": w.frames_sent, "bytes": sink.n}))
""")
    assert got["grown"] == 0
    assert got["sent"] == 1010 * 8  # the 5000-channel sweep is 3 segments


def test_viper_crc_equals_reference():
    got = run("""
out = []
for n in (0, 1, 9, 255, 2046):
    buf = bytearray((i * 37 + n) & 0xFF for i in range(n))
    out.append(crc16(buf, n))
out.append(crc16(b"123456789", 9))
print(json.dumps(out))
""")
    want = [P.crc16(bytes((i * 37 + n) & 0xFF for i in range(n))) for n in (0, 1, 9, 255, 2046)]
    assert got == want + [0x29B1]


def test_failed_writes_are_counted_and_show_as_lost_frames():
    got = run("""
class Flaky:
    def __init__(self):
        self.k = 0
        self.data = bytearray()
    def write(self, buf, n):
        self.k += 1
        if self.k % 3 == 0:
            raise OSError(11)
        if self.k % 3 == 1:
            self.data.extend(memoryview(buf)[:n])
            return n
        self.data.extend(memoryview(buf)[:n // 2])
        return n // 2
f = Flaky()
w = FrameWriter(f.write, Clock(), 5)
for i in range(30):
    w.log(20, "line %d" % i)
print(json.dumps({"sent": w.frames_sent, "dropped": w.frames_dropped, "wire": f.data.hex()}))
""")
    assert (got["sent"], got["dropped"]) == (10, 20)
    dec = P.ReferenceDecoder()
    frames = dec.feed(bytes.fromhex(got["wire"]))
    assert [f.body.text for f in frames] == ["line %d" % i for i in range(0, 30, 3)]
    assert dec.lost == 18 and dec.corrupt == 9  # half-written frames (the last one never ends)


def test_clock_keeps_microseconds_in_two_small_ints():
    got = run("""
import time
c = Clock()
c.hi, c.lo = 7, (1 << 24) - 10
c.add_us(25)
buf = bytearray(10)
c.stamp(buf, 1)
first = c.us()
time.sleep_ms(20)
c.update()
print(json.dumps({"hi": c.hi, "lo": c.lo, "buf": buf.hex(), "first": first,
                  "moved": c.us() - first}))
""")
    assert (got["hi"], got["first"]) == (8, 8 * 2**24 + 15)
    assert bytes.fromhex(got["buf"]) == b"\0" + (8 * 2**24 + 15).to_bytes(8, "little") + b"\0"
    assert 15_000 <= got["moved"] < 2_000_000
    assert got["lo"] < 2**24


@pytest.mark.parametrize("n", [0, 2008, 2009, 4016, 4017])
def test_sweep_segments_cover_every_channel_once(n):
    got = run(f"""
k = Keep()
w = FrameWriter(k.write, Clock(), 1)
codes = bytearray((i % 251) + 1 for i in range({n}))
w.sweep(0, 0, 4, 1000, 10, 100, 100 * {n}, 0, {n}, codes, {n}, (0, 0))
print(json.dumps(k.data.hex()))
""")
    frames = P.ReferenceDecoder().feed(bytes.fromhex(got))
    assert b"".join(f.body.rssi for f in frames) == bytes((i % 251) + 1 for i in range(n))
    assert [f.body.first for f in frames] == list(range(0, max(n, 1), 2008))
    assert [f.t_us for f in frames] == [100 * f.body.first for f in frames]
    assert sum(f.body.duration_us for f in frames) == 100 * n
