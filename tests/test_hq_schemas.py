"""The MQTT payload schemas (docs/schemas/) are those of the event classes, and the events a
gateway really makes validate against them."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from straja.gateway import config, events as ev, record, replay, store
from straja.gateway.pipeline import Pipeline
from straja.hq import schemas
from straja.testing import synth

DOCS = Path(__file__).resolve().parents[1] / "docs" / "schemas"
T0 = 1_700_000_000_000_000_000


def validator(name: str) -> jsonschema.Draft202012Validator:
    texts = {n: json.loads((DOCS / n).read_text()) for n in schemas.SCHEMAS}
    registry = Registry().with_resources(
        (schemas.BASE_ID + n, Resource.from_contents(s)) for n, s in texts.items())
    jsonschema.Draft202012Validator.check_schema(texts[name])
    return jsonschema.Draft202012Validator(texts[name], registry=registry)


def test_the_committed_schemas_are_the_event_classes():
    assert {p.name: p.read_text() for p in DOCS.glob("*.json")} == schemas.rendered(), \
        "docs/schemas is stale: run python -m straja.hq.schemas docs/schemas"
    assert set(json.loads((DOCS / "event.json").read_text())["$defs"]) == set(ev.KINDS)


@pytest.fixture(scope="module")
def gateway_events(tmp_path_factory):
    """Every event a gateway stored from two nodes seeing a video link, as published."""
    emitter = synth.Emitter(5_800_000, 20_000, lambda t: -75.0 + 2 * t if 2 < t < 12 else None)
    chunks = synth.merge(synth.node_chunks(n, [emitter], t0_ns=T0, duration_s=20,
                                           offset_ns=n * 1_000_000) for n in (1, 2))
    st = store.Store(tmp_path_factory.mktemp("gw") / "gw.db")
    replay.feed(Pipeline(config.GatewayConfig()),
                [record.Record(record.DATA, c.source, c.t_ns, c.data) for c in chunks],
                on_events=st.write, settle_s=30)
    return store.query_events(st.db)


def test_real_gateway_events_validate(gateway_events):
    kinds = {e["kind"] for e in gateway_events}
    assert {"node_online", "alert_raised", "alert_cleared", "track_started"} <= kinds
    check = validator("event.json")
    for event in gateway_events:
        check.validate(event)
    statuses = [e for e in gateway_events if e["kind"] in ("node_online", "node_offline")]
    for event in statuses:
        validator("node_status.json").validate(event)


def test_what_breaks_the_layout_is_refused(gateway_events):
    check = validator("event.json")
    raised = next(e for e in gateway_events if e["kind"] == "alert_raised")
    for bad in ({**raised, "lo_khz": "5.8 GHz"}, {**raised, "surprise": 1},
                {k: v for k, v in raised.items() if k != "id"}, {**raised, "kind": "bogus"},
                {**raised, "nodes": [{"node_id": 1}]}):
        assert not check.is_valid(bad), bad
    assert not validator("node_status.json").is_valid(raised)
