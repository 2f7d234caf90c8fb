"""A family's contact details (admin, office): phone, email, language, the channels in
their order of preference (the record of consent, as in the roster: a channel left off
is switched off) and notes. Checked with the roster's own validators
(bot.roster.values), one clear error per field; nothing is saved while any field is
wrong. A family's own opt-out (STOP, unsubscribe) is shown and never undone here: only
the family opts back in. Audited (which fields changed, never their values)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from bot.roster.values import (
    normalise_email,
    normalise_language,
    normalise_phone,
    parse_channels,
    unsafe_character,
)
from bot.store.audit import audit
from bot.store.models import ChannelName, Guardian, GuardianChannel
from bot.web.staff.deps import (
    ctx_of,
    not_found,
    reading_transaction,
    redirect,
    require,
    transaction,
)
from bot.web.staff.ids import DbId
from bot.web.staff.security import Me
from bot.web.staff.setup.common import SETUP, setup_page

router = APIRouter()
LISTED = 200


@router.get("/setup/families")
def family_search(request: Request, me: Annotated[Me, Depends(require(*SETUP))],
                  q: str = "") -> Response:
    """Find a family by name, phone or email to edit its details."""
    with reading_transaction(request) as s:
        school = ctx_of(request).school(s)
        stmt = select(Guardian).where(Guardian.school_id == school.id)
        words = q.strip()[:100]
        if words:
            like = f"%{words.lower()}%"
            stmt = stmt.where(or_(
                func.lower(Guardian.first_name + " " + Guardian.last_name).like(like),
                func.lower(Guardian.email).like(like), Guardian.phone.like(like),
                func.lower(Guardian.ref) == words.lower()))
        found = list(s.scalars(stmt.order_by(Guardian.last_name, Guardian.first_name)
                               .limit(LISTED + 1)))
        return setup_page(request, "setup_families.html", me, q=words,
                          families=found[:LISTED], more=len(found) > LISTED)


def _guardian(s: Session, me: Me, guardian_id: int) -> Guardian:
    guardian = s.get(Guardian, guardian_id, options=[selectinload(Guardian.channels)])
    if guardian is None or guardian.school_id != me.school_id:
        raise not_found("family")
    return guardian


def _form_values(guardian: Guardian) -> dict[str, str]:
    return {"phone": guardian.phone or "", "email": guardian.email or "",
            "language": guardian.language, "channels": "; ".join(guardian.channel_order or []),
            "notes": guardian.accessibility_notes or ""}


def _edit_page(request: Request, me: Me, guardian: Guardian, values: dict[str, str],
               errors: dict[str, str] | None = None, code: int = 200,
               notice: str | None = None) -> Response:
    opted = {c.channel: c.opted_out_at for c in guardian.channels if c.opted_out_at}
    return setup_page(request, "setup_family_edit.html", me, code=code, guardian=guardian,
                      values=values, errors=errors or {}, opted=opted, notice=notice,
                      channels=[c.value for c in ChannelName])


@router.get("/families/{guardian_id}/edit")
def family_edit_form(request: Request, guardian_id: DbId,
                     me: Annotated[Me, Depends(require(*SETUP))], saved: str = "") -> Response:
    """The form, filled in with what is stored."""
    with reading_transaction(request) as s:
        guardian = _guardian(s, me, guardian_id)
        return _edit_page(request, me, guardian, _form_values(guardian),
                          notice="Saved." if saved else None)


def check_contact(values: dict[str, str], region: str
                  ) -> tuple[dict[str, Any], dict[str, str]]:
    """The cleaned values and the problem per field (the roster's checks)."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field, value in values.items():
        if field != "notes" and (why := unsafe_character(value)):
            errors[field] = why[:1].upper() + why[1:] + "."
    checks = (("phone", lambda v: normalise_phone(v, region)), ("email", normalise_email),
              ("language", normalise_language), ("channels", parse_channels))
    for field, check in checks:
        value = values.get(field, "").strip()
        if field in errors:
            continue
        if not value:
            if field == "language":
                errors[field] = "Give the language they read, such as pl, ur or pt_BR."
            clean[field] = () if field == "channels" else None
            continue
        try:
            clean[field] = check(value)
        except ValueError as exc:
            errors[field] = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
    # Telegram needs no address here: the family links their chat from our message
    needs = {"sms": ("phone", "a phone number"), "email": ("email", "an email address")}
    for channel in clean.get("channels") or ():
        field, what = needs.get(channel, ("", ""))
        if field and not clean.get(field) and field not in errors and "channels" not in errors:
            errors["channels"] = (f"{channel} needs {what}: add it above, or take {channel} "
                                  "off the list.")
    notes = values.get("notes", "").strip()
    if len(notes) > 2000:
        errors["notes"] = "Keep the notes under 2,000 characters."
    clean["notes"] = notes or None
    return clean, errors


@router.post("/families/{guardian_id}/edit")
def family_edit_save(request: Request, guardian_id: DbId,
                     me: Annotated[Me, Depends(require(*SETUP))],
                     phone: Annotated[str, Form()] = "", email: Annotated[str, Form()] = "",
                     language: Annotated[str, Form()] = "",
                     channels: Annotated[str, Form()] = "",
                     notes: Annotated[str, Form()] = "") -> Response:
    """Save every field, or none when any is wrong (each problem named on its field)."""
    values = {"phone": phone, "email": email, "language": language, "channels": channels,
              "notes": notes}
    region = ctx_of(request).settings.default_region
    with transaction(request) as s:
        guardian = _guardian(s, me, guardian_id)
        clean, errors = check_contact(values, region)
        if errors:
            return _edit_page(request, me, guardian, values, errors, 400)
        wanted = {"phone": clean["phone"], "email": clean["email"],
                  "language": clean["language"], "channel_order": list(clean["channels"]),
                  "accessibility_notes": clean["notes"]}
        changed = [name for name, value in wanted.items() if getattr(guardian, name) != value]
        for name in changed:
            setattr(guardian, name, wanted[name])
        state = {c.channel: c for c in guardian.channels}
        for channel in (c.value for c in ChannelName):
            on = channel in clean["channels"]
            row = state.get(channel)
            if row is None and on:
                guardian.channels.append(GuardianChannel(channel=channel, consent=True))
                changed.append(f"consent:{channel}")
            elif row is not None and row.consent != on:
                row.consent = on
                changed.append(f"consent:{channel}")
        if changed:
            audit(s, me.actor, "guardian_contact_edited", "guardian", guardian.id,
                  fields=sorted(changed))
    return redirect(f"/families/{guardian_id}/edit?saved=1")
