"""A throwaway PostgreSQL server for tests and benchmarks: the binaries the `pgserver` package
bundles (PyPI, installed by the `test` extra), a new cluster in a temporary folder, listening
only on a unix socket there, stopped and removed by `stop`.

PostgreSQL refuses to run as root: as root the cluster belongs to `nobody` and its programs run
as that user (no account is created). When `nobody` cannot reach the bundled binaries (a checkout
in a folder only root may enter, as `mktemp -d` makes), they are copied into the cluster's folder:
PostgreSQL finds its libraries and shares relative to its programs.
"""
from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

SUPERUSER = "postgres"
START_TIMEOUT_S = 30


def binaries() -> Path:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("PostgreSQL's binaries come from the `pgserver` package: "
                           "pip install 'straja[test]' (make installs it)")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def reachable_by_others(path: Path) -> bool:
    """Whether a user other than the owner may pass through every folder down to path."""
    return all(folder.stat().st_mode & stat.S_IXOTH for folder in (path, *path.parents))


class ThrowawayPostgres:
    def __init__(self):
        self.bin = binaries()
        # in /tmp, not a test's tmp_path: a unix socket path is at most 107 bytes, and `nobody`
        # must reach it
        self.folder = Path(tempfile.mkdtemp(prefix="straja-pg-"))
        self.data = self.folder / "data"
        self.owner = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
        if self.owner is not None:
            os.chown(self.folder, self.owner.pw_uid, self.owner.pw_gid)
        self.folder.chmod(0o755)
        if self.owner is not None and not reachable_by_others(self.bin):
            self.bin = self._copy_binaries()
        self._databases = 0

    def _copy_binaries(self) -> Path:
        """The programs, libraries and shares copied in the cluster's folder, in the package's
        layout (its programs find the wheel's libraries at $ORIGIN/../../../pgserver.libs)."""
        site = self.bin.parents[2]
        for part in ("pgserver/pginstall/bin", "pgserver/pginstall/lib",
                     "pgserver/pginstall/share", "pgserver.libs"):
            if (site / part).exists():
                shutil.copytree(site / part, self.folder / "site" / part, symlinks=True)
        return self.folder / "site" / self.bin.relative_to(site)

    def _run(self, program: str, *args: str) -> None:
        def as_owner():
            os.setgid(self.owner.pw_gid)
            os.setuid(self.owner.pw_uid)
        done = subprocess.run([str(self.bin / program), *args], capture_output=True, text=True,
                              timeout=START_TIMEOUT_S, cwd=self.folder,
                              preexec_fn=as_owner if self.owner is not None else None)
        if done.returncode:
            raise RuntimeError(f"{program} failed: {done.stderr or done.stdout}")

    def start(self) -> "ThrowawayPostgres":
        try:
            self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                      "--encoding=UTF8", "--no-sync")
            self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.folder / "log"),
                      "-o", f"-h '' -k {self.folder} -F", "start")  # no TCP; no fsync (a test)
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={quote(str(self.folder))}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        import psycopg
        self._databases += 1
        name = f"test{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
