"""Machine translation backends for free text staff write.

LibreTranslate (self-hostable, the private default) is called through its REST API
directly: batched (one request carries many texts), with a timeout, the text in the
request body, and an optional API key. Google, DeepL and Microsoft go through
deep-translator, run in a thread because it is synchronous.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import urljoin

import httpx


class TranslationError(Exception):
    """The backend could not translate now; the caller retries later."""


class Translator(ABC):
    """Translates a batch of texts from one language to another."""

    name: ClassVar[str]

    @abstractmethod
    async def translate_batch(self, texts: Sequence[str], source: str,
                              target: str) -> list[str]:
        """Translations of `texts`, in the same order."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def backend_code(locale: str) -> str:
    """The language code MT services use: 'pt_BR' -> 'pt', 'zh_Hans' -> 'zh'."""
    return locale.replace("-", "_").split("_")[0].lower()


class LibreTranslate(Translator):
    """LibreTranslate's REST API: POST /translate with a list of texts."""

    name = "libretranslate"

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 20.0,
                 batch_size: int = 50) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.batch_size = batch_size
        self.client = httpx.AsyncClient(timeout=timeout)

    async def translate_batch(self, texts: Sequence[str], source: str,
                              target: str) -> list[str]:
        """Translate in chunks of `batch_size` texts per request."""
        out: list[str] = []
        for start in range(0, len(texts), self.batch_size):
            out += await self._request(list(texts[start:start + self.batch_size]),
                                       source, target)
        return out

    async def _request(self, texts: list[str], source: str, target: str) -> list[str]:
        body: dict[str, Any] = {"q": texts, "source": backend_code(source),
                                "target": backend_code(target), "format": "text"}
        if self.api_key:
            body["api_key"] = self.api_key
        try:
            response = await self.client.post(f"{self.url}/translate", json=body)
        except httpx.HTTPError as exc:
            raise TranslationError(f"LibreTranslate unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            try:
                detail = response.json().get("error", "")
            except ValueError:
                detail = ""
            raise TranslationError(f"LibreTranslate answered {response.status_code} {detail}"
                                   .strip())
        translated = response.json().get("translatedText")
        if isinstance(translated, str):
            translated = [translated]
        if not isinstance(translated, list) or len(translated) != len(texts):
            raise TranslationError("LibreTranslate returned a different number of texts")
        return [str(t) for t in translated]

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self.client.aclose()


class DeepTranslator(Translator):
    """Google, DeepL or Microsoft through deep-translator (synchronous; run in a thread)."""

    PROVIDERS: ClassVar[dict[str, str]] = {
        "google": "GoogleTranslator", "deepl": "DeeplTranslator",
        "microsoft": "MicrosoftTranslator",
    }

    def __init__(self, provider: str, api_key: str | None = None,
                 base_url: str | None = None, region: str | None = None,
                 timeout: float = 20.0) -> None:
        if provider not in self.PROVIDERS:
            raise ValueError(f"unknown translation provider {provider!r}")
        self.name = provider  # type: ignore[misc]
        self.api_key = api_key
        self.base_url = base_url
        self.region = region
        self.timeout = timeout

    def _client(self, source: str, target: str) -> Any:
        import deep_translator

        cls = getattr(deep_translator, self.PROVIDERS[self.name])
        if self.name == "microsoft" and self.base_url:
            cls = self._microsoft_at(cls, self.base_url)
        kwargs: dict[str, Any] = {"source": backend_code(source), "target": backend_code(target)}
        if self.name == "deepl":
            kwargs.update(api_key=self.api_key, use_free_api=False)
        elif self.name == "microsoft":
            kwargs.update(api_key=self.api_key, region=self.region)
        client = cls(**kwargs)
        if self.base_url:
            client._base_url = self.base_url  # deep-translator has no public option for it
        return client

    @staticmethod
    def _microsoft_at(cls: type, base_url: str) -> type:
        """MicrosoftTranslator asking `base_url`'s host, not the public one, for languages."""
        import requests

        # 1.11 fetches a hard-coded public URL in __init__; the host serving /translate
        # serves /languages too (regional endpoints, proxies, local stand-ins).
        languages_url = urljoin(base_url, "languages?api-version=3.0&scope=translation")

        class Microsoft(cls):
            def _get_supported_languages(self) -> dict[str, str]:
                names = requests.get(languages_url, timeout=20).json()["translation"]
                return {v["name"].lower(): k.lower() for k, v in names.items()}

        return Microsoft

    async def translate_batch(self, texts: Sequence[str], source: str,
                              target: str) -> list[str]:
        """Translate each text (deep-translator sends one request per text)."""
        def run() -> list[str]:
            client = self._client(source, target)
            return [client.translate(t) for t in texts]

        try:
            # deep-translator sets no timeout of its own: stop waiting (the thread ends
            # when the socket does), so one hung request never stalls the worker.
            return await asyncio.wait_for(asyncio.to_thread(run), self.timeout * len(texts))
        except TimeoutError as exc:
            raise TranslationError(f"{self.name} did not answer in time") from exc
        except Exception as exc:  # deep-translator raises many unrelated types
            raise TranslationError(f"{self.name} failed: {type(exc).__name__}") from exc


def build_translator(settings: Any) -> Translator | None:
    """The configured backend, or None when machine translation is off."""
    backend = settings.translation_backend
    if backend == "none":
        return None
    if backend == "libretranslate":
        return LibreTranslate(settings.translation_url, settings.translation_api_key,
                              settings.translation_timeout)
    return DeepTranslator(backend, settings.translation_api_key,
                          settings.translation_url or None, settings.translation_region,
                          timeout=settings.translation_timeout)
