"""Remote ID (ASTM F3411 / ASD-STAN EN 4709-002) decoding: messages, message packs, Authentication
page reassembly and the Bluetooth and Wi-Fi transports. Pure Python, no I/O; docs/remoteid.md."""
from .auth import AuthPages
from .messages import RemoteIdError, decode, decode_message, decode_pack
from .transports import decode_bluetooth, decode_payload, decode_wifi_beacon, decode_wifi_nan

__all__ = ["AuthPages", "RemoteIdError", "decode", "decode_message", "decode_pack",
           "decode_bluetooth", "decode_payload", "decode_wifi_beacon", "decode_wifi_nan"]
