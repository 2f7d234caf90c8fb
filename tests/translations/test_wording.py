"""The catalogs' wording: one formal register per language, and a member of staff of any
gender named the same way (no verb agrees with the name where a language marks gender).
"""

from __future__ import annotations

import re

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from translations import catalog_path

STAFF = re.compile(r"\{(?:name|staff|author)\}")
#: per language that marks a verb's gender: the verb forms that agreed (masculine) with the
#: member of staff before; the texts now make the call, the reply or the message the subject
#: ("you will receive a call from {name}") so they read right for Ms Shah and Mr Khan alike
GENDERED: dict[str, tuple[str, ...]] = {
    "ar": ("سيتصل", "سيقرؤها", "سيتواصل", "ويرد", "سيرد", "سيجيبكم"),
    "ur": ("کریں گے", "پڑھیں گے", "دیں گے", "دے گا"),
    "pa": ("ਕਰਨਗੇ", "ਪੜ੍ਹਨਗੇ", "ਦੇਣਗੇ", "ਦੇਵੇਗਾ"),
    "so": ("{name} ayaa", "{staff} ayaa"),
}


def _read(folder: str) -> Catalog:
    with catalog_path(folder).open("rb") as po:
        return read_po(po, locale=folder)


def _texts(folder: str) -> list[tuple[str, str]]:
    return [(str(m.id), s) for m in _read(folder) if m.id
            for s in (m.string if isinstance(m.string, tuple) else (m.string,))]


@pytest.mark.parametrize("folder", sorted(GENDERED))
def test_no_verb_agrees_with_the_member_of_staff(folder: str) -> None:
    about_staff = [(i, s) for i, s in _texts(folder) if STAFF.search(i)]
    assert len(about_staff) >= 8  # the call-back, acknowledgement, check-in and RSVP texts
    wrong = [(i, s, form) for i, s in about_staff for form in GENDERED[folder] if form in s]
    assert not wrong, f"{folder}: a verb agrees with the member of staff: {wrong}"


def test_vietnamese_is_formal_throughout() -> None:
    """ "quý vị" to every parent; "bạn" only as "người bạn" (a friend)."""
    informal = [s for _i, s in _texts("vi") if re.search(r"(?<!người )\bbạn\b", s)]
    assert not informal, informal
    assert sum("quý vị" in s for _i, s in _texts("vi")) >= 40


@pytest.mark.parametrize(("folder", "forms"), [
    ("cs", "vy vás vám vámi váš vaše vašeho vašemu vašem vaši vašim vašich vašimi"),
    ("sk", "vy vás vám vami váš vaša vaše vášho vášmu vašom vašej vašu vaši vašim vašich"),
    ("lt", "jūs jūsų jums jumis jus"),
])
def test_the_formal_you_is_written_with_a_capital(folder: str, forms: str) -> None:
    lower = re.compile(r"(?<!\w)(?:" + "|".join(forms.split()) + r")(?!\w)")
    found = [s for _i, s in _texts(folder) if lower.search(s)]
    assert not found, found
    assert any(re.search(r"\b(?:Vám|Jums)\b", s) for _i, s in _texts(folder))


def test_the_czech_office_sentence_is_grammatical() -> None:
    texts = " ".join(s for _i, s in _texts("cs"))
    assert "o nový kancelář" not in texts
    assert "požádejte kancelář školy o nový" in texts
