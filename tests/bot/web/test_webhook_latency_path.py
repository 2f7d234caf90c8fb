"""The inbound SMS webhook answers as soon as the message is committed; routing comes after.

These drive the ASGI app directly, so a test can look at the database at the moment the
last byte of the response is handed to the server, before anything after it has run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot import clock
from bot.clock import RunningClock
from bot.inbound.routing import Router
from bot.runtime.context import Context
from bot.store.models import Delivery, InboundMessage, InboundStatus, utcnow
from bot.web.app import create_app
from tests import factories as f
from tests.conftest import make_settings
from tests.standins.twilio import TwilioStandin, twilio_settings

PUBLIC = "https://school.example"
INBOUND = "/webhooks/twilio/sms"
PHONE = "+447700900123"


class ProcessDied(Exception):
    """Stands for the server process dying right after the response went out."""


@pytest.fixture
def twilio() -> Iterator[TwilioStandin]:
    """A Twilio stand-in, for its webhook signer and its Messages API."""
    with TwilioStandin.running() as standin:
        yield standin


def _ctx(db_url: str, tmp_path: Path, twilio: TwilioStandin) -> Context:
    return Context(make_settings(db_url, tmp_path, sms=twilio_settings(twilio),
                                 public_url=PUBLIC))


@pytest.fixture
def ctx(db_url: str, tmp_path: Path, twilio: TwilioStandin) -> Iterator[Context]:
    """A Context with Twilio SMS (stand-in) and one family whose key worker is Ms Key."""
    context = _ctx(db_url, tmp_path, twilio)
    with context.factory() as s, s.begin():
        school = context.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        f.guardian(s, school, f.student(s, school, teacher), phone=PHONE)
    yield context
    context.engine.dispose()


def _snapshot(ctx: Context) -> tuple[list[tuple[str, str]], int]:
    """(status and body of every inbound row, number of deliveries), read afresh."""
    with ctx.factory() as s:
        rows = [(r.status, r.body) for r in s.scalars(
            select(InboundMessage).order_by(InboundMessage.id))]
        return rows, s.scalar(select(func.count()).select_from(Delivery)) or 0


async def _call(app: Any, twilio: TwilioStandin, form: dict[str, str], ctx: Context,
                die_after_response: bool = False) -> tuple[int, Any]:
    """POST a signed inbound SMS; returns (status, what the database held as the last
    byte of the response was sent)."""
    body = urlencode(form).encode()
    headers = {"content-type": "application/x-www-form-urlencoded",
               "content-length": str(len(body)), "host": "school.example"}
    headers.update({k.lower(): v for k, v in
                    twilio.webhook_headers(PUBLIC + INBOUND, form).items()})
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "https", "path": INBOUND, "raw_path": INBOUND.encode(),
             "query_string": b"", "root_path": "", "server": ("school.example", 443),
             "client": ("127.0.0.1", 5000),
             "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
    sent = False
    seen: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen["status"] = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            seen["at_response"] = await asyncio.to_thread(_snapshot, ctx)
            if die_after_response:
                raise ProcessDied

    with contextlib.suppress(ProcessDied):
        await app(scope, receive, send)
    return seen["status"], seen.get("at_response")


def test_stored_when_the_2xx_goes_out_and_routed_only_afterwards(
        ctx: Context, twilio: TwilioStandin) -> None:
    app = create_app(ctx)
    status, at_response = asyncio.run(
        _call(app, twilio, twilio.inbound_form(PHONE, "Can we talk on Friday?"), ctx))
    assert status == 200
    # committed before the answer, but not yet routed or acknowledged
    assert at_response == ([(InboundStatus.RECEIVED, "Can we talk on Friday?")], 0)
    rows, deliveries = _snapshot(ctx)
    assert rows == [(InboundStatus.ROUTED, "Can we talk on Friday?")]
    assert deliveries == 1  # the acknowledgement, queued after the response


def test_a_crash_after_the_2xx_is_finished_by_the_routing_loop_later(
        ctx: Context, twilio: TwilioStandin) -> None:
    app = create_app(ctx)
    status, _ = asyncio.run(_call(app, twilio, twilio.inbound_form(PHONE, "Hello"), ctx,
                                  die_after_response=True))
    assert status == 200
    assert _snapshot(ctx) == ([(InboundStatus.RECEIVED, "Hello")], 0)
    later = utcnow() + timedelta(minutes=5)
    with clock.using(RunningClock(later)):
        router = Router(ctx.factory, ctx.channels, route_new=False)
        assert asyncio.run(router.route_waiting()) == 1
    assert _snapshot(ctx) == ([(InboundStatus.ROUTED, "Hello")], 1)


def test_a_database_failure_is_not_2xx_so_twilio_retries(
        db_url: str, tmp_path: Path, ctx: Context, twilio: TwilioStandin) -> None:
    url = make_url(db_url)
    down_url = (f"sqlite:///{tmp_path}/no-such-folder/db.sqlite"
                if url.drivername.startswith("sqlite")
                else url.set(port=1).render_as_string(False))
    down = _ctx(down_url, tmp_path, twilio)
    form = twilio.inbound_form(PHONE, "Is the trip still on?")
    status, _ = asyncio.run(_call(create_app(down), twilio, form, ctx))
    down.engine.dispose()
    assert not 200 <= status < 300
    assert _snapshot(ctx) == ([], 0)
    status, _ = asyncio.run(_call(create_app(ctx), twilio, form, ctx))  # the retry
    assert status == 200
    assert _snapshot(ctx) == ([(InboundStatus.ROUTED, "Is the trip still on?")], 1)


def test_a_duplicate_message_sid_is_stored_and_acknowledged_once(
        ctx: Context, twilio: TwilioStandin) -> None:
    app = create_app(ctx)
    form = twilio.inbound_form(PHONE, "Yes, we will come", sid="SM" + "e" * 32)

    async def twice() -> list[tuple[int, Any]]:
        return list(await asyncio.gather(_call(app, twilio, form, ctx),
                                          _call(app, twilio, form, ctx)))

    assert [status for status, _ in asyncio.run(twice())] == [200, 200]
    status, _ = asyncio.run(_call(app, twilio, form, ctx))  # and a late retry
    assert status == 200
    assert _snapshot(ctx) == ([(InboundStatus.ROUTED, "Yes, we will come")], 1)


def test_messages_left_while_busy_are_routed_when_it_is_quiet(
        ctx: Context, twilio: TwilioStandin) -> None:
    from bot.inbound import inbox
    from channels.sms import parse_inbound

    ids = [inbox.store(ctx.factory, parse_inbound(twilio.inbound_form(PHONE, f"Note {n}")))[0]
           for n in range(4)]
    # only one may wait: the others are left 'received' at first
    router = Router(ctx.factory, ctx.channels, route_new=False, max_waiting=1)

    async def burst() -> list[bool]:
        return list(await asyncio.gather(*(router.route(i) for i in ids)))

    assert asyncio.run(burst()) == [True, False, False, False]
    rows, deliveries = _snapshot(ctx)
    assert [status for status, _ in rows] == [InboundStatus.ROUTED] * 4
    # a family gets at most 3 automatic answers an hour: the fourth is routed, not answered
    assert deliveries == 3
