"""SQLite's write lock: readers never wait for it, writers get it soon after it is free."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.runtime.context import Context
from bot.store import reading, transaction
from bot.store.db import begin_immediate
from bot.store.models import School


def _holder(ctx: Context) -> sqlite3.Connection:
    """A second connection (another process, say) that has taken the write lock."""
    raw = sqlite3.connect(ctx.engine.url.database, isolation_level=None, timeout=0,
                          check_same_thread=False)
    raw.execute("BEGIN IMMEDIATE")
    raw.execute("INSERT INTO schools (name, timezone, staff_language, languages, policy, "
                "created_at) VALUES ('held', 'Europe/London', 'en', '[]', '{}', "
                "'2026-01-01 00:00:00')")
    return raw


def test_a_read_goes_ahead_while_another_connection_holds_the_write_lock(
        sqlite_ctx: Context) -> None:
    holder = _holder(sqlite_ctx)
    try:
        with reading(sqlite_ctx.factory) as s:  # would wait 30 s behind BEGIN IMMEDIATE
            assert s.scalar(select(func.count()).select_from(School)) == 0  # not committed
    finally:
        holder.rollback()
        holder.close()


def test_a_writer_waits_for_the_lock_and_then_writes(sqlite_ctx: Context) -> None:
    holder = _holder(sqlite_ctx)
    released = threading.Event()

    def release_later() -> None:
        time.sleep(0.3)
        holder.commit()
        released.set()

    threading.Thread(target=release_later).start()
    with transaction(sqlite_ctx.factory) as s:
        s.connection()  # BEGIN IMMEDIATE: waits here
        assert released.is_set()  # it got the lock only once the other writer was done
        s.add(School(name="after"))
    holder.close()
    with reading(sqlite_ctx.factory) as s:
        assert sorted(s.scalars(select(School.name))) == ["after", "held"]


def test_a_writer_gives_up_with_a_database_error_when_the_lock_never_comes(
        sqlite_ctx: Context) -> None:
    holder = _holder(sqlite_ctx)
    try:
        raw = sqlite3.connect(sqlite_ctx.engine.url.database, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            begin_immediate(raw, patience=0.05)
        # the connection's own busy timeout is back for everything else it does
        assert raw.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
        raw.close()
    finally:
        holder.rollback()
        holder.close()


def test_the_engine_reports_a_lock_timeout_as_a_database_error(
        sqlite_ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.store.db.BUSY_SECONDS", 0.05)
    holder = _holder(sqlite_ctx)
    try:
        with pytest.raises(OperationalError), transaction(sqlite_ctx.factory) as s:
            s.add(School(name="never"))
    finally:
        holder.rollback()
        holder.close()


def test_reading_sees_committed_rows_on_both_databases(ctx: Context) -> None:
    with transaction(ctx.factory) as s:
        s.add(School(name="Hill Top"))
    with reading(ctx.factory) as s:
        assert s.scalars(select(School.name)).all() == ["Hill Top"]
