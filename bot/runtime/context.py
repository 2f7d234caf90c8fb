"""What a running schoolgate process holds: settings, database, channels, the school."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TypedDict, Unpack

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

import bot.journeys  # noqa: F401  (every message kind registers itself with the core)
from bot.config import Settings
from bot.inbound.reply_translate import ReplyTranslationStep
from bot.outbound.translate import TranslationStep
from bot.outbound.worker import Worker, WorkerPolicy
from bot.store import make_engine, make_session_factory, upgrade
from bot.store.models import School
from channels.base import Channel
from channels.registry import build_channels
from scheduler.contact_summary import rebuild_if_marked
from translations.machine import build_translator


class WorkerOverrides(TypedDict, total=False):
    """What `Context.worker` lets a caller set (everything else comes from the settings)."""

    worker_id: str | None
    clock: Callable[[], datetime]


@dataclass
class Context:
    """Process-wide objects, built once from settings."""

    settings: Settings
    _channels: dict[str, Channel] | None = field(default=None, repr=False)

    @cached_property
    def engine(self) -> Engine:
        """The database engine."""
        return make_engine(self.settings.database_url)

    @cached_property
    def factory(self) -> sessionmaker[Session]:
        """Session factory for this database."""
        return make_session_factory(self.engine)

    @property
    def channels(self) -> dict[str, Channel]:
        """Adapters by channel name (real provider, or the outbox folder in development)."""
        if self._channels is None:
            self._channels = build_channels(self.settings)
        return self._channels

    def upgrade(self) -> None:
        """Bring the schema up to date, then any summary a migration asked to be rebuilt."""
        upgrade(self.engine)
        with self.engine.begin() as conn:
            rebuild_if_marked(conn)

    def school(self, session: Session) -> School:
        """The school this installation serves, created from settings on first use."""
        school = session.scalar(select(School).order_by(School.id).limit(1))
        if school is None:
            school = School(name=self.settings.school_name, timezone=self.settings.timezone,
                            staff_language=self.settings.staff_language, languages=[], policy={})
            session.add(school)
            session.flush()
        return school

    def worker(self, **overrides: Unpack[WorkerOverrides]) -> Worker:
        """A worker over this context's channels with the configured policy."""
        s = self.settings
        policy = WorkerPolicy(
            batch_size=s.worker_batch_size, max_attempts=s.max_attempts,
            retry_base_seconds=s.retry_base_seconds, retry_max_seconds=s.retry_max_seconds,
            stale_sending_seconds=s.stale_sending_seconds, poll_seconds=s.worker_poll_seconds,
        )
        translator = build_translator(s)
        step = TranslationStep(self.factory, translator,
                               retry_seconds=s.translation_retry_seconds,
                               give_up_hours=s.translation_give_up_hours)
        replies = ReplyTranslationStep(self.factory, translator, s.staff_language,
                                       retry_seconds=s.translation_retry_seconds)
        return Worker(self.factory, self.channels, policy, public_url=s.public_url,
                      steps=(step.run, replies.run),
                      **overrides)
