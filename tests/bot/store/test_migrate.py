"""Several processes starting together on an empty database all come up migrated, and
the schema version can be read and checked without migrating."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.store import make_engine
from bot.store.migrate import current, head
from tests.conftest import PG_ENV

ROOT = Path(__file__).resolve().parents[3]
UPGRADE = ("from bot.store import make_engine, upgrade; import sys; "
           "upgrade(make_engine(sys.argv[1]))")


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'new.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (CI sets it; see README)")
    schema = f"sg_empty_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_four_upgrades_started_together_all_succeed(empty_url: str) -> None:
    """Issue 18: three of four failed with UniqueViolation on alembic_version."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = [subprocess.Popen([sys.executable, "-c", UPGRADE, empty_url], env=env,
                                cwd=ROOT, stderr=subprocess.PIPE, text=True)
               for _ in range(4)]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in started]
    assert [code for code, _ in results] == [0, 0, 0, 0], [e[-500:] for _, e in results]
    engine = make_engine(empty_url)
    try:
        assert current(engine) == head()
    finally:
        engine.dispose()


def test_db_current_and_check_look_without_migrating(empty_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHOOLGATE_DATABASE_URL": empty_url,
           "SCHOOLGATE_OUTBOX_DIR": str(tmp_path / "outbox")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)

    before = run("db", "current")
    assert before.returncode == 0 and "empty (no schema yet)" in before.stdout
    check = run("db", "check")
    assert check.returncode == 1 and "schoolgate db upgrade" in check.stderr
    engine = make_engine(empty_url)
    try:
        assert current(engine) is None  # looking did not migrate
        assert run("db", "upgrade").returncode == 0
        assert current(engine) == head()
    finally:
        engine.dispose()
    after = run("db", "check")
    assert after.returncode == 0 and head() in after.stdout
