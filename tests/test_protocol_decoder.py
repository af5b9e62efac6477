"""The stream decoders' rules (docs/protocol.md, Framing and Header), on hand-made streams, for
the reference and the compiled decoder alike."""
from array import array

import pytest

from straja import protocol as P
from straja.framing import Decoder

DECODERS = [P.ReferenceDecoder, Decoder]


def log(seq, node=1, t_us=None, text="x"):
    return P.Frame(P.LOG, node, seq, seq * 10 if t_us is None else t_us, P.Log(20, text))


def status(seq, boot, t_us, node=1):
    return P.Frame(P.STATUS, node, seq, t_us, P.Status(1, boot, 0, 1, 2, 3, 4, 5, 6, 7, "0.1.0"))


def wire(*frames):
    return b"".join(P.encode_frame(f) for f in frames)


@pytest.fixture(params=DECODERS, ids=["reference", "compiled"])
def dec(request):
    return request.param()


def frames_of(events):
    return [e for e in events if isinstance(e, P.Frame)]


def test_every_body_type_round_trips(dec):
    frames = [
        P.Frame(P.SWEEP, 9, 0, 2**40, P.Sweep(1, 3, 65535, 5645000, 10000, 400, 26000, 64, 128,
                                              bytes(range(64)))),
        P.Frame(P.ENVELOPE, 9, 1, 5, P.Envelope(0, 0, 2, 2**32 - 1, 0, -2**31, 2**31 - 1,
                                                array("H", [0, 1, 65535]))),
        status(2, 7, 99, node=9),
        P.Frame(P.LOG, 9, 3, 6, P.Log(40, "Traceback ✗")),
        P.Frame(P.REPLY, 9, 4, 7, P.Reply(65535, P.FAILED, '{"error": "flash"}')),
        P.Frame(0x7E, 9, 5, 8, b"future body"),
    ]
    assert dec.feed(wire(*frames)) == frames
    assert (dec.frames, dec.unknown, dec.corrupt) == (5, 1, 0)


def test_empty_chunks_are_ignored_and_console_text_is_reported(dec):
    text = b"Traceback (most recent call last):\r\n  File \"main.py\", line 3\r\n\tOSError: 5\n"
    events = dec.feed(b"\0\0\0" + text + wire(log(1)) + b">>> ")
    assert events == [P.Console(text.decode()), log(1)]
    assert dec.feed(b"\0") == [P.Console(">>> ")]
    assert (dec.console_bytes, dec.console_lines, dec.corrupt) == (len(text) + 4, 3, 0)


def test_oversize_run_is_counted_once_and_the_next_frame_survives(dec):
    for seq, run in enumerate((P.MAX_ENCODED + 1, 5000)):
        assert dec.feed(b"x" * run + wire(log(seq))) == [log(seq)]
    assert dec.feed(b"\x11" * P.MAX_ENCODED + wire(log(2))) == [log(2)]  # 2057: corrupt only
    assert (dec.oversize, dec.corrupt) == (2, 1)


@pytest.mark.parametrize("damage", ["crc", "version", "short", "cobs", "sweep_body", "odd_envelope"])
def test_damaged_frames_are_corrupt(dec, damage):
    raw = bytearray(P.frame_bytes(log(1)))
    if damage == "crc":
        raw[-1] ^= 0x40
    elif damage == "version":
        raw[0] = 2
        raw[-2:] = P.crc16(raw[:-2]).to_bytes(2, "big")
    elif damage == "short":
        raw = raw[:15]
    elif damage in ("sweep_body", "odd_envelope"):
        raw[1] = P.SWEEP if damage == "sweep_body" else P.ENVELOPE
        raw[-2:] = P.crc16(raw[:-2]).to_bytes(2, "big")
    chunk = P.cobs_encode(bytes(raw))
    if damage == "cobs":
        chunk = bytes([len(chunk) + 3]) + chunk[1:]
    assert dec.feed(b"\0" + chunk + b"\0" + wire(log(2))) == [log(2)]
    assert (dec.corrupt, dec.frames) == (1, 1)


def test_seq_gaps_wrap_duplicates_and_reordering(dec):
    frames = [log(65533), log(65534), log(0), log(0), log(4), log(2), log(5)]
    got = frames_of(dec.feed(wire(*frames)))
    assert got == [log(65533), log(65534), log(0), log(4), log(2), log(5)]
    assert (dec.lost, dec.duplicates, dec.reordered) == (1 + 3, 1, 1)
    assert dec.lost_by_node == {1: 4}


def test_seq_is_per_node(dec):
    dec.feed(wire(log(10, node=1), log(500, node=2), log(11, node=1), log(505, node=2)))
    assert dec.lost_by_node == {2: 4}


def test_restart_is_detected_from_status(dec):
    stream = [status(40000, 3, 10**9), log(40001), status(0, 4, 1000), log(1),
              status(2, 4, 2000), log(3), status(0, 4, 500), log(1)]
    got = frames_of(dec.feed(wire(*stream)))
    assert got == stream
    assert (dec.restarts, dec.lost, dec.reordered, dec.duplicates) == (2, 0, 0, 0)


def test_bytes_like_inputs(dec):
    data = wire(log(1), log(2))
    events = dec.feed(bytearray(data[:10])) + dec.feed(memoryview(data)[10:]) + dec.feed(b"")
    assert events == [log(1), log(2)]
    assert dec.bytes_in == len(data)


def test_framing_without_the_compiled_module_says_to_run_make(monkeypatch):
    import importlib
    import sys

    import straja.framing

    monkeypatch.setitem(sys.modules, "straja._framing", None)  # as if never built
    with pytest.raises(ImportError, match="run `make`"):
        importlib.reload(straja.framing)
    monkeypatch.undo()
    assert importlib.reload(straja.framing).Decoder is Decoder


def sweep(seq, codes):
    return P.Frame(P.SWEEP, 3, seq, 1000 + seq, P.Sweep(0, 0, seq, 5645000, 500, 300, 9000, 0,
                                                        len(codes), codes))


@pytest.mark.parametrize("zero_every", [0, 1, 7, 16, 17, 200, 254, 255])
def test_every_cobs_block_length_decodes_in_place_and_across_reads(zero_every):
    """The compiled COBS decoding copies blocks in 16-byte pieces, the last reaching past its
    block but never past the frame (a frame's last block a byte at a time): frames whose blocks
    end at every offset, as the reference decodes them, whole in one read (decoded in place)
    and cut into 64-byte reads (gathered first)."""
    frames = []
    for n in range(0, 530):
        codes = bytes(0 if zero_every and i % zero_every == zero_every - 1 else 1 + i % 255
                      for i in range(n))
        frames.append(sweep(n, codes))
    stream = wire(*frames)
    for read in (len(stream), 64, 1):
        ours, ref = Decoder(), P.ReferenceDecoder()
        got = [e for i in range(0, len(stream), read) for e in ours.feed(stream[i:i + read])]
        assert got == frames == ref.feed(stream), read
        assert ours.corrupt == 0


def test_decoded_frames_of_plain_values_are_not_tracked_by_the_cycle_collector():
    """A SWEEP's, an ENVELOPE's and a STATUS's frame and body hold only ints, bytes, str and
    arrays: untracked, as CPython's tuples of such values; a body the decoder makes by its
    class's call (a LOG) is tracked, and so is its frame. Both stay ordinary objects."""
    import gc
    frames = [sweep(0, bytes(64)),
              P.Frame(P.ENVELOPE, 3, 1, 5, P.Envelope(0, 0, 2, 9, 0, -5, 5, array("H", [1, 2]))),
              status(2, 7, 99, node=3), log(3, node=3)]
    got = Decoder().feed(wire(*frames))
    assert got == frames
    assert [gc.is_tracked(f) or gc.is_tracked(f.body) for f in got] == [False, False, False, True]
    got[0].body.flags = 5  # still a dataclass like any other
    assert got[0].body == P.Sweep(0, 5, 0, 5645000, 500, 300, 9000, 0, 64, bytes(64))
