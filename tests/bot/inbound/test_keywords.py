"""STOP / START / HELP as whole messages: opt out and back in per channel, one
confirmation each, answered here rather than routed, and nobody dropped quietly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.inbound import inbox
from bot.inbound.keywords import Keyword, keyword_of
from bot.journeys.good_news import queue_good_news
from bot.outbound.reach import unreachable_guardians
from bot.outbound.worker import Worker
from bot.runtime.context import Context
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    GuardianChannel,
    InboundMessage,
    InboundStatus,
    Staff,
    Student,
    utcnow,
)
from bot.web.app import create_app
from channels.base import InboundParsed
from channels.sms import TwilioSmsChannel, parse_inbound
from tests import factories as f
from tests.conftest import make_settings
from tests.standins.twilio import Fault, TwilioStandin, twilio_settings

ALL = {"sms", "email", "telegram"}
PHONE = "+447700900123"
EMAIL = "parent@family.test"
PUBLIC = "https://school.example"
_sids = iter(range(10_000))


def _sms(body: str, sender: str = PHONE) -> InboundParsed:
    return parse_inbound({"From": sender, "Body": body, "MessageSid": f"SM{next(_sids):032d}"})


def _family(ctx: Context, **guardian_kw: object) -> dict[str, int]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher)
        values: dict[str, object] = {"phone": PHONE, "email": EMAIL}
        values.update(guardian_kw)
        g = f.guardian(s, school, child, **values)
        return {"guardian": g.id, "teacher": teacher.id, "child": child.id}


def _good_news(ctx: Context, ids: dict[str, int], text: str = "Great reading today.",
               available: set[str] = ALL) -> list[Delivery]:
    with ctx.factory() as s, s.begin():
        child = s.get(Student, ids["child"])
        teacher = s.get(Staff, ids["teacher"])
        _, rows = queue_good_news(s, ctx.school(s), child, teacher, text, available=available)
        return rows


def _deliveries(ctx: Context) -> list[Delivery]:
    with ctx.factory() as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.id)))


def _state(ctx: Context, guardian_id: int, channel: str) -> GuardianChannel | None:
    with ctx.factory() as s:
        return s.get(GuardianChannel, (guardian_id, channel))


# -- recognising keywords ----------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("STOP", Keyword.STOP), ("stop", Keyword.STOP), ("  Stop.  ", Keyword.STOP),
    ("STOP!!", Keyword.STOP), ("StopAll", Keyword.STOP), ("unsubscribe", Keyword.STOP),
    ("Cancel", Keyword.STOP), ("end", Keyword.STOP), ("QUIT", Keyword.STOP),
    ("revoke", Keyword.STOP), ("optout", Keyword.STOP), ("opt-out", Keyword.STOP),
    ("START", Keyword.START), ("yes", Keyword.START), ("Unstop", Keyword.START),
    ("help", Keyword.HELP), ("Info?", Keyword.HELP),
    ("stop it please", None), ("Please stop", None), ("stopping by later", None),
    ("", None), ("...", None), ("Thank you", None), ("Yes, Tuesday is fine", None),
])
def test_keyword_of(text: str, expected: Keyword | None) -> None:
    assert keyword_of(text) is expected


# -- STOP --------------------------------------------------------------------------------
def test_stop_opts_out_with_one_confirmation_and_is_not_routed(ctx: Context) -> None:
    ids = _family(ctx)
    row = inbox.receive(ctx.factory, _sms("Stop"), ALL)
    assert row.status == InboundStatus.HANDLED and row.routed_to_id is None
    assert row.guardian_id == ids["guardian"]
    state = _state(ctx, ids["guardian"], "sms")
    assert state is not None and state.opted_out_at is not None
    [confirmation] = _deliveries(ctx)
    assert confirmation.channel == "sms" and confirmation.address == PHONE
    assert confirmation.status == DeliveryStatus.QUEUED
    assert "Riverside Primary School" in confirmation.rendered_text
    assert "START" in confirmation.rendered_text
    with ctx.factory() as s:  # the STOP itself stays in the contact log
        assert s.get(InboundMessage, row.id).body == "Stop"


def test_second_stop_sends_no_second_confirmation(ctx: Context) -> None:
    _family(ctx)
    inbox.receive(ctx.factory, _sms("STOP"), ALL)
    again = inbox.receive(ctx.factory, _sms("UNSUBSCRIBE"), ALL)
    assert again.status == InboundStatus.HANDLED
    assert len(_deliveries(ctx)) == 1


def test_after_stop_good_news_goes_by_email(ctx: Context) -> None:
    ids = _family(ctx)
    inbox.receive(ctx.factory, _sms("stop"), ALL)
    [news] = _good_news(ctx, ids)
    assert news.channel == "email" and news.address == EMAIL


def test_stop_by_email_opts_out_of_email_only(ctx: Context) -> None:
    ids = _family(ctx, channel_order=["email", "sms"])
    parsed = InboundParsed(channel="email", sender_address=EMAIL, text="STOP\n", raw="{}",
                           provider_id="<m1@family.test>")
    row = inbox.receive(ctx.factory, parsed, ALL)
    assert row.status == InboundStatus.HANDLED
    assert _state(ctx, ids["guardian"], "email").opted_out_at is not None  # type: ignore[union-attr]
    assert _state(ctx, ids["guardian"], "sms") is None
    assert [d.channel for d in _deliveries(ctx)] == ["email"]  # confirmation where asked
    [news] = _good_news(ctx, ids)
    assert news.channel == "sms"


# -- START -------------------------------------------------------------------------------
def test_start_opts_back_in_with_confirmation(ctx: Context) -> None:
    ids = _family(ctx)
    inbox.receive(ctx.factory, _sms("STOP"), ALL)
    row = inbox.receive(ctx.factory, _sms("start"), ALL)
    assert row.status == InboundStatus.HANDLED and row.routed_to_id is None
    assert _state(ctx, ids["guardian"], "sms").opted_out_at is None  # type: ignore[union-attr]
    confirmations = _deliveries(ctx)
    assert [d.channel for d in confirmations] == ["sms", "sms"]
    assert "STOP" in confirmations[1].rendered_text
    [news] = _good_news(ctx, ids)
    assert news.channel == "sms"


def test_yes_when_not_opted_out_is_a_reply_for_the_key_worker(ctx: Context) -> None:
    ids = _family(ctx)
    row = inbox.receive(ctx.factory, _sms("Yes"), ALL)
    assert row.status == InboundStatus.ROUTED and row.routed_to_id == ids["teacher"]
    assert _state(ctx, ids["guardian"], "sms") is None


def test_start_after_twilio_refused_the_number_clears_the_failure(ctx: Context) -> None:
    ids = _family(ctx)
    with ctx.factory() as s, s.begin():
        s.add(GuardianChannel(guardian_id=ids["guardian"], channel="sms", consent=True,
                              failed_address=PHONE, failed_at=utcnow(),
                              failed_reason="twilio error 21610"))
    row = inbox.receive(ctx.factory, _sms("START"), ALL)
    assert row.status == InboundStatus.HANDLED
    assert _state(ctx, ids["guardian"], "sms").failed_address is None  # type: ignore[union-attr]
    [news] = _good_news(ctx, ids)[-1:]
    assert news.channel == "sms"


# -- HELP --------------------------------------------------------------------------------
def test_help_answers_with_school_and_key_worker(ctx: Context) -> None:
    _family(ctx)
    row = inbox.receive(ctx.factory, _sms("HELP"), ALL)
    assert row.status == InboundStatus.HANDLED and row.routed_to_id is None
    [answer] = _deliveries(ctx)
    assert answer.channel == "sms"
    assert "Riverside Primary School" in answer.rendered_text and "Ms Key" in answer.rendered_text


def test_help_without_a_key_worker_still_answers(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        child = f.student(s, school, None)
        f.guardian(s, school, child, phone=PHONE)
    inbox.receive(ctx.factory, _sms("info"), ALL)
    [answer] = _deliveries(ctx)
    assert "Riverside Primary School" in answer.rendered_text and "someone from the school" in \
        answer.rendered_text


# -- nobody dropped quietly ----------------------------------------------------------------
def test_opted_out_of_everything_is_listed_unreachable(ctx: Context) -> None:
    ids = _family(ctx)
    _family(ctx, phone="+447700900456", email="other@family.test")  # reachable
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        nobody = f.guardian(s, school, None, phone=None, email=None, ref="GNONE")
        nobody_id = nobody.id
    inbox.receive(ctx.factory, _sms("STOP"), ALL)
    inbox.receive(ctx.factory, InboundParsed(channel="email", sender_address=EMAIL,
                                             text="stop", raw="{}", provider_id="<m2@x>"), ALL)
    with ctx.factory() as s:
        listed = {g.id: reason for g, reason in unreachable_guardians(s, {"sms", "email"})}
    assert set(listed) == {ids["guardian"], nobody_id}
    assert "sms: opted out" in listed[ids["guardian"]]
    assert "email: opted out" in listed[ids["guardian"]]
    assert "no address" in listed[nobody_id]
    [news] = _good_news(ctx, ids, available={"sms", "email"})
    assert news.status == DeliveryStatus.UNREACHABLE and "opted out" in (news.last_error or "")


# -- the whole path over Twilio ------------------------------------------------------------
@pytest.fixture
def twilio() -> Iterator[TwilioStandin]:
    """A running Twilio stand-in."""
    with TwilioStandin.running() as standin:
        yield standin


@pytest.fixture
def sms_ctx(db_url: str, tmp_path: Path, twilio: TwilioStandin) -> Iterator[Context]:
    """A Context with Twilio SMS (stand-in) and outbox email."""
    context = Context(make_settings(db_url, tmp_path, sms=twilio_settings(twilio),
                                    public_url=PUBLIC))
    yield context
    context.engine.dispose()


def test_stop_over_twilio_one_confirmation_sms_then_email(sms_ctx: Context,
                                                          twilio: TwilioStandin) -> None:
    ids = _family(sms_ctx)
    form = twilio.inbound_form(PHONE, "STOP")
    url = f"{PUBLIC}/webhooks/twilio/sms"
    with TestClient(create_app(sms_ctx)) as client:
        assert client.post("/webhooks/twilio/sms", data=form,
                           headers=twilio.webhook_headers(url, form)).status_code == 200
    sms = TwilioSmsChannel(twilio_settings(twilio), public_url=PUBLIC)
    channels = {"sms": sms, "email": sms_ctx.channels["email"]}
    asyncio.run(Worker(sms_ctx.factory, channels).run(until_empty=True))
    [confirmation] = twilio.sent_to(PHONE)
    assert "START" in confirmation["body"]
    _good_news(sms_ctx, ids)
    sms2 = TwilioSmsChannel(twilio_settings(twilio), public_url=PUBLIC)
    asyncio.run(Worker(sms_ctx.factory, {"sms": sms2, "email": sms_ctx.channels["email"]}
                       ).run(until_empty=True))
    assert len(twilio.sent_to(PHONE)) == 1  # no SMS after STOP
    assert [(d.channel, d.status) for d in _deliveries(sms_ctx)] == [
        ("sms", DeliveryStatus.SENT), ("email", DeliveryStatus.SENT)]


def test_confirmation_refused_by_twilio_opt_out_is_not_retried_by_sms(
        sms_ctx: Context, twilio: TwilioStandin) -> None:
    # With Twilio's own opt-out handling on, Twilio answers our confirmation with 21610.
    _family(sms_ctx)
    inbox.receive(sms_ctx.factory, _sms("STOP"), ALL)
    twilio.fail_next(Fault.twilio(21610))
    sms = TwilioSmsChannel(twilio_settings(twilio), public_url=PUBLIC)
    asyncio.run(Worker(sms_ctx.factory, {"sms": sms, "email": sms_ctx.channels["email"]}
                       ).run(until_empty=True))
    assert twilio.messages == []
    rows = _deliveries(sms_ctx)
    assert rows[0].channel == "sms" and rows[0].status == DeliveryStatus.FAILED
    assert all(d.channel != "sms" for d in rows[1:])
    # it falls back to email, and still reads right there
    assert rows[1].channel == "email" and "text messages" in rows[1].rendered_text
