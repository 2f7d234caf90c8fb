"""`schoolgate leavers` (who left, whose records are due) and `schoolgate erase` (a
family's personal data removed, anonymous counts kept, audited)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli import JsonOpt, app, context, out, print_json
from bot.cli.support import cli_actor, school_session
from bot.errors import InvalidInputError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.records.leavers import Family
    from bot.store.models import School

leavers_app = typer.Typer(
    help="Children who left, and families whose records have been kept long enough "
         "(the policy's leaver_retention_days). With no subcommand: list them.",
    invoke_without_command=True)
app.add_typer(leavers_app, name="leavers")


def _day(text: str | None, option: str) -> date:
    from bot import clock

    if text is None:
        return clock.now().date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{option} {text!r} is not a date like 2026-07-22") from None


def _retention(school: School) -> int:
    from scheduler.policy import school_policy

    return school_policy(school).leaver_retention_days


@leavers_app.callback()
def leavers_cmd(
    typer_ctx: typer.Context,
    due: Annotated[bool, typer.Option(
        "--due", help="Only families whose retention has run out (not yet erased).")]
    = False,
    as_json: JsonOpt = False,
) -> None:
    """List leavers: when each left, until when the family's records are kept."""
    if typer_ctx.invoked_subcommand is not None:
        return
    from bot.records.leavers import leavers
    from bot.store.audit import audit

    ctx = context()
    with school_session(ctx) as (s, school):
        days = _retention(school)
        rows = [r.as_dict() for r in leavers(s, school.id, days, _day(None, ""))]
        audit(s, cli_actor(), "view_leavers", "school", school.id, count=len(rows))
    if due:
        rows = [r for r in rows if r["family_due"] and not r["erased"]]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no families are due for erasure" if due else "no leavers recorded")
    for r in rows:
        if r["erased"]:
            state = "erased"
        elif r["family_due"]:
            state = "[red]due[/]: schoolgate erase --leavers-due"
        elif r["due"]:
            state = "due, but a brother or sister is still on roll: kept"
        else:
            state = f"kept until {r['keep_until']}"
        out.print(f"{r['student']} {r['name'] or '(erased)'} ({r['class_name'] or '-'}): "
                  f"left {r['left_on']}; ", highlight=False, end="")
        out.print(state, highlight=False)
    if not as_json:
        out.print(f"(the policy keeps a leaver's records {days} days: "
                  "schoolgate policy set leaver_retention_days N)", highlight=False)


@leavers_app.command("record")
def leavers_record_cmd(
    roster: Annotated[Path | None, typer.Option(
        "--roster", help="The current roster CSV: every child it no longer lists has left "
                         "(and any it lists again is back on roll).")] = None,
    student: Annotated[str | None, typer.Option(
        "--student", help="One child's id, instead of a roster.")] = None,
    on: Annotated[str | None, typer.Option(
        "--on", help="The day they left, e.g. 2026-07-22 (default: today).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record who left: from the current roster, or one child."""
    from bot.records.leavers import record_from_roster, refs_on_roll
    from bot.store.audit import audit
    from bot.store.lookup import student_by_ref

    if (roster is None) == (student is None):
        raise InvalidInputError("give exactly one of --roster FILE or --student ID")
    left_on = _day(on, "--on")
    if left_on > _day(None, ""):
        raise InvalidInputError(f"--on {left_on}: record a leaver once they have left "
                                "(they stay on roll, in class messages and good-news lists, "
                                "until then)")
    on_roll = refs_on_roll(roster) if roster is not None else None
    ctx = context()
    with school_session(ctx) as (s, school):
        if on_roll is not None:
            left, back = record_from_roster(s, school.id, on_roll, left_on)
        else:
            row = student_by_ref(s, school.id, student or "")
            if row.erased_at is not None:
                raise InvalidInputError(f"{student}: that family has been erased")
            left, back = [row.ref], []
            row.left_on = left_on
        audit(s, cli_actor(), "leavers_recorded", "school", school.id, left=len(left),
              back=len(back))
    if as_json:
        print_json({"left": left, "back_on_roll": back, "left_on": left_on.isoformat()})
        return
    out.print(f"{len(left)} leaver(s) recorded (left {left_on}); {len(back)} back on roll",
              highlight=False)
    for ref in left:
        out.print(f"  left: {ref}", highlight=False, markup=False)
    for ref in back:
        out.print(f"  back on roll: {ref}", highlight=False, markup=False)


def _family(s: Session, school_id: int, ref: str) -> Family:
    from sqlalchemy import select

    from bot.records.leavers import family_of
    from bot.store.models import Guardian, Student

    guardian = s.scalar(select(Guardian.id).where(Guardian.school_id == school_id,
                                                  Guardian.ref == ref))
    student = s.scalar(select(Student.id).where(Student.school_id == school_id,
                                                Student.ref == ref))
    if guardian is None and student is None:
        raise InvalidInputError(f"--family {ref!r}: no guardian or student has that id")
    family = family_of(s, [student] if student else [], [guardian] if guardian else [])
    if student is not None and guardian is not None and \
            student not in family_of(s, [], [guardian]).student_ids:
        raise InvalidInputError(f"--family {ref!r} is both a guardian's and another "
                                "family's student's id: erase by the other id")
    return family


@app.command("erase")
def erase_cmd(
    family: Annotated[str | None, typer.Option(
        "--family", help="A guardian's or a student's id: that family (every child and "
                         "guardian linked to them) is erased.")] = None,
    leavers_due: Annotated[bool, typer.Option(
        "--leavers-due", help="Every family whose children all left longer ago than the "
                              "policy's leaver_retention_days.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask: erase.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Erase families' personal data (names, numbers, emails, message texts, replies,
    private pages); anonymous counts stay; audited. It cannot be undone."""
    from bot import clock
    from bot.records.erasure import describe, erase_family
    from bot.records.leavers import families_due

    if (family is None) == (not leavers_due):
        raise InvalidInputError("give exactly one of --family ID or --leavers-due")
    ctx = context()
    with school_session(ctx, write=False) as (s, school):
        families = [_family(s, school.id, family)] if family is not None else \
            families_due(s, school.id, _retention(school), clock.now().date())
        plan = [describe(s, f) for f in families]
    total: dict[str, Any] = {k: sum(p[k] for p in plan)
                             for k in ("students", "guardians", "deliveries", "replies")}
    if not families:
        if as_json:
            print_json({"families": 0, "erased": []})
        else:
            out.print("no families are due for erasure")
        return
    if not yes:
        question = (f"Erase {len(families)} famil{'y' if len(families) == 1 else 'ies'}: "
                    f"{total['students']} child(ren), {total['guardians']} guardian(s), "
                    f"{total['deliveries']} message(s) out, {total['replies']} repl(ies)? "
                    "This cannot be undone")
        if not sys.stdin.isatty():
            raise InvalidInputError(question + ": add --yes to erase without a terminal")
        if not typer.confirm(question + ".", default=False):
            raise typer.Exit(1)
    erased = []
    reason = "request" if family is not None else "leavers_due"
    with school_session(ctx) as (s, school):
        for each in families:
            erased.append(erase_family(s, school.id, each, actor=cli_actor(), reason=reason,
                                       now=clock.now()))
    if as_json:
        print_json({"families": len(erased), "erased": erased})
        return
    out.print(f"erased {len(erased)} famil{'y' if len(erased) == 1 else 'ies'}: "
              f"{sum(e['students'] for e in erased)} child(ren), "
              f"{sum(e['guardians'] for e in erased)} guardian(s), "
              f"{sum(e.get('deliveries', 0) for e in erased)} message(s) out and "
              f"{sum(e['replies'] for e in erased)} repl(ies) emptied; counts kept",
              highlight=False)
