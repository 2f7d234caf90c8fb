"""Roster uploads and the imports run on them, in the background of the web process.

An upload is copied to a private folder (0700, one per process) a megabyte at a time, so
a large file never sits in memory; its name is a random token. The check (a dry run of
`bot.roster.importer.import_roster`) and then the import itself run in a thread, and the
page asks how far they have got. A job belongs to the member of staff who uploaded the
file; the file is deleted once it is imported, or after UPLOAD_HOURS.

Jobs live in this process only: after a restart the page says the upload is gone and the
file is uploaded again (importing the same file twice changes nothing).

On SQLite the check runs on a private copy of the database (SQLite's online backup), so
that a long check never holds the live database's write lock: replies and the outbox go
on meanwhile. On PostgreSQL it runs on the database itself, in a transaction that is
rolled back (it locks only the rows it would change).
"""

from __future__ import annotations

import logging
import secrets
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import InvalidInputError, SchoolgateError
from bot.roster.importer import import_roster
from bot.roster.report import ImportReport
from bot.store.audit import audit
from bot.store.db import make_engine, make_session_factory

log = logging.getLogger(__name__)

UPLOAD_LIMIT = 200 * 1024 * 1024  # bytes; the largest roster measured is 54 MB
UPLOAD_HOURS = 2
CHUNK = 1024 * 1024


@dataclass
class RosterJob:
    """One uploaded file: its check, then (once confirmed) its import."""

    token: str
    staff_id: int
    school_id: int
    path: Path
    filename: str
    size: int
    created: float = field(default_factory=time.monotonic)
    stage: str = "uploaded"  # uploaded, checking, checked, importing, imported, failed
    done: int = 0
    total: int = 0
    check: ImportReport | None = None
    result: ImportReport | None = None
    error: str | None = None
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Still checking or importing."""
        return self.stage in ("checking", "importing")


@contextmanager
def checking_copy(engine: Engine, factory: sessionmaker[Session]
                  ) -> Iterator[sessionmaker[Session]]:
    """Where a check runs: a private copy of a SQLite database file, else the database."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield factory
        return
    folder = Path(tempfile.mkdtemp(prefix="schoolgate-check-"))
    copy = folder / "check.db"
    source, target = sqlite3.connect(database), sqlite3.connect(copy)
    try:
        source.backup(target)  # a consistent snapshot; writers in WAL mode carry on
    finally:
        source.close()
        target.close()
    checking = make_engine(f"sqlite:///{copy}")
    try:
        yield make_session_factory(checking)
    finally:
        checking.dispose()
        shutil.rmtree(folder, ignore_errors=True)


class RosterJobs:
    """The uploads of this process, by token."""

    def __init__(self, folder: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, RosterJob] = {}
        self._folder = folder

    @property
    def folder(self) -> Path:
        """The private upload folder, made on first use (mode 0700)."""
        with self._lock:
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="schoolgate-uploads-"))
            return self._folder

    def save(self, source: BinaryIO, filename: str, staff_id: int, school_id: int) -> RosterJob:
        """Copy an upload to disk a chunk at a time; refuse an empty or too large file."""
        self.forget_old()
        token = secrets.token_urlsafe(18)
        path = self.folder / f"{token}.csv"
        size = 0
        with path.open("wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > UPLOAD_LIMIT:
                    out.close()
                    path.unlink(missing_ok=True)
                    raise InvalidInputError(
                        f"the file is larger than {UPLOAD_LIMIT // (1024 * 1024)} MB: split "
                        "it, or import it with schoolgate import-roster")
                out.write(chunk)
        if size == 0:
            path.unlink(missing_ok=True)
            raise InvalidInputError("the file is empty: choose the roster CSV file")
        job = RosterJob(token, staff_id, school_id, path, filename[:200], size)
        with self._lock:
            self._jobs[token] = job
        return job

    def get(self, token: str, staff_id: int) -> RosterJob | None:
        """The job, if it exists and is this person's."""
        with self._lock:
            job = self._jobs.get(token)
        return job if job is not None and job.staff_id == staff_id else None

    def forget_old(self) -> None:
        """Delete uploads older than UPLOAD_HOURS that are not running."""
        cutoff = time.monotonic() - UPLOAD_HOURS * 3600
        with self._lock:
            old = [t for t, j in self._jobs.items() if j.created < cutoff and not j.running]
            for token in old:
                self._jobs.pop(token).path.unlink(missing_ok=True)

    def start(self, job: RosterJob, engine: Engine, factory: sessionmaker[Session],
              region: str, actor: str, apply: bool) -> None:
        """Check (a dry run, on a copy of a SQLite database) or import the file in a thread."""
        with self._lock:
            if job.running or (apply and job.stage != "checked"):
                return
            job.stage, job.done, job.error = ("importing" if apply else "checking"), 0, None

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        def run() -> None:
            try:
                if apply:
                    report = import_roster(factory, job.school_id, job.path, region,
                                           progress, actor=actor)
                else:
                    with checking_copy(engine, factory) as checking:
                        report = import_roster(checking, job.school_id, job.path, region,
                                               progress, dry_run=True, actor=actor)
                with factory() as s, s.begin():
                    audit(s, actor, "roster_imported_web" if apply else "roster_checked_web",
                          "school", job.school_id, rows=report.rows_total,
                          failed=report.rows_failed, warnings=len(report.warnings))
            except SchoolgateError as exc:
                job.error = str(exc).replace(str(job.path), job.filename) \
                    .replace(job.path.name, job.filename)
                job.stage = "failed"
                return
            except Exception as exc:  # the message may hold a row's values: type only
                log.error("roster upload %s failed: %s", "import" if apply else "check",
                          type(exc).__name__)
                log.debug("roster upload failed", exc_info=True)
                job.error, job.stage = ("something went wrong on the server (the details "
                                        "are in its log); nothing more was changed"), "failed"
                return
            if apply:
                job.result, job.stage = report, "imported"
                job.path.unlink(missing_ok=True)
            else:
                job.check, job.stage = report, "checked"

        job.thread = threading.Thread(target=run, name=f"roster-{job.token[:6]}", daemon=True)
        job.thread.start()

    def close(self) -> None:
        """Remove the upload folder (tests, shutdown)."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
