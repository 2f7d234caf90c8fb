"""DeepL: the free or Pro host by the key, the Authorization header, DeepL's target
variants, glossaries, batches of 50 and its quota answer."""

from __future__ import annotations

import asyncio

import pytest

from tests.standins.translators import DeepLStandIn
from tests.translations.machine.conftest import DEEPL_KEY
from translations.machine import DeepL, TranslationError
from translations.machine.deepl import FREE_URL, PRO_URL, deepl_source, deepl_target


def _run(client: DeepL, texts: list[str], source: str = "en", target: str = "pl"
         ) -> list[str]:
    async def go() -> list[str]:
        try:
            return await client.translate_batch(texts, source, target)
        finally:
            await client.close()

    return asyncio.run(go())


def test_free_key_goes_to_the_free_host_and_pro_key_to_pro() -> None:
    assert DeepL("abc:fx").url == FREE_URL
    assert DeepL("abc").url == PRO_URL
    assert DeepL("abc", url="http://127.0.0.1:1/").url == "http://127.0.0.1:1"


def test_key_travels_in_the_authorization_header_only() -> None:
    with DeepLStandIn(api_key=DEEPL_KEY) as deepl:
        _run(DeepL(DEEPL_KEY, url=deepl.url), ["Hello"])
    [request] = deepl.translation_requests()
    assert request.headers["authorization"] == f"DeepL-Auth-Key {DEEPL_KEY}"
    assert DEEPL_KEY not in request.body.decode() and not request.query


@pytest.mark.parametrize(("locale", "target"), [
    ("en", "EN-GB"), ("en_US", "EN-US"), ("pt", "PT-PT"), ("pt_BR", "PT-BR"),
    ("zh_Hans", "ZH-HANS"), ("zh-Hant", "ZH-HANT"), ("pl", "PL"), ("uk", "UK")])
def test_targets_take_the_variants_deepl_requires(locale: str, target: str) -> None:
    assert deepl_target(locale) == target
    with DeepLStandIn(api_key=DEEPL_KEY) as deepl:
        assert _run(DeepL(DEEPL_KEY, url=deepl.url), ["Hello"], "pl", locale) \
            == [f"<{target}> Hello"]


def test_source_is_the_bare_language() -> None:
    assert [deepl_source(x) for x in ("en_GB", "pt_BR", "zh_Hans")] == ["EN", "PT", "ZH"]


def test_glossary_is_sent_for_its_language_only() -> None:
    glossaries = {"g-pl": ("EN", "PL")}
    with DeepLStandIn(api_key=DEEPL_KEY, glossaries=glossaries) as deepl:
        client = DeepL(DEEPL_KEY, url=deepl.url, glossaries={"pl": "g-pl"})
        assert _run(client, ["Year 6 SATs"]) == ["<PL+glossary> Year 6 SATs"]
        client = DeepL(DEEPL_KEY, url=deepl.url, glossaries={"pl": "g-pl"})
        assert _run(client, ["Year 6 SATs"], target="es") == ["<ES> Year 6 SATs"]
    first, second = (r.json() for r in deepl.translation_requests())
    assert first["glossary_id"] == "g-pl" and "glossary_id" not in second


def test_51_texts_go_in_two_requests_of_at_most_50() -> None:
    texts = [f"Note {i}" for i in range(51)]
    with DeepLStandIn(api_key=DEEPL_KEY) as deepl:
        assert _run(DeepL(DEEPL_KEY, url=deepl.url), texts) == [f"<PL> {t}" for t in texts]
    assert [len(r.json()["text"]) for r in deepl.translation_requests()] == [50, 1]
    assert deepl.sent_texts() == texts


def test_large_texts_are_split_under_128_kib() -> None:
    texts = ["ż" * 20_000] * 4  # 40,000 bytes each in UTF-8: three fit, the fourth not
    with DeepLStandIn(api_key=DEEPL_KEY) as deepl:
        assert len(_run(DeepL(DEEPL_KEY, url=deepl.url), texts)) == 4
    assert [len(r.json()["text"]) for r in deepl.translation_requests()] == [3, 1]


def test_quota_used_up_says_so() -> None:
    with DeepLStandIn(api_key=DEEPL_KEY) as deepl:
        deepl.fail_next("456")
        with pytest.raises(TranslationError, match="quota is used up") as caught:
            _run(DeepL(DEEPL_KEY, url=deepl.url), ["Hello"])
    assert caught.value.status == 456
