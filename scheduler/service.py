"""The scheduler service: APScheduler 3 (asyncio) running our jobs while it holds the lease.

APScheduler keeps only timers, in memory; every piece of state lives in our database,
so a killed scheduler restarts with nothing to recover: missed runs coalesce into one,
and every job is idempotent. Jobs run in a thread (they are synchronous and use the
database), one instance at a time, and only while this process holds the lease.

One message walked through this code, file by file: docs/the-scheduler.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine

from bot import clock as process_clock
from bot.clock import Clock
from bot.store import make_session_factory
from bot.store.heartbeats import beat
from scheduler.jobs import JobSpec
from scheduler.lease import Lease, make_lease

log = logging.getLogger(__name__)


class SchedulerService:
    """Waits for the lease, then runs the jobs until stopped or the lease is lost.

    `engine` is the database the lease lives in; `jobs` are what to run (each called with
    the current time; bot.runtime.jobs.all_jobs builds the list for a running process).
    """

    def __init__(self, engine: Engine, jobs: Sequence[JobSpec], *,
                 clock: Clock | None = None, lease: Lease | None = None,
                 lease_seconds: float = 60.0, renew_seconds: float = 15.0,
                 misfire_grace_seconds: float = 300.0) -> None:
        self.jobs = list(jobs)
        self.clock = clock or process_clock.now
        self.lease = lease or make_lease(engine, ttl_seconds=lease_seconds,
                                         clock=self.clock)
        self.renew_seconds = renew_seconds
        self.misfire_grace = misfire_grace_seconds
        self.runs: dict[str, int] = {}  # job name -> things done, for tests and logs
        self.started: dict[str, int] = {}  # job name -> runs
        self.failures: dict[str, int] = {}  # job name -> runs that raised
        self._factory = make_session_factory(engine)

    # -- one job ---------------------------------------------------------------------------
    def run_job(self, spec: JobSpec) -> int:
        """Run one job now (synchronously); errors are logged, never raised."""
        self.started[spec.name] = self.started.get(spec.name, 0) + 1
        try:
            done = int(spec.func(self.clock()) or 0)
        except Exception as exc:
            # the type only at ERROR: a database error's text carries the SQL parameters
            # (names, numbers, message bodies); the traceback goes to DEBUG
            log.error("job %s failed (%s); it runs again at its next time", spec.name,
                      type(exc).__name__)
            log.debug("job %s failure", spec.name, exc_info=True)
            self.failures[spec.name] = self.failures.get(spec.name, 0) + 1
            return 0
        self.runs[spec.name] = self.runs.get(spec.name, 0) + done
        if done:
            log.info("job %s: %d done", spec.name, done)
        return done

    async def _tick(self, spec: JobSpec) -> None:
        if not self.lease.held:
            return
        try:
            await asyncio.to_thread(self.run_job, spec)
        except asyncio.CancelledError:
            # the process is stopping: the job's own transaction finishes or rolls back
            # in its thread, and every job is idempotent, so the next run picks it up
            log.info("job %s interrupted by shutdown", spec.name)

    def _beat(self) -> None:
        """Say the scheduler runs, here, with its counters (read by /readyz, /metrics)."""
        try:
            beat(self._factory, "scheduler", self.lease.holder,
                 {"runs": dict(self.started), "failures": dict(self.failures),
                  "done": dict(self.runs)})
        except Exception as exc:  # the database is away: the lease check says so too
            log.warning("scheduler heartbeat not recorded (%s)", type(exc).__name__)

    def run_once(self) -> dict[str, int] | None:
        """Take the lease, run every job once, give it back; None if another holds it."""
        if not self.lease.acquire():
            return None
        try:
            return {spec.name: self.run_job(spec) for spec in self.jobs}
        finally:
            self.lease.release()

    # -- the loop --------------------------------------------------------------------------
    def _scheduler(self) -> AsyncIOScheduler:
        sched = AsyncIOScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": AsyncIOExecutor()},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": int(self.misfire_grace)},
            timezone="UTC",
        )
        first = datetime.now().astimezone()
        for spec in self.jobs:
            sched.add_job(self._tick, "interval", seconds=spec.every_seconds, args=[spec],
                          id=spec.name, name=spec.name, next_run_time=first)
        return sched

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until `stop` is set: wait for the lease, run jobs while it is held."""
        stop = stop or asyncio.Event()
        sched: AsyncIOScheduler | None = None
        try:
            while not stop.is_set():
                try:
                    held = await asyncio.to_thread(self.lease.acquire)
                except Exception as exc:  # database away: pause the jobs, try again later
                    log.warning("scheduler lease check failed (%s)", type(exc).__name__)
                    held = False
                if held and sched is None:
                    sched = self._scheduler()
                    sched.start()
                    log.info("scheduler active with %d job(s)", len(self.jobs))
                elif not held and sched is not None:
                    sched.shutdown(wait=False)
                    sched = None
                    log.warning("scheduler paused: another process holds the lease")
                if held:
                    await asyncio.to_thread(self._beat)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.renew_seconds)
        finally:
            if sched is not None:
                sched.shutdown(wait=False)
            await asyncio.to_thread(self.lease.release)
            log.info("scheduler stopped")
