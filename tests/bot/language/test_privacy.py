"""Masking personal data before translation, and restoring it."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select

from bot.journeys.good_news import queue_good_news
from bot.language.privacy import (
    Names,
    PlaceholderLostError,
    forget_school_names,
    mask,
    school_names,
    unmask,
)
from bot.outbound.translate import TranslationStep
from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus, Student
from tests import factories as f
from tests.bot.language import corpus as c
from tests.standins.libretranslate import LibreTranslateStandIn
from translations.machine import LibreTranslate


def test_names_numbers_emails_and_links_are_masked_and_restored() -> None:
    text = ("Zofia and Mrs Kowalska: call Ms Shah on 07700 900123, email "
            "a.shah@school.example.org or see https://school.example.org/plan.")
    masked = mask(text, ["Zofia", "Kowalska", "Ms Shah"])
    for secret in ("Zofia", "Kowalska", "Shah", "07700", "a.shah@", "https://"):
        assert secret not in masked.text
    assert masked.text.endswith("or see [6].")  # the full stop is the sentence's, kept
    assert unmask(masked.text, masked.values) == text


def test_each_occurrence_has_its_own_placeholder_and_case_is_kept() -> None:
    masked = mask("Amelia read. AMELIA smiled. amelia's book.", ["Amelia"])
    assert masked.text == "[1] read. [2] smiled. [3]'s book."
    assert unmask("[2] sonrió. [1] leyó. [3]", masked.values) == \
        "AMELIA sonrió. Amelia leyó. amelia"


def test_full_names_first_and_last_names_and_possessives() -> None:
    names = Names.of(["Yusuf Haddad", "Ms Shah"])
    masked = mask("Yusuf Haddad, YUSUF, haddad and Yusuf's sister met Ms Shah and Shah.", names)
    assert masked.text == "[1], [2], [3] and [4]'s sister met [5] and [6]."


def test_name_inside_another_word_is_not_masked() -> None:
    assert mask("Ann planned an annual trip", ["Ann"]).text == "[1] planned an annual trip"
    assert mask("Alice has quality time with Ali and ALI", ["Ali"]).text == \
        "Alice has quality time with [1] and [2]"


def test_a_name_that_is_an_everyday_word_is_masked_only_as_a_name() -> None:
    masked = mask("Will and WILL said we will plant a rose for Rose.", ["Will Brown", "Rose"])
    assert masked.text == "[1] and [2] said we will plant a rose for [3]."


def test_addresses_postcodes_and_pupil_numbers() -> None:
    text = ("Pick up at 12 Elm Road, NW1 4AB, or 4a St Mary's Close EC1V9BD; post to "
            "flat 3, 27 Station Road, m14 5rt. UPN A12345678901B. It is a 5 minute walk.")
    masked = mask(text)
    for secret in ("12 Elm Road", "NW1 4AB", "4a St Mary's Close", "EC1V9BD", "27 Station",
                   "m14 5rt", "A12345678901B"):
        assert secret not in masked.text, secret
    assert "5 minute walk" in masked.text
    assert unmask(masked.text, masked.values) == text


def test_lost_or_repeated_placeholder_is_refused() -> None:
    masked = mask("Well done Amelia", ["Amelia"])
    with pytest.raises(PlaceholderLostError):
        unmask("Bravo", masked.values)
    with pytest.raises(PlaceholderLostError):
        unmask("Bravo [1], [1]", masked.values)
    with pytest.raises(PlaceholderLostError):
        unmask("Bravo [1] [2]", masked.values)


def test_placeholders_tolerate_spaces_added_by_the_engine() -> None:
    masked = mask("Well done Amelia", ["Amelia"])
    assert unmask("Brawo [ 1 ]", masked.values) == "Brawo Amelia"


def test_school_names_come_from_the_roster_and_follow_its_changes(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Mr Kaminski")
        child = f.student(s, school, teacher, first_name="Zofia", last_name="Nowak", ref="S0042")
        f.guardian(s, school, child, first_name="Ewa", last_name="Nowak")
        school_id = school.id
    with ctx.factory() as s:
        first = school_names(s, school_id)
        assert school_names(s, school_id) is first  # compiled once
        assert mask("Zofia, Ewa, Kaminski and S0042 and Yusuf", first).text == \
            "[1], [2], [3] and [4] and Yusuf"
    with ctx.factory() as s, s.begin():
        s.add(Student(school_id=school_id, ref="S0043", first_name="Yusuf", last_name="Haddad"))
    with ctx.factory() as s:
        assert "Yusuf" not in mask("Zofia and Yusuf", school_names(s, school_id)).text
    with ctx.factory() as s, s.begin():  # renamed in place: the roster is read again
        row = s.scalars(select(Student).where(Student.ref == "S0043")).one()
        row.first_name = "Yusufa"
    with ctx.factory() as s:
        assert mask("Yusufa", school_names(s, school_id)).text == "[1]"
    with ctx.factory() as s, s.begin():  # same length, same row: only a forget shows it
        s.scalars(select(Student).where(Student.ref == "S0043")).one().first_name = "Jusufa"
    forget_school_names(school_id)
    with ctx.factory() as s:
        assert mask("Jusufa", school_names(s, school_id)).text == "[1]"


def _whole_word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE)


def test_nothing_personal_reaches_the_translation_service(
        sqlite_ctx: Context) -> None:
    """Across 240 generated notes naming classmates, staff, homes and numbers."""
    ctx = sqlite_ctx
    corpus = c.build(notes=240)
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        staff = [f.staff(s, school, name=name) for name in corpus.staff]
        children = {}
        for n, person in enumerate(corpus.people):
            child = f.student(s, school, staff[0], ref=person.ref, first_name=person.first,
                              last_name=person.last)
            f.guardian(s, school, child, first_name=person.parent_first,
                       last_name=person.parent_last, language=("tr", "pl")[n % 2],
                       channel_order=["email"])
            children[person.ref] = child
        for n, (person, note) in enumerate(corpus.notes):
            queue_good_news(s, school, children[person.ref], staff[n % len(staff)], note,
                            {"email"})
    assert len(corpus.notes) >= 200
    with LibreTranslateStandIn() as lt:
        step = TranslationStep(ctx.factory, LibreTranslate(lt.url))
        assert asyncio.run(step.run()) == len(corpus.notes)
        sent = lt.sent_text()
    names = {part for p in corpus.people
             for part in (p.first, p.last, p.parent_first, p.parent_last)}
    names |= {name.split()[1] for name in corpus.staff}
    for name in sorted(names):
        pattern = _whole_word(name)
        hits = [m.group() for m in pattern.finditer(sent)]
        if name.lower() in ("will", "grace", "rose"):  # everyday words: only as a name
            hits = [h for h in hits if not h.islower()]
        assert not hits, f"{name} reached the translation service"
    for secret in sorted(corpus.secrets):
        assert secret.lower() not in sent.lower(), secret
    assert not re.search(r"\d{4}", re.sub(r"\[\d+\]", "", sent))  # no numbers left at all
    # and every placeholder came back: each family's text has the real details
    with ctx.factory() as s:
        rows = [(r.status, r.rendered_text or "", r.message.source_text)
                for r in s.scalars(select(Delivery))]
    assert len(rows) == len(corpus.notes)
    for status, rendered, note in rows:
        assert status == DeliveryStatus.QUEUED
        # the stand-in tags each sentence, so restored means word for word once untagged
        assert note in re.sub(r"<[a-z]{2}> ", "", rendered)
        assert not re.search(r"\[\s*\d+\s*\]", rendered), rendered
