"""Twilio webhooks: signatures checked, inbound stored before the 2xx, status callbacks
applied idempotently and never backwards. Signed with twilio's own RequestValidator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.journeys.good_news import queue_good_news
from bot.outbound.worker import Worker
from bot.runtime.context import Context
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    GuardianChannel,
    InboundMessage,
    InboundStatus,
    MessageKind,
)
from bot.web.app import create_app
from channels.sms import TwilioSmsChannel
from tests import factories as f
from tests.conftest import make_settings
from tests.standins.twilio import TwilioStandin, twilio_settings

PUBLIC = "https://school.example"
PHONE = "+447700900123"
INBOUND = "/webhooks/twilio/sms"
STATUS = "/webhooks/twilio/status"


@pytest.fixture
def twilio() -> Iterator[TwilioStandin]:
    """A running Twilio stand-in (API and webhook signer)."""
    with TwilioStandin.running() as standin:
        yield standin


def _context(db_url: str, tmp_path: Path, twilio: TwilioStandin) -> Context:
    return Context(make_settings(db_url, tmp_path, sms=twilio_settings(twilio),
                                 public_url=PUBLIC))


@pytest.fixture
def sms_ctx(db_url: str, tmp_path: Path, twilio: TwilioStandin) -> Iterator[Context]:
    """A Context with Twilio SMS (stand-in) and outbox email."""
    context = _context(db_url, tmp_path, twilio)
    yield context
    context.engine.dispose()


@pytest.fixture
def client(sms_ctx: Context) -> Iterator[TestClient]:
    """The web app over that context."""
    with TestClient(create_app(sms_ctx)) as test_client:
        yield test_client


def _family(ctx: Context, **guardian_kw: object) -> dict[str, int]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher)
        values: dict[str, object] = {"phone": PHONE}
        values.update(guardian_kw)
        g = f.guardian(s, school, child, **values)
        return {"guardian": g.id, "teacher": teacher.id, "child": child.id}


def _post(client: TestClient, twilio: TwilioStandin, path: str, form: dict[str, str],
          signature: str | None = "sign", public: str = PUBLIC) -> object:
    headers = {}
    if signature == "sign":
        headers = twilio.webhook_headers(public + path, form)
    elif signature is not None:
        headers = {"X-Twilio-Signature": signature}
    return client.post(path, data=form, headers=headers)


def _count(ctx: Context, model: type) -> int:
    with ctx.factory() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


# -- signatures --------------------------------------------------------------------------
@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl"])
def test_missing_or_forged_signature_is_refused_and_nothing_stored(
        sms_ctx: Context, client: TestClient, twilio: TwilioStandin,
        signature: str | None) -> None:
    _family(sms_ctx)
    response = _post(client, twilio, INBOUND, twilio.inbound_form(PHONE, "Hello"),
                     signature=signature)
    assert response.status_code == 403
    assert _count(sms_ctx, InboundMessage) == 0


def test_signature_for_another_url_or_changed_body_is_refused(
        sms_ctx: Context, client: TestClient, twilio: TwilioStandin) -> None:
    form = twilio.inbound_form(PHONE, "Hello")
    assert _post(client, twilio, INBOUND, form, public="https://evil.example"
                 ).status_code == 403
    signature = twilio.sign(PUBLIC + INBOUND, form)
    tampered = form | {"Body": "Send me the child's address"}
    assert _post(client, twilio, INBOUND, tampered, signature=signature).status_code == 403
    assert _count(sms_ctx, InboundMessage) == 0


def test_signed_with_another_auth_token_is_refused(
        sms_ctx: Context, client: TestClient, twilio: TwilioStandin) -> None:
    other = TwilioStandin(auth_token="someone-elses-token")
    form = twilio.inbound_form(PHONE, "Hello")
    assert _post(client, twilio, INBOUND, form,
                 signature=other.sign(PUBLIC + INBOUND, form)).status_code == 403


def test_query_string_is_part_of_the_signed_url(
        sms_ctx: Context, client: TestClient, twilio: TwilioStandin) -> None:
    _family(sms_ctx)
    form = twilio.inbound_form(PHONE, "Hello")
    path = INBOUND + "?school=riverside"
    response = client.post(path, data=form, headers=twilio.webhook_headers(PUBLIC + path, form))
    assert response.status_code == 200


# -- inbound -----------------------------------------------------------------------------
def test_valid_inbound_is_stored_routed_and_acknowledged(
        sms_ctx: Context, client: TestClient, twilio: TwilioStandin) -> None:
    ids = _family(sms_ctx)
    response = _post(client, twilio, INBOUND, twilio.inbound_form(PHONE, "Thank you!"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text.endswith("<Response/>")
    with sms_ctx.factory() as s:
        row = s.scalars(select(InboundMessage)).one()
        assert row.status == InboundStatus.ROUTED and row.body == "Thank you!"
        assert (row.guardian_id, row.routed_to_id) == (ids["guardian"], ids["teacher"])
        ack = s.scalars(select(Delivery)).one()
        assert ack.message.kind == MessageKind.SYSTEM and ack.channel == "sms"
        assert "Ms Key will read it" in ack.rendered_text


def test_repeated_webhook_is_stored_once(sms_ctx: Context, client: TestClient,
                                         twilio: TwilioStandin) -> None:
    _family(sms_ctx)
    form = twilio.inbound_form(PHONE, "Yes please", sid="SM" + "d" * 32)
    assert _post(client, twilio, INBOUND, form).status_code == 200
    assert _post(client, twilio, INBOUND, form).status_code == 200
    assert _count(sms_ctx, InboundMessage) == 1
    assert _count(sms_ctx, Delivery) == 1  # one acknowledgement


def test_signed_form_without_message_sid_is_stored_once_however_often_it_comes(
        sms_ctx: Context, client: TestClient, twilio: TwilioStandin) -> None:
    """Issue 14, finding 13: a validly signed form without MessageSid, sent three times."""
    _family(sms_ctx)
    form = {k: v for k, v in twilio.inbound_form(PHONE, "1").items()
            if k not in ("MessageSid", "SmsMessageSid", "SmsSid")}
    for _ in range(3):
        assert _post(client, twilio, INBOUND, form).status_code == 200
    assert _count(sms_ctx, InboundMessage) == 1
    assert _count(sms_ctx, Delivery) == 1  # one acknowledgement, one routing
    # a different text from the same family without a sid is a new message
    other = {**form, "Body": "2"}
    assert _post(client, twilio, INBOUND, other).status_code == 200
    assert _count(sms_ctx, InboundMessage) == 2


def test_twilio_request_token_tells_identical_texts_without_sid_apart(
        sms_ctx: Context, client: TestClient, twilio: TwilioStandin) -> None:
    _family(sms_ctx)
    form = {k: v for k, v in twilio.inbound_form(PHONE, "Thank you").items()
            if k not in ("MessageSid", "SmsMessageSid", "SmsSid")}
    for token, times in (("t-1", 2), ("t-2", 2)):  # two messages, each retried once
        headers = {**twilio.webhook_headers(PUBLIC + INBOUND, form),
                   "I-Twilio-Idempotency-Token": token}
        for _ in range(times):
            assert client.post(INBOUND, data=form, headers=headers).status_code == 200
    assert _count(sms_ctx, InboundMessage) == 2


def test_storage_failure_answers_503_then_twilio_retry_is_stored(
        db_url: str, tmp_path: Path, sms_ctx: Context, client: TestClient,
        twilio: TwilioStandin) -> None:
    _family(sms_ctx)
    url = make_url(db_url)
    down_url = (f"sqlite:///{tmp_path}/no-such-folder/db.sqlite" if url.drivername
                .startswith("sqlite") else url.set(port=1).render_as_string(False))
    down = Context(make_settings(down_url, tmp_path, sms=twilio_settings(twilio),
                                 public_url=PUBLIC))
    form = twilio.inbound_form(PHONE, "Can we talk on Friday?")
    with TestClient(create_app(down)) as down_client:
        response = _post(down_client, twilio, INBOUND, form)
    down.engine.dispose()
    assert response.status_code == 503
    assert _count(sms_ctx, InboundMessage) == 0
    # Twilio retries the same webhook once the database is back
    assert _post(client, twilio, INBOUND, form).status_code == 200
    with sms_ctx.factory() as s:
        assert s.scalars(select(InboundMessage)).one().body == "Can we talk on Friday?"


def test_processing_failure_after_storing_still_answers_2xx(
        sms_ctx: Context, client: TestClient, twilio: TwilioStandin) -> None:
    # A bad channel name in the family's preferences makes routing fail after the store.
    _family(sms_ctx, channel_order=["fax"])
    response = _post(client, twilio, INBOUND, twilio.inbound_form(PHONE, "Hello"))
    assert response.status_code == 200
    with sms_ctx.factory() as s:
        row = s.scalars(select(InboundMessage)).one()
        assert row.status == InboundStatus.RECEIVED and row.body == "Hello"  # safe, to retry


def test_unknown_sender_is_kept_for_the_office(sms_ctx: Context, client: TestClient,
                                               twilio: TwilioStandin) -> None:
    _family(sms_ctx)
    assert _post(client, twilio, INBOUND, twilio.inbound_form("+447700900999", "Hi")
                 ).status_code == 200
    with sms_ctx.factory() as s:
        assert s.scalars(select(InboundMessage)).one().status == InboundStatus.UNMATCHED


# -- status callbacks --------------------------------------------------------------------
def _sent_delivery(ctx: Context, twilio: TwilioStandin) -> tuple[int, str]:
    """Queue good news and send it through the real worker; returns (delivery id, sid)."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        f.guardian(s, school, child, phone=PHONE)
        queue_good_news(s, school, child, teacher, "Lovely painting.", available={"sms", "email"})
    sms = TwilioSmsChannel(twilio_settings(twilio), public_url=PUBLIC)
    asyncio.run(Worker(ctx.factory, {"sms": sms}).run(until_empty=True))
    with ctx.factory() as s:
        d = s.scalars(select(Delivery)).one()
        assert d.status == DeliveryStatus.SENT and d.provider_id
        return d.id, d.provider_id


def _status_of(ctx: Context, delivery_id: int) -> str:
    with ctx.factory() as s:
        return s.get(Delivery, delivery_id).status


def test_status_callbacks_are_idempotent_and_never_go_backwards(
        sms_ctx: Context, client: TestClient, twilio: TwilioStandin) -> None:
    delivery_id, sid = _sent_delivery(sms_ctx, twilio)
    assert _post(client, twilio, STATUS, twilio.status_form(sid, "sent")).status_code == 200
    assert _status_of(sms_ctx, delivery_id) == DeliveryStatus.SENT
    assert _post(client, twilio, STATUS, twilio.status_form(sid, "delivered")).status_code == 200
    assert _status_of(sms_ctx, delivery_id) == DeliveryStatus.DELIVERED
    with sms_ctx.factory() as s:
        updated = s.get(Delivery, delivery_id).updated_at
    assert _post(client, twilio, STATUS, twilio.status_form(sid, "delivered")).status_code == 200
    assert _post(client, twilio, STATUS, twilio.status_form(sid, "sent")).status_code == 200
    assert _post(client, twilio, STATUS, twilio.status_form(sid, "queued")).status_code == 200
    with sms_ctx.factory() as s:
        row = s.get(Delivery, delivery_id)
        assert row.status == DeliveryStatus.DELIVERED and row.updated_at == updated
    assert _count(sms_ctx, Delivery) == 1


def test_forged_status_callback_changes_nothing(sms_ctx: Context, client: TestClient,
                                                twilio: TwilioStandin) -> None:
    delivery_id, sid = _sent_delivery(sms_ctx, twilio)
    response = _post(client, twilio, STATUS, twilio.status_form(sid, "delivered"),
                     signature="Zm9yZ2Vk")
    assert response.status_code == 403
    assert _status_of(sms_ctx, delivery_id) == DeliveryStatus.SENT


def test_undelivered_to_unknown_number_is_permanent_and_moves_to_email(
        sms_ctx: Context, client: TestClient, twilio: TwilioStandin) -> None:
    _, sid = _sent_delivery(sms_ctx, twilio)
    form = twilio.status_form(sid, "undelivered", error_code=30005)
    assert _post(client, twilio, STATUS, form).status_code == 200
    assert _post(client, twilio, STATUS, form).status_code == 200  # repeated: no second move
    with sms_ctx.factory() as s:
        rows = list(s.scalars(select(Delivery).order_by(Delivery.id)))
        assert [(d.channel, d.status) for d in rows] == [
            ("sms", DeliveryStatus.FAILED), ("email", DeliveryStatus.QUEUED)]
        assert "30005" in (rows[0].last_error or "")
        state = s.scalars(select(GuardianChannel)).one()
        assert state.failed_address == PHONE


def test_failed_handset_unreachable_falls_back_without_blaming_the_number(
        sms_ctx: Context, client: TestClient, twilio: TwilioStandin) -> None:
    delivery_id, sid = _sent_delivery(sms_ctx, twilio)
    form = twilio.status_form(sid, "failed", error_code=30003)
    assert _post(client, twilio, STATUS, form).status_code == 200
    assert _status_of(sms_ctx, delivery_id) == DeliveryStatus.FAILED
    with sms_ctx.factory() as s:
        assert s.scalars(select(GuardianChannel)).all() == []


def test_late_failure_after_delivered_is_ignored(sms_ctx: Context, client: TestClient,
                                                 twilio: TwilioStandin) -> None:
    delivery_id, sid = _sent_delivery(sms_ctx, twilio)
    _post(client, twilio, STATUS, twilio.status_form(sid, "delivered"))
    _post(client, twilio, STATUS, twilio.status_form(sid, "failed", error_code=30005))
    assert _status_of(sms_ctx, delivery_id) == DeliveryStatus.DELIVERED
    assert _count(sms_ctx, Delivery) == 1


def test_status_for_an_unknown_message_is_accepted_and_ignored(
        sms_ctx: Context, client: TestClient, twilio: TwilioStandin) -> None:
    response = _post(client, twilio, STATUS, twilio.status_form("SM" + "0" * 32, "delivered"))
    assert response.status_code == 200
    assert _count(sms_ctx, Delivery) == 0
