"""Node replies the gateway uses (`info`, `get plan`), checked before anything reads them.

A reply is the node's text; a broken or hostile node can send any JSON up to a frame's size. It
is refused with a reason when it nests deeper than MAX_DEPTH (Python's parser would recurse
until RecursionError), gives a key twice, or is not the shape the command answers with
(docs/firmware.md) in the firmware's own ranges and names; and a `get plan` reply's plan, which
the gateway sends back to the node, when the node's `plan` command would refuse it. The ranges,
an entry's keys and the rule for a name are the firmware's own, imported (straja_node.limits,
straja_node.plan), not copied.
"""
from __future__ import annotations

import json

from straja_node.limits import (CHANNELS_MAX, DWELL_US_MAX, DWELL_US_MIN, ENVELOPE_N_DEFAULT,
                                ENVELOPE_N_MIN, KHZ_MAX, NAME_MAX, PLAN_MAX, RATE_HZ_MAX,
                                RATE_HZ_MIN, REVISIT_MAX, SWEEP_US_MAX, TEMP_S_MAX)
from straja_node.plan import ENVELOPE_KEYS, SWEEP_KEYS, is_name
from straja_node.wire import MAX_ENVELOPE_SAMPLES

from ..frontends import FRONT_ENDS
from ..protocol import format_command

MAX_DEPTH = 8  # info: object > front_ends > entry > band_khz; plan: object > plan > entry > list


class ReplyError(ValueError):
    pass


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON text (brackets inside strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _object(pairs: list) -> dict:
    """A JSON object that names each key once: which of two a parser keeps differs (Python's
    the last, others the first), so a reply with a key twice is ambiguous."""
    value = dict(pairs)
    if len(value) < len(pairs):
        twice = next(key for i, (key, _) in enumerate(pairs) if key in dict(pairs[:i]))
        raise ReplyError(f"the key {json.dumps(twice)[:40]} is given twice")
    return value


def parse(text: str):
    """The reply's JSON value; None if it is not JSON (a plain-text reply)."""
    if _depth(text) > MAX_DEPTH:
        raise ReplyError(f"nested deeper than {MAX_DEPTH}")
    try:
        return json.loads(text, object_pairs_hook=_object)
    except ReplyError:
        raise
    except ValueError:
        return None


# A plan entry's numbers, in the firmware's ranges (its config.check_entry): the gateway makes
# focus and profile plans from them, so a value a node could not run is refused here, not met
# later as a TypeError or a division by zero in the middle of an alert.
ENTRY_INTS = {"start_khz": (1, KHZ_MAX), "stop_khz": (1, KHZ_MAX), "step_khz": (1, KHZ_MAX),
              "dwell_us": (DWELL_US_MIN, DWELL_US_MAX), "settle_us": (0, DWELL_US_MAX),
              "revisit": (0, REVISIT_MAX), "interleave": (0, 1),
              "n_channels": (1, CHANNELS_MAX),  # info gives a channel list by its length
              "rate_hz": (RATE_HZ_MIN, RATE_HZ_MAX), "n": (ENVELOPE_N_MIN, MAX_ENVELOPE_SAMPLES)}


def _int(value, where: str, lo: int | None = None, hi: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ReplyError(f"{where} is not an integer")
    if lo is not None and not lo <= value <= hi:
        raise ReplyError(f"{where} {value} is outside {lo}..{hi}")


def check_plan(plan, where: str = "plan") -> None:
    if not isinstance(plan, list):
        raise ReplyError(f"{where} is not a list")
    if len(plan) > PLAN_MAX:
        raise ReplyError(f"{where} has {len(plan)} entries, a node takes at most {PLAN_MAX}")
    for i, entry in enumerate(plan):
        at = f"{where}[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("front_end"), str):
            raise ReplyError(f"{at} is not an entry with a front_end name")
        for key, (lo, hi) in ENTRY_INTS.items():
            if key in entry:
                _int(entry[key], f"{at}.{key}", lo, hi)
        if entry.get("start_khz", 0) > entry.get("stop_khz", KHZ_MAX):
            raise ReplyError(f"{at}.start_khz is above its stop_khz")
        channels = entry.get("channels", [1])
        if not isinstance(channels, list) or not 0 < len(channels) <= CHANNELS_MAX:
            raise ReplyError(f"{at}.channels is not a list of 1..{CHANNELS_MAX} channels")
        for f in channels:
            _int(f, f"{at}.channels", 1, KHZ_MAX)


def plan_args(plan, temp_s: int = 0) -> str:
    """The `plan` command's arguments: the plan as JSON, temporary for temp_s seconds if > 0."""
    text = json.dumps(list(plan), separators=(",", ":"))
    return f"{text} temp={temp_s}" if temp_s else text


LONGEST_ID = 65535  # a command line is longest with a five-digit request id


def _name(value: str, where: str) -> None:
    """A front end's name or kind, by the firmware's rule (its config.check_name's)."""
    if not is_name(value):
        raise ReplyError(f"{where} is not a name of 1..{NAME_MAX} of a-z, 0-9, _ and -")


def _sweep_freqs(entry: dict, at: str) -> tuple[int, int, int]:
    """A sweep entry's (channels, lowest, highest kHz); ReplyError if it names none."""
    if "channels" in entry:
        return len(entry["channels"]), min(entry["channels"]), max(entry["channels"])
    if not {"start_khz", "stop_khz", "step_khz"} <= set(entry):
        raise ReplyError(f"{at} needs channels or start_khz, stop_khz, step_khz")
    n = (entry["stop_khz"] - entry["start_khz"]) // entry["step_khz"] + 1
    return n, entry["start_khz"], entry["start_khz"] + (n - 1) * entry["step_khz"]


def check_sendable_plan(plan: list, front_ends: list | None) -> None:
    """A plan the gateway may send back to the node as it is (a restore of its normal plan):
    what the firmware's `plan` command refuses is refused here, with the command line's length
    and, given the node's `info` front ends, their names, kinds, bands and settle times.
    `plan` has passed check_plan."""
    known = {fe["name"]: fe for fe in front_ends or ()}
    named = set()
    for i, entry in enumerate(plan):
        at, name = f"plan[{i}]", entry["front_end"]
        _name(name, f"{at}.front_end")
        if name in named:
            raise ReplyError(f"{at}: {name} already has a plan entry")
        named.add(name)
        span = _entry_span(entry, at)
        if front_ends is None:
            continue
        if name not in known:
            raise ReplyError(f"{at}.front_end {name} is not one of the node's front ends")
        _check_on_front_end(entry, at, known[name], span)
    try:
        format_command(LONGEST_ID, "plan", plan_args(plan))
    except ValueError as e:
        raise ReplyError(f"plan cannot be sent back: {e}") from None


def _entry_span(entry: dict, at: str) -> tuple[int, int] | None:
    """The firmware's own limits on one entry (its config.check_entry beyond check_plan's
    ranges); a sweep's lowest and highest kHz, None for an envelope entry."""
    envelope = "rate_hz" in entry
    unknown = set(entry).difference(ENVELOPE_KEYS if envelope else SWEEP_KEYS)
    if unknown:
        raise ReplyError(f"{at} has keys a node does not take: {', '.join(sorted(unknown))}")
    if envelope:
        block_us = entry.get("n", ENVELOPE_N_DEFAULT) * 1_000_000 // entry["rate_hz"]
        if block_us > SWEEP_US_MAX:
            raise ReplyError(f"{at}: a block takes {block_us} us, at most {SWEEP_US_MAX}")
        return None
    if "dwell_us" not in entry:
        raise ReplyError(f"{at}.dwell_us is missing")
    n, lo, hi = _sweep_freqs(entry, at)
    if n > CHANNELS_MAX:
        raise ReplyError(f"{at} has {n} channels, at most {CHANNELS_MAX}")
    sweep_us = (2 if entry.get("revisit") else 1) * n * entry["dwell_us"]
    if sweep_us > SWEEP_US_MAX:
        raise ReplyError(f"{at}: a sweep takes {sweep_us} us, at most {SWEEP_US_MAX}")
    return lo, hi


def _check_on_front_end(entry: dict, at: str, fe: dict, span: tuple[int, int] | None) -> None:
    """The limits of the front end the entry names (the firmware's scheduler.set_plan): its
    kind of entry, its band, its settle time."""
    kind = FRONT_ENDS.get(fe["kind"])
    if kind is not None and kind.envelope != (span is None):
        raise ReplyError(f"{at}: {fe['name']} ({fe['kind']}) takes "
                         + ("rate_hz and n" if kind.envelope else "channels and dwell_us"))
    if span is None:
        return
    (lo, hi), (band_lo, band_hi) = span, fe["band_khz"]
    if lo < band_lo or hi > band_hi:
        raise ReplyError(f"{at}: {lo}..{hi} kHz is outside {fe['name']}'s band "
                         f"{band_lo}..{band_hi}")
    settle = entry.get("settle_us", fe.get("settle_us", 0))
    if settle > entry["dwell_us"]:
        raise ReplyError(f"{at}.dwell_us {entry['dwell_us']} is shorter than its settle time "
                         f"{settle} us")


def check_plan_reply(reply: dict, front_ends: list | None = None) -> int:
    """A `get plan` reply: the stored plan and the seconds a temporary plan has left (0: none;
    absent from firmware before temporary plans). Returns those seconds. The stored plan is the
    node's normal plan, which the gateway sends back after a focus: one it could not send is
    refused here (check_sendable_plan, against `front_ends` of the node's info if known)."""
    check_plan(reply["plan"])
    check_sendable_plan(reply["plan"], front_ends)
    temp_s = reply.get("temp_plan_s", 0)
    _int(temp_s, "temp_plan_s", 0, TEMP_S_MAX)
    return temp_s


def check_info(info: dict) -> None:
    """An `info` reply: front_ends (name, kind, band_khz [lo, hi], optional settle_us and
    filter_khz) and, optionally, the plan the node runs (of those front ends)."""
    front_ends = info.get("front_ends")
    if not isinstance(front_ends, list):
        raise ReplyError("front_ends is not a list")
    for i, fe in enumerate(front_ends):
        where = f"front_ends[{i}]"
        if not isinstance(fe, dict):
            raise ReplyError(f"{where} is not an object")
        for key in ("name", "kind"):
            if not isinstance(fe.get(key), str):
                raise ReplyError(f"{where}.{key} is not a string")
            _name(fe[key], f"{where}.{key}")
        band = fe.get("band_khz")
        if not isinstance(band, list) or len(band) != 2:
            raise ReplyError(f"{where}.band_khz is not [lo, hi]")
        for j, edge in enumerate(band):
            _int(edge, f"{where}.band_khz[{j}]", 0, KHZ_MAX)
        if band[0] > band[1]:
            raise ReplyError(f"{where}.band_khz is not [lo, hi]")
        for key, hi in (("settle_us", DWELL_US_MAX), ("filter_khz", KHZ_MAX)):
            if key in fe:
                _int(fe[key], f"{where}.{key}", 0, hi)
    if "plan" in info:  # the plan it runs, which focus plans are made from
        check_plan(info["plan"])
        names = {fe["name"] for fe in front_ends}
        for i, entry in enumerate(info["plan"]):
            if entry["front_end"] not in names:
                raise ReplyError(f"plan[{i}].front_end is not one of front_ends' names")
    if "temp_plan_s" in info:
        _int(info["temp_plan_s"], "temp_plan_s", 0, TEMP_S_MAX)


def check_status_fields(info: dict, counts: tuple[str, ...], flags: tuple[str, ...]) -> None:
    """Fields of an `info` reply a tool prints: `counts` integers, `flags` true or false."""
    for key in counts:
        _int(info.get(key), key)
    for key in flags:
        if not isinstance(info.get(key), bool):
            raise ReplyError(f"{key} is not true or false")
