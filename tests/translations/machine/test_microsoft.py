"""Microsoft Translator: key and region headers, Microsoft's language codes, batches of
1,000 texts or 50,000 characters, and its documented error codes."""

from __future__ import annotations

import asyncio

import pytest

from tests.standins.translators import MicrosoftTranslatorStandIn
from tests.translations.machine.conftest import MS_KEY, MS_REGION
from translations.machine import MicrosoftTranslator, TranslationError
from translations.machine.microsoft import GLOBAL_URL, microsoft_code


def _run(client: MicrosoftTranslator, texts: list[str], source: str = "en",
         target: str = "pl") -> list[str]:
    async def go() -> list[str]:
        try:
            return await client.translate_batch(texts, source, target)
        finally:
            await client.close()

    return asyncio.run(go())


def test_global_endpoint_by_default() -> None:
    assert MicrosoftTranslator("k").url == GLOBAL_URL


def test_key_and_region_travel_in_their_headers() -> None:
    with MicrosoftTranslatorStandIn(api_key=MS_KEY, region=MS_REGION) as ms:
        _run(MicrosoftTranslator(MS_KEY, MS_REGION, url=ms.url), ["Hello"])
    [request] = ms.translation_requests()
    assert (request.headers["ocp-apim-subscription-key"],
            request.headers["ocp-apim-subscription-region"]) == (MS_KEY, MS_REGION)
    assert MS_KEY not in request.body.decode() and MS_KEY not in str(request.query)


def test_missing_region_is_explained() -> None:
    with MicrosoftTranslatorStandIn(api_key=MS_KEY, region=MS_REGION) as ms, \
            pytest.raises(TranslationError, match="SCHOOLGATE_TRANSLATION_REGION"):
        _run(MicrosoftTranslator(MS_KEY, None, url=ms.url), ["Hello"])


@pytest.mark.parametrize(("locale", "code"), [
    ("zh_Hans", "zh-Hans"), ("zh_Hant", "zh-Hant"), ("pt", "pt-pt"), ("pt_BR", "pt"),
    ("pl_PL", "pl"), ("so", "so")])
def test_languages_take_microsofts_codes(locale: str, code: str) -> None:
    assert microsoft_code(locale) == code
    with MicrosoftTranslatorStandIn(api_key=MS_KEY) as ms:
        assert _run(MicrosoftTranslator(MS_KEY, url=ms.url), ["Hello"], "en_GB", locale) \
            == [f"<{code}> Hello"]
    assert ms.translation_requests()[0].query["to"] == code


def test_batch_is_split_by_characters_and_count() -> None:
    long = ["a" * 20_000] * 3  # 60,000 characters: more than one request holds
    many = [f"n{i}" for i in range(1001)]
    with MicrosoftTranslatorStandIn(api_key=MS_KEY) as ms:
        assert len(_run(MicrosoftTranslator(MS_KEY, url=ms.url), long + many)) == 1004
    assert [len(r.json()) for r in ms.translation_requests()] == [2, 1000, 2]
    assert ms.sent_texts() == long + many


def test_free_tier_used_up_is_not_blamed_on_the_key() -> None:
    with MicrosoftTranslatorStandIn(api_key=MS_KEY) as ms:
        ms.fail_next("403")  # 403001: the free tier's characters are used up
        with pytest.raises(TranslationError, match="characters for this period are used "
                                                   "up") as caught:
            _run(MicrosoftTranslator(MS_KEY, url=ms.url), ["Hello"])
    assert "credentials" not in str(caught.value) and caught.value.status == 403
