"""`schoolgate demo`: the whole journey on the embedded default, with no accounts."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from sqlalchemy import select

from bot import clock
from bot.cli.support import outbox_summary, print_log, simulate_reply
from bot.clock import RunningClock
from bot.journeys.good_news import queue_good_news
from bot.journeys.meetings.invitation import queue_invitation
from bot.outbound.render import language_name, sms_segments
from bot.records.contact_log import contact_log
from bot.runtime.context import Context
from bot.store.lookup import student_by_ref
from bot.store.models import (
    ChannelName,
    Delivery,
    Guardian,
    MeetingResponse,
    Message,
    MessageKind,
    StudentGuardian,
)
from scheduler.policy import Policy, parse_policy
from scheduler.windows import is_open, next_open

EXAMPLE_ROSTER = Path(__file__).parents[1] / "data" / "roster.csv"

GOOD_NEWS = [
    ("S002", "Ayaan read a whole chapter aloud to the class today and helped a friend "
             "with the hard words."),
    ("S003", "Yusuf finished every maths problem this week and explained his method "
             "to his group."),
    ("S004", "Lucía was kind to a new classmate at lunch and showed her around the school."),
]
INVITED = "S001"


def run_demo(ctx: Context, console: Console) -> None:
    """Import the example roster, send good news and an invitation, simulate a reply.

    The policy applies as in production. Run at night or at a weekend, the demo runs on a
    clock that starts when the school's window next opens, and says so, so the whole
    journey is shown whenever it is run.
    """
    ctx.upgrade()
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        zone, policy = ZoneInfo(school.timezone), parse_policy(school.policy)
    now = clock.now()
    note = quiet_hours_note(now, zone, policy)
    if note is None:
        _run_demo(ctx, console, None)
        return
    with clock.using(RunningClock(next_open(now, zone, policy))):
        _run_demo(ctx, console, note)


def show_invitation_sms(ctx: Context, console: Console, student_id: int) -> None:
    """Print the invitation SMS as the first family reading another language receives it,
    with its segment count (at most 3) and the private link to the whole invitation."""
    with ctx.factory() as s:
        row = s.scalar(select(Delivery).join(Message, Message.id == Delivery.message_id)
                       .where(Message.student_id == student_id,
                              Message.kind == MessageKind.INVITATION,
                              Delivery.channel == ChannelName.SMS,
                              Delivery.language != Message.source_language)
                       .order_by(Delivery.id).limit(1))
        if row is None:
            return
        language = language_name(row.language, "en")
        text, count = row.rendered_text, sms_segments(row.rendered_text)
    console.print(f"[bold]   The invitation by SMS to a family reading {language}[/] "
                  f"({count} of at most 3 text segments; staff's words marked, the link "
                  "opens the whole invitation and prep pack in their language):")
    console.print(text, markup=False, highlight=False)


def quiet_hours_note(now: datetime, zone: ZoneInfo, policy: Policy) -> str | None:
    """A line saying when these messages would really go, if `now` is outside the window."""
    if is_open(now, zone, policy):
        return None
    opens = next_open(now, zone, policy).astimezone(zone)
    return (f"It is {now.astimezone(zone):%A %H:%M} at the school: these messages would wait "
            f"for {opens:%A %H:%M} (quiet hours and weekends; see README, \"Scheduler and "
            f"cadence\"), so the demo runs as if it were {opens:%A %H:%M} now.")


def _run_demo(ctx: Context, console: Console, note: str | None) -> None:
    from bot.roster.importer import import_roster

    console.print(f"[bold]1. Database[/] {ctx.engine.url.render_as_string(hide_password=True)}")
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        school_id, zone = school.id, ZoneInfo(school.timezone)
    report = import_roster(ctx.factory, school_id, EXAMPLE_ROSTER, ctx.settings.default_region)
    console.print(f"[bold]2. Roster[/] {report.rows_total} rows from {EXAMPLE_ROSTER.name}: "
                  f"{report.created_students} students and {report.created_guardians} "
                  f"guardians new, {len(report.errors)} bad rows")

    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        queued = 0
        for ref, text in GOOD_NEWS:
            student = student_by_ref(s, school.id, ref)
            assert student.key_worker is not None
            _, rows = queue_good_news(s, school, student, student.key_worker, text, ctx.channels,
                                      public_url=ctx.settings.public_url)
            queued += len(rows)
        student = student_by_ref(s, school.id, INVITED)
        assert student.key_worker is not None
        day = clock.now().astimezone(zone).date() + timedelta(days=7)
        options = [datetime.combine(day + timedelta(days=i), time(15, 30), zone)
                   for i in range(2)]
        _, rows = queue_invitation(
            s, school, student, student.key_worker,
            why=f"to talk about how {student.first_name} is settling in and what is going well",
            options=options, where="Room 4, next to the main office (come in by the front gate)",
            minutes=30, who=[(student.key_worker.name,
                              f"{student.first_name}'s class teacher and key worker")],
            available=ctx.channels, public_url=ctx.settings.public_url,
            pack_link_days=ctx.settings.pack_link_days)
        queued += len(rows)
        polish = s.scalar(select(Guardian).join(StudentGuardian)
                          .where(StudentGuardian.student_id == student.id,
                                 Guardian.phone.is_not(None)).order_by(Guardian.id))
        reply_from = polish.phone if polish else None
        invited_id = student.id
    console.print(f"[bold]3. Messages[/] {len(GOOD_NEWS)} good-news notes and 1 meeting "
                  f"invitation: {queued} deliveries queued")
    if note:
        console.print(note)

    import asyncio

    sent = asyncio.run(ctx.worker().run(until_empty=True))
    console.print(f"[bold]4. Worker[/] sent {sent} through the outbox channel")
    show_invitation_sms(ctx, console, invited_id)

    if reply_from:
        inbound = simulate_reply(ctx, reply_from, "Dziękuję! Pasuje mi termin 2.")
        who = inbound.routed_to.name if inbound.routed_to else "the office"
        with ctx.factory() as s:
            answer = s.scalar(select(MeetingResponse).where(
                MeetingResponse.inbound_id == inbound.id))
        picked = f"time {answer.slot}" if answer and answer.slot else (answer.kind if answer
                                                                        else "")
        rsvp = f"; read as an answer to the invitation ({picked}), confirmed in Polish" \
            if answer else ""
        console.print(f"[bold]5. Reply[/] a parent answered in Polish by SMS: stored, routed to "
                      f"{who}{rsvp}")
        asyncio.run(ctx.worker().run(until_empty=True))

    with ctx.factory() as s:
        entries = contact_log(s, student_id=invited_id)
    console.print(f"[bold]6. Contact log for student {INVITED}[/]")
    print_log(console, entries)
    folder = Path(ctx.settings.outbox_dir).resolve()
    counts = ", ".join(f"{n} {c}" for c, n in outbox_summary(folder).items())
    console.print(f"[bold]Outbox[/] {folder} ({counts}): open the .eml files in any mail "
                  "program, the .json files in any editor.")
    if ctx.settings.translation_backend == "none":
        console.print("Families with another home language got every message in their "
                      "language; only what staff wrote stayed in English, marked in their "
                      "language as not translated. To translate what staff write, "
                      "set SCHOOLGATE_TRANSLATION_BACKEND=libretranslate and "
                      "SCHOOLGATE_TRANSLATION_URL (see README, \"Every family's language\").")
    console.print("Next: [bold]schoolgate log --student S001[/], "
                  "[bold]schoolgate good-news --help[/], [bold]schoolgate serve[/]")
