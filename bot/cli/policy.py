"""`schoolgate policy`: the school's settings (show, set, reset), checked before they are stored."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli import JsonOpt, app, context, err, out, print_json

if TYPE_CHECKING:
    from scheduler.policy import PolicyError, SchoolPolicy

policy_app = typer.Typer(help="The school's policy: cadence, working hours, escalation, "
                              "the ladder.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

KeyArg = Annotated[str, typer.Argument(help="The setting, e.g. weekly_cap or "
                                            "school_hours.start (see schoolgate policy show).")]


def _refuse(exc: PolicyError) -> typer.Exit:
    """One line on stderr and exit code 2: the setting or value typed is not acceptable."""
    err.print(f"error: {exc}", highlight=False, markup=False)
    return typer.Exit(2)


def _rows(policy: SchoolPolicy) -> dict[str, dict[str, Any]]:
    from scheduler.policy import DEFAULT, SETTINGS, policy_as_dict

    values, defaults = policy_as_dict(policy), policy_as_dict(DEFAULT)
    return {s.key: {"value": values[s.key], "is_default": values[s.key] == defaults[s.key],
                    "default": defaults[s.key], "about": s.about} for s in SETTINGS}


def _print(rows: dict[str, dict[str, Any]], only: str | None = None) -> None:
    from scheduler.policy import text_value

    width = max(len(k) for k in rows)
    for key, row in rows.items():
        if only is not None and key != only:
            continue
        note = "(default)" if row["is_default"] else f"(default {text_value(row['default'])})"
        out.print(f"{key:<{width}}  {text_value(row['value'])}  {note}", highlight=False,
                  markup=False)


def _change(key: str, value: str | None, as_json: bool) -> None:
    from bot.store.audit import audit
    from scheduler.policy import PolicyError, set_policy_value

    ctx = context()
    try:
        with ctx.factory() as s, s.begin():
            school = ctx.school(s)
            policy = set_policy_value(school, key, value)
            audit(s, f"cli:{os.environ.get('USER', 'unknown')}",
                  "policy_reset" if value is None else "policy_set", "school", school.id,
                  key=key, value=value)
    except PolicyError as exc:
        raise _refuse(exc) from None
    rows = _rows(policy)
    if as_json:
        print_json({key: rows[key]} if key in rows else {})
    elif key in rows:
        _print(rows, only=key)
    else:
        out.print(f"{key} removed (not a policy setting)", highlight=False, markup=False)


@policy_app.command("show")
def policy_show_cmd(as_json: JsonOpt = False) -> None:
    """Every setting, its value, and whether it is the default."""
    from scheduler.policy import PolicyError, school_policy

    ctx = context()
    with ctx.factory() as s:
        try:
            policy = school_policy(ctx.school(s))
        except PolicyError as exc:
            err.print(f"error: the stored policy is refused: {exc} (fix it with schoolgate "
                      "policy set or policy reset)", highlight=False, markup=False)
            raise typer.Exit(2) from None
    rows = _rows(policy)
    if as_json:
        print_json(rows)
    else:
        _print(rows)


@policy_app.command("set")
def policy_set_cmd(
    key: KeyArg,
    value: Annotated[str, typer.Argument(
        help="The new value: a number, true/false, a time like 20:00, a date like "
             "2026-09-01, a comma-separated list, or none.")],
    as_json: JsonOpt = False,
) -> None:
    """Change one setting; the whole policy is checked before it is stored (audited)."""
    _change(key, value, as_json)


@policy_app.command("reset")
def policy_reset_cmd(key: KeyArg, as_json: JsonOpt = False) -> None:
    """Put one setting back to its default (also removes a stray unknown key)."""
    _change(key, None, as_json)
