"""A key worker hears about a family's reply on their own channel: once, with no reply
text and no family names, and never twice after a failure or a crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.follow_up.notify import notify_staff, unsure_notifications
from bot.runtime.context import Context
from bot.store.audit import audit
from bot.store.models import AuditEntry, InboundMessage, Staff
from tests.bot.cli.test_cli import run
from tests.bot.people_world import (
    CHILD_NAME,
    FAMILY_NAME,
    KEY_WORKER,
    REPLY_TEXT,
    build_world,
    family_replies,
    inbound,
    mail_ctx,
    smtp,
)
from tests.standins import telegram as st
from tests.standins.smtp import SmtpStandIn

__all__ = ["mail_ctx", "smtp"]  # fixtures used by name

TUESDAY = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)


def notify(ctx: Context, now: datetime) -> int:
    """The notify_staff job with this context's session factory, channels and public URL."""
    return notify_staff(ctx.factory, ctx.channels, ctx.settings.public_url, now)


def mails_to(server: SmtpStandIn, address: str) -> list[str]:
    """Subject and body of each message the stand-in accepted for `address`."""
    out = []
    for r in server.received:
        if address in r.rcpt_tos:
            msg = r.message
            body = msg.get_body(("plain",))
            out.append(f"{msg['Subject']}\n{body.get_content() if body else ''}")
    return out


def test_key_worker_mailbox_gets_one_prompt_without_the_reply(mail_ctx: Context,
                                                              smtp: SmtpStandIn) -> None:
    world = build_world(mail_ctx)
    reply_id = family_replies(mail_ctx, world, TUESDAY)

    assert notify(mail_ctx, TUESDAY) == 1
    assert notify(mail_ctx, TUESDAY) == 0  # the second run finds nothing to do

    mails = mails_to(smtp, KEY_WORKER)
    assert len(mails) == 1
    note = mails[0]
    assert f"student {world.student_ref}" in note
    assert f"https://gate.school.test/inbox/{reply_id}" in note
    for private in (REPLY_TEXT, "trip money", CHILD_NAME, FAMILY_NAME, "Agnieszka",
                    world.phone):
        assert private not in note
    assert inbound(mail_ctx, reply_id).notified_at is not None


def test_a_transient_smtp_failure_is_retried_on_the_next_run(mail_ctx: Context,
                                                             smtp: SmtpStandIn) -> None:
    world = build_world(mail_ctx)
    reply_id = family_replies(mail_ctx, world, TUESDAY)
    smtp.fail_next("DATA", "451 4.3.0 try again later")

    assert notify(mail_ctx, TUESDAY) == 0
    assert mails_to(smtp, KEY_WORKER) == []
    assert inbound(mail_ctx, reply_id).notified_at is None  # the claim was given back

    assert notify(mail_ctx, TUESDAY) == 1
    assert len(mails_to(smtp, KEY_WORKER)) == 1


def test_a_crash_after_the_claim_is_listed_not_resent(mail_ctx: Context,
                                                      smtp: SmtpStandIn) -> None:
    world = build_world(mail_ctx)
    reply_id = family_replies(mail_ctx, world, TUESDAY)
    with mail_ctx.factory() as s, s.begin():  # what a process killed mid-send leaves behind
        s.get(InboundMessage, reply_id).notified_at = TUESDAY  # type: ignore[union-attr]
        audit(s, "system", "staff_notify_claimed", "inbound", reply_id,
              staff_id=world.key_worker)

    assert notify(mail_ctx, TUESDAY) == 0
    assert mails_to(smtp, KEY_WORKER) == []
    with mail_ctx.factory() as s:
        when = s.scalar(select(AuditEntry.at).where(AuditEntry.action == "staff_notify_claimed"))
        assert when is not None
        assert unsure_notifications(s, when + timedelta(minutes=11)) == [reply_id]


@pytest.fixture
def telegram() -> Iterator[st.TelegramStandIn]:
    with st.TelegramStandIn() as server:
        yield server


def test_a_key_worker_with_telegram_hears_there_instead(mail_ctx: Context, smtp: SmtpStandIn,
                                                       telegram: st.TelegramStandIn) -> None:
    mail_ctx.settings.telegram = st.settings_for(telegram)
    world = build_world(mail_ctx)
    with mail_ctx.factory() as s, s.begin():
        s.get(Staff, world.key_worker).telegram_chat_id = "770001"  # type: ignore[union-attr]
    family_replies(mail_ctx, world, TUESDAY)

    assert notify(mail_ctx, TUESDAY) == 1

    texts = telegram.texts_to("770001")
    assert len(texts) == 1
    assert world.student_ref in texts[0] and REPLY_TEXT not in texts[0]
    assert FAMILY_NAME not in texts[0]
    assert mails_to(smtp, KEY_WORKER) == []


def test_without_providers_the_note_lands_in_the_outbox_folder(ctx: Context) -> None:
    world = build_world(ctx)
    family_replies(ctx, world, TUESDAY)

    assert notify(ctx, TUESDAY) == 1

    files = list((ctx.settings.outbox_dir / "email").glob("notify*.eml"))
    assert len(files) == 1
    content = files[0].read_text()
    assert KEY_WORKER in content and REPLY_TEXT not in content


def test_notify_command_sends_due_notes_once(sqlite_ctx: Context, tmp_path: Path) -> None:
    world = build_world(sqlite_ctx)
    family_replies(sqlite_ctx, world, TUESDAY)
    env = {"SCHOOLGATE_DATABASE_URL": sqlite_ctx.settings.database_url,
           "SCHOOLGATE_OUTBOX_DIR": str(tmp_path / "cli-outbox")}

    first = run("notify", "--json", cwd=tmp_path, env=env)
    second = run("notify", "--json", cwd=tmp_path, env=env)

    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"job": "notify_staff", "done": 1}
    assert json.loads(second.stdout) == {"job": "notify_staff", "done": 0}
    assert len(list((tmp_path / "cli-outbox" / "email").glob("notify*.eml"))) == 1
    unsure = run("notify", "--unsure", cwd=tmp_path, env=env)
    assert unsure.returncode == 0 and unsure.stdout.strip() == "none"
