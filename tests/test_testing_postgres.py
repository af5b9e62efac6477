"""The throwaway PostgreSQL server of the hq tests (straja.testing.postgres) starts wherever the
checkout is: as root its programs run as `nobody`, who may not enter the checkout's folder."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from straja.testing import postgres
from straja.testing.postgres import ThrowawayPostgres, reachable_by_others


def test_a_folder_only_its_owner_may_enter_is_not_reachable_below():
    top = Path(tempfile.mkdtemp())  # (in /tmp: pytest's own folders are 0700)
    try:
        inner = top / "closed" / "bin"
        inner.mkdir(parents=True)
        top.chmod(0o755)
        assert reachable_by_others(inner)
        (top / "closed").chmod(0o700)
        assert not reachable_by_others(inner)
    finally:
        shutil.rmtree(top)


@pytest.mark.skipif(os.geteuid() != 0, reason="the programs run as another user only as root")
def test_binaries_in_a_folder_only_root_may_enter_are_copied_where_nobody_runs_them(
        tmp_path, monkeypatch):
    site = postgres.binaries().parents[2]
    closed = tmp_path / "checkout"
    for part in ("pgserver", "pgserver.libs"):
        shutil.copytree(site / part, closed / part, symlinks=True)
    closed.chmod(0o700)  # as `mktemp -d` makes it
    monkeypatch.setattr(postgres, "binaries", lambda: closed / "pgserver" / "pginstall" / "bin")
    server = ThrowawayPostgres().start()
    try:
        assert server.bin.is_relative_to(server.folder)
        with psycopg.connect(server.new_database()) as conn:
            assert conn.execute("SELECT 1 + 1").fetchone() == (2,)
    finally:
        server.stop()
    assert not server.folder.exists()
