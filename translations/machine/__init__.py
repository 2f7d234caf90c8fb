"""Machine translation of the free text staff write, one module per service, each called
through its own documented HTTP API with httpx: LibreTranslate (self-hosted, the private
default), DeepL, Microsoft Translator and Google Cloud Translation v3.

Every backend batches by its service's limits, stops waiting after a timeout, honours
Retry-After on 429, and maps failures once (base.HttpTranslator) to a TranslationError
that says what to fix, without the text or the key.
"""

from __future__ import annotations

from typing import Any

from translations.machine.base import (
    HttpTranslator,
    TranslationError,
    Translator,
    backend_code,
    parse_glossaries,
)
from translations.machine.deepl import DeepL
from translations.machine.google import GoogleCloudTranslation
from translations.machine.google_auth import ServiceAccount
from translations.machine.libretranslate import LibreTranslate
from translations.machine.microsoft import MicrosoftTranslator

__all__ = ["DeepL", "GoogleCloudTranslation", "HttpTranslator", "LibreTranslate",
           "MicrosoftTranslator", "ServiceAccount", "TranslationError", "Translator",
           "backend_code", "build_translator"]


def build_translator(settings: Any) -> Translator | None:
    """The configured backend, or None when machine translation is off. A setting that
    cannot work (no key, an unreadable key file) is a ValueError naming it."""
    backend = settings.translation_backend
    key = _secret(settings.translation_api_key)
    url = settings.translation_url or None
    timeout = settings.translation_timeout
    glossaries = parse_glossaries(getattr(settings, "translation_glossary", None))
    if backend == "none":
        return None
    if backend == "libretranslate":
        return LibreTranslate(settings.translation_url, key, timeout)
    if backend == "deepl":
        if not key:
            raise ValueError("DeepL needs SCHOOLGATE_TRANSLATION_API_KEY")
        return DeepL(key, url, timeout, glossaries)
    if backend == "microsoft":
        if not key:
            raise ValueError("Microsoft Translator needs SCHOOLGATE_TRANSLATION_API_KEY")
        return MicrosoftTranslator(key, settings.translation_region,
                                   url, timeout)
    if backend == "google":
        account = None
        credentials = getattr(settings, "translation_credentials_file", None)
        if credentials:
            account = ServiceAccount.from_file(credentials)
        project = getattr(settings, "translation_project", None) or \
            (account.project if account else None)
        if not project:
            raise ValueError("Google Cloud Translation needs SCHOOLGATE_TRANSLATION_PROJECT")
        if not (account or key):
            raise ValueError("Google Cloud Translation needs SCHOOLGATE_TRANSLATION_API_KEY "
                             "or SCHOOLGATE_TRANSLATION_CREDENTIALS_FILE")
        return GoogleCloudTranslation(
            project, getattr(settings, "translation_location", None) or "global",
            api_key=None if account else key, account=account,
            url=url, timeout=timeout, glossaries=glossaries)
    raise ValueError(f"unknown translation backend {backend!r}")


def _secret(value: Any) -> str | None:
    """The key itself: the settings keep it as a SecretStr, so it never prints."""
    value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    return value or None
