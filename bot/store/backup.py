"""Backups of the database, and restoring one into an empty database.

SQLite through its online backup API (a consistent copy while the school keeps
working), PostgreSQL through `pg_dump` (custom format) and `pg_restore`. A backup holds
the database only: the outbox folder (development mode) and the settings file, which
holds the secrets, are named by `backup` so the school keeps them too, separately.
A restore goes into an empty database only, so it can never mix two schools' records.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import URL, make_url

from bot.errors import InvalidInputError, SchoolgateError
from bot.store.models import Base

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


@dataclass(frozen=True, slots=True)
class BackupResult:
    """What a backup wrote."""

    path: Path
    backend: str  # sqlite, postgresql
    size: int


def backup(engine: Engine, target: Path) -> BackupResult:
    """Write a consistent copy of the database to `target` (a new file)."""
    if target.exists():
        raise InvalidInputError(f"{target} exists already: choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    if engine.dialect.name == "sqlite":
        _sqlite_copy(_sqlite_path(engine.url), str(target))
    elif engine.dialect.name == "postgresql":
        args = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                f"--file={target}"]
        args += [f"--schema={s}" for s in _schemas(engine.url)]
        _run([*args, _libpq(engine.url)], "pg_dump")
    else:
        raise InvalidInputError(f"backups of {engine.dialect.name} are not supported")
    return BackupResult(target, engine.dialect.name, target.stat().st_size)


def restore(engine: Engine, source: Path) -> None:
    """Restore the backup `source` into this database, which must be empty."""
    if not source.is_file():
        raise InvalidInputError(f"{source} is not a file")
    with open(source, "rb") as f:
        head = f.read(16)
    ours = [t for t in inspect(engine).get_table_names() if t in Base.metadata.tables]
    if ours:
        raise InvalidInputError(
            "the database is not empty (it has schoolgate tables): restore into a new, "
            "empty database, then point SCHOOLGATE_DATABASE_URL at it")
    if engine.dialect.name == "sqlite":
        if not head.startswith(SQLITE_MAGIC):
            raise InvalidInputError(f"{source} is not a SQLite backup")
        engine.dispose()  # no connection of ours may hold the file while it is replaced
        _sqlite_copy(str(source), _sqlite_path(engine.url))
    elif engine.dialect.name == "postgresql":
        if not head.startswith(PG_MAGIC):
            raise InvalidInputError(f"{source} is not a PostgreSQL backup (pg_dump -Fc)")
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
              "--single-transaction", f"--dbname={_libpq(engine.url)}", str(source)],
             "pg_restore")
    else:
        raise InvalidInputError(f"restoring into {engine.dialect.name} is not supported")


def _sqlite_copy(source: str, target: str) -> None:
    """SQLite's online backup: page by page and consistent; writers may go on meanwhile."""
    src, dest = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dest)
    finally:
        dest.close()
        src.close()


def _sqlite_path(url: URL) -> str:
    if not url.database or url.database == ":memory:":
        raise InvalidInputError("an in-memory SQLite database has nothing to back up")
    return url.database


def _libpq(url: URL) -> str:
    """The URL as libpq reads it (pg_dump has no idea of '+psycopg')."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _schemas(url: URL) -> list[str]:
    """Schemas named by `options=-csearch_path=...` in the URL (else the whole database)."""
    options = str(url.query.get("options", ""))
    for part in options.split():
        if part.startswith("-csearch_path="):
            return [s for s in part.split("=", 1)[1].split(",") if s and s != "public"]
    return []


def _run(args: list[str], tool: str) -> None:
    if shutil.which(args[0]) is None:
        raise SchoolgateError(f"{tool} is not installed: install the PostgreSQL client "
                              "tools of the server's version (Debian: postgresql-client)")
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise SchoolgateError(f"{tool} failed: {last[:300]}")
