"""LibreTranslate, self-hosted: the private default (text never leaves the school's own
server). REST API: POST /translate with a list of texts in `q`."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from translations.machine.base import HttpTranslator, backend_code


class LibreTranslate(HttpTranslator):
    """LibreTranslate's REST API: POST /translate with a list of texts."""

    name = "libretranslate"
    label = "LibreTranslate"
    max_texts: ClassVar[int] = 50
    # LibreTranslate's --char-limit is unlimited by default; keep requests reasonable
    max_size: ClassVar[int] = 50_000
    auth_hint = ("check SCHOOLGATE_TRANSLATION_API_KEY against the keys your "
                 "LibreTranslate server accepts")

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 20.0,
                 batch_size: int = 50,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(url, timeout, transport)
        self.api_key = api_key
        self.max_texts = batch_size  # type: ignore[misc]

    async def translate_chunk(self, texts: list[str], source: str,
                              target: str) -> list[str]:
        """One POST /translate with every text of the chunk."""
        body: dict[str, Any] = {"q": texts, "source": backend_code(source),
                                "target": backend_code(target), "format": "text"}
        if self.api_key:
            body["api_key"] = self.api_key
        payload = await self.send("POST", f"{self.url}/translate", texts, [self.api_key],
                                  json=body)
        translated = payload.get("translatedText") if isinstance(payload, dict) else None
        if isinstance(translated, str):
            translated = [translated]
        if not isinstance(translated, list) or not all(isinstance(t, str) for t in translated):
            raise self.malformed()
        return list(translated)
