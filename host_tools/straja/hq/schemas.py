"""JSON Schemas of the MQTT payloads (docs/schemas/), made from the event classes of
`straja.gateway.events`, the one definition of every event's fields.

    python -m straja.hq.schemas docs/schemas      # write them (tests/test_hq_schemas.py checks
                                                  # the committed files are what this makes)
"""
from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from pathlib import Path

from ..gateway import events as ev

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://straja.invalid/schemas/"   # names the files; nothing is fetched from it
SCALARS = {int: {"type": "integer"}, float: {"type": "number"}, str: {"type": "string"},
           bool: {"type": "boolean"}, dict: {"type": "object"}}


def _type_schema(hint) -> dict:
    """The JSON Schema of one field, from its type annotation."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [_type_schema(a) for a in args if a is not type(None)]
        schema = options[0] if len(options) == 1 else {"anyOf": options}
        return {"anyOf": [schema, {"type": "null"}]} if type(None) in args else schema
    if origin is tuple:
        return {"type": "array", "items": _type_schema(args[0])}
    if dataclasses.is_dataclass(hint):
        return _object_schema(hint)
    if hint is float:  # JSON writes a whole float as an integer: both are numbers
        return {"type": "number"}
    return dict(SCALARS[hint])


def required_fields(cls) -> set[str]:
    """The fields an event of class `cls` must carry: those without a default (a field added
    later has one, so a gateway of the same layout version that predates it is still read)."""
    return {f.name for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}


def _object_schema(cls, extra: dict | None = None) -> dict:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    properties = {**(extra or {}), **{n: _type_schema(hints[n]) for n in names}}
    return {"type": "object", "properties": properties,
            "required": sorted({*(extra or {}), *required_fields(cls)}),
            "additionalProperties": False}


def event_schema() -> dict:
    """An event as published on `events/<kind>`: as stored, with its `id`."""
    defs = {kind: _object_schema(cls, {"id": {"type": "integer", "minimum": 1},
                                       "kind": {"const": kind}})
            for kind, cls in sorted(ev.KINDS.items())}
    return {"$schema": DRAFT, "$id": BASE_ID + "event.json",
            "title": "A Straja gateway event (topic straja/v1/<site>/<gateway>/events/<kind>)",
            "$defs": defs, "oneOf": [{"$ref": f"#/$defs/{kind}"} for kind in defs]}


def node_status_schema() -> dict:
    """The retained `nodes/<node id>/status`: the node's latest status change."""
    kinds = sorted(k for k, cls in ev.KINDS.items() if issubclass(cls, ev.NodeStatusChange))
    return {"$schema": DRAFT, "$id": BASE_ID + "node_status.json",
            "title": "A node's latest status (topic straja/v1/<site>/<gateway>/nodes/<id>/status)",
            "oneOf": [{"$ref": f"event.json#/$defs/{kind}"} for kind in kinds]}


SCHEMAS = {"event.json": event_schema, "node_status.json": node_status_schema}


def rendered() -> dict[str, str]:
    """File name -> its text, as committed under docs/schemas/."""
    return {name: json.dumps(make(), indent=1) + "\n" for name, make in SCHEMAS.items()}


def write(folder: Path) -> None:
    for name, text in rendered().items():
        (folder / name).write_text(text)


if __name__ == "__main__":
    write(Path(sys.argv[1]))
