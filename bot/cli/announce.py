"""`schoolgate announce` (one message to a class, a year group, a saved list or the whole
school) and `schoolgate lists` (the saved lists it can go to).

Staff-facing text here is plain English (the staff language in this release).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from bot.cli import JsonOpt, app, context, err, out, plain_words_gate, print_json
from bot.cli.support import cli_actor, school_session
from bot.errors import InvalidInputError

lists_app = typer.Typer(help="Saved lists of students (the choir, a trip group) that "
                             "`schoolgate announce --list` writes to.", no_args_is_help=True)
app.add_typer(lists_app, name="lists")


def _audience(klass: str | None, year: str | None, saved: str | None, school: bool) -> Any:
    from bot.outbound.audience import parse_audience

    given = [(k, v) for k, v in (("class", klass), ("year", year), ("list", saved),
                                 ("school", "" if school else None)) if v is not None]
    if len(given) != 1:
        raise InvalidInputError("say who it is for: one of --class 3B, --year 5, --list NAME "
                                "or --school")
    return parse_audience(*given[0])


@app.command("announce")
def announce_cmd(
    text: Annotated[str, typer.Argument(help="What families need to know, in plain words.")],
    author: Annotated[str, typer.Option("--from", help="Staff email or name (signs it).")],
    klass: Annotated[str | None, typer.Option("--class", help="A class, e.g. 3B.")] = None,
    year: Annotated[str | None, typer.Option("--year", help="A year group, e.g. 5 or R.")]
    = None,
    saved: Annotated[str | None, typer.Option("--list", help="A saved list's name.")] = None,
    school: Annotated[bool, typer.Option("--school", help="Every family of the school.")]
    = False,
    celebration: Annotated[bool, typer.Option(
        "--celebration", help="Good news for the whole group (never a child's own note).")]
    = False,
    urgent: Annotated[bool, typer.Option(
        "--urgent", help="Goes at once, past quiet hours and the weekly cap (admin, or a role "
                         "in the policy's urgent_roles; needs --reason).")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why it is urgent.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm an urgent notice without "
                                                    "being asked.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Queue one message to every family of a class, a year group, a saved list or the
    whole school: each family once, in their language and on their channel."""
    from bot.journeys.announcements import CELEBRATION, NEWS, queue_announcement
    from bot.outbound.audience import audience_students
    from bot.outbound.render import SMS_SEGMENTS, language_name, sms_segments_by_language
    from bot.store.audit import audit
    from bot.store.lookup import staff_by_email_or_name

    audience = _audience(klass, year, saved, school)
    if reason is not None and not urgent:
        raise InvalidInputError("--reason is for an urgent notice: add --urgent, or leave "
                                "the reason out")
    urgent_reason = (reason or "") if urgent else None
    plain_words_gate(text)
    ctx = context()
    with school_session(ctx) as (s, sch):
        staff = staff_by_email_or_name(s, sch.id, author)
        ids = audience_students(s, sch.id, audience)
        if urgent_reason is not None and not yes:
            if not sys.stdin.isatty():
                raise InvalidInputError("an urgent notice goes at once, at night too: add "
                                        "--yes to confirm it")
            if not typer.confirm(f"Send it now as URGENT to the families of {len(ids)} "
                                 "children?"):
                raise typer.Exit(1)
        queued = queue_announcement(s, sch, staff, text, audience, ids, ctx.channels,
                                    tone=CELEBRATION if celebration else NEWS,
                                    urgent_reason=urgent_reason,
                                    public_url=ctx.settings.public_url)
        if urgent_reason is not None:
            audit(s, cli_actor(), "urgent_notice_confirmed", "message", queued.message.id)
        segments = sms_segments_by_language(queued.rows)
        channels: dict[str, int] = {}
        languages: dict[str, int] = {}
        for row in queued.rows:
            if row.channel:
                channels[row.channel] = channels.get(row.channel, 0) + 1
                languages[row.language] = languages.get(row.language, 0) + 1
        summary = {
            "message_id": queued.message.id, "audience": audience.as_dict(),
            "urgent": urgent_reason is not None, "children": len(ids),
            "families": queued.families, "held": queued.held,
            "unreachable": [{"guardian_id": r.guardian_id, "why": r.last_error}
                            for r in queued.rows if not r.channel],
            "children_nobody_hears_about": [{"student_id": sid, "why": why}
                                            for sid, why in queued.unheard],
            "languages": {code: {"name": language_name(code, "en"), "families": n}
                          for code, n in sorted(languages.items())},
            "channels": channels, "sms_segments": segments,
            "sms_segments_total": sum(
                segments.get(r.language, 0) for r in queued.rows if r.channel == "sms"),
        }
    if as_json:
        print_json(summary)
        return
    kind = "urgent notice" if summary["urgent"] else "message"
    out.print(f"{kind} {summary['message_id']} to {audience.label}: {summary['families']} "
              f"families of {summary['children']} children, each once", highlight=False)
    out.print("  languages: " + ", ".join(f"{v['name']} {v['families']}"
                                         for v in summary["languages"].values()),
              highlight=False)
    out.print("  channels: " + ", ".join(f"{c} {n}" for c, n in sorted(channels.items())),
              highlight=False)
    if segments:
        out.print(f"  SMS: {summary['sms_segments_total']} segments in all; per family: "
                  + ", ".join(f"{language_name(c, 'en')} {n}"
                              for c, n in sorted(segments.items())), highlight=False)
    for code in sorted(c for c, n in segments.items() if n > SMS_SEGMENTS):
        err.print(f"  in {language_name(code, 'en')} this takes more than 3 text messages")
    if summary["held"]:
        out.print(f"  {summary['held']} held by the school's policy (quiet hours or the "
                  "weekly cap): they go when it allows")
    for r in summary["unreachable"]:
        out.print(f"  [yellow]guardian {r['guardian_id']} cannot be reached:[/] {r['why']}",
                  highlight=False)
    for r in summary["children_nobody_hears_about"]:
        out.print(f"  [yellow]student {r['student_id']}: nobody will hear:[/] {r['why']}",
                  highlight=False)
    out.print("run [bold]schoolgate worker[/] (or serve) to send them")


@lists_app.command("save")
def lists_save_cmd(
    name: Annotated[str, typer.Argument(help="The list's name, e.g. Choir.")],
    refs: Annotated[list[str], typer.Argument(help="Student ids, as in the roster.")],
    as_json: JsonOpt = False,
) -> None:
    """Create a saved list, or replace who is on it; unknown student ids are named and
    nothing is saved."""
    from bot.outbound.audience import save_list

    with school_session(context()) as (s, school):
        row, count = save_list(s, school.id, name, refs)
        from bot.store.audit import audit

        audit(s, cli_actor(), "saved_list_saved", "saved_list", row.id, students=count)
        data = {"id": row.id, "name": row.name, "students": count}
    if as_json:
        print_json(data)
    else:
        out.print(f"list {data['name']!r}: {count} student(s)", highlight=False)


@lists_app.command("show")
def lists_show_cmd(as_json: JsonOpt = False) -> None:
    """Every saved list and how many students are on it."""
    from bot.outbound.audience import list_sizes

    with school_session(context(), write=False) as (s, school):
        rows = list_sizes(s, school.id)
    if as_json:
        print_json([{"name": n, "students": c} for n, c in rows])
        return
    if not rows:
        out.print("no saved lists yet: `schoolgate lists save NAME ID...` makes one")
    for n, c in rows:
        out.print(f"{n}: {c} student(s)", highlight=False, markup=False)


@lists_app.command("delete")
def lists_delete_cmd(name: Annotated[str, typer.Argument(help="The list's name.")]) -> None:
    """Delete a saved list (the students stay on the roster)."""
    from bot.outbound.audience import delete_list
    from bot.store.audit import audit

    with school_session(context()) as (s, school):
        delete_list(s, school.id, name)
        audit(s, cli_actor(), "saved_list_deleted", "school", school.id)
    out.print(f"list {name!r} deleted", highlight=False)
