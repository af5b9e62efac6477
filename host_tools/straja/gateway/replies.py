"""Node replies the gateway uses (`info`, `get plan`), checked before anything reads them.

A reply is the node's text; a broken or hostile node can send any JSON up to a frame's size. It
is refused with a reason when it nests deeper than MAX_DEPTH (Python's parser would recurse
until RecursionError) or is not the shape the command answers with (docs/firmware.md).
"""
from __future__ import annotations

import json

from straja_node.limits import (CHANNELS_MAX, DWELL_US_MAX, DWELL_US_MIN, ENVELOPE_N_MIN, KHZ_MAX,
                                RATE_HZ_MAX, RATE_HZ_MIN, REVISIT_MAX, TEMP_S_MAX)
from straja_node.wire import MAX_ENVELOPE_SAMPLES

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


def parse(text: str):
    """The reply's JSON value; None if it is not JSON (a plain-text reply)."""
    if _depth(text) > MAX_DEPTH:
        raise ReplyError(f"nested deeper than {MAX_DEPTH}")
    try:
        return json.loads(text)
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


def check_plan_reply(reply: dict) -> int:
    """A `get plan` reply: the stored plan and the seconds a temporary plan has left (0: none;
    absent from firmware before temporary plans). Returns those seconds."""
    check_plan(reply["plan"])
    temp_s = reply.get("temp_plan_s", 0)
    _int(temp_s, "temp_plan_s", 0, TEMP_S_MAX)
    return temp_s


def check_info(info: dict) -> None:
    """An `info` reply: front_ends (name, kind, band_khz [lo, hi], optional settle_us and
    filter_khz) and, optionally, the plan the node runs."""
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
    if "plan" in info:
        check_plan(info["plan"])
    if "temp_plan_s" in info:
        _int(info["temp_plan_s"], "temp_plan_s", 0, TEMP_S_MAX)


def check_status_fields(info: dict, counts: tuple[str, ...], flags: tuple[str, ...]) -> None:
    """Fields of an `info` reply a tool prints: `counts` integers, `flags` true or false."""
    for key in counts:
        _int(info.get(key), key)
    for key in flags:
        if not isinstance(info.get(key), bool):
            raise ReplyError(f"{key} is not true or false")
