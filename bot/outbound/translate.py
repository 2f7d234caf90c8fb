"""Machine translation of outbox rows, batched and cached, personal data masked.

Rows waiting in 'translating' are grouped by message and language. Each message's
free text is masked (names, numbers, emails, links), looked up in the cache, and what is
missing is sent to the backend in one batched request per language pair, however
many families read that language. If the backend fails, the rows wait and are retried;
after the configured time the author is told (audit log and `schoolgate review`), and a
person may send it untranslated. Without a backend, rows go out at once. Untranslated, the
frame is still in the family's language (their catalog); only the staff's words stay in
the staff language, marked "not translated" (no service) or "could not be translated".
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.language.privacy import (
    Masked,
    Names,
    PlaceholderLostError,
    mask,
    school_names,
    unmask,
)
from bot.outbound.render import FAILED, Rendered, free_text, render
from bot.store.audit import audit
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Message,
    School,
    StudentGuardian,
    TranslationCache,
    utcnow,
)
from translations import has_catalog
from translations.machine import TranslationError, Translator

log = logging.getLogger(__name__)
DELAYED = "translation unavailable"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def names_in(session: Session, message: Message) -> list[str]:
    """Every name that must not leave the school: the child, their guardians, staff."""
    names: list[str] = []
    if message.student is not None:
        st = message.student
        names += [st.first_name, st.last_name]
        if st.key_worker is not None:
            names.append(st.key_worker.name)
        links = session.scalars(select(StudentGuardian).where(
            StudentGuardian.student_id == st.id).options(selectinload(StudentGuardian.guardian)))
        for link in links:
            names += [link.guardian.first_name, link.guardian.last_name]
    if message.author is not None:
        names.append(message.author.name)
    names += [str(p.get("name", "")) for p in message.details.get("who", [])]
    # "Ms Shah" is masked whole, and "Shah" alone too
    names += [part for n in list(names) for part in n.split() if len(part) > 2]
    return names


class TranslationStep:
    """Turns 'translating' rows into rendered, queued rows."""

    def __init__(self, factory: sessionmaker[Session], translator: Translator | None, *,
                 retry_seconds: float = 300.0, give_up_hours: float = 4.0) -> None:
        self.factory = factory
        self.translator = translator
        self.retry = retry_seconds
        self.give_up = timedelta(hours=give_up_hours)
        self.requests = 0  # backend calls made, for tests and benchmarks

    async def run(self, now: datetime | None = None, limit: int = 5000) -> int:
        """Translate and queue what is due; returns the number of rows queued."""
        now = now or utcnow()
        with self.factory() as session:
            rows = list(session.scalars(
                select(Delivery).where(Delivery.status == DeliveryStatus.TRANSLATING,
                                       Delivery.next_attempt_at <= now)
                .order_by(Delivery.id).limit(limit)
                .options(selectinload(Delivery.guardian),
                         selectinload(Delivery.message).selectinload(Message.student),
                         selectinload(Delivery.message).selectinload(Message.author))))
            if not rows:
                return 0
            parts = self._parts(session, rows)
        found, failures = await self._translate(rows, parts)
        return self._store(rows, parts, found, failures, now)

    def _parts(self, session: Session, rows: list[Delivery]) -> dict[int, dict[str, Masked]]:
        """Per row: each text to translate, masked.

        Where reviewed fixed wording exists in the family's language, only the free text
        staff wrote is translated (once per message). Otherwise the whole message is
        rendered in the staff language and translated, so no family reads a language
        they did not choose; with names masked, it is the same text for every family.
        """
        names: dict[int, Names] = {}
        per_message: dict[tuple[int, bool], dict[str, Masked]] = {}
        out: dict[int, dict[str, Masked]] = {}
        for row in rows:
            message = row.message
            if message.id not in names:
                names[message.id] = school_names(session, message.school_id) + names_in(
                    session, message)
            if has_catalog(row.language):
                key = (message.id, True)
                if key not in per_message:
                    per_message[key] = {p: mask(p, names[message.id])
                                        for p in free_text(message)}
                out[row.id] = per_message[key]
            else:
                school = session.get(School, message.school_id)
                assert school is not None, "messages.school_id is a non-null foreign key"
                whole = render(message, row.guardian, school, language=message.source_language,
                               channel=row.channel)
                guardian_names = [row.guardian.first_name, row.guardian.last_name]
                out[row.id] = {p: mask(p, names[message.id] + guardian_names)
                               for p in (whole.subject, whole.text)}
        return out

    async def _translate(self, rows: list[Delivery], parts: dict[int, dict[str, Masked]]
                         ) -> tuple[dict[tuple[str, str, str], str], dict[tuple[str, str], str]]:
        """(source, target, masked text) -> translation, from the cache, then the backend."""
        wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
        for row in rows:
            for m in parts[row.id].values():
                wanted[(row.message.source_language, row.language)].add(m.text)
        found: dict[tuple[str, str, str], str] = {}
        if self.translator is None:
            return found, {pair: "no translation service is configured" for pair in wanted}
        failures: dict[tuple[str, str], str] = {}
        backend = self.translator.name
        with self.factory() as session:
            for (source, target), texts in wanted.items():
                hashes = {text_hash(t): t for t in texts}
                for hit in session.scalars(select(TranslationCache).where(
                        TranslationCache.backend == backend,
                        TranslationCache.source_language == source,
                        TranslationCache.target_language == target,
                        TranslationCache.source_hash.in_(list(hashes)))):
                    found[(source, target, hashes[hit.source_hash])] = hit.translated_text
        for (source, target), texts in wanted.items():
            missing = sorted(t for t in texts if (source, target, t) not in found)
            if not missing:
                continue
            try:
                self.requests += 1
                result = await self.translator.translate_batch(missing, source, target)
            except TranslationError as exc:
                failures[(source, target)] = str(exc)
                log.warning("translation %s->%s failed: %s", source, target, exc)
                continue
            pairs = dict(zip(missing, result, strict=True))
            self._cache(backend, source, target, pairs)
            found.update({(source, target, t): r for t, r in pairs.items()})
        return found, failures

    def _cache(self, backend: str, source: str, target: str, pairs: dict[str, str]) -> None:
        with self.factory() as session, session.begin():
            known = set(session.scalars(select(TranslationCache.source_hash).where(
                TranslationCache.backend == backend,
                TranslationCache.source_language == source,
                TranslationCache.target_language == target,
                TranslationCache.source_hash.in_([text_hash(t) for t in pairs]))))
            session.add_all(
                TranslationCache(backend=backend, source_language=source,
                                 target_language=target, source_hash=text_hash(text),
                                 source_text=text, translated_text=translated)
                for text, translated in pairs.items() if text_hash(text) not in known)

    def _store(self, rows: list[Delivery], parts: dict[int, dict[str, Masked]],
               found: dict[tuple[str, str, str], str], failures: dict[tuple[str, str], str],
               now: datetime) -> int:
        queued = 0
        with self.factory() as session, session.begin(), session.no_autoflush:
            fresh: dict[int, Delivery] = {}
            ids = [r.id for r in rows]
            for start in range(0, len(ids), 500):
                fresh.update((d.id, d) for d in session.scalars(
                    select(Delivery).where(Delivery.id.in_(ids[start:start + 500]))
                    .options(selectinload(Delivery.guardian),
                             selectinload(Delivery.message).selectinload(Message.student),
                             selectinload(Delivery.message).selectinload(Message.author))
                    .with_for_update()))
            for stale in rows:
                row = fresh.get(stale.id)
                if row is None or row.status != DeliveryStatus.TRANSLATING:
                    continue
                message = row.message
                source = message.source_language
                error = failures.get((source, row.language))
                translated: dict[str, str] = {}
                if error is None:
                    try:
                        for part, m in parts[row.id].items():
                            translated[part] = unmask(found[(source, row.language, m.text)],
                                                      m.values)
                    except PlaceholderLostError:
                        error = "the translation dropped a name or contact detail"
                school = session.get(School, message.school_id)
                assert school is not None, "messages.school_id is a non-null foreign key"
                if error is None:
                    rendered = self._render(row, school, translated)
                elif self.translator is None:
                    rendered = render(message, row.guardian, school, language=source,
                                      note_language=row.language, channel=row.channel)
                else:
                    self._wait(session, row, error, now)
                    continue
                row.subject, row.rendered_text = rendered.subject, rendered.text
                row.language = rendered.language
                row.status = DeliveryStatus.QUEUED
                row.next_attempt_at = now
                row.last_error = None
                queued += 1
        return queued

    @staticmethod
    def _render(row: Delivery, school: School, translated: dict[str, str]) -> Rendered:
        if has_catalog(row.language):
            return render(row.message, row.guardian, school, language=row.language,
                          translated=translated, channel=row.channel)
        whole = render(row.message, row.guardian, school, language=row.message.source_language,
                       channel=row.channel)
        return Rendered(subject=translated[whole.subject], text=translated[whole.text],
                        language=row.language)

    def _wait(self, session: Session, row: Delivery, error: str, now: datetime) -> None:
        row.next_attempt_at = now + timedelta(seconds=self.retry * random.uniform(0.8, 1.2))
        if now - row.created_at >= self.give_up:
            if not (row.last_error or "").startswith(DELAYED):
                audit(session, "system", "translation_delayed", "delivery", row.id,
                      author_id=row.message.author_id, language=row.language)
                log.warning("delivery %s: translation still failing; author told", row.id)
            row.last_error = f"{DELAYED} since {row.created_at:%Y-%m-%d %H:%M} UTC: {error}"
        else:
            row.last_error = f"waiting for translation: {error}"


def send_untranslated(session: Session, delivery_id: int, now: datetime | None = None) -> None:
    """A person's choice: send the staff's words untranslated, marked "could not be
    translated", in the frame of the family's language."""
    row = session.get(Delivery, delivery_id, with_for_update=True)
    if row is None or row.status != DeliveryStatus.TRANSLATING:
        raise LookupError(f"delivery {delivery_id} is not waiting for translation")
    school = session.get(School, row.message.school_id)
    assert school is not None, "messages.school_id is a non-null foreign key"
    rendered = render(row.message, row.guardian, school, language=row.message.source_language,
                      note_language=row.language, channel=row.channel,
                      why_untranslated=FAILED)
    row.subject, row.rendered_text, row.language = rendered.subject, rendered.text, \
        rendered.language
    row.status = DeliveryStatus.QUEUED
    row.next_attempt_at = now or utcnow()
    audit(session, "staff", "send_untranslated", "delivery", row.id)


@dataclass(frozen=True, slots=True)
class Preview:
    """A machine translation and, on request, the same text translated back to check it."""

    language: str
    translated: str
    back: str | None


async def preview(translator: Translator, text: str, source: str, target: str, *,
                  names: Iterable[str] = (), back: bool = False) -> Preview:
    """Translate `text` as a family would receive it, and optionally back again.

    Names and contact details are masked both ways, so a check of the meaning sends
    no more personal data than the message itself will.
    """
    names = list(names)
    masked = mask(text, names)
    try:
        [forward] = await translator.translate_batch([masked.text], source, target)
        translated = unmask(forward, masked.values)
        back_text = None
        if back:
            again = mask(translated, names)
            [returned] = await translator.translate_batch([again.text], target, source)
            back_text = unmask(returned, again.values)
    except PlaceholderLostError as exc:
        raise TranslationError(str(exc)) from exc
    return Preview(target, translated, back_text)
