"""straja hq's store on both backends: tests take `hq_db` (an SQLite file, then a new database
on a throwaway PostgreSQL server: straja.testing.postgres) and run once on each."""
from __future__ import annotations

import pytest

from straja.testing.postgres import ThrowawayPostgres


@pytest.fixture(scope="session")
def postgres_server():
    server = ThrowawayPostgres().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def hq_db(request, tmp_path) -> str:
    """Where straja hq stores: a file, or a PostgreSQL URL (a database of its own)."""
    if request.param == "sqlite":
        return str(tmp_path / "hq.db")
    return request.getfixturevalue("postgres_server").new_database()
