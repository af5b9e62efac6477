"""Remote ID transports: where the messages sit in what a receiver hears.

- Bluetooth (4 legacy and 5 extended advertising): AD structure `len 0x16 FA FF 0D counter payload`
  (service data, UUID 0xFFFA little-endian, application code 0x0D); the payload is one message
  (legacy) or a message pack (extended).
- Wi-Fi Beacon: vendor-specific element 0xDD, OUI FA:0B:BC, OUI type 0x0D, counter, message pack.
- Wi-Fi NAN: public action frame (vendor specific, Wi-Fi Alliance OUI type 0x13) whose Service
  Descriptor attribute for the Remote ID service carries counter + message pack as service info.
"""
from __future__ import annotations

from . import messages
from .messages import RemoteIdError

AD_SERVICE_DATA = 0x16
REMOTE_ID_UUID = b"\xfa\xff"        # 0xFFFA, little-endian on air
REMOTE_ID_APP_CODE = 0x0D

WIFI_HEADER_SIZE = 24               # 802.11 management header (frame control .. sequence control)
BEACON_FIXED_SIZE = 12              # timestamp, beacon interval, capability
FC_BEACON, FC_ACTION = 0x80, 0xD0   # first frame-control byte: management, subtype 8 / 13
ELEMENT_VENDOR = 0xDD
REMOTE_ID_VENDOR = b"\xfa\x0b\xbc\x0d"  # ASD-STAN OUI FA:0B:BC, OUI type 0x0D

NAN_ACTION_HEADER = b"\x04\x09\x50\x6f\x9a\x13"  # public action, vendor specific, Wi-Fi Alliance NAN
NAN_SERVICE_DESCRIPTOR = 0x03
NAN_REMOTE_ID_SERVICE = bytes.fromhex("8869199d9209")  # hash of "org.opendroneid.remoteid"
NAN_BINDING_BITMAP, NAN_MATCHING_FILTER, NAN_RESPONSE_FILTER, NAN_SERVICE_INFO = 0x40, 0x04, 0x08, 0x10


def decode_payload(data: bytes) -> dict:
    """Any payload a receiver hands over, told apart by its layout: a Bluetooth AD structure (from
    its length byte; also whole advertising data), an 802.11 beacon or NAN action frame, a message
    pack, or one 25-byte message."""
    if not data:
        raise RemoteIdError("empty payload")
    if len(data) >= 4 and data[1] == AD_SERVICE_DATA and data[2:4] == REMOTE_ID_UUID:
        return decode_bluetooth(data)
    if data[0] == FC_BEACON and len(data) != messages.MESSAGE_SIZE:
        return decode_wifi_beacon(data)
    if data[0] == FC_ACTION and len(data) != messages.MESSAGE_SIZE:
        return decode_wifi_nan(data)
    if _bluetooth_service_data(data) is not None:
        return decode_bluetooth(data)
    if messages.message_type(data[0]) in messages.TYPE_NAMES:
        return messages.decode(data)
    raise RemoteIdError("not a Remote ID payload: expected a 25-byte message, a message pack, a "
                        "Bluetooth AD structure with service data 0xFFFA, or an 802.11 beacon or "
                        "NAN action frame")


def decode_bluetooth(advertising: bytes) -> dict:
    """Advertising data (one or more AD structures) holding Remote ID service data."""
    body = _bluetooth_service_data(advertising)
    if body is None:
        raise RemoteIdError("no Remote ID service data (AD type 0x16, UUID 0xFFFA) in the "
                            "advertising data")
    if len(body) < 5:
        raise RemoteIdError("Remote ID service data truncated before its message counter")
    if body[3] != REMOTE_ID_APP_CODE:
        raise RemoteIdError(f"Remote ID service data has application code 0x{body[3]:02X}; "
                            f"the standard's is 0x{REMOTE_ID_APP_CODE:02X}")
    return {**messages.decode(body[5:]), "transport": "bluetooth", "counter": body[4]}


def decode_wifi_beacon(frame: bytes) -> dict:
    """An 802.11 beacon frame (no radiotap header, FCS optional): walks its elements for the
    Remote ID vendor element."""
    _check_management(frame, FC_BEACON, "beacon")
    at = WIFI_HEADER_SIZE + BEACON_FIXED_SIZE
    while at + 2 <= len(frame):
        element, length = frame[at], frame[at + 1]
        body = frame[at + 2:at + 2 + length]
        if element == ELEMENT_VENDOR and body[:4] == REMOTE_ID_VENDOR:
            if len(body) < length:
                raise RemoteIdError(f"beacon truncated: its Remote ID element says {length} bytes, "
                                    f"{len(body)} follow")
            if length < 5:
                raise RemoteIdError("Remote ID vendor element too short for its message counter")
            return {**messages.decode(body[5:]), "transport": "wifi_beacon", "counter": body[4],
                    "source_mac": _mac(frame[10:16])}
        at += 2 + length
    raise RemoteIdError("beacon has no Remote ID vendor element (0xDD, OUI FA:0B:BC, type 0x0D)")


def decode_wifi_nan(frame: bytes) -> dict:
    """An 802.11 NAN service discovery frame (public action) carrying the Remote ID service."""
    _check_management(frame, FC_ACTION, "action")
    at = WIFI_HEADER_SIZE
    if frame[at:at + len(NAN_ACTION_HEADER)] != NAN_ACTION_HEADER:
        raise RemoteIdError("action frame is not a NAN service discovery frame "
                            "(public action 0x04 0x09, OUI 50:6F:9A type 0x13)")
    at += len(NAN_ACTION_HEADER)
    while at + 3 <= len(frame):
        attribute, length = frame[at], int.from_bytes(frame[at + 1:at + 3], "little")
        body = frame[at + 3:at + 3 + length]
        if attribute == NAN_SERVICE_DESCRIPTOR and body[:6] == NAN_REMOTE_ID_SERVICE:
            if len(body) < length:
                raise RemoteIdError(f"NAN frame truncated: its service descriptor says {length} "
                                    f"bytes, {len(body)} follow")
            info = _nan_service_info(body)
            if len(info) < 1:
                raise RemoteIdError("NAN service info too short for its message counter")
            return {**messages.decode(info[1:]), "transport": "wifi_nan", "counter": info[0],
                    "source_mac": _mac(frame[10:16])}
        at += 3 + length
    raise RemoteIdError("NAN frame has no Remote ID service descriptor attribute")


def _bluetooth_service_data(advertising: bytes) -> bytes | None:
    """The body (type, UUID, app code, counter, payload) of the Remote ID AD structure, or None
    when the data holds none; raises when that structure is cut short."""
    at = 0
    while at < len(advertising):
        length = advertising[at]
        if length == 0:                     # zero padding after the last structure
            return None
        body = advertising[at + 1:at + 1 + length]
        if body[:1] == bytes((AD_SERVICE_DATA,)) and body[1:3] == REMOTE_ID_UUID:
            if len(body) < length:
                raise RemoteIdError(f"Bluetooth AD structure truncated: it says {length} bytes, "
                                    f"{len(body)} follow")
            return body
        if len(body) < length:
            return None
        at += 1 + length
    return None


def _nan_service_info(descriptor: bytes) -> bytes:
    control = descriptor[8] if len(descriptor) > 8 else 0
    at = 9 + (2 if control & NAN_BINDING_BITMAP else 0)
    for flag in (NAN_MATCHING_FILTER, NAN_RESPONSE_FILTER):
        if control & flag:
            at += 1 + (descriptor[at] if at < len(descriptor) else 0)
    if not control & NAN_SERVICE_INFO or at >= len(descriptor):
        raise RemoteIdError("NAN Remote ID service descriptor has no service info")
    length = descriptor[at]
    info = descriptor[at + 1:at + 1 + length]
    if len(info) < length:
        raise RemoteIdError(f"NAN service info truncated: it says {length} bytes, {len(info)} follow")
    return info


def _check_management(frame: bytes, first_byte: int, name: str) -> None:
    if not frame or frame[0] != first_byte:
        raise RemoteIdError(f"not an 802.11 {name} frame")
    if len(frame) < WIFI_HEADER_SIZE:
        raise RemoteIdError(f"802.11 {name} frame truncated: {len(frame)} bytes, its header alone "
                            f"is {WIFI_HEADER_SIZE}")


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)
