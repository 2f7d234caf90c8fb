"""DeepL API v2: POST /v2/translate with a JSON list of texts, the key in the
Authorization header (`DeepL-Auth-Key ...`; DeepL retired keys in the body or query).

A free-plan key (it ends in ':fx') is served by api-free.deepl.com, a Pro key by
api.deepl.com. Limits per request: 50 texts, 128 KiB of body. A glossary applies to one
language pair and needs `source_lang`, which we always send.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from translations.machine.base import HttpTranslator, glossary_for, locale_parts

FREE_URL = "https://api-free.deepl.com"
PRO_URL = "https://api.deepl.com"

#: target variants DeepL requires where a bare code is ambiguous (schools here write
#: British English and European Portuguese unless the locale says otherwise)
TARGET_DEFAULTS: dict[str, str] = {"en": "EN-GB", "pt": "PT-PT", "zh": "ZH-HANS"}
TARGET_VARIANTS: dict[tuple[str, str], str] = {
    ("en", "US"): "EN-US", ("en", "GB"): "EN-GB", ("pt", "BR"): "PT-BR",
    ("pt", "PT"): "PT-PT", ("zh", "Hans"): "ZH-HANS", ("zh", "Hant"): "ZH-HANT",
    ("zh", "CN"): "ZH-HANS", ("zh", "TW"): "ZH-HANT", ("zh", "HK"): "ZH-HANT",
}


def deepl_target(locale: str) -> str:
    """DeepL's target_lang: 'pt_BR' -> 'PT-BR', 'en' -> 'EN-GB', 'zh_Hans' -> 'ZH-HANS'."""
    language, region = locale_parts(locale)
    return TARGET_VARIANTS.get((language, region)) or TARGET_DEFAULTS.get(language) \
        or language.upper()


def deepl_source(locale: str) -> str:
    """DeepL's source_lang is the bare language: 'en_GB' -> 'EN'."""
    return locale_parts(locale)[0].upper()


class DeepL(HttpTranslator):
    """DeepL's text translation endpoint."""

    name = "deepl"
    label = "DeepL"
    max_texts: ClassVar[int] = 50
    max_size: ClassVar[int] = 120 * 1024  # bytes of text, under the 128 KiB body limit
    auth_hint = ("check SCHOOLGATE_TRANSLATION_API_KEY (copy it from your DeepL account's "
                 "API keys page; a free-plan key ends in ':fx')")

    def __init__(self, api_key: str, url: str | None = None, timeout: float = 20.0,
                 glossaries: Mapping[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(url or (FREE_URL if api_key.endswith(":fx") else PRO_URL),
                         timeout, transport)
        self.api_key = api_key
        self.glossaries = dict(glossaries or {})

    def size(self, text: str) -> int:
        """DeepL limits the request body in bytes."""
        return len(text.encode())

    async def translate_chunk(self, texts: list[str], source: str,
                              target: str) -> list[str]:
        """One POST /v2/translate."""
        body: dict[str, Any] = {"text": texts, "source_lang": deepl_source(source),
                                "target_lang": deepl_target(target)}
        glossary = glossary_for(self.glossaries, target)
        if glossary:
            body["glossary_id"] = glossary
        payload = await self.send(
            "POST", f"{self.url}/v2/translate", texts, [self.api_key], json=body,
            headers={"Authorization": f"DeepL-Auth-Key {self.api_key}"})
        try:
            out = [item["text"] for item in payload["translations"]]
        except (KeyError, TypeError) as exc:
            raise self.malformed() from exc
        if not all(isinstance(t, str) for t in out):
            raise self.malformed()
        return out

    def special(self, response: httpx.Response) -> str:
        """DeepL's own statuses: 456 quota used up, 413/414 too large."""
        status = response.status_code
        if status == 456:
            return ("the account's character quota is used up; raise the limit in the "
                    "DeepL account (Cost Control) or wait for next month")
        if status in (413, 414):
            return "the request was too large for DeepL"
        return ""
