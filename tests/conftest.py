"""Shared fixtures: a database per test (SQLite always, PostgreSQL when configured),
an isolated working folder and environment, and a guard that fails any test that
tries to reach beyond this machine."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot import clock as process_clock
from bot.clock import RunningClock
from bot.config import Settings
from bot.runtime.context import Context
from bot.store import make_engine, upgrade
from bot.store.models import Base
from tests.clocks import clock  # noqa: F401  (stopped clock fixture, for tests about time)

PG_ENV = "SCHOOLGATE_TEST_DATABASE_URL"


# -- network guard ---------------------------------------------------------------------
class NetworkAccessError(AssertionError):
    """A test tried to open a connection that is not on this machine."""


def _is_local(address: object) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_local(address):
        raise NetworkAccessError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_local(address):
        raise NetworkAccessError(f"test tried to reach the network: {address!r}")
    return _real_connect_ex(self, address)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


# -- isolation -------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in its own folder with no provider or schoolgate settings inherited."""
    for name in list(os.environ):
        if name.startswith(("TWILIO_", "SMTP_", "IMAP_", "TELEGRAM_", "SCHOOLGATE_")) \
                and name != PG_ENV:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


#: Every test starts at a school-day afternoon, the moment a teacher would write: the
#: cadence policy applies as in production (quiet hours, caps, positive first) without the
#: suite depending on the hour it runs at. Tests about time set their own clock.
SCHOOL_DAY = datetime(2026, 11, 18, 14, 0, tzinfo=ZoneInfo("Europe/London"))


@pytest.fixture(autouse=True)
def _school_day_clock() -> Iterator[RunningClock]:
    """The process clock starts on Wednesday 18 November 2026, 14:00 in London, and runs."""
    with process_clock.using(RunningClock(SCHOOL_DAY)) as running:
        yield running  # type: ignore[misc]


# -- databases -------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (CI sets it; see README)")
    schema = f"sg_test_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path) -> str:
    """A migrated, empty database: SQLite file, or PostgreSQL schema emptied for this test."""
    if request.param == "sqlite":
        path = tmp_path / "schoolgate.db"
        shutil.copy(_sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("_pg_url")
    engine = make_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A migrated, empty SQLite database, for tests that do not depend on the backend."""
    path = tmp_path / "schoolgate.db"
    shutil.copy(_sqlite_template, path)
    return f"sqlite:///{path}"


def make_settings(db_url: str, tmp_path: Path, **overrides: object) -> Settings:
    """Settings for a test: its database, its outbox folder, no .env file."""
    values: dict[str, object] = {"database_url": db_url, "outbox_dir": tmp_path / "outbox"}
    values.update(overrides)
    return Settings(_env_file=None, **values).check()  # type: ignore[call-arg]


@pytest.fixture
def ctx(db_url: str, tmp_path: Path) -> Iterator[Context]:
    """A Context on the test database, with outbox channels in the test folder."""
    context = Context(make_settings(db_url, tmp_path))
    yield context
    context.engine.dispose()


@pytest.fixture
def sqlite_ctx(sqlite_url: str, tmp_path: Path) -> Iterator[Context]:
    """A Context on SQLite only."""
    context = Context(make_settings(sqlite_url, tmp_path))
    yield context
    context.engine.dispose()
