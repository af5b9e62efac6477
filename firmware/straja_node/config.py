"""The node's configuration: one JSON object in `config.json`, checked against one schema.

Every key has a default, so a missing key is never an error and an empty file means "all
defaults". A value of the wrong type or out of range is refused with a message naming the key;
nothing is written unless the whole new config is valid.
"""
import json

from . import store
from .frame import crc16
from .limits import (CHANNELS_MAX, DWELL_US_MAX, DWELL_US_MIN, ENVELOPE_N_DEFAULT,
                     ENVELOPE_N_MIN, KHZ_MAX, NAME_MAX, PLAN_MAX, RATE_HZ_MAX, RATE_HZ_MIN,
                     REVISIT_MAX, SWEEP_US_MAX)
from .plan import ENVELOPE_KEYS, SWEEP_KEYS, is_name
from .wire import MAX_ENVELOPE_SAMPLES

PATH = "config.json"

WATCHDOG_MS_MIN = 2000
INT32 = 0x7FFFFFFF
IDLE_HEARTBEAT_MS = 5000


class ConfigError(ValueError):
    pass


def _int(value, key, lo, hi):
    # bool is an int subclass in MicroPython too: refuse it explicitly
    if type(value) is not int:
        raise ConfigError("%s: expected an integer" % key)
    if value < lo or value > hi:
        raise ConfigError("%s: %d out of range %d..%d" % (key, value, lo, hi))
    return value


def _bool(value, key):
    if type(value) is not bool:
        raise ConfigError("%s: expected true or false" % key)
    return value


def check_name(value, key):
    if not is_name(value):
        raise ConfigError("%s: expected a name: 1..%d of a-z, 0-9, _ and -" % (key, NAME_MAX))
    return value


def _watchdog(value, key):
    """0 (off) or WATCHDOG_MS_MIN..8000: the RP2040 watchdog cannot count past 8388 ms, and the
    app feeds it once per sweep, which may take SWEEP_US_MAX."""
    if value != 0:
        _int(value, key, WATCHDOG_MS_MIN, 8000)
    return _int(value, key, 0, 8000)


def _dict(value, key):
    if type(value) is not dict:
        raise ConfigError("%s: expected an object" % key)
    return value


def _only(entry, allowed, key):
    for k in entry:
        if k not in allowed:
            raise ConfigError("%s: unknown key %s" % (key, k))


def _cal(value, key):
    """{front-end name: {key: int}}. "offset" (RSSI codes added to every reading, by the
    scheduler) is checked here; the other keys are the drivers' own (hw.front_ends hands each
    driver its entry, e.g. rssi_offset_db, rssi_min, slope_udb, intercept_mdbm)."""
    for name, c in _dict(value, key).items():
        where = key + "." + check_name(name, key)
        for k in _dict(c, where):
            _int(c[k], where + "." + check_name(k, where), -INT32, INT32)
        if "offset" in c:
            _int(c["offset"], where + ".offset", -80, 80)
    return value


def check_entry(e, key):
    """Check one scan-plan entry's shape and ranges (the front end's own limits come later)."""
    _dict(e, key)
    if "front_end" not in e:
        raise ConfigError(key + ": front_end missing")
    check_name(e["front_end"], key + ".front_end")
    if "rate_hz" in e:
        _only(e, ENVELOPE_KEYS, key)
        rate = _int(e["rate_hz"], key + ".rate_hz", RATE_HZ_MIN, RATE_HZ_MAX)
        n = _int(e.get("n", ENVELOPE_N_DEFAULT), key + ".n", ENVELOPE_N_MIN, MAX_ENVELOPE_SAMPLES)
        if n * 1000000 // rate > SWEEP_US_MAX:
            raise ConfigError("%s: block takes %d us, at most %d"
                              % (key, n * 1000000 // rate, SWEEP_US_MAX))
        return
    _only(e, SWEEP_KEYS, key)
    if "dwell_us" not in e:
        raise ConfigError(key + ": dwell_us missing")
    dwell = _int(e["dwell_us"], key + ".dwell_us", DWELL_US_MIN, DWELL_US_MAX)
    if "settle_us" in e:
        _int(e["settle_us"], key + ".settle_us", 0, dwell)
    if "channels" in e:
        chans = e["channels"]
        if type(chans) is not list or not chans or len(chans) > CHANNELS_MAX:
            raise ConfigError("%s.channels: expected a list of 1..%d kHz values"
                              % (key, CHANNELS_MAX))
        for f in chans:
            _int(f, key + ".channels", 1, KHZ_MAX)
        n = len(chans)
    else:
        for k in ("start_khz", "stop_khz", "step_khz"):
            if k not in e:
                raise ConfigError("%s: needs channels or start_khz, stop_khz, step_khz" % key)
        start = _int(e["start_khz"], key + ".start_khz", 1, KHZ_MAX)
        stop = _int(e["stop_khz"], key + ".stop_khz", start, KHZ_MAX)
        step = _int(e["step_khz"], key + ".step_khz", 1, KHZ_MAX)
        n = (stop - start) // step + 1
        if n > CHANNELS_MAX:
            raise ConfigError("%s: %d channels, at most %d" % (key, n, CHANNELS_MAX))
    # a revisit sweep reads every channel twice: 2n dwell slots
    slots = 2 * n if _int(e.get("revisit", 0), key + ".revisit", 0, REVISIT_MAX) else n
    _int(e.get("interleave", 0), key + ".interleave", 0, 1)
    if slots * dwell > SWEEP_US_MAX:
        raise ConfigError("%s: sweep takes %d us, at most %d" % (key, slots * dwell, SWEEP_US_MAX))


def _plan(value, key):
    if type(value) is not list or len(value) > PLAN_MAX:
        raise ConfigError("%s: expected a list of at most %d entries" % (key, PLAN_MAX))
    for i in range(len(value)):
        check_entry(value[i], "%s[%d]" % (key, i))
    return value


# key: (default, check(value, key)); the one schema (docs/firmware.md describes each key)
SCHEMA = {
    "node_id": (0, lambda v, k: _int(v, k, 0, 65535)),
    "stream_on_boot": (False, _bool),
    # STATUS period while streaming; idle nodes send one every IDLE_HEARTBEAT_MS (protocol)
    "heartbeat_ms": (1000, lambda v, k: _int(v, k, 100, 1000)),
    "watchdog_ms": (5000, _watchdog),
    "crash_limit": (3, lambda v, k: _int(v, k, 1, 20)),
    "crash_window_s": (30, lambda v, k: _int(v, k, 1, 3600)),
    "cal": ({}, _cal),
    "plan": ([], _plan),
}


def defaults():
    """A fresh config with every key at its default (containers are new objects)."""
    return json.loads(canonical({k: SCHEMA[k][0] for k in SCHEMA}))


def validate(cfg):
    """Return a complete config (defaults filled in) or raise ConfigError."""
    _dict(cfg, "config")
    out = defaults()
    for k in cfg:
        if k not in SCHEMA:
            raise ConfigError("unknown key " + str(k))
        out[k] = SCHEMA[k][1](cfg[k], k)
    return out


def canonical(value):
    """JSON with sorted keys and no spaces: the same text as CPython's
    json.dumps(value, sort_keys=True, separators=(",", ":")), the input of the config hash."""
    if type(value) is dict:
        keys = sorted(value)
        return "{" + ",".join(json.dumps(k) + ":" + canonical(value[k]) for k in keys) + "}"
    if type(value) is list:
        return "[" + ",".join(canonical(v) for v in value) + "]"
    return json.dumps(value)


def checksum(cfg):
    """The config hash of STATUS frames: CRC-16/CCITT-FALSE of the canonical JSON."""
    text = canonical(cfg)
    return crc16(text, len(text))


def load(path=PATH):
    """(config, error): the stored config, or defaults and the reason if it cannot be used."""
    try:
        raw = store.load(path)
    except (OSError, ValueError) as e:
        return defaults(), "config unreadable, using defaults: %s" % e
    if raw is None:
        return defaults(), None
    try:
        return validate(raw), None
    except ConfigError as e:
        return defaults(), "config invalid, using defaults: %s" % e


def save(cfg, path=PATH):
    """Validate and write `cfg` atomically; returns the stored config."""
    cfg = validate(cfg)
    store.write_atomic(path, canonical(cfg))
    return cfg
