"""Commands: info, the config round trip (validated, atomic, kept across a restart), and error
handling under garbage input (docs/protocol.md, Host to node)."""
from __future__ import annotations

import collections
import json
import random

from hil_plans import firmware_version, restart

from straja import protocol

INFO_KEYS = {"version", "board", "node_id", "front_ends", "boot_count", "reset_cause", "uptime_s",
             "config_hash", "config_error", "streaming", "overruns", "frames_dropped",
             "commands_bad"}
# Bytes a host may send that are not printable ASCII: everything but LF, CR and the REPL's
# control characters 0x01-0x05 (0x03 would interrupt the firmware).
NON_PRINTABLE = [b for b in range(256) if b < 0x20 and b not in (0x01, 0x02, 0x03, 0x04, 0x05,
                                                                  0x0A, 0x0D) or b >= 0x7F]


def config_hash(config: dict) -> int:
    """CRC-16/CCITT-FALSE of the canonical JSON (docs/firmware.md, Config hash)."""
    return protocol.crc16(json.dumps(config, sort_keys=True, separators=(",", ":")).encode())


def test_info_and_config_round_trip(node, hil_options):
    info = node.info()
    assert INFO_KEYS <= set(info)
    assert info["version"] == firmware_version()
    assert info["board"] == (hil_options["board"] or ("virtual" if node.virtual else info["board"]))
    assert info["front_ends"] and all({"name", "kind", "band_khz"} <= set(fe)
                                      for fe in info["front_ends"])
    config = node.call("get")
    assert info["config_hash"] == config_hash(config)

    changed = node.set_config({"heartbeat_ms": 250, "crash_limit": 5,
                               "cal": {info["front_ends"][0]["name"]: {"offset": -4}}})
    assert changed == {**config, "heartbeat_ms": 250, "crash_limit": 5,
                       "cal": {info["front_ends"][0]["name"]: {"offset": -4}}}
    assert node.call("get", "heartbeat_ms") == {"heartbeat_ms": 250}
    assert node.info()["config_hash"] == config_hash(changed) != info["config_hash"]

    refused = node.command("set", "heartbeat_ms=500 crash_limit=99")  # one bad key: no change
    assert refused.status == protocol.BAD_ARG and "crash_limit" in refused.text
    assert node.command("get", "no_such_key").status == protocol.BAD_ARG
    assert node.call("get") == changed

    after = restart(node)
    assert node.call("get") == changed and after["config_hash"] == config_hash(changed)


def garbage_lines(rng: random.Random) -> tuple[list[bytes], collections.Counter]:
    """Malformed lines and the status each must get; empty lines get nothing."""
    lines, want = [], collections.Counter()
    for _ in range(40):  # random bytes, at least one outside printable ASCII
        body = bytes(rng.choice(NON_PRINTABLE) if rng.random() < 0.3 else rng.randrange(0x20, 0x7F)
                     for _ in range(rng.randrange(1, 80)))
        lines.append(rng.choice([b"", b"17 ", b"x "]) + body + bytes([rng.choice(NON_PRINTABLE)]))
        want[protocol.BAD_LINE] += 1
    cases = [(b"9" * 1500, protocol.TOO_LONG), (b"21 ping " + b"\xff" * 1100, protocol.TOO_LONG),
             (b"12 fly", protocol.UNKNOWN), (b"13 FLY", protocol.UNKNOWN),
             (b"14 set node_id=70000", protocol.BAD_ARG), (b"15 plan [", protocol.BAD_ARG),
             (b"99999 ping", protocol.BAD_LINE), (b"ping", protocol.BAD_LINE),
             (b"16 ping\rx", protocol.BAD_LINE), (b"", None), (b"\r", None)]
    for line, status in cases:
        lines.append(line)
        if status is not None:
            want[status] += 1
    rng.shuffle(lines)
    return [line + b"\n" for line in lines], want


def test_garbage_input_gets_one_error_reply_per_line(node):
    before = node.info()["commands_bad"]
    lines, want = garbage_lines(random.Random(20261124))
    node.replies.clear()
    node.write(b"".join(lines))
    assert node.call("ping", timeout=10)["pong"] is True  # replies come in order: all are in
    got = collections.Counter(r.status for r in node.replies[:-1])
    assert got == want
    info = node.info()
    assert info["commands_bad"] - before == want[protocol.BAD_LINE] + want[protocol.TOO_LONG]
    assert node.counters()["corrupt"] == 0
