"""Google Cloud Translation v3 (the paid API a school can sign a data-processing agreement
for; not the public web page): POST
/v3/projects/{project}/locations/{location}:translateText with `contents`,
`sourceLanguageCode`, `targetLanguageCode` and `mimeType: text/plain`.

Signed in with an API key (sent in the X-Goog-Api-Key header, which Google accepts like
`?key=`, so the key never sits in a URL that a log line could print) or a service
account's JSON key file. Limits per request: 1,024 texts, 30,000 code points. A glossary
must live in the same location (not `global`: glossaries need a region such as
us-central1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from translations.machine.base import HttpTranslator, glossary_for, locale_parts
from translations.machine.google_auth import ServiceAccount

API_URL = "https://translation.googleapis.com"

#: BCP-47 codes Google lists where the bare language is ambiguous
VARIANTS: dict[tuple[str, str], str] = {
    ("zh", ""): "zh-CN", ("zh", "Hans"): "zh-CN", ("zh", "CN"): "zh-CN",
    ("zh", "Hant"): "zh-TW", ("zh", "TW"): "zh-TW", ("zh", "HK"): "zh-TW",
    ("pt", ""): "pt-PT", ("pt", "PT"): "pt-PT", ("pt", "BR"): "pt-BR",
}


def google_code(locale: str) -> str:
    """Google's code: 'zh_Hans' -> 'zh-CN', 'pt' -> 'pt-PT', 'pl_PL' -> 'pl'."""
    language, region = locale_parts(locale)
    return VARIANTS.get((language, region), language)


class GoogleCloudTranslation(HttpTranslator):
    """Cloud Translation's translateText method."""

    name = "google"
    label = "Google Cloud Translation"
    max_texts: ClassVar[int] = 1_024
    max_size: ClassVar[int] = 30_000
    auth_hint = ("check SCHOOLGATE_TRANSLATION_API_KEY (an API key allowed to use the "
                 "Cloud Translation API) or SCHOOLGATE_TRANSLATION_CREDENTIALS_FILE (a "
                 "service account with the Cloud Translation API User role), and that the "
                 "API is enabled for SCHOOLGATE_TRANSLATION_PROJECT")

    def __init__(self, project: str, location: str = "global", api_key: str | None = None,
                 account: ServiceAccount | None = None, url: str | None = None,
                 timeout: float = 20.0, glossaries: Mapping[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not (api_key or account):
            raise ValueError("Google Cloud Translation needs an API key or a service account")
        super().__init__(url or API_URL, timeout, transport)
        self.project, self.location = project, location
        self.api_key, self.account = api_key, account
        self.glossaries = dict(glossaries or {})

    def glossary_name(self, glossary: str) -> str:
        """A glossary's full resource name (a bare id is taken to be in our location)."""
        if glossary.startswith("projects/"):
            return glossary
        return f"projects/{self.project}/locations/{self.location}/glossaries/{glossary}"

    async def translate_chunk(self, texts: list[str], source: str,
                              target: str) -> list[str]:
        """One POST ...:translateText."""
        body: dict[str, Any] = {"contents": texts, "mimeType": "text/plain",
                                "sourceLanguageCode": google_code(source),
                                "targetLanguageCode": google_code(target)}
        glossary = glossary_for(self.glossaries, target)
        if glossary:
            body["glossaryConfig"] = {"glossary": self.glossary_name(glossary)}
        headers: dict[str, str] = {}
        if self.account is not None:
            token = await self.account.access_token(self.client)
            headers["Authorization"] = f"Bearer {token}"
            secrets = [token]
        else:
            assert self.api_key is not None
            headers["X-Goog-Api-Key"] = self.api_key
            secrets = [self.api_key]
        url = f"{self.url}/v3/projects/{self.project}/locations/{self.location}:translateText"
        payload = await self.send("POST", url, texts, secrets, json=body, headers=headers)
        field = "glossaryTranslations" if glossary else "translations"
        try:
            out = [item["translatedText"] for item in payload[field]]
        except (KeyError, TypeError) as exc:
            raise self.malformed() from exc
        if not all(isinstance(t, str) for t in out):
            raise self.malformed()
        return out

    def special(self, response: httpx.Response) -> str:
        """Google's 401: a service-account token that has expired early is asked again."""
        if response.status_code == 401 and self.account is not None:
            self.account.token = None  # sign in afresh on the next attempt
        return ""
