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
Staff-facing text here is plain English (the staff language in this release). The
reading and storing are in `scheduler.term_dates`, shared with the staff set-up page.
"""

from __future__ import annotations

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


@term_dates_app.command("import")
def term_dates_import_cmd(
    file: Annotated[Path, typer.Argument(help="A CSV (start,end,name[,kind]) or an .ics "
                                              "calendar feed file.")],
    as_json: JsonOpt = False,
) -> None:
    """Import term dates: holidays, half-terms and gaps between terms close the school."""
    from bot.store.audit import audit
    from scheduler.term_dates import closures, read_term_dates, store_closures

    if not file.is_file():
        raise InvalidInputError(f"{file}: no such file")
    spans, problems = read_term_dates(file)
    wanted = closures(spans)
    ctx = context()
    with school_session(ctx) as (s, school):
        added = store_closures(s, school.id, wanted)
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
