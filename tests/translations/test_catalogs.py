"""Every fixed English text has a reviewed translation in every shipped language.

The English strings are extracted from the source here, in memory, with the same
babel.cfg the catalog script uses: a string added to the code and not yet translated
fails these tests, and so does a fuzzy or empty entry, a lost {placeholder} or a
Plural-Forms header that is not babel's rule for that language.
"""

from __future__ import annotations

import ast
import re
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.support import Translations

from translations import (
    available,
    catalog_for,
    catalog_language,
    catalog_path,
    has_catalog,
    translations_for,
)
from translations.plurals import rule_differences

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("bot", "channels")
LANGUAGES = ("pl", "ur", "pa", "ro", "ar", "bn", "so", "pt_PT", "pt_BR", "es", "lt", "uk", "sk",
             "cs", "zh_Hans", "vi")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
ACK = "Thank you, we have your message. {name} will read it and reply by {when}."


def _source_catalog() -> Catalog:
    """The English strings as the code has them right now."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = dict(DEFAULT_KEYWORDS)
    catalog = Catalog(locale="en")
    for folder in SOURCE_DIRS:
        for filename, lineno, msgid, _comments, context in extract_from_dir(
                str(ROOT / folder), method_map, options_map, keywords=keywords):
            catalog.add(msgid, locations=[(f"{folder}/{filename}", lineno)], context=context)
    return catalog


SOURCE = _source_catalog()


def _read(folder: str) -> Catalog:
    with catalog_path(folder).open("rb") as po:
        return read_po(po, locale=folder)


def _translated(catalog: Catalog) -> list[Message]:
    return [m for m in catalog if m.id]


def _ids(message: Message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _strings(message: Message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def test_source_has_strings_to_translate() -> None:
    """Extraction really finds the fixed texts (a broken babel.cfg finds none)."""
    ids = {m.id for m in SOURCE if m.id}
    assert ACK in ids
    assert len(ids) > 20


def test_every_marked_string_is_extracted() -> None:
    """A `_("...")` the extractor cannot see (inside an f-string, say) would stay English."""
    call = re.compile(r"""\b(?:_|gettext)\(\s*(["'])((?:(?!\1)[^\\\n]|\\.)*)\1\s*\)""")
    ids = {m.id for m in SOURCE if m.id}
    hidden = []
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for match in call.finditer(path.read_text(encoding="utf-8")):
                text = ast.literal_eval(match.group(1) + match.group(2) + match.group(1))
                if text not in ids:
                    hidden.append(f"{path.relative_to(ROOT)}: {text!r}")
    assert not hidden, ("not found by extraction (move _() out of the f-string or "
                        f"expression): {hidden}")


def test_the_promised_languages_ship() -> None:
    """One catalog per supported language, each next to the package code."""
    assert available() == frozenset(LANGUAGES)


@pytest.mark.parametrize("folder", LANGUAGES)
def test_catalog_has_every_english_message(folder: str) -> None:
    """A string added to the code but not to this catalog fails here."""
    have = {m.id for m in _read(folder) if m.id}
    missing = [m.id for m in SOURCE if m.id and m.id not in have]
    assert not missing, (f"{folder} lacks {len(missing)} message(s); "
                         f"run scripts/catalogs.sh and translate: {missing}")


@pytest.mark.parametrize("folder", LANGUAGES)
def test_no_fuzzy_or_empty_translations(folder: str) -> None:
    """Every entry is reviewed and filled in, with every plural form."""
    catalog = _read(folder)
    fuzzy = [m.id for m in _translated(catalog) if m.fuzzy]
    empty = [m.id for m in _translated(catalog) if not all(s.strip() for s in _strings(m))]
    wrong_forms = [m.id for m in _translated(catalog)
                   if m.pluralizable and len(_strings(m)) != catalog.num_plurals]
    assert not fuzzy, f"{folder}: fuzzy {fuzzy}"
    assert not empty, f"{folder}: untranslated {empty}"
    assert not wrong_forms, f"{folder}: need {catalog.num_plurals} plural forms: {wrong_forms}"
    assert not catalog.fuzzy, f"{folder}: the whole catalog is marked fuzzy"


@pytest.mark.parametrize("folder", LANGUAGES)
def test_placeholders_match_english(folder: str) -> None:
    """Each translation fills in exactly the names the English does, no more, no fewer."""
    wrong = []
    for message in _translated(_read(folder)):
        expected = set().union(*(_placeholders(i) for i in _ids(message)))
        for text in _strings(message):
            if _placeholders(text) != expected:
                wrong.append((message.id, text))
    assert not wrong, f"{folder}: placeholders differ: {wrong}"


@pytest.mark.parametrize("folder", LANGUAGES)
def test_plural_forms_are_babels_rule(folder: str) -> None:
    """The header picks the same form as babel's rule for every count, so counts read right
    (written differently is fine; choosing differently is not)."""
    assert rule_differences(_read(folder).plural_forms, folder) == []


def test_a_changed_plural_rule_is_caught() -> None:
    """The comparison sees a real change: Spanish before babel 2.19 had two forms."""
    assert rule_differences("nplurals=2; plural=(n != 1);", "es")
    assert rule_differences("nplurals=3; plural=(n == 1 ? 0 : n == 0 ? 1 : 2);", "es")
    # the same rule, spelt another way, agrees
    assert not rule_differences("nplurals=1; plural=0;", "vi")
    assert not rule_differences("nplurals=2;plural=n>1;", "bn")


@pytest.mark.parametrize("folder", LANGUAGES)
def test_catalog_loads_without_a_compile_step(folder: str) -> None:
    """The .po compiles in memory and really changes the text."""
    loaded = translations_for(folder)
    assert isinstance(loaded, Translations)
    assert loaded.gettext(ACK) != ACK
    assert "{name}" in loaded.gettext(ACK)


@pytest.mark.parametrize(("folder", "count", "form"), [
    ("pl", 1, 0), ("pl", 3, 1), ("pl", 5, 2), ("pl", 22, 1), ("pl", 25, 2),
    ("uk", 21, 0), ("ar", 2, 2), ("ar", 11, 4), ("ar", 100, 5), ("zh_Hans", 7, 0),
    ("es", 1, 0), ("es", 2, 2), ("es", 1_000_000, 1), ("pt_BR", 0, 0), ("pt_BR", 2, 2),
    ("pt_PT", 0, 2), ("pt_PT", 1, 0), ("pt_PT", 2, 2), ("pt", 0, 2),
    ("bn", 0, 0), ("pa", 0, 0),
])
def test_plural_rule_is_loaded(folder: str, count: int, form: int) -> None:
    """The in-memory compile keeps the Plural-Forms rule that ngettext relies on."""
    assert translations_for(folder).plural(count) == form


@pytest.mark.parametrize("folder", LANGUAGES)
def test_plural_entries_fill_in_every_count(folder: str) -> None:
    """ngettext gives a translated form, with the count in it, for any count."""
    loaded = translations_for(folder)
    for message in _translated(_read(folder)):
        if not message.pluralizable:
            continue
        singular, plural = message.id
        for count in (0, 1, 2, 3, 5, 11, 21, 22, 25, 101):
            text = loaded.ngettext(singular, plural, count).format(minutes=count, n=count,
                                                                   count=count)
            assert str(count) in text
            assert text not in (singular.format(minutes=count, n=count, count=count),
                                plural.format(minutes=count, n=count, count=count))


@pytest.mark.parametrize(("stored", "expected"), [
    ("pl", "pl"), ("pl_PL", "pl"), ("PL", "pl"), ("pl-PL", "pl"), ("pl_PL.UTF-8", "pl"),
    ("pt_BR", "pt_BR"), ("pt-BR", "pt_BR"), ("pt-br", "pt_BR"), ("pt_Latn_BR", "pt_BR"),
    ("pt_PT", "pt_PT"), ("pt-PT", "pt_PT"), ("pt", "pt_PT"), ("PT", "pt_PT"), ("pt_AO", "pt_PT"),
    ("zh_Hans", "zh_Hans"), ("zh-Hans", "zh_Hans"), ("zh", "zh_Hans"), ("zh-CN", "zh_Hans"),
    ("zh_CN", "zh_Hans"), ("zh_Hans_CN", "zh_Hans"), ("zh_SG", "zh_Hans"),
    ("pa", "pa"), ("pa_Guru", "pa"), ("pa_IN", "pa"), ("pa-Guru-IN", "pa"),
    ("es-419", "es"), ("es_MX", "es"), ("ar_EG", "ar"), ("so_SO", "so"), ("uk_UA", "uk"),
    ("bn_BD", "bn"), ("ur_PK", "ur"), ("vi_VN", "vi"), ("cs_CZ", "cs"), ("sk-SK", "sk"),
    ("lt_LT", "lt"), ("ro_RO", "ro"), ("ro_MD", "ro"),
])
def test_stored_language_variants_find_their_catalog(stored: str, expected: str) -> None:
    """However a guardian's language was written down, it reaches the right catalog."""
    assert has_catalog(stored)
    assert catalog_for(stored) == expected
    assert catalog_language(stored) == expected
    assert translations_for(stored) is translations_for(expected)


@pytest.mark.parametrize("stored", ["en", "en_GB", "en-US", "EN"])
def test_english_needs_no_catalog(stored: str) -> None:
    """English is the source language: always available, texts unchanged."""
    assert has_catalog(stored)
    assert catalog_language(stored) == "en"
    assert translations_for(stored).gettext(ACK) == ACK


@pytest.mark.parametrize("stored", [
    "fr", "de_DE", "zh_TW", "zh-Hant", "zh_HK", "pa_PK", "pa_Arab", "xx", "", "  ",
    "not a language", "12",
])
def test_unsupported_or_other_script_falls_back_to_english(stored: str) -> None:
    """No catalog, or only one in a script the family may not read: English, not an error."""
    assert not has_catalog(stored)
    assert catalog_language(stored) == "en"
    assert translations_for(stored).gettext(ACK) == ACK


def test_polish_acknowledgement_is_polish_with_the_name_filled_in() -> None:
    """What a Polish parent reads after replying names their key worker, in Polish."""
    _ = translations_for("pl-PL").gettext
    text = _(ACK).format(name="Pani Nowak", when="poniedziałek 12:30")
    assert text != ACK.format(name="Pani Nowak", when="poniedziałek 12:30")
    assert "Pani Nowak" in text and "poniedziałek 12:30" in text
    assert text.startswith("Dziękujemy")


def test_meeting_time_is_in_polish_and_the_guardians_time_zone() -> None:
    """A 15:30 London meeting reads 16:30, with Polish day and month names, in Warsaw."""
    from bot.outbound.render import format_when

    guardian = SimpleNamespace(timezone="Europe/Warsaw", language="pl")
    school = SimpleNamespace(timezone="Europe/London")
    when = datetime(2025, 3, 11, 15, 30, tzinfo=ZoneInfo("Europe/London"))
    text = format_when(when, guardian, school, catalog_language(guardian.language))
    assert "16:30" in text
    assert "marca" in text  # March, as Polish writes it in a date
    assert "wt" in text  # wtorek, Tuesday
    assert "Tuesday" not in text and "March" not in text
    school_view = format_when(when, SimpleNamespace(timezone=None, language="en"), school, "en")
    assert "15:30" in school_view


def test_brazilian_and_european_portuguese_read_differently() -> None:
    """Each Portuguese catalog keeps to its own forms: "você", "celular" and "contato" in
    Brazil; no "você", "telemóvel" and "contacto" in Portugal."""
    brazil, portugal = _read("pt_BR"), _read("pt_PT")
    brazil_text = " ".join(s for m in _translated(brazil) for s in _strings(m))
    portugal_text = " ".join(s for m in _translated(portugal) for s in _strings(m))
    assert "você" in brazil_text and "celular" in brazil_text and "contato" in brazil_text
    for european in ("telemóvel", "contacto", "consigo", " está a "):
        assert european not in brazil_text, european
    for brazilian in ("você", "celular", "contato", "ndo bem"):
        assert brazilian not in portugal_text, brazilian
    assert "telemóvel" in portugal_text and "contacto" in portugal_text
