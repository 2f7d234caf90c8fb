"""Upload the roster CSV: the file is checked first (the import run as a dry run, so the
page says what would change and names each bad row: its row number as the spreadsheet
shows it, the column, what is wrong), then imported when the person confirms. The same
engine as `schoolgate import-roster`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from bot.errors import InvalidInputError
from bot.roster.file import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from bot.roster.importer import ROW
from bot.roster.report import ImportReport
from bot.roster.values import RowError
from bot.web.staff.deps import ctx_of, not_found, redirect, require
from bot.web.staff.security import Me
from bot.web.staff.setup.common import SETUP, setup_page
from bot.web.staff.setup.roster_jobs import UPLOAD_LIMIT, RosterJob, RosterJobs

router = APIRouter()
SHOWN = 500  # problems listed on the page; the rest are counted
WAIT = 5.0  # seconds a small file's check may take before the page shows progress instead


def jobs_of(request: Request) -> RosterJobs:
    """This process's uploads (made on first use)."""
    state = request.app.state
    if getattr(state, "roster_jobs", None) is None:
        state.roster_jobs = RosterJobs()
    jobs: RosterJobs = state.roster_jobs
    return jobs


def _problem(e: RowError) -> dict[str, object]:
    return {"row": e.row, "column": "the whole row" if e.column == ROW else e.column,
            "reason": e.reason[:1].upper() + e.reason[1:]}


def _report(report: ImportReport | None) -> dict[str, object] | None:
    if report is None:
        return None
    return {"r": report, "errors": [_problem(e) for e in report.errors[:SHOWN]],
            "more_errors": max(0, len(report.errors) - SHOWN),
            "warnings": [_problem(e) for e in report.warnings[:SHOWN]],
            "more_warnings": max(0, len(report.warnings) - SHOWN)}


def _form(request: Request, me: Me, error: str | None = None, code: int = 200) -> Response:
    return setup_page(request, "setup_roster.html", me, code=code, error=error,
                      required=REQUIRED_COLUMNS, optional=OPTIONAL_COLUMNS,
                      limit_mb=UPLOAD_LIMIT // (1024 * 1024))


@router.get("/setup/roster")
def roster_form(request: Request, me: Annotated[Me, Depends(require(*SETUP))]) -> Response:
    """The upload form, with the columns the file needs."""
    return _form(request, me)


def _start(request: Request, me: Me, job: RosterJob, apply: bool) -> None:
    ctx = ctx_of(request)
    jobs_of(request).start(job, ctx.engine, ctx.factory, ctx.settings.default_region,
                           me.actor, apply)
    if job.thread is not None:
        job.thread.join(WAIT)  # most rosters are done by now; a big one shows progress


@router.post("/setup/roster")
async def roster_upload(request: Request, me: Annotated[Me, Depends(require(*SETUP))],
                        file: Annotated[UploadFile | None, File()] = None) -> Response:
    """Store the upload, then check it (nothing is written yet)."""
    if file is None or not file.filename:
        return _form(request, me, "Choose the roster CSV file to upload.", 400)
    ctx = ctx_of(request)
    with ctx.factory() as s:
        school_id = ctx.school(s).id
    try:
        job = await run_in_threadpool(jobs_of(request).save, file.file, file.filename,
                                      me.id, school_id)
    except InvalidInputError as exc:
        return _form(request, me, str(exc)[:1].upper() + str(exc)[1:] + ".", 400)
    finally:
        await file.close()
    await run_in_threadpool(_start, request, me, job, False)
    return redirect(f"/setup/roster/{job.token}")


@router.get("/setup/roster/{token}")
def roster_job(request: Request, token: str,
               me: Annotated[Me, Depends(require(*SETUP))]) -> Response:
    """How the check or import is going, then what it found."""
    job = jobs_of(request).get(token, me.id)
    if job is None:
        raise not_found("upload (it may have been more than two hours ago, or the server "
                        "restarted: upload the file again)")
    return setup_page(request, "setup_roster_job.html", me, job=job,
                      check=_report(job.check), result=_report(job.result),
                      percent=int(100 * job.done / job.total) if job.total else 0)


@router.post("/setup/roster/{token}/apply")
def roster_apply(request: Request, token: str,
                 me: Annotated[Me, Depends(require(*SETUP))]) -> Response:
    """Import the checked file: the rows without problems are written."""
    job = jobs_of(request).get(token, me.id)
    if job is None:
        raise not_found("upload")
    _start(request, me, job, True)
    return redirect(f"/setup/roster/{token}")
