"""Engine and session set-up for SQLite (embedded default) and PostgreSQL.

SQLite gets WAL, a busy timeout, foreign keys and `BEGIN IMMEDIATE` for every
transaction that may write: a write lock taken up front means two workers never both
read a row as free and then both claim it, and writers queue instead of failing with
"database is locked" half way through. Read-only work (`reading`) begins with a plain
`BEGIN`: in WAL mode readers never wait for the writer, so a page view or a health check
does not queue behind reply routing.

Waiting for the write lock is done here, not by SQLite's busy handler: that handler
sleeps in steps growing to 100 ms, so a short webhook transaction behind a long one
could wait far longer than the lock was held. We poll every 0.2-1 ms instead, up to the
same 30 seconds.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import CursorResult, Result, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

READ_ONLY = "schoolgate_read_only"  # execution option: this transaction only reads
BUSY_SECONDS = 30.0  # how long a writer waits for SQLite's write lock before giving up
_FIRST_WAIT, _LONGEST_WAIT = 0.0002, 0.001


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the per-dialect settings schoolgate relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": BUSY_SECONDS}, **kwargs)
        _configure_sqlite(engine)
        return engine
    if parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(False))
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    writer = _LocalWriter()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_SECONDS * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        raw = conn.connection.driver_connection
        if conn.get_execution_options().get(READ_ONLY):
            raw.execute("BEGIN")
            return
        writer.acquire(raw)
        try:
            begin_immediate(raw)
        except sqlite3.OperationalError as exc:  # as SQLAlchemy reports its own errors
            writer.release(raw)
            raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
        except BaseException:
            writer.release(raw)
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn: Any) -> None:
        writer.release(conn.connection.driver_connection)

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(dbapi_connection: Any, _record: Any) -> None:
        writer.release(dbapi_connection)  # in case a transaction ended without either

    @event.listens_for(engine.pool, "invalidate")
    @event.listens_for(engine.pool, "close")
    def _on_gone(dbapi_connection: Any, *_args: Any) -> None:
        writer.release(dbapi_connection)


class _LocalWriter:
    """This process's writers queue here, one at a time, for SQLite's write lock.

    SQLite lets one connection write at a time whatever we do; queueing on a local lock
    first means at most one thread of this process polls for it (the others sleep
    without touching the GIL), which matters when a web process has dozens of request
    threads. The lock is released when the transaction commits or rolls back, or at the
    latest when its connection goes back to the pool.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: int | None = None

    def acquire(self, raw: object) -> None:
        if not self._lock.acquire(timeout=BUSY_SECONDS):
            raise OperationalError("BEGIN IMMEDIATE", None,
                                   sqlite3.OperationalError("database is locked"))
        self._holder = id(raw)

    def release(self, raw: object) -> None:
        if self._holder is not None and self._holder == id(raw):
            self._holder = None
            self._lock.release()


def begin_immediate(raw: sqlite3.Connection, patience: float | None = None) -> None:
    """`BEGIN IMMEDIATE`, polling for the write lock every 0.2-1 ms for up to `patience` s
    (BUSY_SECONDS unless given)."""
    raw.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + (BUSY_SECONDS if patience is None else patience)
        wait = _FIRST_WAIT
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise
            time.sleep(wait)
            wait = min(wait * 2, _LONGEST_WAIT)
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(BUSY_SECONDS * 1000)}")


def is_postgres(engine: Engine) -> bool:
    """True when the engine talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched: `Session.execute` is typed as returning a plain
    `Result`, but a DML statement's is always a `CursorResult`, which has the count."""
    assert isinstance(result, CursorResult), "rowcount needs an UPDATE/DELETE's result"
    return result.rowcount


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (CLI output, tests)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A read-only unit of work: on SQLite it takes no write lock and waits for none.

    Nothing may be written in it: on SQLite a write would have to upgrade the read
    snapshot, which fails at once if anyone else wrote meanwhile. Writes belong in
    `transaction`.
    """
    with factory() as session:
        session.connection(execution_options={READ_ONLY: True})
        try:
            yield session
        finally:
            session.rollback()
