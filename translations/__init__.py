"""Gettext catalogs for every fixed text, one folder per locale, managed with babel.

Catalogs ship as `.po` source only. Each is compiled in memory the first time it is
needed (read_po -> write_mo into a buffer -> Translations), so a plain `pip install`
works with no build step and there is no stale `.mo` to forget.

Guardian languages arrive in many spellings ("pt-BR", "zh_CN", "pa_Guru", "PL"). They
are parsed with babel and matched to a catalog folder from the most specific form down
to the bare language, but never across scripts: a reader of Traditional Chinese or of
Punjabi in Shahmukhi is not sent Simplified Chinese or Gurmukhi; they get English.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.core import get_global, parse_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

log = logging.getLogger(__name__)

#: the catalog for a language written with no country, where it has one per country.
#: Bare "pt" is European Portuguese, as every translation service we call reads it
#: (DeepL PT-PT, Google pt-PT, Microsoft pt-pt): the frame and the staff's translated words
#: then agree. Rosters that say pt_BR get the Brazilian catalog.
DEFAULT_FOLDER = {"pt": "pt_PT"}

CATALOGS = Path(__file__).parent
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"


def catalog_path(folder: str) -> Path:
    """Where the `.po` file for one catalog folder lives."""
    return CATALOGS / folder / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=1)
def available() -> frozenset[str]:
    """The catalog folders that ship with schoolgate (English, the source, has none)."""
    return frozenset(p.parent.parent.name for p in CATALOGS.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def _parts(locale: str) -> tuple[str, str | None, str | None] | None:
    """(language, script, territory) for a locale string, the script filled in if implied."""
    text = locale.strip().replace("-", "_")
    if not text:
        return None
    try:
        parsed = Locale.parse(text)
        language, script, territory = parsed.language, parsed.script, parsed.territory
    except (UnknownLocaleError, ValueError, TypeError):
        try:
            found = parse_locale(text)
        except ValueError:
            return None
        if len(found) != 4:  # with a modifier ("@euro"): not a spelling we match
            return None
        language, territory, script, _variant = found
    if script is None:
        script = _likely_script(language, territory)
    return language.lower(), script, territory


def _likely_script(language: str, territory: str | None) -> str | None:
    """The script a language is usually written in (in this territory), per CLDR."""
    likely = get_global("likely_subtags")
    for key in ([f"{language}_{territory}"] if territory else []) + [language]:
        if key in likely:
            try:
                return parse_locale(likely[key])[2]
            except ValueError:
                return None
    return None


@lru_cache(maxsize=256)
def catalog_for(locale: str) -> str | None:
    """The catalog folder that serves `locale`, or None (English source text)."""
    parts = _parts(locale)
    if parts is None:
        return None
    language, script, territory = parts
    candidates = []
    if script and territory:
        candidates.append(f"{language}_{script}_{territory}")
    if territory:
        candidates.append(f"{language}_{territory}")
    if script:
        candidates.append(f"{language}_{script}")
    candidates.append(language)
    if language in DEFAULT_FOLDER:
        candidates.append(DEFAULT_FOLDER[language])
    folders = available()
    for candidate in candidates:
        if candidate not in folders:
            continue
        found = _parts(candidate)
        if found is not None and found[1] and script and found[1] != script:
            continue  # same language, other script: not readable for this family
        return candidate
    return None


@lru_cache(maxsize=32)
def _load(folder: str) -> Translations:
    """Compile one `.po` catalog in memory; fuzzy entries are left out."""
    with catalog_path(folder).open("rb") as po:
        catalog = read_po(po, locale=folder, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


@lru_cache(maxsize=256)
def translations_for(locale: str) -> NullTranslations:
    """The catalog for `locale`, falling back to the English source strings."""
    folder = catalog_for(locale or SOURCE_LANGUAGE)
    if folder is None:
        return NullTranslations()
    return _load(folder)


def has_catalog(locale: str) -> bool:
    """True when fixed texts exist in this locale (English always does)."""
    parts = _parts(locale or "")
    if parts is not None and parts[0] == SOURCE_LANGUAGE:
        return True
    return catalog_for(locale or "") is not None


def catalog_language(locale: str) -> str:
    """The language fixed texts will really be in for `locale`: its catalog, or English."""
    return catalog_for(locale or "") or SOURCE_LANGUAGE
