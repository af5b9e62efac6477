"""A bounded mutation fuzzer of what Straja reads from outside (hard5): node streams through the
gateway's pipeline (frames, and `info` / `get plan` replies of every field a wrong type, huge,
negative, NaN, nested, unicode), recordings, Remote ID payloads in every container, the gateway
config, board profiles, scenes and a running node's `info` reply as `straja info` reads it.

    PYTHONPATH=host_tools:firmware nice python tools/fuzz_inputs.py TARGET SECONDS [--seed N]

Seeds come from the project's own vectors (tests/vectors, docs/gateway.md's config, the board
profiles, the scene catalogue, testing.hostile's streams). Anything but the documented clear
error (RecordingError, RemoteIdError, ConfigError/ValueError naming the setting, SceneError,
ReplyError; for the pipeline: a quarantined port, its catch-all) is a crash: each distinct one
(exception type and innermost Straja line) is printed with its input once, and the exit code is 1.
"""
from __future__ import annotations

import argparse
import copy
import datetime
import json
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# values no field expects, TOML's (dates, times) among them
ODD = [None, True, False, 0, -1, 2**31, 2**64, -2**63, 2**200, 1.5, -0.0, float("nan"),
       float("inf"), float("-inf"), 1e308, "", "x" * 5000, "0", "\u202e\x00\x1b[2J", "caf\u00e9",
       [], {}, [[[[[]]]]], {"a": {"b": {}}}, [1, 2, 3], [None], list(range(5000)),
       datetime.date(2020, 1, 1), datetime.time(1, 2), datetime.datetime(2020, 1, 1)]


class Fuzzer:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.crashes: dict[tuple, int] = {}

    def odd(self, kinds: str):
        """A value of ODD that `kinds` can hold ("json": no dates; "toml": no None)."""
        while True:
            value = self.rng.choice(ODD)
            if kinds == "json" and isinstance(value, (datetime.date, datetime.time)) or \
                    kinds == "toml" and value in (None, [None]):
                continue
            return copy.deepcopy(value)

    def value(self, tree, kinds: str, n: int | None = None):
        """`tree` (a JSON or TOML document) with n values replaced, removed, added or swapped."""
        tree = copy.deepcopy(tree)
        for _ in range(n or self.rng.choice([1, 1, 1, 2, 3])):
            places = list(_places(tree))
            path = self.rng.choice(places)
            if not path:
                continue
            parent = _at(tree, path[:-1])
            op = self.rng.random()
            if op < 0.6:
                parent[path[-1]] = self.odd(kinds)
            elif op < 0.75 and isinstance(parent, dict):
                del parent[path[-1]]
            elif op < 0.85 and isinstance(parent, dict):
                parent[self.rng.choice(["bogus", "", "\u00e9", "7"])] = self.odd(kinds)
            else:
                parent[path[-1]] = copy.deepcopy(_at(tree, self.rng.choice(places)))
        return tree

    def bytes(self, data: bytes, n: int | None = None) -> bytes:
        """`data` with n bit flips, byte values, insertions, deletions, copies or truncations."""
        b, rng = bytearray(data), self.rng
        for _ in range(n or rng.choice([1, 1, 2, 4, 8])):
            op, at = rng.random(), rng.randrange(len(b) + 1)
            if op < 0.5 and b:
                i = rng.randrange(len(b))
                b[i] = b[i] ^ (1 << rng.randrange(8)) if op < 0.35 else rng.choice([0, 0x7F, 0xFF])
            elif op < 0.6:
                b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
            elif op < 0.7:
                del b[at:at + rng.randrange(1, 9)]
            elif op < 0.8 and b:
                i = rng.randrange(len(b))
                b[at:at] = b[i:i + rng.randrange(1, 64)]
            elif op < 0.9 and len(b) >= 4:
                i = rng.randrange(len(b) - 3)
                word = rng.choice([b"\xff" * 4, b"\0" * 4, b"\xff\xff\xff\x7f", b"\0\x80"])
                b[i:i + len(word)] = word
            else:
                del b[at:]
        return bytes(b)

    def attempt(self, call, given, clear_errors: tuple) -> None:
        """call(): one of `clear_errors` is the documented refusal, any other exception a crash
        (of input `given`)."""
        try:
            call()
        except clear_errors:
            pass
        except Exception as e:  # noqa: BLE001 (what the fuzzer looks for)
            self.crash(e, given)

    def crash(self, e: BaseException, given) -> None:
        frames = traceback.extract_tb(e.__traceback__)
        inner = ([f for f in frames if "/straja/" in f.filename] or frames)[-1]
        key = (type(e).__name__, inner.filename, inner.lineno)
        if key not in self.crashes:
            print(f"CRASH {key}: {str(e)[:200]}\n  input: {repr(given)[:1500]}", flush=True)
            self.crashes[key] = 0
        self.crashes[key] += 1


def _places(tree, path=()):
    yield path
    items = tree.items() if isinstance(tree, dict) else \
        enumerate(tree[:20]) if isinstance(tree, list) else ()
    for key, value in items:
        yield from _places(value, (*path, key))


def _at(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def _raw_frames(wire: bytes) -> list[bytes]:
    """The frames of a stream, each without its CRC (re-encoded with a valid one when fuzzed)."""
    from straja import protocol as P
    return [raw[:-2] for raw in map(P.cobs_decode, filter(None, wire.split(b"\0"))) if raw]


def _with_crc(raw: bytes) -> bytes:
    from straja import protocol as P
    return b"\0" + P.cobs_encode(raw + P.crc16(raw).to_bytes(2, "little")) + b"\0"


def pipeline(fz: Fuzzer):
    """One node's stream: a STATUS, mutated replies (info, get plan), mutated frames with valid
    CRCs, at odd times; no port may be quarantined, every event must serialise."""
    from straja import protocol as P
    from straja.gateway import config
    from straja.gateway.events import SourceQuarantined, dumps
    from straja.gateway.pipeline import Pipeline
    from straja.testing import hostile
    vectors = [json.loads(line)["wire"] for line in
               (ROOT / "tests/vectors/frames.json").read_text().splitlines() if line.strip()]
    chunks, _ = hostile.chunks(3, frames=60, duration_s=3.0)
    frames = [r for wire in [*map(bytes.fromhex, vectors), *(c.data for c in chunks)]
              for r in _raw_frames(wire)]
    info = {**hostile.INFO, "front_ends": [hostile.FRONT_END, {
        "name": "ble", "kind": "cc2500", "band_khz": [2_400_000, 2_483_500]}]}
    info["plan"] = [*info["plan"], {"front_end": "ble", "channels_khz": [2_402_000, 2_480_000],
                                    "dwell_us": 1000, "revisit": 1}]
    cfg = config.load(None)

    def step():
        rng, node, t_us = fz.rng, fz.rng.choice([51, 1, 0, 65535]), fz.rng.randrange(2**40)
        items = [P.encode_frame(P.Frame(0, node, 1, t_us, P.Status(5, 1, 0, 1, 100_000, 50_000, 0,
                                                                    0, 0, 0, "0.1.0")))]
        for seq in range(2, rng.randrange(3, 6)):
            text = json.dumps(fz.value(rng.choice([info, hostile.PLAN_REPLY]), "json"))
            if rng.random() < 0.2:
                text = fz.bytes(text.encode(), 2).decode(errors="replace")
            items.append(P.encode_frame(P.Frame(0, node, seq, t_us + seq,
                                                P.Reply(rng.randrange(65536), 0, text[:1000]))))
        for _ in range(rng.randrange(12)):
            raw = fz.bytes(rng.choice(frames)) if rng.random() < 0.8 else rng.choice(frames)
            items.append(_with_crc(raw) if rng.random() < 0.85 else fz.bytes(_with_crc(raw)))
        pipe, t = Pipeline(cfg), hostile.T0
        try:
            events = pipe.open_source("/dev/f", t).events
            for item in items:
                t += rng.choice([1, 10**6, 10**8, -10**12, 10**15])
                events += pipe.feed("/dev/f", t, item).events
            events += pipe.tick(t + 60 * 10**9).events
            for e in events:
                if isinstance(e, SourceQuarantined):
                    raise AssertionError(f"port quarantined: {e.reason}")
                json.loads(dumps(e, 1))
        except Exception as e:  # noqa: BLE001 (what the fuzzer looks for)
            fz.crash(e, [item.hex() for item in items])
    return step


def recording(fz: Fuzzer):
    from straja.gateway import record
    from straja.testing import hostile
    folder = Path(tempfile.mkdtemp(prefix="fuzz-rec-"))
    hostile.write(5, folder / "seed.rec", frames=30)
    seed, path = (folder / "seed.rec").read_bytes()[:20000], folder / "fuzzed.rec"

    def replay():
        header, records = record.read(path)
        records.check()
        json.dumps(header)
        sum(1 for _ in records)

    def step():
        path.write_bytes(data := fz.bytes(seed, fz.rng.choice([1, 2, 4, 16])))
        fz.attempt(replay, data[:300].hex(), (record.RecordingError,))
    return step


def remoteid(fz: Fuzzer):
    """Every decoder on every payload; the gateway's tracker on it and as a companion's line."""
    from straja.gateway import config
    from straja.gateway.events import dumps
    from straja.gateway.remoteid import RemoteIdTracker
    from straja.remoteid import messages as M, transports as T
    from straja.remoteid.cli import readable
    vectors = json.loads((ROOT / "tests/vectors/remoteid/opendroneid.json").read_text())
    edges = json.loads((ROOT / "tests/vectors/remoteid/opendroneid_edges.json").read_text())
    seeds = [bytes.fromhex(v) for v in vectors.values()] + [bytes.fromhex(c["hex"]) for c in edges]
    seeds += [bytes([len(s) + 5, 0x16, 0xFA, 0xFF, 0x0D, 7]) + s for s in seeds  # BLE legacy/ext.
              if len(s) == M.MESSAGE_SIZE or s[0] >> 4 == 0xF and len(s) <= 250]
    decoders = [T.decode_payload, T.decode_bluetooth, T.decode_wifi_beacon, T.decode_wifi_nan,
                M.decode, M.decode_message, M.decode_pack]
    cfg = config.load(None)
    tracker, clock = [RemoteIdTracker(cfg.remote_id, cfg.nodes)], [10**18]

    def shown(decoded: dict) -> None:  # (as `straja remoteid decode` prints it, and as JSON)
        readable(decoded)
        json.dumps(decoded, allow_nan=False)

    def step():
        rng = fz.rng
        data = fz.bytes(rng.choice(seeds)) if rng.random() < 0.9 else rng.choice(seeds)
        for decode in decoders:
            fz.attempt(lambda: shown(decode(data)), (decode.__name__, data.hex()),
                       (M.RemoteIdError,))
        clock[0] += rng.choice([10**6, 10**9, 10**11])
        line = json.dumps({"payload": data.hex(), "node": rng.choice([1, None, -1, True, 2**70]),
                           "rssi": rng.choice([-60, float("nan"), float("inf"), None, "x"]),
                           "mac": rng.choice(["", 5, None, ["x"], "aa:bb"])})
        try:
            events = tracker[0].heard(clock[0], data, rng.choice([None, 1]),
                                      rng.choice([None, -60.0, float("nan"), 2**70]))
            events += tracker[0].heard_line(clock[0], line)
            events += tracker[0].expire(clock[0] + rng.choice([0, 10**12]))
            for e in events:
                json.loads(dumps(e, 1))
        except Exception as e:  # noqa: BLE001
            fz.crash(e, ("tracker", data.hex(), line))
            tracker[0] = RemoteIdTracker(cfg.remote_id, cfg.nodes)
    return step


def gateway_config(fz: Fuzzer):
    """docs/gateway.md's config (every key), mutated, as `straja gateway` checks it at start."""
    import tomllib

    from straja.errors import StrajaError
    from straja.gateway import config
    from straja.gateway.pipeline import Pipeline
    from straja.web.auth import users_from_config
    text = (ROOT / "docs/gateway.md").read_text()
    documented: dict = {}
    for block in text.split("```toml")[1:]:
        for key, table in tomllib.loads(block.split("```")[0]).items():
            documented.setdefault(key, {}).update(table)
    documented["gateway"]["neighbours"] = {"1": [2, 3]}
    documented["remote_id"]["protected_areas"] = {"a": [[45.0, 25.0], [45.1, 25.0], [45.0, 25.1]]}
    documented["web"]["users"] = [{"name": "a", "role": "viewer", "password_hash": "x"}]

    def step():
        given = fz.value(documented, "toml", fz.rng.choice([1, 1, 2, 3]))
        try:
            cfg = config.from_dict(given)
            Pipeline(cfg)
            users_from_config(cfg.web.users)
        except (StrajaError, ValueError) as e:  # (a ValueError: the pipeline's, said with its key)
            if not isinstance(e, StrajaError) and "[detect]" not in str(e):
                fz.crash(e, given)
        except Exception as e:  # noqa: BLE001
            fz.crash(e, given)
    return step


def board_profile(fz: Fuzzer):
    from straja import boards
    profiles = [json.loads(p.read_text()) for p in (ROOT / "hardware/boards").glob("*.json")]

    def step():
        given = fz.value(fz.rng.choice(profiles), "json")
        fz.attempt(lambda: boards.check_profile(given), given, (ValueError,))
    return step


def scene(fz: Fuzzer):
    import tomllib

    from straja.sim.scene import SceneError, scene_from_dict
    seeds = [(p, tomllib.loads(p.read_text())) for p in sorted((ROOT / "scenes").glob("*.toml"))]

    def step():
        path, tree = fz.rng.choice(seeds)
        given = fz.value(tree, "any", fz.rng.choice([1, 1, 2]))  # (a .json scene has null)
        fz.attempt(lambda: scene_from_dict(given, source=str(path), base=path.parent,
                                           within=(path.resolve(),)).summary(),
                   given, (SceneError,))
    return step


def info_reply(fz: Fuzzer):
    """A running node's `info` reply as `straja info` checks and prints it."""
    from straja.commands.device import RUNNING_COUNTS, info_rows
    from straja.gateway import replies
    from straja.testing import hostile
    good = {**hostile.INFO, "streaming": True, "uptime_s": 5, "boot_count": 1, "reset_cause": 0,
            "overruns": 0, "frames_dropped": 0}
    probe = {"port": "/dev/x", "micropython": "1.22", "machine": "m", "mpy": None,
             "firmware": "0.1", "firmware_hash": "ab", "board": "pico", "node_id": 3}

    def shown(text: str) -> None:  # (running_info's checks, then what info prints)
        running = replies.parse(text)
        if isinstance(running, dict) and "plan" in running:
            replies.check_info(running)
            replies.check_status_fields(running, RUNNING_COUNTS, ("streaming",))
            info_rows({**probe, "running": running})

    def step():
        text = json.dumps(fz.value(good, "json"))
        fz.attempt(lambda: shown(text), text, (replies.ReplyError,))
    return step


TARGETS = {f.__name__: f for f in (pipeline, recording, remoteid, gateway_config, board_profile,
                                   scene, info_reply)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=TARGETS)
    parser.add_argument("seconds", type=float)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    fz = Fuzzer(args.seed)
    step, n, end = TARGETS[args.target](fz), 0, time.monotonic() + args.seconds
    while time.monotonic() < end:
        step()
        n += 1
    print(f"{args.target}: {n} inputs in {args.seconds:g} s, {len(fz.crashes)} distinct crashes"
          + "".join(f"\n  {count} x {key}" for key, count in fz.crashes.items()))
    return 1 if fz.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
