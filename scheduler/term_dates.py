"""Reading a school's term dates (a CSV or an .ics feed) into what closes the school.

What is stored is what the school is closed for, in the holidays table (read by the quiet
windows, the "reply by" time and escalation): holidays, half-terms and training days as
given, and the gaps between consecutive terms. CSV: columns start, end and name, and
optionally kind ("term", or "holiday" / "closed" / "inset"). Without a kind, a row named
like a term ("Autumn term", not "half term") is a term (one under a week, like "Autumn
term starts", is a note and closes nothing); any other row is a closure. .ics: all-day
events (DTEND is the day after the last, as RFC 5545 says); events that last part of a
day (a parents' evening) close nothing and are reported. Bad rows are named and skipped;
`store_closures` adds nothing already there, so loading the same file twice adds nothing.
Used by `schoolgate term-dates import` and the staff set-up page alike.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInputError
from bot.store.models import Holiday

_TERM = re.compile(r"\bterm\b", re.IGNORECASE)
_NOT_TERM = re.compile(r"half[\s-]*term|holiday|break|inset|training|closed", re.IGNORECASE)
_TERM_KINDS = {"term"}
_CLOSED_KINDS = {"holiday", "closed", "closure", "inset", "training", "half-term",
                 "half term", "bank holiday"}


@dataclass(frozen=True, slots=True)
class Span:
    """One dated entry of the file: a term or a closure, inclusive dates."""

    start: date
    end: date
    name: str
    term: bool


@dataclass(frozen=True, slots=True)
class Problem:
    """One entry that could not be read, and why."""

    where: str
    reason: str


def _is_term(name: str, kind: str) -> bool | None:
    kind = kind.strip().lower()
    if kind in _TERM_KINDS:
        return True
    if kind in _CLOSED_KINDS:
        return False
    if kind:
        return None
    return bool(_TERM.search(name)) and not _NOT_TERM.search(name)


def read_csv(path: Path) -> tuple[list[Span], list[Problem]]:
    """Terms and closures from a CSV with start, end, name (and optionally kind)."""
    try:
        return _read_csv(path)
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path}: not UTF-8 text; in Excel, save as 'CSV UTF-8'") \
            from None
    except csv.Error as exc:
        raise InvalidInputError(f"{path}: not a readable CSV file ({exc})") from None


def _read_csv(path: Path) -> tuple[list[Span], list[Problem]]:
    spans: list[Span] = []
    problems: list[Problem] = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = {c.strip().lower() for c in reader.fieldnames or []}
        if not {"start", "end"} <= columns:
            raise InvalidInputError(f"{path}: the CSV needs columns start and end "
                                    "(and name, optionally kind)")
        for n, raw in enumerate(reader, start=2):
            row = {(k or "").strip().lower(): v.strip() if isinstance(v, str) else ""
                   for k, v in raw.items()}
            try:
                start, end = date.fromisoformat(row["start"]), date.fromisoformat(row["end"])
            except ValueError:
                problems.append(Problem(f"row {n}", "start and end must be dates like "
                                                    "2026-10-26"))
                continue
            name = row.get("name", "")[:200]
            term = _is_term(name, row.get("kind", ""))
            if term is None:
                problems.append(Problem(f"row {n}", "kind must be term or holiday"))
            elif end < start:
                problems.append(Problem(f"row {n}", "end is before start"))
            else:
                _keep(Span(start, end, name, term), f"row {n}", spans, problems)
    return spans, problems


def _keep(span: Span, where: str, spans: list[Span], problems: list[Problem]) -> None:
    """Keep an entry; a "term" under a week long ("Autumn term starts") is a marker, not a
    term: taking it as one would close the school between two such markers."""
    if span.term and (span.end - span.start).days < 6:
        problems.append(Problem(where, "a term of under a week (a 'term starts' note?): "
                                       "it closes nothing"))
        return
    spans.append(span)


def read_ics(path: Path) -> tuple[list[Span], list[Problem]]:
    """Terms and closures from an iCalendar feed's all-day events."""
    from icalendar import Calendar

    try:
        calendar = Calendar.from_ical(path.read_bytes())
    except ValueError as exc:
        raise InvalidInputError(f"{path}: not a readable iCalendar file ({exc})") from None
    spans: list[Span] = []
    problems: list[Problem] = []
    for n, event in enumerate(calendar.walk("VEVENT"), start=1):
        name = str(event.get("SUMMARY", ""))[:200]
        where = f"event {n}" + (f" ({name})" if name else "")
        first = event.decoded("DTSTART", None)
        if not isinstance(first, date) or isinstance(first, datetime):
            problems.append(Problem(where, "not an all-day event: it closes no day"))
            continue
        after = event.decoded("DTEND", None)
        if isinstance(after, date) and not isinstance(after, datetime):
            last = after - timedelta(days=1)  # DTEND is exclusive (RFC 5545)
        elif event.get("DURATION") is not None:
            last = first + event.decoded("DURATION") - timedelta(days=1)
        else:
            last = first  # an all-day event without an end lasts that day
        if last < first:
            problems.append(Problem(where, "it ends before it starts"))
            continue
        term = _is_term(name, "")  # feeds carry no kind: the summary says
        _keep(Span(first, last, name, bool(term)), where, spans, problems)
    return spans, problems


def closures(spans: list[Span]) -> list[tuple[date, date, str]]:
    """What closes the school: every closure, and each gap between consecutive terms."""
    closed = [(s.start, s.end, s.name) for s in spans if not s.term]
    terms = sorted((s for s in spans if s.term), key=lambda s: s.start)
    for earlier, later in pairwise(terms):
        gap_start, gap_end = earlier.end + timedelta(days=1), later.start - timedelta(days=1)
        if gap_start <= gap_end:
            name = f"between {earlier.name or 'terms'} and {later.name or 'the next'}"
            closed.append((gap_start, gap_end, name[:200]))
    return sorted(closed)


def read_term_dates(path: Path) -> tuple[list[Span], list[Problem]]:
    """Terms and closures from a file: .ics (.ical, .ifb) as a calendar, else CSV."""
    reader = read_ics if path.suffix.lower() in (".ics", ".ical", ".ifb") else read_csv
    return reader(path)


def store_closures(session: Session, school_id: int,
                   wanted: list[tuple[date, date, str]]) -> int:
    """Add each closure the school does not have yet (same first and last day); how many."""
    known = {(a, b) for a, b in session.execute(
        select(Holiday.starts_on, Holiday.ends_on).where(Holiday.school_id == school_id))}
    added = 0
    for start, end, name in wanted:
        if (start, end) in known:
            continue
        known.add((start, end))
        session.add(Holiday(school_id=school_id, starts_on=start, ends_on=end, name=name))
        added += 1
    return added
