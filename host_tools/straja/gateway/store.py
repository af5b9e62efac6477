"""The SQLite event store: every event, plus tables a technician queries (docs/gateway.md).

WAL mode (readers such as `straja events` never block the gateway, and a power cut loses at most
the last transaction); the schema is versioned by the `schema_migrations` table and upgraded by
the MIGRATIONS below, applied in order, each in its own transaction. The MQTT outbox lives here
too, so events not yet acknowledged by the broker survive a gateway restart.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from pathlib import Path

from .events import (AlertCleared, AlertEvent, Event, KnownAdded, KnownRemoved, NodeOffline,
                     NodePlan, NodeRestarted, NodeStats, NodeStatusChange, Stored, TrackEnded,
                     TrackEvent, dumps, to_json)
from .known import KnownEmitter

MIGRATIONS = (
    # 1: the event log and the tables derived from it
    """
    CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, t_ns INTEGER NOT NULL,
        kind TEXT NOT NULL, node_id INTEGER, alert_id TEXT, payload TEXT NOT NULL);
    CREATE INDEX events_t ON events (t_ns);
    CREATE INDEX events_kind ON events (kind, t_ns);
    CREATE TABLE nodes (node_id INTEGER PRIMARY KEY, first_seen_ns INTEGER, last_seen_ns INTEGER,
        port TEXT, online INTEGER NOT NULL DEFAULT 0, firmware TEXT);
    CREATE TABLE node_status (id INTEGER PRIMARY KEY AUTOINCREMENT, node_id INTEGER NOT NULL,
        t_ns INTEGER NOT NULL, status TEXT NOT NULL, port TEXT, detail TEXT);
    CREATE INDEX node_status_node ON node_status (node_id, t_ns);
    CREATE TABLE tracks (track_id TEXT PRIMARY KEY, family TEXT NOT NULL, first_ns INTEGER,
        last_ns INTEGER, lo_khz INTEGER, hi_khz INTEGER, hits INTEGER, nodes TEXT, ended INTEGER);
    CREATE TABLE alerts (alert_id TEXT PRIMARY KEY, track_id TEXT, family TEXT, severity TEXT,
        trend TEXT, raised_ns INTEGER, updated_ns INTEGER, cleared_ns INTEGER, nodes TEXT,
        text TEXT);
    CREATE TABLE node_stats (id INTEGER PRIMARY KEY AUTOINCREMENT, node_id INTEGER NOT NULL,
        t_ns INTEGER NOT NULL, frames INTEGER, lost INTEGER, restarts INTEGER,
        clock_offset_ns INTEGER, uptime_s INTEGER, mem_free INTEGER, overruns INTEGER,
        frames_dropped INTEGER);
    CREATE INDEX node_stats_node ON node_stats (node_id, t_ns);
    """,
    # 2: the MQTT outbox: rows leave when the broker has acknowledged them (QoS 1 PUBACK)
    """
    CREATE TABLE mqtt_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id INTEGER,
        topic TEXT NOT NULL, payload TEXT NOT NULL, retain INTEGER NOT NULL DEFAULT 0);
    """,
    # 3: each node's normal scan plan (node_plan events), restored by the next gateway; and
    # whether a gateway is running (1) or stopped cleanly (0), to tell a crash at the next start
    """
    CREATE TABLE node_plans (node_id INTEGER PRIMARY KEY, t_ns INTEGER NOT NULL,
        plan TEXT NOT NULL);
    CREATE TABLE gateway_run (id INTEGER PRIMARY KEY CHECK (id = 1), running INTEGER NOT NULL);
    """,
    # 4: the site's known emitters (gateway/known.py): known_added events less known_removed;
    # known_id is the id of the known_added event
    """
    CREATE TABLE known_emitters (known_id INTEGER PRIMARY KEY, t_ns INTEGER NOT NULL,
        families TEXT NOT NULL, lo_khz INTEGER NOT NULL, hi_khz INTEGER NOT NULL,
        nodes TEXT NOT NULL, source TEXT NOT NULL, by TEXT NOT NULL);
    """,
)


def refuse_another_programs(db: sqlite3.Connection, unversioned: frozenset = frozenset()) -> None:
    """Closes `db` and raises sqlite3.DatabaseError when it is another program's database (its
    tables, none of them schema_migrations, and not all of them the `unversioned` ones a store
    made before versioning has): it is left as it is, neither migrated nor switched to WAL (the
    gateway's store and straja hq's)."""
    tables = sorted(n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'"))
    if tables and "schema_migrations" not in tables and not set(tables) <= unversioned:
        db.close()
        raise sqlite3.DatabaseError(f"its tables ({', '.join(tables[:4])}) are another "
                                    "program's")


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection with the schema up to date (WAL; waits up to 10 s for a writer's lock)."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), timeout=10, isolation_level=None, check_same_thread=False)
    refuse_another_programs(db)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable up to the last checkpoint
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
               "applied_ns INTEGER NOT NULL)")
    done = {v for (v,) in db.execute("SELECT version FROM schema_migrations")}
    for version, sql in enumerate(MIGRATIONS, start=1):
        if version in done:
            continue
        with write_transaction(db):
            if not db.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                for statement in sql.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time_ns()))
    return db


@contextlib.contextmanager
def write_transaction(db: sqlite3.Connection):
    """BEGIN IMMEDIATE (the write lock taken now: no other writer between its reads and writes),
    COMMIT at the end; ROLLBACK on any exception, re-raised: all of it stored or none."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def schema_version(db: sqlite3.Connection) -> int:
    return db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]


class Store:
    """Writes events (one transaction per batch) and keeps the derived tables current."""

    def __init__(self, path: str | Path, topics=None):
        self.db = connect(path)
        self.topics = topics  # event -> [(topic, retain)] for the MQTT outbox; None: no MQTT
        self._data_version = None

    def write(self, events: list[Event]) -> list[Stored]:
        """Store events; returns them with their `id` (the event log's row id)."""
        if not events:
            return []
        out = []
        db = self.db
        with write_transaction(db):
            # the ids AUTOINCREMENT would give (the largest ever given, plus one: this
            # transaction holds the write lock), so each row is written once, with its payload
            # (which holds its id)
            last = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            next_id = last[0] + 1 if last else 1
            for next_id, event in enumerate(events, next_id):
                stored = Stored(event, next_id)
                payload = dumps(event, next_id)
                db.execute("INSERT INTO events (id, t_ns, kind, node_id, alert_id, payload) "
                           "VALUES (?,?,?,?,?,?)",
                           (next_id, event.t_ns, event.kind, getattr(event, "node_id", None),
                            getattr(event, "alert_id", None), payload))
                self._derive(event, stored.id)
                for topic, retain in (self.topics(event) if self.topics else ()):
                    db.execute("INSERT INTO mqtt_outbox (event_id, topic, payload, retain) "
                               "VALUES (?,?,?,?)", (stored.id, topic, payload, int(retain)))
                out.append(stored)
        return out

    def _derive(self, e: Event, event_id: int) -> None:
        db = self.db
        if isinstance(e, NodeStatusChange):
            port = getattr(e, "port", None)
            db.execute("INSERT INTO nodes (node_id, first_seen_ns, last_seen_ns, port, online) "
                       "VALUES (?,?,?,?,?) ON CONFLICT(node_id) DO UPDATE SET "
                       "last_seen_ns = excluded.last_seen_ns, online = excluded.online, "
                       "port = COALESCE(excluded.port, port)",
                       (e.node_id, e.t_ns, e.t_ns, port, int(not isinstance(e, NodeOffline))))
            db.execute("INSERT INTO node_status (node_id, t_ns, status, port, detail) "
                       "VALUES (?,?,?,?,?)", (e.node_id, e.t_ns, e.status, port,
                                              e.reset_cause if isinstance(e, NodeRestarted) else None))
        elif isinstance(e, NodeStats):
            db.execute("INSERT INTO node_stats (node_id, t_ns, frames, lost, restarts, "
                       "clock_offset_ns, uptime_s, mem_free, overruns, frames_dropped) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?)",
                       (e.node_id, e.t_ns, e.frames, e.lost, e.restarts, e.clock_offset_ns,
                        e.uptime_s, e.mem_free, e.overruns, e.frames_dropped))
            db.execute("UPDATE nodes SET firmware = ? WHERE node_id = ?", (e.firmware, e.node_id))
        elif isinstance(e, AlertEvent):
            db.execute("INSERT INTO alerts (alert_id, track_id, family, severity, trend, raised_ns, "
                       "updated_ns, cleared_ns, nodes, text) VALUES (?,?,?,?,?,?,?,?,?,?) "
                       "ON CONFLICT(alert_id) DO UPDATE SET severity = excluded.severity, "
                       "trend = excluded.trend, updated_ns = excluded.updated_ns, "
                       "cleared_ns = excluded.cleared_ns, nodes = excluded.nodes, text = excluded.text",
                       (e.alert_id, e.track_id, e.family, e.severity, e.trend, e.t_ns, e.t_ns,
                        e.t_ns if isinstance(e, AlertCleared) else None, _nodes_json(e), e.text))
        elif isinstance(e, NodePlan):
            db.execute("INSERT OR REPLACE INTO node_plans VALUES (?,?,?)",
                       (e.node_id, e.t_ns, json.dumps(list(e.plan))))
        elif isinstance(e, TrackEvent):
            db.execute("INSERT OR REPLACE INTO tracks VALUES (?,?,?,?,?,?,?,?,?)",
                       (e.track_id, e.family, e.first_ns, e.last_ns, e.lo_khz, e.hi_khz, e.hits,
                        _nodes_json(e), int(isinstance(e, TrackEnded))))
        elif isinstance(e, KnownAdded):
            db.execute("INSERT INTO known_emitters VALUES (?,?,?,?,?,?,?,?)",
                       (event_id, e.t_ns, json.dumps(e.families), e.lo_khz, e.hi_khz,
                        _nodes_json(e), e.source, e.by))
        elif isinstance(e, KnownRemoved):
            db.execute("DELETE FROM known_emitters WHERE known_id = ?", (e.known_id,))

    def normal_plans(self) -> dict[int, list]:
        """The nodes' normal plans as the last node_plan events gave them."""
        return {node_id: json.loads(plan)
                for node_id, plan in self.db.execute("SELECT node_id, plan FROM node_plans")}

    def known_emitters(self) -> list[KnownEmitter]:
        return known_emitters(self.db)

    def changed_elsewhere(self) -> bool:
        """Whether another connection (`straja known`, the dashboard) wrote since the last call."""
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        changed, self._data_version = version != self._data_version, version
        return changed

    def begin_run(self) -> bool:
        """Mark a gateway running; True if the previous one never stopped cleanly (end_run)."""
        row = self.db.execute("SELECT running FROM gateway_run").fetchone()
        self.db.execute("INSERT OR REPLACE INTO gateway_run VALUES (1, 1)")
        return bool(row and row[0])

    def end_run(self) -> None:
        self.db.execute("UPDATE gateway_run SET running = 0")

    def close(self) -> None:
        self.db.close()


def _nodes_json(e: TrackEvent | KnownAdded) -> str:
    """A track's (known emitter's) nodes column: the `nodes` of its event's JSON."""
    return json.dumps(to_json(e)["nodes"])


def known_emitters(db: sqlite3.Connection) -> list[KnownEmitter]:
    """The site's known emitters, oldest first."""
    return [KnownEmitter(known_id, tuple(json.loads(families)), lo, hi,
                         {n["node_id"]: (n["lo_dbm"], n["hi_dbm"]) for n in json.loads(nodes)},
                         source)
            for known_id, families, lo, hi, nodes, source in db.execute(
                "SELECT known_id, families, lo_khz, hi_khz, nodes, source FROM known_emitters "
                "ORDER BY known_id")]


def latest_alert(db: sqlite3.Connection, alert_id: str) -> dict | None:
    """The latest stored event of an alert (raised, updated or cleared), or None."""
    row = db.execute("SELECT payload FROM events WHERE alert_id = ? AND kind IN "
                     "('alert_raised', 'alert_updated', 'alert_cleared') ORDER BY id DESC LIMIT 1",
                     (alert_id,)).fetchone()
    return json.loads(row[0]) if row else None


def query_events(db: sqlite3.Connection, *, kinds=(), node_id=None, alert_id=None,
                 since_ns=None, until_ns=None, limit=None) -> list[dict]:
    """Stored events, oldest first, filtered (the `straja events` query)."""
    where, args = [], []
    if kinds:
        where.append(f"kind IN ({','.join('?' * len(kinds))})")
        args += list(kinds)
    for column, op, value in (("node_id", "=", node_id), ("alert_id", "=", alert_id),
                              ("t_ns", ">=", since_ns), ("t_ns", "<", until_ns)):
        if value is not None:
            where.append(f"{column} {op} ?")
            args.append(value)
    sql = "SELECT payload FROM events" + (" WHERE " + " AND ".join(where) if where else "")
    if limit:  # the newest `limit`, still listed oldest first
        rows = db.execute(sql + f" ORDER BY id DESC LIMIT {int(limit)}", args).fetchall()[::-1]
    else:
        rows = db.execute(sql + " ORDER BY id", args).fetchall()
    return [json.loads(p) for (p,) in rows]
