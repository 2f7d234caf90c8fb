"""Gettext catalogs for every fixed text, one folder per locale, managed with babel."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

CATALOGS = Path(__file__).parent


@lru_cache(maxsize=64)
def translations_for(locale: str) -> NullTranslations:
    """The compiled catalog for `locale`, falling back to English source strings."""
    return Translations.load(str(CATALOGS), [locale.replace("-", "_")], domain="messages")


def has_catalog(locale: str) -> bool:
    """True when fixed texts exist in this locale (English always does)."""
    if locale.split("-")[0].split("_")[0] == "en":
        return True
    return isinstance(translations_for(locale), Translations)


def catalog_language(locale: str) -> str:
    """The language fixed texts will really be in for `locale`: itself, or English."""
    return locale if has_catalog(locale) else "en"
