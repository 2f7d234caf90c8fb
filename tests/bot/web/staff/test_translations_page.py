"""Translation review pages: a translator sees masked sentences only and nothing else of
the app; a saved review is checked, audited, used by the preview (marked "reviewed") and
by the next message; the preview masks every name on the roster before text leaves."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.language.memory import remember
from bot.runtime.context import Context
from bot.store.models import AuditEntry, TranslationMemory
from bot.web.app import create_app
from tests import factories as f
from tests.bot.web.staff.helpers import account, form_token, sign_in
from tests.conftest import make_settings
from tests.standins.libretranslate import LibreTranslateStandIn


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def _seed(ctx: Context) -> dict[str, int]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        account(s, school, "translator", name="Ola Volunteer", email="ola@school.test")
        account(s, school, "admin", name="Ada Admin", email="ada@school.test")
        teacher = account(s, school, name="Ana Teacher", email="ana@school.test")
        child = f.student(s, school, teacher, first_name="Zofia", last_name="Kowalska")
        family = f.guardian(s, school, child, language="pl", first_name="Marta",
                            channel_order=["sms"])
        remember(s, school.id, "en", "pl", {"[1] read a whole book today!": "message",
                                            "Room 4": "place"},
                 machine={"[1] read a whole book today!": "<pl> [1] read a whole book!"},
                 backend="libretranslate")
        entry = s.scalar(select(TranslationMemory.id).where(
            TranslationMemory.source_text == "[1] read a whole book today!"))
        assert entry is not None
        return {"child": child.id, "family": family.id, "entry": entry}


def test_a_translator_reaches_only_the_translation_pages(ctx: Context,
                                                         client: TestClient) -> None:
    ids = _seed(ctx)
    assert sign_in(client, "ola@school.test").status_code == 303
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/translations"
    for path in (f"/students/{ids['child']}", f"/families/{ids['family']}", "/inbox",
                 "/students", "/compose", "/meetings", "/outbox", "/tasks"):
        assert client.get(path).status_code == 403, path
    listing = client.get("/translations")
    assert listing.status_code == 200
    text = html.unescape(listing.text)
    assert "[1] read a whole book today!" in text and "<pl> [1] read a whole book!" in text
    assert "Zofia" not in text and "Kowalska" not in text and "Marta" not in text
    assert 'href="/inbox"' not in listing.text  # the nav offers only what opens
    assert "/translations" in listing.text and "Sign out" in listing.text
    missing = html.unescape(client.get("/translations?show=missing").text)
    assert "Room 4" in missing and "needs a translation" in missing
    token = form_token(listing.text)
    assert client.post("/logout", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303


def test_teachers_and_office_cannot_open_the_review_pages(ctx: Context,
                                                          client: TestClient) -> None:
    ids = _seed(ctx)
    sign_in(client, "ana@school.test")
    assert client.get("/translations").status_code == 403
    assert client.get(f"/translations/{ids['entry']}").status_code == 403


def test_a_review_is_checked_saved_audited_and_listed_as_reviewed(
        ctx: Context, client: TestClient) -> None:
    ids = _seed(ctx)
    sign_in(client, "ola@school.test")
    form = client.get(f"/translations/{ids['entry']}")
    assert form.status_code == 200
    token = form_token(form.text)
    # a placeholder lost: refused, what was typed kept, nothing stored
    bad = client.post(f"/translations/{ids['entry']}",
                      data={"csrf_token": token, "text": "Przeczytała całą książkę!"})
    assert bad.status_code == 400
    assert "Keep each placeholder exactly once" in html.unescape(bad.text)
    assert "Przeczytała całą książkę!" in html.unescape(bad.text)
    no_token = client.post(f"/translations/{ids['entry']}",
                           data={"text": "[1] przeczytała całą książkę!"})
    assert no_token.status_code == 403
    good = client.post(f"/translations/{ids['entry']}",
                       data={"csrf_token": token, "text": "[1] przeczytała całą książkę!"},
                       follow_redirects=False)
    assert good.status_code == 303
    with ctx.factory() as s:
        entry = s.get(TranslationMemory, ids["entry"])
        assert entry is not None and entry.reviewed_text == "[1] przeczytała całą książkę!"
        assert entry.reviewed_by_id is not None
        actions = list(s.scalars(select(AuditEntry.action)))
    assert "translation_reviewed" in actions
    reviewed = html.unescape(client.get("/translations?show=reviewed").text)
    assert "[1] przeczytała całą książkę!" in reviewed
    assert client.get("/translations/2147483647").status_code == 404


def test_the_preview_uses_a_reviewed_translation_and_says_so(ctx: Context,
                                                             client: TestClient) -> None:
    ids = _seed(ctx)
    with ctx.factory() as s, s.begin():
        entry = s.get(TranslationMemory, ids["entry"])
        assert entry is not None
        entry.reviewed_text = "[1] przeczytała dziś całą książkę!"
    sign_in(client, "ana@school.test")
    token = form_token(client.get(f"/compose?student={ids['child']}").text)
    page = client.post("/compose", data={"csrf_token": token, "student_id": ids["child"],
                                         "text": "Zofia read a whole book today!",
                                         "action": "preview"})
    text = html.unescape(page.text)
    assert "Zofia przeczytała dziś całą książkę!" in text  # no service is configured
    assert "Reviewed translation" in text
    assert "no translation service is set up" not in text


def test_the_preview_masks_every_name_on_the_roster(db_url: str, tmp_path: Path) -> None:
    with LibreTranslateStandIn() as lt:
        ctx = Context(make_settings(db_url, tmp_path, translation_backend="libretranslate",
                                    translation_url=lt.url))
        try:
            ids = _seed(ctx)
            with ctx.factory() as s, s.begin():
                school = ctx.school(s)
                f.student(s, school, None, first_name="Yusuf", last_name="Haddad")
            with TestClient(create_app(ctx)) as client:
                sign_in(client, "ana@school.test")
                token = form_token(client.get(f"/compose?student={ids['child']}").text)
                page = client.post("/compose", data={
                    "csrf_token": token, "student_id": ids["child"], "action": "preview",
                    "text": "Zofia helped Yusuf Haddad with reading today."})
            assert "<pl> Zofia helped Yusuf Haddad" in html.unescape(page.text)
            sent = lt.sent_text()
            assert "helped" in sent
            for name in ("Zofia", "Yusuf", "Haddad"):
                assert name not in sent, name
        finally:
            ctx.engine.dispose()


def test_the_outbox_says_a_delivery_is_held_for_review_until_when_and_why(
        ctx: Context, client: TestClient) -> None:
    import asyncio

    from bot.journeys.good_news import queue_good_news
    from bot.outbound.translate import TranslationStep
    from bot.store.models import Staff, Student
    from scheduler.policy import set_policy_value

    ids = _seed(ctx)
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        set_policy_value(school, "review_languages", "pl")
        set_policy_value(school, "review_wait_hours", "12")
        child = s.get(Student, ids["child"])
        teacher = s.scalar(select(Staff).where(Staff.email == "ana@school.test"))
        assert child is not None and teacher is not None
        queue_good_news(s, school, child, teacher, "Zofia sang in assembly.", {"sms"})
    assert asyncio.run(TranslationStep(ctx.factory, None).run()) == 0
    sign_in(client, "ada@school.test")
    outbox = html.unescape(client.get("/outbox").text)
    assert '<td class="status">held</td>' in outbox
    assert "waiting for a translator's review (the school lets pl wait up to 12 h, then it " \
           "goes with the staff's words and a note)" in outbox
    assert "until <time" in outbox
    sign_in(client, "ola@school.test")
    listing = html.unescape(client.get("/translations?show=missing").text)
    assert "1 message held for review" in listing
    assert "[1] sang in assembly." in listing and "a message waits for it until" in listing


def test_a_sentence_no_longer_waited_for_does_not_say_a_message_waits(
        ctx: Context, client: TestClient) -> None:
    from datetime import timedelta

    from bot.store.models import utcnow

    ids = _seed(ctx)
    with ctx.factory() as s, s.begin():
        entry = s.get(TranslationMemory, ids["entry"])
        assert entry is not None
        entry.wanted_until = utcnow() - timedelta(hours=1)  # the message went meanwhile
    sign_in(client, "ola@school.test")
    assert "a message waits for it" not in client.get("/translations").text
