"""Machine translation of families' replies into the staff language, shown beside the original.

Routed replies in another language are translated in one batched request per source
language, with every name on the school's roster (and the family's and the key
worker's), phone numbers, emails, links and addresses masked before the text leaves and
restored after; translations are cached like outbound
ones. The original body is never changed. When the backend fails, that language waits
`retry_seconds` and is tried again; a reply already in the staff language needs nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, not_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.inbound.reply_language import base_language
from bot.language.privacy import (
    PLACEHOLDER,
    Masked,
    Names,
    PlaceholderLostError,
    mask,
    school_names,
    unmask,
)
from bot.outbound.translate import text_hash
from bot.store.models import (
    InboundMessage,
    InboundStatus,
    Student,
    StudentGuardian,
    TranslationCache,
    utcnow,
)
from translations.machine import TranslationError, Translator

log = logging.getLogger(__name__)


def reply_names(session: Session, rows: list[InboundMessage]) -> dict[int, list[str]]:
    """Per reply: the names that must not leave the school (family, child, staff)."""
    students = {r.student_id for r in rows if r.student_id is not None}
    family: dict[int, list[str]] = defaultdict(list)
    if students:
        for link in session.scalars(select(StudentGuardian).where(
                StudentGuardian.student_id.in_(students))
                .options(selectinload(StudentGuardian.guardian))):
            family[link.student_id] += [link.guardian.first_name, link.guardian.last_name]
    out: dict[int, list[str]] = {}
    for row in rows:
        names: list[str] = []
        if row.guardian is not None:
            names += [row.guardian.first_name, row.guardian.last_name]
        child: Student | None = row.student
        if child is not None:
            names += [child.first_name, child.last_name, *family.get(child.id, [])]
            if child.key_worker is not None:
                names.append(child.key_worker.name)
        if row.routed_to is not None:
            names.append(row.routed_to.name)
        # "Ms Shah" is masked whole, and "Shah" alone too
        names += [part for n in list(names) for part in n.split() if len(part) > 2]
        out[row.id] = names
    return out


def _kept(text: str, translated: str) -> bool:
    """True when every placeholder survived, so the translation is worth caching."""
    return set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(translated))


class ReplyTranslationStep:
    """Fills `InboundMessage.translation` for routed replies not in the staff language."""

    def __init__(self, factory: sessionmaker[Session], translator: Translator | None,
                 staff_language: str = "en", *, retry_seconds: float = 300.0) -> None:
        self.factory = factory
        self.translator = translator
        self.staff_language = staff_language
        self.retry = timedelta(seconds=retry_seconds)
        self.requests = 0  # backend calls made, for tests
        # in memory on purpose: after a restart, trying once more at once is harmless
        self._language_waits: dict[str, datetime] = {}
        self._row_waits: dict[int, datetime] = {}

    def _due(self, now: datetime, limit: int
             ) -> tuple[list[InboundMessage], dict[int, Names]]:
        self._language_waits = {k: t for k, t in self._language_waits.items() if t > now}
        self._row_waits = {k: t for k, t in self._row_waits.items() if t > now}
        base = base_language(self.staff_language)
        language = func.lower(InboundMessage.language)
        query = (
            select(InboundMessage)
            .where(InboundMessage.guardian_id.is_not(None),
                   InboundMessage.status.in_([InboundStatus.ROUTED, InboundStatus.HANDLED]),
                   InboundMessage.translation.is_(None), InboundMessage.language.is_not(None),
                   InboundMessage.body != "",
                   not_(or_(language == base, language.like(f"{base}\\_%", escape="\\"),
                            language.like(f"{base}-%"))))
            .order_by(InboundMessage.id).limit(limit)
            .options(selectinload(InboundMessage.guardian),
                     selectinload(InboundMessage.student).selectinload(Student.key_worker),
                     selectinload(InboundMessage.routed_to)))
        if self._language_waits:
            query = query.where(InboundMessage.language.not_in(list(self._language_waits)))
        if self._row_waits:
            query = query.where(InboundMessage.id.not_in(list(self._row_waits)))
        with self.factory() as session:
            rows = list(session.scalars(query))
            names = reply_names(session, rows)
            return rows, {r.id: school_names(session, r.guardian.school_id) + names[r.id]
                          for r in rows if r.guardian is not None}

    async def run(self, now: datetime | None = None, limit: int = 500) -> int:
        """Translate what is waiting; returns the number of replies given a translation."""
        if self.translator is None:
            return 0
        now = now or utcnow()
        rows, names = self._due(now, limit)
        if not rows:
            return 0
        masked = {r.id: mask(r.body, names[r.id]) for r in rows}
        by_source: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            by_source[row.language or ""].add(masked[row.id].text)
        found: dict[tuple[str, str], str] = {}
        for source, texts in by_source.items():
            try:
                found.update(await self._translate(source, sorted(texts)))
            except TranslationError as exc:  # not before the service's Retry-After
                wait = timedelta(seconds=exc.retry_after or 0)
                self._language_waits[source] = now + max(self.retry, wait)
                log.warning("reply translation %s->%s failed: %s", source,
                            self.staff_language, exc)
        return self._store(rows, masked, found, now)

    async def _translate(self, source: str, texts: list[str]) -> dict[tuple[str, str], str]:
        """(source, masked text) -> translation, from the cache, then one backend request."""
        assert self.translator is not None
        backend, target = self.translator.name, self.staff_language
        hashes = {text_hash(t): t for t in texts}
        out: dict[tuple[str, str], str] = {}
        with self.factory() as session:
            for hit in session.scalars(select(TranslationCache).where(
                    TranslationCache.backend == backend,
                    TranslationCache.source_language == source,
                    TranslationCache.target_language == target,
                    TranslationCache.source_hash.in_(list(hashes)))):
                out[(source, hashes[hit.source_hash])] = hit.translated_text
        missing = [t for t in texts if (source, t) not in out]
        if not missing:
            return out
        self.requests += 1
        result = await self.translator.translate_batch(missing, source, target)
        pairs = dict(zip(missing, result, strict=True))
        try:
            with self.factory() as session, session.begin():
                session.add_all(
                    TranslationCache(backend=backend, source_language=source,
                                     target_language=target, source_hash=text_hash(text),
                                     source_text=text, translated_text=translated)
                    for text, translated in pairs.items() if _kept(text, translated))
        except IntegrityError:  # another worker cached one first; the cache is only a saving
            log.debug("reply translation cache: concurrent insert ignored")
        out.update(((source, t), r) for t, r in pairs.items())
        return out

    def _store(self, rows: list[InboundMessage], masked: dict[int, Masked],
               found: dict[tuple[str, str], str], now: datetime) -> int:
        stored = 0
        with self.factory() as session, session.begin():
            fresh = {r.id: r for r in session.scalars(
                select(InboundMessage).where(InboundMessage.id.in_([r.id for r in rows]))
                .with_for_update())}
            for stale in rows:
                row = fresh.get(stale.id)
                key = (stale.language or "", masked[stale.id].text)
                if row is None or key not in found or row.translation is not None \
                        or row.language != stale.language:
                    continue
                try:
                    row.translation = unmask(found[key], masked[stale.id].values)
                except PlaceholderLostError:
                    self._row_waits[row.id] = now + self.retry
                    log.warning("reply %s: translation dropped a name; retrying later", row.id)
                    continue
                stored += 1
        return stored
