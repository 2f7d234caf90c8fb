"""`schoolgate reminders` and `schoolgate check-ins`: run the meeting jobs by hand, and see
every check-in with the family's answer (staff-facing text, in English)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli import JsonOpt, app, context, out, print_json
from bot.cli.support import cli_actor, school_session

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

check_ins_app = typer.Typer(
    help="Check-ins after meetings: list them (scheduled, sent, answered), send due ones, "
         "or schedule one a week after a meeting.", invoke_without_command=True)
app.add_typer(check_ins_app, name="check-ins")

SendDue = Annotated[bool, typer.Option("--send-due", help="Queue every one that is due now.")]


def sms_segments_since(factory: sessionmaker[Session], kind: str, since: datetime
                       ) -> dict[str, int]:
    """The most SMS segments per family language among messages of `kind` queued since
    `since`, counted after rendering (rows awaiting translation included)."""
    from sqlalchemy import select

    from bot.outbound.render import sms_segments_by_language
    from bot.store.models import Delivery, Message

    with factory() as s:
        rows = s.scalars(select(Delivery).join(Message, Message.id == Delivery.message_id)
                         .where(Message.kind == kind, Message.created_at >= since))
        return sms_segments_by_language(list(rows))


def print_segments(counts: dict[str, int]) -> None:
    """One line with the SMS segments per language, and a warning for each above 3."""
    from bot.outbound.render import SMS_SEGMENTS

    if counts:
        out.print("  SMS segments by language: " + ", ".join(
            f"{lang} {n}" for lang, n in sorted(counts.items())), highlight=False)
    for lang in sorted(lang for lang, n in counts.items() if n > SMS_SEGMENTS):
        out.print(f"  [yellow]in {lang} this takes more than 3 text messages[/]")


@app.command("reminders")
def reminders_cmd(send_due: SendDue = False, as_json: JsonOpt = False) -> None:
    """Meeting reminders: `--send-due` queues tomorrow's (each family that chose a time)."""
    from bot.journeys.meetings.reminders import queue_due_reminders
    from bot.store.models import MessageKind, utcnow

    if not send_due:
        out.print("reminders go out the day before each meeting, on their own when "
                  "`schoolgate serve` runs the scheduler; use --send-due to run it now")
        return
    ctx = context()
    started = utcnow()
    count = queue_due_reminders(ctx.factory, set(ctx.channels), started)
    counts = sms_segments_since(ctx.factory, MessageKind.REMINDER, started)
    if as_json:
        print_json({"queued": count, "sms_segments": counts})
    else:
        out.print(f"{count} reminder(s) queued; run [bold]schoolgate worker[/] to send them")
        print_segments(counts)


@check_ins_app.callback()
def check_ins_cmd(typer_ctx: typer.Context, send_due: SendDue = False,
                  as_json: JsonOpt = False) -> None:
    """List check-ins with the family's answer and its translation, or `--send-due`."""
    if typer_ctx.invoked_subcommand is not None:
        return
    from bot.journeys.check_ins import check_in_rows, queue_due_check_ins
    from bot.store.models import MessageKind, utcnow

    ctx = context()
    if send_due:
        started = utcnow()
        count = queue_due_check_ins(ctx.factory, set(ctx.channels), ctx.settings.staff_language,
                                    started)
        counts = sms_segments_since(ctx.factory, MessageKind.CHECK_IN, started)
        if as_json:
            print_json({"queued": count, "sms_segments": counts})
        else:
            out.print(f"{count} check-in(s) queued; run [bold]schoolgate worker[/] to send "
                      "them")
            print_segments(counts)
        return
    with school_session(ctx) as (s, school):
        rows = check_in_rows(s, school.id, school.timezone)
        from bot.store.audit import audit

        audit(s, cli_actor(), "view_check_ins", "school", school.id, count=len(rows))
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no check-ins yet: they are planned when action points are recorded")
    for r in rows:
        about = f" action {r['action_point_id']}" if r["action_point_id"] else " meeting"
        out.print(f"{r['id']} {r['status']} due {r['due']} {r['student']}{about}",
                  highlight=False, markup=False)
        if r["action"]:
            out.print(f"    agreed: {r['action']}", highlight=False, markup=False)
        if r["reply_id"]:
            out.print(f"    reply {r['reply_id']}: {r['reply']}", highlight=False, markup=False)
            if r["reply_translation"]:
                out.print(f"    translation: {r['reply_translation']}", highlight=False,
                          markup=False)


@check_ins_app.command("schedule")
def check_ins_schedule_cmd(
    meeting: Annotated[int, typer.Option("--meeting", help="The invitation's message id.")],
    as_json: JsonOpt = False,
) -> None:
    """Plan the check-in a week after a meeting (once; running it again changes nothing)."""
    from bot.journeys.check_ins import schedule_for_meeting

    ctx = context()
    with school_session(ctx) as (s, school):
        row = schedule_for_meeting(s, school.id, meeting)
        data = {"id": row.id, "due_at": row.due_at.isoformat(), "status": row.status} \
            if row else None
    if as_json:
        print_json(data)
    elif data is None:
        out.print("the meeting has no time and no child, so there is nothing to check in on")
    else:
        out.print(f"check-in {data['id']} planned for {data['due_at']} ({data['status']})",
                  highlight=False)
