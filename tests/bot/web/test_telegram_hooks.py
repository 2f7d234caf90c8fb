"""`POST /webhooks/telegram`: the secret header, store-before-2xx, dedup, and routing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from bot.config import TelegramSettings
from bot.inbound.telegram_link import create_link
from bot.runtime.context import Context
from bot.store.models import Guardian, InboundMessage, InboundStatus
from bot.web.app import create_app
from bot.web.telegram_hooks import SECRET_HEADER, secret_ok
from channels.telegram import ChatPacer
from tests import factories as f
from tests.standins import telegram as st

SECRET = "s3cret-Token_for-webhooks"
URL = "/webhooks/telegram"
CHAT = 990033


@pytest.fixture
def standin() -> Iterator[st.TelegramStandIn]:
    with st.TelegramStandIn() as server:
        yield server


def _ctx(ctx: Context, standin: st.TelegramStandIn, secret: str | None = SECRET) -> Context:
    ctx.settings.telegram = st.settings_for(standin, webhook_secret=secret)

    async def no_wait(seconds: float) -> None:
        return None

    ctx.channels["telegram"].pacer = ChatPacer(1.0, sleep=no_wait)  # type: ignore[attr-defined]
    return ctx


@pytest.fixture
def client(ctx: Context, standin: st.TelegramStandIn) -> Iterator[TestClient]:
    with TestClient(create_app(_ctx(ctx, standin))) as test_client:
        yield test_client


def _post(client: TestClient, update: dict[str, Any], secret: str | None = SECRET) -> Any:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return client.post(URL, json=update, headers=headers)


def _inbound(ctx: Context) -> list[InboundMessage]:
    with ctx.factory() as s:
        return list(s.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def _family(ctx: Context, **kw: object) -> dict[str, int]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        g = f.guardian(s, school, child, **kw)
        return {"guardian": g.id, "teacher": teacher.id}


# -- the secret -----------------------------------------------------------------------------
@pytest.mark.parametrize("given", [None, "", "wrong", SECRET + "x", SECRET.upper()])
def test_wrong_or_missing_secret_is_refused_and_nothing_is_stored(
        ctx: Context, client: TestClient, standin: st.TelegramStandIn,
        given: str | None) -> None:
    response = _post(client, st.text_update(CHAT, "hello"), secret=given)
    assert response.status_code == 403
    assert _inbound(ctx) == [] and standin.sent == []


def test_without_a_configured_secret_everything_is_refused(
        ctx: Context, standin: st.TelegramStandIn) -> None:
    with TestClient(create_app(_ctx(ctx, standin, secret=None))) as no_secret:
        assert _post(no_secret, st.text_update(CHAT, "hello"), secret="").status_code == 403
        assert _post(no_secret, st.text_update(CHAT, "hello"), secret=None).status_code == 403
    assert _inbound(ctx) == []


def test_secret_comparison() -> None:
    assert secret_ok("abc", "abc")
    assert not secret_ok("abc", "abd") and not secret_ok("abc", None)
    assert not secret_ok(None, "") and not secret_ok("", "")
    assert not secret_ok("abc", "ÄBC")  # non-ASCII header values do not crash the check


# -- storing --------------------------------------------------------------------------------
def test_valid_update_is_stored_before_the_answer(ctx: Context, client: TestClient) -> None:
    update = st.text_update(CHAT, "Hello there", update_id=501)
    response = _post(client, update)
    assert response.status_code == 200 and response.json()["ok"] is True
    [row] = _inbound(ctx)
    assert (row.channel, row.provider_id, row.body) == ("telegram", "501", "Hello there")
    assert '"update_id": 501' in row.raw_payload


def test_a_repeated_update_is_stored_once_and_answered_once(
        ctx: Context, client: TestClient, standin: st.TelegramStandIn) -> None:
    update = st.text_update(CHAT, "Hello there", update_id=502)
    assert _post(client, update).status_code == 200
    second = _post(client, update)
    assert second.status_code == 200 and second.json()["action"] == "duplicate"
    assert len(_inbound(ctx)) == 1
    assert len(standin.texts_to(CHAT)) == 1


def test_updates_without_text_are_accepted_and_ignored(ctx: Context, client: TestClient) -> None:
    response = _post(client, {"update_id": 503, "my_chat_member": {"chat": {"id": CHAT}}})
    assert response.status_code == 200 and response.json()["action"] == "ignored"
    assert _inbound(ctx) == []


MALFORMED: list[tuple[str, bytes]] = [
    ("no chat", b'{"update_id": 601, "message": {"message_id": 1, "text": "hi"}}'),
    ("message is a string", b'{"update_id": 602, "message": "text"}'),
    ("text is null", b'{"update_id": 603, "message": {"chat": {"id": 5}, "text": null}}'),
    ("text is a list", b'{"update_id": 604, "message": {"chat": {"id": 5}, "text": ["a"]}}'),
    ("chat is null", b'{"update_id": 605, "message": {"chat": null, "text": "hi"}}'),
    ("chat id too big", b'{"update_id": 606, "message": {"chat": {"id": 1' + b"0" * 30
     + b'}, "text": "hi"}}'),
    ("update_id a string", b'{"update_id": "x", "message": {"chat": {"id": 5}, "text": "hi"}}'),
    ("nested brackets", b"[" * 100_000),
    ("not JSON", b"[1, 2"),
    ("a JSON list", b"[1]"),
    ("not UTF-8", b'{"update_id": 607, "message": {"text": "\xff\xfe"}}'),
    ("too long a text", b'{"update_id": 608, "message": {"chat": {"id": 5}, "text": "'
     + b"a" * 4097 + b'"}}'),
]


@pytest.mark.parametrize(("case", "body"), MALFORMED, ids=[c for c, _ in MALFORMED])
def test_a_malformed_update_is_answered_200_and_kept_for_a_person(
        ctx: Context, client: TestClient, case: str, body: bytes) -> None:
    response = client.post(URL, content=body, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 200, case  # any other answer: Telegram resends it
    again = client.post(URL, content=body, headers={SECRET_HEADER: SECRET})
    assert again.status_code == 200
    rows = _inbound(ctx)
    assert len(rows) == 1  # kept once, never lost, never doubled
    assert rows[0].status == InboundStatus.UNMATCHED and rows[0].problem


def test_a_lone_surrogate_in_a_text_is_stored_and_routed(ctx: Context, client: TestClient) -> None:
    body = b'{"update_id": 611, "message": {"chat": {"id": %d}, "text": "late \\ud83d"}}' % CHAT
    response = client.post(URL, content=body, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 200
    (row,) = _inbound(ctx)
    assert row.body == "late \ufffd"


def test_a_huge_body_is_not_stored_whole(ctx: Context, client: TestClient) -> None:
    text = "a" * 10_000_000
    body = b'{"update_id": 612, "message": {"chat": {"id": 5}, "text": "%s"}}' % text.encode()
    response = client.post(URL, content=body, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 200
    (row,) = _inbound(ctx)
    assert row.status == InboundStatus.UNMATCHED and "larger than" in (row.problem or "")
    assert len(row.raw_payload) <= 4096 and row.body == ""


def test_when_storing_fails_telegram_is_asked_to_retry(ctx: Context, client: TestClient) -> None:
    update = st.text_update(CHAT, "Hello there", update_id=504)
    with ctx.engine.begin() as conn:  # the database cannot take the row right now
        conn.execute(text("ALTER TABLE inbound_messages RENAME TO inbound_messages_away"))
    try:
        response = _post(client, update)
    finally:
        with ctx.engine.begin() as conn:
            conn.execute(text("ALTER TABLE inbound_messages_away RENAME TO inbound_messages"))
    assert response.status_code == 503
    assert _post(client, update).status_code == 200  # Telegram's retry is stored, once
    assert [r.provider_id for r in _inbound(ctx)] == ["504"]


# -- routing --------------------------------------------------------------------------------
def test_linked_chat_is_routed_to_the_key_worker(ctx: Context, client: TestClient) -> None:
    ids = _family(ctx, telegram_chat_id=str(CHAT))
    response = _post(client, st.text_update(CHAT, "Thank you for the note!"))
    assert response.json()["action"] == "stored"  # answered once stored; routed after
    [row] = _inbound(ctx)
    assert (row.status, row.guardian_id, row.routed_to_id) == (
        InboundStatus.ROUTED, ids["guardian"], ids["teacher"])


def test_unlinked_chat_is_unmatched_and_told_how_to_link(
        ctx: Context, client: TestClient, standin: st.TelegramStandIn) -> None:
    _family(ctx)
    response = _post(client, st.text_update(CHAT, "Hi, I am Amal's mum"))
    assert response.json()["action"] == "stored"
    [row] = _inbound(ctx)
    assert row.status == InboundStatus.UNMATCHED
    [reply] = standin.texts_to(CHAT)
    assert "not connected" in reply and "We have kept your message." in reply


def test_start_with_a_link_code_binds_over_the_webhook(
        ctx: Context, client: TestClient, standin: st.TelegramStandIn) -> None:
    ids = _family(ctx)
    with ctx.factory() as s, s.begin():
        url = create_link(s, s.get(Guardian, ids["guardian"]), bot_username=st.USERNAME)
    code = url.rsplit("=", 1)[1]
    response = _post(client, st.text_update(CHAT, f"/start {code}"))
    assert response.json()["action"] == "stored"
    with ctx.factory() as s:
        assert s.get(Guardian, ids["guardian"]).telegram_chat_id == str(CHAT)
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 1
    assert standin.sent == []  # the welcome is queued for the worker, not sent from here


def test_a_secret_telegram_would_refuse_is_refused_at_start_up() -> None:
    ok = TelegramSettings(_env_file=None,  # type: ignore[call-arg]
                          bot_token="1:a", webhook_secret=SECRET)
    assert ok.problems() == []
    bad = TelegramSettings(_env_file=None,  # type: ignore[call-arg]
                           bot_token="1:a", webhook_secret="has spaces and !")
    assert any("TELEGRAM_WEBHOOK_SECRET may use only" in p for p in bad.problems())


def test_the_office_sees_why_a_malformed_update_waits(ctx: Context, client: TestClient) -> None:
    from tests.bot.web.staff.helpers import account, sign_in

    with ctx.factory() as s, s.begin():
        account(s, ctx.school(s), "office", email="office@school.test")
    body = b'{"update_id": 620, "message": {"chat": {"id": 5}, "text": ["a list"]}}'
    assert client.post(URL, content=body, headers={SECRET_HEADER: SECRET}).status_code == 200
    assert sign_in(client, "office@school.test").status_code == 303
    assert "Could not be processed: text is not a string" in client.get("/inbox").text
