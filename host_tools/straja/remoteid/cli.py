"""`straja remoteid decode`: Remote ID payloads in hex, from arguments or stdin, decoded."""
from __future__ import annotations

import json
import string
import sys

from .. import term
from .auth import AuthPages
from .messages import AUTHENTICATION, TYPE_NAMES, RemoteIdError
from .transports import decode_payload

# Units of the readable output; JSON numbers are in these units too (docs/remoteid.md).
UNITS = {"direction": "deg", "speed_horizontal": "m/s", "speed_vertical": "m/s",
         "altitude_baro": "m", "altitude_geo": "m", "height": "m", "timestamp": "s",
         "operator_altitude_geo": "m", "area_radius": "m", "area_ceiling": "m", "area_floor": "m",
         "system_timestamp": "s", "auth_timestamp": "s"}
_HEADER_KEYS = ("type", "message_type", "protocol_version", "transport", "counter", "source_mac",
                "messages", "authentication")


def configure(rid) -> None:
    rid.description = ("Remote ID: drones that broadcast who and where they are. "
                       "See docs/remoteid.md.")
    sub = rid.add_subparsers(dest="remoteid_command", metavar="RIDCOMMAND", required=True)
    p = sub.add_parser(
        "decode", help="decode Remote ID payloads given in hex",
        description="Decode Remote ID payloads in hex, one per argument or, with none, one per "
        "line of stdin: a Bluetooth AD structure (starting with its length byte), a bare "
        "25-byte message, a message pack, or a whole 802.11 beacon or NAN action frame; which "
        "one is told from its layout. Blank lines of stdin and its lines starting with # are "
        "skipped (an empty argument is an error). "
        "Authentication pages on separate lines are put together under \"authentication\" on the "
        "line that completes them. Exit 0 if every payload decoded, 1 if any did not.")
    p.add_argument("payloads", nargs="*", metavar="HEX", help="payloads (default: stdin)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per payload, in input order (a bad one: {\"error\": ...})")
    p.set_defaults(func=run)


def run(args) -> int:
    # stdin as bytes: a line that is not UTF-8 is one bad payload, not a crash
    lines = args.payloads or (raw.decode("utf-8", "replace") for raw in sys.stdin.buffer)
    pages = AuthPages()
    failed = False
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not args.payloads and (not text or text.startswith("#")):  # (stdin's spacing)
            continue
        try:
            decoded = decode_payload(parse_hex(text))
        except RemoteIdError as e:
            failed = True
            if args.json:
                print(json.dumps({"error": str(e)}), flush=True)
            else:
                print(term.paint(f"input {number}: error: {e}", "red"), flush=True)
            continue
        if decoded["type"] == TYPE_NAMES[AUTHENTICATION]:
            whole = pages.add(decoded)
            if whole is not None:
                decoded["authentication"] = whole
        print(json.dumps(decoded) if args.json else readable(decoded), flush=True)
    return term.EXIT_FAILED if failed else term.EXIT_OK


def parse_hex(text: str) -> bytes:
    """Hex digits, optionally with a 0x prefix and spaces or colons between bytes."""
    digits = text.removeprefix("0x").replace(":", "").replace(" ", "")
    if not digits or any(c not in string.hexdigits for c in digits) or len(digits) % 2:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise RemoteIdError(f"not a hex payload: {shown!r} (hex digits, an even number of them)")
    return bytes.fromhex(digits)


def readable(decoded: dict) -> str:
    """One line per message: what carried it, the type, then its fields with units."""
    via = ""
    if "transport" in decoded:
        via = f"{decoded['transport']} #{decoded['counter']}"
        if "source_mac" in decoded:
            via += f" from {decoded['source_mac']}"
        via += ": "
    lines = [via + _message_line(m) for m in decoded.get("messages", [decoded])]
    if "authentication" in decoded:
        lines.append(via + _message_line({"type": "authentication (whole)",
                                          **decoded["authentication"]}))
    return "\n".join(lines)


def _message_line(message: dict) -> str:
    fields = " ".join(f"{k}={_value(k, v)}" for k, v in message.items() if k not in _HEADER_KEYS)
    return f"{message['type']:<14} {fields}"


def _value(key: str, value) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, str) and (value == "" or " " in value):
        return json.dumps(value)
    return f"{value}{UNITS.get(key, '')}"
