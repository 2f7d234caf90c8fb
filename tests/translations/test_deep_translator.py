"""Google, DeepL and Microsoft through the real deep-translator client, each against a
local stand-in speaking that service's protocol (tests/standins/translators.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from deep_translator import exceptions as dt

from bot.config import Settings
from tests.standins.translators import (
    DeepLStandIn,
    GoogleTranslateStandIn,
    MicrosoftTranslatorStandIn,
    TranslatorStandIn,
)
from translations.machine import DeepTranslator, TranslationError, build_translator

TEXTS = ["Hello", "Good news"]
DEEPL_KEY = "deepl-key-7c1d"
MS_KEY = "ms-key-93ab"
MS_REGION = "westeurope"


def _standin(provider: str) -> TranslatorStandIn:
    if provider == "google":
        return GoogleTranslateStandIn()
    if provider == "deepl":
        return DeepLStandIn(api_key=DEEPL_KEY)
    return MicrosoftTranslatorStandIn(api_key=MS_KEY, region=MS_REGION)


def _translator(provider: str, server: TranslatorStandIn) -> DeepTranslator:
    key = {"google": None, "deepl": DEEPL_KEY, "microsoft": MS_KEY}[provider]
    region = MS_REGION if provider == "microsoft" else None
    return DeepTranslator(provider, key, base_url=server.base_url, region=region)


@pytest.fixture(params=["google", "deepl", "microsoft"])
def provider(request: pytest.FixtureRequest) -> str:
    """Each deep-translator backend in turn."""
    return str(request.param)


@pytest.fixture
def server(provider: str) -> Iterator[TranslatorStandIn]:
    """The running stand-in for `provider`."""
    with _standin(provider) as standin:
        yield standin


def _translate(translator: DeepTranslator, texts: list[str] = TEXTS) -> list[str]:
    return asyncio.run(translator.translate_batch(texts, "en", "pl"))


def test_batch_translated_in_order(provider: str, server: TranslatorStandIn) -> None:
    assert _translate(_translator(provider, server)) == ["<pl> Hello", "<pl> Good news"]
    assert len(server.translation_requests()) == 2  # deep-translator: one request per text


def test_locales_are_sent_as_backend_codes(provider: str, server: TranslatorStandIn) -> None:
    translator = _translator(provider, server)
    assert asyncio.run(translator.translate_batch(["Hello"], "en_GB", "pl_PL")) \
        == ["<pl> Hello"]


def test_google_request() -> None:
    with GoogleTranslateStandIn() as google:
        _translate(_translator("google", google))
    sent = google.translation_requests()
    assert [(r.method, r.path) for r in sent] == [("GET", "/m")] * 2
    assert [r.query for r in sent] == [{"sl": "en", "tl": "pl", "q": t} for t in TEXTS]


def test_deepl_request_carries_auth_key_and_texts() -> None:
    with DeepLStandIn(api_key=DEEPL_KEY) as deepl:
        _translate(_translator("deepl", deepl))
    sent = deepl.translation_requests()
    assert [r.path for r in sent] == ["/v2/translate"] * 2
    assert [{**r.query, **r.form} for r in sent] == [
        {"auth_key": DEEPL_KEY, "source_lang": "en", "target_lang": "pl", "text": t}
        for t in TEXTS]


def test_microsoft_request_carries_key_region_and_texts() -> None:
    with MicrosoftTranslatorStandIn(api_key=MS_KEY, region=MS_REGION) as ms:
        _translate(_translator("microsoft", ms))
    # the language list the constructor fetches came from the stand-in, not the public host
    assert [r.path for r in ms.requests if not ms.is_translation(r)] == ["/languages"]
    sent = ms.translation_requests()
    assert [(r.method, r.query) for r in sent] == [
        ("POST", {"api-version": "3.0", "from": "en", "to": "pl"})] * 2
    assert {(r.headers["ocp-apim-subscription-key"], r.headers["ocp-apim-subscription-region"])
            for r in sent} == {(MS_KEY, MS_REGION)}
    assert [r.json() for r in sent] == [[{"text": t}] for t in TEXTS]


# What deep-translator raises underneath; asserting it proves the stand-in's answer, and
# not a network-guard failure or a crash, became the TranslationError.
CAUSES: dict[tuple[str, int], type[Exception]] = {
    ("google", 500): dt.RequestError, ("google", 429): dt.TooManyRequests,
    ("deepl", 500): dt.ServerException, ("deepl", 429): dt.ServerException,
    ("microsoft", 500): dt.MicrosoftAPIerror, ("microsoft", 429): dt.MicrosoftAPIerror,
}


@pytest.mark.parametrize("status", [500, 429])
def test_service_failure_is_a_translation_error(provider: str, server: TranslatorStandIn,
                                                status: int) -> None:
    server.fail_next(str(status))
    with pytest.raises(TranslationError, match=provider) as caught:
        _translate(_translator(provider, server))
    assert type(caught.value.__cause__) is CAUSES[provider, status]
    assert len(server.translation_requests()) == 1


@pytest.mark.parametrize(("provider_name", "cause"), [
    ("deepl", dt.AuthorizationException), ("microsoft", dt.MicrosoftAPIerror)])
def test_wrong_key_is_a_translation_error(provider_name: str,
                                          cause: type[Exception]) -> None:
    with _standin(provider_name) as server:
        translator = DeepTranslator(provider_name, "wrong-key", base_url=server.base_url,
                                    region=MS_REGION)
        with pytest.raises(TranslationError) as caught:
            _translate(translator)
    assert type(caught.value.__cause__) is cause


def test_unreachable_service_is_a_translation_error(provider: str) -> None:
    with _standin(provider) as server:
        translator = _translator(provider, server)
    # the stand-in has stopped: nothing listens on its port any more
    with pytest.raises(TranslationError):
        _translate(translator)


def test_build_translator_uses_settings(provider: str, server: TranslatorStandIn) -> None:
    settings = Settings(_env_file=None, translation_backend=provider,  # type: ignore[call-arg]
                        translation_url=server.base_url,
                        translation_api_key={"google": None, "deepl": DEEPL_KEY,
                                             "microsoft": MS_KEY}[provider],
                        translation_region=MS_REGION)
    translator = build_translator(settings)
    assert isinstance(translator, DeepTranslator)
    assert (translator.name, translator.base_url, translator.api_key, translator.region) == (
        provider, server.base_url, settings.translation_api_key, MS_REGION)
    assert _translate(translator) == ["<pl> Hello", "<pl> Good news"]


def test_unknown_provider_is_refused() -> None:
    with pytest.raises(ValueError, match="yandex"):
        DeepTranslator("yandex")
