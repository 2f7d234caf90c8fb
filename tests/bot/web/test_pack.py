"""The private prep-pack page: the family's language and time zone, no login, not cached or
indexed, refused when unknown (404) or expired (410), every view audited."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from bot.journeys.good_news import queue_good_news
from bot.journeys.meetings.invitation import queue_invitation
from bot.journeys.meetings.prep_packs import build_pack
from bot.outbound.translate import TranslationStep
from bot.runtime.context import Context
from bot.store.models import AuditEntry, Delivery, PackLink, utcnow
from bot.web import pack
from bot.web.app import create_app
from channels.segments import segments
from tests import factories as f
from translations import dates, translations_for

LONDON = ZoneInfo("Europe/London")
OPTIONS = [datetime(2030, 3, 5, 15, 30, tzinfo=LONDON),
           datetime(2030, 3, 7, 9, 0, tzinfo=LONDON)]
LINK = re.compile(r"/pack/([A-Za-z0-9_-]+)")


def _invite(ctx: Context, language: str, timezone: str | None = None,
            meeting_type: str = "school_move") -> tuple[str, int]:
    """(token, guardian id) for an English-speaking-staff invitation to one guardian."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher, first_name="Zofia")
        g = f.guardian(s, school, child, language=language, first_name="Agnieszka",
                       last_name="Kowalska", timezone=timezone, channel_order=["sms"])
        message, _rows = queue_invitation(
            s, school, child, teacher, why="To plan the move.", options=OPTIONS,
            where="Room 4", minutes=30, who=[("Ms Key", "class teacher")],
            available={"sms"}, meeting_type=meeting_type, public_url="https://school.example")
        token = s.scalar(select(PackLink.token).where(PackLink.message_id == message.id))
        return token, g.id


def test_polish_link_opens_the_pack_in_polish(ctx: Context) -> None:
    token, _g = _invite(ctx, "pl")
    response = TestClient(create_app(ctx)).get(f"/pack/{token}")
    assert response.status_code == 200
    page = response.text
    assert '<html lang="pl" dir="ltr">' in page
    _ = translations_for("pl").gettext
    pack = build_pack("school_move", _)
    assert "Przygotowanie do spotkania – Zofia" in page
    assert pack.title in page and pack.steps[0] in page and pack.bring[-1] in page
    assert all(q.replace("'", "&#39;") in page for _h, qs in pack.topics for q in qs)
    for option in OPTIONS:
        assert dates.format_when(option, "pl", LONDON) in page
    assert "Agnieszka" not in page and "Kowalska" not in page  # the child's first name only
    assert response.headers["cache-control"] == "no-store"
    assert "noindex" in response.headers["x-robots-tag"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert 'name="viewport"' in page


def test_the_link_in_the_sms_is_the_one_that_opens_the_page(ctx: Context) -> None:
    token, guardian_id = _invite(ctx, "en")
    with ctx.factory() as s:
        text = s.scalar(select(Delivery.rendered_text).where(
            Delivery.guardian_id == guardian_id))
    assert f"https://school.example/pack/{token}" in text
    path = LINK.search(text).group(0)  # type: ignore[union-attr]
    response = TestClient(create_app(ctx)).get(path)
    assert response.status_code == 200
    assert "Get ready for the meeting about Zofia" in response.text


def test_arabic_page_reads_right_to_left_in_the_guardians_time_zone(ctx: Context) -> None:
    token, _g = _invite(ctx, "ar", timezone="Asia/Dubai", meeting_type="behaviour")
    page = TestClient(create_app(ctx)).get(f"/pack/{token}").text
    assert '<html lang="ar" dir="rtl">' in page
    dubai = dates.format_when(OPTIONS[0], "ar", ZoneInfo("Asia/Dubai"))
    assert dubai in page
    assert translations_for("ar").gettext("What to bring") in page


def test_unknown_token_is_404_with_a_short_plain_page(ctx: Context) -> None:
    _invite(ctx, "pl")
    response = TestClient(create_app(ctx)).get("/pack/not-a-real-token")
    assert response.status_code == 404
    assert "We cannot find this page" in response.text
    assert response.headers["cache-control"] == "no-store"


def test_guessing_tokens_writes_no_audit_rows_and_is_counted(ctx: Context) -> None:
    """Issue 14 finding 15: 1,000 requests for unknown tokens wrote 1,000 audit rows."""
    token, _g = _invite(ctx, "pl")
    with ctx.factory() as s:
        before = s.scalar(select(func.count()).select_from(AuditEntry))
    counted = pack.unknown_tokens
    client = TestClient(create_app(ctx))
    for i in range(1000):
        assert client.get(f"/pack/guess{i:05d}").status_code == 404
    assert client.get(f"/pack/{token}").status_code == 200  # a real open is still audited
    with ctx.factory() as s:
        after = s.scalar(select(func.count()).select_from(AuditEntry))
        actions = [e.action for e in s.scalars(select(AuditEntry))]
    assert after == before + 1 and actions[-1] == "pack_viewed"
    assert pack.unknown_tokens - counted == 1000


def test_a_good_news_sms_links_to_the_whole_note_in_the_familys_language(
        ctx: Context) -> None:
    note = ("Zofia read a whole chapter aloud to the class today and helped a friend with "
            "the hard words. She was patient and kind, and we are all very proud of her.")
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher, first_name="Zofia")
        f.guardian(s, school, child, language="ar", first_name="Amal", channel_order=["sms"])
        queue_good_news(s, school, child, teacher, note, {"sms"},
                        public_url="https://school.example")
    assert asyncio.run(TranslationStep(ctx.factory, None).run()) == 1
    with ctx.factory() as s:
        sms = s.scalar(select(Delivery.rendered_text))
    assert segments(sms) <= 3
    assert note not in sms  # too long for three segments in Arabic: cut, with the link
    path = LINK.search(sms).group(0)  # type: ignore[union-attr]
    page = TestClient(create_app(ctx)).get(path).text
    assert '<html lang="ar" dir="rtl">' in page
    _ = translations_for("ar").gettext
    assert _("Good news about {child}").format(child="Zofia") in page
    assert "Good news about" not in page
    assert note in page  # the whole note, marked as English, not translated
    assert _("{language}, not translated:").format(language="الإنجليزية") in page
    assert "Amal" not in page


def test_expired_link_is_refused_with_410_in_the_familys_language(ctx: Context) -> None:
    token, _g = _invite(ctx, "pl")
    with ctx.factory() as s, s.begin():
        s.execute(update(PackLink).where(PackLink.token == token)
                  .values(expires_at=utcnow() - timedelta(minutes=1)))
    response = TestClient(create_app(ctx)).get(f"/pack/{token}")
    assert response.status_code == 410
    assert "Ten link wygasł" in response.text
    assert "Zofia" not in response.text
    assert response.headers["referrer-policy"] == "no-referrer"


def test_every_view_is_audited_with_identifiers_only(ctx: Context) -> None:
    token, guardian_id = _invite(ctx, "pl")
    client = TestClient(create_app(ctx))
    client.get(f"/pack/{token}")
    client.get(f"/pack/{token}")
    with ctx.factory() as s:
        views = [e for e in s.scalars(select(AuditEntry)) if e.action == "pack_viewed"]
    assert len(views) == 2
    assert all(v.actor == f"guardian:{guardian_id}" for v in views)
    dumped = json.dumps([(v.actor, v.object_id, v.detail) for v in views])
    assert token not in dumped and "Zofia" not in dumped and "Agnieszka" not in dumped
