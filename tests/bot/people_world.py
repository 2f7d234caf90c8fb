"""A small school for the people tests: a key worker with a cover, a child, a family,
and a way for the family to reply, through the real inbox path."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from bot.config import SmtpSettings
from bot.inbound import inbox
from bot.runtime.context import Context
from bot.store.models import InboundMessage
from channels.base import InboundParsed
from tests import factories as f
from tests.standins.smtp import SmtpStandIn

KEY_WORKER = "rivera@school.test"
COVER = "okafor@school.test"
ADMIN = "office@school.test"
FAMILY_NAME = "Wojciechowska"
CHILD_NAME = "Zuzanna"
REPLY_TEXT = "Zuzanna was upset about the trip money, can we talk"


@dataclass
class World:
    """Ids of the people in the test school."""

    key_worker: int
    cover: int
    admin: int
    student: int
    student_ref: str
    guardian: int
    phone: str


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpStandIn]:
    """The SMTP stand-in (STARTTLS + AUTH): staff mailboxes are read from it."""
    server = SmtpStandIn(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def mail_ctx(ctx: Context, smtp: SmtpStandIn) -> Context:
    """The test context with email going through the real SMTP adapter to the stand-in."""
    ctx.settings.email = SmtpSettings(_env_file=None, **smtp.settings())  # type: ignore[call-arg]
    ctx.settings.public_url = "https://gate.school.test"
    return ctx


def build_world(ctx: Context, **policy: object) -> World:
    """Key worker (with a cover), an admin, one child and one guardian."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        school.policy = dict(policy)
        cover = f.staff(s, school, name="Mr Okafor", email=COVER)
        admin = f.staff(s, school, name="Ms Office", email=ADMIN, role="admin")
        worker = f.staff(s, school, name="Ms Rivera", email=KEY_WORKER, cover_id=cover.id)
        child = f.student(s, school, worker, first_name=CHILD_NAME, last_name=FAMILY_NAME)
        parent = f.guardian(s, school, child, first_name="Agnieszka", last_name=FAMILY_NAME)
        return World(worker.id, cover.id, admin.id, child.id, child.ref, parent.id,
                     parent.phone or "")


def family_replies(ctx: Context, world: World, at: datetime, text: str = REPLY_TEXT) -> int:
    """The guardian texts the school at `at`; returns the inbound id (routed by the inbox)."""
    parsed = InboundParsed(channel="sms", sender_address=world.phone, text=text,
                           raw="{}", provider_id=f"SM{at.timestamp():.0f}{len(text)}")
    row = inbox.receive(ctx.factory, parsed, list(ctx.channels), now=at)
    return row.id


def inbound(ctx: Context, inbound_id: int) -> InboundMessage:
    """The inbound row as stored now."""
    with ctx.factory() as s:
        row = s.get(InboundMessage, inbound_id)
        assert row is not None
        s.expunge(row)
        return row
