"""Roster file: reading the CSV (encoding, BOM, delimiter) and checking its header.

Turns a spreadsheet export into rows of {column: value} with their spreadsheet row
numbers, one at a time; a file that cannot be read as a roster at all raises
InvalidInputError before any row is given out.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path

from bot.errors import InvalidInputError

REQUIRED_COLUMNS = (
    "student_id", "student_first_name", "student_last_name", "class", "key_worker_name",
    "key_worker_email", "guardian_id", "guardian_first_name", "guardian_last_name",
    "relationship", "language", "phone", "email", "preferred_channels", "may_contact",
)
OPTIONAL_COLUMNS = ("key_worker_role",)


# -- reading the file ------------------------------------------------------------------
Row = tuple[int, dict[str, str], str | None]  # (spreadsheet row number, cells, problem)


def _column_name(header: str) -> str:
    return re.sub(r"[\s\-]+", "_", header.strip().lstrip("\ufeff").lower())


def _check_header(path: Path, record: list[str]) -> list[str]:
    if not any(c.strip() for c in record):
        raise InvalidInputError(f"{path} is empty: the first row must name the columns")
    header = [_column_name(h) for h in record]
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
    return header


def _first_bad_line(path: Path) -> int:
    """The first line of the file that is not UTF-8 (0 if none is)."""
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0


class RosterFile:
    """A roster CSV, checked as a whole when opened, then read row by row.

    Opening reads the file once without keeping it (UTF-8, CSV syntax, header, how many
    rows), so a file that cannot be read is refused before anything is written; `rows()`
    reads it again, one row at a time, so memory does not grow with the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows_total = 0
        with self._records() as (reader, header):
            self.header = header
            for record in reader:
                if any(v.strip() for v in record):
                    self.rows_total += 1

    @contextmanager
    def _records(self) -> Iterator[tuple[Iterator[list[str]], list[str]]]:
        path, reader = self.path, None
        try:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                first_line = fh.readline()
                delimiter = max((",", ";", "\t"), key=first_line.split("\n", 1)[0].count)
                reader = csv.reader(chain([first_line], fh), delimiter=delimiter)
                record = next(reader, None)
                if record is None:
                    raise InvalidInputError(
                        f"{path} is empty: the first row must name the columns")
                yield reader, _check_header(path, record)
        except FileNotFoundError as exc:
            raise InvalidInputError(f"no such file: {path}") from exc
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{path} is not UTF-8 text (line {_first_bad_line(path)})"
                                    "; in Excel, save as 'CSV UTF-8 (comma delimited)'") \
                from exc
        except csv.Error as exc:
            where = f" at row {reader.line_num}" if reader is not None else ""
            raise InvalidInputError(f"{path} is not a readable CSV file{where}: {exc}") \
                from exc

    def rows(self) -> Iterator[Row]:
        """Rows as (spreadsheet row number, {column: value}, problem); blank rows skipped."""
        with self._records() as (reader, header):
            width = len(header)
            for number, record in enumerate(reader, start=2):
                values = [v.strip() for v in record]
                if not any(values):
                    continue
                cells = {h: (values[i] if i < len(values) else "")
                         for i, h in enumerate(header)}
                problem = None
                if any(values[width:]):
                    problem = (f"has {len(values)} cells but the header has {width}; "
                               "a value containing a comma needs quotes")
                yield number, cells, problem
