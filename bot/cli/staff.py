"""`schoolgate staff`: accounts for the staff web app (add, list)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bot.cli import JsonOpt, app, context, out, print_json
from bot.cli.support import cli_actor, school_session
from bot.errors import InvalidInputError

staff_app = typer.Typer(help="Staff accounts for the web app.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")


def _read_password(from_stdin: bool) -> str:
    """From stdin (one line) or an interactive prompt; never from the command line."""
    from bot.web.staff.security import password_problem

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        raise InvalidInputError("no terminal to ask for the password: pipe it in with "
                                "--password-stdin")
    problem = password_problem(password)
    if problem:
        raise InvalidInputError(problem)
    return password


@staff_app.command("add")
def staff_add_cmd(
    email: Annotated[str, typer.Option("--email", help="Their email: the sign-in name.")],
    name: Annotated[str, typer.Option("--name", help="Their name as families see it.")],
    role: Annotated[str, typer.Option(
        "--role", help="admin (policy and staff), office (roster, meetings, deliveries), "
                       "teacher (their own families) or translator (reviews translations, "
                       "names masked; no family records).")] = "teacher",
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input (one line).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a staff account (or set the password of one the roster import made)."""
    from sqlalchemy import func, select

    from bot.store.audit import audit
    from bot.store.models import Staff
    from bot.web.staff.security import ROLES, hash_password

    role = role.strip().lower()
    if role not in ROLES:
        raise InvalidInputError(f"--role must be one of {', '.join(ROLES)} (got {role!r})")
    if "@" not in email or not name.strip():
        raise InvalidInputError("give an email address (--email) and a name (--name)")
    password = _read_password(password_stdin)
    ctx = context()
    with school_session(ctx) as (s, school):
        staff = s.scalar(select(Staff).where(func.lower(Staff.email) == email.strip().lower()))
        created = staff is None
        if staff is None:
            staff = Staff(school_id=school.id, email=email.strip(), name=name.strip(),
                          role=role, language=school.staff_language)
            s.add(staff)
        else:
            staff.name, staff.role, staff.active = name.strip(), role, True
        staff.password_hash = hash_password(password)
        staff.failed_logins, staff.last_failed_login_at = 0, None
        s.flush()
        audit(s, cli_actor(), "staff_added" if created else "staff_password_set", "staff", staff.id,
              role=role)
        data = {"id": staff.id, "email": staff.email, "role": role, "created": created}
    if as_json:
        print_json(data)
    else:
        verb = "created" if created else "updated (password set)"
        out.print(f"staff {data['id']} {verb}: {data['email']} as {role}; sign in at "
                  f"{ctx.settings.public_url}/login", highlight=False)


@staff_app.command("list")
def staff_list_cmd(as_json: JsonOpt = False) -> None:
    """Staff members, their role, and whether they can sign in to the web app."""
    from sqlalchemy import select

    from bot.store.models import Staff

    ctx = context()
    with ctx.factory() as s:
        rows = [{"id": st.id, "email": st.email, "name": st.name, "role": st.role,
                 "active": st.active, "away": st.away, "cover_id": st.cover_id,
                 "can_sign_in": st.password_hash is not None and st.active}
                for st in s.scalars(select(Staff).order_by(Staff.id))]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no staff yet: create the first admin with "
                  "schoolgate staff add --role admin")
    for r in rows:
        flags = ", ".join(f for f, on in (("away", r["away"]), ("inactive", not r["active"]),
                                          ("no password", not r["can_sign_in"])) if on)
        out.print(f"{r['id']} {r['email']} {r['name']} ({r['role']})"
                  + (f" [{flags}]" if flags else ""), highlight=False, markup=False)
