"""Every webhook and family link, fuzzed (hypothesis, bounded): correctly signed but
malformed Telegram updates, Twilio inbound and status forms, unsubscribe and pack tokens.
Whatever arrives, the answer is never 5xx, and the same request twice stores at most one
message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.config import TelegramSettings
from bot.runtime.context import Context
from bot.store.models import InboundMessage
from bot.web.app import create_app
from bot.web.telegram_hooks import SECRET_HEADER
from tests.conftest import make_settings
from tests.standins.twilio import TwilioStandin, twilio_settings

PUBLIC = "https://school.example"
SECRET = "fuzz-Secret_token-123"
FUZZ = settings(max_examples=250, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

# text a form or JSON can carry (httpx cannot encode a lone surrogate in a form)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
JSON_TEXT = st.text(max_size=40)  # lone surrogates too: JSON escapes them
IDS = st.one_of(st.integers(), st.integers(min_value=2**62, max_value=2**200), st.none(),
                st.booleans(), JSON_TEXT, st.floats(allow_nan=False))
JSON = st.recursive(st.one_of(st.none(), st.booleans(), IDS, JSON_TEXT),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(JSON_TEXT, inner, max_size=4), max_leaves=12)
CHAT = st.one_of(JSON, st.fixed_dictionaries({"id": IDS}, optional={"type": JSON}))
MESSAGE = st.one_of(JSON, st.fixed_dictionaries(
    {}, optional={"chat": CHAT, "text": st.one_of(JSON_TEXT, JSON), "message_id": IDS,
                  "from": st.one_of(JSON, st.fixed_dictionaries(
                      {"language_code": st.one_of(JSON_TEXT, JSON)}))}))
UPDATE = st.one_of(JSON, st.fixed_dictionaries(
    {}, optional={"update_id": IDS, "message": MESSAGE, "edited_message": MESSAGE,
                  "my_chat_member": JSON}))
BODY = st.one_of(UPDATE.map(lambda u: json.dumps(u).encode()), st.binary(max_size=200),
                 st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * (n // 2)))

TWILIO_KEYS = st.sampled_from(["MessageSid", "SmsSid", "From", "To", "Body", "AccountSid",
                               "MessageStatus", "SmsStatus", "ErrorCode", "NumMedia",
                               "NumSegments", "ApiVersion", "MediaUrl0", "OptOutType"])
FORM = st.dictionaries(st.one_of(TWILIO_KEYS, TEXT.filter(bool)), TEXT, max_size=8)
TOKEN = st.one_of(TEXT.filter(bool), st.text("abcXYZ019-_", min_size=1, max_size=80))


@pytest.fixture
def twilio() -> Iterator[TwilioStandin]:
    with TwilioStandin.running() as standin:
        yield standin


@pytest.fixture
def fuzz_ctx(db_url: str, tmp_path: Path, twilio: TwilioStandin) -> Iterator[Context]:
    context = Context(make_settings(db_url, tmp_path, sms=twilio_settings(twilio),
                                    public_url=PUBLIC))
    context.settings.telegram = TelegramSettings(_env_file=None,  # type: ignore[call-arg]
                                                 webhook_secret=SECRET)
    yield context
    context.engine.dispose()


@pytest.fixture
def client(fuzz_ctx: Context) -> Iterator[TestClient]:
    app = create_app(fuzz_ctx)
    app.state.route_after_response = False  # the edge only: store and answer
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _stored(ctx: Context) -> int:
    with ctx.factory() as s:
        return s.scalar(select(func.count()).select_from(InboundMessage)) or 0


def _twice(ctx: Context, send: Any) -> list[int]:
    """Send the same request twice: both answers; at most one message stored."""
    before = _stored(ctx)
    codes = [send().status_code, send().status_code]
    assert _stored(ctx) - before <= 1, "the same request stored twice"
    return codes


def test_telegram_updates_with_the_right_secret(fuzz_ctx: Context, client: TestClient) -> None:
    @FUZZ
    @given(body=BODY)
    def check(body: bytes) -> None:
        codes = _twice(fuzz_ctx, lambda: client.post(
            "/webhooks/telegram", content=body, headers={SECRET_HEADER: SECRET}))
        assert codes == [200, 200], codes  # anything else: Telegram resends it for a day

    check()


@pytest.mark.parametrize("path", ["/webhooks/twilio/sms", "/webhooks/twilio/status"])
def test_twilio_forms_with_a_valid_signature(fuzz_ctx: Context, client: TestClient,
                                             twilio: TwilioStandin, path: str) -> None:
    @FUZZ
    @given(form=FORM)
    def check(form: dict[str, str]) -> None:
        headers = twilio.webhook_headers(PUBLIC + path, form)
        codes = _twice(fuzz_ctx, lambda: client.post(path, data=form, headers=headers))
        assert all(code < 500 for code in codes), (codes, form)

    check()


@pytest.mark.parametrize(("method", "prefix"), [("GET", "/unsubscribe/"),
                                                ("POST", "/unsubscribe/"),
                                                ("GET", "/pack/")])
def test_family_links_with_any_token(fuzz_ctx: Context, client: TestClient, method: str,
                                     prefix: str) -> None:
    @settings(FUZZ, max_examples=120)
    @given(token=TOKEN if prefix != "/pack/" else TOKEN.filter(lambda t: "\x00" not in t))
    def check(token: str) -> None:
        response = client.request(method, prefix + quote(token, safe=""),
                                  data={"List-Unsubscribe": "One-Click"}
                                  if method == "POST" else None)
        assert response.status_code < 500, (response.status_code, token)

    check()


def test_a_pack_token_with_a_nul_is_not_found(client: TestClient) -> None:
    # pack.py answers 404 for anything outside its token alphabet, before any lookup
    assert client.get("/pack/" + quote("ab\x00cd", safe="")).status_code == 404
