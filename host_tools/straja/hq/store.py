"""straja hq's SQLite: every event of every site once, and the region tracks (docs/hq.md).

An event is known by its site, its gateway, its `id` in the gateway's store and its `t_ns` (a
gateway that starts a new store counts ids from 1 again; its events then differ in time), so a
repeat (MQTT delivers at least once) is ignored by the UNIQUE constraint.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,            -- the order straja hq received them in
    site TEXT NOT NULL, gateway TEXT NOT NULL, event_id INTEGER, kind TEXT NOT NULL,
    t_ns INTEGER NOT NULL, node TEXT, alert TEXT, received_ns INTEGER NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (site, gateway, event_id, t_ns));
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, t_ns);
CREATE INDEX IF NOT EXISTS events_site ON events (site, gateway, seq);
CREATE TABLE IF NOT EXISTS region_tracks (
    region_id TEXT PRIMARY KEY, family TEXT NOT NULL, lo_khz INTEGER NOT NULL,
    hi_khz INTEGER NOT NULL, first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL,
    active INTEGER NOT NULL, severity TEXT NOT NULL, sites TEXT NOT NULL, alerts TEXT NOT NULL);
"""


def connect(path: str | Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # WAL: a power cut loses at most the last commits
    db.execute("PRAGMA busy_timeout=5000")
    db.executescript(SCHEMA)
    return db


class HqStore:
    def __init__(self, path: str | Path):
        self.db = connect(path)

    def add(self, site: str, gateway: str, event: dict, received_ns: int) -> bool:
        """Stores a site's event (its region-wide `node` and `alert` ids in it); False if it is
        a repeat."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO events (site, gateway, event_id, kind, t_ns, node, alert, "
            "received_ns, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (site, gateway, event.get("id"), event["kind"], event["t_ns"], event.get("node_id"),
             event.get("alert_id"), received_ns, json.dumps(event, separators=(",", ":"))))
        return cur.rowcount == 1

    def region_track(self, s: dict) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO region_tracks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (s["region_id"], s["family"], s["lo_khz"], s["hi_khz"], s["first_ns"], s["last_ns"],
             int(s["active"]), s["severity"], json.dumps(s["sites"]), json.dumps(s["alerts"])))

    def forget_region_track(self, region_id: str) -> None:
        """A region track merged into another (straja.hq.region)."""
        self.db.execute("DELETE FROM region_tracks WHERE region_id = ?", (region_id,))

    def close(self) -> None:
        self.db.close()


def query(db: sqlite3.Connection, *, kinds=(), site=None, node=None, alert=None, since_ns=None,
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


def region_tracks(db: sqlite3.Connection) -> list[dict]:
    rows = db.execute("SELECT region_id, family, lo_khz, hi_khz, first_ns, last_ns, active, "
                      "severity, sites, alerts FROM region_tracks ORDER BY first_ns").fetchall()
    return [{"region_id": r[0], "family": r[1], "lo_khz": r[2], "hi_khz": r[3],
             "first_ns": r[4], "last_ns": r[5], "active": bool(r[6]), "severity": r[7],
             "sites": json.loads(r[8]), "alerts": json.loads(r[9])} for r in rows]
