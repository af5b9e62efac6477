"""The decoder against another implementation: opendroneid-core-c's encoder made each edge case
(tests/vectors/remoteid/opendroneid_vectors.c, `edges`: rounding and truncation of every scaled
field, the ends of every range and enum, the "unknown" markers, binary IDs, full-length texts,
authentication pages with additional data), and its decoder said what each holds. Ours must say
the same, field by field, through `straja remoteid decode --json` as a conformance run calls it,
given bare and in a Bluetooth 4 advertisement; where the C library gives a marker (361 degrees,
255 m/s, 63 m/s, -1000 m, 0xFFFF tenths, 0, 0 for a position) ours gives null (docs/remoteid.md)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from straja.remoteid import AuthPages, decode_payload

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
        if c.get(lat) == 0 and c.get(lon) == 0:
            out[lat] = out[lon] = None
    return out


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
        lines += [case["hex"], "1e16faff0d2a" + case["hex"]]
    run = subprocess.run([STRAJA, "remoteid", "decode", "--json"], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stderr == ""
    return [json.loads(line) for line in run.stdout.splitlines()]


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c["name"] for c in CASES])
def test_each_case_decodes_as_opendroneid_decodes_it(cli_lines, index):
    case = CASES[index]
    bare, bluetooth = cli_lines[2 * index], cli_lines[2 * index + 1]
    assert differences(bare, case["c"]) == []
    # (the command adds `authentication` to the line that completes a set of pages)
    message = {k: v for k, v in bare.items() if k != "authentication"}
    assert message == decode_payload(bytes.fromhex(case["hex"]))
    assert (bluetooth["transport"], bluetooth["counter"]) == ("bluetooth", 0x2A)
    assert {k: v for k, v in bluetooth.items()
            if k not in ("transport", "counter", "authentication")} == message


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
