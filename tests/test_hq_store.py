"""straja hq's store on SQLite and PostgreSQL (one interface: straja.hq.store): migrations,
events once by id, the order of each site, and the live state a restarted straja hq rebuilds
from it (docs/hq.md, "The store")."""
from __future__ import annotations

import json
import sqlite3
import threading

from hq_backends import hq_db, postgres_server  # noqa: F401 (fixtures)
from straja import cli
from straja.gateway.config import WebConfig
from straja.hq import store as hq_store
from straja.hq.service import Hq
from straja.hq.web import HqHistory
from straja.web.hub import Hub
from test_hq_web import S, T, feed, messages

# The schema straja hq wrote before its store was versioned (migration 1 is it, unchanged).
UNVERSIONED = """
CREATE TABLE events (seq INTEGER PRIMARY KEY, site TEXT NOT NULL, gateway TEXT NOT NULL,
    event_id INTEGER, kind TEXT NOT NULL, t_ns INTEGER NOT NULL, node TEXT, alert TEXT,
    received_ns INTEGER NOT NULL, payload TEXT NOT NULL, UNIQUE (site, gateway, event_id, t_ns));
CREATE TABLE region_tracks (region_id TEXT PRIMARY KEY, family TEXT NOT NULL,
    lo_khz INTEGER NOT NULL, hi_khz INTEGER NOT NULL, first_ns INTEGER NOT NULL,
    last_ns INTEGER NOT NULL, active INTEGER NOT NULL, severity TEXT NOT NULL,
    sites TEXT NOT NULL, alerts TEXT NOT NULL);
"""


def test_a_new_store_is_at_the_latest_version_and_reopening_changes_nothing(hq_db):
    first = hq_store.HqStore(hq_db)
    assert first.db.schema_version() == len(hq_store.MIGRATIONS)
    assert first.add("A", "gw", {"kind": "node_online", "id": 1, "t_ns": T, "node_id": "A:gw:1"}, T)
    again = hq_store.HqStore(hq_db)  # a second connection while the first is open
    assert again.db.schema_version() == len(hq_store.MIGRATIONS)
    assert [e["node_id"] for e in again.query()] == ["A:gw:1"]
    first.close()
    again.close()


def test_processes_opening_a_new_store_at_once_apply_each_migration_once(hq_db):
    """straja hq and its dashboard open the store at the same moment on a first start."""
    opened, failed = [], []

    def open_store():
        try:
            opened.append(hq_store.HqStore(hq_db))
        except Exception as e:  # reported below, with what it was
            failed.append(e)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failed == [] and len(opened) == 4
    versions = opened[0].db.execute("SELECT version FROM schema_migrations ORDER BY version")
    assert [v for (v,) in versions] == list(range(1, len(hq_store.MIGRATIONS) + 1))
    for store in opened:
        store.close()


def test_a_store_from_before_versioning_is_upgraded_with_its_events(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(UNVERSIONED)
    old.execute("INSERT INTO events (site, gateway, event_id, kind, t_ns, node, alert, "
                "received_ns, payload) VALUES ('A', 'gw', 1, 'node_online', 5, 'A:gw:1', NULL, "
                "6, '{\"kind\": \"node_online\"}')")
    old.commit()
    old.close()
    store = hq_store.HqStore(path)
    assert store.db.schema_version() == len(hq_store.MIGRATIONS)
    assert store.query() == [{"kind": "node_online"}]
    started = {"kind": "track_started", "id": 2, "t_ns": 7, "track_id": "T1"}
    assert store.add("A", "gw", started, 8)  # the column migration 2 added
    assert store.live() == [{"kind": "node_online"}, started]  # both live
    store.close()


def test_every_event_once_in_the_order_of_each_site(hq_db):
    store = hq_store.HqStore(hq_db)
    sent = {site: [{"kind": "node_stats", "id": i, "t_ns": T + i * S, "node_id": f"{site}:gw:1"}
                   for i in range(1, 6)] for site in "AB"}
    with store.transaction():
        for i in range(5):
            for site in "AB":
                assert store.add(site, "gw", sent[site][i], T)
                assert not store.add(site, "gw", sent[site][i], T)  # a repeat (same id and time)
    # a gateway that starts a new store counts its ids from 1 again: another event
    assert store.add("A", "gw", {**sent["A"][0], "t_ns": T + 99 * S}, T)
    for site in "AB":
        assert [e["id"] for e in store.query(site=site)][:5] == [1, 2, 3, 4, 5]
    assert len(store.query()) == 11
    assert [e["t_ns"] for e in store.query(limit=2)] == [T + 5 * S, T + 99 * S]
    assert store.query(node="B:gw:1", since_ns=T + 4 * S) == sent["B"][3:]
    store.close()


def test_a_batch_is_one_statement_and_its_own_repeats_are_found(hq_db):
    """straja hq stores what arrived during a commit with one INSERT (one round trip to a
    PostgreSQL server): an event twice in it, or stored before, is a repeat."""
    hq = Hq(hq_db)
    before, again, other = (json.dumps({"kind": "node_online", "id": i, "t_ns": T + i,
                                        "node_id": 1, "port": "p"}).encode() for i in (1, 2, 3))
    hq.handle("straja/v1/A/gw/events/node_online", before)
    topic = "straja/v1/A/gw/events/node_online"
    hq.handle_batch([(topic, again), (topic, before), (topic, again), ("bad/topic", b""),
                     ("straja/v1/B/gw/events/node_online", again), (topic, other)])
    assert hq.counts == {"received": 7, "stored": 4, "repeats": 2, "rejected": 1}
    assert [(e["site"], e["id"]) for e in hq.store.query()] == [("A", 1), ("A", 2), ("B", 2),
                                                                 ("A", 3)]
    hq.close()


def test_a_failed_transaction_stores_nothing(hq_db):
    store = hq_store.HqStore(hq_db)
    try:
        with store.transaction():
            store.add("A", "gw", {"kind": "node_online", "id": 1, "t_ns": T}, T)
            raise KeyError("a failure in the middle of a batch")
    except KeyError:
        pass
    assert store.query() == []
    store.close()


def stats(site: str, event_id: int, lat: float) -> tuple[str, dict]:
    return (f"straja/v1/{site}/gw/events/node_stats",
            {"kind": "node_stats", "id": event_id, "t_ns": T + event_id * S, "node_id": 1,
             "online": True, "frames": 10 * event_id, "lost": 0, "restarts": 0,
             "clock_offset_ns": 0, "uptime_s": event_id, "mem_free": 1000, "overruns": 0,
             "frames_dropped": 0, "firmware": "1.0", "latitude": lat, "longitude": 25.0,
             "height_m": 12.0})


def test_a_restarted_hq_shows_what_it_showed(hq_db):
    """Nodes (latest status and stats), alerts (latest event, acknowledgement), open site
    tracks and region tracks (same ids) come back from the store; a site's next alert joins the
    region track of before."""
    hub = Hub(WebConfig())
    hq = Hq(hq_db, hub=hub)
    a = messages("A", 0, 10)
    feed(hq, a[:2], [stats("A", 4, 45.0), stats("A", 5, 45.001)])
    started = {"kind": "track_started", "id": 6, "t_ns": T, "track_id": "T9",
               "family": "analog_fm_video", "lo_khz": 5_790_000, "hi_khz": 5_810_000,
               "first_ns": T, "last_ns": T, "hits": 1, "nodes": []}
    feed(hq, [("straja/v1/A/gw/events/track_started", started)])
    region_id = hq.fusion.by_alert["A:gw:A1"].region_id
    ack = hub.ack_event(f"region:hq:{region_id}", "duty", T + 3 * S)
    history = HqHistory(hq_db)
    hub.sink_json(history.acknowledge(ack))
    before = hub.snapshot()
    history.close()
    hq.close()

    hub2 = Hub(WebConfig())
    again = Hq(hq_db, hub=hub2)
    again.restore()
    after = hub2.snapshot()
    assert after["nodes"] == before["nodes"]
    assert after["nodes"][0]["stats"]["latitude"] == 45.001
    alerts = {a["alert_id"]: a for a in after["alerts"]}
    assert alerts == {a["alert_id"]: a for a in before["alerts"]}
    assert alerts[f"region:hq:{region_id}"]["acknowledged"]["by"] == "duty"
    assert list(again.tracks) == ["A:gw:T9"] and again.last_id == {("A", "gw"): 6}
    assert list(again.fusion.tracks) == [region_id]
    feed(again, messages("B", 12, 20)[1:2])  # B's alert: the drone of A, one track
    assert again.fusion.by_alert["B:gw:A1"].region_id == region_id
    assert again.store.region_tracks()[0]["sites"] == ["A", "B"]
    feed(again, [(a[1][0], a[1][1])])  # a repeat of what was stored before the restart
    assert again.counts["repeats"] == 1
    again.close()


def test_an_unreachable_postgresql_is_a_clear_error(tmp_path, capsys):
    url = f"postgresql://postgres@/none?host={tmp_path}"  # no server's socket there
    assert cli.main(["hq", "--broker", "127.0.0.1:1", "--db", url, "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert "cannot open the PostgreSQL store" in err and "fix:" in err and "Traceback" not in err
