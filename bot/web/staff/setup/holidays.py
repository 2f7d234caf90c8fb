"""Holidays (admin, office): upload term dates as a CSV or an .ics calendar feed (the
engine of `schoolgate term-dates import`, scheduler.term_dates), list what closes the
school, delete a closure. Bad rows are named and skipped; uploading the same file twice
adds nothing. Audited."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInputError
from bot.store.audit import audit
from bot.store.models import Holiday
from bot.web.staff.deps import ctx_of, not_found, redirect, require, transaction
from bot.web.staff.ids import DbId
from bot.web.staff.security import Me
from bot.web.staff.setup.common import SETUP, setup_page
from scheduler.term_dates import closures, read_term_dates, store_closures

router = APIRouter()
LIMIT = 2 * 1024 * 1024  # a year of term dates is a few kilobytes
SUFFIXES = (".csv", ".ics", ".ical", ".ifb")


def _page(request: Request, me: Me, s: Session, code: int = 200, **extra: Any) -> Response:
    school = ctx_of(request).school(s)
    holidays = list(s.scalars(select(Holiday).where(Holiday.school_id == school.id)
                              .order_by(Holiday.starts_on)))
    return setup_page(request, "setup_holidays.html", me, code=code, holidays=holidays,
                      **extra)


@router.get("/setup/holidays")
def holidays_page(request: Request, me: Annotated[Me, Depends(require(*SETUP))],
                  deleted: str = "") -> Response:
    """What closes the school, and the upload form."""
    with transaction(request) as s:
        return _page(request, me, s, notice="Deleted." if deleted else None)


def _read(upload: UploadFile) -> tuple[list[Any], list[Any]]:
    """Copy the upload to a private temporary file (named for its type) and read it."""
    name = upload.filename or ""
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInputError("choose a .csv file (start, end, name) or an .ics calendar")
    data = upload.file.read(LIMIT + 1)
    if len(data) > LIMIT:
        raise InvalidInputError("the file is larger than 2 MB: is it the term dates?")
    if not data.strip():
        raise InvalidInputError("the file is empty")
    with tempfile.TemporaryDirectory(prefix="schoolgate-terms-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            spans, problems = read_term_dates(path)
        except InvalidInputError as exc:
            raise InvalidInputError(str(exc).replace(str(path), name[:100])) from None
        except ValueError as exc:  # icalendar on a file that is not a calendar
            raise InvalidInputError(f"{name[:100]} is not a readable calendar ({exc})") \
                from None
    return spans, problems


@router.post("/setup/holidays")
async def holidays_upload(request: Request, me: Annotated[Me, Depends(require(*SETUP))],
                          file: Annotated[UploadFile | None, File()] = None) -> Response:
    """Read the file; add the closures the school does not have yet."""
    if file is None or not file.filename:
        with transaction(request) as s:
            return _page(request, me, s, 400, error="Choose the term dates file.")
    try:
        spans, problems = await run_in_threadpool(_read, file)
    except InvalidInputError as exc:
        with transaction(request) as s:
            return _page(request, me, s, 400, error=str(exc)[:1].upper() + str(exc)[1:] + ".")
    finally:
        await file.close()
    wanted = closures(spans)
    with transaction(request) as s:
        school = ctx_of(request).school(s)
        added = store_closures(s, school.id, wanted)
        audit(s, me.actor, "term_dates_imported", "school", school.id, added=added,
              terms=sum(1 for sp in spans if sp.term), bad_entries=len(problems))
        s.flush()
        return _page(request, me, s, result={"added": added, "found": len(wanted),
                                             "problems": problems})


@router.post("/setup/holidays/{holiday_id}/delete")
def holiday_delete(request: Request, holiday_id: DbId,
                   me: Annotated[Me, Depends(require(*SETUP))]) -> Response:
    """Delete one closure (the school is open on those days again)."""
    with transaction(request) as s:
        holiday = s.get(Holiday, holiday_id)
        if holiday is None or holiday.school_id != ctx_of(request).school(s).id:
            raise not_found("holiday")
        audit(s, me.actor, "holiday_deleted", "holiday", holiday.id,
              starts_on=holiday.starts_on.isoformat(), ends_on=holiday.ends_on.isoformat())
        s.delete(holiday)
    return redirect("/setup/holidays?deleted=1")
