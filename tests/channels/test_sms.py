"""TwilioSmsChannel through the real twilio client against the local Twilio stand-in.

Faults are injected by the stand-in, and outcomes are checked through the real Worker:
what is retried, when, what moves the guardian to email, and that nothing is lost or
sent twice.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import TwilioSettings
from bot.journeys.good_news import queue_good_news
from bot.outbound.worker import Worker, WorkerPolicy
from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus, GuardianChannel, utcnow
from channels.base import (
    ChannelConfigurationError,
    DeliveryOutcome,
    OutgoingMessage,
    PermanentAddressError,
    TransientError,
)
from channels.segments import segments
from channels.sms import TwilioSmsChannel, map_twilio_error, parse_status
from tests import factories as f
from tests.conftest import make_settings
from tests.standins.twilio import FROM_NUMBER, Fault, TwilioStandin, twilio_settings

PUBLIC = "https://school.example"
PHONE = "+447700900123"


@pytest.fixture
def twilio() -> Iterator[TwilioStandin]:
    """A running Twilio stand-in."""
    with TwilioStandin.running() as standin:
        yield standin


@pytest.fixture
def sms_ctx(db_url: str, tmp_path: Path, twilio: TwilioStandin) -> Iterator[Context]:
    """A Context whose SMS channel is Twilio, pointed at the stand-in (email: outbox)."""
    context = Context(make_settings(db_url, tmp_path, sms=twilio_settings(twilio),
                                    public_url=PUBLIC))
    yield context
    context.engine.dispose()


def _queue(ctx: Context, text: str = "Read aloud to the class today.") -> int:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        f.guardian(s, school, child, phone=PHONE)
        _, rows = queue_good_news(s, school, child, teacher, text, available={"sms", "email"})
        return rows[0].id


def _worker(ctx: Context, twilio: TwilioStandin, *, later: timedelta | None = None,
            timeout: float = 5.0) -> Worker:
    """The real worker over a fresh Twilio channel (short timeout) and the email outbox."""
    sms = TwilioSmsChannel(twilio_settings(twilio), public_url=PUBLIC, timeout=timeout)
    clock = (lambda: utcnow() + later) if later else utcnow
    return Worker(ctx.factory, {"sms": sms, "email": ctx.channels["email"]},
                  WorkerPolicy(retry_base_seconds=60), clock=clock, public_url=PUBLIC)


def _deliveries(ctx: Context) -> list[Delivery]:
    with ctx.factory() as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.id)))


def test_send_goes_through_twilio_with_callback_url_and_segments(
        sms_ctx: Context, twilio: TwilioStandin) -> None:
    _queue(sms_ctx)
    asyncio.run(_worker(sms_ctx, twilio).run(until_empty=True))
    [created] = twilio.messages
    [row] = _deliveries(sms_ctx)
    assert row.status == DeliveryStatus.SENT and row.provider_id == created["sid"]
    assert created["sid"].startswith("SM")
    assert created["to"] == PHONE and created["from"] == FROM_NUMBER
    assert "Read aloud to the class today." in created["body"]
    assert created["status_callback"] == f"{PUBLIC}/webhooks/twilio/status"
    assert row.segments == segments(row.rendered_text) == int(created["num_segments"])
    assert twilio.message_requests()[0].auth_ok


def test_long_unicode_text_records_its_segment_count(sms_ctx: Context,
                                                     twilio: TwilioStandin) -> None:
    _queue(sms_ctx, text="Świetnie czytała na głos 😀 " * 6)
    asyncio.run(_worker(sms_ctx, twilio).run(until_empty=True))
    [row] = _deliveries(sms_ctx)
    assert row.segments is not None and row.segments > 1
    assert row.segments == segments(row.rendered_text)


def test_messaging_service_is_used_when_configured(twilio: TwilioStandin) -> None:
    settings = twilio_settings(twilio, from_number=None, messaging_service_sid="MG" + "1" * 32)
    channel = TwilioSmsChannel(settings, public_url=PUBLIC)
    result = asyncio.run(channel.send(OutgoingMessage(PHONE, "Hello", "k1")))
    assert result.ok
    [request] = twilio.message_requests()
    assert request.form["MessagingServiceSid"] == "MG" + "1" * 32 and "From" not in request.form


def test_server_error_is_retried_later_and_sent_once(sms_ctx: Context,
                                                     twilio: TwilioStandin) -> None:
    _queue(sms_ctx)
    twilio.fail_next(Fault.http(500))
    asyncio.run(_worker(sms_ctx, twilio).run_batch())
    [row] = _deliveries(sms_ctx)
    assert row.status == DeliveryStatus.QUEUED and row.attempts == 1
    assert "HTTP 500" in (row.last_error or "")
    assert row.next_attempt_at > utcnow()
    asyncio.run(_worker(sms_ctx, twilio, later=timedelta(hours=2)).run(until_empty=True))
    assert [d.status for d in _deliveries(sms_ctx)] == [DeliveryStatus.SENT]
    assert len(twilio.messages) == 1 and len(twilio.message_requests()) == 2


def test_timeout_is_retried_later(sms_ctx: Context, twilio: TwilioStandin) -> None:
    _queue(sms_ctx)
    twilio.fail_next(Fault.slow(30))
    asyncio.run(_worker(sms_ctx, twilio, timeout=0.3).run_batch())
    [row] = _deliveries(sms_ctx)
    assert row.status == DeliveryStatus.QUEUED
    assert "did not answer" in (row.last_error or "")
    asyncio.run(_worker(sms_ctx, twilio, later=timedelta(hours=2)).run(until_empty=True))
    assert [d.status for d in _deliveries(sms_ctx)] == [DeliveryStatus.SENT]
    assert len(twilio.messages) == 1


def test_rate_limit_honours_retry_after(sms_ctx: Context, twilio: TwilioStandin) -> None:
    _queue(sms_ctx)
    twilio.fail_next(Fault.rate_limited(retry_after=120))
    asyncio.run(_worker(sms_ctx, twilio).run_batch())
    [row] = _deliveries(sms_ctx)
    assert row.status == DeliveryStatus.QUEUED and "20429" in (row.last_error or "")
    assert (row.next_attempt_at - utcnow()).total_seconds() >= 119
    assert asyncio.run(_worker(sms_ctx, twilio, later=timedelta(seconds=60)).run_batch()) == 0
    asyncio.run(_worker(sms_ctx, twilio, later=timedelta(seconds=200)).run(until_empty=True))
    assert len(twilio.messages) == 1


def test_invalid_number_is_permanent_and_guardian_moves_to_email(
        sms_ctx: Context, twilio: TwilioStandin) -> None:
    _queue(sms_ctx)
    twilio.fail_next(Fault.twilio(21211))
    asyncio.run(_worker(sms_ctx, twilio).run(until_empty=True))
    rows = _deliveries(sms_ctx)
    assert [(d.channel, d.status) for d in rows] == [
        ("sms", DeliveryStatus.FAILED), ("email", DeliveryStatus.SENT)]
    assert "21211" in (rows[0].last_error or "") and PHONE not in (rows[0].last_error or "")
    assert rows[0].attempts == 1  # not retried
    assert twilio.messages == []
    with sms_ctx.factory() as s:
        state = s.scalars(select(GuardianChannel)).one()
        assert state.channel == "sms" and state.failed_address == PHONE
    # the next message skips SMS for this guardian without asking Twilio again
    with sms_ctx.factory() as s, s.begin():
        d = s.get(Delivery, rows[0].id)
        msg = d.message
        _, again = queue_good_news(s, sms_ctx.school(s), msg.student, msg.author,
                                   "Helped a friend.", available={"sms", "email"})
        assert [r.channel for r in again] == ["email"]
    assert len(twilio.message_requests()) == 1


def test_opted_out_at_twilio_is_permanent(sms_ctx: Context, twilio: TwilioStandin) -> None:
    _queue(sms_ctx)
    twilio.fail_next(Fault.twilio(21610))
    asyncio.run(_worker(sms_ctx, twilio).run(until_empty=True))
    rows = _deliveries(sms_ctx)
    assert [(d.channel, d.status) for d in rows] == [
        ("sms", DeliveryStatus.FAILED), ("email", DeliveryStatus.SENT)]
    assert "21610" in (rows[0].last_error or "")


def test_unreachable_handset_is_transient(sms_ctx: Context, twilio: TwilioStandin) -> None:
    _queue(sms_ctx)
    twilio.fail_next(Fault.twilio(30003))
    asyncio.run(_worker(sms_ctx, twilio).run_batch())
    [row] = _deliveries(sms_ctx)
    assert row.status == DeliveryStatus.QUEUED and "30003" in (row.last_error or "")
    with sms_ctx.factory() as s:
        assert s.scalars(select(GuardianChannel)).all() == []  # the address is not blamed


def test_wrong_credentials_do_not_blame_the_family_number(twilio: TwilioStandin) -> None:
    channel = TwilioSmsChannel(twilio_settings(twilio, auth_token="not-the-token"))
    result = asyncio.run(channel.send(OutgoingMessage(PHONE, "Hello", "k1")))
    assert result.outcome is DeliveryOutcome.TRANSIENT and "credentials" in (result.error or "")


def test_faults_in_a_row_never_lose_or_double_a_message(sms_ctx: Context,
                                                        twilio: TwilioStandin) -> None:
    _queue(sms_ctx)
    twilio.fail_next(Fault.http(503), Fault.rate_limited(1), Fault.twilio(30003))
    for hours in range(1, 6):
        asyncio.run(_worker(sms_ctx, twilio, later=timedelta(hours=hours)).run_batch())
    assert [d.status for d in _deliveries(sms_ctx)] == [DeliveryStatus.SENT]
    assert len(twilio.messages) == 1 and len(twilio.message_requests()) == 4


@pytest.mark.parametrize(("status", "code", "expected", "retry_after"), [
    (400, 21211, PermanentAddressError, None),
    (400, 21614, PermanentAddressError, None),
    (400, 21610, PermanentAddressError, None),
    (400, 30005, PermanentAddressError, None),
    (400, 30003, TransientError, None),
    (429, 20429, TransientError, 7.0),
    (500, 500, TransientError, None),
    (503, None, TransientError, None),
])
def test_error_mapping(status: int, code: int | None, expected: type, retry_after: float | None,
                       ) -> None:
    headers = {"Retry-After": "7"} if retry_after else {}
    error = map_twilio_error(status, code, headers)
    assert type(error) is expected
    if isinstance(error, TransientError):
        assert error.retry_after == retry_after


@pytest.mark.parametrize(("form_status", "ours"), [
    ("queued", "sent"), ("accepted", "sent"), ("sending", "sent"), ("sent", "sent"),
    ("delivered", "delivered"), ("read", "read"), ("failed", "failed"),
    ("undelivered", "failed"), ("receiving", None),
])
def test_status_callback_words(form_status: str, ours: str | None) -> None:
    report = parse_status({"MessageSid": "SM1", "MessageStatus": form_status})
    assert (report.provider_id, report.status) == ("SM1", ours)


def test_permanent_codes_in_status_callbacks() -> None:
    bad = parse_status({"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30005"})
    assert bad.permanent and "30005" in (bad.error or "")
    flaky = parse_status({"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "30003"})
    assert not flaky.permanent


def test_check_reports_the_account(twilio: TwilioStandin) -> None:
    line = asyncio.run(TwilioSmsChannel(twilio_settings(twilio)).check())
    assert line.startswith("sms: ok (account AC")
    assert FROM_NUMBER not in line  # masked


def test_check_refuses_wrong_token(twilio: TwilioStandin) -> None:
    channel = TwilioSmsChannel(twilio_settings(twilio, auth_token="wrong-token-value"))
    with pytest.raises(ChannelConfigurationError, match="TWILIO_AUTH_TOKEN"):
        asyncio.run(channel.check())


def test_check_refuses_suspended_account() -> None:
    with TwilioStandin.running(account_status="suspended") as standin, \
            pytest.raises(ChannelConfigurationError, match="suspended"):
        asyncio.run(TwilioSmsChannel(twilio_settings(standin)).check())


def test_check_says_when_the_api_cannot_be_reached() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = TwilioSettings(_env_file=None, account_sid="AC" + "0" * 32, auth_token="tok-123456",
                          from_number=FROM_NUMBER, api_base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(ChannelConfigurationError, match="cannot reach"):
        asyncio.run(TwilioSmsChannel(dead).check())


# -- an answer that never came (issue 14, finding 6) --------------------------------------
def _retry_for(ctx: Context, twilio: TwilioStandin, minutes: int = 90) -> None:
    """Run the worker again every 2 minutes of the row's clock for `minutes` (later each
    time), as a long-running worker would."""
    for m in range(2, minutes + 1, 2):
        asyncio.run(_worker(ctx, twilio, later=timedelta(minutes=m), timeout=0.3).run_batch())


def test_answer_later_than_the_client_timeout_sends_one_sms_and_keeps_its_sid(
        sms_ctx: Context, twilio: TwilioStandin) -> None:
    _queue(sms_ctx)
    # Twilio creates the message at once but answers only after 2 s; the client waits 0.3 s
    # (the same as the 10 s default against a slower answer, without a 10 s wait).
    twilio.fail_next(*[Fault.late_answer(2.0)] * 6)
    asyncio.run(_worker(sms_ctx, twilio, timeout=0.3).run_batch())
    assert [d.status for d in _deliveries(sms_ctx)] == [DeliveryStatus.QUEUED]
    _retry_for(sms_ctx, twilio)
    assert len(twilio.sent_to(PHONE)) == 1  # one SMS on the parent's phone, not six
    [row] = _deliveries(sms_ctx)
    [message] = twilio.messages
    assert row.status == DeliveryStatus.SENT and row.provider_id == message["sid"]
    assert len(twilio.message_requests()) == 1  # never created again
    [lookup] = twilio.list_requests()
    assert lookup.form["To"] == PHONE and lookup.form["From"] == FROM_NUMBER
    assert lookup.form["DateSent>"]  # on or after the attempt
    with sms_ctx.factory() as s:
        assert s.scalars(select(GuardianChannel)).all() == []  # the family is reachable


def test_timeout_when_twilio_has_no_such_message_is_sent_again_once(
        sms_ctx: Context, twilio: TwilioStandin) -> None:
    _queue(sms_ctx)
    twilio.fail_next(Fault.slow(2.0))  # held, then 504: nothing was created
    asyncio.run(_worker(sms_ctx, twilio, timeout=0.3).run_batch())
    assert twilio.messages == []
    _retry_for(sms_ctx, twilio)
    [row] = _deliveries(sms_ctx)
    [message] = twilio.messages
    assert row.status == DeliveryStatus.SENT and row.provider_id == message["sid"]
    assert len(twilio.list_requests()) == 1 and len(twilio.message_requests()) == 2


def test_when_twilio_cannot_say_the_row_goes_to_a_person_never_resent_blind(
        sms_ctx: Context, twilio: TwilioStandin) -> None:
    _queue(sms_ctx)
    twilio.fail_next(Fault.slow(2.0))
    twilio.fail_lookups(*[Fault.http(500)] * 20)
    asyncio.run(_worker(sms_ctx, twilio, timeout=0.3).run_batch())
    for hours in range(1, 12):
        asyncio.run(_worker(sms_ctx, twilio, later=timedelta(hours=hours)).run_batch())
    [row] = _deliveries(sms_ctx)
    assert row.status == DeliveryStatus.NEEDS_REVIEW
    assert "a person should check" in (row.last_error or "")
    assert len(twilio.message_requests()) == 1  # the one attempt; no blind resend
    assert len(twilio.list_requests()) >= 2


def test_crash_recovery_asks_twilio_about_rows_whose_call_had_started(
        sms_ctx: Context, twilio: TwilioStandin) -> None:
    for _ in range(3):
        _queue(sms_ctx)
    dead = Worker(sms_ctx.factory, {"sms": sms_ctx.channels["sms"]},
                  worker_id="gone-host:1:abc")
    rows = dead.claim()
    handed = dead.hand_over([r.id for r in rows[:2]])  # the third was never handed over
    # the dead worker's first call reached Twilio before it died; the second did not
    asyncio.run(TwilioSmsChannel(twilio_settings(twilio)).send(rows[0].outgoing()))
    worker = _worker(sms_ctx, twilio)
    worker.policy = WorkerPolicy(stale_sending_seconds=0, settle_seconds=0)
    counts = asyncio.run(worker.recover())
    assert handed == {rows[0].id, rows[1].id}
    assert counts == {"sent": 1, "requeued": 1, "released": 1, "needs_review": 0,
                      "asking_later": 0}
    asyncio.run(worker.run(until_empty=True))
    assert [d.status for d in _deliveries(sms_ctx)] == [DeliveryStatus.SENT] * 3
    assert len(twilio.messages) == 3  # one each, none twice
    assert _deliveries(sms_ctx)[0].provider_id == twilio.messages[0]["sid"]


def test_the_same_text_sent_for_another_row_is_not_taken_for_this_one(
        sms_ctx: Context, twilio: TwilioStandin) -> None:
    channel = TwilioSmsChannel(twilio_settings(twilio))
    message = OutgoingMessage(PHONE, "Thank you, we have your message.", "k-1")
    since = utcnow()
    other = asyncio.run(channel.send(message))
    assert other.provider_id is not None
    assert asyncio.run(channel.find_sent(message, since)) == other.provider_id
    assert asyncio.run(channel.find_sent(message, since, frozenset({other.provider_id}))) \
        is None
    assert asyncio.run(channel.find_sent(
        OutgoingMessage("+447700900999", message.text, "k-2"), since)) is None


def test_twilio_list_pages_are_followed(twilio: TwilioStandin) -> None:
    channel = TwilioSmsChannel(twilio_settings(twilio))
    since = utcnow()
    first = asyncio.run(channel.send(OutgoingMessage(PHONE, "The one we look for", "k")))
    for i in range(120):  # newer messages to the same number push ours to the second page
        asyncio.run(channel.send(OutgoingMessage(PHONE, f"Other {i}", f"k{i}")))
    assert asyncio.run(channel.find_sent(
        OutgoingMessage(PHONE, "The one we look for", "k"), since)) == first.provider_id
    assert len(twilio.list_requests()) == 2


def test_a_person_who_chooses_resend_in_review_gets_it_sent_once(
        sms_ctx: Context, twilio: TwilioStandin) -> None:
    from bot.cli.support import review

    delivery_id = _queue(sms_ctx)
    twilio.fail_next(Fault.slow(2.0))
    twilio.fail_lookups(*[Fault.http(500)] * 20)
    asyncio.run(_worker(sms_ctx, twilio, timeout=0.3).run_batch())
    for hours in range(1, 12):
        asyncio.run(_worker(sms_ctx, twilio, later=timedelta(hours=hours)).run_batch())
    assert [r["id"] for r in review(sms_ctx, None, None)] == [delivery_id]
    asked = len(twilio.list_requests())
    review(sms_ctx, resend=delivery_id, mark_sent=None)  # the office checked: it never came
    asyncio.run(_worker(sms_ctx, twilio, later=timedelta(hours=13)).run(until_empty=True))
    [row] = _deliveries(sms_ctx)
    assert row.status == DeliveryStatus.SENT and len(twilio.messages) == 1
    assert len(twilio.list_requests()) == asked  # sent as the person decided, not asked again
    assert review(sms_ctx, None, None) == []
