"""The store's event ids: what SQLite's AUTOINCREMENT gives (the store writes each row once,
with the payload that holds its id), never an id given before, even after the newest rows were
deleted; the payload's id is the row's."""
from __future__ import annotations

import json

import pytest

from straja.gateway import store
from straja.gateway.events import PortClosed, PortOpened


def test_ids_are_autoincrements_and_payloads_hold_them(tmp_path):
    st = store.Store(tmp_path / "gw.db")
    first = st.write([PortOpened(1, "/dev/a"), PortClosed(2, "/dev/a", None)])
    assert [s.id for s in first] == [1, 2]
    st.db.execute("DELETE FROM events WHERE id = 2")  # (a newest row removed: not reused)
    later = st.write([PortOpened(3, "/dev/b")]) + st.write([PortOpened(4, "/dev/c")])
    assert [s.id for s in later] == [3, 4]
    # what AUTOINCREMENT itself gives next
    st.db.execute("INSERT INTO events (t_ns, kind, payload) VALUES (5, 'x', '')")
    assert st.db.execute("SELECT MAX(id) FROM events").fetchone()[0] == 5
    rows = st.db.execute("SELECT id, kind, payload FROM events WHERE kind != 'x' ORDER BY id")
    for row_id, kind, payload in rows:
        assert json.loads(payload)["id"] == row_id and json.loads(payload)["kind"] == kind
    assert st.write([]) == []
    st.close()


def test_a_batch_that_fails_is_stored_not_at_all(tmp_path):
    """A batch is one transaction: an event the store fails on mid-batch leaves none of the
    batch's rows (nor their MQTT outbox rows), the error raised; the next batch is stored."""
    def topics(event):
        if event.t_ns == 3:
            raise RuntimeError("no topic")
        return [("straja/x", False)]

    st = store.Store(tmp_path / "gw.db", topics=topics)
    st.write([PortOpened(1, "/dev/a")])
    with pytest.raises(RuntimeError, match="no topic"):
        st.write([PortOpened(2, "/dev/b"), PortOpened(3, "/dev/c")])
    assert st.db.execute("SELECT t_ns FROM events").fetchall() == [(1,)]
    assert st.db.execute("SELECT COUNT(*) FROM mqtt_outbox").fetchone() == (1,)
    assert [s.id for s in st.write([PortOpened(4, "/dev/d")])] == [2]
    st.close()
