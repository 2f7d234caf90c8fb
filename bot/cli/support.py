"""What the CLI commands do beyond parsing arguments: kept here so cli.py stays readable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import InvalidInputError

if TYPE_CHECKING:  # imported inside the functions: `schoolgate --help` must stay quick
    from rich.console import Console
    from sqlalchemy.orm import Session

    from bot.records.contact_log import LogEntry
    from bot.runtime.context import Context
    from bot.store.models import InboundMessage, School
    from channels.base import InboundParsed


def cli_actor() -> str:
    """Who did it, as the audit log names a command-line user: `cli:<login name>`."""
    return f"cli:{os.environ.get('USER', 'unknown')}"


@contextmanager
def school_session(ctx: Context, *, write: bool = True) -> Iterator[tuple[Session, School]]:
    """A session and the school it works on. `write`: one transaction, committed when the
    block ends (rolled back if it raises); otherwise for reading, nothing is committed."""
    with ctx.factory() as session:
        if not write:
            yield session, ctx.school(session)
            return
        with session.begin():
            yield session, ctx.school(session)


def run_import(ctx: Context, path: Path, show_progress: bool, dry_run: bool = False) -> Any:
    """Import a roster file (or only check it), with a progress bar on a terminal."""
    from rich.progress import MofNCompleteColumn, Progress, TextColumn

    from bot.roster.importer import import_roster

    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    with school_session(ctx) as (_s, school):
        school_id = school.id
    if not show_progress:
        return import_roster(ctx.factory, school_id, path, ctx.settings.default_region,
                             dry_run=dry_run)
    with Progress(*Progress.get_default_columns(), MofNCompleteColumn(), TextColumn("rows"),
                  transient=True) as progress:
        task = progress.add_task("importing", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return import_roster(ctx.factory, school_id, path, ctx.settings.default_region, tick,
                             dry_run=dry_run)


def print_import_report(console: Console, report: Any, listed: int = 50) -> None:
    """Counts, then the first `listed` warnings and bad rows by number, column and reason,
    and how many more there are (`--json` lists them all)."""
    from rich.markup import escape

    console.print(
        f"{report.rows_total:,} rows: students {report.created_students:,} new, "
        f"{report.updated_students:,} updated; guardians {report.created_guardians:,} new, "
        f"{report.updated_guardians:,} updated; key workers {report.created_staff:,} new; "
        f"{report.unchanged_rows:,} rows unchanged", highlight=False)
    for colour, problems in (("yellow", report.warnings), ("red", report.errors)):
        for problem in problems[:listed]:
            console.print(f"[{colour}]row {problem.row}, {problem.column}:[/] "
                          f"{escape(problem.reason)}", highlight=False)
        if len(problems) > listed:
            console.print(f"[{colour}]... and {len(problems) - listed:,} more[/] "
                          "(--json lists them all)", highlight=False)
    if report.errors:
        console.print(f"[red]{report.rows_failed:,} row(s) not imported[/]; fix them and "
                      "import the file again (rows already imported are not duplicated)",
                      highlight=False)


def parse_simulated(ctx: Context, sender: str, text: str) -> InboundParsed:
    """Build the payload a provider would send for this sender, and parse it the same way."""
    from email.message import EmailMessage
    from email.utils import make_msgid

    import phonenumbers

    from bot.store.models import utcnow
    from channels import email as email_channel
    from channels import sms as sms_channel
    from channels import telegram as telegram_channel

    sender = sender.strip()
    if sender.startswith("telegram:"):
        chat = sender.removeprefix("telegram:")
        update = {"update_id": int(utcnow().timestamp() * 1000) % 2**31,
                  "message": {"message_id": 1, "date": int(utcnow().timestamp()),
                              "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else chat,
                                       "type": "private"},
                              "text": text}}
        parsed = telegram_channel.parse_inbound(update)
        assert parsed is not None
        return parsed
    if "@" in sender:
        mail = EmailMessage()
        mail["From"] = sender
        mail["To"] = f"replies@{ctx.settings.public_url.split('://')[-1].split(':')[0]}"
        mail["Subject"] = "Re: message from school"
        mail["Message-ID"] = make_msgid(domain="simulated.local")
        mail.set_content(text)
        return email_channel.parse_inbound(bytes(mail))
    try:
        number = phonenumbers.parse(sender, ctx.settings.default_region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise InvalidInputError(f"--from {sender!r} is not a phone number, an email address or "
                                "telegram:<chat id>")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    sid = "SMsim" + utcnow().strftime("%Y%m%d%H%M%S%f")
    form = {"From": e164, "To": "+15005550006", "Body": text, "MessageSid": sid,
            "SmsSid": sid, "NumMedia": "0", "AccountSid": "ACsimulated"}
    return sms_channel.parse_inbound(form)


def simulate_reply(ctx: Context, sender: str, text: str) -> InboundMessage:
    """Store and process a simulated reply; returns the stored inbound row."""
    from bot.inbound import inbox
    from bot.store.models import InboundMessage

    parsed = parse_simulated(ctx, sender, text)
    row = inbox.receive(ctx.factory, parsed, ctx.channels)
    with ctx.factory() as s:
        loaded = s.get(InboundMessage, row.id)
        assert loaded is not None
        _ = loaded.routed_to
        return loaded


def print_log(console: Console, entries: list[LogEntry]) -> None:
    """The contact log as readable blocks: who, when, status, then the text (and translation)."""
    if not entries:
        console.print("no contact recorded yet")
        return
    for e in entries:
        arrow, word = ("→", "to") if e.direction == "out" else ("←", "from")
        label = f"delivery {e.id}" if e.direction == "out" else f"reply {e.id}"
        status = e.status + (f": {e.error}" if e.error else "")
        console.print(f"[bold]{e.at:%Y-%m-%d %H:%M} UTC {arrow} {e.channel or '-'} {word} "
                      f"{e.guardian or 'unknown sender'}[/] [dim]({label}: {e.kind}, {status}, "
                      f"{e.language or '?'})[/]", highlight=False)
        for line in e.text.splitlines() or [""]:
            console.print(f"    {line}", highlight=False, markup=False)
        if e.translation:
            console.print(f"    [dim]translation:[/] {e.translation}", highlight=False)
        console.print()


def review(ctx: Context, resend: int | None, mark_sent: int | None,
           send_untranslated: int | None = None) -> list[dict[str, Any]]:
    """List deliveries waiting for a person, or settle one of them."""
    from sqlalchemy import select

    from bot.outbound.translate import DELAYED
    from bot.outbound.translate import send_untranslated as send_as_is
    from bot.store.audit import audit
    from bot.store.models import Delivery, DeliveryStatus, utcnow
    from scheduler.contact_summary import count_sent

    with ctx.factory() as s, s.begin():
        if send_untranslated is not None:
            try:
                send_as_is(s, send_untranslated)
            except LookupError as exc:
                raise InvalidInputError(str(exc)) from None
        for target, status in ((resend, DeliveryStatus.QUEUED),
                               (mark_sent, DeliveryStatus.SENT)):
            if target is None:
                continue
            row = s.get(Delivery, target)
            if row is None or row.status != DeliveryStatus.NEEDS_REVIEW:
                raise InvalidInputError(f"delivery {target} is not waiting for review")
            row.status = status
            row.next_attempt_at = utcnow()
            row.claimed_by = None
            # a person has decided: the unknown hand-over is settled, so a resend goes now
            # (not after another question to the provider)
            row.handed_at = None if status == DeliveryStatus.QUEUED else row.handed_at
            if status == DeliveryStatus.SENT:
                row.sent_at = utcnow()
                s.flush()
                count_sent(s, [row.id])  # it reached the family: it counts as contact
            audit(s, cli_actor(), f"review_{status}", "delivery", row.id)
        rows = s.scalars(select(Delivery).where(
            (Delivery.status == DeliveryStatus.NEEDS_REVIEW)
            | ((Delivery.status == DeliveryStatus.TRANSLATING)
               & Delivery.last_error.startswith(DELAYED))).order_by(Delivery.id))
        return [{"id": r.id, "status": r.status, "channel": r.channel,
                 "guardian_id": r.guardian_id, "message_id": r.message_id,
                 "last_error": r.last_error} for r in rows]


def outbox_summary(folder: Path) -> dict[str, int]:
    """How many files each channel's outbox folder holds."""
    return {p.name: len(list(p.glob("*.*"))) for p in sorted(folder.glob("*")) if p.is_dir()}



async def check_channels(ctx: Context) -> tuple[list[str], bool]:
    """One line per channel: provider reachable and credentials accepted, or why not."""
    from channels.base import ChannelConfigurationError

    lines, ok = [], True
    for name, channel in ctx.channels.items():
        check = getattr(channel, "check", None)
        if check is None:
            lines.append(f"{name}: no provider configured; messages are written to "
                         f"{Path(ctx.settings.outbox_dir).resolve() / name}")
            continue
        try:
            lines.append(await check())
        except ChannelConfigurationError as exc:
            ok = False
            lines.append(f"{name}: FAILED {exc}")
        except Exception as exc:  # a check must report, not crash
            ok = False
            lines.append(f"{name}: FAILED {type(exc).__name__}: {exc}")
        finally:
            await channel.close()
    if ctx.settings.imap.configured:
        from channels.imap import ImapPoller

        try:
            lines.append(await ImapPoller(ctx.settings.imap, _ignore).check())
        except ChannelConfigurationError as exc:
            ok = False
            lines.append(f"imap: FAILED {exc}")
    return lines, ok


async def _ignore(_raw: bytes) -> None:
    """A handler for a poller that is only being checked."""
