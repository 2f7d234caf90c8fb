"""`schoolgate tasks`, `notify`, `escalate`, `nudge`, `ladder`: the people side by hand.

The recurring jobs run in the scheduler; these commands run one pass now (handy after
an outage, or in a cron-only setup) and show the staff task lists. Staff-facing text is
plain English: the staff language is English in this release.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bot.cli import JsonOpt, app, context, out, print_json
from bot.cli.support import cli_actor, school_session

tasks_app = typer.Typer(help="Staff tasks: children waiting for good news, families to "
                             "phone or visit. With no subcommand: list open tasks.",
                        invoke_without_command=True)
app.add_typer(tasks_app, name="tasks")


@tasks_app.callback()
def tasks_cmd(
    typer_ctx: typer.Context,
    staff: Annotated[str | None, typer.Option(
        "--staff", help="Only this member of staff's tasks (email or name).")] = None,
    include_done: Annotated[bool, typer.Option("--all", help="Include done tasks.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List open tasks, newest first."""
    if typer_ctx.invoked_subcommand is not None:
        return
    from bot.follow_up.staff_tasks import list_tasks, task_as_dict
    from bot.store.lookup import staff_by_email_or_name
    from bot.store.models import Student

    ctx = context()
    with school_session(ctx) as (s, school):
        sid = staff_by_email_or_name(s, school.id, staff).id if staff else None
        rows = []
        for task in list_tasks(s, school.id, staff_id=sid, include_done=include_done):
            data = task_as_dict(s, task)
            child = s.get(Student, task.student_id) if task.student_id else None
            data["student_name"] = f"{child.first_name} {child.last_name}" if child else None
            rows.append(data)
        from bot.store.audit import audit

        audit(s, cli_actor(), "view_tasks", "staff", sid)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no open tasks")
    for r in rows:
        done = f" done {r['done_at'][:10]}" if r["done_at"] else ""
        who = f"{r['student']} {r['student_name']}" if r["student"] else "-"
        family = f", guardian {r['guardian']}" if r["guardian"] else ""
        out.print(f"{r['id']} {r['kind']} {r['created_at'][:10]}{done} [{r['staff'] or '-'}] "
                  f"{who}{family}: {r['reason']}", highlight=False, markup=False)


@tasks_app.command("done")
def tasks_done_cmd(
    task_id: Annotated[int, typer.Argument(help="The task id.")],
    as_json: JsonOpt = False,
) -> None:
    """Mark a task done (twice is harmless)."""
    from bot.follow_up.staff_tasks import complete_task, task_as_dict
    from bot.store.models import utcnow

    ctx = context()
    with school_session(ctx) as (s, school):
        data = task_as_dict(s, complete_task(s, task_id, cli_actor(), utcnow(),
                                             school_id=school.id))
    if as_json:
        print_json(data)
    else:
        out.print(f"task {data['id']} is done")


def _run(name: str, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    from bot.runtime.jobs import follow_up_jobs
    from bot.store.models import utcnow

    labels = {"notify_staff": "notification(s) sent to staff",
              "escalate_unanswered": "reply(ies) escalated to cover",
              "nudge_positive_contact": "nudge(s) sent",
              "climb_ladder": "ladder step(s) taken"}
    job = next(j for j in follow_up_jobs(context()) if j.name == name)
    label = labels[name]
    done = job.func(utcnow())
    if as_json:
        print_json({"job": name, "done": done, **(extra or {})})
    else:
        out.print(f"{done} {label}")


@app.command("notify")
def notify_cmd(
    unsure: Annotated[bool, typer.Option(
        "--unsure", help="List replies whose notification a crash left unsure, and stop.")]
    = False,
    as_json: JsonOpt = False,
) -> None:
    """Tell staff on their own channel about replies routed to them (no reply text sent)."""
    if unsure:
        from bot.follow_up.notify import unsure_notifications
        from bot.store.models import utcnow

        ctx = context()
        with ctx.factory() as s:
            ids = unsure_notifications(s, utcnow())
        if as_json:
            print_json({"unsure": ids})
        else:
            out.print("none" if not ids else
                      "notification may or may not have gone for replies: "
                      + ", ".join(map(str, ids)))
        return
    _run("notify_staff", as_json)


@app.command("escalate")
def escalate_cmd(as_json: JsonOpt = False) -> None:
    """Hand replies unanswered after the working-hours limit to the named cover."""
    _run("escalate_unanswered", as_json)


@app.command("nudge")
def nudge_cmd(as_json: JsonOpt = False) -> None:
    """Update the good-news lists and nudge key workers (once a day at most)."""
    _run("nudge_positive_contact", as_json)


@app.command("ladder")
def ladder_cmd(as_json: JsonOpt = False) -> None:
    """Try silent families again another way; ask a person to phone after the last try."""
    _run("climb_ladder", as_json)
