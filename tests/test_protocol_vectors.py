"""Protocol v1 shared vectors: made by the real firmware encoder under MicroPython, decoded by both
host decoders; command lines formatted by the host and parsed by the real node parser."""
import binascii
import json
from pathlib import Path

import pytest

from straja import protocol as P
from straja.framing import Decoder
from straja.mp import run_micropython
from straja.paths import FIRMWARE

VECTORS = Path(__file__).parent / "vectors"
DECODERS = {"reference": P.ReferenceDecoder, "compiled": Decoder}


def load_frames():
    return [json.loads(line) for line in (VECTORS / "frames.json").read_text().splitlines()]


def expand(v):
    """commands.json writes long strings as lists of parts: strings and [text, count]."""
    if isinstance(v, str) or v is None:
        return v
    return "".join(p if isinstance(p, str) else p[0] * p[1] for p in v)


@pytest.fixture(scope="module")
def command_results():
    out = run_micropython(VECTORS / "check_commands.py", args=[str(VECTORS / "commands.json")],
                          path=[FIRMWARE])
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def commands():
    return json.loads((VECTORS / "commands.json").read_text())


def test_committed_vectors_are_what_the_firmware_encoder_makes():
    out = run_micropython(VECTORS / "make_vectors.py", path=[FIRMWARE])
    fresh = [json.loads(line) for line in out.stdout.splitlines()]
    committed = load_frames()
    assert [c["name"] for c in fresh] == [c["name"] for c in committed]
    for new, old in zip(fresh, committed):
        assert new == old, f"encoder output changed for vector {new['name']}"


@pytest.mark.parametrize("kind", DECODERS)
@pytest.mark.parametrize("chunk", [None, 1, 7, 300])
def test_both_decoders_return_the_vector_fields(kind, chunk):
    for case in load_frames():
        wire = bytes.fromhex(case["wire"])
        dec = DECODERS[kind]()
        step = chunk or len(wire)
        events = [e for i in range(0, len(wire), step) for e in dec.feed(wire[i:i + step])]
        assert [P.frame_to_json(e) for e in events] == case["frames"], case["name"]
        assert (dec.frames, dec.corrupt, dec.oversize, dec.lost, dec.duplicates) == (
            len(case["frames"]), 0, 0, 0, 0)


@pytest.mark.parametrize("kind", DECODERS)
def test_revisit_layouts_give_held_first_and_second_reads(kind):
    """PAIRS: first reads then second reads, held their minimum; REVISIT alone (older
    firmware): held codes then first reads, no second reads."""
    cases = {c["name"]: bytes.fromhex(c["wire"]) for c in load_frames()}
    pairs, = [f.body for f in DECODERS[kind]().feed(cases["sweep_pairs"])]
    first, second = pairs.rssi[:64], pairs.rssi[64:]
    assert first != second and pairs.n_channels == 64
    assert bytes(pairs.single()) == first and bytes(pairs.second()) == second
    assert list(pairs.held()) == [min(a, b) for a, b in zip(first, second)]
    older, = [f.body for f in DECODERS[kind]().feed(cases["sweep_revisit"])]
    assert not older.flags & P.FLAG_PAIRS and older.second() is None
    assert (bytes(older.held()), bytes(older.single())) == (older.rssi[:64], older.rssi[64:])


def test_host_encoder_makes_the_firmware_bytes():
    for case in load_frames():
        frames = P.ReferenceDecoder().feed(bytes.fromhex(case["wire"]))
        assert b"".join(P.encode_frame(f) for f in frames).hex() == case["wire"], case["name"]


def test_vectors_cover_the_cobs_block_edges():
    """A decoded run of 254 non-zero bytes is one 0xFF block; the runs case has all three."""
    wire = {c["name"]: bytes.fromhex(c["wire"]) for c in load_frames()}
    runs = P.cobs_decode(wire["sweep_cobs_runs"][1:-1])
    lengths = {len(r) for r in runs.split(b"\0")}
    assert {253, 254, 255, 508} <= lengths
    for name in ("sweep_max", "envelope_max"):
        assert len(P.cobs_decode(wire[name][1:-1])) == P.MAX_FRAME
        assert len(wire[name]) <= P.MAX_WIRE


def test_crc16_check_value_and_stdlib_agree():
    assert P.crc16(b"123456789") == 0x29B1
    data = bytes(range(256)) * 3
    assert P.crc16(data) == binascii.crc_hqx(data, 0xFFFF)


def test_cobs_round_trip_and_invalid_input():
    for data in [b"", b"\0", b"\0\0", b"\x11" * 254, b"\x11" * 255, b"\x11" * 254 + b"\0",
                 bytes(range(256)) * 3]:
        enc = P.cobs_encode(data)
        assert 0 not in enc and P.cobs_decode(enc) == data
        assert len(enc) <= len(data) + 1 + len(data) // 254
    assert P.cobs_decode(b"\x05ab") is None
    assert P.cobs_decode(b"\x01\x00") is None


def test_decode_frame_refuses_damage():
    raw = P.frame_bytes(P.Frame(P.LOG, 3, 9, 100, P.Log(20, "hi")))
    assert P.decode_frame(raw).body == P.Log(20, "hi")
    for bad in [raw[:-1] + bytes([raw[-1] ^ 1]), raw[:15], b"\x02" + raw[1:]]:
        with pytest.raises(P.FrameError):
            P.decode_frame(bad)
    short_sweep = P.HEADER_FMT.pack(1, P.SWEEP, 0, 0, 0) + b"\0" * 23
    with pytest.raises(P.FrameError, match="does not fit"):
        P.decode_frame(short_sweep + P.crc16(short_sweep).to_bytes(2, "big"))


def test_units():
    assert P.rssi_code_to_dbm(0) == -140.0
    assert P.rssi_code_to_dbm(255) == -12.5
    codes = list(range(256))
    assert list(P.dbm_to_rssi_code(P.rssi_code_to_dbm(codes))) == codes
    assert list(P.dbm_to_rssi_code([-200.0, 0.0])) == [0, 255]
    assert P.envelope_code_to_dbm(1000, -22000, 15000) == pytest.approx(15.0 - 22.0)
    sweep = P.Sweep(0, 0, 0, 5645000, 10000, 1000, 2000, 4, 8, bytes([0, 40]))
    assert list(sweep.dbm()) == [-140.0, -120.0] and sweep.codes().dtype == "uint8"
    assert list(sweep.freqs_khz()) == [5685000, 5695000]


def test_node_parser_returns_the_vector_results(commands, command_results):
    for case, got in zip(commands["lines"], command_results["lines"]):
        want = [[i, v, expand(a) if isinstance(a, list) else a] for i, v, a in case["expect"]]
        assert got == want, case["name"]


def test_host_format_and_node_parser_agree(commands, command_results):
    parsed = iter(command_results["format"])
    for case in commands["format"]:
        rid, verb, args = case["args"]
        line = expand(case["line"])
        if line is None:
            with pytest.raises(ValueError):
                P.format_command(rid, verb, expand(args))
            continue
        assert P.format_command(rid, verb, expand(args)).decode() == line
        assert next(parsed) == [[rid, verb, expand(args) or ""]]


def test_reply_result():
    assert P.Reply(1, P.OK, '{"pong": true}').result() == {"pong": True}
    with pytest.raises(P.CommandError, match="BAD_ARG: step_khz"):
        P.Reply(2, P.BAD_ARG, '{"error": "step_khz"}').result()
    assert P.parse_reply_json("not json") == {"error": "not json"}
