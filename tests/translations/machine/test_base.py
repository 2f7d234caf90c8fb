"""What the backends share: batching by limits, Retry-After read both ways, glossaries
per language, and vendor words that echo what we sent kept out of errors."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from translations.machine.base import (
    batches,
    glossary_for,
    locale_parts,
    parse_glossaries,
    retry_after,
)
from translations.machine.libretranslate import LibreTranslate


def test_batches_respect_count_and_size_and_keep_order() -> None:
    texts = ["aaaa", "bb", "cccccc", "d", "ee"]
    assert list(batches(texts, 2, 100)) == [["aaaa", "bb"], ["cccccc", "d"], ["ee"]]
    assert list(batches(texts, 10, 7)) == [["aaaa", "bb"], ["cccccc", "d"], ["ee"]]
    assert list(batches(["x" * 50], 10, 7)) == [["x" * 50]]  # too big alone: sent alone
    assert list(batches([], 10, 7)) == []


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)
    assert retry_after({"retry-after": "30"}, now) == 30
    assert retry_after({"retry-after": "Wed, 02 Dec 2026 19:01:30 GMT"}, now) == 90
    assert retry_after({"retry-after": "Wed, 02 Dec 2026 18:00:00 GMT"}, now) == 0
    assert retry_after({"retry-after": "soon"}, now) is None
    assert retry_after({}, now) is None


def test_glossaries_per_language_or_for_all() -> None:
    assert parse_glossaries("pl=abc, es = def") == {"pl": "abc", "es": "def"}
    assert parse_glossaries("abc") == {"*": "abc"}
    assert parse_glossaries(None) == {}
    assert glossary_for({"pl": "a", "*": "b"}, "pl_PL") == "a"
    assert glossary_for({"pl": "a", "*": "b"}, "es") == "b"
    assert glossary_for({"pl": "a"}, "es") is None


def test_locale_parts() -> None:
    assert [locale_parts(x) for x in ("pt_BR", "pt-br", "zh_Hans", "zh-hant", "pl")] == [
        ("pt", "BR"), ("pt", "BR"), ("zh", "Hans"), ("zh", "Hant"), ("pl", "")]


def test_vendor_words_echoing_the_text_are_dropped() -> None:
    client = LibreTranslate("http://127.0.0.1:9")
    echo = httpx.Response(400, json={"error": "cannot translate 'Call Ana on 07700 900123'"})
    plain = httpx.Response(400, json={"error": "pl is not supported"})
    assert "07700" not in str(client.refusal(echo, ["Call Ana on 07700 900123"]))
    assert "pl is not supported" in str(client.refusal(plain, ["Hello"]))
