"""The schema: migrations match the models on both databases; times come back aware."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.runtime.context import Context
from bot.store import upgrade
from bot.store.models import Base, School, utcnow


def test_migrations_match_models(ctx: Context) -> None:
    with ctx.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(ctx: Context) -> None:
    upgrade(ctx.engine)
    upgrade(ctx.engine)


def test_datetimes_round_trip_as_aware_utc(ctx: Context) -> None:
    now = utcnow()
    with ctx.factory() as s, s.begin():
        s.add(School(name="x", created_at=now))
    with ctx.factory() as s:
        school = s.query(School).one()
        assert school.created_at.tzinfo is not None
        assert abs((school.created_at - now).total_seconds()) < 1e-3
