"""The decoder against another implementation: opendroneid-core-c's encoder made each edge case
(tests/vectors/remoteid/opendroneid_vectors.c, `edges`: rounding and truncation of every scaled
field, the ends of every range and enum and their reserved values, the "unknown" markers, binary
IDs, full-length texts, authentication pages with additional data, values only a sender bypassing
the encoder makes, message packs valid and invalid), and its decoder said what each holds. Ours
must say the same, field by field, through `straja remoteid decode --json` as a conformance run
calls it, given bare and in a Bluetooth advertisement, and through the node's receiver (the
firmware under MicroPython) and the REMOTEID frame the gateway reads; where the C library gives a
marker (361 degrees, 255 m/s, 63 m/s, -1000 m, 0xFFFF tenths, 0, 0 for a position) or a value
outside the standard's range, ours gives null (docs/remoteid.md); a pack its decoder refuses,
ours refuses with the reason."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from straja import protocol as P
from straja.framing import Decoder
from straja.mp import run_micropython
from straja.paths import FIRMWARE, REPO
from straja.remoteid import AuthPages, RemoteIdError, decode_message, decode_payload

CASES = json.loads((Path(__file__).parent / "vectors/remoteid/opendroneid_edges.json").read_text())
STRAJA = str(Path(sys.executable).with_name("straja"))
ALTITUDES = {"altitude_baro", "altitude_geo", "height", "area_ceiling", "area_floor",
             "operator_altitude_geo"}
POSITIONS = (("latitude", "longitude"), ("operator_latitude", "operator_longitude"))


def expected(c: dict) -> dict:
    """The C decoder's fields as our JSON gives them: its unknown markers as null."""
    out = dict(c)
    for key, value in c.items():
        if (key in ALTITUDES and value == -1000 or key == "direction" and value > 360
                or key == "speed_horizontal" and value == 255
                or key == "speed_vertical" and abs(value) > 62
                or key == "timestamp" and (value == 0xFFFF or value > 3600)):
            out[key] = None
    for lat, lon in POSITIONS:
        if (c.get(lat) == 0 and c.get(lon) == 0 or abs(c.get(lat, 0)) > 90
                or abs(c.get(lon, 0)) > 180):
            out[lat] = out[lon] = None
    return out


def bluetooth(payload_hex: str) -> str:
    """The payload in an advertisement's Remote ID service data (counter 0x2A): Bluetooth 4 for
    a message, 5 (extended advertising) for a pack; a payload too long for one AD structure is
    left bare."""
    length = 5 + len(payload_hex) // 2
    return f"{length:02x}16faff0d2a{payload_hex}" if length <= 255 else payload_hex


REFUSED = [c for c in CASES if c["c"] == {"refused": True}]
PACKS = [c for c in CASES if "messages" in c["c"]]
MESSAGES = [c for c in CASES if c not in REFUSED and c not in PACKS]


def differences(ours: dict, c: dict) -> list:
    """The fields where ours differs from what the C decoder said (floats to its float's
    precision: it decodes into 32-bit floats)."""
    wrong = []
    for key, want in expected(c).items():
        got = ours.get(key, "missing")
        if isinstance(want, float) and isinstance(got, float):
            if abs(got - want) > 1e-6 * max(1.0, abs(want)):
                wrong.append((key, got, want))
        elif got != want:
            wrong.append((key, got, want))
    return wrong


@pytest.fixture(scope="module")
def cli_lines():
    """Every case bare and in a Bluetooth 4 AD structure, through the command in one run."""
    lines = []
    for case in CASES:
        lines += [case["hex"], bluetooth(case["hex"])]
    run = subprocess.run([STRAJA, "remoteid", "decode", "--json"], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and run.stderr == ""  # (1: the refused packs)
    return [json.loads(line) for line in run.stdout.splitlines()]


def without_transport(decoded: dict) -> dict:
    # (the command adds `authentication` to the line that completes a set of pages)
    return {k: v for k, v in decoded.items() if k not in ("transport", "counter", "authentication")}


@pytest.mark.parametrize("case", MESSAGES, ids=[c["name"] for c in MESSAGES])
def test_each_case_decodes_as_opendroneid_decodes_it(cli_lines, case):
    index = CASES.index(case)
    bare, advertised = cli_lines[2 * index], cli_lines[2 * index + 1]
    assert differences(bare, case["c"]) == []
    assert without_transport(bare) == decode_payload(bytes.fromhex(case["hex"]))
    assert (advertised["transport"], advertised["counter"]) == ("bluetooth", 0x2A)
    assert without_transport(advertised) == without_transport(bare)


@pytest.mark.parametrize("case", PACKS, ids=[c["name"] for c in PACKS])
def test_a_pack_holds_the_messages_opendroneid_takes_from_it(cli_lines, case):
    index = CASES.index(case)
    payload = bytes.fromhex(case["hex"])
    for decoded in cli_lines[2 * index:2 * index + 2]:
        assert decoded["type"] == "message_pack"
        assert decoded["messages"] == [decode_message(payload[3 + 25 * i:28 + 25 * i])
                                       for i in range(case["c"]["messages"])]


# What each invalid pack's error says (opendroneid's decoder only refuses, without a reason).
REASONS = {"pack_invalid_two_locations": "holds 2 location messages; a pack holds at most 1",
           "pack_invalid_three_basic_ids": "holds 3 basic_id messages; a pack holds at most 2",
           "pack_invalid_two_self_ids": "holds 2 self_id messages",
           "pack_invalid_two_systems": "holds 2 system messages",
           "pack_invalid_two_operator_ids": "holds 2 operator_id messages",
           "pack_invalid_pack_in_pack": "message 2 of the pack is itself a pack",
           "pack_invalid_ten_messages": "says it holds 10 messages; a pack holds 1..9",
           "pack_invalid_zero_messages": "says it holds 0 messages",
           "pack_invalid_message_size_24": "its messages are 24 bytes; the standard's are 25"}


@pytest.mark.parametrize("case", REFUSED, ids=[c["name"] for c in REFUSED])
def test_a_pack_opendroneid_refuses_is_refused_with_the_reason(cli_lines, case):
    index = CASES.index(case)
    for decoded in cli_lines[2 * index:2 * index + 2]:
        assert REASONS[case["name"]] in decoded["error"], decoded
    with pytest.raises(RemoteIdError, match=REASONS[case["name"]]):
        decode_payload(bytes.fromhex(case["hex"]))


def test_every_refused_case_has_its_reason():
    assert sorted(REASONS) == sorted(c["name"] for c in REFUSED)


def test_the_node_passes_every_message_on_as_heard(tmp_path):
    """Each case of one message in a Bluetooth 4 advertisement, heard by the node's receiver
    (firmware/straja_node/remoteid.py under MicroPython) and sent as a REMOTEID frame: the
    gateway's frame decoder gives back the advertisement, which decodes as the payload does."""
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps([[0, "c01122334455", -70, bluetooth(c["hex"])]
                                 for c in MESSAGES]))
    out = run_micropython(REPO / "tests/firmware_app/remoteid_check.py", args=[str(cases)],
                          path=[FIRMWARE], heap="256K").stdout
    result = json.loads(out)
    assert (result["heard"], result["dropped"]) == (len(MESSAGES), 0)
    frames = Decoder().feed(bytes.fromhex(result["wire"]))
    assert [f.type for f in frames] == [P.REMOTEID] * len(MESSAGES)
    for frame, case in zip(frames, MESSAGES):
        assert without_transport(decode_payload(frame.body.advertising())) == \
            decode_payload(bytes.fromhex(case["hex"])), case["name"]


def test_the_command_puts_pages_together_across_lines_and_transports(cli_lines):
    """Each page given bare and then in an advertisement (a repeat with its own counter): the
    line of the last page completes the set."""
    for name, last in (("auth_one_page", 0), ("auth_with_additional_data", 3),
                       ("auth_fifteen_pages", 15)):
        index = next(i for i, c in enumerate(CASES) if c["name"] == f"{name}_page_{last}")
        assert "authentication" in cli_lines[2 * index], name


@pytest.mark.parametrize("name, length, additional", [
    ("auth_one_page", 17, 0), ("auth_with_additional_data", 64, 21),
    ("auth_fifteen_pages", 255, 60)])
def test_authentication_pages_put_together_in_any_order(name, length, additional):
    pages = [decode_payload(bytes.fromhex(c["hex"])) for c in CASES
             if c["name"].startswith(name + "_page_")]
    data = b"".join(bytes.fromhex(p["auth_data"]) for p in pages)
    for order in (pages, pages[::-1]):
        assembler = AuthPages()
        whole = [w for w in map(assembler.add, order) if w is not None]
        assert len(whole) == 1
        assert whole[0]["auth_data"] == data[:length].hex() and whole[0]["length"] == length
        assert whole[0]["additional_data"] == data[length + 1:length + 1 + additional].hex()
