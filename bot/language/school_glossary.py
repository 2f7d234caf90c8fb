"""The school's own glossary file (SCHOOLGATE_GLOSSARY_FILE), read and written entry by
entry, for the admin's editor in the staff web app.

The file is the one the plain-words guard already reads (bot.language.plain: its entries
add to the shipped glossary, and replace a shipped entry with the same term); the guard
notices a change by the file's size and time, in every process on the machine. Terms
added here go in its `[school]` table; every table's terms are listed and can be
deleted, and the rest of the file (allow, everyday, other spellings) is kept. A write
goes to a temporary file that must load as a glossary before it replaces the old one, so
a bad write never leaves the guard without its glossary. Comments in the file are not
kept (TOML readers do not return them).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import ConfigurationError, InvalidInputError
from bot.language.plain import load_glossary

SCHOOL_TABLE = "school"
MAX_TERM, MAX_PLAIN = 100, 300
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class SchoolTerm:
    """One entry of the school's file: its table, the term, the plain words, other forms."""

    category: str
    term: str
    plain: str
    also: tuple[str, ...] = ()


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"the school's glossary file cannot be read ({exc})") \
            from None


def school_terms(path: Path) -> list[SchoolTerm]:
    """Every term in the school's file, by table then term."""
    out = []
    for category, table in _read(path).items():
        if not isinstance(table, dict):
            continue
        for term, value in table.items():
            entry = value if isinstance(value, dict) else {"plain": value}
            also = entry.get("also", [])
            out.append(SchoolTerm(category, term, str(entry.get("plain", "")),
                                  tuple(also) if isinstance(also, list) else ()))
    return sorted(out, key=lambda t: (t.category != SCHOOL_TABLE, t.category, t.term.lower()))


def _string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's; DEL is refused before this)."""
    return json.dumps(text, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_string(k)} = {_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def dumps(data: dict[str, Any]) -> str:
    """The glossary as TOML: top-level lists first, then one table per category."""
    lines = ["# The school's own glossary, kept by schoolgate's staff web app (Set-up).", ""]
    for key, value in data.items():
        if not isinstance(value, dict):
            lines.append(f"{_string(key)} = {_value(value)}")
    for key, table in data.items():
        if isinstance(table, dict):
            lines += ["", f"[{_string(key)}]"]
            lines += [f"{_string(term)} = {_value(v)}" for term, v in table.items()]
    return "\n".join(lines) + "\n"


def _write(path: Path, data: dict[str, Any]) -> None:
    text = dumps(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=".glossary-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as fh:
            fh.write(text)
        load_glossary(Path(name))  # it must load as a glossary, or the old file stays
        os.replace(name, path)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def _problem(text: str, limit: int, what: str) -> str | None:
    if not text:
        return f"give the {what}"
    if len(text) > limit:
        return f"the {what} is longer than {limit} characters"
    if any(ord(c) < 32 or 127 <= ord(c) < 160 or c in "\u2028\u2029" for c in text):
        return f"write the {what} on one line, without invisible characters"
    return None


def add_term(path: Path, term: str, plain: str) -> None:
    """Add a term and its plain words to the `[school]` table; InvalidInputError naming
    the field ('term: ...', 'plain: ...') when either cannot be taken."""
    term, plain = " ".join(term.split()), " ".join(plain.split())
    problems = {field: why for field, why in (
        ("term", _problem(term, MAX_TERM, "term")),
        ("plain", _problem(plain, MAX_PLAIN, "plain words"))) if why}
    with _lock:
        data = _read(path)
        taken = {form.lower() for t in school_terms(path) for form in (t.term, *t.also)}
        if "term" not in problems and term.lower() in taken:
            problems["term"] = "already in the school's glossary: delete it first to change it"
        if problems:
            raise InvalidInputError("; ".join(f"{k}: {v}" for k, v in problems.items()))
        table = data.setdefault(SCHOOL_TABLE, {})
        if not isinstance(table, dict):
            raise InvalidInputError(f"term: the file's {SCHOOL_TABLE!r} is not a table")
        table[term] = plain
        try:
            _write(path, data)
        except ConfigurationError as exc:
            raise InvalidInputError(f"term: the glossary would not load with it ({exc})") \
                from None


def delete_term(path: Path, category: str, term: str) -> bool:
    """Delete one term from its table; False when it is not there."""
    with _lock:
        data = _read(path)
        table = data.get(category)
        if not isinstance(table, dict) or term not in table:
            return False
        del table[term]
        if not table:
            del data[category]
        _write(path, data)
    return True
