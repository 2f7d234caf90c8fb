"""The demo works whenever it is run: at night or at a weekend it still shows the whole
journey, and says when the messages would really have gone."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import func, select

from bot import clock
from bot.cli.demo import quiet_hours_note, run_demo
from bot.clock import RunningClock
from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus, Message, MessageKind
from bot.web.app import create_app
from channels.segments import segments
from scheduler.policy import parse_policy
from translations import translations_for

LONDON = ZoneInfo("Europe/London")
LINK = re.compile(r"https?://[^\s]+(/pack/[A-Za-z0-9_-]+)")


def test_saturday_night_says_the_messages_would_wait_for_monday_morning() -> None:
    note = quiet_hours_note(datetime(2026, 11, 28, 22, 15, tzinfo=LONDON), LONDON,
                            parse_policy({}))
    assert note is not None
    assert "Saturday 22:15" in note and "Monday 08:00" in note


def test_a_school_day_morning_needs_no_note() -> None:
    assert quiet_hours_note(datetime(2026, 11, 24, 10, 0, tzinfo=LONDON), LONDON,
                            parse_policy({})) is None


@pytest.mark.parametrize("started", [
    datetime(2026, 11, 18, 14, 0, tzinfo=LONDON),  # a school-day afternoon
    datetime(2026, 11, 20, 22, 15, tzinfo=LONDON),  # Friday night
])
def test_the_demo_shows_the_whole_journey_with_the_policy_on(
        ctx: Context, started: datetime) -> None:
    console = Console(record=True, width=200)
    with clock.using(RunningClock(started)):
        run_demo(ctx, console)
    with ctx.factory() as s:
        waiting = s.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.status.in_([DeliveryStatus.HELD, DeliveryStatus.QUEUED])))
        sent = s.scalar(select(func.count()).select_from(Delivery)
                        .where(Delivery.status == DeliveryStatus.SENT))
    assert waiting == 0
    assert sent and sent >= 7  # three good-news notes, an invitation, its confirmation ...
    printed = console.export_text()
    assert "confirmed in Polish" in printed
    night = started.hour >= 20
    assert ("as if it were Monday 08:00" in printed) == night


def test_the_polish_family_gets_the_invitation_in_polish_in_three_sms_at_most(
        ctx: Context) -> None:
    """Issue 15: the demo showed the Polish parents an English invitation in 11 segments."""
    console = Console(record=True, width=200)
    with clock.using(RunningClock(datetime(2026, 11, 18, 14, 0, tzinfo=LONDON))):
        run_demo(ctx, console)
    with ctx.factory() as s:
        rows = list(s.scalars(select(Delivery).join(Message).where(
            Message.kind == MessageKind.INVITATION, Delivery.channel == "sms")))
    assert {r.language for r in rows} == {"pl"} and len(rows) == 2
    _ = translations_for("pl").gettext
    for row in rows:
        text = row.rendered_text
        assert segments(text) <= 3
        assert text.startswith("Zaproszenie na spotkanie - Zofia\n")
        assert "\nDlaczego: Angielski: to talk" in text  # staff words, marked, cut to fit
        assert _("Reply with a number:") in text and "\n1. " in text and "\n2. " in text
        assert "Invitation" not in text and "Reply with" not in text
        assert LINK.search(text)
    printed = console.export_text()
    assert "The invitation by SMS to a family reading Polish" in printed
    assert rows[0].rendered_text.splitlines()[0] in printed
    # the link opens the whole invitation and the prep pack, in Polish
    path = LINK.search(rows[0].rendered_text).group(1)  # type: ignore[union-attr]
    page = TestClient(create_app(ctx)).get(path)
    assert page.status_code == 200 and '<html lang="pl" dir="ltr">' in page.text
    assert _("Who will be there:") in page.text
    assert "Angielski, bez tłumaczenia: to talk about how Zofia" in page.text
    assert _("What to bring") in page.text
