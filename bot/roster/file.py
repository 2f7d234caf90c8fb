"""Roster file: reading the CSV (encoding, BOM, delimiter) and checking its header.

Turns a spreadsheet export into rows of {column: value} with their spreadsheet row
numbers; a file that cannot be read as a roster at all raises InvalidInputError.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from bot.errors import InvalidInputError

REQUIRED_COLUMNS = (
    "student_id", "student_first_name", "student_last_name", "class", "key_worker_name",
    "key_worker_email", "guardian_id", "guardian_first_name", "guardian_last_name",
    "relationship", "language", "phone", "email", "preferred_channels", "may_contact",
)
OPTIONAL_COLUMNS = ("key_worker_role",)


# -- reading the file ------------------------------------------------------------------
def _column_name(header: str) -> str:
    return re.sub(r"[\s\-]+", "_", header.strip().lstrip("\ufeff").lower())


def read_rows(path: Path) -> list[tuple[int, dict[str, str], str | None]]:
    """Rows as (spreadsheet row number, {column: value}, problem); blank rows skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InvalidInputError(f"no such file: {path}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path} is not UTF-8 text; in Excel, save as "
                                "'CSV UTF-8 (comma delimited)'") from exc
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise InvalidInputError(f"{path} is not a readable CSV file: {exc}") from exc
    if not records or not any(c.strip() for c in records[0]):
        raise InvalidInputError(f"{path} is empty: the first row must name the columns")
    header = [_column_name(h) for h in records[0]]
    duplicated = sorted({h for h in header if h and header.count(h) > 1})
    if duplicated:
        raise InvalidInputError(f"columns appear more than once: {', '.join(duplicated)}")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
        unknown = [h for h in header if h and h not in known]
        hint = f" (not recognised: {', '.join(unknown)})" if unknown else ""
        raise InvalidInputError(f"{path.name} is missing required columns: "
                                f"{', '.join(missing)}{hint}")
    rows = []
    for number, record in enumerate(records[1:], start=2):
        values = [v.strip() for v in record]
        if not any(values):
            continue
        cells = {h: (values[i] if i < len(values) else "") for i, h in enumerate(header)}
        problem = None
        if any(values[len(header):]):
            problem = (f"has {len(values)} cells but the header has {len(header)}; "
                       "a value containing a comma needs quotes")
        rows.append((number, cells, problem))
    return rows
