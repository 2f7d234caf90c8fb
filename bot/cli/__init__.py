"""The `schoolgate` command. Every error is one clear line, never a traceback.

`--help` must be quick (a person types it to find their way): this package and every
command module import only typer, rich and the standard library at the top. The web
stack, the models, SQLAlchemy, pydantic, lingua and babel are imported inside the
commands that use them (tests/bot/cli/test_lazy_imports.py checks it).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from bot.cli.support import cli_actor, school_session
from bot.errors import InvalidInputError, SchoolgateError

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.runtime.context import Context

app = typer.Typer(help="schoolgate: school-to-family messages in each family's channel and "
                       "language.", no_args_is_help=True, pretty_exceptions_enable=False,
                  add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def get_settings() -> Settings:
    """The process-wide settings (bot.config.get_settings, imported when first needed)."""
    from bot.config import get_settings as settings

    return settings()


def context(*, upgrade: bool = True) -> Context:
    """A Context from the environment; with `upgrade`, the schema brought up to date first
    (commands that only look, or that must see the database as it is, pass False)."""
    from bot.runtime.context import Context
    from bot.runtime.sentry import init_sentry

    ctx = Context(get_settings())
    init_sentry(ctx.settings)  # when SCHOOLGATE_SENTRY_DSN is set
    if upgrade:
        ctx.upgrade()
    return ctx


def print_json(data: Any) -> None:
    """Write JSON to stdout (UTF-8, stable key order)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@app.callback()
def _root(verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                                help="Log progress (never personal data).")]
          = False,
          version: Annotated[bool, typer.Option(
              "--version", help="Print the version and exit.", is_eager=True,
              callback=lambda given: _print_version(given))] = False) -> None:
    import logging

    from bot.logs import configure

    configure(logging.INFO if verbose else logging.WARNING,
              os.environ.get("SCHOOLGATE_LOG_FORMAT", "text"))


def _print_version(given: bool) -> None:
    if given:
        from bot import __version__

        out.print(f"schoolgate {__version__}", highlight=False)
        raise typer.Exit()


# -- database ----------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version."""
    ctx = context()
    out.print(f"database is up to date ({ctx.engine.url.render_as_string(hide_password=True)})")


@db_app.command("current")
def db_current() -> None:
    """Print the schema version the database is at, and the newest this version knows."""
    from bot.store.migrate import current, head

    ctx = context(upgrade=False)  # looks only: never migrates
    at, newest = current(ctx.engine), head()
    out.print(f"database: {at or 'empty (no schema yet)'}; schoolgate expects: {newest}")


@db_app.command("check")
def db_check() -> None:
    """Exit 0 if the schema is up to date, 1 (saying what to run) if it is not."""
    from bot.store.migrate import current, head

    ctx = context(upgrade=False)  # looks only: never migrates
    at, newest = current(ctx.engine), head()
    if at != newest:
        raise SchoolgateError(f"the database is at {at or 'no schema'}, schoolgate expects "
                              f"{newest}: run `schoolgate db upgrade` (back it up first: "
                              "`schoolgate backup FILE`)")
    out.print(f"database is up to date ({newest})")


# -- roster ----------------------------------------------------------------------------
@app.command("import-roster")
def import_roster_cmd(
    file: Annotated[Path, typer.Argument(help="CSV file, one row per student-guardian pair.")],
    as_json: JsonOpt = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Check the file and say what it would change; save nothing.")]
        = False,
) -> None:
    """Import students, guardians and key workers from a CSV file; bad rows are named.

    Good rows are imported and bad ones listed (the first 50; --json gives all). Exit
    status: 0 when every row was imported, 2 when any row was refused, 1 when the file
    could not be read at all (nothing imported). --dry-run: the same checks and counts,
    nothing saved (the staff web app's roster upload shows this first)."""
    from bot.cli.support import run_import

    report = run_import(context(), file, show_progress=not as_json and sys.stderr.isatty(),
                        dry_run=dry_run)
    if dry_run and not as_json:
        out.print("dry run: nothing was saved", highlight=False)
    if as_json:
        print_json(report.as_dict())
    else:
        from bot.cli.support import print_import_report

        print_import_report(out, report)
    if report.errors:
        raise typer.Exit(2)


# -- plain words -------------------------------------------------------------------------
@app.command("check-text")
def check_text_cmd(
    text: Annotated[str, typer.Argument(help="The text to check.")],
    fix: Annotated[bool, typer.Option(
        "--fix", help="Put the glossary's plain words in; print the new text.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check text for jargon, reading age and long sentences before it goes to families."""
    from bot.language.plain import check_text, format_report, suggest_rewrite

    settings = get_settings()
    if fix:
        text, changes = suggest_rewrite(text, settings.glossary_file)
        report = check_text(text, settings.glossary_file)
        if as_json:
            print_json({"text": text, "changes": [c.as_dict() for c in changes],
                        "report": report.as_dict()})
        else:
            out.print(text, highlight=False, markup=False)
            for change in changes:
                out.print(f'changed: "{change.found}" -> "{change.plain}"', highlight=False,
                          markup=False)
            out.print(format_report(report), highlight=False, markup=False)
        if not report.ok:
            raise typer.Exit(1)
        return
    report = check_text(text, settings.glossary_file)
    if as_json:
        print_json(report.as_dict())
    else:
        out.print(format_report(report), highlight=False, markup=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("translate")
def translate_cmd(
    text: Annotated[str, typer.Argument(help="What you plan to send.")],
    to: Annotated[list[str], typer.Option("--to", help="Family language, e.g. pl. Repeatable.")],
    back: Annotated[bool, typer.Option(
        "--back", help="Translate it back too, to check the meaning.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Preview the machine translation of a text (and its back-translation) before sending."""
    import asyncio

    from bot.outbound.translate import preview
    from translations.machine import TranslationError, build_translator

    settings = get_settings()
    translator = build_translator(settings)
    if translator is None:
        raise InvalidInputError("no translation service is set up: set "
                                "SCHOOLGATE_TRANSLATION_BACKEND (see .env.example)")

    async def run() -> list[Any]:
        try:
            return [await preview(translator, text, settings.staff_language, lang, back=back)
                    for lang in to]
        finally:
            await translator.close()

    try:
        previews = asyncio.run(run())
    except TranslationError as exc:
        raise InvalidInputError(f"translation failed: {exc}") from None
    if as_json:
        print_json([{"language": p.language, "translation": p.translated,
                     "back_translation": p.back} for p in previews])
        return
    for p in previews:
        out.print(f"[bold]{p.language}:[/] {p.translated}", highlight=False)
        if p.back is not None:
            out.print(f"  [dim]back to {settings.staff_language}:[/] {p.back}",
                      highlight=False)


def plain_words_gate(text: str) -> None:
    """Warn about jargon and hard reading on stderr; the school's `jargon` policy says the
    rest: warn, confirm (asked on a terminal, refused elsewhere) or block."""
    from bot.language.plain import JargonNotConfirmedError, check_text, enforce, format_report
    from scheduler.policy import school_policy

    settings = get_settings()
    report = check_text(text, settings.glossary_file)
    if not report.ok:
        err.print(format_report(report), highlight=False, markup=False)
    if not report.jargon:
        return
    with school_session(context(), write=False) as (_s, school):
        mode = school_policy(school).jargon
    try:
        enforce(report, "block" if settings.jargon_mode == "block" else mode)
    except JargonNotConfirmedError:
        if not (sys.stdin.isatty() and typer.confirm("Send it with these words?")):
            raise


# -- sending -----------------------------------------------------------------------------
@app.command("good-news")
def good_news_cmd(
    text: Annotated[str, typer.Argument(help="What the child did well, in a sentence or two.")],
    student: Annotated[str, typer.Option("--student", help="The school's student id.")],
    author: Annotated[str, typer.Option("--from", help="Staff email or name (signs the note).")],
    as_json: JsonOpt = False,
) -> None:
    """Queue a good-news note about one child to each of their guardians."""
    from bot.journeys.good_news import queue_good_news
    from bot.store.lookup import staff_by_email_or_name, student_by_ref

    plain_words_gate(text)
    ctx = context()
    with school_session(ctx) as (s, school):
        message, rows = queue_good_news(s, school, student_by_ref(s, school.id, student),
                                        staff_by_email_or_name(s, school.id, author), text,
                                        ctx.channels, public_url=ctx.settings.public_url)
        summary = queued_summary(message.id, rows)
    print_queued(summary, as_json)


@app.command("invite")
def invite_cmd(
    student: Annotated[str, typer.Option("--student", help="The school's student id.")],
    author: Annotated[str, typer.Option("--from", help="Staff email or name.")],
    why: Annotated[str, typer.Option("--why", help="Why the meeting is happening, plainly.")],
    when: Annotated[list[str], typer.Option(
        "--when", help="A time option, e.g. 2026-12-01T15:30 (school time); up to 3.")],
    where: Annotated[str, typer.Option("--where", help="Where, and how to get there.")],
    minutes: Annotated[int, typer.Option("--minutes", help="How long.")] = 30,
    who: Annotated[list[str] | None, typer.Option(
        "--with", help='Who will be there: "Ms Shah|who organises extra help". Repeatable.')]
    = None,
    meeting_type: Annotated[str, typer.Option(
        "--type", help="Which prep pack goes with it: attendance, support_plan_review, "
                       "school_move, behaviour or progress.")] = "progress",
    as_json: JsonOpt = False,
) -> None:
    """Invite a child's guardians to a meeting (why, who, when, where, how long), with a
    prep pack for the meeting type."""
    from bot.clock import now
    from bot.journeys.meetings.invitation import parse_options, parse_who, queue_invitation
    from bot.journeys.meetings.prep_packs import check_type
    from bot.store.lookup import staff_by_email_or_name, student_by_ref

    meeting_type = check_type(meeting_type)
    people = parse_who("\n".join(who or []))
    plain_words_gate(why)
    ctx = context()
    with school_session(ctx) as (s, school):
        options = parse_options(when, school.timezone, now())
        staff = staff_by_email_or_name(s, school.id, author)
        message, rows = queue_invitation(
            s, school, student_by_ref(s, school.id, student), staff, why=why, options=options,
            where=where, minutes=minutes, who=people, available=ctx.channels,
            meeting_type=meeting_type, public_url=ctx.settings.public_url,
            pack_link_days=ctx.settings.pack_link_days)
        summary = queued_summary(message.id, rows)
    print_queued(summary, as_json)


def queued_summary(message_id: int, rows: list[Any]) -> dict[str, Any]:
    from bot.outbound.render import SMS_SEGMENTS, sms_segments_by_language

    # counted after rendering, in each family's language (also rows awaiting translation)
    counts = sms_segments_by_language(rows)
    return {
        "message_id": message_id,
        "sms_segments": counts,
        "long_sms_languages": [lang for lang, n in counts.items() if n > SMS_SEGMENTS],
        "deliveries": [{"id": r.id, "guardian_id": r.guardian_id, "channel": r.channel,
                        "status": r.status, "language": r.language, "note": r.last_error}
                       for r in rows],
    }


def print_queued(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(summary)
        return
    rows = summary["deliveries"]
    queued = [r for r in rows if r["channel"]]
    out.print(f"message {summary['message_id']}: queued for {len(queued)} guardian(s)")
    for r in rows:
        if not r["channel"]:
            out.print(f"  [yellow]guardian {r['guardian_id']} cannot be reached:[/] {r['note']}")
    if summary.get("sms_segments"):
        out.print("  SMS segments by language: " + ", ".join(
            f"{lang} {n}" for lang, n in sorted(summary["sms_segments"].items())),
            highlight=False)
    for language in summary.get("long_sms_languages", []):
        out.print(f"  [yellow]in {language} this takes more than 3 text messages:[/] "
                  "a shorter note is kinder to read on a phone")
    out.print("run [bold]schoolgate worker[/] (or serve) to send them")


# -- workers and server ------------------------------------------------------------------
@app.command("worker")
def worker_cmd(
    until_empty: Annotated[bool, typer.Option(
        "--until-empty", help="Stop when nothing is due instead of waiting for more.")] = False,
) -> None:
    """Send queued messages: claim due outbox rows, send them, record the result.
    SIGTERM or Ctrl-C stops it cleanly: calls already started finish, the rest go back."""
    import asyncio
    import signal

    ctx = context()
    worker = ctx.worker()

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await worker.run(stop, until_empty=until_empty)

    sent = asyncio.run(main())
    out.print(f"worker stopped; {sent} message(s) sent, {worker.released} given back "
              "unsent")


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(envvar="SCHOOLGATE_HOST",
                                      help="Address to listen on (0.0.0.0 in a container).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="SCHOOLGATE_PORT", help="Port to listen on.")]
    = 8000,
    workers: Annotated[bool, typer.Option(
        help="Run the background work (sending, reply routing, scheduler, mail and "
             "Telegram polling); --no-workers when `schoolgate background` runs "
             "elsewhere.")] = True,
    one_process: Annotated[bool, typer.Option(
        "--one-process", help="Run the background work inside the web process instead "
                              "of a companion process (slower webhooks under load).")]
    = False,
) -> None:
    """Run the web app (staff pages, webhooks, unsubscribe, prep packs) and the background
    work beside it (in a companion process it starts, watches and stops)."""
    import uvicorn

    from bot.web.serve import Workers, build_server_app

    ctx = context()
    mode: Workers = "none" if not workers else "inline" if one_process else "process"
    out.print(serving_line(ctx, host, port, mode), highlight=False)
    uvicorn.run(build_server_app(ctx, workers=mode), host=host, port=port,
                log_level="warning")


def serving_line(ctx: Context, host: str, port: int, mode: str) -> str:
    """The one line `serve` prints at start-up: where, which channels, where the work runs."""
    channels = ", ".join(
        f"{name} ({'outbox folder' if type(ch).__name__.startswith('Outbox') else 'provider'})"
        for name, ch in sorted(ctx.channels.items())) or "none"
    work = {"process": "in a companion process", "inline": "in this process",
            "none": "elsewhere (schoolgate background)"}[mode]
    return (f"schoolgate serving on http://{host}:{port} "
            f"(database {ctx.engine.dialect.name}; channels: {channels}; "
            f"background work {work})")


@app.command("background")
def background_cmd(
    parent: Annotated[int | None, typer.Option(
        hidden=True, help="Stop when this process (the web server) has gone.")] = None,
) -> None:
    """Run the background work without the web app: sending, reply routing, the
    scheduler, mail and Telegram polling. `schoolgate serve` starts one itself."""
    import asyncio

    from bot.runtime.background import run_background
    from bot.runtime.companion import run_companion

    ctx = context()

    async def main() -> None:
        stop = asyncio.Event()
        watcher = asyncio.create_task(run_companion(stop, parent))
        await run_background(ctx, stop, route_replies=True)
        watcher.cancel()

    asyncio.run(main())
    out.print("background work stopped")


@app.command("telegram-link")
def telegram_link_cmd(
    guardian: Annotated[str, typer.Argument(help="Guardian id from the roster.")],
    as_json: JsonOpt = False,
) -> None:
    """Send a guardian a one-time link (by SMS or email) that connects their Telegram chat."""
    import asyncio

    from bot.inbound.telegram_link import bot_username, link_ttl, queue_welcome
    from bot.store.lookup import guardian_by_ref

    ctx = context()
    if "telegram" not in ctx.channels:
        raise InvalidInputError("Telegram is not set up: set TELEGRAM_BOT_TOKEN first")
    name = asyncio.run(bot_username(ctx.settings.telegram, ctx.channels))
    with school_session(ctx) as (s, school):
        row = guardian_by_ref(s, school.id, guardian)
        rows = queue_welcome(s, row, set(ctx.channels), bot_username=name,
                            ttl=link_ttl(ctx.settings.telegram))
        summary = queued_summary(rows[0].message_id, rows) if rows else {"deliveries": []}
    print_queued(summary, as_json)


@app.command("channels")
def channels_cmd(
    action: Annotated[str, typer.Argument(help="check")] = "check",
) -> None:
    """`channels check`: can each configured channel reach its provider with its credentials?"""
    import asyncio

    from bot.cli.support import check_channels

    if action != "check":
        raise InvalidInputError("the only action is: schoolgate channels check")
    lines, ok = asyncio.run(check_channels(context(upgrade=False)))
    for line in lines:
        out.print(line, highlight=False, markup=False)
    if not ok:
        raise typer.Exit(1)


# -- replies and the log -----------------------------------------------------------------
@app.command("simulate-reply")
def simulate_reply_cmd(
    text: Annotated[str, typer.Argument(help="What the parent writes.")],
    sender: Annotated[str, typer.Option("--from", help="Phone number, email address, or "
                                                       "telegram:<chat id>.")],
    as_json: JsonOpt = False,
) -> None:
    """Feed a parent's reply through the inbound path, exactly as a provider would."""
    from bot.cli.support import simulate_reply

    ctx = context()
    inbound = simulate_reply(ctx, sender, text)
    data = {"inbound_id": inbound.id, "status": inbound.status, "channel": inbound.channel,
            "guardian_id": inbound.guardian_id, "student_id": inbound.student_id,
            "routed_to_staff_id": inbound.routed_to_id}
    if as_json:
        print_json(data)
    elif inbound.status == "unmatched":
        out.print(f"reply {inbound.id} matched no family: it waits in the unmatched queue")
    else:
        staff = inbound.routed_to.name if inbound.routed_to else "the office"
        out.print(f"reply {inbound.id} stored and routed to {staff}; acknowledgement queued")


@app.command("log")
def log_cmd(
    student: Annotated[str | None, typer.Option("--student", help="Student id.")] = None,
    guardian: Annotated[str | None, typer.Option("--guardian", help="Guardian id.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the contact log: every message out and reply in, in time order."""
    from bot.cli.support import print_log
    from bot.records.contact_log import contact_log
    from bot.store.lookup import guardian_by_ref, student_by_ref

    if (student is None) == (guardian is None):
        raise InvalidInputError("give exactly one of --student or --guardian")
    ctx = context()
    with school_session(ctx) as (s, school):
        if student is not None:
            sid = student_by_ref(s, school.id, student).id
            entries = contact_log(s, student_id=sid)
            target = ("student", sid)
        else:
            gid = guardian_by_ref(s, school.id, guardian or "").id
            entries = contact_log(s, guardian_id=gid)
            target = ("guardian", gid)
        from bot.store.audit import audit

        audit(s, cli_actor(), "view_contact_log", *target)
    if as_json:
        print_json([e.as_dict() for e in entries])
    else:
        print_log(out, entries)


@app.command("reply")
def reply_cmd(
    text: Annotated[str, typer.Argument(help="Your answer, in your own words.")],
    to: Annotated[int, typer.Option("--to", help="The id of the parent's reply.")],
    author: Annotated[str, typer.Option("--from", help="Staff email or name.")],
    as_json: JsonOpt = False,
) -> None:
    """Answer a parent's reply: it goes back on the channel they used, in their language."""
    from bot.inbound.staff_reply import reply_to_inbound
    from bot.store.lookup import staff_by_email_or_name

    plain_words_gate(text)
    ctx = context()
    with school_session(ctx) as (s, school):
        staff = staff_by_email_or_name(s, school.id, author)
        rows = reply_to_inbound(s, to, staff, text, set(ctx.channels))
        summary = queued_summary(rows[0].message_id, rows) if rows else {"deliveries": []}
    print_queued(summary, as_json)


@app.command("export")
def export_cmd(
    guardian: Annotated[str, typer.Option("--guardian", help="Guardian id from the roster.")],
    folder: Annotated[Path, typer.Option("--out", help="Folder for the two files.")]
    = Path("exports"),
) -> None:
    """Everything held about one guardian (subject access request): JSON and a readable page."""
    from bot.records.export import write_export
    from bot.store.lookup import guardian_by_ref

    ctx = context()
    with school_session(ctx) as (s, school):
        row = guardian_by_ref(s, school.id, guardian)
        paths = write_export(s, row.id, folder, actor=cli_actor())
    for path in paths:
        out.print(f"written {path.resolve()}", highlight=False)


# -- action points -----------------------------------------------------------------------
actions_app = typer.Typer(help="Action points agreed at meetings: who does what, by when.",
                          no_args_is_help=True)
app.add_typer(actions_app, name="actions")


@actions_app.command("add")
def actions_add_cmd(
    text: Annotated[str, typer.Argument(help="What was agreed, in a sentence.")],
    student: Annotated[str, typer.Option("--student", help="The school's student id.")],
    owner: Annotated[str, typer.Option("--owner", help="Who does it: school, family or child.")],
    due: Annotated[str, typer.Option("--due", help="Due date, e.g. 2026-12-01 (school time).")],
    staff: Annotated[str | None, typer.Option(
        "--staff", help="Staff email or name (school actions default to the key worker).")]
    = None,
    meeting: Annotated[int | None, typer.Option(
        "--meeting", help="The id of the meeting invitation message.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record an action point from a meeting, with its owner and due date."""
    from datetime import date

    from bot.follow_up.action_points import action_as_dict, add_action
    from bot.store.lookup import staff_by_email_or_name, student_by_ref

    try:
        due_date = date.fromisoformat(due)
    except ValueError:
        raise InvalidInputError(f"--due {due!r} is not a date like 2026-12-01") from None
    ctx = context()
    with school_session(ctx) as (s, school):
        action = add_action(
            s, school.id, student_by_ref(s, school.id, student), owner, text, due_date,
            staff=staff_by_email_or_name(s, school.id, staff) if staff else None,
            meeting_message_id=meeting, tz=school.timezone, actor=cli_actor())
        data = action_as_dict(s, action, school.timezone)
    if as_json:
        print_json(data)
    else:
        who = f" ({data['staff']})" if data["staff"] else ""
        out.print(f"action {data['id']} recorded: {data['owner']}{who}, due {data['due']}",
                  highlight=False)


@actions_app.command("list")
def actions_list_cmd(
    student: Annotated[str | None, typer.Option("--student", help="Student id.")] = None,
    overdue: Annotated[bool, typer.Option(
        "--overdue", help="Only open actions past their due date.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List action points: the school's own overdue ones first."""
    from bot.follow_up.action_points import action_as_dict, list_actions
    from bot.store.lookup import student_by_ref

    ctx = context()
    with school_session(ctx, write=False) as (s, school):
        sid = student_by_ref(s, school.id, student).id if student else None
        rows = [action_as_dict(s, a, school.timezone)
                for a in list_actions(s, school.id, student_id=sid, overdue_only=overdue)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no overdue actions" if overdue else "no action points")
    for r in rows:
        flag = "[red]OVERDUE[/] " if r["overdue"] else ("done " if r["status"] == "done" else "")
        who = f" ({r['staff']})" if r["staff"] else ""
        out.print(f"{r['id']} {flag}due {r['due']} {r['student']} {r['owner']}{who}: ",
                  highlight=False, end="")
        out.print(r["description"], highlight=False, markup=False)


@actions_app.command("done")
def actions_done_cmd(
    action_id: Annotated[int, typer.Argument(help="The action point id.")],
    as_json: JsonOpt = False,
) -> None:
    """Mark an action point done (doing it twice is harmless)."""
    from bot.follow_up.action_points import action_as_dict, complete_action

    ctx = context()
    with school_session(ctx) as (s, school):
        action = complete_action(s, action_id, cli_actor(), school_id=school.id)
        data = action_as_dict(s, action, school.timezone)
    if as_json:
        print_json(data)
    else:
        out.print(f"action {data['id']} is done")


@app.command("rsvps")
def rsvps_cmd(
    message: Annotated[int, typer.Option("--message", help="The invitation's message id.")],
    as_json: JsonOpt = False,
) -> None:
    """Who has answered a meeting invitation, and with which time."""
    from bot.journeys.meetings.replies import format_rsvp_summary, rsvp_summary
    from bot.store.audit import audit

    ctx = context()
    with ctx.factory() as s, s.begin():
        try:
            rows = rsvp_summary(s, message)
        except LookupError as exc:
            raise InvalidInputError(str(exc)) from None
        audit(s, cli_actor(), "view_rsvps", "message", message)
    if as_json:
        print_json(rows)
    else:
        out.print(format_rsvp_summary(rows), markup=False)


@app.command("unreachable")
def unreachable_cmd(as_json: JsonOpt = False) -> None:
    """Families no channel can reach (opted out, no address, addresses failed), with why."""
    from bot.outbound.reach import unreachable_guardians

    ctx = context()
    with school_session(ctx, write=False) as (s, school):
        rows = [{"guardian": g.ref, "name": f"{g.first_name} {g.last_name}", "reason": why}
                for g, why in unreachable_guardians(s, ctx.channels, school_id=school.id)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("every family can be reached on at least one channel")
    for r in rows:
        out.print(f"{r['guardian']} {r['name']}: {r['reason']}", highlight=False)


@app.command("review")
def review_cmd(
    resend: Annotated[int | None, typer.Option(help="Queue this delivery id again.")] = None,
    mark_sent: Annotated[int | None, typer.Option(
        help="Record this delivery id as sent (you checked it went).")] = None,
    send_untranslated: Annotated[int | None, typer.Option(
        help="Send this delivery in the staff language, with a note in the family's.")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """What needs a person: sends a crash left unsure, translations that keep failing."""
    from bot.cli.support import review

    rows = review(context(), resend=resend, mark_sent=mark_sent,
                  send_untranslated=send_untranslated)
    if as_json:
        print_json(rows)
        return
    if resend or mark_sent or send_untranslated:
        out.print("done")
        return
    if not rows:
        out.print("nothing needs review")
    for r in rows:
        out.print(f"delivery {r['id']} ({r['channel']}, guardian {r['guardian_id']}, "
                  f"message {r['message_id']}): {r['last_error']}")


@app.command("demo")
def demo_cmd() -> None:
    """Try everything with no accounts: example roster, messages, a reply, the contact log."""
    from bot.cli.demo import run_demo

    run_demo(context(upgrade=False), out)  # the demo migrates itself


def main() -> None:
    """Entry point: run the app, turning expected failures into one line on stderr."""
    try:
        app()
    except SchoolgateError as exc:
        err.print(f"error: {exc}", highlight=False)
        sys.exit(1)
    except Exception as exc:  # the last line of defence: one line, details on request
        # SQLAlchemy is looked up, not imported: if it was never loaded, this is not its error
        sa_exc = sys.modules.get("sqlalchemy.exc")
        if sa_exc is not None and isinstance(exc, sa_exc.OperationalError):
            err.print(f"error: the database is not available ({exc.orig.__class__.__name__}); "
                      "check SCHOOLGATE_DATABASE_URL", highlight=False)
            sys.exit(1)
        from bot.runtime.sentry import report

        report(exc)  # to Sentry, personal data removed, when SCHOOLGATE_SENTRY_DSN is set
        if os.environ.get("SCHOOLGATE_DEBUG"):
            raise
        err.print(f"error: unexpected {type(exc).__name__}: {exc} "
                  "(set SCHOOLGATE_DEBUG=1 to see the traceback)", highlight=False)
        sys.exit(1)


import bot.cli.announce  # noqa: E402  (announce, lists)
import bot.cli.backup  # noqa: E402  (backup, restore)
import bot.cli.cadence  # noqa: E402  (scheduler, cadence, holidays, concern)
import bot.cli.config_cmd  # noqa: E402  (config check)
import bot.cli.follow_up  # noqa: E402  (tasks, notify, escalate, nudge, ladder)
import bot.cli.journeys  # noqa: E402  (reminders, check-ins)
import bot.cli.policy  # noqa: E402  (policy show, set, reset)
import bot.cli.retention  # noqa: E402  (leavers, erase)
import bot.cli.staff  # noqa: E402  (staff add, staff list)
import bot.cli.term_dates  # noqa: E402, F401  (term-dates import)
