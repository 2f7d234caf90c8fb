"""LibreTranslate (self-hosted) through the same error mapping as the cloud services."""

from __future__ import annotations

import asyncio

import pytest

from tests.standins.libretranslate import LibreTranslateStandIn
from translations.machine import LibreTranslate, TranslationError


def _run(client: LibreTranslate, texts: list[str]) -> list[str]:
    async def go() -> list[str]:
        try:
            return await client.translate_batch(texts, "en_GB", "pl")
        finally:
            await client.close()

    return asyncio.run(go())


def test_batches_of_batch_size_texts() -> None:
    texts = [f"Note {i}" for i in range(7)]
    with LibreTranslateStandIn() as lt:
        assert _run(LibreTranslate(lt.url, batch_size=3), texts) == [f"<pl> {t}" for t in texts]
    assert [len(r["q"]) for r in lt.requests] == [3, 3, 1]
    assert {(r["source"], r["target"]) for r in lt.requests} == {("en", "pl")}


def test_429_carries_retry_after() -> None:
    with LibreTranslateStandIn() as lt:
        lt.fail_next("429:12")
        with pytest.raises(TranslationError, match="answered 429") as caught:
            _run(LibreTranslate(lt.url), ["Hello"])
    assert caught.value.retry_after == 12


def test_slow_server_is_abandoned_at_the_timeout() -> None:
    with LibreTranslateStandIn() as lt:
        lt.fail_next("slow")
        with pytest.raises(TranslationError, match=r"did not answer within 0.3 s"):
            _run(LibreTranslate(lt.url, timeout=0.3), ["Hello"])


def test_wrong_key_names_the_setting_not_the_key() -> None:
    with LibreTranslateStandIn(api_key="right-key-1") as lt, \
            pytest.raises(TranslationError, match="SCHOOLGATE_TRANSLATION_API_KEY") as caught:
        _run(LibreTranslate(lt.url, api_key="wrong-key-2"), ["Hello"])
    assert "wrong-key-2" not in str(caught.value) and "Hello" not in str(caught.value)
