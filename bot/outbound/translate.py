"""Translation of outbox rows: the school's memory first, then one batched machine call,
personal data masked.

Rows waiting in 'translating' are grouped by message and language. Each message's
free text is masked (every name on the roster, numbers, emails, links, addresses), cut
into sentences and looked up in the school's translation memory (bot/language/memory.py):
a translator's reviewed translation first, else the service's earlier draft. What is
missing is sent to the backend in one batched request per language pair, however
many families read that language, and kept in the memory for a translator to check.
A school may ask that some languages wait for a reviewed translation (policy
`review_languages`, up to `review_wait_hours`): such rows stay in 'translating', saying
"held for a reviewed translation until ...", and go with the machine's translation (or
without a service, the staff's words and the note) when the time is up. Urgent messages
never wait. If the backend fails, the rows wait and are retried (not before the
service's Retry-After on a 429);
after the configured time the author is told (audit log and `schoolgate review`), and a
person may send it untranslated. Without a backend, rows go out at once. Untranslated, the
frame is still in the family's language (their catalog); only the staff's words stay in
the staff language, marked "not translated" (no service) or "could not be translated".
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.language.memory import (
    MESSAGE,
    Found,
    Segment,
    join,
    lookup,
    remember,
    split,
    used,
)
from bot.language.privacy import (
    Masked,
    Names,
    PlaceholderLostError,
    mask,
    school_names,
    unmask,
)
from bot.outbound.kinds import kind_spec
from bot.outbound.render import FAILED, Rendered, free_text, render
from bot.store.audit import audit
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Message,
    School,
    StudentGuardian,
    Urgency,
    utcnow,
)
from scheduler.policy import SchoolPolicy, school_policy
from translations import has_catalog
from translations.machine import TranslationError, Translator

log = logging.getLogger(__name__)
DELAYED = "translation unavailable"
HELD = "held for a reviewed translation"
_HELD_UNTIL = re.compile(rf"{HELD} until (\d{{4}}-\d\d-\d\d \d\d:\d\d) UTC: (.+)", re.S)
LOST = "the translation dropped a name or contact detail"


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


@dataclass(frozen=True, slots=True)
class Part:
    """One text to translate for a row: masked, cut into segments, and what it is."""

    masked: Masked
    lead: str
    segments: list[Segment]
    context: str


def _part(text: str, names: Names, context: str) -> Part:
    masked = mask(text, names)
    lead, segments = split(masked.text)
    return Part(masked, lead, segments, context)


def phrase_contexts(message: Message) -> Mapping[str, str]:
    """What each recurring free-text part of `message` is, from its kind's registration."""
    spec = kind_spec(message.kind)
    return spec.phrases(message) if spec is not None and spec.phrases is not None else {}


Pair = tuple[int, str, str]  # school, source language, target language


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
        found, failures = await self._translate(rows, parts, now)
        return self._store(rows, parts, found, failures, now)

    def _parts(self, session: Session, rows: list[Delivery]) -> dict[int, dict[str, Part]]:
        """Per row: each text to translate, masked and cut into segments.

        Where reviewed fixed wording exists in the family's language, only the free text
        staff wrote is translated (once per message). Otherwise the whole message is
        rendered in the staff language and translated, so no family reads a language
        they did not choose; with names masked, it is the same text for every family.
        Every name on the school's roster is masked, not only this family's.
        """
        names: dict[int, Names] = {}
        per_message: dict[int, dict[str, Part]] = {}
        out: dict[int, dict[str, Part]] = {}
        for row in rows:
            message = row.message
            if message.id not in names:
                names[message.id] = school_names(session, message.school_id) + names_in(
                    session, message)
            if has_catalog(row.language):
                if message.id not in per_message:
                    contexts = phrase_contexts(message)
                    per_message[message.id] = {
                        p: _part(p, names[message.id], contexts.get(p, MESSAGE))
                        for p in free_text(message)}
                out[row.id] = per_message[message.id]
            else:
                school = session.get(School, message.school_id)
                assert school is not None, "messages.school_id is a non-null foreign key"
                whole = render(message, row.guardian, school, language=message.source_language,
                               channel=row.channel)
                guardian_names = names[message.id] + [row.guardian.first_name,
                                                      row.guardian.last_name]
                out[row.id] = {p: _part(p, guardian_names, MESSAGE)
                               for p in (whole.subject, whole.text)}
        return out

    async def _translate(self, rows: list[Delivery], parts: dict[int, dict[str, Part]],
                         now: datetime
                         ) -> tuple[dict[Pair, dict[str, Found]], dict[Pair, TranslationError]]:
        """Per (school, source, target): segment -> translation, from the school's memory
        (reviewed first), then one batched backend call for what is missing."""
        wanted: dict[Pair, dict[str, str]] = defaultdict(dict)
        for row in rows:
            pair = (row.message.school_id, row.message.source_language, row.language)
            for part in parts[row.id].values():
                for seg in part.segments:
                    wanted[pair].setdefault(seg.text, part.context)
        backend = self.translator.name if self.translator is not None else None
        found: dict[Pair, dict[str, Found]] = {}
        with self.factory() as session:
            for pair, texts in wanted.items():
                found[pair] = lookup(session, *pair, texts, backend)
        failures: dict[Pair, TranslationError] = {}
        for pair, texts in wanted.items():
            missing = sorted(t for t in texts if t not in found[pair])
            if not missing:
                continue
            drafts: dict[str, str] = {}
            if self.translator is None:
                failures[pair] = TranslationError("no translation service is configured")
            else:
                try:
                    self.requests += 1
                    result = await self.translator.translate_batch(missing, pair[1], pair[2])
                    drafts = dict(zip(missing, result, strict=True))
                except TranslationError as exc:
                    failures[pair] = exc
                    log.warning("translation %s->%s failed: %s", pair[1], pair[2], exc)
            # every segment gets an entry, so a translator sees what no service could do
            with self.factory() as session, session.begin():
                remember(session, *pair, {t: texts[t] for t in missing}, machine=drafts,
                         backend=backend, now=now)
                fresh = lookup(session, *pair, drafts, backend)
            found[pair].update(fresh)
            if drafts and len(fresh) < len(drafts) and pair not in failures:
                failures[pair] = TranslationError(LOST)
        return found, failures

    def _store(self, rows: list[Delivery], parts: dict[int, dict[str, Part]],
               found: dict[Pair, dict[str, Found]], failures: dict[Pair, TranslationError],
               now: datetime) -> int:
        queued = 0
        uses: set[int] = set()
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
            policies: dict[int, SchoolPolicy] = {}
            for stale in rows:
                row = fresh.get(stale.id)
                if row is None or row.status != DeliveryStatus.TRANSLATING:
                    continue
                message = row.message
                source = message.source_language
                pair = (message.school_id, source, row.language)
                school = session.get(School, message.school_id)
                assert school is not None, "messages.school_id is a non-null foreign key"
                if school.id not in policies:
                    policies[school.id] = school_policy(school)
                have = found.get(pair, {})
                segments = [seg for part in parts[row.id].values() for seg in part.segments]
                complete = all(seg.text in have for seg in segments)
                reviewed = complete and all(have[seg.text].reviewed for seg in segments)
                until = self._review_until(row, policies[school.id])
                if until is not None and not reviewed and now < until:
                    self._hold(session, row, parts[row.id], until, policies[school.id], now)
                    continue
                failure = failures.get(pair) if not complete else None
                error = str(failure) if failure is not None else None
                translated: dict[str, str] = {}
                if complete:
                    try:
                        for text, part in parts[row.id].items():
                            mapping = {seg.text: have[seg.text].text for seg in part.segments}
                            translated[text] = unmask(join(part.lead, part.segments, mapping),
                                                      part.masked.values)
                    except PlaceholderLostError:
                        error = LOST
                elif error is None:
                    error = "no translation service is configured"
                if error is None:
                    rendered = self._render(row, school, translated)
                    uses.update(have[seg.text].entry_id for seg in segments)
                elif self.translator is None:
                    rendered = render(message, row.guardian, school, language=source,
                                      note_language=row.language, channel=row.channel)
                else:
                    self._wait(session, row, error, now, failure)
                    continue
                row.subject, row.rendered_text = rendered.subject, rendered.text
                row.language = rendered.language
                row.status = DeliveryStatus.QUEUED
                row.next_attempt_at = now
                row.last_error = None
                queued += 1
            used(session, uses, now)
        return queued

    @staticmethod
    def _review_until(row: Delivery, policy: SchoolPolicy) -> datetime | None:
        """Until when this row waits for a reviewed translation (None: it does not).
        Urgent messages never wait."""
        if row.message.urgency == Urgency.URGENT or not policy.waits_for_review(row.language):
            return None
        return row.created_at + timedelta(hours=policy.review_wait_hours)

    def _hold(self, session: Session, row: Delivery, parts: Mapping[str, Part],
              until: datetime, policy: SchoolPolicy, now: datetime) -> None:
        """Keep the row waiting for a person's review, and say so on status pages."""
        contexts = {seg.text: part.context for part in parts.values() for seg in part.segments}
        remember(session, row.message.school_id, row.message.source_language, row.language,
                 contexts, wanted_until=until, now=now)
        row.next_attempt_at = min(until, now + timedelta(seconds=self.retry))
        after = "the machine translation" if self.translator is not None else \
            "the staff's words and a note"
        row.last_error = (f"{HELD} until {until:%Y-%m-%d %H:%M} UTC: waiting for a "
                          f"translator's review (the school lets {row.language} wait up to "
                          f"{policy.review_wait_hours:g} h, then it goes with {after})")

    @staticmethod
    def _render(row: Delivery, school: School, translated: dict[str, str]) -> Rendered:
        if has_catalog(row.language):
            return render(row.message, row.guardian, school, language=row.language,
                          translated=translated, channel=row.channel)
        whole = render(row.message, row.guardian, school, language=row.message.source_language,
                       channel=row.channel)
        return Rendered(subject=translated[whole.subject], text=translated[whole.text],
                        language=row.language)

    def _wait(self, session: Session, row: Delivery, error: str, now: datetime,
              failure: TranslationError | None = None) -> None:
        """Try again later: when the service said how long to wait (429 Retry-After),
        not before that; else after the retry interval, jittered."""
        wait = self.retry * random.uniform(0.8, 1.2)
        if failure is not None and failure.retry_after is not None:
            wait = max(1.0, failure.retry_after)
        row.next_attempt_at = now + timedelta(seconds=wait)
        if now - row.created_at >= self.give_up:
            if not (row.last_error or "").startswith(DELAYED):
                audit(session, "system", "translation_delayed", "delivery", row.id,
                      author_id=row.message.author_id, language=row.language)
                log.warning("delivery %s: translation still failing; author told", row.id)
            row.last_error = \
                f"{DELAYED} since {row.created_at:%Y-%m-%d %H:%M} UTC: {error}"[:500]
        else:
            row.last_error = f"waiting for translation: {error}"[:500]


def review_hold(delivery: Delivery) -> tuple[datetime, str] | None:
    """(until when, why) for a row held for a reviewed translation, else None."""
    if delivery.status != DeliveryStatus.TRANSLATING:
        return None
    found = _HELD_UNTIL.match(delivery.last_error or "")
    if found is None:
        return None
    until = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    return until, found.group(2)


def release_reviewed(session: Session, school_id: int, source: str, target: str,
                     now: datetime | None = None) -> int:
    """A translator saved a review: rows of this language held for one are looked at
    again now rather than at their next check. Returns how many."""
    now = now or utcnow()
    rows = session.scalars(select(Delivery).join(Message, Message.id == Delivery.message_id)
                           .where(Message.school_id == school_id,
                                  Message.source_language == source,
                                  Delivery.language == target,
                                  Delivery.status == DeliveryStatus.TRANSLATING,
                                  Delivery.last_error.like(f"{HELD}%")))
    count = 0
    for row in rows:
        row.next_attempt_at = now
        count += 1
    return count


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


def reviewed_translation(session: Session, school_id: int, text: str, names: Names,
                         source: str, target: str) -> str | None:
    """`text` in `target` when a translator has reviewed every sentence of it, else None."""
    part = _part(text, names, MESSAGE)
    have = lookup(session, school_id, source, target, [s.text for s in part.segments], None)
    if not part.segments or not all(s.text in have and have[s.text].reviewed
                                    for s in part.segments):
        return None
    mapping = {s.text: have[s.text].text for s in part.segments}
    try:
        return unmask(join(part.lead, part.segments, mapping), part.masked.values)
    except PlaceholderLostError:
        return None


@dataclass(frozen=True, slots=True)
class Preview:
    """A translation (a person's reviewed one, or the machine's) and, on request, the
    same text translated back to check it."""

    language: str
    translated: str
    back: str | None
    reviewed: bool = False


async def preview(translator: Translator | None, text: str, source: str, target: str, *,
                  names: Iterable[str] | Names = (), back: bool = False,
                  reviewed: str | None = None) -> Preview:
    """Translate `text` as a family would receive it, and optionally back again.

    With `reviewed` (a translator's translation from the memory) only the check back
    goes to the machine. Names and contact details are masked both ways, so a check of
    the meaning sends no more personal data than the message itself will.
    """
    names = names if isinstance(names, Names) else Names.of(names)
    try:
        if reviewed is not None:
            translated = reviewed
        elif translator is None:
            raise TranslationError("no translation service is configured")
        else:
            masked = mask(text, names)
            [forward] = await translator.translate_batch([masked.text], source, target)
            translated = unmask(forward, masked.values)
        back_text = None
        if back and translator is not None:
            again = mask(translated, names)
            [returned] = await translator.translate_batch([again.text], target, source)
            back_text = unmask(returned, again.values)
    except PlaceholderLostError as exc:
        raise TranslationError(str(exc)) from exc
    return Preview(target, translated, back_text, reviewed is not None)
