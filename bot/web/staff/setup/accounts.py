"""Staff accounts (admin only): list, add, change role, deactivate and reactivate, and a
one-time link to set a password (bot.web.staff.passwords), shown to the admin to pass on.

A new account has no password: the admin gives the person its link. Deactivating ends the
person's sessions and cancels their links; their children go to the member of staff the
admin chooses (their cover by default), or, with nobody chosen, stay with a key worker who
has left and are listed as nobody's on the absences page. The last active admin cannot
be demoted or deactivated, and nobody deactivates themself. Every change is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.roster.values import normalise_email, unsafe_character
from bot.store.audit import audit
from bot.store.models import PasswordLink, Staff, Student, WebSession
from bot.web.staff.access import ADMIN
from bot.web.staff.deps import (
    StaffPageError,
    ctx_of,
    not_found,
    redirect,
    require,
    transaction,
)
from bot.web.staff.ids import MAX_ID, DbId
from bot.web.staff.passwords import LINK_HOURS, make_link
from bot.web.staff.security import ROLES, Me
from bot.web.staff.setup.common import ADMIN_ONLY, setup_page

router = APIRouter()
ROLE_ABOUT = {"admin": "admin: everything, including staff accounts and the policy",
              "office": "office: the roster, meetings, deliveries, set-up",
              "teacher": "teacher: their own children's families",
              "translator": "translator: reviews translations, sees no family records"}


def staff_rows(s: Session, school_id: int) -> list[dict[str, Any]]:
    """Every member of staff with how many children they are key worker for."""
    counts = dict(s.execute(select(Student.key_worker_id, func.count()).where(
        Student.school_id == school_id).group_by(Student.key_worker_id)).all())
    people = list(s.scalars(select(Staff).where(Staff.school_id == school_id)
                            .order_by(Staff.active.desc(), Staff.name)))
    names = {p.id: p.name for p in people}
    return [{"staff": p, "children": counts.get(p.id, 0), "cover": names.get(p.cover_id or 0),
             "can_sign_in": p.password_hash is not None and p.active} for p in people]


def _page(request: Request, me: Me, s: Session, code: int = 200, **extra: Any) -> Response:
    return setup_page(request, "setup_staff.html", me, code=code,
                      rows=staff_rows(s, me.school_id), roles=ROLES, role_about=ROLE_ABOUT,
                      hours=LINK_HOURS, **extra)


def _done(s: Session, me: Me, done: str, staff_id: str) -> str | None:
    """What the last change did, said from the database (no names in the address)."""
    number = int(staff_id) if staff_id.isdigit() and len(staff_id) < 10 else 0
    staff = s.get(Staff, number) if 0 < number <= MAX_ID else None
    if staff is None or staff.school_id != me.school_id:
        return None
    if done == "role":
        return f"{staff.name} is now {staff.role}."
    if done == "deactivated":
        return f"{staff.name} can no longer sign in."
    return None


@router.get("/setup/staff")
def staff_list(request: Request, me: Annotated[Me, Depends(require(*ADMIN_ONLY))],
               done: str = "", id: str = "") -> Response:
    """Accounts, roles, who can sign in, and the forms to change them."""
    with transaction(request) as s:
        return _page(request, me, s, notice=_done(s, me, done, id))


def _member(s: Session, me: Me, staff_id: int) -> Staff:
    staff = s.get(Staff, staff_id)
    if staff is None or staff.school_id != me.school_id:
        raise not_found("member of staff")
    return staff


def _active_admins(s: Session, school_id: int) -> int:
    return s.scalar(select(func.count()).select_from(Staff).where(
        Staff.school_id == school_id, Staff.role == ADMIN, Staff.active.is_(True))) or 0


def _show_link(request: Request, me: Me, s: Session, staff: Staff, created: bool) -> Response:
    token = make_link(s, staff, me.id)
    url = f"{ctx_of(request).settings.public_url.rstrip('/')}/reset/{token}"
    return _page(request, me, s, link={"url": url, "name": staff.name, "created": created})


@router.post("/setup/staff")
def staff_add(request: Request, me: Annotated[Me, Depends(require(*ADMIN_ONLY))],
              name: Annotated[str, Form()] = "", email: Annotated[str, Form()] = "",
              role: Annotated[str, Form()] = "teacher",
              role_description: Annotated[str, Form()] = "") -> Response:
    """Add an account and show its password link (no email is sent)."""
    errors: dict[str, str] = {}
    name, role_description = name.strip(), role_description.strip()
    if not name:
        errors["name"] = "Give their name as families will see it."
    elif len(name) > 200 or unsafe_character(name):
        errors["name"] = "Write the name on one line, at most 200 characters."
    try:
        email = normalise_email(email.strip())
    except ValueError as exc:
        errors["email"] = f"This is not an email address: {exc}"
    if role not in ROLES:
        errors["role"] = f"Choose one of {', '.join(ROLES)}."
    if len(role_description) > 300 or unsafe_character(role_description):
        errors["role_description"] = "Write it on one line, at most 300 characters."
    with transaction(request) as s:
        if "email" not in errors and s.scalar(select(Staff.id).where(
                func.lower(Staff.email) == email.lower())) is not None:
            errors["email"] = ("Someone already has an account with this email: find them "
                               "in the list below (make a password link there).")
        if errors:
            return _page(request, me, s, 400, errors=errors,
                         form={"name": name, "email": email, "role": role,
                               "role_description": role_description})
        school = ctx_of(request).school(s)
        staff = Staff(school_id=me.school_id, name=name, email=email, role=role,
                      role_description=role_description or None,
                      language=school.staff_language)
        s.add(staff)
        s.flush()
        audit(s, me.actor, "staff_added", "staff", staff.id, role=role)
        return _show_link(request, me, s, staff, created=True)


@router.post("/setup/staff/{staff_id}/link")
def staff_link(request: Request, staff_id: DbId,
               me: Annotated[Me, Depends(require(*ADMIN_ONLY))]) -> Response:
    """A new one-time link to set a password (older unused links stop working)."""
    with transaction(request) as s:
        staff = _member(s, me, staff_id)
        if not staff.active:
            raise StaffPageError(400, "This account is deactivated: reactivate it first.")
        return _show_link(request, me, s, staff, created=False)


@router.post("/setup/staff/{staff_id}/role")
def staff_role(request: Request, staff_id: DbId,
               me: Annotated[Me, Depends(require(*ADMIN_ONLY))],
               role: Annotated[str, Form()] = "") -> Response:
    """Change someone's role (the last active admin stays admin)."""
    with transaction(request) as s:
        staff = _member(s, me, staff_id)
        error = None
        if role not in ROLES:
            error = f"Choose one of {', '.join(ROLES)}."
        elif staff.role == ADMIN and role != ADMIN and staff.active \
                and _active_admins(s, me.school_id) <= 1:
            error = (f"{staff.name} is the only admin: make someone else admin first, so "
                     "someone can still manage accounts.")
        if error:
            return _page(request, me, s, 400, row_error={"id": staff.id, "text": error})
        before, staff.role = staff.role, role
        audit(s, me.actor, "staff_role_changed", "staff", staff.id, before=before, role=role)
    return redirect(f"/setup/staff?done=role&id={staff_id}")


@router.post("/setup/staff/{staff_id}/deactivate")
def staff_deactivate(request: Request, staff_id: DbId,
                     me: Annotated[Me, Depends(require(*ADMIN_ONLY))],
                     families_to: Annotated[str, Form()] = "") -> Response:
    """Deactivate an account: sessions and links end; their children move if asked."""
    with transaction(request) as s:
        staff = _member(s, me, staff_id)
        error, target = None, None
        if staff.id == me.id:
            error = "You cannot deactivate your own account."
        elif staff.role == ADMIN and _active_admins(s, me.school_id) <= 1:
            error = f"{staff.name} is the only admin: make someone else admin first."
        elif families_to.strip():
            target = s.get(Staff, int(families_to)) if families_to.isdigit() else None
            if target is None or target.school_id != me.school_id or not target.active \
                    or target.id == staff.id:
                error = "Choose an active member of staff to take their children."
        if error:
            return _page(request, me, s, 400, row_error={"id": staff.id, "text": error})
        staff.active = False
        s.execute(delete(WebSession).where(WebSession.staff_id == staff.id))
        s.execute(delete(PasswordLink).where(PasswordLink.staff_id == staff.id,
                                             PasswordLink.used_at.is_(None)))
        moved = 0
        if target is not None:
            mine = (Student.school_id == me.school_id, Student.key_worker_id == staff.id)
            moved = s.scalar(select(func.count()).select_from(Student).where(*mine)) or 0
            s.execute(update(Student).where(*mine).values(key_worker_id=target.id))
        audit(s, me.actor, "staff_deactivated", "staff", staff.id,
              children_to=target.id if target else None, moved=moved)
    return redirect(f"/setup/staff?done=deactivated&id={staff_id}")


@router.post("/setup/staff/{staff_id}/activate")
def staff_activate(request: Request, staff_id: DbId,
                   me: Annotated[Me, Depends(require(*ADMIN_ONLY))]) -> Response:
    """Let a deactivated member of staff sign in again (with a new password link)."""
    with transaction(request) as s:
        staff = _member(s, me, staff_id)
        staff.active = True
        audit(s, me.actor, "staff_reactivated", "staff", staff.id)
        return _show_link(request, me, s, staff, created=False)
