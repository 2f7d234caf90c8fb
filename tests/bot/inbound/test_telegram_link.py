"""Linking a family's Telegram chat with a one-time link, and what comes in afterwards.

Replies reach the chat through the real adapter and the local Bot API stand-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import func, select

from bot import clock as process_clock
from bot.clock import RunningClock
from bot.errors import ConfigurationError
from bot.inbound.routing import Router
from bot.inbound.telegram_link import (
    LinkOutcome,
    bot_username,
    create_link,
    explain,
    hash_code,
    how_to_link,
    link_ttl,
    queue_welcome,
)
from bot.inbound.telegram_updates import HandledUpdate, handle_update
from bot.runtime.context import Context
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Guardian,
    GuardianChannel,
    InboundMessage,
    InboundStatus,
    MessageKind,
    TelegramLink,
    utcnow,
)
from channels.telegram import ChatPacer
from tests import factories as f
from tests.standins import telegram as st

ALL = {"sms", "email", "telegram"}
BOT = st.USERNAME
CHAT = 880011


@pytest.fixture
def standin() -> Iterator[st.TelegramStandIn]:
    with st.TelegramStandIn() as server:
        yield server


@pytest.fixture
def tg(ctx: Context, standin: st.TelegramStandIn) -> Iterator[Context]:
    """The test context with Telegram pointed at the stand-in (no real waiting between sends)."""
    ctx.settings.telegram = st.settings_for(standin)

    async def no_wait(seconds: float) -> None:
        return None

    ctx.channels["telegram"].pacer = ChatPacer(1.0, sleep=no_wait)  # type: ignore[attr-defined]
    yield ctx


def _family(ctx: Context, **kw: object) -> dict[str, int]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Rivera")
        child = f.student(s, school, teacher)
        g = f.guardian(s, school, child, **kw)
        return {"guardian": g.id, "teacher": teacher.id, "child": child.id}


def _link(ctx: Context, guardian_id: int, ttl: timedelta = timedelta(hours=72),
          now: datetime | None = None) -> str:
    with ctx.factory() as s, s.begin():
        url = create_link(s, s.get(Guardian, guardian_id), ttl, bot_username=BOT, now=now)
    return parse_qs(urlparse(url).query)["start"][0]


def _handle(ctx: Context, update: dict[str, Any], now: datetime | None = None) -> HandledUpdate:
    async def go() -> HandledUpdate:
        try:
            return await handle_update(ctx.factory, update, ctx.channels["telegram"],
                                       set(ctx.channels), now)
        finally:
            await ctx.channels["telegram"].close()

    return asyncio.run(go())


def _guardian(ctx: Context, guardian_id: int) -> Guardian:
    with ctx.factory() as s:
        g = s.get(Guardian, guardian_id)
        assert g is not None
        s.expunge(g)
        return g


def _school_name(ctx: Context) -> str:
    with ctx.factory() as s:
        return ctx.school(s).name


# -- links ----------------------------------------------------------------------------------
def test_link_is_a_t_me_deep_link_and_only_its_hash_is_stored(ctx: Context) -> None:
    ids = _family(ctx)
    with ctx.factory() as s, s.begin():
        url = create_link(s, s.get(Guardian, ids["guardian"]), timedelta(hours=1),
                          bot_username="@" + BOT)
    parsed = urlparse(url)
    assert (parsed.scheme, parsed.netloc, parsed.path) == ("https", "t.me", f"/{BOT}")
    code = parse_qs(parsed.query)["start"][0]
    assert len(code) >= 20 and all(c.isalnum() or c in "-_" for c in code)
    with ctx.factory() as s:
        link = s.scalars(select(TelegramLink)).one()
        assert link.code == hash_code(code) != code
        assert link.guardian_id == ids["guardian"] and link.used_at is None


def test_welcome_goes_out_on_the_familys_current_channel_with_the_link(ctx: Context) -> None:
    ids = _family(ctx)
    with ctx.factory() as s, s.begin():
        [row] = queue_welcome(s, s.get(Guardian, ids["guardian"]), ALL, bot_username=BOT)
        assert row.channel == "sms" and row.status == DeliveryStatus.QUEUED
        assert row.message.kind == MessageKind.SYSTEM
        assert f"https://t.me/{BOT}?start=" in row.rendered_text
        assert "works once" in row.rendered_text


def test_welcome_is_never_sent_on_telegram_itself(ctx: Context) -> None:
    ids = _family(ctx, telegram_chat_id="5", channel_order=["telegram", "sms"])
    with ctx.factory() as s, s.begin():
        [row] = queue_welcome(s, s.get(Guardian, ids["guardian"]), ALL, bot_username=BOT)
        assert row.channel == "sms"


def test_a_new_link_retires_the_older_unused_one(tg: Context, standin: st.TelegramStandIn) -> None:
    ids = _family(tg)
    old = _link(tg, ids["guardian"])
    new = _link(tg, ids["guardian"])
    assert _handle(tg, st.text_update(CHAT, f"/start {old}")).action == "not_linked"
    assert _guardian(tg, ids["guardian"]).telegram_chat_id is None
    assert _handle(tg, st.text_update(CHAT, f"/start {new}")).action == "linked"


# -- /start ---------------------------------------------------------------------------------
def test_start_with_a_good_code_binds_the_chat_and_welcomes_them(
        tg: Context, standin: st.TelegramStandIn) -> None:
    ids = _family(tg)
    code = _link(tg, ids["guardian"])
    result = _handle(tg, st.text_update(CHAT, f"/start {code}"))
    assert result.action == "linked" and result.reply is None
    g = _guardian(tg, ids["guardian"])
    assert g.telegram_chat_id == str(CHAT)
    assert g.channel_order == ["telegram", "sms", "email"]
    with tg.factory() as s:
        state = s.get(GuardianChannel, (g.id, "telegram"))
        assert state is not None and state.consent and state.opted_out_at is None
        link = s.scalars(select(TelegramLink)).one()
        assert link.used_at is not None and link.chat_id == str(CHAT)
        inbound = s.scalars(select(InboundMessage)).one()
        assert (inbound.status, inbound.guardian_id) == (InboundStatus.HANDLED, g.id)
        [welcome] = s.scalars(select(Delivery)).all()
        assert (welcome.channel, welcome.address) == ("telegram", str(CHAT))
        assert welcome.message.kind == MessageKind.SYSTEM
    # The welcome is an ordinary outbox row: the worker sends it through the real client.
    asyncio.run(tg.worker().run(until_empty=True))
    [text] = standin.texts_to(CHAT)
    assert "this chat is now connected" in text and g.first_name not in text


def test_start_with_an_unknown_code_binds_nothing_and_says_so(
        tg: Context, standin: st.TelegramStandIn) -> None:
    ids = _family(tg)
    result = _handle(tg, st.text_update(CHAT, "/start not-a-real-code"))
    assert result.action == "not_linked" and result.reply is not None and result.reply.ok
    assert _guardian(tg, ids["guardian"]).telegram_chat_id is None
    assert standin.texts_to(CHAT) == [explain(LinkOutcome.UNKNOWN, "en", _school_name(tg))]
    assert "did not recognise this link" in standin.texts_to(CHAT)[0]


def test_start_with_an_expired_code_binds_nothing_and_says_so(
        tg: Context, standin: st.TelegramStandIn) -> None:
    ids = _family(tg)
    made = utcnow() - timedelta(hours=3)
    code = _link(tg, ids["guardian"], ttl=timedelta(hours=2), now=made)
    _handle(tg, st.text_update(CHAT, f"/start {code}"))
    assert _guardian(tg, ids["guardian"]).telegram_chat_id is None
    assert standin.texts_to(CHAT) == [explain(LinkOutcome.EXPIRED, "en", _school_name(tg))]
    assert "expired" in standin.texts_to(CHAT)[0]
    with tg.factory() as s:
        assert s.scalars(select(TelegramLink)).one().used_at is None


def test_a_used_code_cannot_bind_a_second_chat(tg: Context, standin: st.TelegramStandIn) -> None:
    ids = _family(tg)
    code = _link(tg, ids["guardian"])
    _handle(tg, st.text_update(CHAT, f"/start {code}"))
    other = CHAT + 1
    result = _handle(tg, st.text_update(other, f"/start {code}"))
    assert result.action == "not_linked"
    assert _guardian(tg, ids["guardian"]).telegram_chat_id == str(CHAT)
    assert standin.texts_to(other) == [explain(LinkOutcome.USED, "en", _school_name(tg))]
    assert "already been used" in standin.texts_to(other)[0]


def test_a_used_link_is_refused_in_the_senders_language_not_the_familys(
        tg: Context, standin: st.TelegramStandIn) -> None:
    """A Polish family's link, opened again from someone else's Ukrainian Telegram: the
    refusal is in Ukrainian, and says nothing of the family (not even their language)."""
    ids = _family(tg, language="pl")
    code = _link(tg, ids["guardian"])
    _handle(tg, st.text_update(CHAT, f"/start {code}", language_code="pl"))
    other = CHAT + 1
    _handle(tg, st.text_update(other, f"/start {code}", language_code="uk"))
    [refusal] = standin.texts_to(other)
    assert refusal == explain(LinkOutcome.USED, "uk", _school_name(tg))
    assert refusal != explain(LinkOutcome.USED, "pl", _school_name(tg))
    assert refusal != explain(LinkOutcome.USED, "en", _school_name(tg))


def test_an_unknown_or_expired_link_is_answered_in_the_senders_language(
        tg: Context, standin: st.TelegramStandIn) -> None:
    ids = _family(tg, language="pl")
    _handle(tg, st.text_update(CHAT, "/start not-a-real-code", language_code="es"))
    assert standin.texts_to(CHAT) == [explain(LinkOutcome.UNKNOWN, "es", _school_name(tg))]
    code = _link(tg, ids["guardian"], ttl=timedelta(hours=2),
                 now=utcnow() - timedelta(hours=3))
    _handle(tg, st.text_update(CHAT + 2, f"/start {code}", language_code="pt-br"))
    assert standin.texts_to(CHAT + 2) == [
        explain(LinkOutcome.EXPIRED, "pt_BR", _school_name(tg))]  # Brazil: its own words
    assert standin.texts_to(CHAT + 2)[0] != explain(LinkOutcome.EXPIRED, "pl",
                                                    _school_name(tg))


def test_the_same_chat_reusing_its_code_is_told_it_is_connected(
        tg: Context, standin: st.TelegramStandIn) -> None:
    ids = _family(tg)
    code = _link(tg, ids["guardian"])
    _handle(tg, st.text_update(CHAT, f"/start {code}"))
    _handle(tg, st.text_update(CHAT, f"/start {code}"))
    assert "already connected" in standin.texts_to(CHAT)[-1]
    assert _guardian(tg, ids["guardian"]).telegram_chat_id == str(CHAT)


def test_start_without_a_code_from_an_unknown_chat_explains_how_to_link(
        tg: Context, standin: st.TelegramStandIn) -> None:
    _family(tg)
    _handle(tg, st.text_update(CHAT, "/start"))
    assert standin.texts_to(CHAT) == [how_to_link("en", _school_name(tg), kept=False)]


def test_a_repeated_update_is_answered_once(tg: Context, standin: st.TelegramStandIn) -> None:
    _family(tg)
    update = st.text_update(CHAT, "/start nope", update_id=4242)
    assert _handle(tg, update).action == "not_linked"
    assert _handle(tg, update).action == "duplicate"
    assert len(standin.texts_to(CHAT)) == 1
    with tg.factory() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 1


# -- messages after linking -----------------------------------------------------------------
def test_text_from_a_linked_chat_goes_to_the_key_worker(
        tg: Context, standin: st.TelegramStandIn) -> None:
    ids = _family(tg, telegram_chat_id=str(CHAT), channel_order=["telegram", "sms"])
    result = _handle(tg, st.text_update(CHAT, "Can we talk on Monday?"))
    assert result.action == "routed" and result.reply is None
    with tg.factory() as s:
        row = s.scalars(select(InboundMessage)).one()
        assert (row.status, row.guardian_id, row.routed_to_id) == (
            InboundStatus.ROUTED, ids["guardian"], ids["teacher"])
        ack = s.scalars(select(Delivery)).one()
        assert ack.channel == "telegram" and "Ms Rivera will read it" in ack.rendered_text


def test_text_from_an_unlinked_chat_is_kept_unmatched_and_told_how_to_link(
        tg: Context, standin: st.TelegramStandIn) -> None:
    _family(tg)
    result = _handle(tg, st.text_update(CHAT, "Hello, is this the school?"))
    assert result.action == "unmatched"
    with tg.factory() as s:
        row = s.scalars(select(InboundMessage)).one()
        assert row.status == InboundStatus.UNMATCHED and row.body == "Hello, is this the school?"
        assert s.scalar(select(func.count()).select_from(Delivery)) == 0
    [text] = standin.texts_to(CHAT)
    assert text == how_to_link("en", _school_name(tg))
    assert "We have kept your message." in text


def test_a_failed_reply_does_not_lose_the_message(tg: Context,
                                                  standin: st.TelegramStandIn) -> None:
    _family(tg)
    standin.fail("sendMessage", st.server_error())
    result = _handle(tg, st.text_update(CHAT, "Hello?"))
    assert result.action == "unmatched" and result.reply is not None and not result.reply.ok
    with tg.factory() as s:
        assert s.scalars(select(InboundMessage)).one().status == InboundStatus.UNMATCHED


def test_rows_left_received_are_finished_later(tg: Context, standin: st.TelegramStandIn) -> None:
    ids = _family(tg, telegram_chat_id=str(CHAT))
    with tg.factory() as s, s.begin():
        s.get(Guardian, ids["guardian"]).telegram_chat_id = None
    # Stored, then processing stopped short (as after a crash): the row stays 'received'.
    from bot.inbound import inbox
    from channels.telegram import parse_inbound

    parsed = parse_inbound(st.text_update(CHAT, "Are you there?"))
    assert parsed is not None
    inbox.store(tg.factory, parsed)

    async def go() -> int:
        try:
            with process_clock.using(RunningClock(utcnow() + timedelta(minutes=2))):
                return await Router(tg.factory, tg.channels).route_waiting()
        finally:
            await tg.channels["telegram"].close()

    assert asyncio.run(go()) == 1
    with tg.factory() as s:
        assert s.scalars(select(InboundMessage)).one().status == InboundStatus.UNMATCHED
    assert len(standin.texts_to(CHAT)) == 1


def test_bot_username_comes_from_settings_or_from_telegram(tg: Context) -> None:
    async def ask() -> str:
        try:
            return await bot_username(tg.settings.telegram, tg.channels)
        finally:
            await tg.channels["telegram"].close()

    assert asyncio.run(ask()) == BOT  # getMe on the stand-in
    tg.settings.telegram.bot_username = "@OurSchoolBot"
    assert asyncio.run(ask()) == "OurSchoolBot"
    assert link_ttl(tg.settings.telegram) == timedelta(hours=72)


def test_without_telegram_set_up_links_need_a_username(ctx: Context) -> None:
    with pytest.raises(ConfigurationError, match="TELEGRAM_BOT_USERNAME"):
        asyncio.run(bot_username(ctx.settings.telegram, ctx.channels))
