"""Pages that only read never wait for SQLite's write lock (held by routing or the worker)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.cli.support import simulate_reply
from bot.runtime.context import Context
from bot.web.app import create_app
from tests import factories as f
from tests.bot.web.staff.helpers import account, sign_in


@pytest.fixture
def client(sqlite_ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_ctx)) as test_client:
        yield test_client


def test_inbox_dashboard_and_health_answer_while_another_process_writes(
        sqlite_ctx: Context, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    with sqlite_ctx.factory() as s, s.begin():
        school = sqlite_ctx.school(s)
        ana = account(s, school, name="Ana Teacher", email="ana@school.test")
        child = f.student(s, school, ana, first_name="Zofia")
        f.guardian(s, school, child, first_name="Marta", phone="+447700900101")
    simulate_reply(sqlite_ctx, "+447700900101", "Dziękuję, do zobaczenia w piątek")
    assert sign_in(client, "ana@school.test").status_code == 303
    monkeypatch.setattr("bot.store.db.BUSY_SECONDS", 1.0)  # a wait would fail, not hang
    holder = sqlite3.connect(sqlite_ctx.engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # e.g. the worker routing a reply in another process
    try:
        for path in ("/healthz", "/inbox", "/", "/tasks", "/students", "/meetings",
                     "/outbox"):
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == 200, path
        inbox = client.get("/inbox").text
        assert "Marta" in inbox and "Zofia" in inbox and "waiting" in inbox
    finally:
        holder.rollback()
        holder.close()
