"""A real, throwaway PostgreSQL server for the tests: pgserver's wheel ships the
PostgreSQL binaries, so no system install is needed (the dev extra installs it). One
server runs for the whole test session in a temporary folder; each test gets a schema of
its own (`new_database`: a URL whose search_path is that schema), which costs
milliseconds where a CREATE DATABASE costs a second.

Nothing here skips: without pgserver or psycopg the import fails and so does the test.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import psycopg
from pgserver.postgres_server import get_server as start_postgres

__all__ = ["LocalPostgres"]


class LocalPostgres:
    def __init__(self) -> None:
        # A short path: the server's Unix socket lives in this folder, and socket paths
        # are limited to ~107 bytes (pytest's tmp_path can be longer).
        self.folder = Path(tempfile.mkdtemp(prefix="geobot-pg-"))
        data = self.folder / "data"
        try:
            self._server = start_postgres(data, cleanup_mode="stop")
        except subprocess.TimeoutExpired:
            # pgserver gives `pg_ctl start` 10 s, which a loaded machine can exceed; the
            # server goes on starting, and a second call waits for it to be ready.
            self._server = start_postgres(data, cleanup_mode="stop")
        with psycopg.connect(self.url(), autocommit=True) as conn:
            # A throwaway server: durability is not what the tests measure, and without
            # these a loaded machine spends seconds syncing each commit and the stop.
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                conn.execute(f"ALTER SYSTEM SET {setting} = off")
            conn.execute("SELECT pg_reload_conf()")
        self._names = itertools.count(1)

    def url(self, schema: str | None = None) -> str:
        url = f"postgresql://postgres@/postgres?host={self.folder / 'data'}"
        if schema is not None:
            url += "&options=" + quote(f"-c search_path={schema}", safe="")
        return url

    def new_database(self) -> str:
        """A new, empty schema; a URL whose tables are made and found there."""
        name = f"geobot_test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return self.url(name)

    def stop(self) -> None:
        try:
            self._server.cleanup()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
