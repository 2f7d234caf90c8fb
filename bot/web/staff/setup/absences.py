"""A key worker's absence, from and until a date, and their named cover (admin, office).

Dates are the school's days: away from the start of the first day until the end of the
last (stored as instants in UTC, `Staff.away_from` / `away_until`). While it applies,
the cover sees and answers the absent worker's families (bot.web.staff.access), replies
are routed to them (bot.inbound.inbox) and escalation passes the absent worker by. No
last day: away until the absence is ended here. Audited.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.store.audit import audit
from bot.store.models import School, Staff, Student, utcnow
from bot.web.staff.deps import ctx_of, not_found, redirect, require, transaction
from bot.web.staff.ids import DbId
from bot.web.staff.security import Me
from bot.web.staff.setup.common import SETUP, setup_page

router = APIRouter()


def _day(value: str, zone: ZoneInfo) -> datetime | None:
    """The start of a school day (a date field's value), in UTC; None when empty."""
    if not value.strip():
        return None
    return datetime.combine(date.fromisoformat(value.strip()), time(0), zone) \
        .astimezone(ZoneInfo("UTC"))


def _local_day(moment: datetime | None, zone: ZoneInfo, last: bool = False) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(zone) - (timedelta(days=1) if last else timedelta(0))
    return local.date().isoformat()


def _rows(s: Session, school: School) -> dict[str, Any]:
    zone, now = ZoneInfo(school.timezone), utcnow()
    people = list(s.scalars(select(Staff).where(Staff.school_id == school.id)
                            .order_by(Staff.name)))
    names = {p.id: p.name for p in people}
    rows = [{"staff": p, "cover": names.get(p.cover_id or 0), "now": p.away_at(now),
             "from": _local_day(p.away_from, zone),
             "until": _local_day(p.away_until, zone, last=True)}
            for p in people if p.active]
    # children whose key worker is away or has left, with no active cover to see them
    uncovered = list(s.scalars(select(Student).join(Student.key_worker).where(
        Student.school_id == school.id,
        or_(Staff.active.is_(False), Staff.away.is_(True))).order_by(Student.last_name)))
    nobody = [c for c in uncovered if c.key_worker is not None
              and (not c.key_worker.active or c.key_worker.away_at(now))
              and (c.key_worker.cover is None or not c.key_worker.cover.active)]
    return {"rows": rows, "active": [p for p in people if p.active], "nobody": nobody}


def _page(request: Request, me: Me, s: Session, code: int = 200, **extra: Any) -> Response:
    school = ctx_of(request).school(s)
    return setup_page(request, "setup_absences.html", me, code=code, **_rows(s, school),
                      today=utcnow().astimezone(ZoneInfo(school.timezone)).date().isoformat(),
                      **extra)


@router.get("/setup/absences")
def absences(request: Request, me: Annotated[Me, Depends(require(*SETUP))],
             done: str = "") -> Response:
    """Who is away, until when, and who covers; children nobody covers."""
    with transaction(request) as s:
        return _page(request, me, s, notice="Saved." if done else None)


@router.post("/setup/absences/{staff_id}")
def set_absence(request: Request, staff_id: DbId,
                me: Annotated[Me, Depends(require(*SETUP))],
                away_from: Annotated[str, Form()] = "", away_until: Annotated[str, Form()] = "",
                cover_id: Annotated[str, Form()] = "",
                action: Annotated[str, Form()] = "save") -> Response:
    """Record an absence with its cover, or end it (action=end)."""
    with transaction(request) as s:
        staff = s.get(Staff, staff_id)
        if staff is None or staff.school_id != me.school_id:
            raise not_found("member of staff")
        if action == "end":
            staff.away, staff.away_from, staff.away_until = False, None, None
            audit(s, me.actor, "absence_ended", "staff", staff.id)
            return redirect("/setup/absences?done=1")
        school = ctx_of(request).school(s)
        zone = ZoneInfo(school.timezone)
        errors: dict[str, str] = {}
        start = end = None
        try:
            start = _day(away_from, zone)
        except ValueError:
            errors["away_from"] = "Give the first day away as a date."
        try:
            last = _day(away_until, zone)
            end = last + timedelta(days=1) if last is not None else None
        except ValueError:
            errors["away_until"] = "Give the last day away as a date, or leave it empty."
        if start is None and "away_from" not in errors:
            errors["away_from"] = "Give the first day away."
        if start and end and end <= start:
            errors["away_until"] = "The last day is before the first day."
        elif end is not None and end <= utcnow():
            errors["away_until"] = "That day has passed: give a later last day."
        cover = s.get(Staff, int(cover_id)) if cover_id.isdigit() and len(cover_id) < 10 \
            else None
        if cover is None or cover.school_id != me.school_id or not cover.active:
            errors["cover_id"] = "Choose who covers their families."
        elif cover.id == staff.id:
            errors["cover_id"] = "Someone else must cover: choose another member of staff."
        if errors:
            return _page(request, me, s, 400, errors={staff.id: errors},
                         form={staff.id: {"from": away_from, "until": away_until,
                                          "cover": cover_id}})
        assert cover is not None
        staff.away, staff.away_from, staff.away_until, staff.cover_id = True, start, end, \
            cover.id
        audit(s, me.actor, "absence_set", "staff", staff.id, cover=cover.id,
              away_from=start.isoformat() if start else None,
              away_until=end.isoformat() if end else None)
    return redirect("/setup/absences?done=1")
