"""translate-toolkit's pofilter checks over every catalog: what a translator can get wrong
mechanically (a lost or renamed {placeholder}, a stray double space, a line break or end
punctuation that the English does not have, an HTML tag, an empty or untranslated entry).

The checker is the one the `pofilter` command builds (a TeeChecker of StandardChecker and
StandardUnitChecker, in the catalog's language), so `pofilter --language=pl
translations/pl/LC_MESSAGES/messages.po` finds the same. Checks that do not fit these
catalogs are left out below, each with the reason; the rest must find nothing.
"""

from __future__ import annotations

import pytest
from translate.filters import checks
from translate.storage import factory, po

from translations import available, catalog_path

#: checks that do not fit, and why (a problem they would find is looked for elsewhere)
NOT_FITTING: dict[str, str] = {
    # compares the order of placeholders: Urdu, Punjabi and Somali put {phone} before
    # {name}; that the same names are there is checked by pythonbraceformat
    "variables": "placeholder order differs between languages",
    "sentencecount": "a long sentence is split in two for plain words, two short ones joined",
    "simplecaps": "capitals differ by language (Czech formal Vám, no case in Arabic)",
    "brackets": "Slavic and Baltic translations bracket a name to avoid a case ending",
    # a placeholder between two equal words is read as one doubled word ("من {school} من")
    "doublewords": "the same word either side of a placeholder is not a doubled word",
    "acronyms": "STOP, START and SMS are kept; other capitals are the translator's own",
    "long": "a translation may be much longer than a short English label",
    "short": "Chinese is much shorter than English",
    "unchanged": "names and system words (STOP, Telegram) are the same in every language",
    "numbers": "no fixed text has a number of its own",
    "accelerators": "no menu accelerators in messages to families",
    "spellcheck": "no spelling dictionaries for most of these languages on this machine",
    "hassuggestion": "suggestions are a review tool's, not a catalog's",
    "isreview": "review marks are a review tool's",
    "credits": "no translator-credit entries",
    "musttranslatewords": "no word list configured",
    "validchars": "no character list configured",
    "options": "no command-line options in these texts",
    "filepaths": "no file paths in these texts",
    "functions": "no function names in these texts",
    "emails": "no email addresses in fixed texts",
    "urls": "no URLs in fixed texts (links are placeholders)",
    "kdecomments": "not a KDE catalog",
    "compendiumconflicts": "not a compendium",
    # counts each punctuation mark followed by a space, so a translation with one comma or
    # sentence more than the English fails it whatever its spacing (doublespacing stays)
    "puncspacing": "counts commas and full stops, not spacing",
    # translate-toolkit's plural table predates CLDR's third Spanish and Portuguese form;
    # test_catalogs checks every Plural-Forms header against babel's rule instead
    "nplurals": "an older plural table than babel's",
}
#: checks of how a text starts: a word order that moves a placeholder to the start or away
#: from it ("{child} সম্পর্কে...", "Od {school} ...") changes the start, not a mistake
AT_THE_START = ("startpunc", "startcaps")
#: checks that do not fit one language's writing, and why
NOT_FITTING_IN: dict[str, dict[str, str]] = {
    # translate-toolkit's Vietnamese rules want French spacing (" :"); Vietnamese texts
    # today write "số:" with no space
    "vi": {"endpunc": "space before a colon"},
    # the Gurmukhi elision 'ਤੇ (for ਉੱਤੇ, "on") is written with an apostrophe
    "pa": {"singlequoting": "'ਤੇ is a word, not a quotation"},
    # a button label in Ukrainian quotes: натисніть Start («Почати»)
    "uk": {"doublequoting": "«» are Ukrainian quotation marks"},
    # Spanish opens a question with ¿ in mid-sentence ("Hola, {name}. ¿Cómo...")
    "es": {"startpunc": "¿ opens a question"},
}


def _checker(folder: str) -> checks.TeeChecker:
    """What `pofilter --language=<folder's language>` runs, less the checks that do not fit."""
    language = folder.split("_")[0]
    excluded = {**NOT_FITTING, **NOT_FITTING_IN.get(folder, {})}
    config = checks.CheckerConfig(targetlanguage=language,
                                  notranslatewords=["STOP", "START", "HELP"])
    return checks.TeeChecker(checkerconfig=config, excludefilters=dict(excluded),
                             checkerclasses=[checks.StandardChecker,
                                             checks.StandardUnitChecker],
                             languagecode=language)


def _failures(folder: str, store: po.pofile) -> list[str]:
    checker = _checker(folder)
    found = []
    for unit in store.units:
        if unit.isheader():
            continue
        moved = str(unit.source).startswith("{") != str(unit.target).startswith("{")
        for name, detail in checker.run_filters(unit).items():
            if moved and name in AT_THE_START:
                continue
            message = detail.get("message", detail) if isinstance(detail, dict) else detail
            found.append(f"{folder} {name}: {unit.source!r} -> {unit.target!r} ({message})")
    return found


@pytest.mark.parametrize("folder", sorted(available()))
def test_pofilter_finds_nothing(folder: str) -> None:
    store = factory.getobject(str(catalog_path(folder)))
    assert len(store.units) > 100
    problems = _failures(folder, store)
    assert not problems, "\n".join(problems)


def _one(source: str, target: str) -> po.pofile:
    store = po.pofile()
    unit = store.addsourceunit(source)
    unit.target = target
    return store


@pytest.mark.parametrize(("target", "check"), [
    ("Dziękujemy. {imie} zadzwoni do Państwa.", "pythonbraceformat"),  # renamed placeholder
    ("Dziękujemy. Zadzwonimy do Państwa.", "pythonbraceformat"),  # lost placeholder
    ("Dziękujemy.  {name} zadzwoni do Państwa.", "doublespacing"),
    ("Dziękujemy.\n{name} zadzwoni do Państwa.", "newlines"),
    ("Dziękujemy. {name} zadzwoni do Państwa", "endpunc"),
    ("Dziękujemy. <b>{name}</b> zadzwoni do Państwa.", "xmltags"),
    ("", "untranslated"),
    ("dziękujemy. {name} zadzwoni do Państwa.", "startcaps"),
])
def test_the_checks_kept_catch_what_they_are_for(target: str, check: str) -> None:
    """Each kept check really fails a broken translation (the test above can fail)."""
    problems = _failures("pl", _one("Thank you. {name} will phone you.", target))
    assert any(f" {check}:" in p for p in problems), problems
