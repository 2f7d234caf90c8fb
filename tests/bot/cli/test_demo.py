"""The demo works whenever it is run: at night or at a weekend it still shows the whole
journey, and says when the messages would really have gone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from sqlalchemy import func, select

from bot import clock
from bot.cli.demo import quiet_hours_note, run_demo
from bot.clock import RunningClock
from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus
from scheduler.policy import parse_policy

LONDON = ZoneInfo("Europe/London")


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
