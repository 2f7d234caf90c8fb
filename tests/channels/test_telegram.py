"""The Telegram adapter, through python-telegram-bot, against the local Bot API stand-in."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import TelegramSettings
from bot.inbound.routing import Router
from bot.inbound.telegram_updates import run_polling
from bot.journeys.good_news import queue_good_news
from bot.outbound.worker import Worker, WorkerPolicy
from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus, GuardianChannel, InboundMessage, utcnow
from channels.base import ChannelConfigurationError, DeliveryOutcome, OutgoingMessage
from channels.registry import build_channels
from channels.telegram import ChatPacer, TelegramChannel, parse_inbound, split_text
from channels.telegram_polling import TelegramPoller
from tests import factories as f
from tests.recording_channel import RecordingChannel
from tests.standins import telegram as st

CHAT = "700100200"


@pytest.fixture
def standin() -> Iterator[st.TelegramStandIn]:
    with st.TelegramStandIn() as server:
        yield server


class FakeTime:
    """A clock that moves only when told to, and a sleep that records instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def _channel(standin: st.TelegramStandIn, fake: FakeTime | None = None,
             **settings: Any) -> TelegramChannel:
    fake = fake or FakeTime()
    return TelegramChannel(st.settings_for(standin, **settings),
                           pacer=ChatPacer(1.0, clock=fake.clock, sleep=fake.sleep))


def _msg(text: str = "Hello from school", address: str = CHAT, key: str = "k1") -> OutgoingMessage:
    return OutgoingMessage(address=address, text=text, idempotency_key=key)


async def _send_and_close(channel: TelegramChannel, *messages: OutgoingMessage) -> list[Any]:
    try:
        return [await channel.send(m) for m in messages]
    finally:
        await channel.close()


# -- sending --------------------------------------------------------------------------------
def test_send_goes_through_the_bot_api(standin: st.TelegramStandIn) -> None:
    [result] = asyncio.run(_send_and_close(_channel(standin), _msg()))
    assert result.outcome is DeliveryOutcome.SENT and result.provider_id == "1"
    [call] = standin.calls("sendMessage")
    assert call.token == standin.token
    assert str(call.params["chat_id"]) == CHAT and call.params["text"] == "Hello from school"
    assert standin.calls("getMe"), "the client is initialised (getMe) before the first send"


def test_long_text_is_sent_in_parts_telegram_accepts(standin: st.TelegramStandIn) -> None:
    text = ("A paragraph of news. " * 100 + "\n\n") * 4  # 4 paragraphs of 2,100 characters
    [result] = asyncio.run(_send_and_close(_channel(standin), _msg(text)))
    assert result.ok and result.segments == 4  # two paragraphs would not fit in one part
    parts = standin.texts_to(CHAT)
    assert len(parts) == 4 and all(len(p) <= 4096 for p in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == \
        text.replace("\n", "").replace(" ", "")


def test_split_text_prefers_paragraph_ends() -> None:
    assert split_text("short") == ["short"]
    assert split_text("aaaa\n\nbbbb", limit=6) == ["aaaa", "bbbb"]
    assert split_text("x" * 10, limit=4) == ["xxxx", "xxxx", "xx"]


@pytest.mark.parametrize(("fault", "outcome", "words"), [
    (st.blocked(), DeliveryOutcome.PERMANENT, "blocked"),
    (st.chat_not_found(), DeliveryOutcome.PERMANENT, "chat not found"),
    (st.flood(17), DeliveryOutcome.TRANSIENT, "retry in 17s"),
    (st.server_error(), DeliveryOutcome.TRANSIENT, "internal server error"),
    (st.timeout(), DeliveryOutcome.TRANSIENT, "timed out"),
])
def test_provider_errors_map_to_what_the_worker_does_next(
        standin: st.TelegramStandIn, fault: st.Fault, outcome: DeliveryOutcome,
        words: str) -> None:
    standin.fail("sendMessage", fault)
    [result] = asyncio.run(_send_and_close(_channel(standin), _msg()))
    assert result.outcome is outcome
    assert words in (result.error or "").lower()
    assert result.retry_after == (17 if fault.status == 429 else None)
    assert standin.sent == []


def test_a_refused_token_is_never_quoted_in_errors(standin: st.TelegramStandIn) -> None:
    channel = _channel(standin, bot_token="999:not-the-right-token")
    [result] = asyncio.run(_send_and_close(channel, _msg()))
    assert result.outcome is DeliveryOutcome.TRANSIENT
    assert "bot token" in (result.error or "") and "not-the-right" not in (result.error or "")


# -- pacing ---------------------------------------------------------------------------------
def test_pacer_spaces_one_chat_a_second_apart_and_leaves_other_chats_alone() -> None:
    fake = FakeTime()
    pacer = ChatPacer(1.0, clock=fake.clock, sleep=fake.sleep)
    assert [pacer.reserve("a") for _ in range(3)] == [0.0, 1.0, 2.0]
    assert pacer.reserve("b") == 0.0
    fake.now += 10
    assert pacer.reserve("a") == 0.0  # the chat has been quiet: no wait


def test_pacer_forgets_quiet_chats_when_it_grows() -> None:
    fake = FakeTime()
    pacer = ChatPacer(1.0, clock=fake.clock, sleep=fake.sleep, max_chats=3)
    for chat in "abc":
        pacer.reserve(chat)
    fake.now += 5
    pacer.reserve("d")
    assert set(pacer._next) == {"d"}


def test_channel_waits_its_turn_per_chat_before_each_send(standin: st.TelegramStandIn) -> None:
    fake = FakeTime()
    channel = _channel(standin, fake)
    results = asyncio.run(_send_and_close(
        channel, _msg("one", key="1"), _msg("two", key="2"), _msg("other", "555", key="3"),
        _msg("three", key="4")))
    assert all(r.ok for r in results)
    assert fake.sleeps == [1.0, 2.0]  # second and third to CHAT; the other chat went at once
    assert standin.texts_to(CHAT) == ["one", "two", "three"]


def test_overall_rate_comes_from_settings(standin: st.TelegramStandIn) -> None:
    channel = TelegramChannel(st.settings_for(standin, rate_per_second=25))
    assert channel.limiter.interval == pytest.approx(1 / 25)
    assert TelegramSettings(_env_file=None).rate_per_second == 25  # type: ignore[call-arg]


# -- check ----------------------------------------------------------------------------------
def test_check_names_the_bot(standin: st.TelegramStandIn) -> None:
    channel = _channel(standin)
    assert asyncio.run(channel.check()) == f"telegram: ok (@{st.USERNAME})"
    assert asyncio.run(channel.username()) == st.USERNAME


def test_check_refuses_a_bad_token(standin: st.TelegramStandIn) -> None:
    channel = _channel(standin, bot_token="999:wrong")
    with pytest.raises(ChannelConfigurationError, match="token was refused") as info:
        asyncio.run(channel.check())
    assert "999:wrong" not in str(info.value) and info.value.__cause__ is None


def test_check_says_when_telegram_cannot_be_reached() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = TelegramChannel(TelegramSettings(  # type: ignore[call-arg]
        _env_file=None, bot_token="1:x", api_base_url=f"http://127.0.0.1:{port}", timeout=0.5))
    with pytest.raises(ChannelConfigurationError, match="cannot reach"):
        asyncio.run(channel.check())


def test_registry_builds_the_real_adapter_when_a_token_is_set(
        ctx: Context, standin: st.TelegramStandIn) -> None:
    ctx.settings.telegram = st.settings_for(standin, rate_per_second=25)
    channels = build_channels(ctx.settings)
    assert isinstance(channels["telegram"], TelegramChannel)


def test_parse_inbound_keeps_the_senders_language() -> None:
    parsed = parse_inbound(st.text_update(42, "Dzień dobry", language_code="pl", update_id=7))
    assert parsed is not None
    assert (parsed.sender_address, parsed.provider_id, parsed.extra) == \
        ("42", "7", {"language": "pl"})
    assert parse_inbound({"update_id": 8, "my_chat_member": {}}) is None


# -- through the real worker ----------------------------------------------------------------
def _family(ctx: Context, chat: str = CHAT) -> int:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        guardian = f.guardian(s, school, child, telegram_chat_id=chat,
                              channel_order=["telegram", "sms"])
        queue_good_news(s, school, child, teacher, "Helped a friend at lunch today.",
                        available={"sms", "telegram"})
        return guardian.id


def _rows(ctx: Context) -> list[Delivery]:
    with ctx.factory() as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.id)))


def test_worker_sends_through_telegram(ctx: Context, standin: st.TelegramStandIn) -> None:
    _family(ctx)
    channel = _channel(standin)
    sent = asyncio.run(Worker(ctx.factory, {"telegram": channel}).run(until_empty=True))
    assert sent == 1
    [row] = _rows(ctx)
    assert (row.channel, row.status, row.provider_id) == ("telegram", DeliveryStatus.SENT, "1")
    assert "Helped a friend at lunch today." in standin.texts_to(CHAT)[0]


def test_flood_control_wait_is_honoured_by_the_worker(ctx: Context,
                                                      standin: st.TelegramStandIn) -> None:
    _family(ctx)
    standin.fail("sendMessage", st.flood(120))
    channel = _channel(standin)
    clock = [utcnow()]
    worker = Worker(ctx.factory, {"telegram": channel}, WorkerPolicy(retry_base_seconds=1),
                    clock=lambda: clock[0])

    async def scenario() -> None:
        await worker.run_batch()
        [row] = _rows(ctx)
        assert row.status == DeliveryStatus.QUEUED and row.attempts == 1
        assert (row.next_attempt_at - clock[0]).total_seconds() >= 120
        clock[0] += timedelta(seconds=60)
        assert await worker.run_batch() == 0  # still inside Telegram's wait
        clock[0] += timedelta(seconds=80)
        assert await worker.run_batch() == 1
        await channel.close()

    asyncio.run(scenario())
    assert [r.status for r in _rows(ctx)] == [DeliveryStatus.SENT]
    assert len(standin.texts_to(CHAT)) == 1


def test_blocked_chat_is_permanent_and_the_family_moves_to_sms(
        ctx: Context, standin: st.TelegramStandIn) -> None:
    guardian_id = _family(ctx)
    standin.block(CHAT)
    sms = RecordingChannel("sms")
    asyncio.run(Worker(ctx.factory, {"telegram": _channel(standin), "sms": sms})
                .run(until_empty=True))
    assert [(r.channel, r.status) for r in _rows(ctx)] == [
        ("telegram", DeliveryStatus.FAILED), ("sms", DeliveryStatus.SENT)]
    assert len(sms.sent) == 1 and standin.sent == []
    with ctx.factory() as s:
        state = s.get(GuardianChannel, (guardian_id, "telegram"))
        assert state is not None and state.failed_address == CHAT
        assert "blocked" in (state.failed_reason or "")


def test_server_errors_and_timeouts_retry_later_and_send_exactly_once(
        ctx: Context, standin: st.TelegramStandIn) -> None:
    _family(ctx)
    standin.fail("sendMessage", st.server_error(), st.timeout())
    channel = _channel(standin)
    clock = [utcnow()]
    worker = Worker(ctx.factory, {"telegram": channel}, WorkerPolicy(retry_base_seconds=1),
                    clock=lambda: clock[0])

    async def scenario() -> list[str]:
        errors = []
        for _ in range(3):
            await worker.run_batch()
            [row] = _rows(ctx)
            errors.append(row.last_error or row.status)
            clock[0] += timedelta(hours=1)
        await channel.close()
        return errors

    errors = asyncio.run(scenario())
    assert "Internal Server Error" in errors[0] and "timed out" in errors[1]
    [row] = _rows(ctx)
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 3)
    assert len(standin.calls("sendMessage")) == 3
    assert len(standin.texts_to(CHAT)) == 1  # nothing lost, nothing doubled


# -- polling --------------------------------------------------------------------------------
def test_poller_feeds_updates_in_order_and_confirms_them(standin: st.TelegramStandIn) -> None:
    seen: list[int] = []

    async def handle(update: Any) -> None:
        seen.append(update["update_id"])

    poller = TelegramPoller(st.settings_for(standin), handle, poll_timeout=0)
    standin.push_update(st.text_update(1, "a", update_id=10))
    standin.push_update(st.text_update(2, "b", update_id=11))

    async def scenario() -> list[int]:
        counts = [await poller.poll_once(), await poller.poll_once()]
        await poller.close()
        return counts

    assert asyncio.run(scenario()) == [2, 0]
    assert seen == [10, 11] and poller.offset == 12
    assert standin.calls("deleteWebhook"), "a webhook would make getUpdates fail"
    assert standin.calls("getUpdates")[-1].params["offset"] == 12


def test_poller_does_not_confirm_an_update_it_could_not_hand_over(
        standin: st.TelegramStandIn) -> None:
    seen: list[int] = []

    async def handle(update: Any) -> None:
        seen.append(update["update_id"])
        if len(seen) == 1:
            raise RuntimeError("database is down")

    poller = TelegramPoller(st.settings_for(standin), handle, poll_timeout=0)
    standin.push_update(st.text_update(1, "a", update_id=20))

    async def scenario() -> None:
        with pytest.raises(RuntimeError):
            await poller.poll_once()
        assert poller.offset is None
        assert await poller.poll_once() == 1
        await poller.close()

    asyncio.run(scenario())
    assert seen == [20, 20]


def test_polling_stores_and_the_routing_loop_routes(ctx: Context,
                                                   standin: st.TelegramStandIn) -> None:
    _family(ctx, chat="321")
    ctx.settings.telegram = st.settings_for(standin, mode="polling")
    standin.push_update(st.text_update(321, "Thanks, see you Friday", update_id=31))
    standin.push_update(st.text_update(654, "Who is this?", update_id=32))

    def statuses() -> dict[str | None, str]:
        with ctx.factory() as s:
            return {r.provider_id: r.status for r in s.scalars(select(InboundMessage))}

    async def scenario() -> None:
        stop = asyncio.Event()
        polling = asyncio.create_task(run_polling(ctx.factory, ctx.settings.telegram, stop))
        routing = asyncio.create_task(Router(ctx.factory, ctx.channels, poll=0.01).run(stop))
        while len(standin.calls("getUpdates")) < 2:  # the second call confirms both updates
            await asyncio.sleep(0.01)
        while "received" in statuses().values():
            await asyncio.sleep(0.01)
        stop.set()
        await polling
        await routing
        await ctx.channels["telegram"].close()

    asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert statuses() == {"31": "routed", "32": "unmatched"}
    assert standin.calls("getUpdates")[1].params["offset"] == 33
    assert "not connected" in standin.texts_to(654)[0]
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 2


def test_concurrent_first_sends_share_one_client(standin: st.TelegramStandIn) -> None:
    channel = _channel(standin)

    async def scenario() -> list[Any]:
        try:
            return await asyncio.gather(*(channel.send(_msg(address=str(100 + i), key=str(i)))
                                          for i in range(5)))
        finally:
            await channel.close()

    assert all(r.ok for r in asyncio.run(scenario()))
    assert len(standin.calls("getMe")) == 1 and len(standin.sent) == 5


def test_webhook_is_registered_with_its_secret_and_removed(standin: st.TelegramStandIn) -> None:
    channel = _channel(standin)

    async def scenario() -> dict[str, Any]:
        try:
            await channel.set_webhook("https://school.example/webhooks/telegram", "abc_123")
            registered = standin.webhook
            await channel.delete_webhook()
            return registered
        finally:
            await channel.close()

    registered = asyncio.run(scenario())
    assert registered["url"] == "https://school.example/webhooks/telegram"
    assert registered["secret_token"] == "abc_123"
    assert standin.webhook == {}
