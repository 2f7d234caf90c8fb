#!/usr/bin/env bash
# Keep the gettext catalogs in step with the code, in one go:
#   1. extract every fixed text from bot/ and channels/ into translations/messages.pot
#   2. merge it into each translations/<locale>/LC_MESSAGES/messages.po
#   3. check every catalog: nothing fuzzy, nothing untranslated, the same {placeholders}
#      as the English, and it compiles (in memory; no .mo files are written)
# Exit status is non-zero when a catalog needs a translator's attention; the lines
# printed say which locale and which message.
#
#   scripts/catalogs.sh            extract + update + check
#   scripts/catalogs.sh --check    check only (no files change)
#
# PYTHON chooses the interpreter that has babel (default: .venv/bin/python if present,
# else the active virtualenv's, else python3 on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python
    elif [ -n "${VIRTUAL_ENV:-}" ]; then PYTHON="$VIRTUAL_ENV/bin/python"
    else PYTHON=python3; fi
fi
pybabel() { "$PYTHON" -m babel.messages.frontend "$@"; }

if [ "${1:-}" != "--check" ]; then
    pybabel extract -F babel.cfg -k _ -k N_ -k ngettext:1,2 \
        --add-comments=TRANSLATORS: --add-location=file --sort-by-file \
        --project=schoolgate --version=0.1 --copyright-holder="schoolgate contributors" \
        -o translations/messages.pot bot channels
    pybabel update -i translations/messages.pot -d translations -D messages \
        --ignore-obsolete --ignore-pot-creation-date
fi

PYTHONPATH=. "$PYTHON" - <<'PY'
"""Report every catalog entry a family would see wrongly (or in English)."""
import re
import sys
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from translations.plurals import babels_rule, rule_differences

PLACEHOLDER = re.compile(r"\{[^{}]*\}")
template = read_po(Path("translations/messages.pot").open("rb"))
wanted = {m.id for m in template if m.id}
problems = []
folders = sorted(p.parent.parent.name for p in Path("translations").glob("*/LC_MESSAGES/messages.po"))
for folder in folders:
    with Path(f"translations/{folder}/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po, locale=folder)
    # compared by the form each count gets, not by how the rule is written
    for difference in rule_differences(catalog.plural_forms, folder)[:3]:
        problems.append(f"{folder}: Plural-Forms should be {babels_rule(folder)!r} ({difference})")
    have = {m.id for m in catalog if m.id}
    for missing in sorted(wanted - have, key=str):
        problems.append(f"{folder}: missing {missing!r}")
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"{folder}: fuzzy {ids[0]!r}")
        if not all(strings) or (isinstance(message.id, tuple) and len(strings) != catalog.num_plurals):
            problems.append(f"{folder}: untranslated {ids[0]!r}")
            continue
        names = set(PLACEHOLDER.findall(ids[-1])) | set(PLACEHOLDER.findall(ids[0]))
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != names:
                problems.append(f"{folder}: placeholders differ in {ids[0]!r}")
    write_mo(BytesIO(), catalog, use_fuzzy=False)
for line in problems:
    print(line)
print(f"{len(folders)} catalogs, {len(wanted)} messages, {len(problems)} problems")
sys.exit(1 if problems else 0)
PY
