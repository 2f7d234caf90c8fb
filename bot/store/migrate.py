"""Alembic, driven from code so `schoolgate db upgrade` works from any folder.

Every command brings the schema up to date when it starts, so several processes may
start together (the web process, its companion, a cron job). Migrations run under one
lock per database: a PostgreSQL advisory lock, or a lock file beside the SQLite file.
The first process migrates; the others wait, then find nothing left to do.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")
#: the advisory lock's key on PostgreSQL: any constant our own code uses for nothing else
LOCK_KEY = 0x5C400106


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to this engine, with the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to `revision` (idempotent, safe to run concurrently)."""
    with migration_lock(engine):
        command.upgrade(alembic_config(engine), revision)


def current(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    """The newest revision this version of schoolgate knows."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    found = ScriptDirectory.from_config(config).get_current_head()
    assert found is not None, "the packaged migrations have a head"
    return found


@contextlib.contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's migration lock (waits for another process to finish first)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" \
            or sys.platform == "win32":
        yield  # an in-memory database belongs to one process; no flock on Windows
        return
    import fcntl

    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    with open(lock_path, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
