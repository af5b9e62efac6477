"""straja hq's store: every event of every site once, and the region tracks (docs/hq.md), in
SQLite (a file) or PostgreSQL (a `postgresql://` URL, when the history outgrows one file).

One store interface over both: the SQL is written once, with `?` placeholders and the upsert
syntax both engines share (`ON CONFLICT`); only the column types of MIGRATIONS differ, through
the dialect's TYPES. The schema is versioned by the `schema_migrations` table and upgraded by
MIGRATIONS, applied in order under a lock (two connections opening a new store at once apply
each migration once).

An event is known by its site, its gateway, its `id` in the gateway's store and its `t_ns` (a
gateway that starts a new store counts ids from 1 again; its events then differ in time), so a
repeat (MQTT delivers at least once) is ignored by the UNIQUE constraint. `seq` is the order
straja hq received the events in, which is each site's order (docs/hq.md).
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from pathlib import Path

from .. import term
from ..errors import StrajaError
from ..gateway.store import refuse_another_programs
from ..web.hub import ALERT_KINDS, NODE_KINDS

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
UNVERSIONED_TABLES = frozenset(("events", "region_tracks"))  # a store made before versioning
MIGRATIONS = (
    # 1: the event log and the region tracks (a store made before versioning has them already)
    """
    CREATE TABLE IF NOT EXISTS events (
        seq {seq}, site TEXT NOT NULL, gateway TEXT NOT NULL, event_id {int}, kind TEXT NOT NULL,
        t_ns {int} NOT NULL, node TEXT, alert TEXT, received_ns {int} NOT NULL,
        payload TEXT NOT NULL, UNIQUE (site, gateway, event_id, t_ns));
    CREATE INDEX IF NOT EXISTS events_kind ON events (kind, t_ns);
    CREATE INDEX IF NOT EXISTS events_site ON events (site, gateway, seq);
    CREATE TABLE IF NOT EXISTS region_tracks (
        region_id TEXT PRIMARY KEY, family TEXT NOT NULL, lo_khz {int} NOT NULL,
        hi_khz {int} NOT NULL, first_ns {int} NOT NULL, last_ns {int} NOT NULL,
        active {int} NOT NULL, severity TEXT NOT NULL, sites TEXT NOT NULL, alerts TEXT NOT NULL);
    """,
    # 2: the site track of track events, so a restarted straja hq finds the tracks still open
    # (events stored before have none: their tracks are not restored)
    """
    ALTER TABLE events ADD COLUMN track TEXT;
    CREATE INDEX events_track ON events (track, seq);
    CREATE INDEX events_alert ON events (alert, seq);
    CREATE INDEX events_node ON events (node, seq);
    """,
)
TRACK_KINDS = ("track_started", "track_ended")


class Engine:
    """A DB-API connection in autocommit mode: transactions are begun and ended by hand."""
    conn = None

    def execute(self, sql: str, params=()):
        return self.conn.execute(sql, params)

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()


class Sqlite(Engine):
    TYPES = {"seq": "INTEGER PRIMARY KEY", "int": "INTEGER"}

    def __init__(self, path: str):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        refuse_another_programs(self.conn, UNVERSIONED_TABLES)
        self.conn.execute("PRAGMA busy_timeout=5000")
        self._wal()
        self.conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a power cut loses the last commits

    def _wal(self, timeout_s: float = 5.0) -> None:
        """Switch to WAL. The switch of a new file needs a lock SQLite may not wait for (another
        process opening the same new store at once: "database is locked"), so it is retried."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def begin(self, exclusive: bool) -> None:
        self.conn.execute("BEGIN IMMEDIATE" if exclusive else "BEGIN")


class Postgres(Engine):
    TYPES = {"seq": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "int": "BIGINT"}
    MIGRATION_LOCK = 0x5374726A  # pg_advisory_xact_lock key: "Strj"

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError:
            raise StrajaError("a PostgreSQL store needs the `postgres` extra (psycopg)",
                              "pip install 'straja[postgres]'", term.EXIT_USAGE) from None
        try:
            self.conn = psycopg.connect(url, autocommit=True)
        except psycopg.Error as e:
            raise StrajaError(f"cannot open the PostgreSQL store: {str(e).strip()}",
                              "check the URL (postgresql://USER@HOST/DATABASE), that the server "
                              "runs and that the database exists", term.EXIT_USAGE) from None

    def execute(self, sql: str, params=()):
        return self.conn.execute(sql.replace("?", "%s"), params)

    def begin(self, exclusive: bool) -> None:
        self.conn.execute("BEGIN")
        if exclusive:
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.MIGRATION_LOCK,))


def is_url(location) -> bool:
    return str(location).startswith(POSTGRES_SCHEMES)


class Database:
    """A connection to the store, SQLite or PostgreSQL by its location, with the schema up to
    date: `execute` (SQL with `?` placeholders) and `transaction`."""

    def __init__(self, location: str | Path):
        self.engine = Postgres(str(location)) if is_url(location) else Sqlite(str(location))
        self._migrate()

    def execute(self, sql: str, params=()):
        return self.engine.execute(sql, params)

    @contextlib.contextmanager
    def transaction(self, exclusive: bool = False):
        """Commits what is done inside, or rolls it back on an exception; exclusive: no other
        connection migrates meanwhile."""
        self.engine.begin(exclusive)
        try:
            yield self
        except BaseException:
            self.engine.rollback()
            raise
        self.engine.commit()

    def schema_version(self) -> int:
        return self.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]

    def _migrate(self) -> None:
        with self.transaction(exclusive=True):
            self.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version {int} PRIMARY KEY, "
                         "applied_ns {int} NOT NULL)".format(**self.engine.TYPES))
        for version, sql in enumerate(MIGRATIONS, start=1):
            with self.transaction(exclusive=True):
                if self.execute("SELECT 1 FROM schema_migrations WHERE version = ?",
                                (version,)).fetchone():
                    continue
                for statement in sql.format(**self.engine.TYPES).split(";"):
                    if statement.strip():
                        self.execute(statement)
                self.execute("INSERT INTO schema_migrations VALUES (?, ?)",
                             (version, time.time_ns()))

    def close(self) -> None:
        self.engine.close()


def connect(location: str | Path) -> Database:
    return Database(location)


class HqStore:
    def __init__(self, location: str | Path):
        self.db = connect(location)

    def transaction(self):
        return self.db.transaction()

    def add(self, site: str, gateway: str, event: dict, received_ns: int) -> bool:
        """Stores a site's event (its region-wide `node` and `alert` ids in it); False if it is
        a repeat."""
        return self.add_all([(site, gateway, event)], received_ns)[0]

    def add_all(self, events: list[tuple[str, str, dict]], received_ns: int) -> list[bool]:
        """Stores sites' events (site, gateway, event), in their order, in one statement (one
        round trip to a server); for each, False if it is a repeat (of one stored before, or of
        one earlier in `events`)."""
        if not events:
            return []
        rows = [(site, gateway, e.get("id"), e["kind"], e["t_ns"], e.get("node_id"),
                 e.get("alert_id"),
                 f"{site}:{gateway}:{e['track_id']}" if e["kind"] in TRACK_KINDS else None,
                 received_ns, json.dumps(e, separators=(",", ":"))) for site, gateway, e in events]
        inserted = set(self.db.execute(
            "INSERT INTO events (site, gateway, event_id, kind, t_ns, node, alert, track, "
            "received_ns, payload) VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
            + " ON CONFLICT DO NOTHING RETURNING site, gateway, event_id, t_ns",
            [v for row in rows for v in row]).fetchall())
        new = []
        for row in rows:
            key = (row[0], row[1], row[2], row[4])
            new.append(key in inserted)
            inserted.discard(key)  # a repeat later in the same batch
        return new

    def region_track(self, s: dict) -> None:
        self.db.execute(
            "INSERT INTO region_tracks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (region_id) DO UPDATE SET family = excluded.family, "
            "lo_khz = excluded.lo_khz, hi_khz = excluded.hi_khz, first_ns = excluded.first_ns, "
            "last_ns = excluded.last_ns, active = excluded.active, severity = excluded.severity, "
            "sites = excluded.sites, alerts = excluded.alerts",
            (s["region_id"], s["family"], s["lo_khz"], s["hi_khz"], s["first_ns"], s["last_ns"],
             int(s["active"]), s["severity"], json.dumps(s["sites"]), json.dumps(s["alerts"])))

    def forget_region_track(self, region_id: str) -> None:
        """A region track merged into another (straja.hq.region)."""
        self.db.execute("DELETE FROM region_tracks WHERE region_id = ?", (region_id,))

    def query(self, **filters) -> list[dict]:
        return query(self.db, **filters)

    def region_tracks(self, since_ns: int | None = None) -> list[dict]:
        return region_tracks(self.db, since_ns)

    def live(self) -> list[dict]:
        """What a restarted straja hq rebuilds its live state from, in the order received: each
        node's latest status and stats, each alert's first and latest event and its latest
        acknowledgement, and the track events of tracks not ended."""
        return [json.loads(p) for (p,) in self.db.execute(
            "SELECT payload FROM events WHERE seq IN ("
            f"SELECT MAX(seq) FROM events WHERE kind IN {_sql_list(NODE_KINDS)} "
            "GROUP BY node, kind "
            f"UNION SELECT MIN(seq) FROM events WHERE kind IN {_sql_list(ALERT_KINDS)} GROUP BY alert "
            f"UNION SELECT MAX(seq) FROM events WHERE kind IN {_sql_list(ALERT_KINDS)} GROUP BY alert "
            "UNION SELECT MAX(seq) FROM events WHERE kind = 'alert_acknowledged' GROUP BY alert "
            "UNION SELECT MAX(seq) FROM events WHERE track IS NOT NULL GROUP BY track "
            "HAVING MAX(CASE WHEN kind = 'track_ended' THEN 1 ELSE 0 END) = 0) ORDER BY seq")]

    def last_ids(self) -> list[tuple[str, str, int]]:
        """(site, gateway, the greatest event id stored of it)."""
        return self.db.execute("SELECT site, gateway, MAX(event_id) FROM events "
                               "WHERE event_id IS NOT NULL GROUP BY site, gateway").fetchall()

    def close(self) -> None:
        self.db.close()


def _sql_list(words) -> str:
    """A constant list of kinds in SQL (our own names, never input)."""
    return "(" + ", ".join(f"'{w}'" for w in words) + ")"


def query(db: Database, *, kinds=(), site=None, node=None, alert=None, since_ns=None,
          until_ns=None, limit=None) -> list[dict]:
    """Stored events (JSON, with `site` and `gateway`) in the order received, filtered."""
    where, params = [], []
    for column, value in (("site", site), ("node", node), ("alert", alert)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if kinds:
        where.append(f"kind IN ({', '.join('?' * len(kinds))})")
        params += list(kinds)
    if since_ns is not None:
        where.append("t_ns >= ?")
        params.append(since_ns)
    if until_ns is not None:
        where.append("t_ns < ?")
        params.append(until_ns)
    sql = "SELECT payload FROM events" + (" WHERE " + " AND ".join(where) if where else "")
    if limit:  # the newest `limit`, still oldest first
        rows = db.execute(sql + " ORDER BY seq DESC LIMIT ?", [*params, limit]).fetchall()
        return [json.loads(p) for (p,) in reversed(rows)]
    return [json.loads(p) for (p,) in db.execute(sql + " ORDER BY seq", params)]


def region_tracks(db: Database, since_ns: int | None = None) -> list[dict]:
    """The stored region tracks, oldest first (since_ns: those active or seen since then)."""
    rows = db.execute("SELECT region_id, family, lo_khz, hi_khz, first_ns, last_ns, active, "
                      "severity, sites, alerts FROM region_tracks WHERE active = 1 OR last_ns >= ? "
                      "ORDER BY first_ns", (since_ns or 0,)).fetchall()
    return [{"region_id": r[0], "family": r[1], "lo_khz": r[2], "hi_khz": r[3],
             "first_ns": r[4], "last_ns": r[5], "active": bool(r[6]), "severity": r[7],
             "sites": json.loads(r[8]), "alerts": json.loads(r[9])} for r in rows]
