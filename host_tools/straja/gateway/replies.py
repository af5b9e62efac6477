"""Node replies the gateway uses (`info`, `get plan`), checked before anything reads them.

A reply is the node's text; a broken or hostile node can send any JSON up to a frame's size. It
is refused with a reason when it nests deeper than MAX_DEPTH (Python's parser would recurse
until RecursionError) or is not the shape the command answers with (docs/firmware.md).
"""
from __future__ import annotations

import json

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


def _int(value, where: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ReplyError(f"{where} is not an integer")


def check_plan(plan, where: str = "plan") -> None:
    if not isinstance(plan, list):
        raise ReplyError(f"{where} is not a list")
    for i, entry in enumerate(plan):
        if not isinstance(entry, dict) or not isinstance(entry.get("front_end"), str):
            raise ReplyError(f"{where}[{i}] is not an entry with a front_end name")


def check_plan_reply(reply: dict) -> int:
    """A `get plan` reply: the stored plan and the seconds a temporary plan has left (0: none;
    absent from firmware before temporary plans). Returns those seconds."""
    check_plan(reply["plan"])
    temp_s = reply.get("temp_plan_s", 0)
    _int(temp_s, "temp_plan_s")
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
            _int(edge, f"{where}.band_khz[{j}]")
        for key in ("settle_us", "filter_khz"):
            if key in fe:
                _int(fe[key], f"{where}.{key}")
    if "plan" in info:
        check_plan(info["plan"])


def check_status_fields(info: dict, counts: tuple[str, ...], flags: tuple[str, ...]) -> None:
    """Fields of an `info` reply a tool prints: `counts` integers, `flags` true or false."""
    for key in counts:
        _int(info.get(key), key)
    for key in flags:
        if not isinstance(info.get(key), bool):
            raise ReplyError(f"{key} is not true or false")
