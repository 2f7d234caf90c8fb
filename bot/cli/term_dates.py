"""`schoolgate term-dates import FILE`: the school's term dates, from a CSV or an .ics feed.

What is stored is what the school is closed for, in the holidays table (the same table
`schoolgate holidays load` fills, read by the quiet windows, the "reply by" time and
escalation): holidays, half-terms and training days as given, and the gaps between
consecutive terms. Bank holidays need no import: they come from the `holidays` package
for the school's nation (policy setting `nation`).

CSV: columns start, end and name, and optionally kind ("term", or "holiday" / "closed" /
"inset"). Without a kind, a row named like a term ("Autumn term", not "half term") is a
term (one under a week, like "Autumn term starts", is a note and closes nothing); any
other row is a closure. .ics: all-day events (DTEND is the day after the last,
as RFC 5545 says); events that last part of a day (a parents' evening) close nothing and
are reported. Bad rows are named and skipped; loading the same file twice adds nothing.
Staff-facing text here is plain English (the staff language in this release).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Annotated

import typer

from bot.cli import JsonOpt, app, context, out, print_json
from bot.cli.support import cli_actor, school_session
from bot.errors import InvalidInputError

term_dates_app = typer.Typer(help="The school's term dates: holidays, half-terms, training "
                                  "days and the gaps between terms close the school.",
                             no_args_is_help=True)
app.add_typer(term_dates_app, name="term-dates")

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
    spans: list[Span] = []
    problems: list[Problem] = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = {c.strip().lower() for c in reader.fieldnames or []}
        if not {"start", "end"} <= columns:
            raise InvalidInputError(f"{path}: the CSV needs columns start and end "
                                    "(and name, optionally kind)")
        for n, raw in enumerate(reader, start=2):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
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


@term_dates_app.command("import")
def term_dates_import_cmd(
    file: Annotated[Path, typer.Argument(help="A CSV (start,end,name[,kind]) or an .ics "
                                              "calendar feed file.")],
    as_json: JsonOpt = False,
) -> None:
    """Import term dates: holidays, half-terms and gaps between terms close the school."""
    from sqlalchemy import select

    from bot.store.audit import audit
    from bot.store.models import Holiday

    if not file.is_file():
        raise InvalidInputError(f"{file}: no such file")
    reader = read_ics if file.suffix.lower() in (".ics", ".ical", ".ifb") else read_csv
    spans, problems = reader(file)
    wanted = closures(spans)
    ctx = context()
    added = 0
    with school_session(ctx) as (s, school):
        known = {(a, b) for a, b in s.execute(select(Holiday.starts_on, Holiday.ends_on)
                                              .where(Holiday.school_id == school.id))}
        for start, end, name in wanted:
            if (start, end) in known:
                continue
            known.add((start, end))
            s.add(Holiday(school_id=school.id, starts_on=start, ends_on=end, name=name))
            added += 1
        audit(s, cli_actor(), "term_dates_imported", "school", school.id, added=added,
              terms=sum(1 for sp in spans if sp.term), bad_entries=len(problems))
    if as_json:
        print_json({"added": added, "terms": sum(1 for sp in spans if sp.term),
                    "closures": [{"start": a.isoformat(), "end": b.isoformat(), "name": n}
                                 for a, b, n in wanted],
                    "problems": [{"where": p.where, "reason": p.reason} for p in problems]})
        return
    out.print(f"{added} closed period(s) added from {len(spans)} entr(ies)")
    for p in problems:
        out.print(f"[red]{p.where}:[/] {p.reason}", highlight=False)
