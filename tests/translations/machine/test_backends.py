"""What every cloud backend does, each against its own stand-in speaking the vendor's
documented format: texts out exactly as given and back in order, requests cut by the
vendor's limits, a slow service abandoned at the timeout, 429 honoured with its
Retry-After, a refused key explained in plain words, a malformed answer refused."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tests.translations.machine.conftest import Backend
from translations.machine import HttpTranslator, TranslationError

TEXTS = ["Ana read a whole book today [1].", "Pickup is at 3.15 pm.", "Zoë ❤ reading"]
TAGS = {"deepl": "PL", "microsoft": "pl", "google-key": "pl", "google-account": "pl"}


def _run(client: HttpTranslator, texts: Sequence[str] = TEXTS, source: str = "en",
         target: str = "pl") -> list[str]:
    async def go() -> list[str]:
        try:
            return await client.translate_batch(texts, source, target)
        finally:
            await client.close()

    return asyncio.run(go())


def test_texts_go_out_exactly_and_come_back_in_order(backend: Backend) -> None:
    assert _run(backend.client) == [f"<{TAGS[backend.name]}> {t}" for t in TEXTS]
    sent = backend.server.translation_requests()
    assert len(sent) == 1
    assert backend.server.sent_texts() == TEXTS


def test_request_carries_nothing_but_the_documented_fields(backend: Backend) -> None:
    _run(backend.client)
    [request] = backend.server.translation_requests()
    body = request.json()
    if backend.name == "deepl":
        assert body == {"text": TEXTS, "source_lang": "EN", "target_lang": "PL"}
        assert request.query == {}
    elif backend.name == "microsoft":
        assert body == [{"Text": t} for t in TEXTS]
        assert request.query == {"api-version": "3.0", "from": "en", "to": "pl",
                                 "textType": "plain"}
    else:
        assert body == {"contents": TEXTS, "mimeType": "text/plain",
                        "sourceLanguageCode": "en", "targetLanguageCode": "pl"}
        assert request.query == {}  # the API key travels in a header, never in the URL


def test_empty_batch_makes_no_request(backend: Backend) -> None:
    assert _run(backend.client, []) == []
    assert backend.server.translation_requests() == []


def test_slow_service_is_abandoned_at_the_timeout(backend: Backend) -> None:
    backend.server.fail_next("slow")  # answers after 1.5 s; the client waits 0.3 s
    with pytest.raises(TranslationError, match=r"did not answer within 0.3 s") as caught:
        _run(backend.make(timeout=0.3))
    assert caught.value.retry_after is None


def test_429_carries_the_services_retry_after(backend: Backend) -> None:
    backend.server.fail_next("429:7")
    with pytest.raises(TranslationError, match="answered 429") as caught:
        _run(backend.client)
    assert caught.value.retry_after == 7
    assert caught.value.status == 429
    assert not any(t in str(caught.value) for t in TEXTS)


def test_429_without_retry_after_leaves_the_wait_to_the_caller(backend: Backend) -> None:
    backend.server.fail_next("429")
    with pytest.raises(TranslationError, match="limiting requests") as caught:
        _run(backend.client)
    assert caught.value.retry_after is None


def test_server_error_says_it_will_be_retried(backend: Backend) -> None:
    backend.server.fail_next("500")
    with pytest.raises(TranslationError, match=r"answered 500.*will retry"):
        _run(backend.client)


def test_wrong_key_says_what_to_fix_without_the_key(backend: Backend) -> None:
    wrong = "wrong-key-5e5e5e"
    with pytest.raises(TranslationError) as caught:
        _run(backend.make(key=wrong))
    message = str(caught.value)
    assert "SCHOOLGATE_TRANSLATION_" in message
    assert wrong not in message and not any(t in message for t in TEXTS)
    assert caught.value.status in (400, 401, 403)


@pytest.mark.parametrize("how", ["malformed", "short"])
def test_malformed_answer_is_refused(backend: Backend, how: str) -> None:
    backend.server.fail_next(how)
    with pytest.raises(TranslationError, match=r"shape we do not know|returned 2 "
                                               r"translations for 3 texts"):
        _run(backend.client)


def test_unreachable_service_is_a_translation_error(backend: Backend) -> None:
    client = backend.make(timeout=1.0)
    backend.server.__exit__()  # nothing listens on its port any more
    with pytest.raises(TranslationError, match=r"unreachable|did not answer"):
        _run(client)


def test_unsupported_language_is_refused_in_plain_words(backend: Backend) -> None:
    with pytest.raises(TranslationError, match="answered 400"):
        _run(backend.client, target="tlh")  # Klingon: no service here offers it
