"""`schoolgate scheduler`, `schoolgate cadence`, `schoolgate holidays`, `schoolgate concern`.

Staff-facing text here is plain English (the staff language in this release).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli import JsonOpt, app, context, out, plain_words_gate, print_json
from bot.cli.support import cli_actor, school_session
from bot.errors import InvalidInputError

holidays_app = typer.Typer(help="The school holiday calendar: no non-urgent messages on "
                                "these days.", no_args_is_help=True)
app.add_typer(holidays_app, name="holidays")


# -- the service -------------------------------------------------------------------------
@app.command("scheduler")
def scheduler_cmd(
    once: Annotated[bool, typer.Option(
        "--once", help="Run every job once and exit (for cron), instead of staying up.")]
    = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the scheduler on its own: recurring jobs, while this process holds the lease."""
    import asyncio
    import signal

    from bot.runtime.jobs import all_jobs
    from scheduler.service import SchedulerService

    ctx = context()
    service = SchedulerService(ctx.engine, all_jobs(ctx))
    if once:
        done = service.run_once()
        if done is None:
            raise InvalidInputError("another scheduler holds the lease; nothing was run")
        if as_json:
            print_json(done)
        else:
            for name, n in done.items():
                out.print(f"{name}: {n}")
        return

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await service.run(stop)

    asyncio.run(run())
    out.print("scheduler stopped")


# -- the report --------------------------------------------------------------------------
@app.command("cadence")
def cadence_cmd(
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="First recompute the contact summaries from the message history "
                          "(after changing the policy's term_start, or an upgrade).")]
    = False,
    as_json: JsonOpt = False,
) -> None:
    """Overdue good news, positive-to-concern balance, held messages, unreachable families."""
    from bot import clock
    from bot.records.cadence_report import cadence_report

    ctx = context()
    if rebuild:
        from bot.store.audit import audit
        from scheduler.contact_summary import rebuild as rebuild_summaries

        with school_session(ctx) as (s, school):
            done = rebuild_summaries(s.connection(), [school.id])
            audit(s, cli_actor(), "cadence_rebuilt", "school", school.id, **done)
        if not as_json:
            out.print(f"contact summaries rebuilt: {done['rows']} term rows, "
                      f"{done['students']} students")
    with school_session(ctx, write=False) as (s, school):
        report = cadence_report(s, school, clock.now(), available=set(ctx.channels))
    if as_json:
        print_json(report)
    else:
        print_report(report)


def print_report(r: dict[str, Any]) -> None:
    """The cadence report as short readable sections."""
    days = r["policy"]["positive_contact_days"]
    out.print(f"[bold]Overdue for good news[/] (none sent in {days} days): {len(r['overdue'])}")
    for o in r["overdue"]:
        last = (o["last_positive_at"] or "never")[:10]
        out.print(f"  {o['student']} ({o['class_name'] or '-'}), key worker "
                  f"{o['key_worker'] or 'none'}: last good news {last}", highlight=False)
    target = r["policy"]["balance_ratio"]
    out.print(f"[bold]Balance since {r['term_start']}[/] (positive : concern, aim {target:g}:1)")
    for c in r["classes"]:
        flag = " [red]below aim[/]" if c["flagged"] else ""
        ratio = f"{c['ratio']:g}:1" if c["ratio"] is not None else "no concerns"
        out.print(f"  class {c['class_name']}: {c['positive']} : {c['concern']} ({ratio}){flag}",
                  highlight=False)
    flagged = [f for f in r["families"] if f["flagged"]]
    out.print(f"  families below aim: {len(flagged)}")
    for f in flagged:
        out.print(f"    {f['guardian']}: {f['positive']} : {f['concern']}", highlight=False)
    out.print(f"[bold]Waiting for the next window[/]: {len(r['waiting'])}")
    for w in r["waiting"]:
        until = w["until"] or "good news is sent"
        out.print(f"  delivery {w['delivery_id']} ({w['kind']}, guardian {w['guardian_id']}): "
                  f"{w['reason']} until {until}", highlight=False)
    out.print(f"[bold]Unreachable families[/]: {len(r['unreachable'])}")
    for u in r["unreachable"]:
        out.print(f"  {u['guardian']}: {u['reason']}", highlight=False)


# -- holidays ----------------------------------------------------------------------------
@holidays_app.command("load")
def holidays_load_cmd(
    file: Annotated[Path, typer.Argument(help="CSV with columns start,end,name "
                                              "(dates like 2026-12-21).")],
    as_json: JsonOpt = False,
) -> None:
    """Load holidays from a CSV file; bad rows are named and skipped, repeats ignored."""
    from sqlalchemy import select

    from bot.store.audit import audit
    from bot.store.models import Holiday

    if not file.is_file():
        raise InvalidInputError(f"{file}: no such file")
    ctx = context()
    added, problems = 0, []
    with school_session(ctx) as (s, school):
        known = {(a, b) for a, b in s.execute(select(Holiday.starts_on, Holiday.ends_on)
                                              .where(Holiday.school_id == school.id))}
        with file.open(newline="", encoding="utf-8-sig") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    start = date.fromisoformat((row.get("start") or "").strip())
                    end = date.fromisoformat((row.get("end") or "").strip())
                except ValueError:
                    problems.append({"row": n, "reason": "start and end must be dates like "
                                                          "2026-12-21"})
                    continue
                if end < start:
                    problems.append({"row": n, "reason": "end is before start"})
                    continue
                if (start, end) in known:
                    continue
                known.add((start, end))
                s.add(Holiday(school_id=school.id, starts_on=start, ends_on=end,
                              name=(row.get("name") or "").strip()[:200]))
                added += 1
        audit(s, cli_actor(), "holidays_loaded", "school", school.id, added=added,
              bad_rows=len(problems))
    if as_json:
        print_json({"added": added, "problems": problems})
        return
    out.print(f"{added} holiday(s) added")
    for p in problems:
        out.print(f"[red]row {p['row']}:[/] {p['reason']}", highlight=False)


@holidays_app.command("list")
def holidays_list_cmd(as_json: JsonOpt = False) -> None:
    """List the school's holidays in date order."""
    from sqlalchemy import select

    from bot.store.models import Holiday

    ctx = context()
    with school_session(ctx, write=False) as (s, school):
        rows = [{"start": a.isoformat(), "end": b.isoformat(), "name": name}
                for a, b, name in s.execute(
                    select(Holiday.starts_on, Holiday.ends_on, Holiday.name)
                    .where(Holiday.school_id == school.id).order_by(Holiday.starts_on))]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no holidays loaded")
    for r in rows:
        out.print(f"{r['start']} to {r['end']} {r['name']}", highlight=False)


# -- concerns ----------------------------------------------------------------------------
@app.command("concern")
def concern_cmd(
    text: Annotated[str, typer.Argument(help="The concern, plainly and kindly worded.")],
    student: Annotated[str, typer.Option("--student", help="The school's student id.")],
    author: Annotated[str, typer.Option("--from", help="Staff email or name.")],
    override: Annotated[bool, typer.Option(
        "--override-positive-first",
        help="Send without waiting for good news first (needs --reason; logged).")] = False,
    reason: Annotated[str | None, typer.Option(
        "--reason", help="Why it cannot wait for good news first.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Raise a concern with a child's family; it waits until they have had good news."""
    from bot.cli import print_queued, queued_summary
    from bot.journeys.concerns import queue_concern
    from bot.store.lookup import staff_by_email_or_name, student_by_ref

    if override and not (reason or "").strip():
        raise InvalidInputError("--override-positive-first needs --reason: say why it "
                                "cannot wait for good news first")
    plain_words_gate(text)
    ctx = context()
    with school_session(ctx) as (s, school):
        message, rows = queue_concern(
            s, school, student_by_ref(s, school.id, student),
            staff_by_email_or_name(s, school.id, author), text, ctx.channels,
            override_reason=reason.strip() if override and reason else None,
            public_url=ctx.settings.public_url)
        summary = queued_summary(message.id, rows)
        held = {r.id: r.held_reason for r in rows if r.status == "held"}
    for r in summary["deliveries"]:
        r["held_reason"] = held.get(r["id"])
    print_queued(summary, as_json)
    if not as_json:
        for delivery_id, why in held.items():
            out.print(f"  delivery {delivery_id} waits: {why} (see schoolgate cadence)")
