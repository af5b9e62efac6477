"""`straja remoteid decode` as a user runs it: arguments or stdin, --json, mixed good and bad
lines, exit codes."""
import json
import subprocess
import sys
from pathlib import Path

STRAJA = str(Path(sys.executable).with_name("straja"))
VECTORS = json.loads((Path(__file__).parent / "vectors/remoteid/opendroneid.json").read_text())
BLE_LOCATION = "1e16faff0d07" + VECTORS["location"]


def decode(*args, stdin=None):
    return subprocess.run([STRAJA, "remoteid", "decode", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_json_from_stdin_in_input_order_with_bad_lines_between():
    lines = [BLE_LOCATION, "not hex at all", VECTORS["message_pack"], "", "# a comment",
             VECTORS["location"][:-2], VECTORS["wifi_beacon"], VECTORS["system"]]
    r = decode("--json", stdin="\n".join(lines) + "\n")
    assert r.returncode == 1 and r.stderr == ""
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(out) == 6
    assert out[0]["type"] == "location" and out[0]["transport"] == "bluetooth"
    assert out[0]["latitude"] == 45.539309 and out[0]["speed_horizontal"] == 5.5
    assert "not a hex payload" in out[1]["error"] and set(out[1]) == {"error"}
    assert out[2]["type"] == "message_pack" and len(out[2]["messages"]) == 7
    assert "25 bytes" in out[3]["error"]
    assert out[4]["transport"] == "wifi_beacon" and out[4]["counter"] == 0x55
    assert out[5]["operator_latitude"] == 45.539319 and out[5]["system_timestamp"] == 28000000


def test_every_field_the_standard_names_is_in_the_json():
    r = decode("--json", VECTORS["message_pack"])
    assert r.returncode == 0
    fields = set().union(*(m.keys() for m in json.loads(r.stdout)["messages"]))
    assert {"uas_id", "id_type", "ua_type", "status", "direction", "speed_horizontal",
            "speed_vertical", "latitude", "longitude", "altitude_baro", "altitude_geo", "height",
            "height_type", "horizontal_accuracy", "timestamp", "desc_type", "description",
            "operator_latitude", "operator_longitude", "operator_altitude_geo",
            "classification_type", "category_eu", "class_eu", "system_timestamp",
            "operator_id_type", "operator_id"} <= fields


def test_auth_pages_on_separate_lines_are_put_together():
    r = decode("--json", VECTORS["auth_page_1"], VECTORS["auth_page_0"])
    first, second = (json.loads(line) for line in r.stdout.splitlines())
    assert r.returncode == 0 and "authentication" not in first
    assert bytes.fromhex(second["authentication"]["auth_data"]) == (
        b"12345678901234567" + b"12345678901234567890123")


def test_readable_output_one_line_per_message():
    r = decode(VECTORS["wifi_nan_action"], VECTORS["location_unknown"])
    lines = r.stdout.splitlines()
    assert r.returncode == 0
    assert len(lines) == 7 + 1 + 1      # 7 messages, the whole authentication, one location
    assert lines[0].startswith("wifi_nan #42 from 12:34:56:21:43:65: basic_id")
    assert "uas_id=12345678901234567890" in lines[0]
    assert "speed_horizontal=5.5m/s" in lines[1] and "latitude=45.539309" in lines[1]
    assert lines[-1].startswith("location") and "latitude=unknown" in lines[-1]


def test_exit_codes():
    assert decode("--json", VECTORS["basic_id"]).returncode == 0
    bad = decode(VECTORS["basic_id"], "zz")
    assert bad.returncode == 1 and "input 2: error: not a hex payload" in bad.stdout
    # an empty argument is a payload left out (a shell variable unset), not a blank line
    empty = decode("--json", VECTORS["basic_id"], "")
    assert empty.returncode == 1 and json.loads(empty.stdout.splitlines()[1])["error"] == \
        "not a hex payload: '' (hex digits, an even number of them)"
    usage = decode("--bogus")
    assert usage.returncode == 2 and "unrecognized arguments: --bogus" in usage.stderr
