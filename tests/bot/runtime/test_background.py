"""Reply routing in the background process: every stored SMS is routed, once, and a
failure leaves the message for a later pass instead of stopping the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.inbound import inbox
from bot.runtime import background
from bot.runtime.context import Context
from bot.store.models import Delivery, InboundMessage, InboundStatus
from channels.sms import parse_inbound
from tests import factories as f
from tests.conftest import make_settings
from tests.standins.twilio import TwilioStandin, twilio_settings

PHONE = "+447700900123"


@pytest.fixture
def ctx(db_url: str, tmp_path: Path) -> Iterator[Context]:
    """Twilio SMS (stand-in) and one family whose key worker is Ms Key."""
    with TwilioStandin.running() as twilio:
        context = Context(make_settings(db_url, tmp_path, sms=twilio_settings(twilio)))
        context.twilio = twilio  # type: ignore[attr-defined]
        with context.factory() as s, s.begin():
            school = context.school(s)
            teacher = f.staff(s, school, name="Ms Key")
            f.guardian(s, school, f.student(s, school, teacher), phone=PHONE)
        yield context
        context.engine.dispose()


def _store(ctx: Context, text: str) -> int:
    twilio: TwilioStandin = ctx.twilio  # type: ignore[attr-defined]
    return inbox.store(ctx.factory, parse_inbound(twilio.inbound_form(PHONE, text)))[0]


def _statuses(ctx: Context) -> tuple[list[str], int]:
    with ctx.factory() as s:
        return (list(s.scalars(select(InboundMessage.status).order_by(InboundMessage.id))),
                s.scalar(select(func.count()).select_from(Delivery)) or 0)


async def _route_until(ctx: Context, done: int, timeout: float = 30.0) -> int:
    """Run the routing loop until `done` messages are no longer 'received' (or timeout)."""
    stop = asyncio.Event()
    task = asyncio.create_task(background.route_replies_forever(ctx, stop, poll=0.01))
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        statuses, _ = await asyncio.to_thread(_statuses, ctx)
        if sum(s != InboundStatus.RECEIVED for s in statuses) >= done:
            break
        await asyncio.sleep(0.02)
    stop.set()
    return await task


def test_stored_replies_are_routed_and_acknowledged_once(ctx: Context) -> None:
    for n in range(3):
        _store(ctx, f"Thank you, note {n}")
    assert asyncio.run(_route_until(ctx, 3)) == 3
    assert _statuses(ctx) == ([InboundStatus.ROUTED] * 3, 3)  # one acknowledgement each


def test_a_reply_stored_while_the_loop_runs_is_routed_too(ctx: Context) -> None:
    async def scenario() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(background.route_replies_forever(ctx, stop, poll=0.01))
        await asyncio.sleep(0.1)  # idle: nothing waiting
        await asyncio.to_thread(_store, ctx, "Can we talk on Friday?")
        for _ in range(500):
            if (await asyncio.to_thread(_statuses, ctx))[0] == [InboundStatus.ROUTED]:
                break
            await asyncio.sleep(0.02)
        stop.set()
        return await task

    assert asyncio.run(scenario()) == 1
    assert _statuses(ctx) == ([InboundStatus.ROUTED], 1)


def test_a_failing_message_is_left_for_later_and_the_rest_are_routed(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = _store(ctx, "This one breaks")
    _store(ctx, "This one is fine")
    real = inbox.process

    def process(factory, inbound_id, available, *args, **kwargs):  # type: ignore[no-untyped-def]
        if inbound_id == broken:  # e.g. a database blip half way through
            raise RuntimeError("blip")
        return real(factory, inbound_id, available, *args, **kwargs)

    monkeypatch.setattr(inbox, "process", process)
    assert asyncio.run(_route_until(ctx, 1)) == 1
    # the broken one stays 'received' (tried again after a while), nothing doubled
    assert _statuses(ctx) == ([InboundStatus.RECEIVED, InboundStatus.ROUTED], 1)
