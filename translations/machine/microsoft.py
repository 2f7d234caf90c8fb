"""Microsoft Translator (Azure AI Translator) Text API 3.0: POST
/translate?api-version=3.0&from=..&to=.. with `[{"Text": ...}, ...]`, the resource key in
Ocp-Apim-Subscription-Key and, for a regional or multi-service resource, its region in
Ocp-Apim-Subscription-Region. Limits per request: 1,000 texts, 50,000 characters.
"""

from __future__ import annotations

from typing import ClassVar

import httpx

from translations.machine.base import HttpTranslator, locale_parts

GLOBAL_URL = "https://api.cognitive.microsofttranslator.com"

#: Microsoft's codes where the bare language is not enough: 'pt' is Brazilian there
VARIANTS: dict[tuple[str, str], str] = {
    ("zh", ""): "zh-Hans", ("zh", "Hans"): "zh-Hans", ("zh", "CN"): "zh-Hans",
    ("zh", "Hant"): "zh-Hant", ("zh", "TW"): "zh-Hant", ("zh", "HK"): "zh-Hant",
    ("pt", ""): "pt-pt", ("pt", "PT"): "pt-pt", ("pt", "BR"): "pt",
    ("sr", "Latn"): "sr-Latn", ("sr", "Cyrl"): "sr-Cyrl",
}


def microsoft_code(locale: str) -> str:
    """Microsoft's language code: 'zh_Hans' -> 'zh-Hans', 'pt' -> 'pt-pt', 'pl_PL' -> 'pl'."""
    language, region = locale_parts(locale)
    return VARIANTS.get((language, region), language)


class MicrosoftTranslator(HttpTranslator):
    """Microsoft Translator's translate operation."""

    name = "microsoft"
    label = "Microsoft Translator"
    max_texts: ClassVar[int] = 1_000
    max_size: ClassVar[int] = 50_000
    auth_hint = ("check SCHOOLGATE_TRANSLATION_API_KEY (Keys and Endpoint in the Azure "
                 "portal) and SCHOOLGATE_TRANSLATION_REGION (the resource's location, "
                 "e.g. westeurope; leave it empty only for a global resource)")

    def __init__(self, api_key: str, region: str | None = None, url: str | None = None,
                 timeout: float = 20.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(url or GLOBAL_URL, timeout, transport)
        self.api_key = api_key
        self.region = region

    async def translate_chunk(self, texts: list[str], source: str,
                              target: str) -> list[str]:
        """One POST /translate."""
        headers = {"Ocp-Apim-Subscription-Key": self.api_key}
        if self.region:
            headers["Ocp-Apim-Subscription-Region"] = self.region
        params = {"api-version": "3.0", "from": microsoft_code(source),
                  "to": microsoft_code(target), "textType": "plain"}
        payload = await self.send("POST", f"{self.url}/translate", texts, [self.api_key],
                                  params=params, headers=headers,
                                  json=[{"Text": t} for t in texts])
        try:
            out = [item["translations"][0]["text"] for item in payload]
        except (KeyError, TypeError, IndexError) as exc:
            raise self.malformed() from exc
        if not all(isinstance(t, str) for t in out):
            raise self.malformed()
        return out

    def special(self, response: httpx.Response) -> str:
        """Microsoft's documented error codes that are not about the key."""
        try:
            code = int(response.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            return ""
        if code == 403001:
            return ("the free tier's characters for this period are used up; move the "
                    "resource to a paid tier or wait")
        if code == 400036 or code == 400035:
            return "Microsoft Translator does not offer this language"
        return ""
