"""Mutated streams (hypothesis): both decoders never raise, agree exactly (events and counters),
recover every frame a mutation did not touch, and count the losses."""
from array import array

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from straja import protocol as P
from straja.framing import Decoder

NODES = (17, 4242)
SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

u8, u16, u32 = st.integers(0, 255), st.integers(0, 65535), st.integers(0, 2**32 - 1)
i32 = st.integers(-2**31, 2**31 - 1)
text = st.text(max_size=40)
BODIES = st.one_of(
    st.builds(P.Sweep, u8, u8, u16, u32, u32, u32, u32, u16, u16,
              st.one_of(st.binary(max_size=300), st.binary(min_size=2008, max_size=2008))),
    st.builds(P.Envelope, u8, u8, u16, u32, u32, i32, i32,
              st.lists(u16, max_size=80).map(lambda v: array("H", v))),
    st.builds(P.Log, u8, text),
    st.builds(P.Reply, u16, u8, text),
    st.binary(max_size=30),  # a frame type this receiver does not know
)


@st.composite
def node_stream(draw, node):
    """Frames of one node: consecutive seq (wrapping), rising t_us, one boot."""
    seq0 = draw(u16)
    t0 = draw(st.integers(0, 2**50))
    boot = draw(u16)
    frames = []
    for i, body in enumerate(draw(st.lists(st.one_of(BODIES, st.just("status")), max_size=12))):
        if body == "status":
            body = P.Status(i, boot, 0, 1, 1000, 2000, 0, 0, 0, 0, "0.1.0")
        ftype = 0x60 if isinstance(body, bytes) else P.body_bytes(body)[0]
        frames.append(P.Frame(ftype, node, (seq0 + i) & 0xFFFF, t0 + 1000 * i, body))
    return frames


class Segment:
    """A piece of the stream: one frame's wire bytes (frame is the original) or inserted bytes."""

    def __init__(self, data, frame=None):
        self.data = bytearray(data)
        self.frame = frame
        self.intact = True


def interleave(data, a, b):
    """Merge two streams, keeping each one's order."""
    picks = data.draw(st.lists(st.booleans(), min_size=len(a) + len(b), max_size=len(a) + len(b)))
    out, a, b = [], list(a), list(b)
    for take_a in picks:
        out.append((a if (take_a and a) or not b else b).pop(0))
    return out


def mutate(data, segs):
    """Apply random mutations; return whether any inserted bytes may form console text."""
    frames = [s for s in segs if s.frame is not None]
    for s in data.draw(st.lists(st.sampled_from(frames), max_size=3)) if frames else []:
        segs.insert(segs.index(s) + 1, Segment(s.data, s.frame))  # duplicated frame
    clean = True
    for _ in range(data.draw(st.integers(0, 4))):
        op = data.draw(st.sampled_from(["flip", "drop", "inside", "garbage", "console"]))
        if op in ("garbage", "console"):
            at = data.draw(st.integers(0, len(segs)))
            junk = (data.draw(st.binary(min_size=1, max_size=3000)) if op == "garbage" else
                    data.draw(st.text("abc XYZ:.\r\n\t", min_size=1, max_size=200)).encode())
            segs.insert(at, Segment(junk))
            clean = clean and op == "console"
            continue
        targets = [s for s in segs if s.frame is not None and s.intact]  # two flips could undo
        if not targets:
            continue
        s = data.draw(st.sampled_from(targets))
        # inside the COBS bytes (an insertion right after the leading 0x00 could leave it whole)
        pos = data.draw(st.integers(1 if op != "inside" else 2, len(s.data) - 2))
        if op == "flip":
            s.data[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "drop":
            del s.data[pos]
        else:
            s.data[pos:pos] = data.draw(st.binary(min_size=1, max_size=20))
        s.intact = False
        clean = False
    return clean


def feed_in_chunks(data, decoder, stream):
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    events, start = [], 0
    for cut in cuts + [len(stream)]:
        events += decoder.feed(stream[start:cut])
        start = cut
    return events


@SETTINGS
@given(st.data())
def test_mutated_streams(data):
    originals = {n: data.draw(node_stream(n)) for n in NODES}
    order = interleave(data, *originals.values())
    segs = [Segment(P.encode_frame(f), f) for f in order]
    clean = mutate(data, segs)
    stream = b"".join(bytes(s.data) for s in segs)
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(stream))))
    if cut is not None:  # truncation: a frame cut before its trailing 0x00 is touched
        end = 0
        for s in segs:
            end += len(s.data)
            s.intact = s.intact and end - 1 <= cut  # the flush below ends it as its 0x00 would
        stream = stream[:cut]
    stream += b"\0"  # a lone delimiter flushes whatever the receiver holds

    ref, fast = P.ReferenceDecoder(), Decoder()
    events = feed_in_chunks(data, ref, stream)
    assert feed_in_chunks(data, fast, stream) == events
    assert P.counters(fast) == P.counters(ref)

    got = [e for e in events if isinstance(e, P.Frame)]
    for node, frames in originals.items():
        mine = [f for f in got if f.node_id == node]
        index = [frames.index(f) for f in mine]  # raises if a frame was made up
        assert index == sorted(set(index)), "frames out of order or duplicated"
        intact = [frames.index(s.frame) for s in segs
                  if s.intact and s.frame is not None and s.frame.node_id == node]
        assert set(intact) <= set(index), "a frame no mutation touched was lost"
        lost = index[-1] - index[0] + 1 - len(index) if index else 0
        assert ref.lost_by_node.get(node, 0) == lost
    copies = {}
    for s in segs:
        if s.intact and s.frame is not None:
            copies[id(s.frame)] = copies.get(id(s.frame), 0) + 1
    assert ref.duplicates == sum(k - 1 for k in copies.values())
    assert ref.unknown == sum(isinstance(f.body, bytes) for f in got)
    assert (ref.reordered, ref.restarts) == (0, 0)
    if clean and cut is None:
        console = "".join(e.text for e in events if isinstance(e, P.Console))
        inserted = "".join(s.data.decode() for s in segs if s.frame is None)
        assert console == inserted
        assert ref.console_lines == inserted.count("\n") and ref.corrupt == 0


@SETTINGS
@given(st.binary(max_size=5000), st.lists(st.integers(0, 5000), max_size=6))
def test_arbitrary_bytes_never_raise_and_decoders_agree(blob, cuts):
    ref, fast = P.ReferenceDecoder(), Decoder()
    start = 0
    for cut in sorted(c for c in cuts if c <= len(blob)) + [len(blob)]:
        assert fast.feed(blob[start:cut]) == ref.feed(blob[start:cut])
        start = cut
    assert P.counters(fast) == P.counters(ref)


def test_frames_past_the_fields_limits_are_corrupt_in_both_decoders():
    """A t_us of 2**T_US_BITS or more and a REMOTEID with more service data than an AD
    structure holds are frames no node sends: counted corrupt, the frames at the limit read."""
    rid = b"\xfa\xff\x0d" + bytes(P.REMOTEID_DATA_MAX - 3)
    status = P.Status(1, 1, 0, 1, 1000, 2000, 0, 0, 0, 0, "0.1.0")
    frames = [P.Frame(0, 9, 1, (1 << P.T_US_BITS) - 1, status),
              P.Frame(0, 9, 2, 1 << P.T_US_BITS, status),
              P.Frame(0, 9, 3, 2**64 - 1, status),
              P.Frame(0, 9, 4, 5, P.RemoteId(0, -60, bytes(6), rid)),
              P.Frame(0, 9, 5, 5, P.RemoteId(0, -60, bytes(6), rid + b"\0"))]
    stream = b"".join(P.encode_frame(f) for f in frames)
    for decoder in (P.ReferenceDecoder(), Decoder()):
        assert [(f.seq, f.t_us) for f in decoder.feed(stream)] == [(1, frames[0].t_us), (4, 5)]
        assert decoder.corrupt == 3
