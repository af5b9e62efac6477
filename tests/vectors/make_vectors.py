# Protocol v1 frame vectors, made by the REAL firmware encoder under MicroPython:
#
#     MICROPYPATH=firmware micropython tests/vectors/make_vectors.py > tests/vectors/frames.json
#
# Each case is one line of the output: its name, what it covers, the wire bytes (hex) of the
# frames the encoder wrote, and the fields a decoder must return for them, written from the
# case's inputs (not from decoding). tests/test_protocol_vectors.py regenerates this file and
# checks it equals the committed one, then decodes the wire bytes with both host decoders.
import json
from array import array
from binascii import hexlify

from straja_node.clock import Stamp
from straja_node.frame import FrameWriter
from straja_node.wire import FLAG_PAIRS, FLAG_REVISIT, MAX_SWEEP_CODES


class FixedClock(Stamp):
    """A clock that stays where the case puts it, so that the vectors are reproducible."""

    def update(self):
        pass


class Sink:
    def __init__(self):
        self.data = bytearray()

    def write(self, buf, n):
        self.data.extend(memoryview(buf)[:n])
        return n


def us(hi, lo):
    return (hi << 24) + lo


def hexs(b):
    return str(hexlify(b), "ascii")


class Case:
    def __init__(self, name, covers, node_id=1, seq=0, hi=0, lo=0):
        self.name = name
        self.covers = covers
        self.sink = Sink()
        self.clock = FixedClock()
        self.clock.hi = hi
        self.clock.lo = lo
        self.w = FrameWriter(self.sink.write, self.clock, node_id)
        self.w.seq = seq
        self.frames = []

    def expect(self, ftype, t_us, body):
        w = self.w
        self.frames.append({"type": ftype, "node_id": w.node_id,
                            "seq": (w.seq - 1) & 0xFFFF, "t_us": t_us, "body": body})

    def now(self):
        return us(self.clock.hi, self.clock.lo)

    def sweep(self, codes, hi, lo, sweep_id=7, flags=0, front_end=0, start=5645000, step=10000,
              dwell=1000, duration=None, first=0, total=None):
        # REVISIT: two codes per channel, n then n (the first reads then the second with
        # PAIRS, else the held codes then the first reads)
        pairs = 2 if flags & FLAG_REVISIT else 1
        n = len(codes) // pairs
        most = MAX_SWEEP_CODES // pairs
        total = n if total is None else total
        duration = dwell * n if duration is None else duration
        before = len(self.frames)
        self.w.sweep(front_end, flags, sweep_id, start, step, dwell, duration, first, total,
                     codes, n, (hi, lo))
        # segments: `most` channels each, duration // n us per channel
        per = duration // n if n else 0
        off = 0
        seq = (self.w.seq - 1 - (max(n - 1, 0) // most)) & 0xFFFF
        while True:
            k = min(n - off, most)
            rssi = codes[off:off + k] + (codes[n + off:n + off + k] if pairs == 2 else b"")
            self.frames.append({
                "type": 1, "node_id": self.w.node_id, "seq": seq, "t_us": us(hi, lo) + per * off,
                "body": {"front_end": front_end, "flags": flags, "sweep_id": sweep_id,
                         "start_khz": start, "step_khz": step, "dwell_us": dwell,
                         "duration_us": duration if k == n else per * k, "first": first + off,
                         "total": total, "rssi": hexs(rssi)}})
            seq = (seq + 1) & 0xFFFF
            off += k
            if off >= n:
                break
        assert len(self.frames) - before == max(1, (n + most - 1) // most)

    def envelope(self, samples, flags=0, block_id=3, rate=100000, centre=5800000,
                 slope=-22000, intercept=15000):
        self.w.envelope(2, flags, block_id, rate, centre, slope, intercept, samples, len(samples))
        self.expect(2, self.now(), {"front_end": 2, "flags": flags, "block_id": block_id,
                                    "rate_hz": rate, "centre_khz": centre, "slope_udb": slope,
                                    "intercept_mdbm": intercept, "samples": list(samples)})

    def status(self, version="0.1.0"):
        self.w.status(3600, 12, 2, 1, 180000, 42000, 5, 1, 0xBEEF, 2, version)
        self.expect(3, self.now(), {"uptime_s": 3600, "boot_count": 12, "reset_cause": 2,
                                    "mode": 1, "mem_free": 180000, "mem_alloc": 42000,
                                    "overruns": 5, "frames_dropped": 1, "config_hash": 0xBEEF,
                                    "commands_bad": 2, "version": version})

    def log(self, level, text, expect_text=None):
        self.w.log(level, text)
        if expect_text is None:
            expect_text = text if isinstance(text, str) else str(text, "utf-8")
        self.expect(4, self.now(), {"level": level, "text": expect_text})

    def reply(self, rid, status, text, expect_status=None, expect_text=None):
        self.w.reply(rid, status, text)
        if expect_text is None:
            expect_text = text if isinstance(text, str) else str(text, "utf-8")
        self.expect(5, self.now(), {"request_id": rid,
                                    "status": status if expect_status is None else expect_status,
                                    "text": expect_text})

    def remote_id(self, addr_type, rssi, address, data, hi, lo, off=0):
        """An advertisement kept at `off` in a ring-like buffer, as the receiver keeps it."""
        slot = bytearray(off + 8 + len(data))
        slot[off] = addr_type
        slot[off + 1] = rssi & 0xFF
        slot[off + 2:off + 8] = address
        slot[off + 8:] = data
        t = Stamp()
        t.hi = hi
        t.lo = lo
        self.w.remote_id(slot, off, len(data), t)
        self.expect(6, us(hi, lo), {"addr_type": addr_type, "rssi_dbm": rssi,
                                    "address": hexs(address), "data": hexs(data)})

    def dump(self):
        print(json.dumps({"name": self.name, "covers": self.covers,
                          "wire": hexs(self.sink.data), "frames": self.frames}))


def ramp(n, lo=1, hi=255):
    """n non-zero bytes cycling lo..hi."""
    b = bytearray(n)
    for i in range(n):
        b[i] = lo + i % (hi - lo + 1)
    return b


def runs():
    """Codes whose frame has runs of exactly 253, 254, 255 and 508 non-zero bytes between
    zeros: a COBS block one short of full, full, one past full, and two full blocks."""
    b = bytearray()
    for n in (253, 254, 255, 508):
        b.append(0)
        b.extend(ramp(n))
    b.append(0)
    return b


def main():
    c = Case("sweep_64", "a 64-channel RX5808-style sweep, one frame", hi=0, lo=1000)
    c.sweep(ramp(64, 40, 200), 0, 1000, flags=1)
    c.dump()

    c = Case("sweep_256", "a 256-channel CC2500-style sweep (the largest unsegmented)", node_id=513)
    c.sweep(ramp(256, 0, 255), 5, 77, front_end=1, start=2400000, step=333, dwell=350,
            duration=90000)
    c.dump()

    c = Case("sweep_segmented", "a 5000-channel sweep split into 3 segments by sweep()")
    c.sweep(ramp(5000), 1, 16777000, duration=5000000)
    c.dump()

    c = Case("sweep_max", "a sweep of MAX_SWEEP_CODES channels: a 2048-byte frame")
    c.sweep(ramp(MAX_SWEEP_CODES), 0, 0)
    c.dump()

    c = Case("sweep_revisit", "a 64-channel REVISIT sweep: held codes, then first reads")
    c.sweep(ramp(64, 40, 100) + ramp(64, 60, 200), 0, 2000, flags=FLAG_REVISIT | 1, front_end=1,
            start=2400000, step=1325, dwell=1400, duration=2 * 64 * 1400)
    c.dump()

    c = Case("sweep_revisit_segmented", "a 2500-channel REVISIT sweep in 3 segments of <= 1004")
    c.sweep(ramp(2500, 0, 120) + ramp(2500, 100, 255), 3, 4, flags=FLAG_REVISIT, duration=7000000)
    c.dump()

    c = Case("sweep_pairs", "a 64-channel REVISIT sweep with PAIRS: first reads, then second reads")
    first = ramp(64, 60, 200)
    c.sweep(first + bytearray(reversed(first)), 0, 3000, flags=FLAG_REVISIT | FLAG_PAIRS,
            front_end=1, start=2400000, step=1325, dwell=1400, duration=2 * 64 * 1400)
    c.dump()

    c = Case("sweep_empty", "a sweep with no channels")
    c.sweep(bytearray(0), 0, 5, total=0)
    c.dump()

    c = Case("sweep_cobs_runs", "runs of 253/254/255/508 non-zero bytes between zeros")
    c.sweep(runs(), 2, 3)
    c.dump()

    c = Case("sweep_zeros", "an all-zero sweep: one COBS block per byte", node_id=0)
    c.sweep(bytearray(300), 0, 9)
    c.dump()

    c = Case("sweep_no_zero_run", "a 2008-byte run of 0xFF codes: eight full COBS blocks")
    c.sweep(bytearray(b"\xff" * MAX_SWEEP_CODES), 3, 4)
    c.dump()

    c = Case("envelope", "an envelope block, negative slope", hi=2, lo=123456)
    c.envelope(array("H", [(i * 2654435761) & 0xFFFF for i in range(256)]), flags=2)
    c.dump()

    c = Case("envelope_max", "an envelope block of 1006 samples: a 2048-byte frame")
    c.envelope(array("H", [0xFFFF - i for i in range(1006)]), slope=21000, intercept=-89000)
    c.dump()

    c = Case("envelope_zeros", "an all-zero envelope block", hi=1)
    c.envelope(array("H", [0] * 200))
    c.dump()

    c = Case("status", "a STATUS frame", node_id=65535, hi=214, lo=9999)
    c.status()
    c.dump()

    c = Case("log", "LOG frames: ASCII, UTF-8, empty text, bytes", lo=500)
    c.log(20, "scan plan loaded: 3 front ends")
    c.log(30, "température élevée ✓")
    c.log(40, "")
    c.log(10, b"raw bytes text")
    c.dump()

    c = Case("log_cut", "a LOG text too long for a frame is cut at a character boundary")
    c.log(20, "é" * 1100, "é" * 1015)
    c.dump()

    c = Case("reply", "REPLY frames: OK with JSON, an error, empty text", lo=70)
    c.reply(1, 0, '{"pong": true, "t_us": 70}')
    c.reply(65535, 1, b'{"error": "no such command"}')
    c.reply(2, 0, "")
    c.dump()

    c = Case("reply_too_long", "a reply whose JSON does not fit becomes FAILED")
    c.reply(9, 0, '{"x": "' + "a" * 2030 + '"}', 5, '{"error": "reply too long"}')
    c.dump()

    c = Case("remote_id", "REMOTEID frames: a Location message, a Basic ID at a ring offset, no data",
             lo=10)
    location = bytearray(b"\xfa\xff\x0d\x07\x12\x20\x5a\x40\xf6\xff\x30\x1b\x2b\x1c"
                         b"\x10\x8e\x8d\x0f\x14\x09\x0c\x09\x2a\x0c\x44\x34\xb8\x0b\x00")
    c.remote_id(1, -67, b"\xc0\x11\x22\x33\x44\x55", location, 3, 123456)
    basic = bytearray(b"\xfa\xff\x0d\x00\x02\x12") + b"1596F35A7B3C4D" + bytearray(9)
    c.remote_id(0, -100, b"\x00\x00\x00\x00\x00\x00", basic, 3, 123999, off=37)
    c.remote_id(2, 0, b"\xff\xff\xff\xff\xff\xff", bytearray(0), 4, 0)
    c.dump()

    c = Case("seq_wrap", "seq 65534, 65535, 0, 1 across the wrap", seq=65534, lo=1)
    for i in range(4):
        c.log(20, "tick %d" % i)
    c.dump()

    c = Case("big_time", "t_us above 2**32, the largest a frame may carry (2**T_US_BITS - 1): "
             "hi and lo both all ones", hi=(1 << 27) - 1, lo=(1 << 24) - 1)
    c.status("1.2.3-rc1")
    c.sweep(ramp(16), (1 << 26) + 5, 12345)
    c.dump()


main()
