"""Remote ID messages (ASTM F3411-22a, ASD-STAN EN 4709-002): the 25-byte messages and the message
pack, decoded into plain dicts in SI units and degrees. Layouts, scale factors and "unknown" markers
are the standard's, as opendroneid-core-c (libopendroneid/opendroneid.h) implements them; field names
and the JSON shape are documented in docs/remoteid.md. An unknown or invalid number is None."""
from __future__ import annotations

import struct

from .auth import AuthPages

MESSAGE_SIZE = 25
PACK_MAX_MESSAGES = 9
# A pack carries at most one message of each type but Basic ID (an aircraft may have two IDs: a
# serial number and a session ID) and Authentication (its pages): two Locations in one pack would
# be two positions at one instant. opendroneid's decoder refuses such a pack (checkPackContent,
# ODID_BASIC_ID_MAX_MESSAGES 2).
PACK_BASIC_ID_MAX = 2
PACK_HEADER_SIZE = 3

BASIC_ID, LOCATION, AUTHENTICATION, SELF_ID, SYSTEM, OPERATOR_ID, MESSAGE_PACK = 0, 1, 2, 3, 4, 5, 0xF
TYPE_NAMES = {BASIC_ID: "basic_id", LOCATION: "location", AUTHENTICATION: "authentication",
              SELF_ID: "self_id", SYSTEM: "system", OPERATOR_ID: "operator_id",
              MESSAGE_PACK: "message_pack"}

LATLON_UNITS_PER_DEGREE = 10_000_000
ALTITUDE_STEP_M, ALTITUDE_OFFSET_M = 0.5, -1000.0      # metres = raw * 0.5 - 1000; -1000 = unknown
SPEED_STEP, SPEED_STEP_MULTIPLIED = 0.25, 0.75          # m/s per unit; the flag switches to the coarse step
SPEED_MULTIPLIED_OFFSET = 255 * SPEED_STEP              # 63.75 m/s, where the coarse step starts
SPEED_UNKNOWN = 255.0                                   # m/s (raw 255 with the multiplier flag)
VERTICAL_SPEED_STEP, VERTICAL_SPEED_MAX, VERTICAL_SPEED_UNKNOWN = 0.5, 62.0, 63.0
DIRECTION_MAX, DIRECTION_UNKNOWN, DIRECTION_WEST_OFFSET = 360, 361, 180
TIMESTAMP_UNKNOWN_RAW, TIMESTAMP_MAX_S = 0xFFFF, 3600  # tenths of a second after the full hour
AREA_RADIUS_STEP_M = 10
AUTH_PAGE_ZERO_DATA, AUTH_PAGE_DATA, AUTH_MAX_PAGES = 17, 23, 16
EPOCH_2019_UNIX = 1546300800                            # System and Authentication timestamps count from here

_LOCATION = struct.Struct("<BBBBbiiHHHBBHBB")
_SYSTEM = struct.Struct("<BBiiHBHHBHIB")
_AUTH_PAGE_ZERO = struct.Struct("<BBBBI17s")


class RemoteIdError(ValueError):
    """A payload that is not a well-formed Remote ID message; the text says what is wrong."""


def message_type(header: int) -> int:
    return header >> 4


def decode(payload: bytes) -> dict:
    """One message (25 bytes) or one message pack, told apart by the type in the first byte."""
    if not payload:
        raise RemoteIdError("empty payload")
    if message_type(payload[0]) == MESSAGE_PACK:
        return decode_pack(payload)
    if len(payload) != MESSAGE_SIZE:
        raise RemoteIdError(f"a message is {MESSAGE_SIZE} bytes; this one has {len(payload)}")
    return decode_message(payload)


def decode_message(msg: bytes) -> dict:
    """One 25-byte message of types 0-5 (a pack is not a message: see decode_pack)."""
    if len(msg) != MESSAGE_SIZE:
        raise RemoteIdError(f"a message is {MESSAGE_SIZE} bytes; this one has {len(msg)}")
    kind = message_type(msg[0])
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise RemoteIdError(f"message type {kind} is not a Remote ID message type "
                            "(0-5 messages, 15 message pack)")
    return {"type": TYPE_NAMES[kind], "message_type": kind, "protocol_version": msg[0] & 0x0F,
            **decoder(msg)}


def decode_pack(pack: bytes) -> dict:
    """A message pack: header, message size 25, count 1..9, then the messages. Its Authentication
    pages, when they make a whole set, are also given put together under "authentication"."""
    if len(pack) < PACK_HEADER_SIZE:
        raise RemoteIdError(f"message pack truncated: {len(pack)} bytes, its header alone is "
                            f"{PACK_HEADER_SIZE}")
    if message_type(pack[0]) != MESSAGE_PACK:
        raise RemoteIdError(f"not a message pack: message type {message_type(pack[0])}")
    size, count = pack[1], pack[2]
    if size != MESSAGE_SIZE:
        raise RemoteIdError(f"message pack says its messages are {size} bytes; the standard's "
                            f"are {MESSAGE_SIZE}")
    if not 1 <= count <= PACK_MAX_MESSAGES:
        raise RemoteIdError(f"message pack says it holds {count} messages; a pack holds "
                            f"1..{PACK_MAX_MESSAGES}")
    expected = PACK_HEADER_SIZE + count * MESSAGE_SIZE
    if len(pack) < expected:
        raise RemoteIdError(f"message pack truncated: {count} messages need {expected} bytes, "
                            f"got {len(pack)}")
    if len(pack) > expected:
        raise RemoteIdError(f"message pack of {count} messages is {expected} bytes; "
                            f"{len(pack) - expected} more follow it")
    messages = []
    for i in range(count):
        msg = pack[PACK_HEADER_SIZE + i * MESSAGE_SIZE:PACK_HEADER_SIZE + (i + 1) * MESSAGE_SIZE]
        if message_type(msg[0]) == MESSAGE_PACK:
            raise RemoteIdError(f"message {i + 1} of the pack is itself a pack")
        try:
            messages.append(decode_message(msg))
        except RemoteIdError as e:
            raise RemoteIdError(f"message {i + 1} of {count} in the pack: {e}") from None
    _check_pack_content(messages)
    out = {"type": TYPE_NAMES[MESSAGE_PACK], "message_type": MESSAGE_PACK,
           "protocol_version": pack[0] & 0x0F, "messages": messages}
    pages = AuthPages()
    for m in messages:
        if m["type"] == TYPE_NAMES[AUTHENTICATION]:
            whole = pages.add(m)
            if whole is not None:
                out["authentication"] = whole
    return out


def _check_pack_content(messages: list[dict]) -> None:
    for kind in (BASIC_ID, LOCATION, SELF_ID, SYSTEM, OPERATOR_ID):
        most = PACK_BASIC_ID_MAX if kind == BASIC_ID else 1
        count = sum(m["message_type"] == kind for m in messages)
        if count > most:
            raise RemoteIdError(f"message pack holds {count} {TYPE_NAMES[kind]} messages; a pack "
                                f"holds at most {most}")


def _basic_id(msg: bytes) -> dict:
    id_type, ua_type = msg[1] >> 4, msg[1] & 0x0F
    raw = msg[2:22]
    return {"id_type": id_type, "ua_type": ua_type, "uas_id": _identifier(raw),
            "uas_id_hex": raw.hex()}


def _location(msg: bytes) -> dict:
    (_, flags, direction, speed, vspeed, lat, lon, alt_baro, alt_geo, height, accuracy,
     baro_speed_accuracy, timestamp, ts_accuracy, _) = _LOCATION.unpack(msg)
    if flags & 0x02:
        direction += DIRECTION_WEST_OFFSET
    if flags & 0x01:
        speed_mps = speed * SPEED_STEP_MULTIPLIED + SPEED_MULTIPLIED_OFFSET
    else:
        speed_mps = speed * SPEED_STEP
    vspeed_mps = vspeed * VERTICAL_SPEED_STEP
    latitude, longitude = _position(lat, lon)
    return {
        "status": flags >> 4,
        "height_type": (flags >> 2) & 0x01,
        "direction": direction if direction <= DIRECTION_MAX else None,
        "speed_horizontal": None if speed_mps == SPEED_UNKNOWN else speed_mps,
        "speed_vertical": vspeed_mps if abs(vspeed_mps) <= VERTICAL_SPEED_MAX else None,
        "latitude": latitude,
        "longitude": longitude,
        "altitude_baro": _altitude(alt_baro),
        "altitude_geo": _altitude(alt_geo),
        "height": _altitude(height),
        "horizontal_accuracy": accuracy & 0x0F,
        "vertical_accuracy": accuracy >> 4,
        "baro_accuracy": baro_speed_accuracy >> 4,
        "speed_accuracy": baro_speed_accuracy & 0x0F,
        "timestamp": (timestamp / 10 if timestamp != TIMESTAMP_UNKNOWN_RAW
                      and timestamp <= TIMESTAMP_MAX_S * 10 else None),
        "timestamp_accuracy": ts_accuracy & 0x0F,
    }


def _authentication(msg: bytes) -> dict:
    page, auth_type = msg[1] & 0x0F, msg[1] >> 4
    if page:
        return {"auth_type": auth_type, "page": page, "auth_data": msg[2:].hex()}
    _, _, last_page, length, timestamp, data = _AUTH_PAGE_ZERO.unpack(msg)
    if last_page >= AUTH_MAX_PAGES:
        raise RemoteIdError(f"authentication page 0 says the last page is {last_page}; pages are "
                            f"0..{AUTH_MAX_PAGES - 1}")
    capacity = AUTH_PAGE_ZERO_DATA + last_page * AUTH_PAGE_DATA
    if length > capacity:
        raise RemoteIdError(f"authentication page 0 says {length} bytes of data; pages 0..{last_page} "
                            f"hold {capacity}")
    return {"auth_type": auth_type, "page": 0, "last_page_index": last_page, "length": length,
            "auth_timestamp": timestamp, "auth_data": data.hex()}


def _self_id(msg: bytes) -> dict:
    return {"desc_type": msg[1], "description": _text(msg[2:])}


def _system(msg: bytes) -> dict:
    (_, flags, lat, lon, area_count, area_radius, ceiling, floor, eu, op_alt, timestamp,
     _) = _SYSTEM.unpack(msg)
    latitude, longitude = _position(lat, lon)
    return {
        "operator_location_type": flags & 0x03,
        "classification_type": (flags >> 2) & 0x07,
        "operator_latitude": latitude,
        "operator_longitude": longitude,
        "area_count": area_count,
        "area_radius": area_radius * AREA_RADIUS_STEP_M,
        "area_ceiling": _altitude(ceiling),
        "area_floor": _altitude(floor),
        "category_eu": eu >> 4,
        "class_eu": eu & 0x0F,
        "operator_altitude_geo": _altitude(op_alt),
        "system_timestamp": timestamp,
    }


def _operator_id(msg: bytes) -> dict:
    return {"operator_id_type": msg[1], "operator_id": _text(msg[2:22])}


_DECODERS = {BASIC_ID: _basic_id, LOCATION: _location, AUTHENTICATION: _authentication,
             SELF_ID: _self_id, SYSTEM: _system, OPERATOR_ID: _operator_id}


def _altitude(raw: int) -> float | None:
    metres = raw * ALTITUDE_STEP_M + ALTITUDE_OFFSET_M
    return None if metres == ALTITUDE_OFFSET_M else metres


def _position(lat: int, lon: int) -> tuple[float | None, float | None]:
    """Degrees; (0, 0) is the standard's "unknown", and a latitude or longitude out of range is
    invalid, which the standard treats as unknown too."""
    latitude, longitude = lat / LATLON_UNITS_PER_DEGREE, lon / LATLON_UNITS_PER_DEGREE
    if (lat == 0 and lon == 0) or abs(latitude) > 90 or abs(longitude) > 180:
        return None, None
    return latitude, longitude


def _text(raw: bytes) -> str:
    """ASCII, NUL-padded; a byte outside ASCII becomes U+FFFD rather than failing the message."""
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def _identifier(raw: bytes) -> str:
    """An ID as text when it is printable ASCII (serial numbers, CAA registrations), else the hex of
    its bytes without the NUL padding (UTM UUIDs and session IDs are binary)."""
    text = raw.rstrip(b"\0")
    if b"\0" not in text and all(0x20 <= b < 0x7F for b in text):
        return text.decode("ascii")
    return text.hex()
