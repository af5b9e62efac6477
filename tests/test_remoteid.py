"""Remote ID decoder: opendroneid's own encodings, the standard's layouts, round trips through an
encoder written here from the standard (ASTM F3411-22a / EN 4709-002 field tables), and bad input."""
import json
import math
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from straja.remoteid import (AuthPages, RemoteIdError, decode_message, decode_pack,
                             decode_payload)

VECTORS = json.loads((Path(__file__).parent / "vectors/remoteid/opendroneid.json").read_text())


def vector(name):
    return bytes.fromhex(VECTORS[name])


# --- an encoder from the standard's tables: physical values in, 25 bytes out ----------------------

def header(kind, version=2):
    return bytes([kind << 4 | version])


def enc_altitude(metres):
    return 0 if metres is None else round((metres + 1000) * 2)


def enc_latlon(lat, lon):
    if lat is None:
        return 0, 0
    return round(lat * 1e7), round(lon * 1e7)


def enc_basic_id(id_type, ua_type, uas_id: bytes):
    return header(0) + bytes([id_type << 4 | ua_type]) + uas_id.ljust(20, b"\0") + bytes(3)


def enc_location(f):
    direction = 361 if f["direction"] is None else f["direction"]
    west = direction >= 180
    speed = f["speed_horizontal"]
    if speed is None:
        multiplied, speed_raw = True, 255
    elif speed <= 63.75:
        multiplied, speed_raw = False, round(speed / 0.25)
    else:
        multiplied, speed_raw = True, round((speed - 63.75) / 0.75)
    vspeed = 126 if f["speed_vertical"] is None else round(f["speed_vertical"] / 0.5)
    lat, lon = enc_latlon(f["latitude"], f["longitude"])
    timestamp = 0xFFFF if f["timestamp"] is None else round(f["timestamp"] * 10)
    flags = f["status"] << 4 | f["height_type"] << 2 | west << 1 | multiplied
    return header(1) + struct.pack(
        "<BBBbiiHHHBBHBB", flags, direction - 180 * west, speed_raw, vspeed, lat, lon,
        enc_altitude(f["altitude_baro"]), enc_altitude(f["altitude_geo"]), enc_altitude(f["height"]),
        f["vertical_accuracy"] << 4 | f["horizontal_accuracy"],
        f["baro_accuracy"] << 4 | f["speed_accuracy"], timestamp, f["timestamp_accuracy"], 0)


def enc_auth_pages(auth_type, timestamp, data: bytes, last_page=None):
    """Page 0 (17 data bytes) then pages of 23, as many as `data` needs (or `last_page` says)."""
    if last_page is None:
        last_page = max(0, math.ceil((len(data) - 17) / 23))
    padded = data.ljust(17 + 23 * last_page, b"\0")
    pages = [header(2) + bytes([auth_type << 4, last_page, len(data) if len(data) < 256 else 255])
             + struct.pack("<I", timestamp) + padded[:17]]
    for n in range(1, last_page + 1):
        pages.append(header(2) + bytes([auth_type << 4 | n]) + padded[17 + 23 * (n - 1):17 + 23 * n])
    return pages


def enc_self_id(desc_type, text: str):
    return header(3) + bytes([desc_type]) + text.encode().ljust(23, b"\0")


def enc_system(f):
    lat, lon = enc_latlon(f["operator_latitude"], f["operator_longitude"])
    flags = f["classification_type"] << 2 | f["operator_location_type"]
    return header(4) + struct.pack(
        "<BiiHBHHBHIB", flags, lat, lon, f["area_count"], f["area_radius"] // 10,
        enc_altitude(f["area_ceiling"]), enc_altitude(f["area_floor"]),
        f["category_eu"] << 4 | f["class_eu"], enc_altitude(f["operator_altitude_geo"]),
        f["system_timestamp"], 0)


def enc_operator_id(id_type, text: str):
    return header(5) + bytes([id_type]) + text.encode().ljust(20, b"\0") + bytes(3)


def enc_pack(messages):
    return header(0xF) + bytes([25, len(messages)]) + b"".join(messages)


def ble_ad(payload, counter=7):
    body = b"\x16\xfa\xff\x0d" + bytes([counter]) + payload
    return bytes([len(body)]) + body


def wifi_beacon(pack, counter=3, mac=b"\x02\x11\x22\x33\x44\x55", ssid=b"drone", extra=b""):
    vendor = b"\xfa\x0b\xbc\x0d" + bytes([counter]) + pack
    return (b"\x80\x00\x00\x00" + b"\xff" * 6 + mac + mac + b"\x00\x00" + bytes(8) + b"\x64\x00\x20\x04"
            + b"\x00" + bytes([len(ssid)]) + ssid + b"\x01\x01\x8c" + extra
            + b"\xdd" + bytes([len(vendor)]) + vendor)


# --- opendroneid's encodings of its test_inout.c values ------------------------------------------

def test_opendroneid_basic_id():
    m = decode_payload(vector("basic_id"))
    assert m["type"] == "basic_id" and m["message_type"] == 0 and m["protocol_version"] == 2
    assert (m["id_type"], m["ua_type"], m["uas_id"]) == (2, 2, "12345678901234567890")


def test_opendroneid_location():
    m = decode_payload(vector("location"))
    # encoded from 215.7 deg, 5.4 m/s, 5.25 m/s, t 360.52 s: the standard's steps round them
    assert m == {"type": "location", "message_type": 1, "protocol_version": 2, "status": 2,
                 "height_type": 1, "direction": 216, "speed_horizontal": 5.5,
                 "speed_vertical": 5.0, "latitude": 45.539309, "longitude": -122.966389,
                 "altitude_baro": 100.0, "altitude_geo": 110.0, "height": 80.0,
                 "horizontal_accuracy": 11, "vertical_accuracy": 6, "baro_accuracy": 5,
                 "speed_accuracy": 3, "timestamp": 360.5, "timestamp_accuracy": 2}


def test_opendroneid_location_unknown_values_are_null():
    m = decode_payload(vector("location_unknown"))
    for key in ("direction", "speed_horizontal", "speed_vertical", "latitude", "longitude",
                "altitude_baro", "altitude_geo", "height", "timestamp"):
        assert m[key] is None, key


def test_opendroneid_speed_multiplier_west_and_descending():
    m = decode_payload(vector("location_fast_west_descending"))
    assert (m["speed_horizontal"], m["direction"], m["speed_vertical"]) == (100.5, 359, -12.5)


def test_opendroneid_self_id_system_operator_id():
    assert decode_payload(vector("self_id"))["description"] == "DronesRUS: Real Estate"
    s = decode_payload(vector("system"))
    assert s == {"type": "system", "message_type": 4, "protocol_version": 2,
                 "operator_location_type": 0, "classification_type": 1,
                 "operator_latitude": 45.539319, "operator_longitude": -122.966379,
                 "area_count": 35, "area_radius": 70, "area_ceiling": 176.5, "area_floor": 41.5,
                 "category_eu": 2, "class_eu": 4, "operator_altitude_geo": 20.5,
                 "system_timestamp": 28000000}
    o = decode_payload(vector("operator_id"))
    assert (o["operator_id_type"], o["operator_id"]) == (0, "98765432100123456789")


def test_opendroneid_auth_pages_and_pack_reassembly():
    p0, p1 = decode_payload(vector("auth_page_0")), decode_payload(vector("auth_page_1"))
    assert (p0["page"], p0["last_page_index"], p0["length"], p0["auth_timestamp"]) == (0, 1, 40, 28000000)
    assert p1["page"] == 1 and "length" not in p1
    pack = decode_payload(vector("message_pack"))
    assert [m["type"] for m in pack["messages"]] == [
        "basic_id", "location", "authentication", "authentication", "self_id", "system", "operator_id"]
    whole = pack["authentication"]
    assert bytes.fromhex(whole["auth_data"]) == b"12345678901234567" + b"12345678901234567890123"
    assert whole["additional_data"] == ""


@pytest.mark.parametrize("name, transport, counter", [("wifi_beacon", "wifi_beacon", 0x55),
                                                      ("wifi_nan_action", "wifi_nan", 0x2A)])
def test_opendroneid_wifi_frames(name, transport, counter):
    d = decode_payload(vector(name))
    assert (d["transport"], d["counter"], d["source_mac"]) == (transport, counter, "12:34:56:21:43:65")
    assert d["messages"] == decode_payload(vector("message_pack"))["messages"]


def test_bluetooth_legacy_ad_structure_and_whole_advertising_data():
    ad = ble_ad(vector("location"), counter=200)
    assert ad[:6].hex() == "1e16faff0dc8"          # the standard's legacy layout: 30 bytes follow
    d = decode_payload(ad)
    assert d["transport"] == "bluetooth" and d["counter"] == 200 and d["latitude"] == 45.539309
    flags_first = b"\x02\x01\x06" + ad + bytes(4)   # flags AD first, zero padding after
    assert decode_payload(flags_first)["latitude"] == 45.539309


def test_bluetooth_extended_advertising_carries_a_pack():
    d = decode_payload(ble_ad(vector("message_pack")))
    assert d["type"] == "message_pack" and len(d["messages"]) == 7 and d["transport"] == "bluetooth"


def test_beacon_element_walk_skips_other_vendor_elements():
    other = b"\xdd\x07\x00\x50\xf2\x02\x01\x01\x00"   # a WMM element, same element id
    d = decode_payload(wifi_beacon(vector("message_pack"), extra=other) + b"\xde\xad\xbe\xef")
    assert d["transport"] == "wifi_beacon" and d["source_mac"] == "02:11:22:33:44:55"


# --- the standard's layouts, laid out by hand -----------------------------------------------------

def test_location_bit_fields_by_hand():
    msg = bytearray(25)
    msg[0] = 0x12
    msg[1] = 0x20 | 0x04 | 0x02 | 0x01   # status 2, height over ground, west, speed multiplier
    msg[2], msg[3], msg[4] = 10, 10, 0x80  # 190 deg; 63.75 + 7.5 m/s; -64 m/s is outside +-62
    m = decode_message(bytes(msg))
    assert (m["status"], m["height_type"], m["direction"], m["speed_horizontal"]) == (2, 1, 190, 71.25)
    assert m["speed_vertical"] is None
    assert m["latitude"] is None and m["altitude_geo"] is None


def test_binary_uas_id_is_given_in_hex():
    uuid = bytes(range(0xA0, 0xB0))
    m = decode_message(enc_basic_id(3, 2, uuid))
    assert m["uas_id"] == uuid.hex() and m["uas_id_hex"] == (uuid + bytes(4)).hex()


def test_auth_additional_data_after_length():
    # opendroneid.h's table: 63 bytes of signature, 22 of FEC, last page index 3
    signature, fec = bytes(range(1, 64)), bytes(range(100, 122))
    pages = enc_auth_pages(5, 123, signature + bytes([len(fec)]) + fec, last_page=3)
    pages[0] = pages[0][:3] + bytes([63]) + pages[0][4:]
    assembler = AuthPages()
    results = [assembler.add(decode_message(p)) for p in reversed(pages)]
    assert results[:-1] == [None] * 3
    assert results[-1]["auth_data"] == signature.hex() and results[-1]["additional_data"] == fec.hex()


# --- round trips over the whole value ranges ------------------------------------------------------

def maybe(strategy):
    return st.one_of(st.none(), strategy)


altitudes = maybe(st.integers(1, 0xFFFF).map(lambda raw: raw * 0.5 - 1000))
speeds = st.one_of(st.none(), st.integers(0, 255).map(lambda k: k * 0.25),
                   st.integers(1, 254).map(lambda k: 63.75 + k * 0.75))
positions = st.one_of(
    st.just((None, None)),
    st.tuples(st.integers(-900_000_000, 900_000_000), st.integers(-1_800_000_000, 1_800_000_000))
    .filter(lambda p: p != (0, 0)).map(lambda p: (p[0] / 1e7, p[1] / 1e7)))
nibbles = st.integers(0, 15)
printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E))

locations = st.fixed_dictionaries({
    "status": nibbles, "height_type": st.integers(0, 1),
    "direction": maybe(st.integers(0, 360)), "speed_horizontal": speeds,
    "speed_vertical": maybe(st.integers(-124, 124).map(lambda k: k * 0.5)),
    "position": positions, "altitude_baro": altitudes, "altitude_geo": altitudes,
    "height": altitudes, "horizontal_accuracy": nibbles, "vertical_accuracy": nibbles,
    "baro_accuracy": nibbles, "speed_accuracy": nibbles,
    "timestamp": maybe(st.integers(0, 36000).map(lambda t: t / 10)),
    "timestamp_accuracy": nibbles})

systems = st.fixed_dictionaries({
    "operator_location_type": st.integers(0, 3), "classification_type": st.integers(0, 7),
    "position": positions, "area_count": st.integers(0, 0xFFFF),
    "area_radius": st.integers(0, 255).map(lambda r: r * 10), "area_ceiling": altitudes,
    "area_floor": altitudes, "category_eu": nibbles, "class_eu": nibbles,
    "operator_altitude_geo": altitudes, "system_timestamp": st.integers(0, 2**32 - 1)})


def with_position(f, names):
    f = dict(f)
    f[names[0]], f[names[1]] = f.pop("position")
    return f


@pytest.mark.parametrize("strategy, encode, position", [
    (locations, enc_location, ("latitude", "longitude")),
    (systems, enc_system, ("operator_latitude", "operator_longitude"))])
@settings(max_examples=400)
@given(data=st.data())
def test_location_and_system_round_trip(strategy, encode, position, data):
    f = with_position(data.draw(strategy), position)
    m = decode_message(encode(f))
    assert {k: m[k] for k in f} == f


@given(nibbles, nibbles, printable.filter(lambda s: len(s) <= 20))
def test_basic_id_round_trip(id_type, ua_type, uas_id):
    m = decode_message(enc_basic_id(id_type, ua_type, uas_id.encode()))
    assert (m["id_type"], m["ua_type"], m["uas_id"]) == (id_type, ua_type, uas_id)


@given(st.integers(0, 255), printable.filter(lambda s: len(s) <= 23),
       st.integers(0, 255), printable.filter(lambda s: len(s) <= 20))
def test_self_id_and_operator_id_round_trip(desc_type, text, id_type, operator_id):
    s = decode_message(enc_self_id(desc_type, text))
    o = decode_message(enc_operator_id(id_type, operator_id))
    assert (s["desc_type"], s["description"]) == (desc_type, text)
    assert (o["operator_id_type"], o["operator_id"]) == (id_type, operator_id)


@given(nibbles, st.integers(0, 2**32 - 1), st.binary(max_size=255), st.randoms(use_true_random=False))
def test_auth_pages_reassemble_in_any_order(auth_type, timestamp, data, rnd):
    pages = [decode_message(p) for p in enc_auth_pages(auth_type, timestamp, data)]
    assert all(p["auth_type"] == auth_type for p in pages)
    assert pages[0]["length"] == len(data) and pages[0]["auth_timestamp"] == timestamp
    rnd.shuffle(pages)
    assembler = AuthPages()
    results = [assembler.add(p) for p in pages]
    assert results[:-1] == [None] * (len(pages) - 1)
    assert bytes.fromhex(results[-1]["auth_data"]) == data


@given(locations, st.binary(max_size=17 + 23 * 7), st.randoms(use_true_random=False),
       st.integers(0, 255))
def test_pack_round_trip_through_every_transport(fields, signature, rnd, counter):
    """A Location (a pack holds one at most) and 1..8 Authentication pages, in any order."""
    encoded = [enc_location(with_position(fields, ("latitude", "longitude"))),
               *enc_auth_pages(1, 0, signature)]
    rnd.shuffle(encoded)
    pack = enc_pack(encoded)
    expected = [decode_message(m) for m in encoded]
    assert decode_pack(pack)["messages"] == expected
    for payload in (pack, ble_ad(pack, counter), wifi_beacon(pack, counter)):
        d = decode_payload(payload)
        assert d["messages"] == expected and d.get("counter", counter) == counter


# --- truncated and corrupted input: an error that says why, never a traceback ---------------------

@pytest.mark.parametrize("name", sorted(VECTORS))
def test_every_truncation_is_an_error(name):
    data = vector(name)
    if len(data) == 25:
        data = ble_ad(data)
    if name == "wifi_nan_action":
        data = data[:-7]   # its last attribute (service descriptor extension) holds no Remote ID data
    for cut in range(len(data)):
        with pytest.raises(RemoteIdError):
            decode_payload(data[:cut])


@pytest.mark.parametrize("mutate, reason", [
    (lambda p: p[:1] + b"\x18" + p[2:], "messages are 24 bytes"),
    (lambda p: p[:2] + b"\x0a" + p[3:], "holds 10 messages"),
    (lambda p: p[:2] + b"\x00" + p[3:], "holds 0 messages"),
    (lambda p: p + b"\x00", "1 more follow"),
    (lambda p: p[:3] + b"\x72" + p[4:], "message type 7"),
    (lambda p: p[:3] + b"\xf2" + p[4:], "itself a pack"),
    (lambda p: p[:3] + p[28:53] + p[28:], "holds 2 location messages; a pack holds at most 1"),
    (lambda p: p[:53] + b"\x22\x00\x10" + p[56:], "last page is 16"),
    (lambda p: p[:53] + b"\x22\x00\x01\x29" + p[57:], "says 41 bytes"),
])
def test_corrupted_packs_are_errors(mutate, reason):
    with pytest.raises(RemoteIdError, match=reason):
        decode_payload(mutate(vector("message_pack")))


def test_wrong_bluetooth_app_code_and_non_remote_id_input_are_errors():
    with pytest.raises(RemoteIdError, match="application code 0x0E"):
        decode_payload(ble_ad(vector("location"))[:4] + b"\x0e" + ble_ad(vector("location"))[5:])
    with pytest.raises(RemoteIdError, match="not a Remote ID payload"):
        decode_payload(b"\x99" * 40)
    with pytest.raises(RemoteIdError, match="no Remote ID vendor element"):
        decode_payload(wifi_beacon(b"")[:-7])


@settings(max_examples=1000)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_give_an_error(data):
    try:
        json.dumps(decode_payload(data))
    except RemoteIdError:
        pass
