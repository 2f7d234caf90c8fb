"""Comparing gettext plural rules by what they do, not how they are written.

Babel's CLDR data moves between releases: a rule may be rewritten (spaces, brackets) and
mean the same, or really change (Spanish and Portuguese gained a third form in babel 2.19).
A catalog is right when its Plural-Forms header picks the same form as babel's rule for
every count a family will see.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable

from babel.messages.catalog import Catalog

#: counts compared; every rule in CLDR repeats with n % 100 or less above this, but for
#: the million rules of Spanish, Portuguese, French and Italian, which are checked too
COUNTS = (*range(201), 1000, 10_000, 100_000, 1_000_000, 2_000_000, 10_000_000)


def plural_function(plural_forms: str) -> Callable[[int], int]:
    """The form chooser of a Plural-Forms header ("nplurals=2; plural=(n != 1);")."""
    fields = dict(part.strip().split("=", 1) for part in plural_forms.split(";") if "=" in part)
    return gettext.c2py(fields["plural"])


def plural_count(plural_forms: str) -> int:
    """The nplurals of a Plural-Forms header."""
    fields = dict(part.strip().split("=", 1) for part in plural_forms.split(";") if "=" in part)
    return int(fields["nplurals"])


def babels_rule(locale: str) -> str:
    """The Plural-Forms header babel (the installed release) writes for `locale`."""
    return Catalog(locale=locale).plural_forms


def rule_differences(have: str, locale: str) -> list[str]:
    """How the header `have` disagrees with babel's rule for `locale` (empty: it agrees)."""
    want = babels_rule(locale)
    if plural_count(have) != plural_count(want):
        return [f"{plural_count(have)} plural forms, babel's rule has {plural_count(want)}"]
    mine, theirs = plural_function(have), plural_function(want)
    return [f"n={n}: form {mine(n)}, babel's rule gives {theirs(n)}"
            for n in COUNTS if mine(n) != theirs(n)]
